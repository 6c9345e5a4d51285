//! A fleet on PostgreSQL: daemons on two machines' data directories post into one
//! shared database (`lookout serve --store postgres://...`), which holds every record
//! of both once; a URL that is not PostgreSQL's is refused before anything starts.

use crate::daemon::{Daemon, answer};
use crate::util::lookout;
use lookout_testkit::postgres::Database;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The value of sample `name` (its whole name with labels) on `daemon`'s `/metrics`.
fn sample(daemon: &Daemon, name: &str) -> Option<f64> {
    let text = daemon.send("GET", "/metrics", &Value::Null).text();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `sql`'s count on the database once it reaches `want`, or after 30 s what it is then:
/// a daemon acknowledges once the log is synced and follows it into PostgreSQL after.
fn count_reaching(db: &Database, sql: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut client = db.client();
    loop {
        let n: i64 = client.query_one(sql, &[]).unwrap().get(0);
        if n >= want || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn daemons_of_a_fleet_fill_one_postgres_database_each_record_once() {
    let Some(db) = Database::create() else { return };
    let daemons: Vec<Daemon> = (0..2)
        .map(|_| Daemon::start(&["--store", &db.url]))
        .collect();
    for (d, daemon) in daemons.iter().enumerate() {
        let runs: Vec<_> = (0..50)
            .map(|n| {
                json!({"event_id": format!("m{d}-run-{n}"), "agent_name": format!("agent-{d}"), "job_type": "review",
                             "status": "success", "items_succeeded": n})
            })
            .collect();
        let created = answer(
            &daemon.send("POST", "/api/v1/runs/batch", &json!(runs)),
            201,
        );
        assert_eq!(created["runs"].as_array().unwrap().len(), 50, "{created}");
        // A retry of the same batch stores nothing more, here or in PostgreSQL.
        let retried = daemon.send("POST", "/api/v1/runs/batch", &json!(runs));
        assert_eq!(retried.header("idempotent-replayed"), Some("true"));
        let point = json!({"metric_name": "latency_ms", "metric_value": 10 + d,
                           "context": {"machine": format!("m{d}")},
                           "timestamp": "2026-12-04T10:00:00Z"});
        answer(&daemon.send("POST", "/api/v1/metrics", &point), 201);
        // One series both machines write: its rollups count the points of both.
        for second in 0..20 {
            let point = json!({"metric_name": "queue_depth", "metric_value": second,
                               "context": {"queue": "shared"},
                               "timestamp": format!("2026-12-04T10:00:{second:02}.{d}Z")});
            answer(&daemon.send("POST", "/api/v1/metrics", &point), 201);
        }
    }
    assert_eq!(
        count_reaching(&db, "SELECT COUNT(*) FROM agent_runs", 100),
        100
    );
    let per_agent: Vec<(String, i64)> = db
        .client()
        .query(
            "SELECT agent_name, COUNT(*) FROM agent_runs GROUP BY agent_name ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        per_agent,
        [("agent-0".to_owned(), 50), ("agent-1".to_owned(), 50)]
    );
    assert_eq!(
        count_reaching(
            &db,
            "SELECT COUNT(*) FROM telemetry_metrics WHERE name = 'latency_ms'",
            2
        ),
        2
    );
    assert_eq!(
        count_reaching(
            &db,
            "SELECT COUNT(*) FROM telemetry_metrics WHERE name = 'queue_depth'",
            40
        ),
        40
    );
    let rollups: Vec<(i64, i64, f64)> = db
        .client()
        .query(
            "SELECT interval_seconds, count, sum FROM telemetry_aggregates
             WHERE name = 'queue_depth' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(rollups, [(60, 40, 380.0), (3600, 40, 380.0)]);
    let sources: i64 = db
        .client()
        .query_one(
            "SELECT COUNT(DISTINCT source) FROM store_log_checkpoints",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sources, 2, "each data directory keeps its own checkpoints");
    // The fleet's metrics, queried from the database: both machines' points.
    let fleet_query = |agg: &str| -> Value {
        let out = lookout()
            .args(["query", "queue_depth", "--store", &db.url, "--agg", agg])
            .args([
                "--from",
                "2026-12-04T10:00:00Z",
                "--until",
                "2026-12-04T10:01:00Z",
            ])
            .args(["--interval", "1m", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for (agg, want) in [("count", 40.0), ("sum", 380.0), ("max", 19.0)] {
        let answer = fleet_query(agg);
        assert_eq!(answer.as_array().unwrap().len(), 1, "{answer}");
        assert_eq!(answer[0]["points"][0]["value"], want, "{agg}: {answer}");
    }
    // A trace from one machine: listed and drawn from the database as from its store.
    answer(
        &daemons[0].send("POST", "/v1/traces", &crate::otlp_ingest::otlp_json_trace()),
        200,
    );
    count_reaching(&db, "SELECT COUNT(*) FROM telemetry_spans", 3);
    // Machine 0's reads, as JSON.
    let read = |args: &[&str]| -> String {
        let out = lookout()
            .args(args)
            .arg("--json")
            .env(lookout::store::BASE_DIR_ENV, &daemons[0].base)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let local = read(&["traces"]);
    assert!(local.contains("trace_id"), "{local}");
    assert_eq!(read(&["traces", "--store", &db.url]), local);
    let id: Value = serde_json::from_str(&local).unwrap();
    let id = id[0]["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(
        read(&["traces", &id[..8], "--store", &db.url]),
        read(&["traces", &id[..8]])
    );
    // The fleet's runs: machine 0's as its own store lists them, and both machines'.
    let machine_0 = ["runs", "--agent", "agent-0", "--limit", "100"];
    let local = read(&machine_0);
    assert_eq!(
        read(&[&machine_0[..], &["--store", &db.url]].concat()),
        local
    );
    let fleet: Value =
        serde_json::from_str(&read(&["runs", "--limit", "0", "--store", &db.url])).unwrap();
    assert_eq!(fleet.as_array().unwrap().len(), 100, "{fleet}");
    let theirs = fleet
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["agent_name"] == "agent-1")
        .unwrap();
    let theirs = theirs["run_id"].as_str().unwrap();
    let shown: Value =
        serde_json::from_str(&read(&["runs", "show", theirs, "--store", &db.url])).unwrap();
    assert_eq!(shown["run_id"], theirs, "{shown}");
    assert_eq!(shown["agent_name"], "agent-1", "{shown}");
    let show = |args: &[&str]| {
        lookout()
            .args(["runs", "show"])
            .args(args)
            .env(lookout::store::BASE_DIR_ENV, &daemons[0].base)
            .output()
            .unwrap()
    };
    let out = show(&[theirs]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "machine 0's store has its own runs only"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("E_NOT_FOUND"));
    let out = show(&["m1-run-", "--store", &db.url]);
    assert_eq!(out.status.code(), Some(2), "a prefix of 50 runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("E_AMBIGUOUS") && said.contains("m1-run-0, m1-run-1"),
        "{said}"
    );
    // Each daemon's own index has its own runs only.
    assert_eq!(daemons[0].rows("agent_runs"), 50);
    let indexed = r#"lookout_store_postgres_records_total{outcome="indexed"}"#;
    assert!(
        sample(&daemons[0], indexed) >= Some(71.0),
        "50 runs and 21 points"
    );
    assert_eq!(sample(&daemons[0], "lookout_store_postgres_up"), Some(1.0));
    assert_eq!(
        sample(&daemons[0], "lookout_store_postgres_failures_total"),
        Some(0.0)
    );
}

#[test]
fn a_daemon_whose_postgres_is_down_still_acknowledges_every_write_and_says_so() {
    // Nothing listens on port 1: every connection is refused, and retried.
    let d = Daemon::start(&["--store", "postgres://lookout:lookout@127.0.0.1:1/fleet"]);
    let runs: Vec<_> = (0..20)
        .map(|n| json!({"event_id": format!("down-{n}"), "agent_name": "a", "job_type": "b"}))
        .collect();
    answer(&d.send("POST", "/api/v1/runs/batch", &json!(runs)), 201);
    assert_eq!(d.rows("agent_runs"), 20);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sample(&d, "lookout_store_postgres_failures_total") < Some(2.0) {
        assert!(Instant::now() < deadline, "the follower retries");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sample(&d, "lookout_store_postgres_up"), Some(0.0));
    let indexed = r#"lookout_store_postgres_records_total{outcome="indexed"}"#;
    assert_eq!(sample(&d, indexed), Some(0.0));
}

#[test]
fn a_store_url_that_is_not_postgres_is_refused_before_serving() {
    let out = lookout()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "telemetry.sqlite",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error[E_INVALID]"), "{stderr}");
    assert!(stderr.contains("not PostgreSQL's"), "{stderr}");
    for command in ["query", "runs", "traces"] {
        let mut args = vec![command];
        if command == "query" {
            args.push("x");
        }
        let out = lookout()
            .args(&args)
            .args(["--store", "postgress://lookout:S3CRET@db/fleet"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error[E_INVALID]"), "{stderr}");
        assert!(
            !stderr.contains("S3CRET"),
            "the password is not said: {stderr}"
        );
    }
}

//! The store's log followed into a real PostgreSQL server: the tables hold what SQLite's
//! hold, row for row; each id once when followed twice or by two data directories; a
//! server that comes up late or a database that is lost is caught up from the log;
//! retention applies there too.
//!
//! The server is `LOOKOUT_TEST_POSTGRES` ([`lookout_testkit::postgres`]).

use lookout_store::postgres::{FollowConfig, Follower};
use lookout_store::{Record, RecordKind, Store, StoreConfig};
use lookout_testkit::postgres::Database;
use postgres::types::Type;
use postgres::{Client, NoTls};
use rusqlite::types::ValueRef;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

const FLUSH: Duration = Duration::from_secs(10);
const CATCH_UP: Duration = Duration::from_secs(30);

/// A value as both databases give it back: integers and reals apart, as SQLite types
/// them.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl PartialEq for Cell {
    /// Reals alike to 1e-12 (a sum over points taken in other transactions adds them in
    /// another order); sketches alike when their counts and quantiles are (their bytes
    /// carry such a sum too).
    fn eq(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Integer(a), Cell::Integer(b)) => a == b,
            (Cell::Real(a), Cell::Real(b)) => {
                a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
            }
            (Cell::Text(a), Cell::Text(b)) => a == b,
            (Cell::Blob(a), Cell::Blob(b)) => {
                let sketch =
                    |bytes: &[u8]| sketches_ddsketch::DDSketch::from_java_bytes(bytes).ok();
                match (sketch(a), sketch(b)) {
                    (Some(a), Some(b)) => {
                        a.count() == b.count()
                            && [0.0, 0.5, 0.9, 0.99, 1.0]
                                .iter()
                                .all(|&q| a.quantile(q).ok() == b.quantile(q).ok())
                    }
                    _ => a == b,
                }
            }
            _ => false,
        }
    }
}

fn sqlite_rows(db: &rusqlite::Connection, sql: &str) -> Vec<Vec<Cell>> {
    let mut statement = db.prepare(sql).unwrap();
    let columns = statement.column_count();
    let mut rows = statement.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Integer(n),
                    ValueRef::Real(x) => Cell::Real(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                })
                .collect(),
        );
    }
    out
}

fn postgres_rows(db: &mut Client, sql: &str) -> Vec<Vec<Cell>> {
    db.query(sql, &[])
        .unwrap()
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    let ty = row.columns()[i].type_();
                    if *ty == Type::INT8 {
                        row.get::<_, Option<i64>>(i)
                            .map_or(Cell::Null, Cell::Integer)
                    } else if *ty == Type::INT4 {
                        row.get::<_, Option<i32>>(i)
                            .map_or(Cell::Null, |n| Cell::Integer(n.into()))
                    } else if *ty == Type::FLOAT8 {
                        row.get::<_, Option<f64>>(i).map_or(Cell::Null, Cell::Real)
                    } else if *ty == Type::BYTEA {
                        row.get::<_, Option<Vec<u8>>>(i)
                            .map_or(Cell::Null, Cell::Blob)
                    } else if *ty == Type::TEXT {
                        row.get::<_, Option<String>>(i)
                            .map_or(Cell::Null, Cell::Text)
                    } else {
                        panic!("{sql}: column {i} is {ty}, not a type SQLite has")
                    }
                })
                .collect()
        })
        .collect()
}

/// What both indexes must hold alike: every table (series by name and labels, as ids
/// may differ) and seed 003's views, in a stable order.
const SAME: &[&str] = &[
    "SELECT * FROM telemetry_spans ORDER BY event_id",
    "SELECT * FROM telemetry_span_events ORDER BY trace_id, span_id, seq",
    "SELECT * FROM telemetry_records ORDER BY event_id",
    // PostgreSQL's agent_runs has SQLite's rowid as a column: compared apart.
    "SELECT run_id, event_id, agent_name, job_type, status, start_time, end_time, duration_ms,
            items_discovered, items_succeeded, items_failed, input_summary, output_summary,
            error_summary, metrics_json, insight_id, product, platform, git_repo, git_branch,
            git_commit_hash, git_commit_source, git_commit_author, host, pid, process_start,
            trace_id, api_posting_status, api_posting_attempts, api_posting_error,
            updated_unix_nano
     FROM agent_runs ORDER BY run_id",
    "SELECT run_id FROM agent_runs ORDER BY rowid",
    "SELECT * FROM agent_run_events ORDER BY event_id",
    "SELECT name, kind, labels FROM telemetry_series ORDER BY name, labels",
    "SELECT name, key, value FROM telemetry_series_labels ORDER BY name, key, value",
    "SELECT event_id, name, kind, labels, time_unix_nano, value, text FROM telemetry_metrics
     ORDER BY event_id",
    "SELECT s.name, s.labels, r.width_seconds, r.start_unix_nano, r.count, r.sum, r.min, r.max,
            r.increase, r.sketch
     FROM telemetry_rollups r JOIN telemetry_series s USING (series_id)
     ORDER BY s.name, s.labels, r.width_seconds, r.start_unix_nano",
    "SELECT name, kind, labels, value, time_unix_nano FROM v_recent_metrics ORDER BY name, labels",
    "SELECT * FROM telemetry_aggregates ORDER BY name, labels, interval_seconds, bucket_start",
    "SELECT * FROM v_trace_summary ORDER BY trace_id",
    "SELECT * FROM v_agent_performance ORDER BY agent_name",
    "SELECT * FROM v_tool_usage ORDER BY tool",
    "SELECT * FROM v_error_rate ORDER BY hour_start_unix, name, error_type",
    "SELECT * FROM v_context_utilization ORDER BY agent_id",
];

/// The fixture trace ending now, its root an agent's execution and its failing child a
/// tool call, as seed 003's views read them.
fn recent_trace() -> Vec<lookout_export::FinishedSpan> {
    use lookout_export::KeyValue;
    let mut spans = lookout_export::testing::recent_agent_trace();
    spans[0].attributes.extend([
        KeyValue::new("gen_ai.operation.name", "invoke_agent"),
        KeyValue::new("gen_ai.usage.output_tokens", 320i64),
    ]);
    spans[1].attributes.extend([
        KeyValue::new("gen_ai.operation.name", "execute_tool"),
        KeyValue::new("gen_ai.tool.name", "bash"),
        KeyValue::new("error.type", "exit_code"),
    ]);
    spans
}

/// Runs with a later state and an associated commit, run events, a trace, metric points
/// of a counter (with a reset), a gauge and text, and records of other kinds.
fn workload(store: &Store, tag: &str) {
    let now = SystemTime::now();
    for n in 0..20 {
        let run_id = format!("{tag}-run-{n}");
        let started = json!({"run_id": run_id, "agent_name": format!("agent-{}", n % 3),
            "job_type": "review", "status": "running", "start_time": "2026-12-04T10:00:00Z",
            "host": "h1", "pid": 40 + n, "items_discovered": n, "metrics_json": {"k": [1, 2]}, "product": true,
            "git_commit_hash": "abc", "api_posting_status": "pending"});
        let mut first = Record::new(RecordKind::Run, started.clone());
        first.time = now - Duration::from_secs(5);
        store.record(first);
        let mut ended = started.clone();
        ended["status"] = json!(if n % 4 == 0 { "failed" } else { "success" });
        ended["duration_ms"] = json!(1500 + n);
        ended["items_succeeded"] = json!(n);
        ended["error_summary"] = json!(null);
        if n % 2 == 0 {
            ended["git_commit_hash"] = json!("def");
            ended["git_commit_source"] = json!("associated");
            ended["git_commit_author"] = json!("dev@example.com");
        }
        let mut last = Record::new(RecordKind::Run, ended);
        last.time = now - Duration::from_secs(1);
        store.record(last);
        store.record(Record::new(
            RecordKind::RunEvent,
            json!({"run_id": run_id, "name": "checkpoint", "payload": {"step": n}}),
        ));
    }
    store.record_spans(recent_trace());
    let labels = |agent: &str| BTreeMap::from([("agent_id".to_owned(), agent.to_owned())]);
    use lookout_store::metrics::{PointValue, point_record};
    for (i, value) in [1.0, 3.0, 7.0, 2.0, 5.0].into_iter().enumerate() {
        let at = now - Duration::from_secs(600) + Duration::from_secs(60 * i as u64);
        store.record(point_record(
            "tool_calls_total",
            "counter",
            &labels(tag),
            PointValue::Number(value),
            at,
        ));
        store.record(point_record(
            "context_window_utilization",
            "gauge",
            &labels(tag),
            PointValue::Number(value / 10.0),
            at,
        ));
    }
    store.record(point_record(
        "model",
        "info",
        &labels(tag),
        PointValue::Text("gpt".into()),
        now,
    ));
    store.record(Record::new(
        RecordKind::BridgeEvent,
        json!({"event_type": "COMMAND", "source": tag, "data": {"ok": true}}),
    ));
}

/// A store in a new directory with [`workload`] `a` in it, durable.
fn store_with_workload() -> (tempfile::TempDir, StoreConfig, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    workload(&store, "a");
    store.flush(FLUSH).unwrap();
    (dir, config, store)
}

fn follow(config: &StoreConfig, db: &Database) -> Follower {
    Follower::start(FollowConfig::new(config, db.url.clone()))
}

fn assert_same(sqlite: &rusqlite::Connection, postgres: &mut Client) {
    for sql in SAME {
        let (lite, pg) = (sqlite_rows(sqlite, sql), postgres_rows(postgres, sql));
        assert!(!lite.is_empty(), "{sql}: the workload fills it");
        assert_eq!(lite, pg, "{sql}");
    }
}

#[test]
fn the_log_followed_into_postgres_gives_the_rows_sqlite_has() {
    let Some(db) = Database::create() else { return };
    let (_dir, config, store) = store_with_workload();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    assert_same(&sqlite, &mut db.client());

    // More of the same, followed as it comes; the same records again change nothing.
    workload(&store, "b");
    store.flush(FLUSH).unwrap();
    assert!(follower.caught_up(CATCH_UP));
    assert_same(&sqlite, &mut db.client());
    let status = follower.status();
    assert_eq!(status.failures, 0, "{status:?}");
    assert_eq!(status.invalid, 0);
}

#[test]
fn a_database_of_schema_1_is_moved_to_2_and_lists_runs_as_sqlite_does() {
    use lookout_store::runs::{self, RunFilter};
    let Some(db) = Database::create() else { return };
    let (_dir, config, _store) = store_with_workload();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    drop(follower);
    // What version 1 was: no rowid on agent_runs.
    db.client()
        .batch_execute(
            "ALTER TABLE agent_runs DROP COLUMN rowid;
             DELETE FROM store_schema; INSERT INTO store_schema (version) VALUES (1);",
        )
        .unwrap();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    let versions: Vec<i64> = db
        .client()
        .query("SELECT version FROM store_schema ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    let mut pg = lookout_store::postgres::Reader::connect(&db.url).unwrap();
    let filter = RunFilter::default();
    let lite = runs::list(&sqlite, &filter).unwrap();
    assert!(!lite.is_empty());
    assert_eq!(pg.runs(&filter).unwrap().len(), lite.len());
}

#[test]
fn each_id_is_stored_once_whoever_follows_it() {
    let Some(db) = Database::create() else { return };
    let (_dir, config, _store) = store_with_workload();
    // Two followers of one log under different sources (a data directory moved, say)
    // at once, and a copy of the log under a third: every row once.
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copy.path().join("raw")).unwrap();
    for file in std::fs::read_dir(config.raw_dir()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            std::fs::copy(
                &path,
                copy.path().join("raw").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    let followers: Vec<Follower> = [
        FollowConfig::new(&config, db.url.clone()),
        FollowConfig {
            source: "moved".into(),
            ..FollowConfig::new(&config, db.url.clone())
        },
        FollowConfig::new(&StoreConfig::new(copy.path()), db.url.clone()),
    ]
    .into_iter()
    .map(Follower::start)
    .collect();
    for follower in &followers {
        assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    }
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    assert_same(&sqlite, &mut db.client());
    let sources: i64 = db
        .client()
        .query_one(
            "SELECT COUNT(DISTINCT source) FROM store_log_checkpoints",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sources, 3);
    for follower in &followers {
        assert_eq!(follower.status().failures, 0, "{:?}", follower.status());
    }
}

#[test]
fn a_server_that_comes_late_or_a_lost_database_is_caught_up_from_the_log() {
    let Some(db) = Database::create() else { return };
    let (_dir, config, store) = store_with_workload();
    // A database that does not exist yet: refused, retried with backoff, never blocking
    // the store.
    let late = format!("{}_late", db.url);
    let follower = Follower::start(FollowConfig::new(&config, late.clone()));
    let deadline = std::time::Instant::now() + CATCH_UP;
    while follower.status().failures < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            follower.status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(follower.status().error.is_some());
    workload(&store, "b");
    store.flush(FLUSH).unwrap();
    let late_name = late.rsplit('/').next().unwrap().to_owned();
    let mut admin = Client::connect(&db.admin, NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {late_name}"))
        .unwrap();
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    assert_eq!(follower.status().error, None);
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    assert_same(&sqlite, &mut Client::connect(&late, NoTls).unwrap());
    drop(follower);

    // The database lost and made again, empty: all of the log comes back.
    for sql in ["DROP DATABASE {} WITH (FORCE)", "CREATE DATABASE {}"] {
        admin.batch_execute(&sql.replace("{}", &late_name)).unwrap();
    }
    let follower = Follower::start(FollowConfig::new(&config, late.clone()));
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    assert_same(&sqlite, &mut Client::connect(&late, NoTls).unwrap());
    drop(follower);
    admin
        .batch_execute(&format!("DROP DATABASE {late_name} WITH (FORCE)"))
        .unwrap();
}

#[test]
fn retention_removes_old_rows_from_postgres_too() {
    let Some(db) = Database::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let old = SystemTime::now() - Duration::from_secs(10 * 86_400);
    let mut stale = Record::new(RecordKind::BridgeEvent, json!({"source": "old"}));
    stale.time = old;
    store.record(stale);
    store.record(lookout_store::metrics::point_record(
        "old_gauge",
        "gauge",
        &BTreeMap::new(),
        lookout_store::metrics::PointValue::Number(1.0),
        SystemTime::now() - Duration::from_secs(100 * 86_400),
    ));
    workload(&store, "a");
    store.flush(FLUSH).unwrap();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP));
    drop(follower);
    // A follower that starts runs retention first (then hourly).
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP));
    let mut client = db.client();
    let count =
        |client: &mut Client, sql: &str| -> i64 { client.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM telemetry_records WHERE body LIKE '%\"old\"%'"
        ),
        0
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM telemetry_series WHERE name = 'old_gauge'"
        ),
        0,
        "a series without points or rollups goes"
    );
    assert!(count(&mut client, "SELECT COUNT(*) FROM agent_runs") > 0);
    assert!(count(&mut client, "SELECT COUNT(*) FROM telemetry_spans") > 0);
}

#[test]
fn a_record_postgres_cannot_hold_is_counted_and_skipped_and_the_rest_follows() {
    let Some(db) = Database::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    workload(&store, "a");
    // PostgreSQL's text holds no NUL: this run is refused, alone.
    store.record(Record::new(
        RecordKind::Run,
        json!({"run_id": "nul", "agent_name": "a\u{0}b", "job_type": "x"}),
    ));
    // In JSON (attributes) it is escaped, and made something jsonb takes.
    let mut spans = recent_trace();
    for span in &mut spans {
        span.trace_id = lookout_export::TraceId(0xfeed);
        span.attributes
            .push(lookout_export::KeyValue::new("note", "x\u{0}y"));
    }
    store.record_spans(spans);
    workload(&store, "b");
    store.flush(FLUSH).unwrap();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    let status = follower.status();
    assert_eq!(status.refused, 1, "{status:?}");
    let mut client = db.client();
    let count =
        |client: &mut Client, sql: &str| -> i64 { client.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM agent_runs WHERE run_id = 'nul'"
        ),
        0
    );
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM agent_runs"), 40);
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM telemetry_spans WHERE trace_id LIKE '%feed'"
        ),
        3
    );
    assert_eq!(count(&mut client, "SELECT COUNT(*) FROM v_tool_usage"), 1);
}

#[test]
fn reads_from_postgres_answer_as_reads_from_sqlite() {
    use lookout_store::query::{self, Lookup, TraceFilter, TraceStatus};
    use lookout_store::runs::{self, RUN_FIELDS, RunFilter};
    let Some(db) = Database::create() else { return };
    let (_dir, config, store) = store_with_workload();
    // A second trace, younger, named otherwise.
    let mut other = recent_trace();
    for span in &mut other {
        span.trace_id = lookout_export::TraceId(0x4bf9_0000_0000_0000_0000_0000_0000_0001);
        span.name = format!("{} again", span.name).into();
        span.start_time += Duration::from_millis(5);
        span.end_time += Duration::from_millis(5);
    }
    store.record_spans(other);
    workload(&store, "b");
    store.flush(FLUSH).unwrap();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    let mut pg = lookout_store::postgres::Reader::connect(&db.url).unwrap();

    let mut filters = Vec::new();
    for (name, status, limit) in [
        (None, None, 20),
        (None, None, 1),
        (Some("again"), None, 20),
        (None, Some(TraceStatus::Error), 20),
        (None, Some(TraceStatus::Ok), 20),
    ] {
        let mut filter = TraceFilter::default();
        filter.name = name.map(str::to_owned);
        filter.status = status;
        filter.limit = limit;
        filters.push(filter);
    }
    let mut future = TraceFilter::default();
    future.since = Some(SystemTime::now() + Duration::from_secs(3600));
    future.limit = 20;
    filters.push(future);
    let mut listed = 0;
    for filter in &filters {
        let lite = query::traces(&sqlite, filter).unwrap();
        listed += lite.len();
        assert_eq!(lite, pg.traces(filter).unwrap(), "{filter:?}");
    }
    assert!(listed >= 5, "the filters select traces");
    for id in [
        "4bf92f35",
        "4bf90000",
        "4bf9",
        "ffff",
        "4BF92F3577B34DA6A3CE929D0E0E4736",
    ] {
        let lite = query::trace(&sqlite, id).unwrap();
        assert_eq!(lite, pg.trace(id).unwrap(), "{id}");
    }
    assert!(matches!(
        query::trace(&sqlite, "4bf9").unwrap(),
        Lookup::Ambiguous(_)
    ));

    let mut filters = vec![RunFilter::default()];
    for f in 0..6 {
        let mut filter = RunFilter::default();
        match f {
            0 => filter.agent = Some("agent-1".into()),
            1 => filter.status = Some("failed".into()),
            2 => (filter.limit, filter.offset) = (7, 5),
            3 => filter.since = Some("2026-12-04T10:00:00Z".into()),
            4 => filter.until = Some("2026-12-04T10:00:00Z".into()),
            _ => (filter.host, filter.job_type) = (Some("h1".into()), Some("review".into())),
        }
        filters.push(filter);
    }
    for filter in &filters {
        assert_eq!(
            runs::list(&sqlite, filter).unwrap(),
            pg.runs(filter).unwrap(),
            "{filter:?}"
        );
    }
    for run_id in ["a-run-3", "b-run-0", "none"] {
        assert_eq!(
            runs::events(&sqlite, run_id).unwrap(),
            pg.run_events(run_id).unwrap()
        );
        assert_eq!(
            runs::load_state(&sqlite, run_id).unwrap(),
            pg.run_state(run_id).unwrap()
        );
    }
    for field in RUN_FIELDS.iter().chain(&["not_a_field"]) {
        assert_eq!(
            runs::distinct(&sqlite, field, 5).unwrap(),
            pg.distinct(field, 5).unwrap(),
            "{field}"
        );
    }
}

#[test]
fn metric_reads_from_postgres_answer_as_from_sqlite() {
    use lookout_store::{metrics, rollups};
    let Some(db) = Database::create() else { return };
    let (_dir, config, store) = store_with_workload();
    workload(&store, "b");
    store.flush(FLUSH).unwrap();
    let follower = follow(&config, &db);
    assert!(follower.caught_up(CATCH_UP), "{:?}", follower.status());
    let sqlite = lookout_store::open_reader(&config.db_path).unwrap();
    let mut pg = lookout_store::postgres::Reader::connect(&db.url).unwrap();

    assert_eq!(
        metrics::oldest_point(&sqlite).unwrap(),
        pg.oldest_point().unwrap()
    );
    let names: Vec<String> = sqlite
        .prepare("SELECT DISTINCT name FROM telemetry_series ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(names, pg.metric_names().unwrap());
    let (from, until) = (i64::MIN, i64::MAX);
    let mut compared = 0;
    for name in &names {
        for labels in [
            BTreeMap::new(),
            BTreeMap::from([("agent_id".to_owned(), "b".to_owned())]),
            BTreeMap::from([("agent_id".to_owned(), "none".to_owned())]),
        ] {
            // Series ids differ between the two: compared by labels.
            let lite = metrics::series(&sqlite, name, &labels).unwrap();
            let theirs = pg.series(name, &labels).unwrap();
            let described = |s: &[metrics::StoredSeries]| -> Vec<_> {
                s.iter()
                    .map(|s| (s.kind.clone(), s.labels.clone()))
                    .collect()
            };
            assert_eq!(described(&lite), described(&theirs), "{name} {labels:?}");
            let labels_of = |series: &[metrics::StoredSeries], id: i64| {
                series
                    .iter()
                    .find(|s| s.series_id == id)
                    .unwrap()
                    .labels
                    .clone()
            };
            let ids = |s: &[metrics::StoredSeries]| -> Vec<i64> {
                s.iter().map(|s| s.series_id).collect()
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            metrics::for_each_point_of(&sqlite, &ids(&lite), from, until, |id, t, v| {
                a.push((labels_of(&lite, id), t, v))
            })
            .unwrap();
            pg.for_each_point_of(&ids(&theirs), from, until, |id, t, v| {
                b.push((labels_of(&theirs, id), t, v))
            })
            .unwrap();
            assert_eq!(a, b, "points of {name} {labels:?}");
            compared += a.len();
            for width in rollups::WIDTHS {
                let summary = |r: &rollups::Rollup| {
                    (
                        r.start,
                        r.count,
                        r.min,
                        r.max,
                        r.increase,
                        r.quantile(0.5),
                        r.quantile(0.99),
                    )
                };
                let (mut a, mut b) = (Vec::new(), Vec::new());
                rollups::for_each_rollup_of(
                    &sqlite,
                    &ids(&lite),
                    width,
                    (from, until),
                    true,
                    |id, r| a.push((labels_of(&lite, id), summary(&r), r.sum)),
                )
                .unwrap();
                pg.for_each_rollup_of(&ids(&theirs), width, (from, until), true, |id, r| {
                    b.push((labels_of(&theirs, id), summary(&r), r.sum))
                })
                .unwrap();
                assert_eq!(
                    a.len(),
                    b.len(),
                    "rollups of {name} {labels:?} per {width} s"
                );
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(
                        (&x.0, &x.1),
                        (&y.0, &y.1),
                        "rollups of {name} per {width} s"
                    );
                    assert!(
                        (x.2 - y.2).abs() <= 1e-12 * x.2.abs().max(1.0),
                        "{x:?} {y:?}"
                    );
                }
            }
        }
    }
    assert!(compared >= 20, "the workload's points are read");
}

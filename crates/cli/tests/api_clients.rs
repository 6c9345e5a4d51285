//! A library client in another process pointed at `lookout serve` (`TELEMETRY_API_URL`,
//! with the daemon's token): its runs reach the daemon's store; while the daemon is down
//! they are kept in the client's own store and reach the daemon once it is back.

use crate::daemon::Daemon;
use lookout::Telemetry;
use lookout::config::{API_TOKEN_ENV, API_URL_ENV, Config, env_map};
use lookout::runs::RunFields;
use lookout::store::rusqlite::Connection;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: &str = "a-token-for-the-fleet";

fn client(base: &Path, url: &str) -> Telemetry {
    let env = [
        (lookout::store::BASE_DIR_ENV, base.to_str().unwrap()),
        (API_URL_ENV, url),
        (API_TOKEN_ENV, TOKEN),
    ];
    let config = Config::default().with_env(&env_map(&env)).unwrap();
    Telemetry::builder().config(config).build().unwrap()
}

/// Ends `n` runs of job `job`, run `i` with `i` items discovered; their ids.
fn end_runs(telemetry: &Telemetry, job: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut run = telemetry.runs().track_run("crawler", job);
            run.set_fields(RunFields::default().items(i, i, 0));
            let id = run.id().to_owned();
            run.succeed();
            id
        })
        .collect()
}

/// `(run_id, job_type, status, items_discovered)` of every run in `conn`, by id.
fn runs_in(conn: &Connection) -> Vec<(String, String, String, i64)> {
    let mut statement = conn
        .prepare(
            "SELECT run_id, job_type, status, items_discovered FROM agent_runs
             ORDER BY run_id",
        )
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Waits up to `within` for `done` to hold.
fn wait_for(within: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}, after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many of the client's runs are `posted`, and how many `pending` after `attempts`
/// or more attempts.
fn posting(client_db: &Path, attempts: i64) -> (i64, i64) {
    Connection::open(client_db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE api_posting_status = 'posted'),
                    COUNT(*) FILTER (WHERE api_posting_status = 'pending'
                                     AND api_posting_attempts >= ?1)
             FROM agent_runs",
            [attempts],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[test]
fn a_library_client_posts_to_the_daemon_and_loses_nothing_while_it_is_down() {
    let listen = format!("127.0.0.1:{}", lookout_testkit::free_port());
    let daemon = Daemon::start_in(tempfile::tempdir().unwrap(), &listen, &["--token", TOKEN]);
    let client_dir = tempfile::tempdir().unwrap();
    let client_db = client_dir.path().join("db/telemetry.sqlite");
    let telemetry = client(client_dir.path(), &daemon.url);

    end_runs(&telemetry, "while-up", 5);
    wait_for(Duration::from_secs(15), "5 runs at the daemon", || {
        daemon.rows("agent_runs") == 5
    });
    // The client records each run's new posting status once the daemon answered; its
    // index takes it just after.
    wait_for(Duration::from_secs(5), "5 runs posted", || {
        posting(&client_db, 1) == (5, 0)
    });

    let store = daemon.stop();
    end_runs(&telemetry, "while-down", 5);
    // The first is tried four times (1 + 2 + 4 s), the others once each behind it.
    wait_for(Duration::from_secs(20), "5 runs pending", || {
        posting(&client_db, 1).1 == 5
    });
    assert_eq!(posting(&client_db, 4), (5, 1), "the first tried four times");
    let client_runs = runs_in(&Connection::open(&client_db).unwrap());
    assert_eq!(client_runs.len(), 10, "every run kept by the client");

    let daemon = Daemon::start_in(store, &listen, &["--token", TOKEN]);
    wait_for(Duration::from_secs(30), "10 runs at the daemon", || {
        daemon.rows("agent_runs") == 10
    });
    assert_eq!(
        runs_in(&daemon.db()),
        client_runs,
        "the same runs, once each"
    );
    wait_for(Duration::from_secs(5), "all posted", || {
        posting(&client_db, 1).0 == 10
    });
    drop(telemetry);
}

#[test]
fn a_client_without_the_token_is_refused_and_told_why() {
    let daemon = Daemon::start(&["--token", TOKEN]);
    let client_dir = tempfile::tempdir().unwrap();
    let env = [
        (
            lookout::store::BASE_DIR_ENV,
            client_dir.path().to_str().unwrap(),
        ),
        (API_URL_ENV, daemon.url.as_str()),
    ];
    let config = Config::default().with_env(&env_map(&env)).unwrap();
    let telemetry = Telemetry::builder().config(config).build().unwrap();
    end_runs(&telemetry, "no-token", 1);
    let client_db = client_dir.path().join("db/telemetry.sqlite");
    // The row is there once the client's store has indexed the run.
    let status = || -> Option<(String, Option<String>)> {
        Connection::open(&client_db)
            .ok()?
            .query_row(
                "SELECT api_posting_status, api_posting_error FROM agent_runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok()
    };
    wait_for(Duration::from_secs(10), "a final answer", || {
        status().is_some_and(|(state, _)| state != "pending")
    });
    let (state, error) = status().unwrap();
    assert_eq!(state, "failed", "a 401 is final");
    assert!(error.unwrap().contains("HTTP 401"));
    assert_eq!(daemon.rows("agent_runs"), 0);
}

//! Runs (seed 002): every way a run can end, its record and metrics, and seed 002's SQL
//! recipes run by the `sqlite3` shell against the store.

use lookout::Telemetry;
use lookout::runs::{RunFields, RunStatus};
use lookout::store::rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

fn telemetry(base: &Path) -> Telemetry {
    crate::util::store_telemetry(base, &[])
}

/// (status, error_summary) of the newest run of `job_type`.
fn ended(db: &Path, job_type: &str) -> (String, Option<String>) {
    Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT status, error_summary FROM agent_runs WHERE job_type = ?1",
            [job_type],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[derive(Debug)]
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the remote end hung up")
    }
}

fn fetch(fail: bool) -> Result<u32, Boom> {
    if fail { Err(Boom) } else { Ok(3) }
}

#[test]
fn every_ending_is_recorded_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path());
    let runs = telemetry.runs();

    // An early `?` return inside the closure form.
    let early: Result<u32, Boom> = runs.run("coder", "early", |run| {
        run.log_event("fetching", serde_json::json!({"attempt": 1}));
        let n = fetch(true)?;
        Ok(n)
    });
    assert!(early.is_err());

    // A panic inside the closure form.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runs.run("coder", "panics", |_run| -> Result<(), Boom> {
            panic!("index out of range");
        })
    }));
    assert!(panicked.is_err());

    // An explicit failure, and the guard dropped unfinished.
    runs.track_run("coder", "explicit")
        .fail("3 of 10 items failed validation");
    drop(runs.track_run("coder", "dropped"));

    // The explicit form, partial, with items.
    let id = runs.start_run("reviewer", "review_batch");
    assert!(runs.log_event(&id, "checkpoint", serde_json::json!({"step": 1})));
    assert!(runs.end_run(
        &id,
        RunStatus::Partial,
        RunFields::default().items(10, 8, 2)
    ));
    assert!(
        !runs.end_run(&id, RunStatus::Success, RunFields::default()),
        "ended once"
    );
    let ok: Result<u32, Boom> = runs.run("coder", "fine", |_| fetch(false));
    assert_eq!(ok.unwrap(), 3);
    let some: Result<(), Boom> = runs.run("coder", "some", |run| {
        run.end_as(RunStatus::Partial);
        Ok(())
    });
    assert!(some.is_ok());
    assert!(telemetry.flush().is_ok());

    let db = dir.path().join("db/telemetry.sqlite");
    assert_eq!(
        ended(&db, "early"),
        ("failed".into(), Some("the remote end hung up".into()))
    );
    assert_eq!(
        ended(&db, "panics"),
        ("failed".into(), Some("panicked: index out of range".into()))
    );
    assert_eq!(
        ended(&db, "explicit"),
        (
            "failed".into(),
            Some("3 of 10 items failed validation".into())
        )
    );
    assert_eq!(ended(&db, "dropped").0, "failed");
    assert!(
        ended(&db, "dropped")
            .1
            .unwrap()
            .contains("before it finished")
    );
    assert_eq!(ended(&db, "fine"), ("success".into(), None));
    assert_eq!(
        ended(&db, "some"),
        ("partial".into(), None),
        "a closure may end partial"
    );

    let conn = Connection::open(&db).unwrap();
    let (items, duration, events, trace): (i64, i64, i64, String) = conn
        .query_row(
            "SELECT items_failed, duration_ms,
                    (SELECT COUNT(*) FROM agent_run_events e WHERE e.run_id = r.run_id), trace_id
             FROM agent_runs r WHERE job_type = 'review_batch'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((items, events), (2, 1));
    let (start, end): (String, String) = conn
        .query_row(
            "SELECT start_time, end_time FROM agent_runs WHERE job_type = 'review_batch'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let elapsed: i64 = conn
        .query_row(
            "SELECT CAST(round((julianday(?2) - julianday(?1)) * 86400000) AS INTEGER)",
            [&start, &end],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        (duration - elapsed).abs() <= 1,
        "{duration} ms from {start} to {end}"
    );
    // The run is a root span named after its job, with its event, in the same trace.
    let (name, span_events): (String, i64) = conn
        .query_row(
            "SELECT name, (SELECT COUNT(*) FROM telemetry_span_events e
                           WHERE e.trace_id = s.trace_id AND e.span_id = s.span_id)
             FROM telemetry_spans s WHERE trace_id = ?1 AND parent_span_id IS NULL",
            [&trace],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), span_events), ("run review_batch", 1));

    let text = telemetry.prometheus_text();
    for series in [
        "agent_runs_total{agent_name=\"coder\",job_type=\"early\",status=\"failed\"} 1",
        "agent_runs_total{agent_name=\"reviewer\",job_type=\"review_batch\",status=\"partial\"} 1",
        "agent_run_items_total{agent_name=\"reviewer\",job_type=\"review_batch\",outcome=\"failed\"} 2",
        "agent_run_duration_seconds_count{agent_name=\"coder\",job_type=\"fine\"} 1",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
}

#[test]
fn seed_002s_sql_recipes_work_in_the_sqlite3_shell() {
    let Some(sqlite3) = lookout_testkit::require_tool("sqlite3", "Debian package sqlite3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path());
    for (agent, status) in [
        ("coder", RunStatus::Success),
        ("coder", RunStatus::Failed),
        ("tester", RunStatus::Success),
    ] {
        telemetry.runs().track_run(agent, "job").finish(status);
    }
    assert!(telemetry.flush().is_ok());
    let db = dir.path().join("db/telemetry.sqlite");
    let shell = |sql: &str| {
        let out = std::process::Command::new(&sqlite3)
            .arg(&db)
            .arg(sql)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let recent = shell(
        "SELECT run_id, status, duration_ms FROM agent_runs ORDER BY start_time DESC LIMIT 10;",
    );
    assert_eq!(recent.lines().count(), 3, "{recent}");
    assert!(
        recent.lines().all(|l| l.split('|').count() == 3),
        "{recent}"
    );
    let by_agent = shell(
        "SELECT agent_name, COUNT(*) as runs, SUM(CASE WHEN status='success' THEN 1 ELSE 0 END) as successes FROM agent_runs GROUP BY agent_name;",
    );
    assert_eq!(by_agent, "coder|2|1\ntester|1|1\n");
}

#[test]
fn commits_are_associated_with_ended_runs_and_detected_for_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path());
    let runs = telemetry.runs();
    // The tests run in this workspace's checkout: its HEAD is the detected commit.
    let context = runs
        .git_context(Duration::from_secs(5))
        .expect("the workspace is a git repository")
        .clone();
    let mut run = runs.track_run("coder", "commit");
    let id = run.id().to_owned();
    run.set_fields(RunFields::default().items(1, 1, 0));
    run.succeed();
    let hash = "0123456789abcdef0123456789abcdef01234567";
    runs.associate_commit(&id, hash, "llm", Some("Claude <noreply@anthropic.com>"))
        .unwrap();
    assert!(telemetry.flush().is_ok());
    let db = dir.path().join("db/telemetry.sqlite");
    let row: (String, String, String, String, Option<String>, i64) = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT status, git_commit_hash, git_commit_source, git_commit_author, git_branch,
                    items_succeeded FROM agent_runs WHERE run_id = ?1",
            [&id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(row.0, "success", "associating keeps the rest of the state");
    assert_eq!((row.1.as_str(), row.2.as_str()), (hash, "llm"));
    assert_eq!(row.3, "Claude <noreply@anthropic.com>");
    assert_eq!(row.4, context.branch);
    assert_eq!(row.5, 1);

    use lookout::runs::RunError;
    assert!(matches!(
        runs.associate_commit(&id, "zzz", "llm", None),
        Err(RunError::Hash(_))
    ));
    assert!(matches!(
        runs.associate_commit(&id, hash, "robot", None),
        Err(RunError::Source(_))
    ));
    assert!(matches!(
        runs.associate_commit("no-such-run", hash, "ci", None),
        Err(RunError::UnknownRun(_))
    ));
    // The next run starts with the detected commit.
    runs.track_run("coder", "detected").succeed();
    assert!(telemetry.flush().is_ok());
    let detected: Option<String> = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT git_commit_hash FROM agent_runs WHERE job_type = 'detected'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detected, context.commit);
}

/// The base directory a child test process records into; unset in a normal test run.
pub(crate) const CHILD_BASE: &str = "LOOKOUT_TEST_RUNS_CHILD_BASE";

/// The child of the next test: starts a run, stores it, says its id and waits to be
/// killed. Ignored: run only by that test, with [`CHILD_BASE`] set.
#[test]
#[ignore]
fn child_starts_a_run_and_waits_to_be_killed() {
    let Ok(base) = std::env::var(CHILD_BASE) else {
        return;
    };
    let telemetry = telemetry(Path::new(&base));
    let id = telemetry.runs().start_run("crawler", "left-running");
    assert!(telemetry.flush().is_ok());
    println!("run {id}");
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn runs_left_running_by_a_killed_process_are_closed_as_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, id) = crate::util::child_with_run(
        "runs::child_starts_a_run_and_waits_to_be_killed",
        &[(CHILD_BASE, dir.path().as_os_str())],
    );
    let telemetry = telemetry(dir.path());
    let runs = telemetry.runs();
    assert_eq!(
        runs.cleanup().unwrap(),
        Vec::<String>::new(),
        "its process is alive"
    );
    child.kill().unwrap(); // SIGKILL: nothing of the child's runs on
    child.wait().unwrap();
    let db = dir.path().join("db/telemetry.sqlite");
    assert_eq!(ended(&db, "left-running").0, "running");
    assert_eq!(runs.cleanup().unwrap(), vec![id.clone()]);
    let (status, summary) = ended(&db, "left-running");
    assert_eq!(status, "abandoned");
    let summary = summary.unwrap();
    assert!(summary.contains("ended before the run did"), "{summary}");
    let end_time: Option<String> = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT end_time FROM agent_runs WHERE run_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(end_time.is_some());
    assert!(runs.cleanup().unwrap().is_empty(), "closed once");
}

#[test]
fn a_commit_associated_while_a_guard_runs_survives_its_end_and_payloads_keep_their_type() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path());
    let runs = telemetry.runs();
    // Detection done (the workspace is a repository): the run's end carries HEAD, which
    // must not replace the commit associated meanwhile.
    let _ = runs.git_context(Duration::from_secs(5));
    let mut run = runs.track_run("coder", "guarded");
    let id = run.id().to_owned();
    for payload in [
        serde_json::json!("a note"),
        serde_json::json!(null),
        serde_json::json!(true),
        serde_json::json!({"step": 2}),
    ] {
        run.log_event("said", payload);
    }
    // Associated through the store (as another process or the CLI would) while open.
    assert!(telemetry.flush().is_ok());
    runs.associate_commit(&id, "abcdef1234567", "ci", Some("CI <ci@example.com>"))
        .unwrap();
    run.succeed();
    assert!(telemetry.flush().is_ok());
    let db = dir.path().join("db/telemetry.sqlite");
    let (status, hash, author): (String, String, String) = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT status, git_commit_hash, git_commit_author FROM agent_runs WHERE run_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (status.as_str(), hash.as_str(), author.as_str()),
        ("success", "abcdef1234567", "CI <ci@example.com>")
    );
    let conn = lookout::store::open_reader(&db).unwrap();
    let payloads: Vec<serde_json::Value> = lookout::store::runs::events(&conn, &id)
        .unwrap()
        .into_iter()
        .map(|(_, _, payload)| payload)
        .collect();
    assert_eq!(
        payloads,
        [
            serde_json::json!("a note"),
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!({"step": 2})
        ]
    );
}

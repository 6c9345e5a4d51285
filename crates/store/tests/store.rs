//! The store in one process: durable after flush, each id once, the log replayed into a
//! new or older index, torn lines set aside, retention, faults as counted drops.

use lookout_export::{SpanId, TraceId};
use lookout_store::{DropReason, Record, RecordKind, Store, StoreConfig};
use rusqlite::Connection;
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

const FLUSH: Duration = Duration::from_secs(10);

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Every record line in the log, by `event_id`.
fn logged_ids(base: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(base.join("raw")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                ids.push(value["event_id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

fn indexed_ids(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT event_id FROM telemetry_records UNION ALL SELECT event_id FROM telemetry_spans",
        )
        .unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn run(n: u64) -> Record {
    Record::new(RecordKind::Run, json!({"agent_name": "coder", "n": n}))
}

#[test]
fn what_flush_acknowledged_is_in_both_once_and_a_repeat_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let records: Vec<Record> = (0..1000).map(run).collect();
    for record in &records {
        store.record(record.clone());
    }
    let mut spans = lookout_export::testing::recent_agent_trace();
    store.record_spans(spans.clone());
    store.flush(FLUSH).unwrap();
    // Sent again: the log has them twice, the index once.
    store.record(records[0].clone());
    store.record_spans(spans.drain(..1));
    store.flush(FLUSH).unwrap();
    let stats = store.stats();
    assert_eq!(stats.logged, 1005);
    assert_eq!(stats.dropped_total(), 0);

    let db = &config.db_path;
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_records"), 1000);
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_spans"), 3);
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_span_events"), 1);
    let unique: HashSet<String> = indexed_ids(db).into_iter().collect();
    let logged: HashSet<String> = logged_ids(dir.path()).into_iter().collect();
    assert_eq!(unique, logged, "the log and the index hold the same ids");

    // The spans keep their tree, status, resource and events.
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM telemetry_spans WHERE parent_span_id = '0000000000000001'"
        ),
        2
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM telemetry_spans WHERE status_code = 'error'
             AND status_message = 'exit status 1' AND service_name = 'coordinator'"
        ),
        1
    );
    drop(store);
    // Reopening replays nothing new.
    let store = Store::open(config.clone());
    store.flush(FLUSH).unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_records"), 1000);
}

#[test]
fn durable_writes_do_not_wait_for_an_index_another_process_locks() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    store.flush(FLUSH).unwrap();
    let lock = Connection::open(&config.db_path).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Each write is answered once in the log, synced, while the index waits for the lock:
    // past its busy timeout (5 s) the insert comes back and is tried again with what
    // came since. A flush waits for the index, and says so when it cannot.
    let deadline = Duration::from_secs(2);
    for n in 0..100 {
        store.record_durable(run(n), deadline).unwrap();
    }
    assert!(!store.wait_indexed(Duration::from_millis(200)));
    // A flush says the index did not take them (it waits out the busy timeout, twice).
    let flushed = store.flush(Duration::from_secs(30));
    assert!(
        matches!(flushed, Err(lookout_store::FlushError::Timeout(_))),
        "{flushed:?}"
    );
    for n in 100..200 {
        store.record_durable(run(n), deadline).unwrap();
    }
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        0
    );
    lock.execute_batch("ROLLBACK").unwrap();
    assert!(
        store.wait_indexed(FLUSH),
        "a reader waits for the index only"
    );
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        200
    );
    store.flush(FLUSH).unwrap();
    assert_eq!(store.stats().indexed, 200);
    drop(store);
    // The checkpoint moved with them: a new handle has nothing to replay.
    let reopened = Store::open(config);
    reopened.flush(FLUSH).unwrap();
    assert_eq!(reopened.stats().replayed, 0);
}

#[test]
fn dropping_the_last_handle_makes_everything_durable() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let copy = store.clone();
    for n in 0..500 {
        copy.record(run(n));
    }
    drop(copy);
    drop(store);
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        500
    );
    assert_eq!(logged_ids(dir.path()).len(), 500);
}

#[test]
fn the_log_rebuilds_a_lost_index_and_torn_lines_are_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    for n in 0..300 {
        store.record(run(n));
    }
    store.record_spans(lookout_export::testing::recent_agent_trace());
    store.flush(FLUSH).unwrap();
    drop(store);
    // The index is gone; a writer died half-way through a line.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", config.db_path.display()));
    }
    let day = std::fs::read_dir(dir.path().join("raw"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .unwrap();
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&day)
        .unwrap()
        .write_all(b"{\"event_id\":\"torn\",\"kind\":\"run\",\"bo")
        .unwrap();

    let store = Store::open(config.clone());
    store.flush(FLUSH).unwrap();
    let stats = store.stats();
    assert_eq!(stats.replayed, 303);
    assert_eq!(stats.torn_lines, 1);
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        300
    );
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_spans"),
        3
    );
    let aside = dir.path().join("raw/torn").join(format!(
        "{}.torn",
        day.file_name().unwrap().to_str().unwrap()
    ));
    assert!(
        std::fs::read_to_string(aside)
            .unwrap()
            .contains("\"event_id\":\"torn\"")
    );
    let logged = logged_ids(dir.path());
    assert_eq!(logged.len(), 303, "the log holds whole lines only");
}

#[test]
fn an_older_database_is_migrated_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    std::fs::create_dir_all(config.db_path.parent().unwrap()).unwrap();
    {
        // A file as version 1 of the schema left it, with a span in it.
        let old = Connection::open(&config.db_path).unwrap();
        old.execute_batch(include_str!("../src/schema/001_tables.sql"))
            .unwrap();
        old.execute_batch("PRAGMA user_version = 1").unwrap();
        old.execute(
            "INSERT INTO telemetry_spans (trace_id, span_id, name, kind, start_time_unix_nano,
               end_time_unix_nano, duration_ns, status_code, event_id)
             VALUES ('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'invoke_agent old',
               'internal', ?1, ?1 + 1000, 1000, 'ok', 'x')",
            [unix_nanos(SystemTime::now())],
        )
        .unwrap();
        // Metric points as versions 1 to 3 kept them: a row of telemetry_metrics, and a
        // metric_point record.
        let recent = unix_nanos(SystemTime::now());
        old.execute(
            "INSERT INTO telemetry_metrics (event_id, name, kind, labels, time_unix_nano, value)
             VALUES ('m1', 'queue_depth', 'gauge', '{\"priority\":\"high\"}', ?1, 4.0)",
            [recent],
        )
        .unwrap();
        old.execute(
            "INSERT INTO telemetry_records (event_id, kind, time_unix_nano, body)
             VALUES ('m2', 'metric_point', ?1 + 1000,
                     '{\"name\":\"queue_depth\",\"labels\":{\"priority\":\"high\"},\"value\":6}')",
            [recent],
        )
        .unwrap();
    }
    let store = Store::open(config.clone());
    store.flush(FLUSH).unwrap();
    let conn = Connection::open(&config.db_path).unwrap();
    let points: Vec<(i64, f64)> = conn
        .prepare(
            "SELECT time_unix_nano - (SELECT MIN(time_unix_nano) FROM telemetry_points), value
             FROM telemetry_metrics
             WHERE name = 'queue_depth' AND json_extract(labels, '$.priority') = 'high'
             ORDER BY time_unix_nano",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        points,
        [(0, 4.0), (1000, 6.0)],
        "both kinds of old point, one series"
    );
    let rolled: (i64, f64, f64) = conn
        .query_row(
            "SELECT SUM(count), SUM(sum), MAX(max) FROM telemetry_aggregates
             WHERE name = 'queue_depth' AND interval_seconds = 60",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(rolled, (2, 10.0, 6.0), "migration 5 rolls up the points");
    assert_eq!(
        count(
            &config.db_path,
            "SELECT COUNT(*) FROM telemetry_records WHERE kind = 'metric_point'"
        ),
        0,
        "as a rebuild from the log would hold it"
    );
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, lookout_store::SCHEMA_VERSION);
    let root: String = conn
        .query_row("SELECT root_name FROM v_trace_summary", [], |r| r.get(0))
        .unwrap();
    assert_eq!(root, "invoke_agent old");
}

#[test]
fn retention_removes_old_rows_and_day_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let day = Duration::from_secs(86_400);
    let now = SystemTime::now();
    for (age, kind) in [
        (1, RecordKind::Run),
        (8, RecordKind::Run),
        (8, RecordKind::MetricPoint),
        (31, RecordKind::MetricPoint),
        (91, RecordKind::MetricPoint),
    ] {
        let mut record = Record::new(kind, json!({"name": "m", "value": age}));
        record.time = now - day * age;
        store.record(record);
    }
    let mut old_span = lookout_export::testing::span(7, 7, "old");
    old_span.start_time = now - day * 8;
    old_span.end_time = old_span.start_time + Duration::from_millis(1);
    let mut new_span = lookout_export::testing::span(8, 8, "new");
    new_span.start_time = now - day;
    new_span.end_time = new_span.start_time + Duration::from_millis(1);
    store.record_spans([old_span, new_span]);
    store.flush(FLUSH).unwrap();
    // A day file from 40 days ago.
    let old_file = dir.path().join("raw").join(format!(
        "events_{}.ndjson",
        lookout_exporter_json::rfc3339(now - day * 40)[..10].replace('-', "")
    ));
    std::fs::write(&old_file, "").unwrap();

    let removed = store.apply_retention().unwrap();
    assert_eq!(removed.spans, 1);
    assert_eq!(removed.records, 1, "records past 7 days");
    assert_eq!(removed.metric_points, 2, "metric points past 30 days");
    assert_eq!(removed.aggregates, 2, "the minute and hour past 90 days");
    assert_eq!(removed.day_files, 1);
    assert!(!old_file.exists());
    let db = &config.db_path;
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_records"), 1);
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_metrics"), 1);
    assert_eq!(
        count(
            db,
            "SELECT SUM(count) FROM telemetry_aggregates WHERE interval_seconds = 60"
        ),
        2,
        "the 31-day-old point lives on in its rollups, the 91-day-old one is gone"
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM telemetry_series"),
        1,
        "a series with rollups left is kept"
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM telemetry_spans WHERE name = 'new'"
        ),
        1
    );
}

#[test]
fn a_corrupt_database_is_set_aside_and_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    for n in 0..50 {
        store.record(run(n));
    }
    store.flush(FLUSH).unwrap();
    drop(store);
    std::fs::write(
        &config.db_path,
        b"this is not a database, it never was one......",
    )
    .unwrap();
    let _ = std::fs::remove_file(format!("{}-wal", config.db_path.display()));

    let store = Store::open(config.clone());
    store.record(run(50));
    store.flush(FLUSH).unwrap();
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        51
    );
    let aside = std::fs::read_dir(config.db_path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(aside, "the corrupt file is kept beside the new one");
}

#[test]
fn a_full_queue_drops_and_counts_and_flush_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path());
    config.queue_capacity = 1;
    let store = Store::open(config);
    for n in 0..10_000 {
        store.record(run(n));
    }
    let stats = store.stats();
    let dropped = stats.dropped(DropReason::QueueFull);
    assert!(dropped > 0, "{stats:?}");
    let flushed = store.flush(FLUSH);
    assert_eq!(
        flushed,
        Err(lookout_store::FlushError::Dropped {
            count: dropped,
            reason: "queue_full"
        })
    );
    assert_eq!(store.stats().logged + dropped, 10_000);
    assert_eq!(store.flush(FLUSH), Ok(()), "reported once");
}

fn unix_nanos(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn span_ids_are_trace_and_span_in_hex() {
    let span = lookout_export::testing::span(0xab, 0xcd, "x");
    assert_eq!(
        lookout_store::span_event_id(&span),
        format!("{}{}", TraceId(0xab), SpanId(0xcd))
    );
}

#[test]
fn a_backup_taken_while_writers_run_is_consistent_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    for n in 0..20_000 {
        store.record(run(n));
    }
    store.flush(FLUSH).unwrap();
    // Another process's worth of writing goes on during the backup.
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (store, writing) = (store.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut n = 20_000;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                store.record(run(n));
                n += 1;
                if n % 500 == 0 {
                    store.flush(FLUSH).unwrap();
                }
            }
            store.flush(FLUSH).unwrap();
            n
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let dest = lookout_store::default_backup_path(&config, SystemTime::now());
    let mut steps = Vec::new();
    let copied =
        lookout_store::backup(&config, &dest, |done, total| steps.push((done, total))).unwrap();
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        steps.len() > 1,
        "progress is reported step by step: {steps:?}"
    );
    assert_eq!(steps.last().map(|s| s.0), Some(copied.pages));
    let in_backup = count(&dest, "SELECT COUNT(*) FROM telemetry_records");
    assert!(
        (20_000..written as i64).contains(&in_backup),
        "a snapshot taken while writing: {in_backup} of {written}"
    );
    let check: String = Connection::open(&dest)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(store);

    // Restore the snapshot: the index goes back to it, and the next open indexes what
    // the log recorded since.
    let restored = lookout_store::restore(&config, &dest, |_, _| {}).unwrap();
    assert_eq!(restored.copied.path, config.db_path);
    assert!(
        restored
            .previous
            .unwrap()
            .path
            .to_string_lossy()
            .contains("before-restore")
    );
    assert_eq!(restored.replayed as i64, written as i64 - in_backup);
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        written as i64,
        "nothing the log holds is lost"
    );

    // A file that is not a sound database is refused, and nothing is replaced.
    let bad = dir.path().join("bad.sqlite");
    std::fs::write(&bad, b"not a database at all, not even close, no").unwrap();
    let refused = lookout_store::restore(&config, &bad, |_, _| {});
    assert!(
        matches!(refused, Err(lookout_store::BackupError::Unsound { .. })),
        "{refused:?}"
    );
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_records"),
        written as i64
    );
}

#[test]
fn traces_are_listed_newest_first_and_filtered() {
    use lookout_store::query::{self, TraceFilter, TraceStatus};
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let now = SystemTime::now();
    // Trace t (t = 1..=6) started t minutes ago; even ones failed; names alternate.
    for t in 1..=6u64 {
        let mut root = lookout_export::testing::span(u128::from(t), t * 10, "");
        root.name = if t % 3 == 0 {
            "invoke_agent planner"
        } else {
            "invoke_agent coder"
        }
        .into();
        root.start_time = now - Duration::from_secs(60 * t);
        root.end_time = root.start_time + Duration::from_millis(100 * t);
        let mut child =
            lookout_export::testing::span(u128::from(t), t * 10 + 1, "execute_tool Bash");
        child.parent_span_id = root.span_id;
        child.start_time = root.start_time + Duration::from_millis(10);
        child.end_time = child.start_time + Duration::from_millis(5);
        if t % 2 == 0 {
            child.status = lookout_export::Status::Error("exit status 1".into());
        }
        store.record_spans([root, child]);
    }
    store.flush(FLUSH).unwrap();
    let conn = lookout_store::open_reader(&config.db_path).unwrap();
    let ids = |filter: TraceFilter| -> Vec<String> {
        query::traces(&conn, &filter)
            .unwrap()
            .into_iter()
            .map(|t| t.trace_id[31..].to_owned())
            .collect()
    };
    assert_eq!(ids(TraceFilter::default()), ["1", "2", "3", "4", "5", "6"]);
    let mut filter = TraceFilter::default();
    filter.limit = 2;
    assert_eq!(ids(filter), ["1", "2"]);
    let mut filter = TraceFilter::default();
    filter.status = Some(TraceStatus::Error);
    assert_eq!(ids(filter), ["2", "4", "6"]);
    let mut filter = TraceFilter::default();
    filter.name = Some("planner".into());
    assert_eq!(ids(filter), ["3", "6"]);
    let mut filter = TraceFilter::default();
    filter.since = Some(now - Duration::from_secs(150));
    assert_eq!(ids(filter), ["1", "2"]);

    let all = query::traces(&conn, &TraceFilter::default()).unwrap();
    let third = &all[2];
    assert_eq!(third.root_name, "invoke_agent planner");
    assert_eq!((third.spans, third.errors), (2, 0));
    assert_eq!(third.duration, Duration::from_millis(300));
    let query::Lookup::Found { trace_id, spans } = query::trace(&conn, &third.trace_id).unwrap()
    else {
        panic!("the full id names one trace");
    };
    assert_eq!(trace_id, third.trace_id);
    assert_eq!(spans.len(), 2);
    assert_eq!(
        spans[1].parent_span_id.as_deref(),
        Some(spans[0].span_id.as_str())
    );
    assert!(matches!(
        query::trace(&conn, &third.trace_id[..20]).unwrap(),
        query::Lookup::Ambiguous(ids) if ids.len() == 2
    ));
    assert_eq!(
        query::trace(&conn, "ffffffffffff").unwrap(),
        query::Lookup::NotFound
    );
}

#[test]
fn bodies_built_on_the_writer_are_stored_and_a_panicking_one_is_a_counted_drop() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let thread = std::thread::current().id();
    store.record_with(RecordKind::Run, move || {
        assert_ne!(std::thread::current().id(), thread, "built on the writer");
        json!({"run_id": "deferred-1", "agent_name": "coder", "status": "running"})
    });
    store.record_with(RecordKind::Run, || panic!("a body that cannot be built"));
    store.record_with(
        RecordKind::Run,
        || json!({"run_id": "deferred-2", "status": "success"}),
    );
    assert_eq!(
        store.flush(FLUSH),
        Err(lookout_store::FlushError::Dropped {
            count: 1,
            reason: DropReason::BodyPanicked.as_str()
        })
    );
    assert_eq!(store.stats().dropped(DropReason::BodyPanicked), 1);
    assert!(store.flush(FLUSH).is_ok(), "the writer goes on");
    let db = dir.path().join("db/telemetry.sqlite");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM agent_runs WHERE run_id LIKE 'deferred-%'"
        ),
        2
    );
    assert_eq!(
        logged_ids(dir.path()).len(),
        2,
        "each with an id of its own"
    );
}

#[test]
fn updating_a_stored_run_leaves_the_report_of_drops_to_the_hosts_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path());
    config.queue_capacity = 1;
    let store = Store::open(config);
    store.record(Record::new(
        RecordKind::Run,
        json!({"run_id": "kept", "status": "success"}),
    ));
    store.sync(FLUSH).unwrap();
    for n in 0..10_000 {
        store.record(run(n));
    }
    let dropped = store.stats().dropped(DropReason::QueueFull);
    assert!(dropped > 0);
    let found = lookout_store::runs::update(&store, "kept", |body| {
        lookout_store::runs::set_commit(body, "abc1234", "ci", None);
    });
    assert_eq!(
        found,
        Ok(true),
        "an unrelated drop is no failure of the update"
    );
    assert!(
        matches!(store.flush(FLUSH), Err(lookout_store::FlushError::Dropped { count, .. }) if count == dropped),
        "the host still hears of every drop"
    );
    let db = dir.path().join("db/telemetry.sqlite");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM agent_runs WHERE run_id = 'kept' AND git_commit_hash = 'abc1234'"
        ),
        1
    );
}

#[test]
fn metric_points_are_stored_by_series_and_rebuilt_from_the_log() {
    use lookout_store::metrics::{PointValue, point_record};
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let first = point_record(
        "queue_depth",
        "gauge",
        &labels(&[("priority", "high"), ("agent", "coder")]),
        PointValue::Number(3.0),
        time,
    );
    store.record(first.clone());
    store.record(first); // the same id: one point
    store.record(point_record(
        "queue_depth",
        "gauge",
        &labels(&[("agent", "coder"), ("priority", "high")]),
        PointValue::Number(5.0),
        time + Duration::from_secs(60),
    ));
    store.record(point_record(
        "deploy_version",
        "value",
        &labels(&[]),
        PointValue::Text("v1.2.3".into()),
        time,
    ));
    // Seed 004 accepts integers and booleans too; a body without a name is no point.
    store.record(Record::new(
        RecordKind::MetricPoint,
        json!({"name": "flag", "value": true}),
    ));
    store.record(Record::new(RecordKind::MetricPoint, json!({"value": 1})));
    // A counter that restarts: 5, 9, then 2 and 4 after a restart from zero.
    for (i, value) in [5.0, 9.0, 2.0, 4.0].into_iter().enumerate() {
        store.record(point_record(
            "requests_total",
            "counter",
            &labels(&[]),
            PointValue::Number(value),
            time + Duration::from_secs(30 * i as u64),
        ));
    }
    store.flush(FLUSH).unwrap();
    drop(store);

    let check =
        |db: &Path| {
            assert_eq!(
                count(db, "SELECT COUNT(*) FROM telemetry_series"),
                4,
                "label order is one series"
            );
            assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_points"), 8);
            let conn = Connection::open(db).unwrap();
            // Rollups: one per minute and one per hour, the repeated point counted once; a
            // counter's increase across its restart as PromQL counts it (5 + 4 + 2 + 2).
            let rollups: Vec<(i64, i64, f64, f64, f64, f64)> = conn
            .prepare(
                "SELECT interval_seconds, count, sum, min, max, increase FROM telemetry_aggregates
                 WHERE name IN ('queue_depth', 'requests_total')
                 ORDER BY name, interval_seconds, bucket_start",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
            assert_eq!(
                rollups,
                [
                    (60, 1, 3.0, 3.0, 3.0, 0.0),
                    (60, 1, 5.0, 5.0, 5.0, 0.0),
                    (3600, 2, 8.0, 3.0, 5.0, 0.0),
                    (60, 2, 14.0, 5.0, 9.0, 9.0),
                    (60, 2, 6.0, 2.0, 4.0, 4.0),
                    (3600, 4, 20.0, 2.0, 9.0, 13.0),
                ]
            );
            let (value, labels): (f64, String) = conn
                .query_row(
                    "SELECT value, labels FROM v_recent_metrics WHERE name = 'queue_depth'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!(
                (value, labels.as_str()),
                (5.0, r#"{"agent":"coder","priority":"high"}"#)
            );
            let text: String = conn
                .query_row(
                    "SELECT text FROM telemetry_metrics WHERE name = 'deploy_version'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(text, "v1.2.3");
        };
    check(&config.db_path);
    // The log is the truth: without the database, the next open rebuilds the points.
    std::fs::remove_file(&config.db_path).unwrap();
    let store = Store::open(config.clone());
    store.flush(FLUSH).unwrap();
    check(&config.db_path);
}

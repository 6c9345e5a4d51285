//! `Store::clear`: a class recorded before the clear leaves the index and the log, stays
//! gone through a rebuild from the log, and nothing another writer appends meanwhile is
//! lost.

use lookout_store::clear::Clear;
use lookout_store::metrics::{PointValue, point_record};
use lookout_store::{Record, RecordKind, Store, StoreConfig};
use rusqlite::Connection;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

const WAIT: Duration = Duration::from_secs(10);

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// The `kind` of every line of the log.
fn logged_kinds(base: &Path) -> Vec<String> {
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(base.join("raw")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                kinds.push(value["kind"].as_str().unwrap().to_owned());
            }
        }
    }
    kinds.sort();
    kinds
}

fn point(value: f64) -> Record {
    point_record(
        "queue_depth",
        "gauge",
        &BTreeMap::new(),
        PointValue::Number(value),
        SystemTime::now(),
    )
}

fn span(n: u64) -> lookout_export::FinishedSpan {
    let mut span = lookout_export::testing::span(n as u128 + 1, n + 1, "tool");
    span.start_time = SystemTime::now() - Duration::from_millis(5);
    span.end_time = SystemTime::now();
    span
}

#[test]
fn a_cleared_class_leaves_index_and_log_and_a_rebuild_keeps_it_gone() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let db = &config.db_path;
    let store = Store::open(config.clone());
    for value in [1.0, 2.0, 3.0] {
        store.record(point(value));
    }
    store.record_spans([span(1), span(2)]);
    store.record(Record::new(
        RecordKind::Run,
        json!({"run_id": "r1", "status": "running"}),
    ));
    store.flush(WAIT).unwrap();

    let cleared = store.clear(Clear::Metrics, WAIT).unwrap();
    assert_eq!((cleared.rows, cleared.lines, cleared.files), (3, 3, 1));
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_points"), 0);
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_rollups"), 0);
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM telemetry_series"),
        1,
        "series stay, for a counter's next increase"
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM telemetry_spans"),
        2,
        "traces stay"
    );
    assert_eq!(logged_kinds(dir.path()), ["clear", "run", "span", "span"]);

    // What comes after the clear is kept, in the index and after a rebuild.
    std::thread::sleep(Duration::from_millis(2));
    store.record(point(9.0));
    store.flush(WAIT).unwrap();
    drop(store);
    std::fs::remove_file(db).unwrap();
    let store = Store::open(config.clone());
    store.flush(WAIT).unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_points"), 1);
    assert_eq!(
        count(
            db,
            "SELECT SUM(count) FROM telemetry_aggregates WHERE interval_seconds = 60"
        ),
        1
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_spans"), 2);

    let cleared = store.clear(Clear::All, WAIT).unwrap();
    assert_eq!(
        cleared.rows,
        1 + 2 + 2,
        "a point, two spans, a run's record and its row"
    );
    for table in ["telemetry_points", "telemetry_spans", "agent_runs"] {
        assert_eq!(
            count(db, &format!("SELECT COUNT(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    assert_eq!(logged_kinds(dir.path()), ["clear", "clear"]);
    drop(store);
    std::fs::remove_file(db).unwrap();
    let store = Store::open(config.clone());
    store.flush(WAIT).unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_spans"), 0);
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM telemetry_records WHERE kind = 'clear'"
        ),
        2
    );
}

#[test]
fn a_line_cleared_from_the_index_but_still_in_the_log_is_not_indexed_again() {
    // The clear's cutoff holds even for lines a rewrite missed (or a process replays
    // from a copy it read before the rewrite): a record older than it is not indexed.
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let mut old = point(5.0);
    old.time = SystemTime::now() - Duration::from_secs(60);
    store.clear(Clear::Metrics, WAIT).unwrap();
    store.record(old);
    store.flush(WAIT).unwrap();
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_points"),
        0
    );
}

#[test]
fn a_writer_appending_during_clears_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    // Two stores on one directory: two writers, as two processes would be.
    let clearing = Store::open(config.clone());
    let appending = Store::open(config.clone());
    let writer = std::thread::spawn(move || {
        for n in 0..2_000 {
            appending.record_spans([span(n)]);
            if n % 100 == 0 {
                appending.record(point(n as f64));
                appending.flush(WAIT).unwrap();
            }
        }
        appending.flush(WAIT).unwrap();
    });
    let mut clears = 0;
    while !writer.is_finished() {
        clearing.clear(Clear::Metrics, WAIT).unwrap();
        clears += 1;
    }
    writer.join().unwrap();
    assert!(clears > 1, "the clears ran while the writer wrote");
    let spans = logged_kinds(dir.path())
        .iter()
        .filter(|k| *k == "span")
        .count();
    assert_eq!(spans, 2_000, "every span appended is in the log");
    assert_eq!(
        count(&config.db_path, "SELECT COUNT(*) FROM telemetry_spans"),
        2_000
    );
}

#[test]
fn a_rewritten_file_keeps_its_checkpoint_so_rollups_count_each_point_once() {
    // A point past retention is gone from the index but its rollups stay and its line
    // stays in today's file. A clear of events rewrites that file; reopening must not
    // replay it from the start (the point would be counted in its rollups again).
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let db = &config.db_path;
    let store = Store::open(config.clone());
    let mut old = point(7.0);
    old.time = SystemTime::now() - Duration::from_secs(31 * 86_400);
    store.record(old);
    store.record(Record::new(
        RecordKind::Run,
        json!({"run_id": "r1", "status": "running"}),
    ));
    store.flush(WAIT).unwrap();
    assert_eq!(store.apply_retention().unwrap().metric_points, 1);
    let rolled = "SELECT SUM(count) FROM telemetry_aggregates WHERE interval_seconds = 60";
    assert_eq!(count(db, rolled), 1);
    assert_eq!(store.clear(Clear::Events, WAIT).unwrap().files, 1);
    drop(store);
    let store = Store::open(config.clone());
    store.flush(WAIT).unwrap();
    assert_eq!(count(db, rolled), 1, "the point is counted once");
    assert_eq!(count(db, "SELECT COUNT(*) FROM telemetry_points"), 0);
}

#[test]
fn a_counter_after_a_clear_counts_from_its_next_point() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path());
    let store = Store::open(config.clone());
    let counter = |value: f64| {
        point_record(
            "requests_total",
            "counter",
            &BTreeMap::new(),
            PointValue::Number(value),
            SystemTime::now(),
        )
    };
    store.record(counter(100.0));
    store.flush(WAIT).unwrap();
    store.clear(Clear::Metrics, WAIT).unwrap();
    std::thread::sleep(Duration::from_millis(2));
    store.record(counter(105.0));
    store.record(counter(110.0));
    store.flush(WAIT).unwrap();
    // 100 is gone: 105 counts nothing (not 105 since a start), 110 counts 5.
    let increase: f64 = Connection::open(&config.db_path)
        .unwrap()
        .query_row(
            "SELECT SUM(increase) FROM telemetry_aggregates WHERE interval_seconds = 3600",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(increase, 5.0);
}

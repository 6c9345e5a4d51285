//! Retention: rows past their kind's age deleted in small batches (so writers wait
//! milliseconds, not seconds), and day files past the log's age removed. Many processes
//! share one directory; the `store_housekeeping` table makes one of them do it at a time.

use crate::config::Retention;
use crate::log;
use rusqlite::{Connection, params};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows deleted per transaction.
const BATCH: i64 = 2_000;
/// How often retention runs.
pub(crate) const EVERY: Duration = Duration::from_secs(3600);

/// What one retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Removed {
    /// Spans (with their events).
    pub spans: u64,
    /// Records of every kind.
    pub records: u64,
    /// Metric points.
    pub metric_points: u64,
    /// Rollups (seed 003's aggregates).
    pub aggregates: u64,
    /// NDJSON day files.
    pub day_files: u64,
}

/// Runs retention if no process ran it within [`EVERY`] (or `force`), as of `now`.
pub(crate) fn retention(
    conn: &Connection,
    raw_dir: &Path,
    retention: &Retention,
    now: SystemTime,
    force: bool,
) -> rusqlite::Result<Option<Removed>> {
    if !claim(conn, "retention", now, force)? {
        return Ok(None);
    }
    let cutoff = |age: Duration| crate::record::nanos(now.checked_sub(age).unwrap_or(UNIX_EPOCH));
    let traces = cutoff(retention.traces);
    let mut removed = Removed {
        spans: delete_batched(
            conn,
            "DELETE FROM telemetry_spans WHERE rowid IN
               (SELECT rowid FROM telemetry_spans WHERE start_time_unix_nano < ?1 LIMIT ?2)",
            traces,
        )?,
        ..Removed::default()
    };
    delete_batched(
        conn,
        "DELETE FROM telemetry_span_events WHERE rowid IN
           (SELECT rowid FROM telemetry_span_events WHERE time_unix_nano < ?1 LIMIT ?2)",
        traces,
    )?;
    let events = cutoff(retention.events);
    removed.records = delete_batched(
        conn,
        "DELETE FROM telemetry_records WHERE rowid IN
           (SELECT rowid FROM telemetry_records WHERE time_unix_nano < ?1 LIMIT ?2)",
        events,
    )?;
    delete_batched(
        conn,
        "DELETE FROM telemetry_exports WHERE rowid IN
           (SELECT rowid FROM telemetry_exports WHERE time_unix_nano < ?1 LIMIT ?2)",
        events,
    )?;
    removed.metric_points = delete_batched(
        conn,
        "DELETE FROM telemetry_points WHERE (series_id, time_unix_nano, event_id) IN
           (SELECT series_id, time_unix_nano, event_id FROM telemetry_points
            WHERE time_unix_nano < ?1 LIMIT ?2)",
        cutoff(retention.metrics),
    )?;
    removed.aggregates = delete_batched(
        conn,
        "DELETE FROM telemetry_rollups WHERE (series_id, width_seconds, start_unix_nano) IN
           (SELECT series_id, width_seconds, start_unix_nano FROM telemetry_rollups
            WHERE start_unix_nano < ?1 LIMIT ?2)",
        cutoff(retention.aggregates),
    )?;
    conn.execute_batch(DELETE_IDLE_SERIES)?;
    let oldest_day = log::day_file_name(now.checked_sub(retention.log()).unwrap_or(UNIX_EPOCH));
    for path in log::day_files(raw_dir).unwrap_or_default() {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name < oldest_day.as_str() && std::fs::remove_file(&path).is_ok() {
            conn.execute("DELETE FROM store_log_checkpoints WHERE file = ?1", [name])?;
            removed.day_files += 1;
        }
    }
    Ok(Some(removed))
}

/// Series with neither points nor rollups left (processes long ended), with their
/// labels: SQL that SQLite and PostgreSQL both run.
pub(crate) const DELETE_IDLE_SERIES: &str = "
    DELETE FROM telemetry_series_labels WHERE series_id NOT IN
        (SELECT series_id FROM telemetry_points UNION SELECT series_id FROM telemetry_rollups);
    DELETE FROM telemetry_series WHERE series_id NOT IN
        (SELECT series_id FROM telemetry_points UNION SELECT series_id FROM telemetry_rollups);";

/// Deletes with `sql` (parameters: cutoff, batch size) until a batch comes back short.
fn delete_batched(conn: &Connection, sql: &str, cutoff: i64) -> rusqlite::Result<u64> {
    let mut total = 0;
    loop {
        let n = conn.execute(sql, params![cutoff, BATCH])? as u64;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        // Let a waiting writer in between batches.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether this process runs `task` now: it did not run within [`EVERY`] anywhere (or
/// `force`); marks it run.
fn claim(conn: &Connection, task: &str, now: SystemTime, force: bool) -> rusqlite::Result<bool> {
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let due_before = now_s - EVERY.as_secs() as i64;
    let claimed = conn.execute(
        "INSERT INTO store_housekeeping (task, last_run) VALUES (?1, ?2)
         ON CONFLICT (task) DO UPDATE SET last_run = excluded.last_run
         WHERE ?3 OR store_housekeeping.last_run <= ?4",
        params![task, now_s, force, due_before],
    )?;
    Ok(claimed > 0)
}

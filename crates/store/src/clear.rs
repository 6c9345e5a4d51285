//! Clearing (seed 003's `/telemetry clear metrics|traces|events|all`): everything of a
//! class recorded before a moment goes, from the index and from the log.
//!
//! The log is the truth, so a clear is first a record in it (a `clear` record naming the
//! class, its time the moment): indexing it deletes the class's rows older than the
//! moment and notes the cutoff in `store_clears`, and nothing older of that class is
//! indexed after it, whatever order a replay or a rebuild meets the lines in. Then the
//! lines it covers leave the day files (each rewritten beside itself and renamed over
//! it, under its lock; appenders that waited on the old file write to the new one), so
//! the disk space comes back and a rebuild never sees them.
//!
//! A span counts as recorded at its end; a metric point, a run and every other record at
//! its time. A record written after a clear with a time before it (a backfill) is
//! cleared too.

use crate::record::{Record, RecordKind, nanos};
use crate::{FlushError, log};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::str::FromStr;
use std::time::Duration;

/// A class of data to clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Clear {
    /// Metric points and their rollups (the series stay for their next points).
    Metrics,
    /// Spans and their events.
    Traces,
    /// Every other record: runs and their events, bridge events, skill entries,
    /// sessions, alerts, export operations.
    Events,
    /// All of it.
    All,
}

impl Clear {
    /// `metrics`, `traces`, `events` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Clear::Metrics => "metrics",
            Clear::Traces => "traces",
            Clear::Events => "events",
            Clear::All => "all",
        }
    }

    /// The classes it covers (`all` is the three).
    fn classes(self) -> &'static [Clear] {
        match self {
            Clear::Metrics => &[Clear::Metrics],
            Clear::Traces => &[Clear::Traces],
            Clear::Events => &[Clear::Events],
            Clear::All => &[Clear::Metrics, Clear::Traces, Clear::Events],
        }
    }

    /// The class a log line of `kind` belongs to (none for clears themselves).
    pub(crate) fn of_kind(kind: &str) -> Option<Clear> {
        match kind {
            crate::record::SPAN_KIND => Some(Clear::Traces),
            "metric_point" => Some(Clear::Metrics),
            "clear" => None,
            _ => Some(Clear::Events),
        }
    }
}

impl FromStr for Clear {
    type Err = String;

    fn from_str(text: &str) -> Result<Clear, String> {
        [Clear::Metrics, Clear::Traces, Clear::Events, Clear::All]
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not metrics, traces, events or all"))
    }
}

/// The cutoffs in force: per class, nothing recorded before it is kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cutoffs {
    metrics: i64,
    traces: i64,
    events: i64,
}

impl Cutoffs {
    /// No cutoff.
    fn none() -> Cutoffs {
        Cutoffs {
            metrics: i64::MIN,
            traces: i64::MIN,
            events: i64::MIN,
        }
    }

    /// The cutoffs stored in the index.
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<Cutoffs> {
        let mut cutoffs = Cutoffs::none();
        let mut statement =
            conn.prepare_cached("SELECT class, MAX(before) FROM store_clears GROUP BY class")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let class: String = row.get(0)?;
            if let Ok(class) = class.parse() {
                cutoffs.raise(class, row.get(1)?);
            }
        }
        Ok(cutoffs)
    }

    fn raise(&mut self, class: Clear, before: i64) {
        for class in class.classes() {
            let cutoff = match class {
                Clear::Metrics => &mut self.metrics,
                Clear::Traces => &mut self.traces,
                _ => &mut self.events,
            };
            *cutoff = (*cutoff).max(before);
        }
    }

    /// Whether a line of `kind` recorded at `time` is cleared.
    pub(crate) fn covers(&self, kind: &str, time: i64) -> bool {
        match Clear::of_kind(kind) {
            Some(Clear::Metrics) => time < self.metrics,
            Some(Clear::Traces) => time < self.traces,
            Some(_) => time < self.events,
            None => false,
        }
    }
}

/// What a clear removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cleared {
    /// Rows of the index (spans, points, records, runs, ...).
    pub rows: u64,
    /// Lines of the log.
    pub lines: u64,
    /// Day files rewritten.
    pub files: u64,
}

/// Applies clear record `what` at `before` (Unix nanoseconds) to the index: the cutoff
/// noted, the class's older rows deleted.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    what: Clear,
    before: i64,
    cutoffs: &mut Cutoffs,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO store_clears (class, before) VALUES (?1, ?2)
         ON CONFLICT (class) DO UPDATE SET before = MAX(before, excluded.before)",
        params![what.as_str(), before],
    )?;
    cutoffs.raise(what, before);
    for class in what.classes() {
        for (table, older) in rows_of(*class) {
            tx.execute(&format!("DELETE FROM {table} WHERE {older}"), [before])?;
        }
        match class {
            Clear::Metrics => {
                let hour = crate::rollups::bucket_start(before, crate::rollups::WIDTHS[1]);
                tx.execute(
                    "DELETE FROM telemetry_rollups WHERE start_unix_nano < ?1",
                    [hour],
                )?;
                // The hour the cutoff falls in, from the points after it.
                crate::rollups::rebuild_hour(tx, hour)?;
                // The series stay (retention removes them once idle): a counter's next
                // point then counts from its own value, not from zero.
            }
            Clear::Traces => {
                tx.execute(
                    "DELETE FROM telemetry_span_events WHERE NOT EXISTS
                       (SELECT 1 FROM telemetry_spans s WHERE s.trace_id =
                        telemetry_span_events.trace_id AND s.span_id = telemetry_span_events.span_id)",
                    [],
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The tables a class's rows are in, with the condition (parameter: the cutoff) that
/// picks those older than a clear.
fn rows_of(class: Clear) -> &'static [(&'static str, &'static str)] {
    match class {
        Clear::Metrics => &[("telemetry_points", "time_unix_nano < ?1")],
        Clear::Traces => &[("telemetry_spans", "end_time_unix_nano < ?1")],
        _ => &[
            (
                "telemetry_records",
                "time_unix_nano < ?1 AND kind != 'clear'",
            ),
            ("agent_runs", "updated_unix_nano < ?1"),
            ("agent_run_events", "time_unix_nano < ?1"),
            ("telemetry_exports", "time_unix_nano < ?1"),
        ],
    }
}

/// How many rows clearing `what` before `before` deletes, as [`apply`] deletes them.
fn covered(conn: &Connection, what: Clear, before: i64) -> rusqlite::Result<u64> {
    let mut rows = 0;
    for class in what.classes() {
        for (table, older) in rows_of(*class) {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {older}");
            rows += conn.query_row(&sql, [before], |r| r.get::<_, i64>(0))? as u64;
        }
    }
    Ok(rows)
}

/// The class and time of a log line, read without building its body.
pub(crate) fn line_class(line: &[u8]) -> Option<(String, i64)> {
    #[derive(serde::Deserialize)]
    struct Head {
        kind: String,
        time_unix_nano: String,
    }
    let head: Head = serde_json::from_slice(line).ok()?;
    Some((head.kind, head.time_unix_nano.parse().ok()?))
}

/// Why a clear did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClearError {
    /// The index could not be written.
    #[error("cannot clear the index: {0}")]
    Index(#[from] rusqlite::Error),
    /// The clear record did not reach the log.
    #[error("cannot log the clear: {0}")]
    Log(#[from] FlushError),
    /// A day file could not be rewritten.
    #[error("cannot rewrite the log: {0}")]
    Rewrite(#[from] std::io::Error),
}

/// Clears `what` recorded before now in the store whose index `conn` writes and whose log
/// is in `raw_dir`: the clear record made durable in the log first, through
/// `record_durable` (written even when the store refuses records for space; from then on
/// a rebuild clears too, and nothing is changed if it fails), then the index's rows (the
/// cutoff noted so that nothing older comes back; the writer does the same when it
/// indexes the record), then the covered lines removed from the day files. The rows
/// counted are those the clear covered when it began.
pub(crate) fn clear(
    mut conn: Connection,
    raw_dir: &std::path::Path,
    what: Clear,
    record_durable: impl FnOnce(Record, Duration) -> Result<(), FlushError>,
    timeout: Duration,
) -> Result<Cleared, ClearError> {
    let record = Record::new(
        RecordKind::Clear,
        serde_json::json!({ "clear": what.as_str() }),
    );
    let before = nanos(record.time);
    let rows = covered(&conn, what, before)?;
    record_durable(record, timeout)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut cutoffs = Cutoffs::load(&tx)?;
    apply(&tx, what, before, &mut cutoffs)?;
    tx.commit()?;
    // Only this clear's lines: the log keeps the rest for as long as it keeps lines.
    let mut this = Cutoffs::none();
    this.raise(what, before);
    let rewritten = log::remove_lines(
        raw_dir,
        |line| line_class(line).is_some_and(|(kind, time)| this.covers(&kind, time)),
        // A rewritten file's checkpoint moves to the same line in the new file (a
        // replay from a stale offset would re-insert points whose rollups outlive them).
        |file, map| {
            let moved = conn
                .query_row(
                    "SELECT offset FROM store_log_checkpoints WHERE file = ?1",
                    [file],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .and_then(|offset| match offset {
                    Some(offset) => conn
                        .execute(
                            "UPDATE store_log_checkpoints SET offset = ?2 WHERE file = ?1",
                            params![file, map(offset as u64) as i64],
                        )
                        .map(drop),
                    None => Ok(()),
                });
            moved.map_err(std::io::Error::other)
        },
    )?;
    Ok(Cleared {
        rows,
        lines: rewritten.iter().map(|(_, n)| n).sum(),
        files: rewritten.len() as u64,
    })
}

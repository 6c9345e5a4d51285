//! What the store holds, at a glance: counts by table and kind, its time span, and the
//! latest failed spans (for `lookout status`).

use rusqlite::{Connection, OptionalExtension};

/// Counts and times of a store's index.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Overview {
    /// The schema version of the file.
    pub schema_version: u32,
    /// Spans stored.
    pub spans: u64,
    /// Distinct traces.
    pub traces: u64,
    /// Spans that ended with an error status.
    pub error_spans: u64,
    /// Records by kind (`run`, `run_event`, ...), most first.
    pub records: Vec<(String, u64)>,
    /// Runs by status, most first.
    pub runs: Vec<(String, u64)>,
    /// Metric series.
    pub series: u64,
    /// Metric points.
    pub points: u64,
    /// The oldest and newest span start, Unix nanoseconds.
    pub span_times: Option<(i64, i64)>,
    /// The latest failed spans: name, status message, end (Unix ns), trace id.
    pub recent_errors: Vec<(String, Option<String>, i64, String)>,
}

/// How many failed spans [`overview`] lists.
const RECENT_ERRORS: usize = 5;

/// The overview of the store behind `conn`.
pub fn overview(conn: &Connection) -> rusqlite::Result<Overview> {
    let count = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
    };
    let grouped = |sql: &str| -> rusqlite::Result<Vec<(String, u64)>> {
        conn.prepare(sql)?
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
            .collect()
    };
    let span_times = conn
        .query_row(
            "SELECT MIN(start_time_unix_nano), MAX(start_time_unix_nano) FROM telemetry_spans",
            [],
            |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
        )
        .optional()?
        .flatten();
    let recent_errors = conn
        .prepare(
            "SELECT name, status_message, end_time_unix_nano, trace_id FROM telemetry_spans
             WHERE status_code = 'error' ORDER BY end_time_unix_nano DESC LIMIT ?1",
        )?
        .query_map([RECENT_ERRORS as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Overview {
        schema_version: conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        spans: count("SELECT COUNT(*) FROM telemetry_spans")?,
        traces: count("SELECT COUNT(DISTINCT trace_id) FROM telemetry_spans")?,
        error_spans: count("SELECT COUNT(*) FROM telemetry_spans WHERE status_code = 'error'")?,
        records: grouped(
            "SELECT kind, COUNT(*) AS n FROM telemetry_records GROUP BY kind ORDER BY n DESC, kind",
        )?,
        runs: grouped(
            "SELECT COALESCE(status, 'unknown'), COUNT(*) AS n FROM agent_runs
             GROUP BY 1 ORDER BY n DESC, 1",
        )?,
        series: count("SELECT COUNT(*) FROM telemetry_series")?,
        points: count("SELECT COUNT(*) FROM telemetry_points")?,
        span_times,
        recent_errors,
    })
}

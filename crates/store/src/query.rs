//! Reading the index: recent traces and the spans of one trace, for `lookout traces`.

use rusqlite::{Connection, params};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One trace in a list: its root, service, start, duration, spans and errors.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TraceSummary {
    /// 32 hex digits.
    pub trace_id: String,
    /// The root span's name (the span without a local parent).
    pub root_name: String,
    /// The service of its first span.
    pub service_name: Option<String>,
    /// When its first span started.
    pub start: SystemTime,
    /// From the first start to the last end.
    pub duration: Duration,
    /// Spans stored.
    pub spans: u64,
    /// Spans that ended with an error.
    pub errors: u64,
    /// Processes (services) it crossed.
    pub services: u64,
}

/// Whether a trace had errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceStatus {
    /// No span ended with an error.
    Ok,
    /// At least one did.
    Error,
}

/// Which traces to list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceFilter {
    /// Started at or after.
    pub since: Option<SystemTime>,
    /// Root name contains this.
    pub name: Option<String>,
    /// With or without errors.
    pub status: Option<TraceStatus>,
    /// At most this many, newest first (default 20).
    pub limit: usize,
}

impl Default for TraceFilter {
    fn default() -> Self {
        TraceFilter {
            since: None,
            name: None,
            status: None,
            limit: 20,
        }
    }
}

/// A stored span.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredSpan {
    /// Its id, 16 hex digits.
    pub span_id: String,
    /// Its parent's id, if it has one.
    pub parent_span_id: Option<String>,
    /// Whether the parent is in another process.
    pub parent_is_remote: bool,
    /// Name.
    pub name: String,
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    pub kind: String,
    /// Start.
    pub start: SystemTime,
    /// End.
    pub end: SystemTime,
    /// `unset`, `ok` or `error`.
    pub status_code: String,
    /// The error's description.
    pub status_message: Option<String>,
    /// The process's `service.name`.
    pub service_name: Option<String>,
    /// Attributes, as a JSON object.
    pub attributes: Value,
    /// Events: name, time and attributes.
    pub events: Vec<(String, SystemTime, Value)>,
}

impl StoredSpan {
    /// A span with only its tree and times set, for tests of what reads the store.
    #[doc(hidden)]
    pub fn for_tests(
        span_id: &str,
        parent_span_id: Option<&str>,
        name: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> StoredSpan {
        StoredSpan {
            span_id: span_id.to_owned(),
            parent_span_id: parent_span_id.map(str::to_owned),
            parent_is_remote: false,
            name: name.to_owned(),
            kind: "internal".into(),
            start,
            end,
            status_code: "unset".into(),
            status_message: None,
            service_name: None,
            attributes: Value::Null,
            events: Vec::new(),
        }
    }
}

fn time(nanos: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos.max(0) as u64)
}

fn nanos(time: SystemTime) -> i64 {
    crate::record::nanos(time)
}

/// The traces `filter` selects, newest first. Walks spans from the newest (the start-time
/// index) and summarises each trace met once, until `limit` traces pass the filter: the
/// cost follows the traces shown, not the traces stored.
pub fn traces(conn: &Connection, filter: &TraceFilter) -> rusqlite::Result<Vec<TraceSummary>> {
    let mut newest = conn.prepare_cached(
        "SELECT trace_id FROM telemetry_spans WHERE start_time_unix_nano >= ?1
         ORDER BY start_time_unix_nano DESC",
    )?;
    let mut summary = conn.prepare_cached(
        "SELECT trace_id, root_name, service_name, start_time_unix_nano, duration_ns, spans,
                errors, services
         FROM v_trace_summary WHERE trace_id = ?1",
    )?;
    let since = filter.since.map_or(0, nanos);
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    let mut ids = newest.query([since])?;
    while let Some(row) = ids.next()? {
        if found.len() >= filter.limit {
            break;
        }
        let trace_id: String = row.get(0)?;
        if !seen.insert(trace_id.clone()) {
            continue;
        }
        let trace = summary.query_row([&trace_id], |row| {
            Ok(TraceSummary {
                trace_id: row.get(0)?,
                root_name: row.get(1)?,
                service_name: row.get(2)?,
                start: time(row.get(3)?),
                duration: Duration::from_nanos(row.get::<_, i64>(4)?.max(0) as u64),
                spans: row.get::<_, i64>(5)? as u64,
                errors: row.get::<_, i64>(6)? as u64,
                services: row.get::<_, i64>(7)? as u64,
            })
        })?;
        let named = filter
            .name
            .as_deref()
            .is_none_or(|name| trace.root_name.contains(name));
        let status = match filter.status {
            None => true,
            Some(TraceStatus::Error) => trace.errors > 0,
            Some(TraceStatus::Ok) => trace.errors == 0,
        };
        if named && status && trace.start >= filter.since.unwrap_or(UNIX_EPOCH) {
            found.push(trace);
        }
    }
    found.sort_by_key(|t| std::cmp::Reverse(t.start));
    Ok(found)
}

/// What a trace id, or a prefix of one, names.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Lookup {
    /// One trace: its full id and its spans by start time.
    Found {
        /// 32 hex digits.
        trace_id: String,
        /// Its spans.
        spans: Vec<StoredSpan>,
    },
    /// No stored trace starts so.
    NotFound,
    /// More than one does (two of them given).
    Ambiguous(Vec<String>),
}

/// The trace `id` (or a prefix of its hex digits) names, with its spans.
pub fn trace(conn: &Connection, id: &str) -> rusqlite::Result<Lookup> {
    let prefix = id.to_ascii_lowercase();
    let mut matching = conn.prepare_cached(
        "SELECT DISTINCT trace_id FROM telemetry_spans
         WHERE trace_id >= ?1 AND trace_id < ?1 || 'g' LIMIT 2",
    )?;
    let ids: Vec<String> = matching
        .query_map([&prefix], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let full = match ids.as_slice() {
        [] => return Ok(Lookup::NotFound),
        [one] => one.clone(),
        _ => return Ok(Lookup::Ambiguous(ids)),
    };
    let mut spans = conn.prepare_cached(
        "SELECT span_id, parent_span_id, parent_is_remote, name, kind, start_time_unix_nano,
                end_time_unix_nano, status_code, status_message, service_name, attributes
         FROM telemetry_spans WHERE trace_id = ?1 ORDER BY start_time_unix_nano, span_id",
    )?;
    let mut events = conn.prepare_cached(
        "SELECT name, time_unix_nano, attributes FROM telemetry_span_events
         WHERE trace_id = ?1 AND span_id = ?2 ORDER BY seq",
    )?;
    let mut out: Vec<StoredSpan> = spans
        .query_map([&full], |row| {
            Ok(StoredSpan {
                span_id: row.get(0)?,
                parent_span_id: row.get(1)?,
                parent_is_remote: row.get(2)?,
                name: row.get(3)?,
                kind: row.get(4)?,
                start: time(row.get(5)?),
                end: time(row.get(6)?),
                status_code: row.get(7)?,
                status_message: row.get(8)?,
                service_name: row.get(9)?,
                attributes: serde_json::from_str(&row.get::<_, String>(10)?).unwrap_or_default(),
                events: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for span in &mut out {
        span.events = events
            .query_map(params![full, span.span_id], |row| {
                Ok((
                    row.get(0)?,
                    time(row.get(1)?),
                    serde_json::from_str(&row.get::<_, String>(2)?).unwrap_or_default(),
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(Lookup::Found {
        trace_id: full,
        spans: out,
    })
}

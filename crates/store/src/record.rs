//! What the store holds: records of a kind with an id, and spans; one NDJSON line each.

use lookout_export::FinishedSpan;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The kinds of record (seed objects); each has its retention and, later, its views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A run (seed 002).
    Run,
    /// An event of a run.
    RunEvent,
    /// A skill execution entry (seed 000).
    SkillEntry,
    /// A session (seed 001).
    Session,
    /// An event of a session.
    SessionEvent,
    /// A bridge event (seed 004).
    BridgeEvent,
    /// A metric point (seed 004's `record_metric`, metric snapshots).
    MetricPoint,
    /// An alert that fired.
    Alert,
    /// An export operation (seed 003's `telemetry_exports`).
    ExportOperation,
    /// A clear: a class of data recorded before its time removed (`lookout clear`).
    Clear,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 10] = [
        RecordKind::Run,
        RecordKind::RunEvent,
        RecordKind::SkillEntry,
        RecordKind::Session,
        RecordKind::SessionEvent,
        RecordKind::BridgeEvent,
        RecordKind::MetricPoint,
        RecordKind::Alert,
        RecordKind::ExportOperation,
        RecordKind::Clear,
    ];

    /// The name in the log and the `kind` column: `run`, `run_event`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Run => "run",
            RecordKind::RunEvent => "run_event",
            RecordKind::SkillEntry => "skill_entry",
            RecordKind::Session => "session",
            RecordKind::SessionEvent => "session_event",
            RecordKind::BridgeEvent => "bridge_event",
            RecordKind::MetricPoint => "metric_point",
            RecordKind::Alert => "alert",
            RecordKind::ExportOperation => "export_operation",
            RecordKind::Clear => "clear",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A timestamped row with an id: writing the same id twice stores it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The idempotency key (a UUIDv7 unless the caller has its own).
    pub event_id: String,
    /// What it is.
    pub kind: RecordKind,
    /// When it happened.
    pub time: SystemTime,
    /// Its fields, as JSON.
    pub body: Value,
}

impl Record {
    /// A record of `kind` now, with a new id.
    pub fn new(kind: RecordKind, body: Value) -> Self {
        Record {
            event_id: new_event_id(),
            kind,
            time: SystemTime::now(),
            body,
        }
    }
}

/// A new id: a UUIDv7, so ids sort by creation time.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The id a span is stored under: its trace and span ids in hex, so the same span sent
/// twice (an OTLP retry, a replay) is stored once.
pub fn span_event_id(span: &FinishedSpan) -> String {
    format!("{}{}", span.trace_id, span.span_id)
}

/// A record whose body the writer thread builds, with its id: the recording thread
/// pays for neither ([`crate::Store::record_with`]).
pub(crate) struct Deferred {
    pub(crate) kind: RecordKind,
    pub(crate) time: SystemTime,
    pub(crate) build: Box<dyn FnOnce() -> Value + Send>,
}

impl Deferred {
    /// The record, built; `None` if building panicked.
    pub(crate) fn into_record(self) -> Option<Record> {
        let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(self.build)).ok()?;
        Some(Record {
            event_id: new_event_id(),
            kind: self.kind,
            time: self.time,
            body,
        })
    }
}

/// What the writer stores: one line of the log, one or more rows of the index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    Span(Box<FinishedSpan>),
    Record(Record),
}

pub(crate) const SPAN_KIND: &str = "span";

/// `time` as Unix nanoseconds, as the store's columns hold it (0 before the epoch, the
/// largest `i64` past 2262).
pub fn unix_nanos(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub(crate) use unix_nanos as nanos;

/// Unix nanoseconds (a column's value) as RFC 3339 in UTC, milliseconds shown.
pub fn rfc3339_of_nanos(nanos: i64) -> String {
    lookout_exporter_json::rfc3339(UNIX_EPOCH + Duration::from_nanos(nanos.max(0) as u64))
}

fn time_from(value: &Value) -> Option<SystemTime> {
    let nanos: u64 = value.as_str()?.parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

impl Entry {
    /// Appends its log line (JSON and `\n`) to `out`:
    /// `{"event_id":…,"kind":…,"time_unix_nano":"…","body":{…}}`; a span's body is the
    /// span JSON of `lookout-exporter-json`.
    pub(crate) fn write_line(&self, out: &mut Vec<u8>) {
        let (event_id, kind, time, body) = match self {
            Entry::Span(span) => (
                span_event_id(span),
                SPAN_KIND,
                span.end_time,
                lookout_exporter_json::span_to_json(span),
            ),
            Entry::Record(record) => (
                record.event_id.clone(),
                record.kind.as_str(),
                record.time,
                record.body.clone(),
            ),
        };
        let line = json!({
            "event_id": event_id,
            "kind": kind,
            "time_unix_nano": nanos(time).to_string(),
            "body": body,
        });
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &line);
        out.push(b'\n');
    }

    /// Reads a line [`Entry::write_line`] wrote; `None` if it is not one.
    pub(crate) fn from_line(line: &[u8]) -> Option<Entry> {
        let value: Value = serde_json::from_slice(line).ok()?;
        let kind = value["kind"].as_str()?;
        if kind == SPAN_KIND {
            let span = lookout_exporter_json::span_from_json(&value["body"])?;
            return Some(Entry::Span(Box::new(span)));
        }
        Some(Entry::Record(Record {
            event_id: value["event_id"].as_str()?.to_owned(),
            kind: RecordKind::parse(kind)?,
            time: time_from(&value["time_unix_nano"])?,
            body: value["body"].clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let mut out = Vec::new();
        let entries: Vec<Entry> = lookout_export::testing::agent_trace()
            .into_iter()
            .map(|s| Entry::Span(Box::new(s)))
            .chain([Entry::Record(Record::new(
                RecordKind::Run,
                json!({"agent_name": "coder", "items": 3}),
            ))])
            .collect();
        for entry in &entries {
            entry.write_line(&mut out);
        }
        let back: Vec<Entry> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| Entry::from_line(l).unwrap())
            .collect();
        // Record times keep nanoseconds; spans keep every field.
        assert_eq!(back, entries);
        assert!(Entry::from_line(b"{\"kind\":\"run\"").is_none());
        assert_eq!(
            RecordKind::parse("skill_entry"),
            Some(RecordKind::SkillEntry)
        );
    }
}

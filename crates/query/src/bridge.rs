//! Seed 004's bridge records: `record_event`, `record_metric`, `get_metrics` and
//! `health_check`, with its response shapes and error codes, on the store (events are
//! `bridge_event` records, metrics are metric points) and the query engine.
//!
//! A success is sent only once the record is durable: each call waits for the store
//! (one sync, a few milliseconds), and a record the store could not write (a full or
//! read-only disk) is a `STORAGE_FAILURE`, not a success.

use crate::functions::Aggregation;
use lookout_store::metrics::{PointValue, point_record};
use lookout_store::rusqlite::{Connection, OptionalExtension};
use lookout_store::{Record, RecordKind, Store};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The fields an event may have.
const EVENT_FIELDS: [&str; 5] = ["event_type", "source", "data", "timestamp", "event_id"];
/// How long a call waits for the store.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// Seed 004's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The event does not validate (every problem is listed).
    InvalidEvent,
    /// The same event came more often than the loop limit allows.
    LoopDetected,
    /// The store did not take the record.
    StorageFailure,
    /// Not MEAN, SUM, MIN, MAX or COUNT.
    InvalidAggregation,
    /// The store could not be read.
    RetrievalFailure,
}

/// A refused call, in seed 004's shape: `{"status": "error", "error": {code, message, details}}`.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct BridgeError {
    /// Which failure.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// For programs (`validation_errors`, `received_event`, ...).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl ErrorCode {
    /// The code as seed 004 writes it (`INVALID_EVENT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidEvent => "INVALID_EVENT",
            ErrorCode::LoopDetected => "LOOP_DETECTED",
            ErrorCode::StorageFailure => "STORAGE_FAILURE",
            ErrorCode::InvalidAggregation => "INVALID_AGGREGATION",
            ErrorCode::RetrievalFailure => "RETRIEVAL_FAILURE",
        }
    }
}

impl BridgeError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        BridgeError {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// The response body.
    pub fn to_json(&self) -> Value {
        json!({"status": "error", "error": self})
    }
}

/// A recorded event or metric: `{"status": "success", "event_id", "timestamp"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// Always `success`.
    pub status: &'static str,
    /// The record's id.
    pub event_id: String,
    /// When it happened (RFC 3339).
    pub timestamp: String,
}

/// One metric of a `get_metrics` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregatedMetric {
    /// The aggregated value; `null` when there are no samples.
    pub value: Option<f64>,
    /// The aggregation asked for.
    pub aggregation: String,
    /// How many points it covers.
    pub sample_count: usize,
    /// The range asked for, else the points' first and last times.
    pub time_range: TimeRange,
}

/// A time range in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// The start.
    pub start: String,
    /// The end.
    pub end: String,
}

/// `get_metrics`'s answer: `{"status": "success", "metrics": {name: ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Always `success`.
    pub status: &'static str,
    /// By metric name.
    pub metrics: BTreeMap<String, AggregatedMetric>,
}

/// Limits of the bridge.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BridgeConfig {
    /// The same event more than this many times within [`BridgeConfig::loop_window`] is
    /// refused with `LOOP_DETECTED`.
    pub loop_limit: usize,
    /// The window of loop detection.
    pub loop_window: Duration,
    /// How long events are kept (reported by `health_check`).
    pub event_retention_days: u32,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            loop_limit: 10,
            loop_window: Duration::from_secs(1),
            event_retention_days: 7,
        }
    }
}

/// Seed 004's telemetry module over a store.
#[derive(Debug)]
pub struct Bridge {
    store: Store,
    config: BridgeConfig,
    started: Instant,
    events: AtomicU64,
    metrics: AtomicU64,
    loops_refused: AtomicU64,
    /// Whether the last record the bridge wrote failed to reach the log.
    last_write_failed: AtomicBool,
    /// Recent arrivals of each event (by a hash of type, source and data).
    recent: Mutex<HashMap<u64, VecDeque<Instant>>>,
}

impl Bridge {
    /// A bridge recording into `store`.
    pub fn new(store: Store, config: BridgeConfig) -> Bridge {
        Bridge {
            store,
            config,
            started: Instant::now(),
            events: AtomicU64::new(0),
            metrics: AtomicU64::new(0),
            loops_refused: AtomicU64::new(0),
            last_write_failed: AtomicBool::new(false),
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Seed 004's `record_event`: validates (`event_type`, `source` and `data` required;
    /// `timestamp` RFC 3339 and `event_id` optional; nothing else), refuses loops, and
    /// answers once the event is stored. An `event_id` stored already answers as it did
    /// the first time when the event is the same (a retry stores nothing twice), and is
    /// `INVALID_EVENT` when it is another.
    pub fn record_event(&self, event: &Value) -> Result<Recorded, BridgeError> {
        let (mut body, time) = validate(event).map_err(|errors| BridgeError {
            code: ErrorCode::InvalidEvent,
            message: match errors.len() {
                1 => format!("event validation failed: {}", errors[0]),
                n => format!("event validation failed: {n} problems"),
            },
            details: json!({"validation_errors": errors, "received_event": event}),
        })?;
        // A retry (an id stored already, the same event) gets the first answer; an id
        // reused for another event is refused.
        if let Some(id) = body.get("event_id").and_then(Value::as_str)
            && let Some(stored) = self.stored_event(id)?
        {
            let same = ["event_type", "source", "data"]
                .iter()
                .all(|f| body.get(*f).map(canonical) == stored.get(*f).map(canonical));
            if !same {
                let problem = format!("event_id {id:?} was recorded for another event");
                return Err(BridgeError {
                    code: ErrorCode::InvalidEvent,
                    message: format!("event validation failed: {problem}"),
                    details: json!({"validation_errors": [problem], "received_event": event}),
                });
            }
            return Ok(Recorded {
                status: "success",
                event_id: id.to_owned(),
                timestamp: stored["timestamp"].as_str().unwrap_or_default().to_owned(),
            });
        }
        if self.is_loop(&body) {
            self.loops_refused.fetch_add(1, Ordering::Relaxed);
            return Err(BridgeError::new(
                ErrorCode::LoopDetected,
                format!(
                    "the same event came more than {} times within {:?}: it appears to be in a loop",
                    self.config.loop_limit, self.config.loop_window
                ),
            ));
        }
        let event_id = match body.get("event_id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => lookout_store::new_event_id(),
        };
        let timestamp = lookout_exporter_json::rfc3339(time);
        body.insert("event_id".into(), event_id.clone().into());
        body.insert("timestamp".into(), timestamp.clone().into());
        let mut record = Record::new(RecordKind::BridgeEvent, Value::Object(body));
        record.event_id = event_id.clone();
        record.time = time;
        self.store_durably(record)?;
        self.events.fetch_add(1, Ordering::Relaxed);
        Ok(Recorded {
            status: "success",
            event_id,
            timestamp,
        })
    }

    /// Seed 004's `record_metric`: a point of `name` with `context` as its labels, at
    /// `timestamp` (now if `None`); answers once it is stored.
    pub fn record_metric(
        &self,
        name: &str,
        value: PointValue,
        context: Option<&Map<String, Value>>,
        timestamp: Option<SystemTime>,
    ) -> Result<Recorded, BridgeError> {
        if name.trim().is_empty() {
            return Err(BridgeError::new(
                ErrorCode::InvalidEvent,
                "a metric needs a name",
            ));
        }
        if let PointValue::Number(x) = value
            && !x.is_finite()
        {
            return Err(BridgeError::new(
                ErrorCode::InvalidEvent,
                format!("{x} is not a finite number"),
            ));
        }
        let labels = context
            .map(lookout_store::metrics::labels_of)
            .unwrap_or_default();
        let time = timestamp.unwrap_or_else(SystemTime::now);
        let record = point_record(name, "gauge", &labels, value, time);
        let event_id = record.event_id.clone();
        self.store_durably(record)?;
        self.metrics.fetch_add(1, Ordering::Relaxed);
        Ok(Recorded {
            status: "success",
            event_id,
            timestamp: lookout_exporter_json::rfc3339(time),
        })
    }

    /// Seed 004's `get_metrics`: each metric (all when `names` is `None`) over `range`
    /// (all time when `None`) as one value: MEAN, SUM, MIN, MAX or COUNT of its numeric
    /// points across its series.
    pub fn get_metrics(
        &self,
        names: Option<&[&str]>,
        range: Option<(SystemTime, SystemTime)>,
        aggregation: &str,
    ) -> Result<Metrics, BridgeError> {
        let kind = match aggregation {
            "MEAN" => Aggregation::Avg,
            "SUM" => Aggregation::Sum,
            "MIN" => Aggregation::Min,
            "MAX" => Aggregation::Max,
            "COUNT" => Aggregation::Count,
            other => {
                return Err(BridgeError::new(
                    ErrorCode::InvalidAggregation,
                    format!(
                        "Unsupported aggregation method: {other} (use MEAN, SUM, MIN, MAX or COUNT)"
                    ),
                ));
            }
        };
        let failure = |e: lookout_store::rusqlite::Error| {
            BridgeError::new(
                ErrorCode::RetrievalFailure,
                format!("cannot read the store: {e}"),
            )
        };
        // What was acknowledged before is read back (the index takes it after the log).
        let _ = self.store.wait_indexed(STORE_TIMEOUT);
        let conn = lookout_store::open_reader(&self.store.config().db_path).map_err(failure)?;
        let names: Vec<String> = match names {
            Some(names) => names.iter().map(|n| (*n).to_owned()).collect(),
            None => all_names(&conn).map_err(failure)?,
        };
        let (from, until) = range.map_or((i64::MIN, i64::MAX), |(from, until)| {
            (
                lookout_store::unix_nanos(from),
                lookout_store::unix_nanos(until),
            )
        });
        let mut metrics = BTreeMap::new();
        for name in names {
            let query = crate::Query::new(&name, from, until, kind, 1);
            let series = crate::query::points(&conn, &query).map_err(|e| match e {
                crate::QueryError::Store(e) => BridgeError::new(
                    ErrorCode::RetrievalFailure,
                    format!("cannot read the store: {e}"),
                ),
                other => BridgeError::new(ErrorCode::RetrievalFailure, other.to_string()),
            })?;
            let mut values: Vec<f64> = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.value))
                .collect();
            let times = series.iter().flat_map(|s| s.points.iter().map(|p| p.time));
            let (first, last) =
                times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
            let time_range = match range {
                Some((from, until)) => (
                    lookout_exporter_json::rfc3339(from),
                    lookout_exporter_json::rfc3339(until),
                ),
                None if values.is_empty() => (String::new(), String::new()),
                None => (
                    lookout_store::rfc3339_of_nanos(first),
                    lookout_store::rfc3339_of_nanos(last),
                ),
            };
            metrics.insert(
                name,
                AggregatedMetric {
                    sample_count: values.len(),
                    value: kind.apply(&mut values),
                    aggregation: aggregation.to_owned(),
                    time_range: TimeRange {
                        start: time_range.0,
                        end: time_range.1,
                    },
                },
            );
        }
        Ok(Metrics {
            status: "success",
            metrics,
        })
    }

    /// Seed 004's `health_check`: `degraded` while the last record the bridge wrote did
    /// not reach the store's log (no space, no permission, an I/O error), else `healthy`;
    /// version, uptime and counts.
    pub fn health_check(&self) -> Value {
        let degraded = self.last_write_failed.load(Ordering::Relaxed);
        let usage = lookout_store::disk::space(&self.store.config().base_dir)
            .map_or(0.0, |s| s.used_percent());
        json!({
            "status": if degraded { "degraded" } else { "healthy" },
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "stats": {
                "events_recorded": self.events.load(Ordering::Relaxed),
                "metrics_recorded": self.metrics.load(Ordering::Relaxed),
                "loops_refused": self.loops_refused.load(Ordering::Relaxed),
                "data_retention_days": self.config.event_retention_days,
                "storage_usage_percentage": (usage * 10.0).round() / 10.0,
            }
        })
    }

    /// The stored event with id `id`, if the index has one.
    fn stored_event(&self, id: &str) -> Result<Option<Map<String, Value>>, BridgeError> {
        let failure = |e: lookout_store::rusqlite::Error| {
            BridgeError::new(
                ErrorCode::StorageFailure,
                format!("cannot read the store: {e}"),
            )
        };
        let db = &self.store.config().db_path;
        if !db.exists() {
            return Ok(None);
        }
        let _ = self.store.wait_indexed(STORE_TIMEOUT);
        let conn = lookout_store::open_reader(db).map_err(failure)?;
        let body: Option<String> = conn
            .query_row(
                "SELECT body FROM telemetry_records WHERE event_id = ?1 AND kind = 'bridge_event'",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(failure)?;
        Ok(body.and_then(|body| serde_json::from_str(&body).ok()))
    }

    /// Whether `body` arrived more than the loop limit allows within the window
    /// (counting this arrival).
    fn is_loop(&self, body: &Map<String, Value>) -> bool {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for field in ["event_type", "source", "data"] {
            body.get(field).map(canonical).hash(&mut hasher);
        }
        let key = hasher.finish();
        let now = Instant::now();
        let window = self.config.loop_window;
        let mut recent = self.recent.lock();
        if recent.len() > 10_000 {
            recent.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = recent.entry(key).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        times.push_back(now);
        times.len() > self.config.loop_limit
    }

    /// Records `record` and waits until it is in the store's log, synced; a record that
    /// did not reach the log (a full or read-only disk, the size limit) is a
    /// `STORAGE_FAILURE`.
    fn store_durably(&self, record: Record) -> Result<(), BridgeError> {
        let written = self.store.record_durable(record, STORE_TIMEOUT);
        self.last_write_failed
            .store(written.is_err(), Ordering::Relaxed);
        written.map_err(|e| {
            let base = self.store.config().base_dir.display();
            BridgeError::new(
                ErrorCode::StorageFailure,
                format!("the store at {base} did not take the record: {e}"),
            )
        })
    }
}

/// The event's fields as stored and its time, or every reason it is not valid.
fn validate(event: &Value) -> Result<(Map<String, Value>, SystemTime), Vec<String>> {
    let Some(fields) = event.as_object() else {
        return Err(vec!["the event is not a JSON object".into()]);
    };
    let mut errors = Vec::new();
    for name in fields.keys() {
        if !EVENT_FIELDS.contains(&name.as_str()) {
            errors.push(format!(
                "unknown field {name:?} (fields: {})",
                EVENT_FIELDS.join(", ")
            ));
        }
    }
    match fields.get("event_type") {
        None => errors.push("event_type is required".into()),
        Some(Value::String(kind))
            if !kind.is_empty()
                && kind.len() <= 64
                && kind.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') => {}
        Some(other) => errors.push(format!(
            "event_type must be an upper-case name such as COMMAND, OPERATION or METRIC, not {other}"
        )),
    }
    match fields.get("source") {
        None => errors.push("source is required".into()),
        Some(Value::String(source)) if !source.trim().is_empty() && source.len() <= 256 => {}
        Some(other) => errors.push(format!(
            "source must be a non-empty string of at most 256 characters, not {other}"
        )),
    }
    match fields.get("data") {
        None => errors.push("data is required".into()),
        Some(Value::Object(_)) => {}
        Some(other) => errors.push(format!("data must be a JSON object, not {other}")),
    }
    let mut time = SystemTime::now();
    match fields.get("timestamp") {
        None => {}
        Some(Value::String(text)) => {
            match humantime::parse_rfc3339_weak(text.trim_end_matches('Z')) {
                Ok(parsed) => time = parsed,
                Err(_) => errors.push(format!(
                    "timestamp {text:?} is not an ISO 8601 / RFC 3339 time in UTC"
                )),
            }
        }
        Some(other) => errors.push(format!("timestamp must be a string, not {other}")),
    }
    match fields.get("event_id") {
        None => {}
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 128 => {}
        Some(other) => errors.push(format!(
            "event_id must be a string of 1 to 128 characters, not {other}"
        )),
    }
    match errors.is_empty() {
        true => Ok((fields.clone(), time)),
        false => Err(errors),
    }
}

/// `value` as JSON text with every object's keys sorted: the same event whatever order
/// its sender wrote the keys in.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

fn all_names(conn: &Connection) -> lookout_store::rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT DISTINCT name FROM telemetry_series ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect()
}

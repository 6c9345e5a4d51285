//! Seed 001's session schema: `SessionTelemetry` with its `TelemetryEvent`s, the six
//! event types, and the session file (`export_to_file` / `load_from_file`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::SystemTime;

/// One session: a prompt, what happened, how it ended (seed 001's `SessionTelemetry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionTelemetry {
    /// Its id.
    pub session_id: String,
    /// When it started.
    #[serde(with = "rfc3339")]
    pub start_time: SystemTime,
    /// When it ended; `None` while open.
    #[serde(with = "rfc3339_option", default)]
    pub end_time: Option<SystemTime>,
    /// The skill it invoked (the first `skill.invoked`).
    #[serde(default)]
    pub skill_name: Option<String>,
    /// What the user asked.
    #[serde(default)]
    pub prompt: String,
    /// What it answered.
    #[serde(default)]
    pub output: String,
    /// Its events, in order.
    #[serde(default)]
    pub events: Vec<TelemetryEvent>,
    /// Its tool calls: `{"tool", "args", "success", "error"}` as they completed.
    #[serde(default)]
    pub tool_calls: Vec<Value>,
    /// Whether it succeeded.
    #[serde(default)]
    pub success: bool,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// What the caller attached (user, environment, ...).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// One event of a session (seed 001's `TelemetryEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TelemetryEvent {
    /// When it happened.
    #[serde(with = "rfc3339")]
    pub timestamp: SystemTime,
    /// One of [`EventType`]'s names, or another the caller uses.
    pub event_type: String,
    /// The skill it concerns.
    #[serde(default)]
    pub skill_name: Option<String>,
    /// Its fields (see [`EventType`]).
    #[serde(default)]
    pub data: Map<String, Value>,
    /// The session it belongs to.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl TelemetryEvent {
    /// An event of `event_type` now.
    pub fn new(event_type: &str, skill_name: Option<&str>, data: Map<String, Value>) -> Self {
        TelemetryEvent {
            timestamp: now(),
            event_type: event_type.to_owned(),
            skill_name: skill_name.map(str::to_owned),
            data,
            session_id: None,
        }
    }
}

/// Now, to the millisecond the session file keeps (so a session read back is equal to
/// the one written).
pub(crate) fn now() -> SystemTime {
    let since = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(since.as_millis() as u64)
}

/// Seed 001's six event types and their data fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `skill.invoked`: `skill_name`.
    SkillInvoked,
    /// `tool.called`: `tool`, `args`.
    ToolCalled,
    /// `tool.completed`: `tool`, `success`, `error`.
    ToolCompleted,
    /// `llm.request`: `model`, `tokens`.
    LlmRequest,
    /// `llm.response`: `model`, `latency_ms`.
    LlmResponse,
    /// `error`: `error_type`, `message`.
    Error,
}

impl EventType {
    /// Every type, in the seed's order.
    pub const ALL: [EventType; 6] = [
        EventType::SkillInvoked,
        EventType::ToolCalled,
        EventType::ToolCompleted,
        EventType::LlmRequest,
        EventType::LlmResponse,
        EventType::Error,
    ];

    /// The seed's name (`tool.called`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SkillInvoked => "skill.invoked",
            EventType::ToolCalled => "tool.called",
            EventType::ToolCompleted => "tool.completed",
            EventType::LlmRequest => "llm.request",
            EventType::LlmResponse => "llm.response",
            EventType::Error => "error",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl SessionTelemetry {
    /// How long it lasted, in milliseconds (`None` while open).
    pub fn duration_ms(&self) -> Option<u64> {
        let end = self.end_time?;
        Some(
            end.duration_since(self.start_time)
                .map_or(0, |d| d.as_millis() as u64),
        )
    }

    /// Events of `event_type`.
    pub fn count(&self, event_type: EventType) -> usize {
        self.events
            .iter()
            .filter(|e| e.event_type == event_type.as_str())
            .count()
    }

    /// Tokens its LLM events name: a request's `tokens` (or `input_tokens`), a
    /// response's `output_tokens` (or `tokens`).
    pub fn tokens(&self) -> u64 {
        let first = |e: &TelemetryEvent, keys: [&str; 2]| {
            keys.iter()
                .find_map(|k| e.data.get(*k).and_then(Value::as_u64))
        };
        self.events
            .iter()
            .filter_map(|e| match e.event_type.as_str() {
                "llm.request" => first(e, ["tokens", "input_tokens"]),
                "llm.response" => first(e, ["output_tokens", "tokens"]),
                _ => None,
            })
            .sum()
    }

    /// What is stored when it ends, so that reads never recompute it: duration, event
    /// counts by type, tool calls, tokens, errors.
    pub fn rollup(&self) -> Value {
        let mut by_type = Map::new();
        for event in &self.events {
            let n = by_type
                .entry(event.event_type.clone())
                .or_insert(Value::from(0u64));
            *n = Value::from(n.as_u64().unwrap_or(0) + 1);
        }
        serde_json::json!({
            "duration_ms": self.duration_ms(),
            "events": self.events.len(),
            "events_by_type": by_type,
            "tool_calls": self.tool_calls.len(),
            "tokens": self.tokens(),
            "errors": self.count(EventType::Error),
        })
    }
}

/// Writes `sessions` to `path` as a JSON array (seed 001's session file), beside it and
/// renamed over it, so a reader never sees half a file.
pub fn write_file(path: &Path, sessions: &[SessionTelemetry]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec_pretty(sessions).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Reads a session file: a JSON array of sessions, `{"sessions": [...]}`, or one session.
pub fn read_file(path: &Path) -> Result<Vec<SessionTelemetry>, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes).map_err(|source| LoadError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Parses a session file's bytes (the shapes [`read_file`] reads).
pub fn parse(bytes: &[u8]) -> Result<Vec<SessionTelemetry>, serde_json::Error> {
    match serde_json::from_slice(bytes)? {
        Value::Object(mut map)
            if !map.contains_key("session_id") && map.contains_key("sessions") =>
        {
            serde_json::from_value(map.remove("sessions").unwrap_or_default())
        }
        Value::Array(sessions) => serde_json::from_value(Value::Array(sessions)),
        one => serde_json::from_value(one).map(|one| vec![one]),
    }
}

/// A session file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a session file.
    #[error("{path} is not a session file: {source}")]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// Times as RFC 3339 text (`2026-12-02T10:00:00.123Z`; offsets and naive times read).
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::time::SystemTime;

    pub(super) fn serialize<S: Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&lookout_exporter_json::rfc3339(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        lookout_export::calendar::parse_rfc3339(&text)
            .ok_or_else(|| D::Error::custom(format!("{text:?} is not an RFC 3339 time")))
    }
}

/// An optional time as RFC 3339 text or `null`.
mod rfc3339_option {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::time::SystemTime;

    pub(super) fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => s.serialize_str(&lookout_exporter_json::rfc3339(*time)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => lookout_export::calendar::parse_rfc3339(&text)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("{text:?} is not an RFC 3339 time"))),
        }
    }
}

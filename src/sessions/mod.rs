//! Sessions (seed 001): a prompt, its typed events and how it ended. A session is a
//! trace: a root span `session {skill}` (`gen_ai.conversation.id` = the session id),
//! `tool.called`/`tool.completed` an `execute_tool {tool}` child span, `llm.request`/
//! `llm.response` a `chat {model}` child span with `gen_ai.usage.input_tokens`; in the
//! store a `session_event` record per event and a `session` record when it ends, with
//! its rollup (duration, event counts, tool calls, tokens, errors) computed once; on
//! `/metrics` `sessions_total`, `session_duration_seconds`, `session_tool_calls`.
//!
//! Production hygiene (seed 001's best practices): data and metadata are redacted
//! ([`crate::redact`]) as they are recorded; a sample rate keeps a fraction of sessions
//! whole (decided from the session id, the same in every process; metrics count every
//! session); [`Sessions::export_to_file`] pseudonymises the metadata keys that name a
//! person.
//!
//! ```
//! use lookout::Telemetry;
//! use serde_json::json;
//!
//! let telemetry = Telemetry::builder().without_env_exporters().build().unwrap();
//! let sessions = telemetry.sessions();
//! let id = sessions.start_session("Deploy my app to Azure", json!({"user_id": "user123"}));
//! sessions.record_event(&id, "skill.invoked", Some("azure-deploy"), json!({})).unwrap();
//! sessions.record_event(&id, "tool.called", None, json!({"tool": "az", "args": ["webapp", "create"]})).unwrap();
//! sessions.record_event(&id, "tool.completed", None, json!({"tool": "az", "success": true})).unwrap();
//! let session = sessions.end_session(&id, "Deployed", true, None).unwrap();
//! assert_eq!(session.skill_name.as_deref(), Some("azure-deploy"));
//! assert_eq!(session.tool_calls.len(), 1);
//! assert!(sessions.record_event(&id, "error", None, json!({})).is_err(), "ended");
//!
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("sessions.json");
//! assert_eq!(sessions.export_to_file(&file).unwrap(), 1);
//! let loaded = lookout::sessions::Sessions::load_from_file(&file).unwrap();
//! assert_eq!(loaded[0].session_id, id);
//! assert_ne!(loaded[0].metadata["user_id"], "user123", "pseudonymised");
//! ```

mod analysis;
mod eval;
mod metrics;
mod model;

pub use analysis::{Analysis, Execution, Figures, SkillFigures, analyze};
pub use eval::to_eval_input;
pub use model::{
    EventType, LoadError, SessionTelemetry, TelemetryEvent, parse, read_file, write_file,
};

use crate::agent::semconv;
use crate::metrics::{MetricError, Registry};
use crate::redact::Redactor;
use crate::trace::{Span, Status, Tracer};
use metrics::SessionFamilies;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Ended sessions a collector keeps for [`Sessions::export_to_file`]; older ones leave
/// (they are in the store).
pub const KEPT_SESSIONS: usize = 10_000;

/// Metadata keys whose values name a person (letters and digits only, lower case):
/// pseudonymised on export and in eval tasks ([`pseudonymise`]).
pub const PERSONAL_KEYS: [&str; 12] = [
    "user",
    "userid",
    "username",
    "email",
    "emailaddress",
    "name",
    "fullname",
    "ip",
    "ipaddress",
    "phone",
    "phonenumber",
    "customerid",
];

/// Collects sessions (seed 001's `RuntimeCollector`). Cloning is cheap and shares them.
#[derive(Debug, Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tracer: Tracer,
    families: SessionFamilies,
    redactor: Redactor,
    sample_rate: f64,
    open: Mutex<HashMap<String, Open>>,
    ended: Mutex<VecDeque<SessionTelemetry>>,
    #[cfg(feature = "store")]
    store: Option<lookout_store::Store>,
}

/// A session in progress, with its open spans (none when it is not sampled).
#[derive(Debug)]
struct Open {
    session: SessionTelemetry,
    sampled: bool,
    root: Option<Span>,
    /// `tool.called` spans not yet completed, oldest first, by tool and `call_id` if given.
    tools: Vec<(String, Option<Value>, Span)>,
    /// `llm.request` spans not yet answered, oldest first, by model.
    llms: Vec<(String, Span)>,
}

/// Why a session call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No open session has this id (never started, or ended).
    #[error("no open session {0:?}")]
    UnknownSession(String),
    /// The event type is not one of seed 001's six.
    #[error(
        "unknown event type {0:?}: expected skill.invoked, tool.called, tool.completed, \
         llm.request, llm.response or error"
    )]
    UnknownEventType(String),
    /// The event's data is not a JSON object.
    #[error("event data must be a JSON object, got {0}")]
    InvalidData(&'static str),
}

impl SessionError {
    /// A stable code for the error (`E_UNKNOWN_SESSION`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::UnknownSession(_) => "E_UNKNOWN_SESSION",
            SessionError::UnknownEventType(_) => "E_EVENT_TYPE",
            SessionError::InvalidData(_) => "E_EVENT_DATA",
        }
    }
}

impl Sessions {
    pub(crate) fn new(
        registry: &Registry,
        tracer: Tracer,
        redactor: Redactor,
        sample_rate: f64,
        #[cfg(feature = "store")] store: Option<lookout_store::Store>,
    ) -> Result<Sessions, MetricError> {
        Ok(Sessions {
            inner: Arc::new(Inner {
                tracer,
                families: SessionFamilies::register(registry)?,
                redactor,
                sample_rate: sample_rate.clamp(0.0, 1.0),
                open: Mutex::new(HashMap::new()),
                ended: Mutex::new(VecDeque::new()),
                #[cfg(feature = "store")]
                store,
            }),
        })
    }

    /// Whether session `id` is kept at this collector's sample rate: decided from the
    /// id alone (FNV-1a), so every process keeps or drops the same sessions whole.
    pub fn is_sampled(&self, id: &str) -> bool {
        sampled(id, self.inner.sample_rate)
    }

    /// Starts a session (seed 001's `start_session`); returns its id. The prompt and
    /// metadata are redacted.
    pub fn start_session(&self, prompt: &str, metadata: Value) -> String {
        let id = crate::trace::random_uuid();
        self.start_session_with_id(&id, prompt, metadata);
        id
    }

    /// Starts a session under an id chosen elsewhere (a webhook's, a log's).
    pub fn start_session_with_id(&self, id: &str, prompt: &str, metadata: Value) {
        let prompt = self.redacted_text(prompt);
        let metadata = match self.redacted(metadata) {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        let sampled = self.is_sampled(id);
        let start_time = model::now();
        let root = sampled.then(|| {
            self.inner
                .tracer
                .span("session")
                .root()
                .attribute(semconv::CONVERSATION_ID, id.to_owned())
                .attribute("lookout.session.prompt", prompt.clone())
                .start_time(start_time)
                .start()
        });
        let session = SessionTelemetry {
            session_id: id.to_owned(),
            start_time,
            end_time: None,
            skill_name: None,
            prompt,
            output: String::new(),
            events: Vec::new(),
            tool_calls: Vec::new(),
            success: false,
            error: None,
            metadata,
        };
        self.inner.open.lock().insert(
            id.to_owned(),
            Open {
                session,
                sampled,
                root,
                tools: Vec::new(),
                llms: Vec::new(),
            },
        );
    }

    /// Records an event of an open session (seed 001's `record_event`): one of the six
    /// types, `data` a JSON object (or null), redacted.
    pub fn record_event(
        &self,
        id: &str,
        event_type: &str,
        skill_name: Option<&str>,
        data: Value,
    ) -> Result<(), SessionError> {
        let kind = EventType::parse(event_type)
            .ok_or_else(|| SessionError::UnknownEventType(event_type.to_owned()))?;
        let data = match self.redacted(data) {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => return Err(SessionError::InvalidData(json_type(&other))),
        };
        let mut open = self.inner.open.lock();
        let session = open
            .get_mut(id)
            .ok_or_else(|| SessionError::UnknownSession(id.to_owned()))?;
        let mut event = TelemetryEvent::new(event_type, skill_name, data);
        event.session_id = Some(id.to_owned());
        session.apply(kind, &event, &self.inner.tracer);
        #[cfg(feature = "store")]
        if session.sampled
            && let Some(store) = &self.inner.store
        {
            let seq = session.session.events.len();
            let body = serde_json::to_value(&event).unwrap_or_default();
            store.record(lookout_store::Record {
                event_id: format!("session-{id}-{seq}"),
                kind: lookout_store::RecordKind::SessionEvent,
                time: event.timestamp,
                body,
            });
        }
        session.session.events.push(event);
        Ok(())
    }

    /// Ends a session (seed 001's `end_session`): its spans end, its rollup is stored
    /// with it, the families count it; returns it.
    pub fn end_session(
        &self,
        id: &str,
        output: &str,
        success: bool,
        error: Option<&str>,
    ) -> Result<SessionTelemetry, SessionError> {
        let Open {
            mut session,
            sampled,
            root,
            tools,
            llms,
        } = self
            .inner
            .open
            .lock()
            .remove(id)
            .ok_or_else(|| SessionError::UnknownSession(id.to_owned()))?;
        session.output = self.redacted_text(output);
        session.success = success;
        session.error = error.map(|e| self.redacted_text(e));
        let end = model::now();
        session.end_time = Some(end);
        let tools = tools.into_iter().map(|(_, _, span)| span);
        for mut span in tools.chain(llms.into_iter().map(|(_, span)| span)) {
            span.set_status(Status::Error("unfinished when the session ended".into()));
            span.end_at(end);
        }
        if let Some(mut root) = root {
            if let Some(skill) = &session.skill_name {
                root.update_name(format!("session {skill}"));
            }
            root.set_status(match (&session.error, success) {
                (_, true) => Status::Ok,
                (Some(error), false) => Status::Error(error.clone().into()),
                (None, false) => Status::Error("failed".into()),
            });
            root.end_at(end);
        }
        let duration = Duration::from_millis(session.duration_ms().unwrap_or(0));
        let skill = session.skill_name.as_deref().unwrap_or("");
        self.inner
            .families
            .observe(skill, success, duration, session.tool_calls.len());
        if sampled {
            #[cfg(feature = "store")]
            if let Some(store) = &self.inner.store {
                let mut body = serde_json::to_value(&session).unwrap_or_default();
                body["rollup"] = session.rollup();
                store.record(lookout_store::Record {
                    event_id: format!("session-{id}"),
                    kind: lookout_store::RecordKind::Session,
                    time: end,
                    body,
                });
            }
            let mut ended = self.inner.ended.lock();
            if ended.len() == KEPT_SESSIONS {
                ended.pop_front();
            }
            ended.push_back(session.clone());
        }
        Ok(session)
    }

    /// Whether session `id` is open (started, not ended).
    pub fn is_open(&self, id: &str) -> bool {
        self.inner.open.lock().contains_key(id)
    }

    /// Session `id`, if it ended and this collector keeps it.
    pub fn ended(&self, id: &str) -> Option<SessionTelemetry> {
        let ended = self.inner.ended.lock();
        ended.iter().rev().find(|s| s.session_id == id).cloned()
    }

    /// The ended sessions this collector keeps (sampled ones, the newest
    /// [`KEPT_SESSIONS`]).
    pub fn sessions(&self) -> Vec<SessionTelemetry> {
        self.inner.ended.lock().iter().cloned().collect()
    }

    /// Writes the kept sessions to `path` in seed 001's session file (a JSON array),
    /// with the metadata keys that name a person ([`PERSONAL_KEYS`]) pseudonymised;
    /// returns how many.
    pub fn export_to_file(&self, path: impl AsRef<Path>) -> std::io::Result<usize> {
        let mut sessions = self.sessions();
        for session in &mut sessions {
            pseudonymise(&mut session.metadata);
        }
        write_file(path.as_ref(), &sessions)?;
        Ok(sessions.len())
    }

    /// Reads a session file (seed 001's `load_from_file`).
    pub fn load_from_file(path: impl AsRef<Path>) -> Result<Vec<SessionTelemetry>, LoadError> {
        read_file(path.as_ref())
    }

    fn redacted(&self, mut value: Value) -> Value {
        self.inner.redactor.redact(&mut value);
        value
    }

    fn redacted_text(&self, text: &str) -> String {
        match self.redacted(Value::String(text.to_owned())) {
            Value::String(text) => text,
            _ => String::new(),
        }
    }
}

impl Open {
    /// What an event does to the session and its spans.
    fn apply(&mut self, kind: EventType, event: &TelemetryEvent, tracer: &Tracer) {
        let data = &event.data;
        let field = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        let skill = event.skill_name.clone().or_else(|| field("skill_name"));
        // Tells apart concurrent calls of one tool: a completion closes the call of its id.
        let call_id = data.get("call_id").filter(|id| !id.is_null()).cloned();
        match kind {
            EventType::SkillInvoked => {
                if self.session.skill_name.is_none() {
                    self.session.skill_name = skill;
                }
            }
            EventType::ToolCalled => {
                let tool = field("tool").unwrap_or_else(|| "unknown".into());
                if let Some(parent) = self.root.as_ref() {
                    let mut span = tracer
                        .span(format!("execute_tool {tool}"))
                        .parent(parent.context())
                        .attribute(semconv::OPERATION_NAME, "execute_tool")
                        .attribute(semconv::TOOL_NAME, tool.clone())
                        .start_time(event.timestamp)
                        .start();
                    if let Some(args) = data.get("args") {
                        span.set_attribute("lookout.tool.args", args.to_string());
                    }
                    self.tools.push((tool.clone(), call_id.clone(), span));
                }
                let mut call = json!({
                    "tool": tool,
                    "args": data.get("args").cloned().unwrap_or(Value::Null),
                    "timestamp": lookout_exporter_json::rfc3339(event.timestamp),
                });
                if let Some(id) = call_id {
                    call["call_id"] = id;
                }
                self.session.tool_calls.push(call);
            }
            EventType::ToolCompleted => {
                // The oldest call still open of the tool named (any without a name) and of
                // the `call_id` given (any without one).
                let named = field("tool");
                let open_call = |c: &Value| {
                    c.get("success").is_none()
                        && named.as_deref().is_none_or(|tool| c["tool"] == tool)
                        && call_id
                            .as_ref()
                            .is_none_or(|id| c.get("call_id") == Some(id))
                };
                let tool = named.clone().unwrap_or_else(|| {
                    let call = self.session.tool_calls.iter().find(|c| open_call(c));
                    call.and_then(|c| c["tool"].as_str())
                        .unwrap_or("unknown")
                        .to_owned()
                });
                let error = field("error");
                let success = data
                    .get("success")
                    .and_then(Value::as_bool)
                    .unwrap_or(error.is_none());
                let call = self.session.tool_calls.iter_mut().find(|c| open_call(c));
                match call {
                    Some(call) => {
                        call["success"] = Value::Bool(success);
                        call["error"] = error.clone().map_or(Value::Null, Value::String);
                    }
                    None => self.session.tool_calls.push(json!({
                        "tool": tool, "args": null, "success": success, "error": error,
                    })),
                }
                let open_span = |(t, id, _): &(String, Option<Value>, Span)| {
                    *t == tool
                        && call_id
                            .as_ref()
                            .is_none_or(|want| id.as_ref() == Some(want))
                };
                if let Some(at) = self.tools.iter().position(open_span) {
                    let (_, _, mut span) = self.tools.remove(at);
                    if success {
                        span.set_status(Status::Ok);
                    } else {
                        let error = error.unwrap_or_else(|| "failed".into());
                        span.set_attribute(semconv::ERROR_TYPE, error.clone());
                        span.set_status(Status::Error(error.into()));
                    }
                    span.end_at(event.timestamp);
                }
            }
            EventType::LlmRequest => {
                if let Some(parent) = self.root.as_ref() {
                    let model = field("model").unwrap_or_default();
                    let mut span = chat_span(tracer, parent, &model, event.timestamp);
                    if let Some(tokens) = data.get("tokens").and_then(Value::as_i64) {
                        span.set_attribute(semconv::USAGE_INPUT_TOKENS, tokens);
                    }
                    self.llms.push((model, span));
                }
            }
            EventType::LlmResponse => {
                let model = field("model").unwrap_or_default();
                let open = self
                    .llms
                    .iter()
                    .position(|(m, _)| *m == model || model.is_empty() || m.is_empty())
                    .map(|at| self.llms.remove(at).1);
                let span = open.or_else(|| {
                    // A response without its request: dated back by its latency.
                    let parent = self.root.as_ref()?;
                    let latency = data.get("latency_ms").and_then(Value::as_u64).unwrap_or(0);
                    let start = event
                        .timestamp
                        .checked_sub(Duration::from_millis(latency))
                        .unwrap_or(event.timestamp);
                    Some(chat_span(tracer, parent, &model, start))
                });
                if let Some(mut span) = span {
                    let tokens = data.get("output_tokens").or_else(|| data.get("tokens"));
                    if let Some(tokens) = tokens.and_then(Value::as_i64) {
                        span.set_attribute(semconv::USAGE_OUTPUT_TOKENS, tokens);
                    }
                    span.set_status(Status::Ok);
                    span.end_at(event.timestamp);
                }
            }
            EventType::Error => {
                if let Some(root) = self.root.as_mut() {
                    root.add_event(
                        "exception",
                        [
                            crate::trace::KeyValue::new(
                                "exception.type",
                                field("error_type").unwrap_or_else(|| "error".into()),
                            ),
                            crate::trace::KeyValue::new(
                                "exception.message",
                                field("message").unwrap_or_default(),
                            ),
                        ],
                    );
                }
            }
        }
    }
}

/// Whether `id` falls within `rate` (its stable hash against the rate's share of u64).
fn sampled(id: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    (stable_hash(id.as_bytes()) as f64) < rate * u64::MAX as f64
}

/// FNV-1a, 64 bits, then SplitMix64's finalizer so that ids differing in their last
/// byte (`job-1001`, `job-1002`) land far apart: the same in every process and build.
fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Replaces the values of the keys that name a person ([`PERSONAL_KEYS`], compared
/// without case, `_`, `-` or `.`: `userId`, `user-id`, `e_mail`...) with a stable
/// pseudonym (`anon-` and 16 hex digits), so sessions of one person still group together.
/// A pseudonym, not encryption: a value guessed can be hashed and compared.
pub fn pseudonymise(metadata: &mut Map<String, Value>) {
    for (key, value) in metadata.iter_mut() {
        let plain: String = key
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if PERSONAL_KEYS.contains(&plain.as_str()) && !value.is_null() {
            let hash = stable_hash(value.to_string().as_bytes());
            *value = Value::String(format!("anon-{hash:016x}"));
        }
    }
}

/// An inference span (`chat {model}`) under `parent`, started at `start`.
fn chat_span(tracer: &Tracer, parent: &Span, model: &str, start: std::time::SystemTime) -> Span {
    tracer
        .span(format!("chat {model}").trim_end().to_owned())
        .parent(parent.context())
        .attribute(semconv::OPERATION_NAME, "chat")
        .attribute(semconv::REQUEST_MODEL, model.to_owned())
        .start_time(start)
        .start()
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

//! Finished spans as an exporter receives them.

use crate::{Resource, SpanId, TraceFlags, TraceId};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttributeValue {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string; static strings are not copied.
    String(Cow<'static, str>),
}

impl std::fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttributeValue::Bool(v) => v.fmt(f),
            AttributeValue::Int(v) => v.fmt(f),
            AttributeValue::Float(v) => v.fmt(f),
            AttributeValue::String(v) => f.write_str(v),
        }
    }
}

macro_rules! from_value {
    ($($ty:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$ty> for AttributeValue {
            fn from($v: $ty) -> Self { $e }
        })*
    };
}

from_value! {
    bool => |v| AttributeValue::Bool(v),
    i64 => |v| AttributeValue::Int(v),
    i32 => |v| AttributeValue::Int(i64::from(v)),
    u32 => |v| AttributeValue::Int(i64::from(v)),
    u64 => |v| AttributeValue::Int(i64::try_from(v).unwrap_or(i64::MAX)),
    usize => |v| AttributeValue::Int(i64::try_from(v).unwrap_or(i64::MAX)),
    f64 => |v| AttributeValue::Float(v),
    &'static str => |v| AttributeValue::String(Cow::Borrowed(v)),
    String => |v| AttributeValue::String(Cow::Owned(v)),
    Cow<'static, str> => |v| AttributeValue::String(v),
}

/// A named attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// Attribute name, e.g. `gen_ai.agent.name`.
    pub key: Cow<'static, str>,
    /// Its value.
    pub value: AttributeValue,
}

impl KeyValue {
    /// An attribute.
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<AttributeValue>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The role of a span in a trace (OpenTelemetry's span kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// Work inside a process.
    #[default]
    Internal,
    /// Handling a request from a remote caller.
    Server,
    /// A request to a remote service.
    Client,
    /// Sending a message for later processing.
    Producer,
    /// Processing a message a producer sent.
    Consumer,
}

impl SpanKind {
    /// Every kind.
    pub const ALL: [SpanKind; 5] = [
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ];

    /// The lowercase name: `internal`, `server`, `client`, `producer`, `consumer`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// The kind named `name` (as [`SpanKind::as_str`] spells it).
    pub fn parse(name: &str) -> Option<SpanKind> {
        SpanKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How a span ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Not set: the default.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed, with a description.
    Error(Cow<'static, str>),
}

/// Something that happened at a point in a span.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// Event name, e.g. `exception`.
    pub name: Cow<'static, str>,
    /// When it happened.
    pub time: SystemTime,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
}

impl Event {
    /// An event named `name` at `time`.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        time: SystemTime,
        attributes: Vec<KeyValue>,
    ) -> Self {
        Event {
            name: name.into(),
            time,
            attributes,
        }
    }
}

/// A reference to a span in another trace (or elsewhere in this one).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// The linked span's flags.
    pub flags: TraceFlags,
    /// The linked span's tracestate, if any.
    pub trace_state: Option<Arc<str>>,
    /// Attributes of the link.
    pub attributes: Vec<KeyValue>,
}

impl Link {
    /// A link to the sampled span `span_id` of `trace_id`, without tracestate or
    /// attributes.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        Link {
            trace_id,
            span_id,
            flags: TraceFlags::SAMPLED,
            trace_state: None,
            attributes: Vec::new(),
        }
    }
}

/// A span that has ended, with everything an exporter sends.
///
/// Build one with [`FinishedSpan::new`] and set the fields that differ; new fields may
/// come in later versions, so the struct cannot be written out whole.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FinishedSpan {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent, or [`SpanId::INVALID`] for a root span.
    pub parent_span_id: SpanId,
    /// Whether the parent came from another process.
    pub parent_is_remote: bool,
    /// Trace flags.
    pub flags: TraceFlags,
    /// The W3C tracestate it carried, if any.
    pub trace_state: Option<Arc<str>>,
    /// Span name.
    pub name: Cow<'static, str>,
    /// Span kind.
    pub kind: SpanKind,
    /// Wall-clock start.
    pub start_time: SystemTime,
    /// Wall-clock end: the start plus the monotonic duration.
    pub end_time: SystemTime,
    /// Attributes, at most the tracer's limit.
    pub attributes: Vec<KeyValue>,
    /// Events, at most the tracer's limit.
    pub events: Vec<Event>,
    /// Links, at most the tracer's limit.
    pub links: Vec<Link>,
    /// How it ended.
    pub status: Status,
    /// Attributes refused by the limit.
    pub dropped_attributes: u32,
    /// Events refused by the limit.
    pub dropped_events: u32,
    /// Links refused by the limit.
    pub dropped_links: u32,
    /// The process it came from; `None` when not known (the tracer sets it when the
    /// pipeline takes the span).
    pub resource: Option<Arc<Resource>>,
}

impl FinishedSpan {
    /// A sampled, internal root span that started and ended at `start_time`, with no
    /// attributes, events, links or status.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        name: impl Into<Cow<'static, str>>,
        start_time: SystemTime,
    ) -> Self {
        FinishedSpan {
            trace_id,
            span_id,
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            flags: TraceFlags::SAMPLED,
            trace_state: None,
            name: name.into(),
            kind: SpanKind::Internal,
            start_time,
            end_time: start_time,
            attributes: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
            resource: None,
        }
    }

    /// The value of attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| &kv.value)
    }

    /// How long the span lasted.
    pub fn duration(&self) -> std::time::Duration {
        self.end_time
            .duration_since(self.start_time)
            .unwrap_or_default()
    }
}

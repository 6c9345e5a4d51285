//! OTLP ingest (feature `ingest`): an `ExportTraceServiceRequest` from another process,
//! protobuf or OTLP/JSON, as Lookout's own [`FinishedSpan`]s, each with its resource.
//!
//! A request is taken whole or refused whole: the first span with an id that is not
//! one (a trace id of 16 bytes, a span id of 8, neither all zero), an end before its
//! start or a kind or status code the protocol does not define names the field at fault
//! (`resourceSpans[0].scopeSpans[1].spans[2].traceId`), and nothing of it is kept.
//!
//! ```
//! use lookout_exporter_otlp::ingest::{Encoding, decode_traces};
//!
//! let body = br#"{"resourceSpans":[{"resource":{"attributes":[
//!     {"key":"service.name","value":{"stringValue":"planner"}}]},
//!   "scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
//!     "spanId":"eee19b7ec3c1b174","name":"invoke_agent planner","kind":1,
//!     "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000",
//!     "attributes":[{"key":"gen_ai.agent.name","value":{"stringValue":"planner"}}]}]}]}]}"#;
//! let spans = decode_traces(body, Encoding::Json).unwrap();
//! assert_eq!(spans[0].name, "invoke_agent planner");
//! assert_eq!(spans[0].duration().as_secs(), 1);
//! assert_eq!(spans[0].resource.as_ref().unwrap().service_name(), Some("planner"));
//!
//! let error = decode_traces(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00"}]}]}]}"#, Encoding::Json)
//!     .unwrap_err();
//! assert_eq!(error.field.as_deref(), Some("resourceSpans[0].scopeSpans[0].spans[0].traceId"));
//! ```

use lookout_export::{
    AttributeValue, Event, FinishedSpan, KeyValue, Link, Resource, SpanId, SpanKind, Status,
    TraceFlags, TraceId,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{span, status};
use prost::Message;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf`, and gRPC).
    Protobuf,
    /// OTLP/JSON (`application/json`).
    Json,
}

/// Why a request was refused, with the field at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IngestError {
    /// A stable code: `invalid_protobuf`, `invalid_json`, `invalid_id`, `invalid_value`,
    /// `missing_field`, `payload_too_large`.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
    /// The field at fault, as a path into the request (OTLP/JSON's names).
    pub field: Option<String>,
}

impl IngestError {
    pub(crate) fn at(code: &'static str, field: String, message: impl Into<String>) -> Self {
        IngestError {
            code,
            message: message.into(),
            field: Some(field),
        }
    }
}

/// The scope's name, kept on each span as an attribute (OpenTelemetry's name for it on
/// formats without scopes).
pub const SCOPE_NAME: &str = "otel.scope.name";

/// Decodes `body` and turns it into spans, refusing it whole if any span is invalid.
pub fn decode_traces(body: &[u8], encoding: Encoding) -> Result<Vec<FinishedSpan>, IngestError> {
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| IngestError {
            code: "invalid_protobuf",
            message: format!("not an OTLP ExportTraceServiceRequest: {e}"),
            field: None,
        })?,
        Encoding::Json => serde_json::from_slice(body).map_err(|e| IngestError {
            code: "invalid_json",
            message: format!("not an OTLP/JSON ExportTraceServiceRequest: {e}"),
            field: None,
        })?,
    };
    spans_of(request)
}

/// The spans of a decoded request, refused whole if any span is invalid.
pub fn spans_of(request: ExportTraceServiceRequest) -> Result<Vec<FinishedSpan>, IngestError> {
    let mut spans = Vec::new();
    for (r, resource_spans) in request.resource_spans.into_iter().enumerate() {
        let attributes = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        let mut resource = Resource::default();
        resource.attributes = key_values(attributes);
        let resource = Arc::new(resource);
        for (s, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
            let scope = scope_spans.scope.map(|s| s.name).filter(|n| !n.is_empty());
            for (i, span) in scope_spans.spans.into_iter().enumerate() {
                let at =
                    |field: &str| format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}].{field}");
                let mut span = finished_span(span, &at)?;
                if let Some(scope) = &scope {
                    span.attributes
                        .push(KeyValue::new(SCOPE_NAME, scope.clone()));
                }
                span.resource = Some(Arc::clone(&resource));
                spans.push(span);
            }
        }
    }
    Ok(spans)
}

fn finished_span(
    span: opentelemetry_proto::tonic::trace::v1::Span,
    at: &dyn Fn(&str) -> String,
) -> Result<FinishedSpan, IngestError> {
    let trace = trace_id(&span.trace_id).ok_or_else(|| {
        IngestError::at(
            "invalid_id",
            at("traceId"),
            "a trace id is 16 bytes, not all zero",
        )
    })?;
    let id = span_id(&span.span_id).ok_or_else(|| {
        IngestError::at(
            "invalid_id",
            at("spanId"),
            "a span id is 8 bytes, not all zero",
        )
    })?;
    let parent_span_id = match span.parent_span_id.is_empty() {
        true => SpanId::INVALID,
        false => span_id_or_zero(&span.parent_span_id).ok_or_else(|| {
            IngestError::at(
                "invalid_id",
                at("parentSpanId"),
                "a parent span id is 8 bytes",
            )
        })?,
    };
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(IngestError::at(
            "invalid_value",
            at("endTimeUnixNano"),
            "a span ends after it starts",
        ));
    }
    let kind = match span::SpanKind::try_from(span.kind) {
        Ok(span::SpanKind::Unspecified | span::SpanKind::Internal) => SpanKind::Internal,
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        Err(_) => {
            return Err(IngestError::at(
                "invalid_value",
                at("kind"),
                format!("{} is not a span kind (0 to 5)", span.kind),
            ));
        }
    };
    let status = match span.status {
        None => Status::Unset,
        Some(s) => match status::StatusCode::try_from(s.code) {
            Ok(status::StatusCode::Unset) => Status::Unset,
            Ok(status::StatusCode::Ok) => Status::Ok,
            Ok(status::StatusCode::Error) => Status::Error(Cow::Owned(s.message)),
            Err(_) => {
                return Err(IngestError::at(
                    "invalid_value",
                    at("status.code"),
                    format!("{} is not a status code (0 to 2)", s.code),
                ));
            }
        },
    };
    let mut links = Vec::with_capacity(span.links.len());
    for (l, link) in span.links.into_iter().enumerate() {
        let invalid = || {
            IngestError::at(
                "invalid_id",
                at(&format!("links[{l}]")),
                "a link names a trace id of 16 bytes and a span id of 8",
            )
        };
        let mut to = Link::new(
            trace_id_or_none(&link.trace_id).ok_or_else(invalid)?,
            span_id(&link.span_id).ok_or_else(invalid)?,
        );
        to.flags = TraceFlags(link.flags as u8);
        to.trace_state = non_empty(link.trace_state);
        to.attributes = key_values(link.attributes);
        links.push(to);
    }
    let start_time = time(span.start_time_unix_nano);
    let mut finished = FinishedSpan::new(trace, id, span.name, start_time);
    finished.parent_span_id = parent_span_id;
    finished.parent_is_remote = span.flags & 0x300 == 0x300;
    // Trace flags are the low byte; a sender that sets no flags sent a span it sampled.
    finished.flags = match span.flags & 0xff {
        0 => TraceFlags::SAMPLED,
        flags => TraceFlags(flags as u8),
    };
    finished.trace_state = non_empty(span.trace_state);
    finished.kind = kind;
    finished.end_time = time(span.end_time_unix_nano);
    finished.attributes = key_values(span.attributes);
    finished.events = span
        .events
        .into_iter()
        .map(|e| Event::new(e.name, time(e.time_unix_nano), key_values(e.attributes)))
        .collect();
    finished.links = links;
    finished.status = status;
    finished.dropped_attributes = span.dropped_attributes_count;
    finished.dropped_events = span.dropped_events_count;
    finished.dropped_links = span.dropped_links_count;
    Ok(finished)
}

fn trace_id(bytes: &[u8]) -> Option<TraceId> {
    trace_id_or_none(bytes).filter(|id| id.is_valid())
}

fn trace_id_or_none(bytes: &[u8]) -> Option<TraceId> {
    Some(TraceId(u128::from_be_bytes(bytes.try_into().ok()?)))
}

fn span_id(bytes: &[u8]) -> Option<SpanId> {
    span_id_or_zero(bytes).filter(|id| id.is_valid())
}

fn span_id_or_zero(bytes: &[u8]) -> Option<SpanId> {
    Some(SpanId(u64::from_be_bytes(bytes.try_into().ok()?)))
}

fn time(unix_nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_nanos)
}

fn non_empty(text: String) -> Option<Arc<str>> {
    (!text.is_empty()).then(|| Arc::from(text))
}

/// OTLP attributes as Lookout's: arrays, maps and bytes become their JSON text.
fn key_values(attributes: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .filter_map(|kv| Some(KeyValue::new(kv.key, attribute(kv.value?.value?))))
        .collect()
}

fn attribute(value: any_value::Value) -> AttributeValue {
    match value {
        any_value::Value::StringValue(s) => AttributeValue::String(Cow::Owned(s)),
        any_value::Value::BoolValue(b) => AttributeValue::Bool(b),
        any_value::Value::IntValue(i) => AttributeValue::Int(i),
        any_value::Value::DoubleValue(x) => AttributeValue::Float(x),
        other => AttributeValue::String(Cow::Owned(json_of(&other).to_string())),
    }
}

pub(crate) fn json_of(value: &any_value::Value) -> serde_json::Value {
    let of = |v: &AnyValue| v.value.as_ref().map_or(serde_json::Value::Null, json_of);
    match value {
        any_value::Value::StringValue(s) => s.as_str().into(),
        any_value::Value::BoolValue(b) => (*b).into(),
        any_value::Value::IntValue(i) => (*i).into(),
        any_value::Value::DoubleValue(x) => (*x).into(),
        any_value::Value::ArrayValue(a) => a.values.iter().map(of).collect(),
        any_value::Value::KvlistValue(l) => l
            .values
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().map_or(serde_json::Value::Null, of),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        // A string-table index (profiles only): no table here to look it up in.
        any_value::Value::StringValueStrindex(i) => (*i).into(),
        any_value::Value::BytesValue(b) => b
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
            .into(),
    }
}

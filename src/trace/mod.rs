//! Spans and trace context: start traces and spans, propagate them across threads, tasks
//! and processes with W3C `traceparent`/`tracestate`.
//!
//! ```
//! use lookout::trace::{SpanContext, SpanKind, Tracer};
//!
//! let tracer = Tracer::default();
//! let mut root = tracer.start_trace("orchestration-session", SpanKind::Server);
//! root.set_attribute("session_id", "session-123");
//!
//! // Hand the context to a sub-agent (in another process: the TRACEPARENT variable).
//! let header = root.traceparent();
//! let remote = SpanContext::extract(&header, None).unwrap();
//! let mut child = tracer.continue_trace(&remote, "sub-agent-work");
//! child.add_event("code_generation_started", [lookout::trace::KeyValue::new("files", 3)]);
//! child.end();
//! let trace_id = root.context().trace_id;
//! root.end();
//!
//! let spans = tracer.recent_spans(trace_id);
//! assert_eq!(spans.len(), 2);
//! assert_eq!(spans[0].parent_span_id, spans[1].span_id);
//! ```

mod context;
mod current;
mod env;
mod id_generator;
mod queue;
mod recent;
mod resource;
mod sampler;
mod span;
mod traceparent;
mod tracer;
mod tracestate;
#[cfg(feature = "tracing")]
mod tracing_layer;

pub use context::SpanContext;
pub use current::{Entered, InSpan, current};
pub use env::{
    CommandExt, TRACE_CONTEXT_ENV, TRACEPARENT_ENV, TRACESTATE_ENV, context_from, context_from_env,
    env_vars,
};
pub(crate) use id_generator::random_u64;
pub use lookout_export::{
    AttributeValue, Event, FinishedSpan, KeyValue, Link, Resource, SpanId, SpanKind, Status,
    TraceFlags, TraceId,
};
pub use resource::process_resource;
pub(crate) use resource::random_uuid;
pub use sampler::Sampler;
pub use span::Span;
pub use traceparent::{TRACEPARENT_LEN, TraceParent};
pub use tracer::{SpanBuilder, SpanLimits, Tracer, TracerBuilder, TracerStats};
pub use tracestate::{MAX_MEMBERS, TraceState, TraceStateError};
#[cfg(feature = "tracing")]
pub use tracing_layer::LookoutLayer;

#[cfg(test)]
mod tests;

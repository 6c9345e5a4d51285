//! What travels between processes: the span context.

use super::traceparent::TraceParent;
use super::tracestate::TraceState;
use lookout_export::{SpanId, TraceFlags, TraceId};

/// The identity of a span as other spans and processes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span.
    pub span_id: SpanId,
    /// Trace flags (bit 0: sampled).
    pub flags: TraceFlags,
    /// Vendor state carried along the trace.
    pub trace_state: TraceState,
    /// Whether this context arrived from another process.
    pub is_remote: bool,
}

impl SpanContext {
    /// The `traceparent` header value (version 00) for this span (seed 003's `propagate`).
    pub fn traceparent(&self) -> String {
        // Every byte `encode` writes is ASCII: one allocation of the header's length.
        let header = self.to_traceparent().encode();
        std::str::from_utf8(&header).unwrap_or_default().to_owned()
    }

    fn to_traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
    }

    /// Reads a remote context from `traceparent` and `tracestate` header values (seed 003's
    /// `extract`). `None` when `traceparent` is invalid; an invalid tracestate is dropped.
    pub fn extract(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
        Self::extract_headers(traceparent, tracestate)
    }

    /// Like [`extract`](Self::extract), with every `tracestate` header line.
    pub fn extract_headers<'a>(
        traceparent: &str,
        tracestate: impl IntoIterator<Item = &'a str>,
    ) -> Option<SpanContext> {
        let parent = TraceParent::parse(traceparent)?;
        Some(SpanContext {
            trace_id: parent.trace_id,
            span_id: parent.parent_id,
            flags: TraceFlags(parent.flags.0 & TraceFlags::SAMPLED.0),
            trace_state: TraceState::parse(tracestate).unwrap_or_default(),
            is_remote: true,
        })
    }

    /// Reads a remote context from HTTP-style headers: names match case-insensitively,
    /// several `tracestate` lines combine, and more than one `traceparent` is invalid
    /// (a new trace starts), as W3C Trace Context requires.
    pub fn extract_from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<SpanContext> {
        let mut traceparent = None;
        let mut tracestate = Vec::new();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("traceparent") {
                if traceparent.replace(value).is_some() {
                    return None;
                }
            } else if name.eq_ignore_ascii_case("tracestate") {
                tracestate.push(value);
            }
        }
        Self::extract_headers(traceparent?, tracestate)
    }

    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }
}

//! Fixtures for exporters' tests (feature `testing`): spans with every field set, so
//! that no test writes a [`FinishedSpan`] out by hand.

use crate::{
    Event, FinishedSpan, KeyValue, Link, Resource, SpanId, SpanKind, Status, TraceFlags, TraceId,
};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When every fixture span starts: 2023-11-14T22:13:20.123456789Z.
pub fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789)
}

/// The resource of the fixtures' process: `service.name` `coordinator`, pid 4242.
pub fn resource() -> Arc<Resource> {
    Arc::new(Resource::new([
        ("service.name", crate::AttributeValue::from("coordinator")),
        ("service.instance.id", "test-instance".into()),
        ("process.pid", 4242i64.into()),
        ("host.name", "test-host".into()),
    ]))
}

/// A sampled internal root span `name` of trace `trace_id`, 5 ms long from [`start`],
/// from [`resource`].
pub fn span(trace_id: u128, span_id: u64, name: &str) -> FinishedSpan {
    let mut span = FinishedSpan::new(TraceId(trace_id), SpanId(span_id), name.to_owned(), start());
    span.end_time = start() + Duration::from_millis(5);
    span.resource = Some(resource());
    span
}

/// A coordinator's trace of three spans that between them set every field:
///
/// 0. `invoke_agent coordinator` (span 1): server kind, a remote parent, tracestate,
///    attributes of every type, `Ok`, 2 attributes dropped; 900 ms.
/// 1. `execute_tool Bash` (span 2), its child: an `exception` event 250 ms after the
///    trace started, error status `exit status 1`, 1 event and 3 links dropped.
/// 2. `chat claude` (span 3), its child: client kind, a link to span 98 of trace 99 with
///    an attribute, status unset.
pub fn agent_trace() -> Vec<FinishedSpan> {
    let start = start();
    let mut root = span(
        0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
        1,
        "invoke_agent coordinator",
    );
    root.parent_span_id = SpanId(0x00f0_67aa_0ba9_02b7);
    root.parent_is_remote = true;
    root.flags = TraceFlags::SAMPLED;
    root.trace_state = Some("rojo=00f067aa0ba902b7".into());
    root.kind = SpanKind::Server;
    root.end_time = start + Duration::from_millis(900);
    root.attributes = vec![
        KeyValue::new("gen_ai.agent.name", "coordinator"),
        KeyValue::new("gen_ai.usage.input_tokens", 1500i64),
        KeyValue::new("ratio", 0.25),
        KeyValue::new("cached", true),
    ];
    root.status = Status::Ok;
    root.dropped_attributes = 2;

    let child = |span_id, name: &'static str, kind| {
        let mut child = root.clone();
        child.span_id = SpanId(span_id);
        child.parent_span_id = root.span_id;
        child.parent_is_remote = false;
        child.name = name.into();
        child.kind = kind;
        child
    };
    let mut tool = child(2, "execute_tool Bash", SpanKind::Internal);
    tool.start_time = start + Duration::from_millis(100);
    tool.end_time = start + Duration::from_millis(300);
    tool.events = vec![Event::new(
        "exception",
        start + Duration::from_millis(250),
        vec![KeyValue::new("exception.message", "exit status 1")],
    )];
    tool.status = Status::Error("exit status 1".into());
    tool.dropped_events = 1;
    tool.dropped_links = 3;

    let mut chat = child(3, "chat claude", SpanKind::Client);
    let mut link = Link::new(TraceId(99), SpanId(98));
    link.attributes = vec![KeyValue::new("link.reason", "retry")];
    chat.links = vec![link];
    chat.status = Status::Unset;

    vec![root, tool, chat]
}

/// [`agent_trace`] moved to end a second ago (so that a store's retention keeps it).
pub fn recent_agent_trace() -> Vec<FinishedSpan> {
    let shift = SystemTime::now()
        .duration_since(start())
        .unwrap_or_default()
        .saturating_sub(std::time::Duration::from_secs(1));
    let mut spans = agent_trace();
    for span in &mut spans {
        span.start_time += shift;
        span.end_time += shift;
        for event in &mut span.events {
            event.time += shift;
        }
    }
    spans
}

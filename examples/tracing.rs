//! Seed 003's span lifecycle: start a trace, set attributes, start a child for a
//! sub-agent, add events, handle an error, end the spans, export the trace, and hand the
//! context to a sub-agent the way another process would receive it.
//!
//! ```text
//! cargo run --example tracing
//! ```

use lookout::trace::{KeyValue, SpanContext, SpanKind, Status, Tracer};

fn main() {
    let tracer = Tracer::default();

    // 1. Start the root trace.
    let mut root = tracer.start_trace("orchestration-session", SpanKind::Server);

    // 2. Set attributes.
    root.set_attributes([
        KeyValue::new("session_id", "session-123"),
        KeyValue::new("coordinator", "hierarchical"),
        KeyValue::new("total_agents", 5),
    ]);

    // 3. A child span for a sub-agent.
    let mut child = tracer.start_span(root.context(), "coder-execution");

    // 4. Events.
    child.add_event(
        "code_generation_started",
        [KeyValue::new("files", 3), KeyValue::new("language", "rust")],
    );

    // 5. Errors: the agent's work fails, the span records it.
    if let Err(error) = generate_code() {
        child.record_error(&error);
    }

    // 6. End the spans (dropping them ends them too).
    child.end();

    // Propagation: the header a sub-agent process would get in TRACEPARENT / TRACE_CONTEXT.
    let header = root.traceparent();
    let remote = SpanContext::extract(&header, None).expect("a header we made is valid");
    let sub = tracer.continue_trace(&remote, "sub-agent-work");
    sub.end_with_status(Status::Ok);

    let trace_id = root.context().trace_id;
    root.end_with_status(Status::Ok);

    // 7. Export the trace.
    println!("trace {trace_id} (traceparent {header})");
    for span in tracer.recent_spans(trace_id) {
        let status = match &span.status {
            Status::Error(message) => format!("error: {message}"),
            other => format!("{other:?}").to_lowercase(),
        };
        println!(
            "  {:<24} span {} parent {} {:>9.3} ms  {status}  events: {}",
            span.name,
            span.span_id,
            span.parent_span_id,
            span.duration().as_secs_f64() * 1e3,
            span.events
                .iter()
                .map(|e| e.name.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
}

fn generate_code() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("model returned malformed code"))
}

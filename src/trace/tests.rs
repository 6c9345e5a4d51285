use super::*;
use std::time::Duration;

fn tracer() -> Tracer {
    Tracer::default()
}

fn only(tracer: &Tracer, trace_id: TraceId) -> Vec<FinishedSpan> {
    tracer.recent_spans(trace_id)
}

#[test]
fn children_take_explicit_or_current_parents() {
    let tracer = tracer();
    let root = tracer.start_trace("session", SpanKind::Server);
    let explicit = tracer.start_span(root.context(), "explicit");
    let implicit = {
        let _entered = root.enter();
        let nested = tracer.span("implicit").start();
        let grandchild = {
            let _inner = nested.enter();
            tracer.span("grandchild").start()
        };
        (nested, grandchild)
    };
    let orphan = tracer.span("after-exit").start();
    let (root_ctx, nested_ctx) = (root.context().clone(), implicit.0.context().clone());
    assert_eq!(explicit.context().trace_id, root_ctx.trace_id);
    assert_eq!(implicit.1.context().trace_id, root_ctx.trace_id);
    assert_ne!(orphan.context().trace_id, root_ctx.trace_id);
    drop((explicit, implicit, orphan, root));

    let spans = only(&tracer, root_ctx.trace_id);
    let parent_of = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .parent_span_id
    };
    assert_eq!(parent_of("explicit"), root_ctx.span_id);
    assert_eq!(parent_of("implicit"), root_ctx.span_id);
    assert_eq!(parent_of("grandchild"), nested_ctx.span_id);
    assert_eq!(parent_of("session"), SpanId::INVALID);
    assert_eq!(spans.len(), 4);
}

#[test]
fn another_thread_has_no_current_span() {
    let tracer = tracer();
    let root = tracer.start_trace("root", SpanKind::Internal);
    let _entered = root.enter();
    let other = std::thread::scope(|s| {
        s.spawn(|| tracer.span("other").start().context().clone())
            .join()
            .unwrap()
    });
    assert_ne!(other.trace_id, root.context().trace_id);
}

#[test]
fn continuing_a_remote_context_keeps_trace_and_tracestate() {
    let tracer = tracer();
    let remote = SpanContext::extract(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
    )
    .unwrap();
    let span = tracer.continue_trace(&remote, "sub-agent-work");
    assert_eq!(span.context().trace_id, remote.trace_id);
    assert_ne!(span.context().span_id, remote.span_id);
    assert_eq!(
        span.context().trace_state.get("rojo"),
        Some("00f067aa0ba902b7")
    );
    let trace_id = span.context().trace_id;
    span.end();
    let finished = &only(&tracer, trace_id)[0];
    assert_eq!(finished.parent_span_id, remote.span_id);
    assert!(finished.parent_is_remote);
    assert_eq!(finished.kind, SpanKind::Server);
    assert_eq!(
        finished.trace_state.as_deref(),
        Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    );
}

#[test]
fn attributes_events_errors_and_status() {
    let tracer = tracer();
    let mut span = tracer.span("work").attribute("files", 3).start();
    span.set_attribute("language", "rust");
    span.set_attribute("files", 4);
    span.add_event("started", [KeyValue::new("step", 1)]);
    std::thread::sleep(Duration::from_millis(2));
    let error = std::io::Error::other("disk full");
    span.record_error(&error);
    let trace_id = span.context().trace_id;
    span.end();
    let s = &only(&tracer, trace_id)[0];
    assert_eq!(s.attribute("files"), Some(&AttributeValue::Int(4)));
    assert_eq!(s.attribute("language"), Some(&AttributeValue::from("rust")));
    assert_eq!(s.events[0].name, "started");
    assert_eq!(s.events[1].name, "exception");
    assert_eq!(
        s.events[1].attributes[1],
        KeyValue::new("exception.message", "disk full")
    );
    assert!(s.events[1].attributes[0].value == AttributeValue::from("std::io::error::Error"));
    assert_eq!(s.status, Status::Error("disk full".into()));
    assert!(s.events[0].time >= s.start_time && s.events[1].time > s.events[0].time);
    assert!(s.end_time >= s.events[1].time);
    assert!(s.duration() >= Duration::from_millis(2));
}

#[test]
fn ok_status_is_not_overwritten_by_an_error() {
    let tracer = tracer();
    let mut span = tracer.span("s").start();
    span.set_status(Status::Ok);
    span.set_status(Status::Error("late".into()));
    let id = span.context().trace_id;
    span.end();
    assert_eq!(only(&tracer, id)[0].status, Status::Ok);
}

#[test]
fn limits_drop_and_count() {
    let limits = SpanLimits {
        max_attributes: 2,
        max_events: 1,
        max_links: 1,
        max_value_len: 5,
    };
    let tracer = Tracer::builder().limits(limits).build();
    let mut span = tracer.span("limited").start();
    for i in 0..4 {
        span.set_attribute(format!("k{i}"), i);
    }
    span.set_attribute("k0", "ünïcode");
    span.add_event("a", []);
    span.add_event("b", []);
    let other = tracer.span("other").start();
    span.add_link(other.context(), []);
    span.add_link(other.context(), []);
    let id = span.context().trace_id;
    span.end();
    let s = &only(&tracer, id)[0];
    assert_eq!(s.attributes.len(), 2);
    assert_eq!(s.attribute("k0"), Some(&AttributeValue::from("ünï")));
    assert_eq!(
        (s.dropped_attributes, s.dropped_events, s.dropped_links),
        (2, 1, 1)
    );
    let stats = tracer.stats();
    assert_eq!(
        (
            stats.attributes_dropped,
            stats.events_dropped,
            stats.links_dropped,
            stats.values_truncated
        ),
        (2, 1, 1, 1)
    );
}

#[test]
fn a_panic_while_current_marks_the_span_error() {
    let tracer = tracer();
    let span = tracer.span("doomed").start();
    let id = span.context().trace_id;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _entered = span.enter();
        panic!("agent crashed");
    }));
    assert!(result.is_err());
    span.end();
    // Dropped during unwinding also counts.
    let dropped = tracer.span("dropped-in-panic").start();
    let id2 = dropped.context().trace_id;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _span = dropped;
        panic!("boom");
    }));
    assert_eq!(
        only(&tracer, id)[0].status,
        Status::Error("panicked".into())
    );
    assert_eq!(
        only(&tracer, id2)[0].status,
        Status::Error("panicked".into())
    );
}

#[test]
fn a_panicking_task_marks_its_span_error_and_the_runtime_lives_on() {
    let tracer = tracer();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let span = tracer.span("task").start();
    let id = span.context().trace_id;
    let tracer2 = tracer.clone();
    let task = runtime.spawn(span.in_future(async move {
        tokio::task::yield_now().await;
        // A child started inside the task finds the task's span as its parent.
        tracer2.span("inside").start().end();
        panic!("sub-agent failed");
    }));
    assert!(runtime.block_on(task).unwrap_err().is_panic());
    let fine = runtime.block_on(async { 41 + 1 });
    assert_eq!(fine, 42);
    let spans = only(&tracer, id);
    let task_span = spans.iter().find(|s| s.name == "task").unwrap();
    assert_eq!(task_span.status, Status::Error("panicked".into()));
    let inside = spans.iter().find(|s| s.name == "inside").unwrap();
    assert_eq!(inside.parent_span_id, task_span.span_id);
}

#[test]
fn unsampled_spans_propagate_but_record_nothing() {
    let tracer = Tracer::builder().sampler(Sampler::AlwaysOff).build();
    let span = tracer.start_trace("quiet", SpanKind::Internal);
    assert!(!span.is_recording());
    assert!(!span.context().is_sampled());
    assert!(span.traceparent().ends_with("-00"));
    let id = span.context().trace_id;
    span.end();
    assert!(only(&tracer, id).is_empty());
    // Parent-based sampling follows an unsampled remote parent.
    let remote = SpanContext::extract(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        None,
    )
    .unwrap();
    assert!(
        !Tracer::default()
            .continue_trace(&remote, "x")
            .is_recording()
    );
}

#[test]
fn queue_overflow_drops_exactly_the_excess() {
    let tracer = Tracer::builder().queue_capacity(10).build();
    for _ in 0..25 {
        tracer.span("s").start().end();
    }
    assert_eq!(tracer.queued(), 10);
    assert_eq!(tracer.stats().queue_dropped, 15);
    assert_eq!(tracer.take_finished(100).len(), 10);
    tracer.span("s").start().end();
    assert_eq!(tracer.take_finished(100).len(), 1);
    assert_eq!(tracer.stats().queue_dropped, 15);
}

#[test]
fn the_newest_traces_are_kept_in_memory() {
    let tracer = Tracer::builder().recent_capacity(3).build();
    let ids: Vec<TraceId> = (0..4)
        .map(|_| {
            let span = tracer.span("s").root().start();
            let id = span.context().trace_id;
            span.end();
            id
        })
        .collect();
    assert_eq!(tracer.trace_ids(), ids[1..]);
    assert!(tracer.recent_spans(ids[0]).is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9_*/-]{0,20}",
            "[a-z0-9][a-z0-9_*/-]{0,10}@[a-z][a-z0-9_*/-]{0,13}",
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        // Printable ASCII without ',' and '=', not ending in a space.
        "[ -+\\--<>-~]{0,20}[!-+\\--<>-~]"
    }

    fn context() -> impl Strategy<Value = SpanContext> {
        (
            1..=u128::MAX,
            1..=u64::MAX,
            any::<bool>(),
            proptest::collection::vec((key(), value()), 0..8),
        )
            .prop_map(|(trace, span, sampled, members)| {
                let mut state = TraceState::EMPTY;
                for (k, v) in members.iter().rev() {
                    state = state.with(k, v).unwrap();
                }
                SpanContext {
                    trace_id: TraceId(trace),
                    span_id: SpanId(span),
                    flags: TraceFlags::default().with_sampled(sampled),
                    trace_state: state,
                    is_remote: true,
                }
            })
    }

    proptest! {
        #[test]
        fn inject_then_extract_is_the_identity(ctx in context()) {
            let header = ctx.traceparent();
            let extracted = SpanContext::extract(&header, Some(ctx.trace_state.header())).unwrap();
            prop_assert_eq!(extracted, ctx.clone());
            // Through the environment carrier too.
            let vars: std::collections::HashMap<_, _> = env_vars(&ctx).into_iter().collect();
            let from_env = context_from(|name| vars.get(name).filter(|v| !v.is_empty()).cloned()).unwrap();
            prop_assert_eq!(from_env, ctx);
        }

        #[test]
        fn arbitrary_headers_never_panic(traceparent in "\\PC{0,80}", tracestate in "\\PC{0,80}") {
            if let Some(ctx) = SpanContext::extract(&traceparent, Some(&tracestate)) {
                // Whatever is accepted re-encodes as a valid version-00 header.
                prop_assert!(TraceParent::parse(&ctx.traceparent()).is_some());
            }
        }

        #[test]
        fn nearly_valid_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 50..60)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = TraceParent::parse(&text);
            let _ = TraceState::parse([text.as_ref()]);
        }
    }
}

#[cfg(feature = "tracing")]
#[test]
fn tracing_spans_events_and_lookout_spans_nest() {
    use tracing_subscriber::layer::SubscriberExt;
    let tracer = tracer();
    let subscriber = tracing_subscriber::registry().with(LookoutLayer::new(tracer.clone()));
    let root = tracer.start_trace("lookout-root", SpanKind::Server);
    tracing::subscriber::with_default(subscriber, || {
        let _root = root.enter();
        let agent = tracing::info_span!("agent", kind = "coder", tokens = tracing::field::Empty);
        let _entered = agent.enter();
        agent.record("tokens", 1500u64);
        tracing::warn!(retry = true, "rate limited");
        // A Lookout span started inside a tracing span is its child.
        tracer.span("lookout-inside").start().end();
    });
    let id = root.context().trace_id;
    let root_id = root.context().span_id;
    root.end();
    let spans = tracer.recent_spans(id);
    let span = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let agent = span("agent");
    assert_eq!(agent.parent_span_id, root_id);
    assert_eq!(
        agent.attribute("kind"),
        Some(&AttributeValue::from("coder"))
    );
    assert_eq!(agent.attribute("tokens"), Some(&AttributeValue::Int(1500)));
    assert_eq!(agent.events[0].name, "rate limited");
    assert_eq!(
        agent.events[0].attributes,
        vec![KeyValue::new("retry", true)]
    );
    assert_eq!(span("lookout-inside").parent_span_id, agent.span_id);
}

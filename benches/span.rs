//! Spans: start+end of a root span, a child under a parent, and `traceparent`
//! inject+extract; Lookout beside opentelemetry_sdk 0.33 (always-on sampler, finished
//! spans kept in memory).
//!
//! `cargo bench --bench span`, then `python3 scripts/bench_table.py`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout::trace::{Sampler, SpanContext, SpanKind, Tracer};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Spans timed per chunk; between chunks, untimed, the finished spans are taken away
/// (Lookout's queue drained, the SDK's in-memory exporter emptied), so nothing is
/// dropped and memory stays flat.
const CHUNK: u64 = 4096;

/// Times `iters` runs of `op` in chunks, calling `between` untimed after each chunk.
fn chunked(iters: u64, mut op: impl FnMut(), mut between: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            op();
        }
        total += start.elapsed();
        between();
        left -= n;
    }
    total
}

/// Lookout, always on, with room for a chunk of finished spans.
fn lookout() -> Tracer {
    Tracer::builder()
        .sampler(Sampler::AlwaysOn)
        .queue_capacity(2 * CHUNK as usize)
        .recent_capacity(0)
        .build()
}

/// Takes the finished spans away and checks none was dropped.
fn drain(tracer: &Tracer) {
    black_box(tracer.take_finished(usize::MAX));
    assert_eq!(
        tracer.stats().queue_dropped,
        0,
        "the bench must not drop spans"
    );
}

/// The SDK with an always-on sampler exporting to memory through the simple processor.
fn otel() -> (
    SdkTracerProvider,
    opentelemetry_sdk::trace::SdkTracer,
    InMemorySpanExporter,
) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("bench");
    (provider, tracer, exporter)
}

fn start_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("span/start_end");
    let tracer = lookout();
    group.bench_function("lookout", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    tracer
                        .start_trace(black_box("agent-step"), SpanKind::Internal)
                        .end()
                },
                || drain(&tracer),
            )
        })
    });
    let (_provider, sdk, exporter) = otel();
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || sdk.start(black_box("agent-step")).end(),
                || exporter.reset(),
            )
        })
    });
    group.finish();
}

fn child(c: &mut Criterion) {
    let mut group = c.benchmark_group("span/child");
    let tracer = lookout();
    let parent = tracer.start_trace("session", SpanKind::Server);
    group.bench_function("lookout", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    tracer
                        .start_span(black_box(parent.context()), "tool-call")
                        .end()
                },
                || drain(&tracer),
            )
        })
    });
    let (_provider, sdk, exporter) = otel();
    let parent_cx = opentelemetry::Context::new().with_span(sdk.start("session"));
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    sdk.start_with_context("tool-call", black_box(&parent_cx))
                        .end()
                },
                || exporter.reset(),
            )
        })
    });
    group.finish();
}

fn inject_extract(c: &mut Criterion) {
    let mut group = c.benchmark_group("span/inject_extract");
    let tracer = lookout();
    let span = tracer.start_trace("session", SpanKind::Server);
    let context = span.context().clone();
    group.bench_function("lookout", |b| {
        b.iter(|| {
            let header = black_box(&context).traceparent();
            SpanContext::extract(black_box(&header), None)
        })
    });
    let (_provider, sdk, _exporter) = otel();
    let cx = opentelemetry::Context::new().with_span(sdk.start("session"));
    let propagator = TraceContextPropagator::new();
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let mut carrier = HashMap::new();
            propagator.inject_context(black_box(&cx), &mut carrier);
            propagator.extract(black_box(&carrier))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = start_end, child, inject_extract
}
criterion_main!(benches);

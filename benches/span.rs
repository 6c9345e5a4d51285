//! Spans: start+end of a root span, a child under a parent, and `traceparent`
//! inject+extract; Lookout beside opentelemetry_sdk 0.33 (always-on sampler, finished
//! spans kept in memory).
//!
//! `cargo bench --bench span`, then `python3 scripts/bench_table.py`.

#[path = "peers.rs"]
mod peers;

use criterion::{criterion_group, criterion_main, Criterion};
use lookout::trace::{Sampler, SpanContext, SpanKind, Tracer};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Lookout with a consumer thread taking finished spans off the queue, as an exporter
/// pipeline would; nothing is dropped.
struct Lookout {
    tracer: Tracer,
    stop: Arc<AtomicBool>,
    consumer: Option<std::thread::JoinHandle<u64>>,
}

impl Lookout {
    fn new() -> Self {
        let tracer = Tracer::builder()
            .sampler(Sampler::AlwaysOn)
            .queue_capacity(1 << 16)
            .store_capacity(0)
            .build();
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = {
            let (tracer, stop) = (tracer.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut taken = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let batch = tracer.take_finished(4096);
                    if batch.is_empty() {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    taken += batch.len() as u64;
                }
                taken
            })
        };
        Lookout {
            tracer,
            stop,
            consumer: Some(consumer),
        }
    }
}

impl Drop for Lookout {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(consumer) = self.consumer.take() {
            let _ = consumer.join();
        }
        assert_eq!(
            self.tracer.stats().queue_dropped,
            0,
            "the bench must not drop spans"
        );
    }
}

/// The SDK with an always-on sampler exporting to memory through the simple processor;
/// the exporter is emptied between samples so memory stays flat.
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
    let lookout = Lookout::new();
    group.bench_function("lookout", |b| {
        b.iter(|| {
            lookout
                .tracer
                .start_trace(black_box("agent-step"), SpanKind::Internal)
                .end()
        })
    });
    let (_provider, tracer, exporter) = otel();
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| tracer.start(black_box("agent-step")).end());
        exporter.reset();
    });
    group.finish();
}

fn child(c: &mut Criterion) {
    let mut group = c.benchmark_group("span/child");
    let lookout = Lookout::new();
    let parent = lookout.tracer.start_trace("session", SpanKind::Server);
    group.bench_function("lookout", |b| {
        b.iter(|| {
            lookout
                .tracer
                .start_span(black_box(parent.context()), "tool-call")
                .end()
        })
    });
    let (_provider, tracer, exporter) = otel();
    let parent_cx = opentelemetry::Context::new().with_span(tracer.start("session"));
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            tracer
                .start_with_context("tool-call", black_box(&parent_cx))
                .end()
        });
        exporter.reset();
    });
    group.finish();
}

fn inject_extract(c: &mut Criterion) {
    let mut group = c.benchmark_group("span/inject_extract");
    let lookout = Lookout::new();
    let span = lookout.tracer.start_trace("session", SpanKind::Server);
    let context = span.context().clone();
    group.bench_function("lookout", |b| {
        b.iter(|| {
            let header = black_box(&context).traceparent();
            SpanContext::extract(black_box(&header), None)
        })
    });
    let (_provider, tracer, _exporter) = otel();
    let cx = opentelemetry::Context::new().with_span(tracer.start("session"));
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

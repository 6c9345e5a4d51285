//! Histogram record, thread-safe: Lookout's handle beside prometheus, prometheus-client,
//! metrics, opentelemetry_sdk, and hdrhistogram behind a mutex and unsynchronised; then
//! the labelled record (three labels, the series exists) in every crate that has labels.
//! Every crate records the same 1,024 durations (1 ms to 10 s).
//!
//! `cargo bench --bench histogram`, then `python3 scripts/bench_table.py`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout::metrics::{Descriptor, HistogramOptions, Registry};
use peers::{BOUNDS, NAMES, VALUES};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Samples metrics buffers before an untimed upkeep drains them, as its upkeep thread would.
const CHUNK: u64 = 1 << 16;

/// Cycles through the durations, one per call.
fn cycle(values: &[f64]) -> impl FnMut() -> f64 + '_ {
    let mut i = 0;
    move || {
        i = (i + 1) & 1023;
        values[i]
    }
}

/// Times `iters` calls of `record` in chunks of [`CHUNK`], running the metrics
/// recorder's upkeep between chunks, untimed.
fn in_chunks(
    iters: u64,
    upkeep: &metrics_exporter_prometheus::PrometheusHandle,
    mut record: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            record();
        }
        total += start.elapsed();
        upkeep.run_upkeep();
        left -= n;
    }
    total
}

fn record(c: &mut Criterion) {
    let values = peers::durations();
    let mut group = c.benchmark_group("histogram/record");

    let registry = Registry::new();
    let family = registry
        .histogram_with(
            Descriptor::new("d_seconds", "d")
                .unit("seconds")
                .labels(NAMES),
            &HistogramOptions::seconds().buckets(BOUNDS),
        )
        .unwrap();
    let handle = family.get(&VALUES).unwrap();
    let mut next = cycle(&values);
    group.bench_function("lookout", |b| b.iter(|| handle.observe(black_box(next()))));

    let prometheus = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("d_seconds", "d").buckets(BOUNDS.to_vec()),
    )
    .unwrap();
    group.bench_function("prometheus", |b| {
        b.iter(|| prometheus.observe(black_box(next())))
    });

    let client = prometheus_client::metrics::histogram::Histogram::new(BOUNDS);
    group.bench_function("prometheus_client", |b| {
        b.iter(|| client.observe(black_box(next())))
    });

    let recorder = peers::metrics_recorder();
    let metrics = metrics::with_local_recorder(&recorder, || metrics::histogram!("d_seconds"));
    let upkeep = recorder.handle();
    group.bench_function("metrics", |b| {
        b.iter_custom(|iters| in_chunks(iters, &upkeep, || metrics.record(black_box(next()))))
    });

    let (_provider, meter) = peers::otel_meter(2000);
    let otel = meter
        .f64_histogram("d_seconds")
        .with_boundaries(BOUNDS.to_vec())
        .build();
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel.record(black_box(next()), &[]))
    });

    // The HDR baselines record microseconds, as Lookout's seconds preset does.
    let new_hdr = || hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).unwrap();
    let locked = parking_lot::Mutex::new(new_hdr());
    group.bench_function("hdrhistogram_mutex", |b| {
        b.iter(|| {
            locked
                .lock()
                .saturating_record((black_box(next()) * 1e6) as u64)
        })
    });
    let mut bare = new_hdr();
    group.bench_function("hdrhistogram_unsync", |b| {
        b.iter(|| bare.saturating_record((black_box(next()) * 1e6) as u64))
    });
    group.finish();
}

/// A labelled record where the series exists: the lookup by three label values, then
/// the observation, in every crate that offers labels.
fn labelled_record(c: &mut Criterion) {
    let values = peers::durations();
    let mut next = cycle(&values);
    let mut group = c.benchmark_group("histogram/labelled_record");

    let registry = Registry::new();
    let family = registry
        .histogram_with(
            Descriptor::new("d_seconds", "d")
                .unit("seconds")
                .labels(NAMES),
            &HistogramOptions::seconds().buckets(BOUNDS),
        )
        .unwrap();
    family.observe(&VALUES, 0.1);
    group.bench_function("lookout", |b| {
        b.iter(|| family.observe(black_box(&VALUES), black_box(next())))
    });

    let prometheus = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("d_seconds", "d").buckets(BOUNDS.to_vec()),
        &NAMES,
    )
    .unwrap();
    prometheus.with_label_values(&VALUES).observe(0.1);
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            prometheus
                .with_label_values(black_box(&VALUES))
                .observe(black_box(next()))
        })
    });

    let client = prometheus_client::metrics::family::Family::<
        Vec<(String, String)>,
        prometheus_client::metrics::histogram::Histogram,
    >::new_with_constructor(|| {
        prometheus_client::metrics::histogram::Histogram::new(BOUNDS)
    });
    let key = peers::client_labels(VALUES);
    client.get_or_create(&key).observe(0.1);
    group.bench_function("prometheus_client", |b| {
        b.iter(|| {
            client
                .get_or_create(black_box(&key))
                .observe(black_box(next()))
        })
    });

    let recorder = peers::metrics_recorder();
    let upkeep = recorder.handle();
    group.bench_function("metrics", |b| {
        metrics::with_local_recorder(&recorder, || {
            b.iter_custom(|iters| {
                in_chunks(iters, &upkeep, || {
                    metrics::histogram!("d_seconds", "agent_type" => "coder", "phase" => "code", "status" => "success")
                        .record(black_box(next()))
                })
            })
        })
    });

    let (_provider, meter) = peers::otel_meter(2000);
    let otel = meter
        .f64_histogram("d_seconds")
        .with_boundaries(BOUNDS.to_vec())
        .build();
    let attributes = peers::otel_attributes(VALUES);
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel.record(black_box(next()), black_box(&attributes)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = record, labelled_record
}
criterion_main!(benches);

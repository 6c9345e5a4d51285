//! Counter increments: a pre-resolved handle, a labelled lookup of an existing series
//! (3 labels), and both from 2 threads at once on one series; each through Lookout,
//! prometheus, prometheus-client, metrics and opentelemetry_sdk, beside a bare atomic.
//!
//! `cargo bench --bench counter`, then `python3 scripts/bench_table.py`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout::metrics::{Descriptor, Registry};
use peers::{NAMES, VALUES};
use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

type ClientFamily = prometheus_client::metrics::family::Family<
    Vec<(String, String)>,
    prometheus_client::metrics::counter::Counter,
>;

/// The same counter family in every crate.
struct Counters {
    lookout: lookout::metrics::Family<lookout::metrics::Counter>,
    prometheus: prometheus::IntCounterVec,
    client: ClientFamily,
    client_key: Vec<(String, String)>,
    metrics: metrics_exporter_prometheus::PrometheusRecorder,
    otel: opentelemetry::metrics::Counter<u64>,
    otel_attributes: [opentelemetry::KeyValue; 3],
    _otel_provider: opentelemetry_sdk::metrics::SdkMeterProvider,
}

impl Counters {
    fn new() -> Self {
        let registry = Registry::new();
        let lookout = registry
            .counter(Descriptor::new("agent_execution_total", "Executions").labels(NAMES))
            .unwrap();
        let prometheus = prometheus::IntCounterVec::new(
            prometheus::Opts::new("agent_execution_total", "Executions"),
            &NAMES,
        )
        .unwrap();
        let (provider, meter) = peers::otel_meter(2000);
        let counters = Counters {
            lookout,
            prometheus,
            client: ClientFamily::default(),
            client_key: peers::client_labels(VALUES),
            metrics: peers::metrics_recorder(),
            otel: meter.u64_counter("agent_execution_total").build(),
            otel_attributes: peers::otel_attributes(VALUES),
            _otel_provider: provider,
        };
        // Every series exists before measuring.
        counters.lookout.inc(&VALUES);
        counters.prometheus.with_label_values(&VALUES).inc();
        counters.client.get_or_create(&counters.client_key).inc();
        metrics::with_local_recorder(&counters.metrics, labelled_metrics_inc);
        counters.otel.add(1, &counters.otel_attributes);
        counters
    }
}

#[inline]
fn labelled_metrics_inc() {
    metrics::counter!("agent_execution_total", "agent_type" => "coder", "phase" => "code", "status" => "success")
        .increment(1);
}

fn handle_increment(c: &mut Criterion) {
    let counters = Counters::new();
    let mut group = c.benchmark_group("counter/handle_inc");
    let atomic = AtomicU64::new(0);
    group.bench_function("atomic", |b| {
        b.iter(|| black_box(&atomic).fetch_add(1, Ordering::Relaxed))
    });
    let lookout = counters.lookout.get(&VALUES).unwrap();
    group.bench_function("lookout", |b| b.iter(|| black_box(&lookout).inc()));
    let prometheus = prometheus::IntCounter::new("c", "c").unwrap();
    group.bench_function("prometheus", |b| b.iter(|| black_box(&prometheus).inc()));
    let client = prometheus_client::metrics::counter::Counter::<u64>::default();
    group.bench_function("prometheus_client", |b| b.iter(|| black_box(&client).inc()));
    let metrics = metrics::with_local_recorder(&counters.metrics, || metrics::counter!("c"));
    group.bench_function("metrics", |b| b.iter(|| black_box(&metrics).increment(1)));
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| black_box(&counters.otel).add(1, &[]))
    });
    group.finish();
}

fn labelled_increment(c: &mut Criterion) {
    let counters = Counters::new();
    let mut group = c.benchmark_group("counter/labelled_inc");
    group.bench_function("lookout", |b| {
        b.iter(|| counters.lookout.inc(black_box(&VALUES)))
    });
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            counters
                .prometheus
                .with_label_values(black_box(&VALUES))
                .inc()
        })
    });
    group.bench_function("prometheus_client", |b| {
        b.iter(|| {
            counters
                .client
                .get_or_create(black_box(&counters.client_key))
                .inc()
        })
    });
    group.bench_function("metrics", |b| {
        metrics::with_local_recorder(&counters.metrics, || b.iter(labelled_metrics_inc))
    });
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| counters.otel.add(1, black_box(&counters.otel_attributes)))
    });
    group.finish();
}

/// Runs `op` `iters` times on each of 2 threads released together by a barrier and
/// returns the slower thread's time, so the figure is per op per thread.
fn two_threads(iters: u64, op: impl Fn() + Sync) -> Duration {
    two_threads_in(iters, |run| run(), op)
}

/// [`two_threads`], each thread's loop running inside `enter` (metrics' local recorder).
fn two_threads_in(
    iters: u64,
    enter: impl Fn(&mut dyn FnMut()) + Sync,
    op: impl Fn() + Sync,
) -> Duration {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut elapsed = Duration::ZERO;
                    enter(&mut || {
                        barrier.wait();
                        let start = Instant::now();
                        for _ in 0..iters {
                            op();
                        }
                        elapsed = start.elapsed();
                    });
                    elapsed
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap()
    })
}

fn contended(c: &mut Criterion) {
    let counters = Counters::new();
    let mut group = c.benchmark_group("counter/contended_2_threads");
    let atomic = AtomicU64::new(0);
    group.bench_function("atomic", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                black_box(&atomic).fetch_add(1, Ordering::Relaxed);
            })
        })
    });
    let handle = counters.lookout.get(&VALUES).unwrap();
    group.bench_function("lookout_handle", |b| {
        b.iter_custom(|n| two_threads(n, || black_box(&handle).inc()))
    });
    group.bench_function("lookout", |b| {
        b.iter_custom(|n| two_threads(n, || counters.lookout.inc(black_box(&VALUES))))
    });
    group.bench_function("prometheus", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                counters
                    .prometheus
                    .with_label_values(black_box(&VALUES))
                    .inc()
            })
        })
    });
    group.bench_function("prometheus_client", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                counters
                    .client
                    .get_or_create(black_box(&counters.client_key))
                    .inc();
            })
        })
    });
    let recorder = &counters.metrics;
    group.bench_function("metrics", |b| {
        b.iter_custom(|n| {
            two_threads_in(
                n,
                |run| metrics::with_local_recorder(recorder, run),
                labelled_metrics_inc,
            )
        })
    });
    group.bench_function("opentelemetry_sdk", |b| {
        b.iter_custom(|n| {
            two_threads(n, || {
                counters.otel.add(1, black_box(&counters.otel_attributes))
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = handle_increment, labelled_increment, contended
}
criterion_main!(benches);

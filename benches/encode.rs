//! Encoding 1,000 series to Prometheus text: 5 counter and 5 histogram families, 100
//! label sets each (3 labels), the same buckets everywhere: about 7,500 lines. Lookout
//! beside prometheus' TextEncoder, prometheus-client and metrics-exporter-prometheus.
//! Then 100,000 series (10,000 label sets a family, about 750,000 lines, 55 MB) beside
//! the two fastest: how encoding scales once the series no longer fit in the caches.
//!
//! `cargo bench --bench encode`, then `python3 scripts/bench_table.py`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout::metrics::{Descriptor, HistogramOptions, Registry};
use lookout::prometheus::{Format, encode};
use peers::{BOUNDS, NAMES};
use prometheus::Encoder as _;
use std::hint::black_box;

const FAMILIES: usize = 5;

/// Calls `f(family index, label values, value)` for every family and `label_sets` label
/// sets.
fn for_each_series(label_sets: usize, mut f: impl FnMut(usize, &[&str; 3], f64)) {
    for family in 0..FAMILIES {
        for i in 0..label_sets {
            let labels = peers::label_set(i);
            let labels = [labels[0].as_str(), labels[1].as_str(), labels[2].as_str()];
            f(
                family,
                &labels,
                0.001 * (i + 1) as f64 * (family + 1) as f64,
            );
        }
    }
}

fn lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// Lookout's registry: the families filled with `label_sets` label sets each.
fn lookout_registry(label_sets: usize) -> Registry {
    let registry = Registry::with_cardinality_limit(label_sets.max(2_000));
    let counters: Vec<_> = (0..FAMILIES)
        .map(|f| {
            registry
                .counter(Descriptor::new(format!("c{f}_total"), "c").labels(NAMES))
                .unwrap()
        })
        .collect();
    let histograms: Vec<_> = (0..FAMILIES)
        .map(|f| {
            let d = Descriptor::new(format!("h{f}_seconds"), "h")
                .unit("seconds")
                .labels(NAMES);
            registry
                .histogram_with(d, &HistogramOptions::seconds().buckets(BOUNDS))
                .unwrap()
        })
        .collect();
    for_each_series(label_sets, |f, labels, v| {
        counters[f].add(labels, 3);
        histograms[f].observe(labels, v);
    });
    registry
}

/// The same in prometheus.
fn prometheus_registry(label_sets: usize) -> prometheus::Registry {
    let prom = prometheus::Registry::new();
    let prom_counters: Vec<_> = (0..FAMILIES)
        .map(|f| {
            let c = prometheus::IntCounterVec::new(
                prometheus::Opts::new(format!("c{f}_total"), "c"),
                &NAMES,
            )
            .unwrap();
            prom.register(Box::new(c.clone())).unwrap();
            c
        })
        .collect();
    let prom_histograms: Vec<_> = (0..FAMILIES)
        .map(|f| {
            let opts = prometheus::HistogramOpts::new(format!("h{f}_seconds"), "h")
                .buckets(BOUNDS.to_vec());
            let h = prometheus::HistogramVec::new(opts, &NAMES).unwrap();
            prom.register(Box::new(h.clone())).unwrap();
            h
        })
        .collect();
    for_each_series(label_sets, |f, labels, v| {
        prom_counters[f].with_label_values(labels).inc_by(3);
        prom_histograms[f].with_label_values(labels).observe(v);
    });
    prom
}

/// The same in prometheus-client.
fn client_registry(label_sets: usize) -> prometheus_client::registry::Registry {
    type Labels = Vec<(String, String)>;
    use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
    let mut client = prometheus_client::registry::Registry::default();
    let client_counters: Vec<Family<Labels, Counter>> = (0..FAMILIES)
        .map(|f| {
            let family = Family::default();
            client.register(format!("c{f}"), "c", family.clone());
            family
        })
        .collect();
    fn new_histogram() -> Histogram {
        Histogram::new(BOUNDS)
    }
    type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;
    let client_histograms: Vec<HistogramFamily> = (0..FAMILIES)
        .map(|f| {
            let family = Family::new_with_constructor(new_histogram as fn() -> Histogram);
            client.register(format!("h{f}_seconds"), "h", family.clone());
            family
        })
        .collect();
    for_each_series(label_sets, |f, labels, v| {
        let key = peers::client_labels(*labels);
        client_counters[f].get_or_create(&key).inc_by(3);
        client_histograms[f].get_or_create(&key).observe(v);
    });
    client
}

fn encode_1000_series(c: &mut Criterion) {
    let registry = lookout_registry(100);
    let prom = prometheus_registry(100);
    let client = client_registry(100);

    // metrics + metrics-exporter-prometheus
    let recorder = peers::metrics_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for_each_series(100, |f, labels, v| {
            let pairs: Vec<(&'static str, String)> = NAMES
                .iter()
                .zip(labels)
                .map(|(n, v)| (*n, v.to_string()))
                .collect();
            metrics::counter!(format!("c{f}_total"), &pairs).increment(3);
            metrics::histogram!(format!("h{f}_seconds"), &pairs).record(v);
        })
    });

    let mut buf = Vec::new();
    encode(&registry, Format::Text, &mut buf);
    let mut prom_buf = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&prom.gather(), &mut prom_buf)
        .unwrap();
    let mut client_text = String::new();
    prometheus_client::encoding::text::encode(&mut client_text, &client).unwrap();
    eprintln!(
        "sample lines: lookout {} (with its self-metrics), prometheus {}, prometheus-client {}, metrics {}",
        lines(std::str::from_utf8(&buf).unwrap()),
        lines(std::str::from_utf8(&prom_buf).unwrap()),
        lines(&client_text),
        lines(&handle.render()),
    );

    let mut group = c.benchmark_group("encode/1000_series");
    bench_encoders(&mut group, &registry, &prom, &client);
    group.bench_function("metrics", |b| b.iter(|| black_box(handle.render())));
    group.finish();
}

/// Lookout's, prometheus's and prometheus-client's encoders, each into a buffer it reuses.
fn bench_encoders(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    registry: &Registry,
    prom: &prometheus::Registry,
    client: &prometheus_client::registry::Registry,
) {
    let (mut buf, mut prom_buf, mut client_text) = (Vec::new(), Vec::new(), String::new());
    group.bench_function("lookout", |b| {
        b.iter(|| {
            buf.clear();
            encode(black_box(registry), Format::Text, &mut buf);
        })
    });
    group.bench_function("prometheus", |b| {
        b.iter(|| {
            prom_buf.clear();
            prometheus::TextEncoder::new()
                .encode(&prom.gather(), &mut prom_buf)
                .unwrap();
        })
    });
    group.bench_function("prometheus_client", |b| {
        b.iter(|| {
            client_text.clear();
            prometheus_client::encoding::text::encode(&mut client_text, black_box(client)).unwrap();
        })
    });
}

fn encode_100k_series(c: &mut Criterion) {
    let registry = lookout_registry(10_000);
    let prom = prometheus_registry(10_000);
    let client = client_registry(10_000);
    let mut group = c.benchmark_group("encode/100k_series");
    group.sample_size(10);
    bench_encoders(&mut group, &registry, &prom, &client);
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = encode_1000_series, encode_100k_series
}
criterion_main!(benches);

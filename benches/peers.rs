//! Shared setup for the benches: the same family in every crate a user might pick.
//!
//! Included with `#[path = "peers.rs"] mod peers;` by each bench.
#![allow(dead_code)]

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider, Stream};

/// Label names and the values of the series every counter bench hits.
pub const NAMES: [&str; 3] = ["agent_type", "phase", "status"];
pub const VALUES: [&str; 3] = ["coder", "code", "success"];

/// Prometheus' default bucket bounds, used by every crate in the histogram benches.
pub const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The criterion settings every bench uses: short enough for a 2-core machine.
pub fn criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(50)
}

/// Values of the `i`th of many distinct label sets.
pub fn label_set(i: usize) -> [String; 3] {
    [
        format!("agent-{i}"),
        format!("phase-{}", i % 7),
        format!("status-{}", i % 3),
    ]
}

/// prometheus-client label set.
pub fn client_labels(values: [&str; 3]) -> Vec<(String, String)> {
    NAMES
        .iter()
        .zip(values)
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// opentelemetry attributes.
pub fn otel_attributes(values: [&str; 3]) -> [opentelemetry::KeyValue; 3] {
    [0, 1, 2].map(|i| opentelemetry::KeyValue::new(NAMES[i], values[i].to_string()))
}

/// An OpenTelemetry meter with a manual reader and a cardinality limit raised to `limit`.
pub fn otel_meter(limit: usize) -> (SdkMeterProvider, opentelemetry::metrics::Meter) {
    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .with_view(move |_: &opentelemetry_sdk::metrics::Instrument| {
            Stream::builder().with_cardinality_limit(limit).build().ok()
        })
        .build();
    let meter = provider.meter("bench");
    (provider, meter)
}

/// A metrics-exporter-prometheus recorder with histograms as buckets.
pub fn metrics_recorder() -> metrics_exporter_prometheus::PrometheusRecorder {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&BOUNDS)
        .expect("non-empty buckets")
        .build_recorder()
}

/// 1,024 durations in seconds, log-spaced from 1 ms to 10 s and shuffled, the same for
/// every crate.
pub fn durations() -> Vec<f64> {
    let mut values: Vec<f64> = (0..1024)
        .map(|i| 1e-3 * 10f64.powf(4.0 * f64::from(i) / 1023.0))
        .collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..values.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values.swap(i, (state % (i as u64 + 1)) as usize);
    }
    values
}

/// Prints `rows` (a call and its latencies in ns) as a markdown table of p50, p99, p99.9
/// and max in µs.
pub fn latency_table(rows: &[(&str, &hdrhistogram::Histogram<u64>)]) {
    let us = |h: &hdrhistogram::Histogram<u64>, q| h.value_at_quantile(q) as f64 / 1e3;
    println!("| call | p50 | p99 | p99.9 | max |\n| --- | ---: | ---: | ---: | ---: |");
    for (name, h) in rows {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} |",
            us(h, 0.5),
            us(h, 0.99),
            us(h, 0.999),
            h.max() as f64 / 1e3
        );
    }
}

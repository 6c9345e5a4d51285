//! The export pipeline's cost to the host, and exporting 1,000 metrics.
//!
//! - `record`: a labelled counter increment, a histogram observation and a span, with no
//!   exporter beside with an exporter whose peer never answers (the pipeline keeps
//!   retrying and dropping in the background). Per-call p50/p99 are printed after the
//!   criterion groups.
//! - `export_1000`: one flush of 1,000 series (5 counter and 5 histogram families, 100
//!   label sets each) through each exporter, against seed 003's figures (Prometheus
//!   50 ms, JSON 100 ms, OTLP 200 ms).
//!
//! `cargo bench --bench export`, then `python3 scripts/bench_table.py record export_1000`.

#[path = "peers.rs"]
mod peers;

use criterion::{criterion_group, Criterion};
use lookout::export::{PipelineBuilder, RetryPolicy};
use lookout::metrics::{Counter, Descriptor, Family, Histogram, HistogramOptions};
use lookout::Telemetry;
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan, MetricsBatch};
use peers::{BOUNDS, NAMES, VALUES};
use std::hint::black_box;
use std::time::Duration;

/// An exporter whose peer never answers: every send hangs until the pipeline's timeout.
struct Stalled;

impl Exporter for Stalled {
    type Payload = ();
    fn name(&self) -> &str {
        "stalled"
    }
    fn destination(&self) -> String {
        "nowhere".into()
    }
    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<()>> {
        Some(Encoded {
            payload: (),
            items: spans.len(),
        })
    }
    fn encode_metrics(&self, _: &MetricsBatch<'_>) -> Option<Encoded<()>> {
        Some(Encoded {
            payload: (),
            items: 1,
        })
    }
    async fn send(&self, _: &()) -> Result<(), ExportError> {
        std::future::pending().await
    }
}

/// What the host records in each iteration.
struct Recorder {
    telemetry: Telemetry,
    counter: Family<Counter>,
    histogram: Family<Histogram>,
}

impl Recorder {
    fn new(pipeline: Option<PipelineBuilder>) -> Self {
        let mut builder = Telemetry::builder().without_env_exporters();
        if let Some(pipeline) = pipeline {
            builder = builder.exporters(pipeline);
        }
        let telemetry = builder.build().unwrap();
        let registry = telemetry.registry();
        let counter = registry
            .counter(Descriptor::new("bench_calls_total", "c").labels(NAMES))
            .unwrap();
        let histogram = registry
            .histogram_with(
                Descriptor::new("bench_seconds", "h")
                    .unit("seconds")
                    .labels(NAMES),
                &HistogramOptions::seconds().buckets(BOUNDS),
            )
            .unwrap();
        Recorder {
            telemetry,
            counter,
            histogram,
        }
    }

    #[inline]
    fn record(&self) {
        self.counter.inc(&VALUES);
        self.histogram.observe(&VALUES, 0.042);
        self.telemetry.tracer().span("tool").start().end();
    }
}

/// With no exporter nothing drains the span queue, so a thread drains it as the
/// pipeline's dispatcher would: both sides then push into a queue with room.
fn drain_in_background(telemetry: &Telemetry) -> impl Drop {
    struct Stop(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, tracer) = (stop.clone(), telemetry.tracer().clone());
    std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            black_box(tracer.take_finished(usize::MAX));
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    Stop(stop)
}

fn stalled_pipeline() -> PipelineBuilder {
    PipelineBuilder::new()
        .exporter(Stalled)
        .export_timeout(Duration::from_millis(200))
        .metric_interval(Duration::from_millis(100))
        .span_delay(Duration::from_millis(10))
        .retry(RetryPolicy::default())
        .shutdown_timeout(Duration::from_millis(100))
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    let bare = Recorder::new(None);
    let _drain = drain_in_background(&bare.telemetry);
    group.bench_function("lookout_no_exporter", |b| b.iter(|| bare.record()));
    let stalled = Recorder::new(Some(stalled_pipeline()));
    group.bench_function("lookout_stalled_exporter", |b| b.iter(|| stalled.record()));
    group.finish();
    print_percentiles(&[("no exporter", &bare), ("stalled exporter", &stalled)]);
}

/// Times single calls and prints p50, p99 and p99.9 (the clock read is in every figure).
fn print_percentiles(recorders: &[(&str, &Recorder)]) {
    let clock = quanta::Clock::new();
    println!("\nrecord latency per call (ns), 200,000 calls each, clock read included:");
    println!("| host | p50 | p99 | p99.9 |\n| --- | --- | --- | --- |");
    for (name, recorder) in recorders {
        let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        for _ in 0..200_000 {
            let start = clock.raw();
            recorder.record();
            let end = clock.raw();
            let _ = histogram.record(clock.delta_as_nanos(start, end));
        }
        println!(
            "| {name} | {} | {} | {} |",
            histogram.value_at_quantile(0.5),
            histogram.value_at_quantile(0.99),
            histogram.value_at_quantile(0.999)
        );
    }
}

/// A telemetry handle holding the 1,000 series of `export_1000`.
fn thousand_series(pipeline: PipelineBuilder) -> Telemetry {
    let telemetry = Telemetry::builder()
        .without_env_exporters()
        .exporters(pipeline)
        .build()
        .unwrap();
    let registry = telemetry.registry();
    for f in 0..5 {
        let counter = registry
            .counter(Descriptor::new(format!("c{f}_total"), "c").labels(NAMES))
            .unwrap();
        let histogram = registry
            .histogram_with(
                Descriptor::new(format!("h{f}_seconds"), "h")
                    .unit("seconds")
                    .labels(NAMES),
                &HistogramOptions::seconds().buckets(BOUNDS),
            )
            .unwrap();
        for i in 0..100 {
            let labels = peers::label_set(i);
            let labels = [labels[0].as_str(), labels[1].as_str(), labels[2].as_str()];
            counter.add(&labels, 3);
            histogram.observe(&labels, 0.001 * (i + 1) as f64);
        }
    }
    telemetry
}

fn export_1000(c: &mut Criterion) {
    let mut group = c.benchmark_group("export_1000");
    group.sample_size(20);

    let telemetry = thousand_series(PipelineBuilder::new());
    group.bench_function("lookout_prometheus_scrape", |b| {
        b.iter(|| black_box(telemetry.prometheus_text()))
    });

    let dir = tempfile::tempdir().unwrap();
    let mut config = lookout_exporter_json::JsonFileConfig::new(dir.path());
    config.max_files = 3;
    let json = lookout_exporter_json::JsonFileExporter::new(config).unwrap();
    let telemetry = thousand_series(PipelineBuilder::new().exporter(json));
    group.bench_function("lookout_json_file", |b| {
        b.iter(|| assert!(telemetry.flush().is_ok()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = record, export_1000
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}

//! The export pipeline's cost to the host, and exporting 1,000 metrics.
//!
//! - `record`: a labelled counter increment, a histogram observation and a span, with no
//!   exporter beside with an OTLP exporter whose receiver never answers (the pipeline
//!   keeps timing out, retrying and dropping in the background). Per-call p50/p99 are printed after the
//!   criterion groups.
//! - `export_1000`: one flush of 1,000 series (5 counter and 5 histogram families, 100
//!   label sets each) through each exporter, against seed 003's figures (Prometheus
//!   50 ms, JSON 100 ms, OTLP 200 ms), and the same series through opentelemetry_sdk's
//!   own pipeline (periodic reader, opentelemetry-otlp HTTP exporter) to the same receiver.
//!
//! `cargo bench --bench export`, then `python3 scripts/bench_table.py record export_1000`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group};
use lookout::Telemetry;
use lookout::metrics::{Counter, Descriptor, Family, Histogram, HistogramOptions};
use lookout::pipeline::{PipelineBuilder, RetryPolicy};
use lookout_exporter_otlp::receiver::{Answer, Receiver};
use lookout_exporter_otlp::{OtlpConfig, OtlpExporter, Protocol};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use peers::{BOUNDS, NAMES, VALUES};
use std::hint::black_box;
use std::time::Duration;

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
fn drain_in_background(telemetry: &Telemetry) -> impl Drop + use<> {
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

/// An OTLP exporter pointed at a receiver that never answers.
fn stalled_pipeline(receiver: &Receiver) -> PipelineBuilder {
    receiver.script(std::iter::repeat_n(Answer::Stall, 1_000_000));
    let mut config = OtlpConfig::new(&receiver.endpoint(), Protocol::HttpProtobuf);
    config.timeout = Duration::from_millis(200);
    PipelineBuilder::new()
        .exporter(OtlpExporter::new(config).unwrap())
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
    let receiver = Receiver::start(Protocol::HttpProtobuf);
    let stalled = Recorder::new(Some(stalled_pipeline(&receiver)));
    group.bench_function("lookout_stalled_otlp", |b| b.iter(|| stalled.record()));
    group.finish();
    print_percentiles(&[
        ("no exporter", &bare),
        ("OTLP to a stalled receiver", &stalled),
    ]);
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

    for (protocol, name) in [(Protocol::HttpProtobuf, "http"), (Protocol::Grpc, "grpc")] {
        let receiver = Receiver::start(protocol);
        let config = OtlpConfig::new(&receiver.endpoint(), protocol);
        let telemetry =
            thousand_series(PipelineBuilder::new().exporter(OtlpExporter::new(config).unwrap()));
        group.bench_function(format!("lookout_otlp_{name}"), |b| {
            b.iter(|| assert!(telemetry.flush().is_ok()))
        });
        // Lookout's own families ride along with the 1,000 series. (Nothing arrived when
        // a filter skipped this bench.)
        let points = points_in_last_export(&receiver);
        if points > 0 {
            assert!(points >= 1_000, "{points} data points per export");
            println!("lookout_otlp_{name}: {points} data points per export");
        }
    }

    // The same 1,000 series through opentelemetry_sdk's own pipeline: instruments,
    // a periodic reader and opentelemetry-otlp's HTTP exporter, to the same receiver.
    let receiver = Receiver::start(Protocol::HttpProtobuf);
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/metrics", receiver.endpoint()))
        .build()
        .unwrap();
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
        .with_interval(Duration::from_secs(3600))
        .build();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(reader)
        .build();
    let meter = provider.meter("bench");
    for f in 0..5 {
        let counter = meter.u64_counter(format!("c{f}")).build();
        let histogram = meter
            .f64_histogram(format!("h{f}_seconds"))
            .with_boundaries(BOUNDS.to_vec())
            .build();
        for i in 0..100 {
            let labels = peers::label_set(i);
            let attributes = peers::otel_attributes([&labels[0], &labels[1], &labels[2]]);
            counter.add(3, &attributes);
            histogram.record(0.001 * (i + 1) as f64, &attributes);
        }
    }
    group.bench_function("opentelemetry_sdk_otlp_http", |b| {
        b.iter(|| provider.force_flush().unwrap())
    });
    let points = points_in_last_export(&receiver);
    assert!(
        matches!(points, 0 | 1_000),
        "the SDK exported {points} points"
    );
    group.finish();
}

/// Data points in the last metrics request `receiver` accepted.
fn points_in_last_export(receiver: &Receiver) -> usize {
    use lookout_exporter_otlp::proto::metrics::v1::metric::Data;
    let Some(request) = receiver.received().metrics.pop() else {
        return 0;
    };
    request.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|metric| match &metric.data {
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            _ => 0,
        })
        .sum()
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

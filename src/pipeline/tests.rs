//! The pipeline against scripted exporters: delivery, retries, isolation, drops.

use super::*;
use crate::Telemetry;
use lookout_export::{Encoded, ExportError, FinishedSpan, MetricsBatch};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An exporter whose answers a test scripts; it records what it was sent.
#[derive(Clone, Default)]
struct Scripted {
    name: &'static str,
    /// Answers to the next span sends; `Ok` once they run out.
    answers: Arc<Mutex<VecDeque<Result<(), ExportError>>>>,
    /// Never answers.
    stall: bool,
    /// Span names delivered, in order.
    spans: Arc<Mutex<Vec<String>>>,
    /// Metric collections delivered.
    collections: Arc<AtomicUsize>,
    /// Every send, with its time.
    attempts: Arc<Mutex<Vec<Instant>>>,
    /// The name of the thread each send ran on.
    threads: Arc<Mutex<Vec<Option<String>>>>,
}

impl Scripted {
    fn named(name: &'static str) -> Self {
        Scripted {
            name,
            ..Scripted::default()
        }
    }

    fn stalled(name: &'static str) -> Self {
        Scripted {
            stall: true,
            ..Scripted::named(name)
        }
    }
}

enum Payload {
    Spans(Vec<String>),
    Metrics,
}

impl Exporter for Scripted {
    type Payload = Payload;

    fn name(&self) -> &str {
        self.name
    }

    fn destination(&self) -> String {
        "memory".into()
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Payload>> {
        let names = spans.iter().map(|s| s.name.to_string()).collect();
        Some(Encoded {
            payload: Payload::Spans(names),
            items: spans.len(),
        })
    }

    fn encode_metrics(&self, _batch: &MetricsBatch<'_>) -> Option<Encoded<Payload>> {
        Some(Encoded {
            payload: Payload::Metrics,
            items: 1,
        })
    }

    async fn send(&self, payload: &Payload) -> Result<(), ExportError> {
        self.attempts.lock().push(Instant::now());
        let thread = std::thread::current().name().map(str::to_owned);
        self.threads.lock().push(thread);
        if self.stall {
            std::future::pending::<()>().await;
        }
        match payload {
            Payload::Spans(names) => {
                let answer = self.answers.lock().pop_front().unwrap_or(Ok(()));
                if answer.is_ok() {
                    self.spans.lock().extend(names.iter().cloned());
                }
                answer
            }
            Payload::Metrics => {
                self.collections.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        max_elapsed: Duration::from_secs(5),
    }
}

/// Fast retries and a short batching delay; tests override what they test.
fn base() -> PipelineBuilder {
    PipelineBuilder::new()
        .retry(fast_retries())
        .span_delay(Duration::from_millis(20))
}

fn telemetry(pipeline: PipelineBuilder) -> Telemetry {
    Telemetry::builder()
        .without_env_exporters()
        .tracer(crate::trace::Tracer::builder().queue_capacity(100_000))
        .exporters(pipeline)
        .build()
        .unwrap()
}

/// The value of one series of the text exposition.
fn sample(telemetry: &Telemetry, series: &str) -> u64 {
    let text = telemetry.prometheus_text();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
        .parse()
        .unwrap()
}

fn end_spans(telemetry: &Telemetry, n: usize) {
    for i in 0..n {
        telemetry.tracer().span(format!("s{i}")).start().end();
    }
}

#[test]
fn a_given_runtime_runs_the_exporters_on_its_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("host-runtime")
        .enable_all()
        .build()
        .unwrap();
    let exporter = Scripted::named("scripted");
    let telemetry = telemetry(
        base()
            .exporter(exporter.clone())
            .runtime(runtime.handle().clone()),
    );
    end_spans(&telemetry, 10);
    let report = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || telemetry.shutdown(Duration::from_secs(5)))
            .await
            .unwrap()
    });
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(exporter.spans.lock().len(), 10);
    let threads = exporter.threads.lock();
    assert!(
        !threads.is_empty()
            && threads
                .iter()
                .all(|name| name.as_deref() == Some("host-runtime")),
        "sent from {threads:?}"
    );
}

#[test]
fn every_span_arrives_by_shutdown_from_many_threads() {
    let exporter = Scripted::named("scripted");
    let telemetry = telemetry(
        base()
            .exporter(exporter.clone())
            .max_batch(100)
            .queue_capacity(10_000),
    );
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| end_spans(&telemetry, 2_500));
        }
    });
    let report = telemetry.shutdown(Duration::from_secs(10));
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(exporter.spans.lock().len(), 10_000);
    assert_eq!(report.spans(), 10_000, "{report:?}");
    let labels = r#"{exporter="scripted",signal="spans"}"#;
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_exported_total{labels}")
        ),
        10_000
    );
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_dropped_total{labels}")
        ),
        0
    );
    assert_eq!(
        telemetry.shutdown(Duration::from_secs(1)),
        FlushReport::default(),
        "a second shutdown has nothing to do"
    );
}

#[test]
fn retryable_failures_are_retried_and_permanent_ones_are_not() {
    let exporter = Scripted::named("scripted");
    exporter.answers.lock().extend([
        Err(ExportError::from_http_status(503, None, "")),
        Err(ExportError::transient("connect", "refused", None)),
        Ok(()),
        Err(ExportError::from_http_status(400, None, "bad")),
    ]);
    let telemetry = telemetry(base().exporter(exporter.clone()));
    end_spans(&telemetry, 3);
    let first = telemetry.flush();
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(first.exporters[0].spans, 3);
    end_spans(&telemetry, 2);
    let second = telemetry.flush();
    assert_eq!(second.exporters[0].failed, 2, "{second:?}");
    assert_eq!(second.exporters[0].error.as_deref(), Some("HTTP 400: bad"));
    // 3 attempts for the first batch, 1 for the second; metric collections succeed.
    assert_eq!(exporter.spans.lock().len(), 3);
    let labels = r#"{exporter="scripted",signal="spans"}"#;
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_retries_total{labels}")
        ),
        2
    );
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_failed_total{labels}")
        ),
        2
    );
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_exported_total{labels}")
        ),
        3
    );
    let errors = r#"lookout_exporter_errors_total{exporter="scripted",signal="spans",reason="#;
    assert_eq!(sample(&telemetry, &format!("{errors}\"http_status\"}}")), 2);
    assert_eq!(sample(&telemetry, &format!("{errors}\"connect\"}}")), 1);
}

#[test]
fn retry_after_is_waited() {
    let exporter = Scripted::named("scripted");
    let delay = Duration::from_millis(300);
    exporter
        .answers
        .lock()
        .push_back(Err(ExportError::from_http_status(429, Some(delay), "")));
    let telemetry = telemetry(base().exporter(exporter.clone()));
    end_spans(&telemetry, 1);
    assert!(telemetry.flush().is_ok());
    let attempts = exporter.attempts.lock();
    assert!(
        attempts[1] - attempts[0] >= delay,
        "{:?}",
        attempts[1] - attempts[0]
    );
}

#[test]
fn a_stalled_exporter_stalls_nothing_else() {
    let stalled = Scripted::stalled("stalled");
    let healthy = Scripted::named("healthy");
    let telemetry = telemetry(
        base()
            .exporter(stalled.clone())
            .exporter(healthy.clone())
            .export_timeout(Duration::from_millis(100))
            .retry(RetryPolicy::never()),
    );
    end_spans(&telemetry, 50);
    let report = telemetry.flush();
    assert_eq!(report.exporters[1].spans, 50, "{report:?}");
    assert_eq!(healthy.spans.lock().len(), 50);
    assert_eq!(
        report.exporters[0].failed,
        50 + 1,
        "spans and a metric collection"
    );
    let timeouts =
        r#"lookout_exporter_errors_total{exporter="stalled",signal="spans",reason="timeout"}"#;
    assert_eq!(sample(&telemetry, timeouts), 1);
}

#[test]
fn a_full_queue_drops_and_counts_exactly() {
    let stalled = Scripted::stalled("stalled");
    let telemetry = telemetry(
        base()
            .exporter(stalled.clone())
            .export_timeout(Duration::from_secs(3600))
            .max_batch(10)
            .queue_capacity(10),
    );
    end_spans(&telemetry, 100);
    let started = Instant::now();
    let report = telemetry.shutdown(Duration::from_millis(300));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown kept its deadline"
    );
    assert!(report.exporters[0].timed_out, "{report:?}");
    // One batch in the stalled send, one queued, the rest dropped on arrival; shutdown
    // counts the two it abandons: every span is accounted for, once.
    let labels = r#"{exporter="stalled",signal="spans"}"#;
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_dropped_total{labels}")
        ),
        100
    );
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_exported_total{labels}")
        ),
        0
    );
}

#[test]
fn metrics_go_out_every_interval() {
    let exporter = Scripted::named("scripted");
    let telemetry = telemetry(
        base()
            .exporter(exporter.clone())
            .metric_interval(Duration::from_millis(100)),
    );
    std::thread::sleep(Duration::from_millis(550));
    let collections = exporter.collections.load(Ordering::Relaxed);
    assert!(
        (3..=7).contains(&collections),
        "{collections} collections in 550 ms"
    );
    drop(telemetry);
    assert!(
        exporter.collections.load(Ordering::Relaxed) > collections,
        "a last one at shutdown"
    );
}

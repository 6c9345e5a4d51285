//! One exporter's task: takes span batches and metric ticks, sends them with retries,
//! counts every outcome.

use super::Shared;
use super::report::ExporterReport;
use super::self_metrics::{Signal, SignalMetrics};
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan, MetricsBatch};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

/// What the pipeline asks of a worker besides exporting.
pub(crate) enum Command {
    /// Send everything queued and a metrics collection now, flush, and report.
    Flush(std::sync::mpsc::Sender<ExporterReport>),
    /// The same, then stop.
    Shutdown(std::sync::mpsc::Sender<ExporterReport>),
}

/// Span batches for one worker.
pub(crate) type SpanBatch = Arc<[FinishedSpan]>;

/// The pipeline's side of a worker.
#[derive(Debug)]
pub(crate) struct WorkerHandle {
    pub(crate) name: String,
    pub(crate) destination: String,
    pub(crate) spans: mpsc::Sender<SpanBatch>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    /// Spans handed over whose outcome is not counted yet.
    pub(crate) queued: Arc<AtomicUsize>,
    pub(crate) span_metrics: SignalMetrics,
}

impl WorkerHandle {
    /// Hands a batch over without waiting; when the worker's queue is full the batch is
    /// dropped and counted.
    pub(crate) fn offer(&self, batch: &SpanBatch) {
        self.queued.fetch_add(batch.len(), Ordering::Relaxed);
        if self.spans.try_send(Arc::clone(batch)).is_err() {
            self.queued.fetch_sub(batch.len(), Ordering::Relaxed);
            self.span_metrics.dropped.add(batch.len() as u64);
        }
    }

    /// Hands a batch over, waiting for room until `deadline`; then drops and counts it.
    /// Polls rather than blocks, so it works on any thread, async or not.
    pub(crate) fn offer_until(&self, batch: &SpanBatch, deadline: Instant) {
        let mut batch = Arc::clone(batch);
        self.queued.fetch_add(batch.len(), Ordering::Relaxed);
        loop {
            match self.spans.try_send(batch) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(back)) if Instant::now() < deadline => {
                    batch = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(error) => {
                    let batch = error.into_inner();
                    self.queued.fetch_sub(batch.len(), Ordering::Relaxed);
                    self.span_metrics.dropped.add(batch.len() as u64);
                    return;
                }
            }
        }
    }
}

/// Starts `exporter`'s task on the pipeline's runtime.
pub(crate) fn spawn<E: Exporter>(exporter: E, shared: &Arc<Shared>) -> WorkerHandle {
    let [span_metrics, metric_metrics] = shared.metrics.for_exporter(exporter.name());
    let (spans_tx, spans) = mpsc::channel(shared.settings.queue_batches());
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let handle = WorkerHandle {
        name: exporter.name().to_owned(),
        destination: exporter.destination(),
        spans: spans_tx,
        commands: commands_tx,
        queued: Arc::clone(&queued),
        span_metrics: span_metrics.clone(),
    };
    let worker = Worker {
        exporter,
        shared: Arc::clone(shared),
        span_metrics,
        metric_metrics,
        queued,
        report: ExporterReport::new(&handle.name, &handle.destination),
        last_error: None,
    };
    shared.runtime.spawn(worker.run(spans, commands));
    handle
}

struct Worker<E> {
    exporter: E,
    shared: Arc<Shared>,
    span_metrics: SignalMetrics,
    metric_metrics: SignalMetrics,
    queued: Arc<AtomicUsize>,
    /// Counts since the last flush.
    report: ExporterReport,
    /// The last failure logged, so a failing peer is logged once, not once per batch.
    last_error: Option<String>,
}

impl<E: Exporter> Worker<E> {
    async fn run(
        mut self,
        mut spans: mpsc::Receiver<SpanBatch>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let every = self.shared.settings.metric_interval;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    while let Ok(batch) = spans.try_recv() {
                        self.export_spans(&batch).await;
                    }
                    self.export_metrics().await;
                    if let Err(error) = self.exporter.flush().await {
                        self.failed_attempt(Signal::Metrics, &error);
                        self.report.error = Some(error.to_string());
                    }
                    let fresh =
                        ExporterReport::new(&self.report.exporter, &self.report.destination);
                    let report = std::mem::replace(&mut self.report, fresh);
                    match command {
                        Command::Flush(reply) => {
                            let _ = reply.send(report);
                        }
                        Command::Shutdown(reply) => {
                            let _ = reply.send(report);
                            break;
                        }
                    }
                }
                Some(batch) = spans.recv() => self.export_spans(&batch).await,
                _ = tick.tick() => self.export_metrics().await,
            }
        }
    }

    /// Exports a batch; it counts as queued until its outcome is counted, so a shutdown
    /// that abandons it counts it as dropped.
    async fn export_spans(&mut self, batch: &[FinishedSpan]) {
        if let Some(encoded) = self.exporter.encode_spans(batch) {
            self.deliver(Signal::Spans, encoded).await;
        }
        // Saturating: a shutdown that gave up on this batch has zeroed the count.
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(batch.len()))
            });
    }

    async fn export_metrics(&mut self) {
        let encoded = self.exporter.encode_metrics(&MetricsBatch::new(
            &self.shared.registry,
            self.shared.start_time,
            SystemTime::now(),
            &self.shared.resource,
        ));
        if let Some(encoded) = encoded {
            self.deliver(Signal::Metrics, encoded).await;
        }
    }

    /// Sends one batch, retrying what may pass later within the retry policy and the
    /// shutdown deadline; counts the outcome.
    async fn deliver(&mut self, signal: Signal, encoded: Encoded<E::Payload>) {
        let started = Instant::now();
        let give_up_at = started + self.shared.settings.retry.max_elapsed;
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let error = match self.send_once(&encoded.payload).await {
                Ok(()) => break Ok(()),
                Err(error) => error,
            };
            self.failed_attempt(signal, &error);
            if !error.is_retryable() {
                break Err(error);
            }
            let wait = self.shared.settings.retry.backoff(
                attempt,
                error.retry_after(),
                crate::trace::random_u64(),
            );
            let deadline = self
                .shared
                .shutdown_deadline()
                .map_or(give_up_at, |d| d.min(give_up_at));
            if Instant::now() + wait > deadline {
                break Err(error);
            }
            self.metrics(signal).retries.inc();
            tokio::time::sleep(wait).await;
        };
        let metrics = self.metrics(signal).clone();
        metrics.duration.observe_duration(started.elapsed());
        let items = encoded.items as u64;
        match outcome {
            Ok(()) => {
                metrics.exported.add(items);
                self.report.add_exported(signal, items);
                if self.last_error.take().is_some() {
                    eprintln!("lookout: exporter {} recovered", self.report.exporter);
                }
            }
            Err(error) => {
                metrics.failed.add(items);
                self.report.failed += items;
                self.report.error = Some(error.to_string());
            }
        }
    }

    async fn send_once(&self, payload: &E::Payload) -> Result<(), ExportError> {
        let timeout = self.shared.settings.export_timeout;
        match tokio::time::timeout(timeout, self.exporter.send(payload)).await {
            Ok(result) => result,
            Err(_) => Err(ExportError::transient(
                "timeout",
                format!("no answer within {:.3} s", timeout.as_secs_f64()),
                None,
            )),
        }
    }

    /// Counts a failed attempt by reason and logs it when it differs from the last one.
    fn failed_attempt(&mut self, signal: Signal, error: &ExportError) {
        self.shared
            .metrics
            .count_error(&self.report.exporter, signal, error.reason());
        let message = error.to_string();
        if self.last_error.as_deref() != Some(message.as_str()) {
            eprintln!(
                "lookout: exporter {} ({}): {message}",
                self.report.exporter, self.report.destination
            );
            self.last_error = Some(message);
        }
    }

    fn metrics(&self, signal: Signal) -> &SignalMetrics {
        match signal {
            Signal::Spans => &self.span_metrics,
            Signal::Metrics => &self.metric_metrics,
        }
    }
}

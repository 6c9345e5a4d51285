//! The export pipeline: push exporters fed with finished spans and periodic metric
//! collections, each in its own task, never in the host's way.
//!
//! ```text
//! span.end() ─▶ tracer queue ─▶ dispatcher (batch by size or delay) ─┬▶ worker ─▶ OTLP
//!                                                                    └▶ worker ─▶ JSON files
//! registry ◀── collect every interval, per worker ──────────────────────────────┘
//! ```
//!
//! The pipeline owns a small tokio runtime, so the host needs none (or runs on the host's,
//! given with [`PipelineBuilder::runtime`]). Every queue is bounded:
//! a full queue drops and counts (`lookout_exporter_dropped_total`), it never waits. A
//! worker sends each batch once per attempt and retries only what
//! [`ExportError::is_retryable`](lookout_export::ExportError::is_retryable), with
//! exponential backoff and jitter ([`RetryPolicy`]), honouring `Retry-After`. A slow or
//! dead exporter stalls its own worker only. [`Pipeline::flush`] and
//! [`Pipeline::shutdown`] wait at most a deadline.
//!
//! ```
//! use lookout::pipeline::PipelineBuilder;
//! use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! /// Counts the spans it is sent.
//! struct Counting(Arc<AtomicUsize>);
//! impl Exporter for Counting {
//!     type Payload = usize;
//!     fn name(&self) -> &str { "counting" }
//!     fn destination(&self) -> String { "memory".into() }
//!     fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<usize>> {
//!         Some(Encoded { payload: spans.len(), items: spans.len() })
//!     }
//!     async fn send(&self, n: &usize) -> Result<(), ExportError> {
//!         self.0.fetch_add(*n, Ordering::Relaxed);
//!         Ok(())
//!     }
//! }
//!
//! let seen = Arc::new(AtomicUsize::new(0));
//! let telemetry = lookout::Telemetry::builder()
//!     .without_env_exporters()
//!     .exporters(PipelineBuilder::new().exporter(Counting(seen.clone())))
//!     .build()
//!     .unwrap();
//! telemetry.tracer().span("work").start().end();
//! let report = telemetry.shutdown(Duration::from_secs(5));
//! assert!(report.is_ok());
//! assert_eq!(seen.load(Ordering::Relaxed), 1);
//! ```

mod configured;
mod dispatcher;
mod report;
mod retry;
mod self_metrics;
#[cfg(test)]
mod tests;
mod worker;

pub use report::{ExporterReport, FlushReport};
pub use retry::RetryPolicy;

use crate::metrics::{MetricError, Registry};
use crate::trace::Tracer;
use dispatcher::Dispatcher;
use lookout_export::Exporter;
use parking_lot::Mutex;
use self_metrics::PipelineMetrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use worker::{Command, WorkerHandle};

/// Pipeline settings; every exporter of a pipeline shares them.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) metric_interval: Duration,
    pub(crate) span_delay: Duration,
    pub(crate) max_batch: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) export_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl Settings {
    /// Batches a worker's queue holds: its span capacity in whole batches.
    pub(crate) fn queue_batches(&self) -> usize {
        self.queue_capacity.div_ceil(self.max_batch).max(1)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            metric_interval: Duration::from_secs(60),
            span_delay: Duration::from_secs(1),
            max_batch: 512,
            queue_capacity: 2048,
            retry: RetryPolicy::default(),
            export_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// What every worker of a pipeline reads.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    /// The process the metrics belong to: the tracer's resource.
    pub(crate) resource: Arc<lookout_export::Resource>,
    pub(crate) start_time: SystemTime,
    pub(crate) settings: Settings,
    pub(crate) metrics: PipelineMetrics,
    pub(crate) runtime: tokio::runtime::Handle,
    shutdown_deadline: Mutex<Option<Instant>>,
}

impl Shared {
    /// When shutdown must be over, once it has begun: retries stop short of it.
    pub(crate) fn shutdown_deadline(&self) -> Option<Instant> {
        *self.shutdown_deadline.lock()
    }
}

type Launch = Box<dyn FnOnce(&Arc<Shared>) -> WorkerHandle + Send>;

/// The exporters of a [`crate::Telemetry`] and how they are fed.
pub struct PipelineBuilder {
    settings: Settings,
    exporters: Vec<(String, Launch)>,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("settings", &self.settings)
            .field("exporters", &self.exporter_names().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for PipelineBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PipelineBuilder {
    /// No exporters, default settings.
    pub fn new() -> Self {
        PipelineBuilder {
            settings: Settings::default(),
            exporters: Vec::new(),
            runtime: None,
        }
    }

    /// Adds an exporter; it gets its own task and queue.
    pub fn exporter<E: Exporter>(mut self, exporter: E) -> Self {
        let name = exporter.name().to_owned();
        self.exporters.push((
            name,
            Box::new(move |shared| worker::spawn(exporter, shared)),
        ));
        self
    }

    /// The names of the exporters added so far.
    pub fn exporter_names(&self) -> impl Iterator<Item = &str> {
        self.exporters.iter().map(|(name, _)| name.as_str())
    }

    /// Whether no exporter was added.
    pub fn is_empty(&self) -> bool {
        self.exporters.is_empty()
    }

    /// How often each exporter is sent a metrics collection (default 60 s, as
    /// `OTEL_METRIC_EXPORT_INTERVAL`).
    pub fn metric_interval(mut self, interval: Duration) -> Self {
        self.settings.metric_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The longest a finished span waits for its batch to fill (default 1 s).
    pub fn span_delay(mut self, delay: Duration) -> Self {
        self.settings.span_delay = delay;
        self
    }

    /// Spans per batch at most (default 512).
    pub fn max_batch(mut self, spans: usize) -> Self {
        self.settings.max_batch = spans.max(1);
        self
    }

    /// Spans each exporter's queue holds before new batches are dropped (default 2,048).
    pub fn queue_capacity(mut self, spans: usize) -> Self {
        self.settings.queue_capacity = spans;
        self
    }

    /// When to retry a failed export (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// How long one attempt may take before it counts as a timeout (default 10 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.settings.export_timeout = timeout;
        self
    }

    /// How long dropping the last [`crate::Telemetry`] waits for the exporters (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// Runs the exporters on `runtime` (an application's, or a command's) instead of a
    /// two-thread runtime of the pipeline's own. Flushing and shutting down still block the
    /// calling thread: from async code, call them through `spawn_blocking`, and shut down
    /// before the last [`crate::Telemetry`] is dropped on an async thread.
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Registers the self-metrics and starts the runtime (unless one was given), the
    /// dispatcher and one worker per exporter.
    pub(crate) fn start(
        self,
        registry: &Registry,
        tracer: &Tracer,
    ) -> Result<Pipeline, StartError> {
        let metrics = PipelineMetrics::register(registry)?;
        let (own, handle) = match self.runtime {
            Some(handle) => (None, handle),
            None => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("lookout-export")
                    .enable_all()
                    .build()
                    .map_err(StartError::Runtime)?;
                let handle = runtime.handle().clone();
                (Some(runtime), handle)
            }
        };
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            resource: Arc::clone(tracer.resource()),
            start_time: SystemTime::now(),
            settings: self.settings,
            metrics,
            runtime: handle,
            shutdown_deadline: Mutex::new(None),
        });
        let workers: Arc<[WorkerHandle]> = self
            .exporters
            .into_iter()
            .map(|(_, launch)| launch(&shared))
            .collect();
        let dispatcher = Arc::new(Dispatcher::new(tracer.clone(), &shared.settings));
        let stopped = Arc::new(AtomicBool::new(false));
        shared.runtime.spawn(dispatcher::run(
            Arc::clone(&dispatcher),
            Arc::clone(&workers),
            Arc::clone(&stopped),
        ));
        Ok(Pipeline {
            runtime: Mutex::new(own),
            shared,
            workers,
            dispatcher,
            stopped,
        })
    }
}

/// Why a pipeline could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Its self-metrics clash with families already in the registry.
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// Its runtime could not start (no threads left?).
    #[error("cannot start the export runtime: {0}")]
    Runtime(std::io::Error),
    /// An exporter could not be opened (its directory cannot be created, a header cannot
    /// be sent, ...).
    #[error("{exporter}: {source}")]
    Exporter {
        /// The exporter.
        exporter: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Running exporters. Dropping it shuts them down within the shutdown timeout.
pub struct Pipeline {
    /// The runtime the pipeline started for itself; `None` on a given one.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    shared: Arc<Shared>,
    workers: Arc<[WorkerHandle]>,
    dispatcher: Arc<Dispatcher>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field(
                "exporters",
                &self.workers.iter().map(|w| &w.name).collect::<Vec<_>>(),
            )
            .field("settings", &self.shared.settings)
            .finish()
    }
}

impl Pipeline {
    /// Sends every finished span and a metrics collection to every exporter now, and
    /// waits until they are delivered or `timeout` passes.
    ///
    /// Blocks the calling thread; from async code call it through `spawn_blocking`.
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        if self.stopped.load(Ordering::Acquire) {
            return FlushReport::default();
        }
        let deadline = Instant::now() + timeout;
        self.dispatcher.pump_all(&self.workers, deadline);
        self.ask(deadline, Command::Flush)
    }

    /// Flushes as [`Pipeline::flush`] does, then stops every exporter. Retries stop at
    /// the deadline; spans still queued then are counted as dropped. Later calls return
    /// an empty report.
    pub fn shutdown(&self, timeout: Duration) -> FlushReport {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return FlushReport::default();
        }
        let deadline = Instant::now() + timeout;
        *self.shared.shutdown_deadline.lock() = Some(deadline);
        self.dispatcher.pump_all(&self.workers, deadline);
        let report = self.ask(deadline, Command::Shutdown);
        for (worker, outcome) in self.workers.iter().zip(&report.exporters) {
            if outcome.timed_out {
                let lost = worker.queued.swap(0, Ordering::Relaxed);
                worker.span_metrics.dropped.add(lost as u64);
            }
        }
        if let Some(runtime) = self.runtime.lock().take() {
            runtime.shutdown_background();
        }
        report
    }

    /// Sends `command` to every worker and collects their reports until `deadline`.
    fn ask(
        &self,
        deadline: Instant,
        command: fn(std::sync::mpsc::Sender<ExporterReport>) -> Command,
    ) -> FlushReport {
        let replies: Vec<_> = self
            .workers
            .iter()
            .map(|worker| {
                let (tx, rx) = std::sync::mpsc::channel();
                let _ = worker.commands.send(command(tx));
                rx
            })
            .collect();
        let exporters = self
            .workers
            .iter()
            .zip(replies)
            .map(|(worker, reply)| {
                let left = deadline.saturating_duration_since(Instant::now());
                reply.recv_timeout(left).unwrap_or_else(|_| {
                    let mut report = ExporterReport::new(&worker.name, &worker.destination);
                    report.timed_out = true;
                    report
                })
            })
            .collect();
        FlushReport { exporters }
    }

    /// How long a flush or shutdown waits by default.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shared.settings.shutdown_timeout
    }

    /// The exporters' names and destinations.
    pub fn exporters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.workers
            .iter()
            .map(|w| (w.name.as_str(), w.destination.as_str()))
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown(self.shared.settings.shutdown_timeout);
    }
}

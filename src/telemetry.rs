//! The handle an application holds: a registry with the agent families registered.

use crate::agent::{AgentExecutionGuard, AgentMetrics, ToolCallGuard, semconv};
use crate::config::{Config, ConfigError};
use crate::metrics::{DEFAULT_CARDINALITY_LIMIT, MetricError, Registry};
use crate::pipeline::{FlushReport, Pipeline, PipelineBuilder, StartError};
use crate::trace::{Tracer, TracerBuilder};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lookout in one handle: the metrics registry and the agent layer on top of it.
/// Cloning is cheap and shares everything.
#[derive(Debug, Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    agents: AgentMetrics,
    tracer: Tracer,
    parent: Option<crate::trace::SpanContext>,
    started: Instant,
    /// Declared before the pipeline, whose shutdown flushes into it.
    pipeline: Option<Pipeline>,
    /// Skill entries (seed 000).
    skills: crate::skills::Skills,
    /// Sessions (seed 001).
    sessions: crate::sessions::Sessions,
    /// Runs (seed 002), recorded in the store.
    #[cfg(feature = "store")]
    runs: crate::runs::Runs,
    /// Declared last: dropped last, after the pipeline sent it everything.
    #[cfg(feature = "store")]
    store: Option<lookout_store::Store>,
}

#[cfg(feature = "store")]
impl Drop for Inner {
    /// The runs' background threads (git, posting) may hold the store a moment longer
    /// than the last handle: what was recorded is made durable now, spans first.
    fn drop(&mut self) {
        drop(self.pipeline.take());
        if let Some(store) = &self.store {
            let _ = store.flush(STORE_CLOSE_TIMEOUT);
        }
    }
}

/// How long dropping the last handle waits for the store.
#[cfg(feature = "store")]
const STORE_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for a [`Telemetry`].
#[derive(Debug)]
pub struct TelemetryBuilder {
    cardinality_limit: usize,
    redactor: crate::redact::Redactor,
    tracer: TracerBuilder,
    exporters: PipelineBuilder,
    config: ConfigSource,
}

/// Where a builder's configured exporters come from.
#[derive(Debug, Clone)]
enum ConfigSource {
    /// `Config::from_env_or_warn()` at build time: a variable that cannot be used is a
    /// warning (seed 002), the others apply.
    Environment,
    /// A config the caller built.
    Given(Box<Config>),
    /// Only the exporters added by hand.
    Nothing,
}

/// Why a [`Telemetry`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Registering a family failed.
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// The configuration (file or environment) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The export pipeline could not start.
    #[error(transparent)]
    Pipeline(#[from] StartError),
}

impl TelemetryBuilder {
    /// Series per family before new label sets go to the overflow series (default 2,000).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit;
        self
    }

    /// How skill inputs and session prompts, data and metadata are redacted (default:
    /// [`crate::redact::Redactor::default`]; add key words, turn emails or credentials off).
    pub fn redactor(mut self, redactor: crate::redact::Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Tracer settings: sampler, span limits, queue size, recent traces kept in memory.
    pub fn tracer(mut self, tracer: TracerBuilder) -> Self {
        self.tracer = tracer;
        self
    }

    /// Exporters and pipeline settings; the configured exporters are added to them.
    pub fn exporters(mut self, exporters: PipelineBuilder) -> Self {
        self.exporters = exporters;
        self
    }

    /// Exporters from `config` instead of the environment.
    pub fn config(mut self, config: Config) -> Self {
        self.config = ConfigSource::Given(Box::new(config));
        self
    }

    /// No exporters from the environment (`OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `LOOKOUT_JSON_DIR`, `LOOKOUT_SPAN_LOG`, ...): only those given by hand.
    pub fn without_env_exporters(mut self) -> Self {
        self.config = ConfigSource::Nothing;
        self
    }

    /// Builds the registry, registers the agent families and starts the exporters, if
    /// any are configured.
    pub fn build(self) -> Result<Telemetry, BuildError> {
        let config = match self.config {
            ConfigSource::Environment => Some(Config::from_env_or_warn()),
            ConfigSource::Given(config) => Some(*config),
            ConfigSource::Nothing => None,
        };
        let mut resource = self.tracer.resource_or_default();
        for kv in config.iter().flat_map(|c| &c.resource.attributes) {
            resource.set(kv.key.clone(), kv.value.clone());
        }
        let registry = Registry::with_cardinality_limit(self.cardinality_limit);
        let agents = AgentMetrics::register(&registry)?;
        let tracer = self.tracer.resource(resource).build();
        register_tracer_metrics(&registry, &tracer)?;
        #[allow(unused_mut)]
        let mut exporters = match &config {
            Some(config) => self.exporters.configured(config)?,
            None => self.exporters,
        };
        #[cfg(feature = "store")]
        let store = config
            .as_ref()
            .and_then(|c| c.store.clone())
            .map(lookout_store::Store::open);
        #[cfg(feature = "store")]
        let runs = crate::runs::Runs::new(
            &registry,
            tracer.clone(),
            store.clone(),
            config.as_ref().and_then(|c| c.runs_api_url.clone()),
            config.as_ref().and_then(|c| c.runs_api_token.clone()),
        )?;
        #[cfg(feature = "store")]
        if let Some(store) = &store {
            register_store_metrics(&registry, store)?;
            exporters = exporters.exporter(lookout_store::StoreExporter::new(store.clone()));
        }
        let skills = crate::skills::Skills::new(
            &registry,
            tracer.clone(),
            self.redactor.clone(),
            config
                .as_ref()
                .and_then(Config::skills_dir_or_default)
                .as_deref(),
            #[cfg(feature = "store")]
            store.clone(),
        )?;
        let sessions = crate::sessions::Sessions::new(
            &registry,
            tracer.clone(),
            self.redactor,
            config.as_ref().map_or(1.0, |c| c.session_sample_rate),
            #[cfg(feature = "store")]
            store.clone(),
        )?;
        let pipeline = if exporters.is_empty() {
            None
        } else {
            tracer.attach_pipeline();
            Some(exporters.start(&registry, &tracer)?)
        };
        Ok(Telemetry {
            inner: Arc::new(Inner {
                registry,
                agents,
                tracer,
                parent: crate::trace::context_from_env(),
                started: Instant::now(),
                pipeline,
                skills,
                sessions,
                #[cfg(feature = "store")]
                runs,
                #[cfg(feature = "store")]
                store,
            }),
        })
    }
}

impl TelemetryBuilder {
    /// Builds; an error (a bad configuration, an exporter that cannot open) is reported
    /// on stderr and leaves every setting but the redactor at its default with no
    /// exporters: recording never fails for it.
    pub fn build_or_warn(self) -> Telemetry {
        // Redaction is not a setting to lose: what it hides stays hidden.
        let redactor = self.redactor.clone();
        self.build().unwrap_or_else(|error| {
            eprintln!("lookout: {error}; exporting nothing");
            Telemetry::builder()
                .redactor(redactor)
                .without_env_exporters()
                .build()
                .expect("the agent families are constants, valid by construction (see tests)")
        })
    }
}

/// Exports what the tracer dropped or cut as `lookout_spans_dropped_total{reason}`,
/// brought up to date at each collection.
fn register_tracer_metrics(registry: &Registry, tracer: &Tracer) -> Result<(), MetricError> {
    let dropped = registry.counter(
        crate::metrics::Descriptor::new(
            "lookout_spans_dropped_total",
            "Spans, attributes, events and links the tracer dropped, and values it cut, by reason.",
        )
        .labels(["reason"]),
    )?;
    let tracer = tracer.clone();
    let last = parking_lot::Mutex::new(crate::trace::TracerStats::default());
    registry.on_collect(move || {
        let now = tracer.stats();
        let mut last = last.lock();
        for (reason, now, before) in [
            ("queue_full", now.queue_dropped, last.queue_dropped),
            (
                "attribute_limit",
                now.attributes_dropped,
                last.attributes_dropped,
            ),
            ("event_limit", now.events_dropped, last.events_dropped),
            ("link_limit", now.links_dropped, last.links_dropped),
            (
                "value_truncated",
                now.values_truncated,
                last.values_truncated,
            ),
        ] {
            dropped.add(&[reason], now.saturating_sub(before));
        }
        *last = now;
    });
    Ok(())
}

/// Exports what the store wrote and dropped: `lookout_store_records_total{outcome}`
/// (`logged`, `indexed`, `replayed`) and `lookout_store_dropped_total{reason}`.
#[cfg(feature = "store")]
fn register_store_metrics(
    registry: &Registry,
    store: &lookout_store::Store,
) -> Result<(), MetricError> {
    use crate::metrics::Descriptor;
    let records = registry.counter(
        Descriptor::new(
            "lookout_store_records_total",
            "Records the durable store appended to its log, indexed, and replayed from the log.",
        )
        .labels(["outcome"]),
    )?;
    let dropped = registry.counter(
        Descriptor::new(
            "lookout_store_dropped_total",
            "Records the durable store could not keep, by reason.",
        )
        .labels(["reason"]),
    )?;
    for reason in lookout_store::DropReason::ALL {
        dropped.add(&[reason.as_str()], 0);
    }
    let store = store.clone();
    let last = parking_lot::Mutex::new(lookout_store::StoreStats::default());
    registry.on_collect(move || {
        let now = store.stats();
        let mut last = last.lock();
        for (outcome, now, before) in [
            ("logged", now.logged, last.logged),
            ("indexed", now.indexed, last.indexed),
            ("replayed", now.replayed, last.replayed),
        ] {
            records.add(&[outcome], now.saturating_sub(before));
        }
        for reason in lookout_store::DropReason::ALL {
            let delta = now.dropped(reason).saturating_sub(last.dropped(reason));
            dropped.add(&[reason.as_str()], delta);
        }
        *last = now;
    });
    Ok(())
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A telemetry handle with default settings and the exporters the environment
    /// configures. A configuration error is reported on stderr and leaves the exporters
    /// off: recording never fails for it.
    pub fn new() -> Self {
        Self::builder().build_or_warn()
    }

    /// Settings to build a telemetry handle from.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder {
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            redactor: crate::redact::Redactor::default(),
            tracer: Tracer::builder(),
            exporters: PipelineBuilder::new(),
            config: ConfigSource::Environment,
        }
    }

    /// The registry, for custom families and for exporters.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The agent layer: `track_agent_execution`, `track_tool_usage`, ...
    pub fn agents(&self) -> &AgentMetrics {
        &self.inner.agents
    }

    /// The tracer: spans and trace context.
    pub fn tracer(&self) -> &Tracer {
        &self.inner.tracer
    }

    /// Starts an agent execution with its span, `invoke_agent {agent_type}`, a child of
    /// the current span (or of the parent this process was given, or a new trace). Ending
    /// it ends the span and records the execution metrics with the span's duration.
    pub fn start_agent(
        &self,
        agent_id: &str,
        agent_type: &str,
        phase: &str,
    ) -> AgentExecutionGuard {
        let mut span = self.tracer().span(format!("invoke_agent {agent_type}"));
        if crate::trace::current().is_none()
            && let Some(parent) = self.inner.parent.as_ref()
        {
            span = span.parent(parent);
        }
        let span = span
            .attribute(semconv::OPERATION_NAME, "invoke_agent")
            .attribute(semconv::AGENT_NAME, agent_type.to_owned())
            .attribute(semconv::AGENT_ID, agent_id.to_owned())
            .attribute(semconv::PHASE, phase.to_owned())
            .start();
        self.agents()
            .start_agent_with_span(span, agent_id, agent_type, phase)
    }

    /// Starts a tool call with its span, `execute_tool {tool}`, a child of the current
    /// span. Ending it ends the span and records the tool metrics with its duration.
    pub fn start_tool(&self, tool: &str) -> ToolCallGuard {
        let span = self
            .tracer()
            .span(format!("execute_tool {tool}"))
            .attribute(semconv::OPERATION_NAME, "execute_tool")
            .attribute(semconv::TOOL_NAME, tool.to_owned())
            .start();
        self.agents().start_tool_with_span(span, tool)
    }

    /// Skill captures (seed 000): `create_entry`, `capture`, timed calls; entries go to
    /// spans, the skill families, the store and `telemetry.json` when configured.
    pub fn skills(&self) -> &crate::skills::Skills {
        &self.inner.skills
    }

    /// Sessions (seed 001): `start_session`, `record_event`, `end_session`,
    /// `export_to_file`; a session is a trace, stored when the store is configured.
    pub fn sessions(&self) -> &crate::sessions::Sessions {
        &self.inner.sessions
    }

    /// The parent context this process was started with (`TRACEPARENT` or
    /// `TRACE_CONTEXT`), if any.
    pub fn parent(&self) -> Option<&crate::trace::SpanContext> {
        self.inner.parent.as_ref()
    }

    /// Runs (seed 002's `track_run`, `start_run`, `end_run`), feature `store`; their
    /// records need a configured store.
    #[cfg(feature = "store")]
    pub fn runs(&self) -> &crate::runs::Runs {
        &self.inner.runs
    }

    /// The durable store, if one is configured (feature `store`).
    #[cfg(feature = "store")]
    pub fn store(&self) -> Option<&lookout_store::Store> {
        self.inner.store.as_ref()
    }

    /// The running exporters, if any are configured.
    pub fn pipeline(&self) -> Option<&Pipeline> {
        self.inner.pipeline.as_ref()
    }

    /// Sends every finished span and a metrics collection to every exporter now and
    /// waits for them, at most the pipeline's shutdown timeout. A short-lived process
    /// calls this (or [`Telemetry::shutdown`]) before it exits. Blocks the thread.
    pub fn flush(&self) -> FlushReport {
        match &self.inner.pipeline {
            Some(pipeline) => pipeline.flush(pipeline.shutdown_timeout()),
            None => FlushReport::default(),
        }
    }

    /// Flushes, then stops the exporters; waits at most `timeout`. Recording goes on
    /// working, but nothing is exported after this.
    pub fn shutdown(&self, timeout: Duration) -> FlushReport {
        match &self.inner.pipeline {
            Some(pipeline) => pipeline.shutdown(timeout),
            None => FlushReport::default(),
        }
    }

    /// Time since this handle was built.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// The Prometheus text exposition (format 0.0.4) of everything recorded, as a scrape
    /// would see it, without a server.
    #[cfg(feature = "prometheus")]
    pub fn prometheus_text(&self) -> String {
        crate::prometheus::encode_to_string(self.registry(), crate::prometheus::Format::Text)
    }
}

//! The handle an application holds: a registry with the agent families registered.

use crate::agent::{semconv, AgentExecutionGuard, AgentMetrics, ToolCallGuard};
use crate::metrics::{MetricError, Registry, DEFAULT_CARDINALITY_LIMIT};
use crate::trace::{SpanLog, Tracer, TracerBuilder};
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
    span_log: Option<SpanLog>,
    parent: Option<crate::trace::SpanContext>,
    started: Instant,
}

/// Settings for a [`Telemetry`].
#[derive(Debug, Clone)]
pub struct TelemetryBuilder {
    cardinality_limit: usize,
    tracer: TracerBuilder,
    span_log: Option<SpanLog>,
}

impl TelemetryBuilder {
    /// Series per family before new label sets go to the overflow series (default 2,000).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit;
        self
    }

    /// Tracer settings: sampler, span limits, queue and store sizes.
    pub fn tracer(mut self, tracer: TracerBuilder) -> Self {
        self.tracer = tracer;
        self
    }

    /// Where [`Telemetry::flush`] appends finished spans (default: `LOOKOUT_SPAN_LOG`).
    pub fn span_log(mut self, log: Option<SpanLog>) -> Self {
        self.span_log = log;
        self
    }

    /// Builds the registry and registers the agent families in it.
    pub fn build(self) -> Result<Telemetry, MetricError> {
        let registry = Registry::with_cardinality_limit(self.cardinality_limit);
        let agents = AgentMetrics::register(&registry)?;
        let tracer = self.tracer.build();
        register_tracer_metrics(&registry, &tracer)?;
        Ok(Telemetry {
            inner: Arc::new(Inner {
                registry,
                agents,
                tracer,
                span_log: self.span_log,
                parent: crate::trace::context_from_env(),
                started: Instant::now(),
            }),
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

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A telemetry handle with default settings.
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("the agent families are constants, valid by construction (see tests)")
    }

    /// Settings to build a telemetry handle from.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder {
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            tracer: Tracer::builder(),
            span_log: SpanLog::from_env(),
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
        if crate::trace::current().is_none() {
            if let Some(parent) = self.inner.parent.as_ref() {
                span = span.parent(parent);
            }
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

    /// The parent context this process was started with (`TRACEPARENT` or
    /// `TRACE_CONTEXT`), if any.
    pub fn parent(&self) -> Option<&crate::trace::SpanContext> {
        self.inner.parent.as_ref()
    }

    /// Appends the finished spans waiting in the queue to the span log, if there is one;
    /// returns how many. A short-lived process calls this before it exits.
    pub fn flush(&self) -> std::io::Result<usize> {
        let Some(log) = &self.inner.span_log else {
            return Ok(0);
        };
        let spans = self.inner.tracer.take_finished(usize::MAX);
        log.append(&spans)?;
        Ok(spans.len())
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

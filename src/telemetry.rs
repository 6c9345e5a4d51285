//! The handle an application holds: a registry with the agent families registered.

use crate::agent::AgentMetrics;
use crate::metrics::{MetricError, Registry, DEFAULT_CARDINALITY_LIMIT};
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
    started: Instant,
}

/// Settings for a [`Telemetry`].
#[derive(Debug, Clone)]
pub struct TelemetryBuilder {
    cardinality_limit: usize,
}

impl TelemetryBuilder {
    /// Series per family before new label sets go to the overflow series (default 2,000).
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit;
        self
    }

    /// Builds the registry and registers the agent families in it.
    pub fn build(self) -> Result<Telemetry, MetricError> {
        let registry = Registry::with_cardinality_limit(self.cardinality_limit);
        let agents = AgentMetrics::register(&registry)?;
        Ok(Telemetry {
            inner: Arc::new(Inner {
                registry,
                agents,
                started: Instant::now(),
            }),
        })
    }
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

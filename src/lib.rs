//! Lookout: the telemetry engine for AI-agent systems.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod agent;
pub mod metrics;

/// Prometheus text and OpenMetrics exposition (the `lookout-exporter-prometheus` crate).
#[cfg(feature = "prometheus")]
pub use lookout_exporter_prometheus as prometheus;

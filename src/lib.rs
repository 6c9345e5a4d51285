//! Lookout: the telemetry engine for AI-agent systems.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod agent;
#[cfg(feature = "prometheus")]
pub mod cli;
pub mod client;
pub mod metrics;
#[cfg(feature = "prometheus")]
pub mod server;
mod telemetry;

pub use telemetry::{Telemetry, TelemetryBuilder};

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Prometheus text and OpenMetrics exposition (the `lookout-exporter-prometheus` crate).
#[cfg(feature = "prometheus")]
pub use lookout_exporter_prometheus as prometheus;

//! Lookout: the telemetry engine for AI-agent systems.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod metrics;

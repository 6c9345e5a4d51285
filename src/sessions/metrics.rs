//! Session metric families: sessions by skill and outcome, their duration, tool calls
//! per session.

use crate::metrics::{
    Counter, Descriptor, Family, Histogram, HistogramOptions, MetricError, Registry,
};
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct SessionFamilies {
    sessions: Family<Counter>,
    duration: Family<Histogram>,
    tool_calls: Family<Histogram>,
}

impl SessionFamilies {
    pub(crate) fn register(registry: &Registry) -> Result<Self, MetricError> {
        Ok(SessionFamilies {
            sessions: registry.counter(
                Descriptor::new(
                    "sessions_total",
                    "Sessions ended, by skill and outcome (success, failed).",
                )
                .labels(["skill", "outcome"]),
            )?,
            duration: registry.histogram(
                Descriptor::new("session_duration_seconds", "Session duration.")
                    .unit("seconds")
                    .labels(["skill"]),
            )?,
            tool_calls: registry.histogram_with(
                Descriptor::new("session_tool_calls", "Tool calls per session.").labels(["skill"]),
                &HistogramOptions::unitless()
                    .buckets([0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
                    .resolution(1.0),
            )?,
        })
    }

    /// One ended session.
    pub(crate) fn observe(&self, skill: &str, success: bool, duration: Duration, tools: usize) {
        let outcome = if success { "success" } else { "failed" };
        self.sessions.inc(&[skill, outcome]);
        self.duration.observe_duration(&[skill], duration);
        self.tool_calls.observe(&[skill], tools as f64);
    }
}

//! Run metric families: runs by agent, job and status; run duration; items by outcome.

use crate::metrics::{Counter, Descriptor, Family, Histogram, MetricError, Registry};

#[derive(Debug, Clone)]
pub(crate) struct RunFamilies {
    pub(crate) runs: Family<Counter>,
    pub(crate) duration: Family<Histogram>,
    pub(crate) items: Family<Counter>,
}

impl RunFamilies {
    pub(crate) fn register(registry: &Registry) -> Result<Self, MetricError> {
        Ok(RunFamilies {
            runs: registry.counter(
                Descriptor::new(
                    "agent_runs_total",
                    "Runs ended, by agent, job type and status.",
                )
                .labels(["agent_name", "job_type", "status"]),
            )?,
            duration: registry.histogram(
                Descriptor::new("agent_run_duration_seconds", "Run duration.")
                    .unit("seconds")
                    .labels(["agent_name", "job_type"]),
            )?,
            items: registry.counter(
                Descriptor::new(
                    "agent_run_items_total",
                    "Items runs processed, by outcome (discovered, succeeded, failed).",
                )
                .labels(["agent_name", "job_type", "outcome"]),
            )?,
        })
    }
}

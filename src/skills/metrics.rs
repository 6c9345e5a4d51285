//! Skill metric families (seed 000's "future enhancements"): executions by skill, status
//! and caller; duration by skill; executions by workflow and agent.

use crate::metrics::{Counter, Descriptor, Family, Histogram, MetricError, Registry};
use std::time::Duration;

/// Label value for a context field the entry does not name.
const NONE: &str = "";

#[derive(Debug, Clone)]
pub(crate) struct SkillFamilies {
    executions: Family<Counter>,
    duration: Family<Histogram>,
    by_workflow: Family<Counter>,
    pub(crate) capture_failures: Family<Counter>,
}

impl SkillFamilies {
    pub(crate) fn register(registry: &Registry) -> Result<Self, MetricError> {
        let families = SkillFamilies {
            executions: registry.counter(
                Descriptor::new(
                    "skill_executions_total",
                    "Skill executions, by skill, status and caller.",
                )
                .labels(["skill", "status", "caller"]),
            )?,
            duration: registry.histogram(
                Descriptor::new("skill_duration_seconds", "Skill execution duration.")
                    .unit("seconds")
                    .labels(["skill"]),
            )?,
            by_workflow: registry.counter(
                Descriptor::new(
                    "skill_workflow_executions_total",
                    "Skill executions, by the workflow and agent they ran for.",
                )
                .labels(["workflow", "agent"]),
            )?,
            capture_failures: registry.counter(
                Descriptor::new(
                    "lookout_skill_capture_failures_total",
                    "Skill entries that could not be written to telemetry.json.",
                )
                .labels(["reason"]),
            )?,
        };
        families.capture_failures.add(&["io"], 0);
        Ok(families)
    }

    /// One execution: the one place skill entries (and spans naming a skill) feed the
    /// families.
    pub(crate) fn observe(
        &self,
        skill: &str,
        status: &str,
        duration: Duration,
        [agent, workflow, caller]: [Option<&str>; 3],
    ) {
        self.executions
            .inc(&[skill, status, caller.unwrap_or(NONE)]);
        self.duration.observe_duration(&[skill], duration);
        if agent.is_some() || workflow.is_some() {
            self.by_workflow
                .inc(&[workflow.unwrap_or(NONE), agent.unwrap_or(NONE)]);
        }
    }
}

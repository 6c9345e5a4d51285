//! Seed 003's agent metric families, registered once per registry.

use crate::metrics::{Counter, Descriptor, Family, Gauge, Histogram, MetricError, Registry};

/// Every agent family, resolved at startup so tracking never looks a family up by name.
#[derive(Debug, Clone)]
pub(crate) struct AgentFamilies {
    pub(crate) execution_total: Family<Counter>,
    pub(crate) execution_duration: Family<Histogram>,
    pub(crate) tokens_used: Family<Counter>,
    pub(crate) active: Family<Gauge>,
    pub(crate) tool_calls: Family<Counter>,
    pub(crate) tool_duration: Family<Histogram>,
    pub(crate) tool_success: Family<Counter>,
    pub(crate) tool_failure: Family<Counter>,
    pub(crate) context_utilization: Family<Gauge>,
    pub(crate) context_size: Family<Gauge>,
    pub(crate) context_used: Family<Gauge>,
    pub(crate) error_rate: Family<Gauge>,
    pub(crate) error_total: Family<Counter>,
    pub(crate) task_queue_size: Family<Gauge>,
    pub(crate) task_duration: Family<Histogram>,
    pub(crate) task_success: Family<Counter>,
    pub(crate) task_failure: Family<Counter>,
}

fn d<const N: usize>(name: &str, help: &str, labels: [&str; N]) -> Descriptor {
    Descriptor::new(name, help).labels(labels)
}

impl AgentFamilies {
    pub(crate) fn register(r: &Registry) -> Result<Self, MetricError> {
        Ok(AgentFamilies {
            execution_total: r.counter(d(
                "agent_execution_total",
                "Total agent executions.",
                ["agent_type", "phase", "status"],
            ))?,
            execution_duration: r.histogram(
                d(
                    "agent_execution_duration_seconds",
                    "Agent execution duration.",
                    ["agent_type", "phase"],
                )
                .unit("seconds"),
            )?,
            tokens_used: r.counter(d(
                "agent_tokens_used",
                "Tokens consumed.",
                ["agent_type", "model"],
            ))?,
            active: r.gauge(d(
                "agents_active",
                "Agents currently executing.",
                ["agent_type"],
            ))?,
            tool_calls: r.counter(d(
                "tool_calls_total",
                "Total tool invocations.",
                ["tool", "status"],
            ))?,
            tool_duration: r.histogram(
                d(
                    "tool_call_duration_seconds",
                    "Tool call duration.",
                    ["tool"],
                )
                .unit("seconds"),
            )?,
            tool_success: r.counter(d(
                "tool_call_success_total",
                "Successful tool calls.",
                ["tool"],
            ))?,
            tool_failure: r.counter(d(
                "tool_call_failure_total",
                "Failed tool calls.",
                ["tool", "error_type"],
            ))?,
            context_utilization: r.gauge(d(
                "context_window_utilization",
                "Context window usage as a ratio of its size (0 to 1).",
                ["agent_id", "session_id"],
            ))?,
            context_size: r.gauge(
                d(
                    "context_window_size_tokens",
                    "Total window size.",
                    ["agent_id"],
                )
                .unit("tokens"),
            )?,
            context_used: r.gauge(
                d("context_window_used_tokens", "Used tokens.", ["agent_id"]).unit("tokens"),
            )?,
            error_rate: r.gauge(d(
                "error_rate",
                "Errors per second over the last 60 seconds.",
                ["component", "error_type"],
            ))?,
            error_total: r.counter(d(
                "error_total",
                "Total errors.",
                ["component", "error_type", "severity"],
            ))?,
            task_queue_size: r.gauge(d("task_queue_size", "Current queue size.", ["priority"]))?,
            task_duration: r.histogram(
                d(
                    "task_duration_seconds",
                    "Task duration.",
                    ["task_type", "status"],
                )
                .unit("seconds"),
            )?,
            task_success: r.counter(d("task_success_total", "Successful tasks.", ["task_type"]))?,
            task_failure: r.counter(d(
                "task_failure_total",
                "Failed tasks.",
                ["task_type", "error_type"],
            ))?,
        })
    }
}

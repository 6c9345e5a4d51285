//! The agent layer: seed 003's metric families and a typed API that fills them.
//!
//! ```
//! use lookout::agent::{AgentMetrics, ToolCall};
//! use lookout::metrics::Registry;
//! use std::time::Duration;
//!
//! let registry = Registry::new();
//! let agents = AgentMetrics::register(&registry).unwrap();
//! agents.track_tool_usage(&ToolCall {
//!     tool: "Read",
//!     duration: Duration::from_millis(250),
//!     error: None,
//! });
//! let text = lookout::prometheus::encode_to_string(&registry, lookout::prometheus::Format::Text);
//! assert!(text.contains("tool_calls_total{tool=\"Read\",status=\"success\"} 1"));
//! assert!(text.contains("tool_call_duration_seconds_sum{tool=\"Read\"} 0.25"));
//! ```

mod error_rate;
mod execution;
mod families;
pub mod semconv;
mod spans;
mod tool;
mod tracking;

pub use error_rate::ERROR_RATE_WINDOW_SECONDS;
pub use execution::AgentExecutionGuard;
pub use tool::ToolCallGuard;
pub use tracking::{AgentExecution, ContextUsage, ErrorEvent, Severity, TaskExecution, ToolCall};

use crate::metrics::{MetricError, Registry};
use error_rate::ErrorRates;
use families::AgentFamilies;
use std::sync::Arc;
use tracking::status;

/// Records agent executions, tool calls, context usage, errors and tasks into seed 003's
/// metric families. Cloning is cheap and shares the families.
#[derive(Debug, Clone)]
pub struct AgentMetrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    families: AgentFamilies,
    error_rates: ErrorRates,
}

impl AgentMetrics {
    /// Registers the agent families in `registry` (once; registering again returns the
    /// same families) and refreshes `error_rate` at every collection.
    pub fn register(registry: &Registry) -> Result<Self, MetricError> {
        let families = AgentFamilies::register(registry)?;
        let limit = crate::metrics::DEFAULT_CARDINALITY_LIMIT;
        let inner = Arc::new(Inner {
            families,
            error_rates: ErrorRates::new(limit),
        });
        let weak = Arc::downgrade(&inner);
        registry.on_collect(move || {
            if let Some(inner) = weak.upgrade() {
                inner.error_rates.refresh(&inner.families.error_rate);
            }
        });
        Ok(AgentMetrics { inner })
    }

    pub(crate) fn families(&self) -> &AgentFamilies {
        &self.inner.families
    }

    /// Records a finished agent execution: its count by status, duration and tokens.
    pub fn track_agent_execution(&self, e: &AgentExecution<'_>) {
        let f = self.families();
        f.execution_total
            .inc(&[e.agent_type, e.phase, status(e.success)]);
        f.execution_duration
            .observe_duration(&[e.agent_type, e.phase], e.duration);
        if e.tokens > 0 {
            f.tokens_used.add(&[e.agent_type, e.model], e.tokens);
        }
    }

    /// Starts an agent execution: `agents_active` goes up now, and the guard records the
    /// execution with its measured duration when finished, or as a failure if dropped
    /// unfinished (an early return or a panic).
    pub fn start_agent(
        &self,
        agent_id: &str,
        agent_type: &str,
        phase: &str,
    ) -> AgentExecutionGuard {
        AgentExecutionGuard::start(self.clone(), None, agent_id, agent_type, phase)
    }

    /// Like [`start_agent`](Self::start_agent), with `span` ended alongside.
    pub(crate) fn start_agent_with_span(
        &self,
        span: crate::trace::Span,
        agent_id: &str,
        agent_type: &str,
        phase: &str,
    ) -> AgentExecutionGuard {
        AgentExecutionGuard::start(self.clone(), Some(span), agent_id, agent_type, phase)
    }

    /// Starts a tool call whose `span` ends with it.
    pub(crate) fn start_tool_with_span(
        &self,
        span: crate::trace::Span,
        tool: &str,
    ) -> ToolCallGuard {
        ToolCallGuard::start(self.clone(), span, tool)
    }

    /// Records a tool call: total by status, duration, and success or failure by error type.
    pub fn track_tool_usage(&self, call: &ToolCall<'_>) {
        let f = self.families();
        f.tool_calls.inc(&[call.tool, status(call.error.is_none())]);
        f.tool_duration
            .observe_duration(&[call.tool], call.duration);
        match call.error {
            None => f.tool_success.inc(&[call.tool]),
            Some(error_type) => f.tool_failure.inc(&[call.tool, error_type]),
        }
    }

    /// Records context-window usage: used and total tokens, and their ratio when the
    /// window size is known (non-zero).
    pub fn track_context_usage(&self, usage: &ContextUsage<'_>) {
        let f = self.families();
        f.context_used.set(&[usage.agent_id], usage.used as f64);
        f.context_size.set(&[usage.agent_id], usage.total as f64);
        if usage.total > 0 {
            let ratio = usage.used as f64 / usage.total as f64;
            f.context_utilization
                .set(&[usage.agent_id, usage.session_id], ratio);
        }
    }

    /// Records an error: its total by severity, and its per-second rate.
    pub fn track_error(&self, error: &ErrorEvent<'_>) {
        self.families().error_total.inc(&[
            error.component,
            error.error_type,
            error.severity.as_str(),
        ]);
        self.inner
            .error_rates
            .record(error.component, error.error_type);
    }

    /// Records a finished task: duration by status, and success or failure by error type.
    pub fn track_task(&self, task: &TaskExecution<'_>) {
        let f = self.families();
        f.task_duration.observe_duration(
            &[task.task_type, status(task.error.is_none())],
            task.duration,
        );
        match task.error {
            None => f.task_success.inc(&[task.task_type]),
            Some(error_type) => f.task_failure.inc(&[task.task_type, error_type]),
        }
    }

    /// Sets the number of queued tasks at `priority`.
    pub fn set_task_queue_size(&self, priority: &str, size: usize) {
        self.families()
            .task_queue_size
            .set(&[priority], size as f64);
    }
}

#[cfg(test)]
mod tests;

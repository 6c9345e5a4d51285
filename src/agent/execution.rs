//! A guard around one agent execution.

use super::{AgentExecution, AgentMetrics};
use std::time::Instant;

/// An agent execution in progress. Counts in `agents_active` until it ends; ends as a
/// success with [`succeed`](Self::succeed), as a failure with [`fail`](Self::fail) or when
/// dropped unfinished.
#[derive(Debug)]
#[must_use = "dropping the guard ends the execution as a failure"]
pub struct AgentExecutionGuard {
    metrics: AgentMetrics,
    agent_id: String,
    agent_type: String,
    phase: String,
    model: String,
    tokens: u64,
    started: Instant,
    ended: bool,
}

impl AgentExecutionGuard {
    pub(super) fn start(
        metrics: AgentMetrics,
        agent_id: &str,
        agent_type: &str,
        phase: &str,
    ) -> Self {
        metrics.families().active.inc(&[agent_type]);
        AgentExecutionGuard {
            metrics,
            agent_id: agent_id.to_owned(),
            agent_type: agent_type.to_owned(),
            phase: phase.to_owned(),
            model: String::new(),
            tokens: 0,
            started: Instant::now(),
            ended: false,
        }
    }

    /// Adds tokens consumed by `model` (the last model given labels the total).
    pub fn add_tokens(&mut self, model: &str, tokens: u64) {
        if self.model != model {
            self.model = model.to_owned();
        }
        self.tokens += tokens;
    }

    /// Ends the execution as a success.
    pub fn succeed(mut self) {
        self.end(true);
    }

    /// Ends the execution as a failure.
    pub fn fail(mut self) {
        self.end(false);
    }

    fn end(&mut self, success: bool) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.metrics.families().active.dec(&[&self.agent_type]);
        self.metrics.track_agent_execution(&AgentExecution {
            agent_id: &self.agent_id,
            agent_type: &self.agent_type,
            phase: &self.phase,
            model: &self.model,
            duration: self.started.elapsed(),
            tokens: self.tokens,
            success,
        });
    }
}

impl Drop for AgentExecutionGuard {
    fn drop(&mut self) {
        self.end(false);
    }
}

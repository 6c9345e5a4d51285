//! What a caller reports: one struct per seed 003 tracking call.

use std::time::Duration;

/// One finished agent execution (seed 003 `trackAgentExecution`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentExecution<'a> {
    /// The agent instance, e.g. `coder-123`.
    pub agent_id: &'a str,
    /// The agent's type, e.g. `coder`: a low-cardinality label.
    pub agent_type: &'a str,
    /// The orchestration phase, e.g. `code`.
    pub phase: &'a str,
    /// The model that consumed `tokens`.
    pub model: &'a str,
    /// Wall-clock duration; exported in seconds.
    pub duration: Duration,
    /// Tokens consumed.
    pub tokens: u64,
    /// Whether the execution succeeded.
    pub success: bool,
}

/// One tool invocation (seed 003 `trackToolUsage`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolCall<'a> {
    /// Tool name, e.g. `Read`.
    pub tool: &'a str,
    /// Wall-clock duration; exported in seconds.
    pub duration: Duration,
    /// `None` on success, or the failure's error type (e.g. `timeout`).
    pub error: Option<&'a str>,
}

/// An agent's context-window usage (seed 003 `trackContextUsage`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextUsage<'a> {
    /// The agent instance.
    pub agent_id: &'a str,
    /// The session the agent runs in.
    pub session_id: &'a str,
    /// Tokens in use.
    pub used: u64,
    /// Window size in tokens.
    pub total: u64,
}

/// How bad an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Noted, nothing failed.
    Info,
    /// Degraded, recovered.
    Warning,
    /// An operation failed.
    Error,
    /// The system cannot go on.
    Critical,
}

impl Severity {
    /// The `severity` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// One error (seed 003's error families).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorEvent<'a> {
    /// Where it happened, e.g. `orchestrator`.
    pub component: &'a str,
    /// What kind, e.g. `rate_limit`.
    pub error_type: &'a str,
    /// How bad.
    pub severity: Severity,
}

/// One finished task (seed 003's task families).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskExecution<'a> {
    /// Task type, e.g. `review`.
    pub task_type: &'a str,
    /// Wall-clock duration; exported in seconds.
    pub duration: Duration,
    /// `None` on success, or the failure's error type.
    pub error: Option<&'a str>,
}

/// The `status` label value for an outcome.
pub(crate) fn status(success: bool) -> &'static str {
    if success { "success" } else { "failure" }
}

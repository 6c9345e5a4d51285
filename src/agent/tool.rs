//! A guard around one tool call: its span and its metrics end together.

use super::semconv;
use super::{AgentMetrics, ToolCall};
use crate::trace::Span;

/// A tool call in progress, ending as a success with [`succeed`](Self::succeed), a
/// failure with [`fail`](Self::fail), or a failure when dropped unfinished. The span's
/// duration is the one `tool_call_duration_seconds` records.
#[derive(Debug)]
#[must_use = "dropping the guard ends the tool call as a failure"]
pub struct ToolCallGuard {
    metrics: AgentMetrics,
    span: Span,
    tool: String,
    ended: bool,
}

impl ToolCallGuard {
    pub(crate) fn start(metrics: AgentMetrics, span: Span, tool: &str) -> Self {
        ToolCallGuard {
            metrics,
            span,
            tool: tool.to_owned(),
            ended: false,
        }
    }

    /// The call's span, to add events or attributes.
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }

    /// Ends the call as a success.
    pub fn succeed(mut self) {
        self.end(None);
    }

    /// Ends the call as a failure of type `error_type`.
    pub fn fail(mut self, error_type: &str) {
        self.end(Some(error_type));
    }

    fn end(&mut self, error: Option<&str>) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        semconv::set_outcome(&mut self.span, error);
        let duration = self.span.finish();
        self.metrics.track_tool_usage(&ToolCall {
            tool: &self.tool,
            duration,
            error,
        });
    }
}

impl Drop for ToolCallGuard {
    fn drop(&mut self) {
        let reason = if std::thread::panicking() {
            "panic"
        } else {
            "unfinished"
        };
        self.end(Some(reason));
    }
}

//! The agent families from spans another process sent (OTLP ingest): GenAI
//! semantic-convention spans count as the agent, tool and token calls of a Rust agent
//! do, so a Python sub-agent shows on the same dashboards.

use super::semconv::{
    AGENT_NAME, ERROR_TYPE, OPERATION_NAME, PHASE, REQUEST_MODEL, TOOL_NAME, USAGE_INPUT_TOKENS,
    USAGE_OUTPUT_TOKENS,
};
use super::{AgentExecution, AgentMetrics, ToolCall};
use crate::trace::{AttributeValue, FinishedSpan, SpanId, Status};
use std::collections::HashMap;

/// The inference operations whose `gen_ai.usage.*` tokens are counted.
const INFERENCE: [&str; 3] = ["chat", "text_completion", "generate_content"];

impl AgentMetrics {
    /// Counts the GenAI spans among `spans` (one request of another process's spans) in
    /// the agent families: an `invoke_agent` span as an agent execution
    /// (`agent_execution_total`, its duration), an `execute_tool` span as a tool call, an
    /// inference span's `gen_ai.usage.input_tokens` and `output_tokens` as
    /// `agent_tokens_used` of its agent: the span's `gen_ai.agent.name`, else its nearest
    /// `invoke_agent` ancestor's among `spans`, else the service's name. Tokens are counted
    /// on inference spans only, where the conventions put them: an agent span's totals
    /// would count them twice. Spans of Lookout's own guards are counted by the guards.
    pub fn observe_spans(&self, spans: &[FinishedSpan]) {
        let by_id: HashMap<SpanId, &FinishedSpan> = spans.iter().map(|s| (s.span_id, s)).collect();
        for span in spans {
            let duration = span.duration();
            let failed = matches!(span.status, Status::Error(_));
            match operation(span) {
                Some("invoke_agent") => self.track_agent_execution(&AgentExecution {
                    agent_id: "",
                    agent_type: &agent_name(span).unwrap_or_else(|| fallback_agent(span)),
                    phase: text(span, PHASE).unwrap_or(""),
                    model: "",
                    duration,
                    tokens: 0,
                    success: !failed,
                }),
                Some("execute_tool") => {
                    let tool = text(span, TOOL_NAME)
                        .or_else(|| suffix(span, "execute_tool"))
                        .unwrap_or("unknown");
                    self.track_tool_usage(&ToolCall {
                        tool,
                        duration,
                        error: failed.then(|| error_type(span)),
                    });
                }
                Some(op) if INFERENCE.contains(&op) => {
                    let tokens = int(span, USAGE_INPUT_TOKENS) + int(span, USAGE_OUTPUT_TOKENS);
                    if tokens > 0 {
                        let agent = agent_of(span, &by_id);
                        let model = text(span, REQUEST_MODEL)
                            .or_else(|| suffix(span, op))
                            .unwrap_or("unknown");
                        self.families().tokens_used.add(&[&agent, model], tokens);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `gen_ai.operation.name`, else the first word of the span's name.
fn operation(span: &FinishedSpan) -> Option<&str> {
    text(span, OPERATION_NAME).or_else(|| span.name.split(' ').next())
}

/// What follows `op ` in the span's name (`execute_tool grep` -> `grep`).
fn suffix<'a>(span: &'a FinishedSpan, op: &str) -> Option<&'a str> {
    span.name
        .strip_prefix(op)?
        .strip_prefix(' ')
        .filter(|s| !s.is_empty())
}

fn agent_name(span: &FinishedSpan) -> Option<String> {
    text(span, AGENT_NAME)
        .or_else(|| suffix(span, "invoke_agent"))
        .map(str::to_owned)
}

fn fallback_agent(span: &FinishedSpan) -> String {
    span.resource
        .as_ref()
        .and_then(|r| r.service_name())
        .unwrap_or("unknown")
        .to_owned()
}

/// The agent an inference span worked for: its own `gen_ai.agent.name`, else its nearest
/// `invoke_agent` ancestor's in the same request, else the service's name.
fn agent_of(span: &FinishedSpan, by_id: &HashMap<SpanId, &FinishedSpan>) -> String {
    if let Some(name) = text(span, AGENT_NAME) {
        return name.to_owned();
    }
    let mut parent = span.parent_span_id;
    // A loop of parents (a sender's bug) ends after as many steps as there are spans.
    for _ in 0..by_id.len() {
        let Some(ancestor) = by_id.get(&parent) else {
            break;
        };
        if operation(ancestor) == Some("invoke_agent")
            && let Some(name) = agent_name(ancestor)
        {
            return name;
        }
        parent = ancestor.parent_span_id;
    }
    fallback_agent(span)
}

/// `error.type`, else `error`: a label, never the status message (unbounded).
fn error_type(span: &FinishedSpan) -> &str {
    text(span, ERROR_TYPE).unwrap_or("error")
}

fn attribute<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a AttributeValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| &kv.value)
}

fn text<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    match attribute(span, key)? {
        AttributeValue::String(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn int(span: &FinishedSpan, key: &str) -> u64 {
    match attribute(span, key) {
        Some(AttributeValue::Int(n)) => u64::try_from(*n).unwrap_or(0),
        Some(AttributeValue::Float(x)) if *x > 0.0 => *x as u64,
        _ => 0,
    }
}

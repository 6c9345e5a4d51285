//! A guard around one agent execution: its span and its metrics end together.

use super::semconv;
use super::{AgentExecution, AgentMetrics};
use crate::trace::{Span, SpanContext};
use std::time::Instant;

/// An agent execution in progress. Counts in `agents_active` until it ends; ends as a
/// success with [`succeed`](Self::succeed), as a failure with [`fail`](Self::fail), or as
/// a failure when dropped unfinished (an early return or a panic). When it carries a span
/// (from [`Telemetry::start_agent`](crate::Telemetry::start_agent)), the span's duration is
/// the one the metrics record, so traces and metrics never disagree.
#[derive(Debug)]
#[must_use = "dropping the guard ends the execution as a failure"]
pub struct AgentExecutionGuard {
    metrics: AgentMetrics,
    span: Option<Span>,
    agent_id: String,
    agent_type: String,
    phase: String,
    model: String,
    tokens: u64,
    started: Instant,
    ended: bool,
}

impl AgentExecutionGuard {
    pub(crate) fn start(
        metrics: AgentMetrics,
        span: Option<Span>,
        agent_id: &str,
        agent_type: &str,
        phase: &str,
    ) -> Self {
        metrics.families().active.inc(&[agent_type]);
        AgentExecutionGuard {
            metrics,
            span,
            agent_id: agent_id.to_owned(),
            agent_type: agent_type.to_owned(),
            phase: phase.to_owned(),
            model: String::new(),
            tokens: 0,
            started: Instant::now(),
            ended: false,
        }
    }

    /// The execution's span, to add events or attributes.
    pub fn span_mut(&mut self) -> Option<&mut Span> {
        self.span.as_mut()
    }

    /// Makes the execution's span current on this thread until the guard drops: tools,
    /// model calls and spans started meanwhile become its children.
    pub fn enter(&self) -> Option<crate::trace::Entered<'_>> {
        self.span.as_ref().map(Span::enter)
    }

    /// The span's context, to parent tool calls or hand to a sub-agent process.
    pub fn context(&self) -> Option<&SpanContext> {
        self.span.as_ref().map(Span::context)
    }

    /// Adds tokens consumed by `model` (the last model given labels the total).
    pub fn add_tokens(&mut self, model: &str, tokens: u64) {
        if self.model != model {
            self.model = model.to_owned();
        }
        self.tokens += tokens;
    }

    /// Adds input and output tokens of one model call; the span records them under the
    /// GenAI usage attributes, the metrics as one total.
    pub fn add_usage(&mut self, model: &str, input_tokens: u64, output_tokens: u64) {
        self.add_tokens(model, input_tokens + output_tokens);
        if let Some(span) = &mut self.span {
            let sum = |key| {
                span_int(span, key).saturating_add(if key == semconv::USAGE_INPUT_TOKENS {
                    input_tokens
                } else {
                    output_tokens
                })
            };
            let (input, output) = (
                sum(semconv::USAGE_INPUT_TOKENS),
                sum(semconv::USAGE_OUTPUT_TOKENS),
            );
            span.set_attribute(semconv::USAGE_INPUT_TOKENS, input);
            span.set_attribute(semconv::USAGE_OUTPUT_TOKENS, output);
        }
    }

    /// Ends the execution as a success.
    pub fn succeed(mut self) {
        self.end(None);
    }

    /// Ends the execution as a failure of type `error_type` (the span's `error.type`).
    pub fn fail(mut self, error_type: &str) {
        self.end(Some(error_type));
    }

    fn end(&mut self, error_type: Option<&str>) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let duration = match self.span.take() {
            Some(mut span) => {
                if !self.model.is_empty() {
                    span.set_attribute(semconv::REQUEST_MODEL, self.model.clone());
                }
                semconv::set_outcome(&mut span, error_type);
                span.finish()
            }
            None => self.started.elapsed(),
        };
        self.metrics.families().active.dec(&[&self.agent_type]);
        self.metrics.track_agent_execution(&AgentExecution {
            agent_id: &self.agent_id,
            agent_type: &self.agent_type,
            phase: &self.phase,
            model: &self.model,
            duration,
            tokens: self.tokens,
            success: error_type.is_none(),
        });
    }
}

/// The integer value of a span attribute set earlier, or 0.
fn span_int(span: &Span, key: &str) -> u64 {
    span.attribute(key)
        .and_then(|v| match v {
            crate::trace::AttributeValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

impl Drop for AgentExecutionGuard {
    fn drop(&mut self) {
        let reason = if std::thread::panicking() {
            "panic"
        } else {
            "unfinished"
        };
        self.end(Some(reason));
    }
}

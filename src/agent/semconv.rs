//! OpenTelemetry GenAI semantic-convention attribute names used on agent, tool and LLM spans.

/// The operation: `invoke_agent`, `execute_tool`, `chat`.
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// The agent's name (Lookout uses the agent type).
pub const AGENT_NAME: &str = "gen_ai.agent.name";
/// The agent instance.
pub const AGENT_ID: &str = "gen_ai.agent.id";
/// The tool's name.
pub const TOOL_NAME: &str = "gen_ai.tool.name";
/// The model asked.
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
/// Input tokens consumed.
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output tokens produced.
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// The conversation (session) the work belongs to.
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// The class of error that ended the operation.
pub const ERROR_TYPE: &str = "error.type";
/// Lookout's orchestration phase (not a GenAI convention).
pub const PHASE: &str = "lookout.agent.phase";

/// Ends an operation's span status: `Ok`, or `error.type` and an error status.
pub(crate) fn set_outcome(span: &mut crate::trace::Span, error_type: Option<&str>) {
    match error_type {
        None => span.set_status(crate::trace::Status::Ok),
        Some(error_type) => {
            span.set_attribute(ERROR_TYPE, error_type.to_owned());
            span.set_status(crate::trace::Status::Error(error_type.to_owned().into()));
        }
    }
}

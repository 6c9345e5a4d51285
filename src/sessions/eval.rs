//! Seed 001's eval tasks: a session as the task a regression suite replays (its
//! `TelemetryAnalyzer.to_eval_input`).

use super::SessionTelemetry;
use serde_json::{Value, json};

/// The task of `session`: `id` (`runtime-` and the first 12 hex digits of its id),
/// `name`, `inputs` (`prompt`, `context` = its metadata, pseudonymised), `captured` (`output`,
/// `tool_calls`).
pub fn to_eval_input(session: &SessionTelemetry) -> Value {
    let short: String = session
        .session_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let mut context = session.metadata.clone();
    super::pseudonymise(&mut context);
    json!({
        "id": format!("runtime-{short}"),
        "name": format!("Runtime session {short}"),
        "inputs": {"prompt": session.prompt, "context": context},
        "captured": {"output": session.output, "tool_calls": session.tool_calls},
    })
}

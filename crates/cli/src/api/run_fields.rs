//! A run body as the API takes it: seed 002's field names plus `event_id`, each checked
//! for its type and value, an unknown field refused, times made RFC 3339 UTC.

use super::error::ApiError;
use lookout::runs::RunStatus;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Integer fields: counts and sizes, never negative.
pub(crate) const INTEGERS: [&str; 6] = [
    "duration_ms",
    "items_discovered",
    "items_succeeded",
    "items_failed",
    "pid",
    "process_start",
];

/// Text fields, besides `status`, the times and the commit's.
pub(crate) const TEXTS: [&str; 14] = [
    "agent_name",
    "job_type",
    "input_summary",
    "output_summary",
    "error_summary",
    "metrics_json",
    "insight_id",
    "product",
    "platform",
    "git_repo",
    "git_branch",
    "git_commit_author",
    "host",
    "trace_id",
];

/// Where a run's commit hash came from.
pub(crate) const COMMIT_SOURCES: [&str; 3] = ["manual", "llm", "ci"];

/// The longest text a field takes.
pub(crate) const MAX_TEXT: usize = 64 * 1024;
/// The longest id (`event_id`, `run_id`): ids go into URLs.
pub(crate) const MAX_ID: usize = 128;

/// What the body is for: a new run (ids and the agent and job required) or a change to
/// a stored one (ids not changeable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Create,
    Update,
}

/// The fields of `value`, checked, in key order (so a body's text is the same however
/// its client ordered it); `at` prefixes the field named in a refusal (`[3].` in a batch).
pub(crate) fn parse(
    value: Value,
    purpose: Purpose,
    at: &str,
) -> Result<BTreeMap<String, Value>, ApiError> {
    let Value::Object(object) = value else {
        return Err(ApiError::field(
            "expected_object",
            at.trim_end_matches('.'),
            "a run is a JSON object of seed 002's fields",
        ));
    };
    let mut fields = BTreeMap::new();
    for (key, value) in object {
        let field = format!("{at}{key}");
        let value = match key.as_str() {
            "event_id" | "run_id" if purpose == Purpose::Create => id(value, &field)?,
            "event_id" | "run_id" => {
                return Err(ApiError::field(
                    "read_only_field",
                    field,
                    format!("{key} cannot change"),
                ));
            }
            "status" => {
                let text = text(value, &field)?;
                if RunStatus::parse(&text).is_none() {
                    let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                    return Err(ApiError::field(
                        "invalid_value",
                        field,
                        format!("{text:?} is not a status (one of {})", all.join(", ")),
                    ));
                }
                text.into()
            }
            "start_time" | "end_time" => time(value, &field)?,
            "git_commit_hash" => commit_hash(value, &field)?,
            "git_commit_source" => commit_source(value, &field)?,
            name if INTEGERS.contains(&name) => integer(value, &field)?,
            name if TEXTS.contains(&name) => text(value, &field)?.into(),
            name if name.starts_with("api_posting_") => {
                return Err(ApiError::field(
                    "read_only_field",
                    field,
                    "the posting fields are kept by the poster, not sent",
                ));
            }
            _ => {
                return Err(ApiError::field(
                    "unknown_field",
                    field,
                    format!("{key:?} is not a field of a run (seed 002's names)"),
                ));
            }
        };
        fields.insert(key, value);
    }
    if purpose == Purpose::Create {
        for required in ["event_id", "agent_name", "job_type"] {
            if !fields.contains_key(required) {
                return Err(ApiError::field(
                    "missing_field",
                    format!("{at}{required}"),
                    format!("a new run needs {required}"),
                ));
            }
        }
    } else if fields.is_empty() {
        return Err(ApiError::field(
            "missing_field",
            at.trim_end_matches('.'),
            "nothing to change",
        ));
    }
    Ok(fields)
}

fn wrong_type(field: &str, expected: &str, value: &Value) -> ApiError {
    let got = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    ApiError::field(
        "wrong_type",
        field,
        format!("{field} is {expected}, not {got}"),
    )
}

fn text(value: Value, field: &str) -> Result<String, ApiError> {
    match value {
        Value::String(s) if s.len() > MAX_TEXT => Err(ApiError::field(
            "too_long",
            field,
            format!("{field} is {} bytes; at most {MAX_TEXT}", s.len()),
        )),
        Value::String(s) => Ok(s),
        other => Err(wrong_type(field, "a string", &other)),
    }
}

/// An id: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub(crate) fn check_id(id: &str, field: &str) -> Result<(), ApiError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    if id.is_empty() || id.len() > MAX_ID || !id.bytes().all(allowed) {
        return Err(ApiError::field(
            "invalid_id",
            field,
            format!("an id is 1 to {MAX_ID} letters, digits, '.', '_', ':' or '-'"),
        ));
    }
    Ok(())
}

fn id(value: Value, field: &str) -> Result<Value, ApiError> {
    let id = match value {
        Value::String(s) => s,
        other => return Err(wrong_type(field, "a string", &other)),
    };
    check_id(&id, field)?;
    Ok(id.into())
}

fn integer(value: Value, field: &str) -> Result<Value, ApiError> {
    match value.as_u64().filter(|n| i64::try_from(*n).is_ok()) {
        Some(n) => Ok(n.into()),
        None if value.is_number() => Err(ApiError::field(
            "invalid_value",
            field,
            format!("{field} is a whole number from 0, not {value}"),
        )),
        None => Err(wrong_type(field, "a whole number", &value)),
    }
}

fn time(value: Value, field: &str) -> Result<Value, ApiError> {
    let text = text(value, field)?;
    match lookout_export::calendar::parse_rfc3339(&text) {
        Some(time) => Ok(lookout::json::rfc3339(time).into()),
        None => Err(ApiError::field(
            "invalid_value",
            field,
            format!("{text:?} is not an RFC 3339 time (2026-01-31T12:00:00Z)"),
        )),
    }
}

fn commit_hash(value: Value, field: &str) -> Result<Value, ApiError> {
    let text = text(value, field)?;
    match lookout::runs::git::validate_commit(&text, "manual") {
        Ok(hash) => Ok(hash.into()),
        Err(e) => Err(ApiError::field("invalid_value", field, e.to_string())),
    }
}

fn commit_source(value: Value, field: &str) -> Result<Value, ApiError> {
    let text = text(value, field)?;
    match COMMIT_SOURCES.contains(&text.as_str()) {
        true => Ok(text.into()),
        false => Err(ApiError::field(
            "invalid_value",
            field,
            format!("{text:?} is not a commit source (manual, llm or ci)"),
        )),
    }
}

/// The body of a stored run from checked fields (in key order).
pub(crate) fn body(fields: BTreeMap<String, Value>) -> Map<String, Value> {
    fields.into_iter().collect()
}

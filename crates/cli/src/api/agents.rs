//! The seeds' other write paths as JSON endpoints: seed 001's session webhooks, seed
//! 000's skill capture, seed 004's `record_event`, `record_metric` and `get_metrics`.
//! Each answers once what it recorded is durable.

use super::error::ApiError;
use super::{Api, body, query};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lookout::sessions::SessionError;
use lookout::skills::CaptureError;
use lookout::store::metrics::PointValue;
use lookout_query::bridge::{BridgeError, ErrorCode};
use serde_json::{Map, Value, json};

/// A JSON object body whose fields are all among `known`.
fn object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    known: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(object) = body::json(headers, body)? else {
        return Err(ApiError::field(
            "expected_object",
            "",
            "the body is a JSON object",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::field(
            "unknown_field",
            unknown.as_str(),
            format!(
                "{unknown:?} is not a field here (known: {})",
                known.join(", ")
            ),
        ));
    }
    Ok(object)
}

/// Field `name` as text: `Ok(None)` if absent (or null when `optional`).
fn text(
    object: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match object.get(name) {
        Some(Value::String(s)) if s.len() > super::run_fields::MAX_TEXT => Err(ApiError::field(
            "too_long",
            name,
            format!("{name} is too long"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) if !required => Ok(None),
        None => Err(ApiError::field(
            "missing_field",
            name,
            format!("{name} is required"),
        )),
        Some(_) => Err(ApiError::field(
            "wrong_type",
            name,
            format!("{name} is a string"),
        )),
    }
}

/// Makes what the sessions recorded durable before answering.
async fn stored(api: &Api) -> Result<(), ApiError> {
    let store = api.inner.store.clone();
    api.durably(move || store.flush(super::WRITE_TIMEOUT)).await
}

fn session_refusal(error: SessionError) -> ApiError {
    let (status, field) = match &error {
        SessionError::UnknownSession(_) => (StatusCode::NOT_FOUND, "session_id"),
        SessionError::UnknownEventType(_) => (StatusCode::UNPROCESSABLE_ENTITY, "event_type"),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "data"),
    };
    ApiError::new(status, error.code(), error.to_string()).at(field)
}

/// `POST /telemetry/session/start`: `prompt`, and optionally `metadata` (an object) and
/// `session_id` (to start it under a known id); answers `{"session_id"}`.
pub(crate) async fn start_session(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let object = object(&headers, body, &["prompt", "metadata", "session_id"])?;
    let prompt = text(&object, "prompt", true)?.unwrap_or_default();
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(_) => {
            return Err(ApiError::field(
                "wrong_type",
                "metadata",
                "metadata is an object",
            ));
        }
    };
    let sessions = api.telemetry().sessions();
    let id = match text(&object, "session_id", false)? {
        Some(id) => {
            super::run_fields::check_id(&id, "session_id")?;
            if sessions.is_open(&id) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "session_exists",
                    format!("session {id:?} is open already"),
                )
                .at("session_id"));
            }
            sessions.start_session_with_id(&id, &prompt, metadata);
            id
        }
        None => sessions.start_session(&prompt, metadata),
    };
    Ok((StatusCode::CREATED, Json(json!({"session_id": id}))).into_response())
}

/// `POST /telemetry/session/{id}/event`: `event_type` (one of seed 001's six), and
/// optionally `data` (an object) and `skill_name`; answers `{"ok": true}` once stored.
pub(crate) async fn session_event(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let object = object(&headers, body, &["event_type", "data", "skill_name"])?;
    let event_type = text(&object, "event_type", true)?.unwrap_or_default();
    let skill = text(&object, "skill_name", false)?;
    let data = object.get("data").cloned().unwrap_or(Value::Null);
    api.telemetry()
        .sessions()
        .record_event(&id, &event_type, skill.as_deref(), data)
        .map_err(session_refusal)?;
    stored(&api).await?;
    Ok(Json(json!({"ok": true})))
}

/// `POST /telemetry/session/{id}/end`: `success` (a boolean), optionally `output` and
/// `error`; answers the session's rollup once stored. An end sent again for a session
/// that ended answers the same.
pub(crate) async fn end_session(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let object = object(&headers, body, &["success", "output", "error"])?;
    let success = match object.get("success") {
        Some(Value::Bool(b)) => *b,
        None => {
            return Err(ApiError::field(
                "missing_field",
                "success",
                "success is required",
            ));
        }
        Some(_) => {
            return Err(ApiError::field(
                "wrong_type",
                "success",
                "success is a boolean",
            ));
        }
    };
    let output = text(&object, "output", false)?.unwrap_or_default();
    let error = text(&object, "error", false)?;
    let sessions = api.telemetry().sessions();
    let session = match sessions.end_session(&id, &output, success, error.as_deref()) {
        Ok(session) => session,
        Err(SessionError::UnknownSession(_)) => match sessions.ended(&id) {
            Some(session) => session,
            None => return Err(session_refusal(SessionError::UnknownSession(id))),
        },
        Err(other) => return Err(session_refusal(other)),
    };
    stored(&api).await?;
    Ok(Json(
        json!({"ok": true, "session_id": id, "rollup": session.rollup()}),
    ))
}

/// `POST /api/v1/skills/capture`: seed 000's `create_telemetry_entry` arguments
/// (`skill_name`, `inputs`, `status`, `duration_ms`, `agent`, `workflow`, `caller`);
/// answers seed 000's response once the entry is in `telemetry.json`, synced.
pub(crate) async fn capture(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let known = [
        "skill_name",
        "inputs",
        "status",
        "duration_ms",
        "agent",
        "workflow",
        "caller",
    ];
    let object = object(&headers, body, &known)?;
    let skill = text(&object, "skill_name", true)?.unwrap_or_default();
    let status = text(&object, "status", true)?.unwrap_or_default();
    let inputs = match object.get("inputs") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::Object(inputs)) => Value::Object(inputs.clone()).to_string(),
        Some(_) => {
            return Err(ApiError::field(
                "wrong_type",
                "inputs",
                "inputs is an object",
            ));
        }
    };
    let duration = match object.get("duration_ms") {
        Some(Value::Number(n)) => n.to_string(),
        None => {
            return Err(ApiError::field(
                "missing_field",
                "duration_ms",
                "duration_ms is required",
            ));
        }
        Some(_) => {
            return Err(ApiError::field(
                "wrong_type",
                "duration_ms",
                "duration_ms is a number",
            ));
        }
    };
    let context = [
        text(&object, "agent", false)?,
        text(&object, "workflow", false)?,
        text(&object, "caller", false)?,
    ];
    let telemetry = api.telemetry().clone();
    let captured = tokio::task::spawn_blocking(move || {
        let skills = telemetry.skills();
        let entry = skills.create_entry(
            &skill,
            &inputs,
            &status,
            &duration,
            [
                context[0].as_deref(),
                context[1].as_deref(),
                context[2].as_deref(),
            ],
        )?;
        crate::commands::capture::capture_synced(skills, &entry)
    })
    .await
    .map_err(|_| ApiError::unavailable("the capture did not finish"))?;
    match captured {
        Ok(captured) => {
            stored(&api).await?;
            let body = crate::commands::capture::success(&captured);
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Err(error @ CaptureError::Entry(_)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            Ok((status, Json(crate::commands::capture::failure(&error))).into_response())
        }
        Err(error) => Err(ApiError::unavailable(error.to_string())),
    }
}

/// A bridge refusal in seed 004's shape, with a status: 422 for what was sent, 503 for
/// the store.
fn bridge_refusal(error: BridgeError) -> Response {
    let status = match error.code {
        ErrorCode::InvalidEvent | ErrorCode::InvalidAggregation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::LoopDetected => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(error.to_json())).into_response()
}

/// `POST /api/v1/events`: seed 004's `record_event` (`event_type`, `source`, `data`,
/// optionally `timestamp` and `event_id`); 201 `{"status": "success", "event_id",
/// "timestamp"}`.
pub(crate) async fn record_event(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let event = body::json(&headers, body)?;
    let bridge = api.inner.bridge.clone();
    let recorded = tokio::task::spawn_blocking(move || bridge.record_event(&event))
        .await
        .map_err(|_| ApiError::unavailable("the event was not recorded"))?;
    Ok(match recorded {
        Ok(recorded) => (StatusCode::CREATED, Json(json!(recorded))).into_response(),
        Err(error) => bridge_refusal(error),
    })
}

/// `POST /api/v1/metrics`: seed 004's `record_metric` (`metric_name`, `metric_value` a
/// number or text, optionally `context` an object of labels and `timestamp`).
pub(crate) async fn record_metric(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let object = object(
        &headers,
        body,
        &["metric_name", "metric_value", "context", "timestamp"],
    )?;
    let name = text(&object, "metric_name", true)?.unwrap_or_default();
    let value = match object.get("metric_value") {
        Some(Value::Number(n)) => PointValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Some(Value::String(s)) => PointValue::Text(s.clone()),
        None => {
            return Err(ApiError::field(
                "missing_field",
                "metric_value",
                "metric_value is required",
            ));
        }
        Some(_) => {
            return Err(ApiError::field(
                "wrong_type",
                "metric_value",
                "metric_value is a number or text",
            ));
        }
    };
    let context = match object.get("context") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(c.clone()),
        Some(_) => {
            return Err(ApiError::field(
                "wrong_type",
                "context",
                "context is an object",
            ));
        }
    };
    let timestamp = match text(&object, "timestamp", false)? {
        None => None,
        Some(t) => Some(lookout_export::calendar::parse_rfc3339(&t).ok_or_else(|| {
            ApiError::field(
                "invalid_value",
                "timestamp",
                format!("{t:?} is not an RFC 3339 time"),
            )
        })?),
    };
    let bridge = api.inner.bridge.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        bridge.record_metric(&name, value, context.as_ref(), timestamp)
    })
    .await
    .map_err(|_| ApiError::unavailable("the metric was not recorded"))?;
    Ok(match recorded {
        Ok(recorded) => (StatusCode::CREATED, Json(json!(recorded))).into_response(),
        Err(error) => bridge_refusal(error),
    })
}

/// `GET /api/v1/metrics`: seed 004's `get_metrics`: `names` (comma-separated; all if
/// absent), `since` and `until` (RFC 3339, both or neither), `aggregation` (MEAN, SUM,
/// MIN, MAX, COUNT; default MEAN).
pub(crate) async fn get_metrics(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Response, ApiError> {
    let mut params = params.known(&["names", "since", "until", "aggregation"])?;
    let names: Option<Vec<String>> = params.text("names").map(|n| {
        n.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let range = match (params.time("since")?, params.time("until")?) {
        (Some(since), Some(until)) => Some((since, until)),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                "give since and until together",
            )
            .at("until"));
        }
    };
    let aggregation = params.text("aggregation").unwrap_or_else(|| "MEAN".into());
    let bridge = api.inner.bridge.clone();
    let metrics = tokio::task::spawn_blocking(move || {
        let names: Option<Vec<&str>> = names
            .as_ref()
            .map(|n| n.iter().map(String::as_str).collect());
        bridge.get_metrics(names.as_deref(), range, &aggregation)
    })
    .await
    .map_err(|_| ApiError::unavailable("the metrics were not read"))?;
    Ok(match metrics {
        Ok(metrics) => Json(json!(metrics)).into_response(),
        Err(error) => bridge_refusal(error),
    })
}

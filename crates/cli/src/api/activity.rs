//! What agents did, as JSON for the web page: the overview of a window, sessions (a list,
//! one as its events), skill entries with seed 001's per-skill analysis, and the metric
//! families the explorer offers.

use super::error::ApiError;
use super::{Api, query};
use axum::Json;
use axum::extract::{Path, State};
use lookout::sessions::{Execution, SessionTelemetry, analyze};
use lookout::store::query::{self as traces, TraceFilter};
use lookout::store::runs::{self, RunFilter};
use lookout::store::{RecordKind, metrics, sessions, unix_nanos};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// How many traces and runs the overview lists.
const RECENT: usize = 10;
/// How many records the skills view analyses at most, of each kind.
const ANALYSED: usize = 10_000;

/// `GET /api/v1/overview`: what agents did over `since` (a duration, default 24h): runs
/// by status and their success rate, active agents, spans and their error rate, tokens
/// and cost, the slowest tools, and the most recent traces and runs.
pub(crate) async fn overview(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Json<Value>, ApiError> {
    let mut params = params.known(&["since"])?;
    let window = params
        .duration("since")?
        .unwrap_or(Duration::from_secs(24 * 3600));
    let from = SystemTime::now()
        .checked_sub(window)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let prices = api.inner.prices.clone();
    let (activity, recent_traces, recent_runs) = api
        .read(move |conn| {
            let activity = lookout_query::activity::since(conn, unix_nanos(from), &prices)?;
            let mut filter = TraceFilter::default();
            filter.limit = RECENT;
            let recent_traces = traces::traces(conn, &filter)?;
            let mut filter = RunFilter::default();
            filter.limit = RECENT;
            Ok((activity, recent_traces, runs::list(conn, &filter)?))
        })
        .await?;
    let mut answer = serde_json::to_value(&activity).unwrap_or_default();
    let runs: serde_json::Map<String, Value> = activity
        .runs
        .iter()
        .map(|(status, n)| (status.clone(), (*n).into()))
        .collect();
    answer["runs"] = runs.into();
    answer["since"] = lookout::json::rfc3339(from).into();
    answer["error_rate"] = match activity.spans {
        0 => Value::Null,
        spans => (activity.error_spans as f64 / spans as f64).into(),
    };
    answer["recent_traces"] = recent_traces
        .iter()
        .map(crate::commands::traces::summary_json)
        .collect();
    answer["recent_runs"] = recent_runs.into_iter().map(Value::Object).collect();
    Ok(Json(answer))
}

/// `GET /api/v1/sessions`: the newest sessions (`limit`, 1 to 1000, default 50), those
/// still open (an event within a day) first, each without its events (their count).
pub(crate) async fn list_sessions(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Json<Value>, ApiError> {
    let mut params = params.known(&["limit"])?;
    let limit = params.number("limit", 1, 1000)?.unwrap_or(50);
    let open_since = unix_nanos(SystemTime::now() - Duration::from_secs(24 * 3600));
    let list = api
        .read(move |conn| sessions::recent(conn, open_since, limit))
        .await?;
    Ok(Json(list.into_iter().map(Value::Object).collect()))
}

/// `GET /api/v1/sessions/{id}`: a session and its events in order.
pub(crate) async fn get_session(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_id",
            "a session id is 1 to 256 characters, none a control character",
        )
        .at("session_id"));
    }
    match api.read(move |conn| sessions::one(conn, &id)).await? {
        Some(session) => Ok(Json(Value::Object(session))),
        None => Err(ApiError::not_found("no session has this id").at("session_id")),
    }
}

/// `GET /api/v1/skills`: the newest skill entries (seed 000; `limit`, 1 to 1000, default
/// 100) and seed 001's analysis of every execution stored (sessions and entries, the
/// newest 10,000 of each).
pub(crate) async fn skills(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Json<Value>, ApiError> {
    let mut params = params.known(&["limit"])?;
    let limit = params.number("limit", 1, 1000)?.unwrap_or(100);
    let (entries, sessions) = api
        .read(move |conn| {
            let entries = sessions::bodies(conn, RecordKind::SkillEntry, ANALYSED)?;
            let sessions = sessions::bodies(conn, RecordKind::Session, ANALYSED)?;
            Ok((entries, sessions))
        })
        .await?;
    let sessions: Vec<SessionTelemetry> = sessions
        .into_iter()
        .filter_map(|body| serde_json::from_value(body).ok())
        .collect();
    let executions = sessions
        .iter()
        .map(Execution::of_session)
        .chain(entries.iter().filter_map(Execution::of_entry));
    let analysis = analyze(executions, None);
    let entries: Vec<Value> = entries.into_iter().take(limit).collect();
    Ok(Json(json!({"entries": entries, "analysis": analysis})))
}

/// `GET /api/v1/families`: the metrics stored (at most 1,000), each with its kind, how
/// many series, and its labels' values (at most 100 of each).
pub(crate) async fn families(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    let families = api
        .read(move |conn| metrics::families(conn, 1000, 100))
        .await?;
    let families: Vec<Value> = families
        .iter()
        .map(|f| json!({"name": f.name, "kind": f.kind, "series": f.series, "labels": f.labels}))
        .collect();
    Ok(Json(families.into()))
}

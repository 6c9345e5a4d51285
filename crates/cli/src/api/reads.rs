//! What the store holds, as JSON for programs and the web page: traces (a list with
//! filters, one trace with its spans) and metric queries, in the shapes of the CLI's
//! `--json`.

use super::error::ApiError;
use super::{Api, query};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use lookout::store::query::{self as traces, Lookup, TraceFilter, TraceStatus};
use lookout_query::{Aggregation, Query};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// `GET /api/v1/traces`: the newest traces; `since` (RFC 3339), `name` (the root's name
/// contains it), `status` (`ok` or `error`), `limit` (1 to 1000, default 20).
pub(crate) async fn list_traces(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Json<Value>, ApiError> {
    let mut params = params.known(&["since", "name", "status", "limit"])?;
    let mut filter = TraceFilter::default();
    filter.since = params.time("since")?;
    filter.name = params.text("name");
    filter.status = match params.text("status").as_deref() {
        None => None,
        Some("ok") => Some(TraceStatus::Ok),
        Some("error") => Some(TraceStatus::Error),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("status is ok or error, not {other:?}"),
            )
            .at("status"));
        }
    };
    filter.limit = params.number("limit", 1, 1000)?.unwrap_or(20);
    let list = api.read(move |conn| traces::traces(conn, &filter)).await?;
    let list: Vec<Value> = list
        .iter()
        .map(crate::commands::traces::summary_json)
        .collect();
    Ok(Json(list.into()))
}

/// `GET /api/v1/traces/{id}`: a trace (its id, or the first 8+ hex digits of it) and its
/// spans.
pub(crate) async fn get_trace(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id.len() < 8 || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(
            ApiError::bad_request("invalid_id", "a trace id is 8 to 32 hex digits").at("trace_id"),
        );
    }
    let lookup = api.read(move |conn| traces::trace(conn, &id)).await?;
    match lookup {
        Lookup::Found { trace_id, spans } => {
            Ok(Json(crate::commands::traces::trace_json(&trace_id, &spans)))
        }
        Lookup::Ambiguous(ids) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ambiguous_id",
            format!("the prefix names several traces: {}", ids.join(", ")),
        )
        .at("trace_id")),
        _ => Err(ApiError::not_found("no trace has this id").at("trace_id")),
    }
}

/// `GET /api/v1/query`: `metric` (required), `agg` (avg, sum, min, max, count, pNN;
/// default avg), `interval` (default 60s), `since` (a duration back from now, default 1h)
/// or `from` and `until` (RFC 3339), and `label.NAME=VALUE` filters; as `lookout query
/// --json`.
pub(crate) async fn metric_query(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Json<Value>, ApiError> {
    let (labels, params) = params.split_prefixed("label.");
    let mut params = params.known(&["metric", "agg", "interval", "since", "from", "until"])?;
    let metric = params.text("metric").ok_or_else(|| {
        ApiError::bad_request("missing_parameter", "metric is required").at("metric")
    })?;
    let agg = params.text("agg").unwrap_or_else(|| "avg".into());
    let aggregation = Aggregation::parse(&agg).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("{agg:?} is not avg, sum, min, max, count or pNN"),
        )
        .at("agg")
    })?;
    let interval = params
        .duration("interval")?
        .unwrap_or(Duration::from_secs(60));
    if interval < Duration::from_secs(1) {
        return Err(
            ApiError::bad_request("invalid_parameter", "interval is at least 1s").at("interval"),
        );
    }
    let until = params.time("until")?.unwrap_or_else(SystemTime::now);
    let from = match (params.time("from")?, params.duration("since")?) {
        (Some(from), _) => from,
        (None, since) => until
            .checked_sub(since.unwrap_or(Duration::from_secs(3600)))
            .unwrap_or(SystemTime::UNIX_EPOCH),
    };
    if from >= until {
        return Err(ApiError::bad_request("invalid_parameter", "from is before until").at("from"));
    }
    let nanos = |t| lookout::store::unix_nanos(t);
    let mut query = Query::new(&metric, nanos(from), nanos(until), aggregation, 1);
    query.interval = interval.as_nanos().min(i64::MAX as u128) as i64;
    for (name, value) in &labels {
        query = query.label(name, value);
    }
    let answer = api
        .read_query(move |conn| crate::commands::query::answer(conn, &query))
        .await?;
    let series: Vec<Value> = answer
        .iter()
        .map(|s| crate::commands::query::series_json(s, &agg))
        .collect();
    Ok(Json(series.into()))
}

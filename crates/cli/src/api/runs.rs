//! Seed 002's run endpoints: create (one or a batch, idempotent by `event_id`), list,
//! update, associate a commit, and the commit's and repository's web pages.

use super::error::ApiError;
use super::idempotency::{Earlier, Ticket, digest};
use super::run_fields::{self, Purpose};
use super::{Api, body, query};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lookout::store::runs::{self as stored, RunFilter};
use lookout::store::{Record, RecordKind};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

/// Runs in one batch at most.
pub(crate) const MAX_BATCH: usize = 10_000;
/// Runs one list returns at most.
const MAX_LIMIT: usize = 1000;
/// The body field keeping a created run's request digest (for retries after a restart).
const DIGEST_FIELD: &str = "request_digest";
/// Set on an answer that repeats the first one (a retry).
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `POST /api/v1/runs`: creates a run; 201 `{"event_id", "run_id"}`.
pub(crate) async fn create(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let fields = run_fields::parse(body::json(&headers, body)?, Purpose::Create, "")?;
    let (mut created, replayed) = create_all(&api, vec![fields], |_| String::new()).await?;
    Ok(answer(created.remove(0), replayed))
}

/// `POST /api/v1/runs/batch`: a JSON array of runs, created all or none; 201
/// `{"runs": [{"event_id", "run_id"}, ...]}` in the order sent.
pub(crate) async fn create_batch(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Value::Array(items) = body::json(&headers, body)? else {
        return Err(ApiError::field(
            "expected_array",
            "",
            "a batch is a JSON array of runs",
        ));
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::field(
            "invalid_value",
            "",
            format!("a batch has 1 to {MAX_BATCH} runs, not {}", items.len()),
        ));
    }
    let runs = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| run_fields::parse(item, Purpose::Create, &format!("[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let (created, replayed) = create_all(&api, runs, |i| format!("[{i}].")).await?;
    Ok(answer(json!({"runs": created}), replayed))
}

fn answer(body: Value, replayed: bool) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Creates `runs`, each once whatever the retries: what is new is written in one durable
/// append, and the answer (the same for a retry) comes once it is acknowledged. Whether
/// every one was there before is the second value.
async fn create_all(
    api: &Api,
    runs: Vec<BTreeMap<String, Value>>,
    at: impl Fn(usize) -> String,
) -> Result<(Vec<Value>, bool), ApiError> {
    let digests: Vec<String> = runs
        .iter()
        .map(|fields| digest(&serde_json::to_string(fields).unwrap_or_default()))
        .collect();
    let text = |fields: &BTreeMap<String, Value>, key: &str| {
        fields.get(key).and_then(Value::as_str).map(str::to_owned)
    };
    let ids: Vec<String> = runs
        .iter()
        .map(|f| text(f, "event_id").unwrap_or_default())
        .collect();
    let run_ids: Vec<String> = runs
        .iter()
        .zip(&ids)
        .map(|(f, id)| text(f, "run_id").unwrap_or_else(|| id.clone()))
        .collect();
    let conflict = |i: usize| {
        ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            format!("event_id {:?} was created with a different body; send a new event_id for a new run", ids[i]),
        )
        .at(format!("{}event_id", at(i)))
    };
    // A batch that names one id twice: the same body is one run, another is a conflict.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(&first) = first_of.get(id.as_str()) {
            if digests[first] != digests[i] {
                return Err(conflict(i));
            }
        } else {
            first_of.insert(id, i);
        }
    }
    let lookup = ids.clone();
    // What this daemon acknowledged and the index lacks yet is in the claims.
    let (_, indexed) = api.store().logged_and_indexed();
    let stored_digests = api
        .read_now(move |conn| stored::recorded_fields(conn, &lookup, DIGEST_FIELD))
        .await?;
    let mut tickets: Vec<Ticket> = Vec::new();
    let mut records = Vec::new();
    let now = SystemTime::now();
    for (i, fields) in runs.into_iter().enumerate() {
        if first_of[ids[i].as_str()] != i {
            continue;
        }
        let (earlier, ticket) = api
            .claims()
            .claim(&ids[i], &digests[i], stored_digests[i].as_deref(), indexed)
            .await;
        match earlier {
            Earlier::Different => return Err(conflict(i)),
            Earlier::Same => continue,
            Earlier::None => {}
        }
        tickets.extend(ticket);
        records.push(record(fields, &digests[i], now));
    }
    let replayed = records.is_empty();
    if !replayed {
        api.write(records).await?;
        let (logged, _) = api.store().logged_and_indexed();
        for ticket in tickets {
            ticket.settle(true, logged);
        }
    }
    let created = ids
        .iter()
        .zip(&run_ids)
        .map(|(event_id, run_id)| json!({"event_id": event_id, "run_id": run_id}))
        .collect();
    Ok((created, replayed))
}

/// The record of a new run: its fields, the defaults (status `running`, started now)
/// and its request's digest.
fn record(mut fields: BTreeMap<String, Value>, digest: &str, now: SystemTime) -> Record {
    let event_id = match fields.remove("event_id") {
        Some(Value::String(id)) => id,
        _ => lookout::store::new_event_id(),
    };
    let mut body = run_fields::body(fields);
    body.entry("run_id")
        .or_insert_with(|| event_id.clone().into());
    body.entry("status").or_insert_with(|| "running".into());
    body.entry("start_time")
        .or_insert_with(|| lookout::json::rfc3339(now).into());
    body.insert(DIGEST_FIELD.into(), digest.into());
    Record {
        event_id,
        kind: RecordKind::Run,
        time: now,
        body: body.into(),
    }
}

/// `GET /api/v1/runs`: runs newest first; filters `agent_name`, `job_type`, `status`,
/// `host`, `since` and `until` (start times, RFC 3339), `limit` (1 to 1000, default 100),
/// `offset`.
pub(crate) async fn list(
    State(api): State<Api>,
    params: query::Params,
) -> Result<Json<Value>, ApiError> {
    let mut params = params.known(&[
        "agent_name",
        "agent",
        "job_type",
        "job",
        "status",
        "host",
        "since",
        "until",
        "limit",
        "offset",
    ])?;
    let time = |params: &mut query::Known, name: &str| -> Result<Option<String>, ApiError> {
        params.time(name).map(|t| t.map(lookout::json::rfc3339))
    };
    let filter = {
        let mut filter = RunFilter::default();
        filter.agent = params.text("agent_name").or_else(|| params.text("agent"));
        filter.job_type = params.text("job_type").or_else(|| params.text("job"));
        filter.status = params.text("status");
        filter.host = params.text("host");
        filter.since = time(&mut params, "since")?;
        filter.until = time(&mut params, "until")?;
        filter.limit = params.number("limit", 1, MAX_LIMIT)?.unwrap_or(100);
        filter.offset = params.number("offset", 0, usize::MAX >> 1)?.unwrap_or(0);
        filter
    };
    let (limit, offset) = (filter.limit, filter.offset);
    let runs = api.read(move |conn| stored::list(conn, &filter)).await?;
    Ok(Json(
        json!({"runs": runs, "limit": limit, "offset": offset}),
    ))
}

/// `GET /api/v1/runs/{event_id}`: a run's newest state and its events.
pub(crate) async fn get(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (run_id, mut run) = find(&api, &id).await?;
    let events = api.read(move |conn| stored::events(conn, &run_id)).await?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|(name, time, payload)| {
            json!({"name": name, "time": lookout::store::rfc3339_of_nanos(time), "payload": payload})
        })
        .collect();
    run.insert("events".into(), events.into());
    Ok(Json(run.into()))
}

/// The run `id` names (its event id or run id), as stored.
async fn find(api: &Api, id: &str) -> Result<(String, stored::RunBody), ApiError> {
    run_fields::check_id(id, "event_id").map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        ..e
    })?;
    let id = id.to_owned();
    let found = api
        .read(move |conn| {
            let Some(run_id) = stored::run_of_event(conn, &id)? else {
                return Ok(None);
            };
            Ok(stored::load_state(conn, &run_id)?.map(|run| (run_id, run)))
        })
        .await?;
    found.ok_or_else(|| ApiError::not_found("no run has this event_id").at("event_id"))
}

/// `PATCH /api/v1/runs/{event_id}`: changes the fields sent; answers the run's new state.
pub(crate) async fn update(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body::json(&headers, body);
    let (run_id, _) = find(&api, &id).await?;
    let fields = run_fields::parse(body?, Purpose::Update, "")?;
    let run = api
        .update_run(run_id, move |run| run.extend(fields))
        .await?;
    Ok(Json(run.into()))
}

/// `POST /api/v1/runs/{event_id}/associate-commit`: `commit_hash`, `commit_source`
/// (`manual`, `llm`, `ci`) and optionally `commit_author`, as seed 002's
/// `associate_commit`; answers `{"success": true, "message"}`.
pub(crate) async fn associate_commit(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body::json(&headers, body);
    let (run_id, _) = find(&api, &id).await?;
    let Value::Object(mut body) = body? else {
        return Err(ApiError::field(
            "expected_object",
            "",
            "send {commit_hash, commit_source, commit_author}",
        ));
    };
    let mut take = |name: &str, required: bool| -> Result<Option<String>, ApiError> {
        match body.remove(name) {
            Some(Value::String(s)) if s.len() <= run_fields::MAX_TEXT => Ok(Some(s)),
            Some(Value::String(_)) => Err(ApiError::field(
                "too_long",
                name,
                format!("{name} is too long"),
            )),
            Some(_) => Err(ApiError::field(
                "wrong_type",
                name,
                format!("{name} is a string"),
            )),
            None if required => Err(ApiError::field(
                "missing_field",
                name,
                format!("{name} is required"),
            )),
            None => Ok(None),
        }
    };
    let hash = take("commit_hash", true)?.unwrap_or_default();
    let source = take("commit_source", true)?.unwrap_or_default();
    let author = take("commit_author", false)?;
    if let Some(unknown) = body.keys().next() {
        return Err(ApiError::field(
            "unknown_field",
            unknown.as_str(),
            "associate-commit takes commit_hash, commit_source and commit_author",
        ));
    }
    let hash = lookout::runs::git::validate_commit(&hash, &source).map_err(|e| {
        let field = match e {
            lookout::runs::RunError::Source(_) => "commit_source",
            _ => "commit_hash",
        };
        ApiError::field("invalid_value", field, e.to_string())
    })?;
    let message = format!("commit {hash} associated with run {run_id}");
    api.update_run(run_id, move |run| {
        stored::set_commit(run, &hash, &source, author.as_deref());
    })
    .await?;
    Ok(Json(json!({"success": true, "message": message})))
}

/// `GET /api/v1/runs/{event_id}/commit-url`: the web page of the run's commit.
pub(crate) async fn commit_url(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, run) = find(&api, &id).await?;
    let (repo, hash) = (text(&run, "git_repo"), text(&run, "git_commit_hash"));
    let (Some(repo), Some(hash)) = (repo, hash) else {
        return Err(
            ApiError::not_found("the run has no repository and commit").at("git_commit_hash")
        );
    };
    let url = lookout::runs::git::commit_url(repo, hash).map_err(|e| url_error(&e))?;
    Ok(Json(json!({"commit_url": url})))
}

/// `GET /api/v1/runs/{event_id}/repo-url`: the web page of the run's repository.
pub(crate) async fn repo_url(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, run) = find(&api, &id).await?;
    let Some(repo) = text(&run, "git_repo") else {
        return Err(ApiError::not_found("the run has no repository").at("git_repo"));
    };
    let url = lookout::runs::git::repo_url(repo).map_err(|e| url_error(&e))?;
    Ok(Json(json!({"repo_url": url})))
}

fn url_error(error: &lookout::runs::git::UrlError) -> ApiError {
    ApiError::field("unsupported_repository", "git_repo", error.to_string())
}

fn text<'a>(run: &'a stored::RunBody, key: &str) -> Option<&'a str> {
    run.get(key).and_then(Value::as_str)
}

/// `GET /api/v1/metadata/{field}`: the distinct values of a run field (at most 1000).
pub(crate) async fn metadata(
    State(api): State<Api>,
    Path(field): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = field.clone();
    let values = api
        .read(move |conn| stored::distinct(conn, &name, MAX_LIMIT))
        .await?;
    match values {
        Some(values) => Ok(Json(json!({"field": field, "values": values}))),
        None => Err(ApiError::not_found(format!("{field:?} is not a run field")).at("field")),
    }
}

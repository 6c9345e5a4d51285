//! The daemon's HTTP API on axum: seed 002's run endpoints, OTLP/HTTP ingest, and the
//! engine's `/metrics`, `/health`, `/version`, `POST /export`, behind the hardening every
//! request gets: an optional bearer token, a body cap after decompression, a deadline
//! per request, CORS only for an allowlist, and every refusal a 4xx with a JSON error
//! (`{"error": {"code", "message", "field"}}`).
//!
//! While it runs, the daemon is the single writer of its store: what it acknowledges
//! (a 2xx) is in the store's log, synced.

mod activity;
mod agents;
mod body;
mod error;
mod guard;
mod idempotency;
mod openapi;
mod otlp;
mod query;
mod reads;
mod run_fields;
mod runs;

pub(crate) use guard::{ApiOptions, DEFAULT_BODY_LIMIT};
pub(crate) use otlp::grpc_sink;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header;
use axum::routing::{MethodRouter, get, patch, post};
use error::ApiError;
use idempotency::Claims;
use lookout::Telemetry;
use lookout::store::runs::RunBody;
use lookout::store::rusqlite::Connection;
use lookout::store::{Record, Store};
use openapi::Endpoint;
use std::sync::Arc;
use std::time::Duration;

/// How long a write may wait for the store to make it durable.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read waits for the index to take what was acknowledged before it; past
/// that it reads what the index has.
const INDEX_WAIT: Duration = Duration::from_secs(2);

/// The API's state: the telemetry it serves and records into.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    telemetry: Telemetry,
    store: Store,
    claims: Arc<Claims>,
    /// Seed 004's bridge over the store.
    bridge: Arc<lookout_query::bridge::Bridge>,
    /// Open connections to the index, reused across requests.
    readers: Arc<Readers>,
    /// Run updates read the stored state and write the next: one at a time.
    updates: tokio::sync::Mutex<()>,
    /// The prices the overview's costs are computed with.
    prices: lookout_query::cost::Prices,
}

/// The engine's endpoints, as the OpenAPI document names them.
fn engine_endpoints(metrics_path: &str) -> Vec<Endpoint> {
    let mut endpoints = vec![
        Endpoint::get("/health", "Liveness and the pipeline's state"),
        Endpoint::get("/version", "Lookout's version"),
        Endpoint::post(
            lookout::server::EXPORT_PATH,
            "Export now (flush the pipeline)",
            openapi::Takes::Nothing,
            200,
        ),
    ];
    if !metrics_path.is_empty() {
        let mut metrics = Endpoint::get("", "The Prometheus text exposition");
        metrics.path = metrics_path.to_owned().into();
        endpoints.push(metrics);
    }
    for endpoint in &mut endpoints {
        endpoint.json_errors = false;
    }
    endpoints
}

/// The router of every endpoint, its hardening applied. Without a store (`LOOKOUT_STORE=off`)
/// only the engine's endpoints are served.
pub(crate) fn router(telemetry: Telemetry, options: &ApiOptions) -> axum::Router {
    let engine = lookout::server::Routes::new(telemetry.clone(), options.metrics_path.clone());
    let engine = move |request: Request| {
        let engine = engine.clone();
        // The engine's routes read no body: the head alone crosses the await.
        let head = Request::from_parts(request.into_parts().0, ());
        async move { engine.respond(&head).await }
    };
    let mut router = axum::Router::new()
        .route("/health", get(engine.clone()))
        .route("/version", get(engine.clone()))
        .route(lookout::server::EXPORT_PATH, post(engine.clone()));
    if !options.metrics_path.is_empty() {
        router = router.route(&options.metrics_path, get(engine));
    }
    if let Some(store) = telemetry.store().cloned() {
        let api = Api {
            inner: Arc::new(Inner {
                telemetry,
                bridge: Arc::new(lookout_query::bridge::Bridge::new(
                    store.clone(),
                    lookout_query::bridge::BridgeConfig::default(),
                )),
                readers: Arc::new(Readers {
                    db: store.config().db_path.clone(),
                    idle: parking_lot::Mutex::new(Vec::new()),
                }),
                store,
                claims: Arc::default(),
                updates: tokio::sync::Mutex::new(()),
                prices: lookout_query::cost::Prices::from_env().unwrap_or_else(|e| {
                    eprintln!("lookout: {e}: the overview prices tokens with the bundled prices");
                    lookout_query::cost::Prices::bundled()
                }),
            }),
        };
        let mut routes = axum::Router::new();
        let mut endpoints = engine_endpoints(&options.metrics_path);
        for (endpoint, handler) in store_endpoints() {
            routes = routes.route(&endpoint.path, handler);
            endpoints.push(endpoint);
        }
        endpoints.push(Endpoint::get(openapi::PATH, "This document"));
        let document = openapi::document(&endpoints).to_json().unwrap_or_default();
        let document = Bytes::from(document);
        routes = routes.route(
            openapi::PATH,
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        );
        router = router
            .merge(routes.with_state(api))
            .merge(crate::web::routes());
    }
    let router = router.fallback(|| async { ApiError::not_found("no such endpoint") });
    guard::harden(router, options)
}

/// The endpoints that read or write the store: the router's and the OpenAPI document's.
fn store_endpoints() -> Vec<(Endpoint, MethodRouter<Api>)> {
    use openapi::Takes::{Object, Otlp, Run, Runs};
    let runs_of = "/api/v1/runs/{event_id}";
    vec![
        (
            Endpoint::post(
                "/api/v1/runs",
                "Create a run (seed 002): {event_id, run_id}",
                Run,
                201,
            ),
            post(runs::create),
        ),
        (
            Endpoint::get(
                "/api/v1/runs",
                "Runs, newest first: agent_name, job_type, status, host, since, until, limit, offset",
            ),
            get(runs::list),
        ),
        (
            Endpoint::post("/api/v1/runs/batch", "Create runs, all or none", Runs, 201),
            post(runs::create_batch),
        ),
        (
            Endpoint::get(runs_of, "A run's newest state and its events"),
            get(runs::get),
        ),
        (
            Endpoint::patch(runs_of, "Change a run's fields; answers its new state", Run),
            patch(runs::update),
        ),
        (
            Endpoint::post(
                "/api/v1/runs/{event_id}/associate-commit",
                "Associate a commit: commit_hash, commit_source, commit_author",
                Object,
                200,
            ),
            post(runs::associate_commit),
        ),
        (
            Endpoint::get(
                "/api/v1/runs/{event_id}/commit-url",
                "The web page of the run's commit",
            ),
            get(runs::commit_url),
        ),
        (
            Endpoint::get(
                "/api/v1/runs/{event_id}/repo-url",
                "The web page of the run's repository",
            ),
            get(runs::repo_url),
        ),
        (
            Endpoint::get(
                "/api/v1/metadata/{field}",
                "The distinct values of a run field",
            ),
            get(runs::metadata),
        ),
        (
            Endpoint::get(
                "/api/v1/traces",
                "The newest traces: since, name, status, limit",
            ),
            get(reads::list_traces),
        ),
        (
            Endpoint::get(
                "/api/v1/traces/{trace_id}",
                "A trace and its spans, as `lookout traces --json`",
            ),
            get(reads::get_trace),
        ),
        (
            Endpoint::get(
                "/api/v1/query",
                "A metric over time: metric, agg, interval, since or from and until, label.NAME",
            ),
            get(reads::metric_query),
        ),
        (
            Endpoint::get(
                "/api/v1/overview",
                "What agents did over since (default 24h): runs, agents, errors, tokens, cost, slowest tools, recent traces and runs",
            ),
            get(activity::overview),
        ),
        (
            Endpoint::get(
                "/api/v1/sessions",
                "The newest sessions (seed 001), open ones first: limit",
            ),
            get(activity::list_sessions),
        ),
        (
            Endpoint::get("/api/v1/sessions/{id}", "A session and its events"),
            get(activity::get_session),
        ),
        (
            Endpoint::get(
                "/api/v1/skills",
                "Skill entries (seed 000) and the per-skill analysis (seed 001): limit",
            ),
            get(activity::skills),
        ),
        (
            Endpoint::get(
                "/api/v1/families",
                "The metrics stored: kind, series, label values",
            ),
            get(activity::families),
        ),
        (
            Endpoint::post(
                "/v1/traces",
                "OTLP/HTTP traces, answered once durable",
                Otlp,
                200,
            ),
            post(otlp::traces),
        ),
        (
            Endpoint::post(
                "/v1/metrics",
                "OTLP/HTTP metrics, answered once durable",
                Otlp,
                200,
            ),
            post(otlp::metrics),
        ),
        (
            Endpoint::post(
                "/telemetry/session/start",
                "Start a session (seed 001): prompt, metadata, session_id",
                Object,
                201,
            ),
            post(agents::start_session),
        ),
        (
            Endpoint::post(
                "/telemetry/session/{id}/event",
                "An event of a session: event_type, data",
                Object,
                200,
            ),
            post(agents::session_event),
        ),
        (
            Endpoint::post(
                "/telemetry/session/{id}/end",
                "End a session: success, output, error; answers its rollup",
                Object,
                200,
            ),
            post(agents::end_session),
        ),
        (
            Endpoint::post(
                "/api/v1/skills/capture",
                "Capture a skill execution (seed 000's create_telemetry_entry)",
                Object,
                201,
            ),
            post(agents::capture),
        ),
        (
            Endpoint::post(
                "/api/v1/events",
                "Record an event (seed 004): event_type, source, data",
                Object,
                201,
            ),
            post(agents::record_event),
        ),
        (
            Endpoint::post(
                "/api/v1/metrics",
                "Record a metric (seed 004): metric_name, metric_value, context, timestamp",
                Object,
                201,
            ),
            post(agents::record_metric),
        ),
        (
            Endpoint::get(
                "/api/v1/metrics",
                "Metrics (seed 004's get_metrics): names, since, until, aggregation",
            ),
            get(agents::get_metrics),
        ),
    ]
}

impl Api {
    fn claims(&self) -> &Arc<Claims> {
        &self.inner.claims
    }

    fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// `read` on a connection to the store's index, off the async threads, once the
    /// index has what was acknowledged before.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> lookout::store::rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.inner.store.clone();
        self.read_now(move |conn| {
            let _ = store.wait_indexed(INDEX_WAIT);
            read(conn)
        })
        .await
    }

    /// `read` on what the index has now (for a lookup whose recent answers are kept
    /// elsewhere).
    async fn read_now<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> lookout::store::rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let readers = Arc::clone(&self.inner.readers);
        let result = tokio::task::spawn_blocking(move || readers.with(read)).await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(ApiError::unavailable(format!("cannot read the store: {e}"))),
            Err(_) => Err(ApiError::unavailable("the store read did not finish")),
        }
    }

    /// `read` on the index for a query, its refusal (a bad filter) a 400.
    async fn read_query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, lookout_query::QueryError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let readers = Arc::clone(&self.inner.readers);
        let store = self.inner.store.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _ = store.wait_indexed(INDEX_WAIT);
            readers.with(read).map_err(|e| match e {
                lookout_query::QueryError::Store(_) => ApiError::unavailable(e.to_string()),
                refused => ApiError::bad_request("invalid_query", refused.to_string()),
            })
        })
        .await;
        result.unwrap_or_else(|_| Err(ApiError::unavailable("the query did not finish")))
    }

    /// Writes `records` and returns once they are durable (the log synced).
    async fn write(&self, records: Vec<Record>) -> Result<(), ApiError> {
        let store = self.inner.store.clone();
        self.durably(move || store.records_durable(records, WRITE_TIMEOUT))
            .await
    }

    /// Writes finished spans and returns once they are durable.
    async fn write_spans(&self, spans: Vec<lookout::trace::FinishedSpan>) -> Result<(), ApiError> {
        let store = self.inner.store.clone();
        self.durably(move || store.spans_durable(spans, WRITE_TIMEOUT))
            .await
    }

    async fn durably(
        &self,
        write: impl FnOnce() -> Result<(), lookout::store::FlushError> + Send + 'static,
    ) -> Result<(), ApiError> {
        match tokio::task::spawn_blocking(write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ApiError::unavailable(format!("not stored: {e}"))),
            Err(_) => Err(ApiError::unavailable("the store write did not finish")),
        }
    }

    /// Stores a new state of run `run_id` (its stored state changed by `edit`) and
    /// returns it, once durable and indexed.
    async fn update_run(
        &self,
        run_id: String,
        edit: impl FnOnce(&mut RunBody) + Send + 'static,
    ) -> Result<RunBody, ApiError> {
        let _one_at_a_time = self.inner.updates.lock().await;
        let store = self.inner.store.clone();
        let updated = tokio::task::spawn_blocking(move || {
            use lookout::store::runs;
            match runs::update(&store, &run_id, edit)? {
                true => runs::stored_state(&store, &run_id),
                false => Ok(None),
            }
        })
        .await;
        match updated {
            Ok(Ok(Some(run))) => Ok(run),
            Ok(Ok(None)) => Err(ApiError::not_found("no such run").at("event_id")),
            Ok(Err(e)) => Err(ApiError::unavailable(format!("not stored: {e}"))),
            Err(_) => Err(ApiError::unavailable("the store write did not finish")),
        }
    }
}

/// Read-only connections to the index, kept for the next request (opening one costs
/// more than most reads).
#[derive(Debug)]
struct Readers {
    db: std::path::PathBuf,
    idle: parking_lot::Mutex<Vec<Connection>>,
}

impl Readers {
    /// Connections kept idle at most.
    const KEPT: usize = 8;

    /// `read` on an idle connection, or a new one; kept afterwards unless it failed.
    fn with<T, E: From<lookout::store::rusqlite::Error>>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let idle = self.idle.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => lookout::store::open_reader(&self.db)?,
        };
        let answer = read(&conn)?;
        let mut idle = self.idle.lock();
        if idle.len() < Self::KEPT {
            idle.push(conn);
        }
        Ok(answer)
    }
}

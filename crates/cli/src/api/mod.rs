//! The daemon's HTTP API on axum: seed 002's run endpoints, OTLP/HTTP ingest, and the
//! engine's `/metrics`, `/health`, `/version`, `POST /export`, behind the hardening every
//! request gets: an optional bearer token, a body cap after decompression, a deadline
//! per request, CORS only for an allowlist, and every refusal a 4xx with a JSON error
//! (`{"error": {"code", "message", "field"}}`).
//!
//! While it runs, the daemon is the single writer of its store: what it acknowledges
//! (a 2xx) is in the store's log, synced.

mod agents;
mod body;
mod error;
mod guard;
mod idempotency;
mod otlp;
mod query;
mod reads;
mod run_fields;
mod runs;

pub(crate) use guard::{ApiOptions, DEFAULT_BODY_LIMIT};
pub(crate) use otlp::grpc_sink;

use axum::extract::Request;
use axum::routing::{get, patch, post};
use error::ApiError;
use idempotency::Claims;
use lookout::Telemetry;
use lookout::store::runs::RunBody;
use lookout::store::rusqlite::Connection;
use lookout::store::{Record, Store};
use std::sync::Arc;
use std::time::Duration;

/// How long a write may wait for the store to make it durable.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
            }),
        };
        router = router.merge(store_routes().with_state(api));
    }
    let router = router.fallback(|| async { ApiError::not_found("no such endpoint") });
    guard::harden(router, options)
}

/// The endpoints that read or write the store.
fn store_routes() -> axum::Router<Api> {
    axum::Router::new()
        .route("/api/v1/runs", post(runs::create).get(runs::list))
        .route("/api/v1/runs/batch", post(runs::create_batch))
        .route(
            "/api/v1/runs/{event_id}",
            patch(runs::update).get(runs::get),
        )
        .route(
            "/api/v1/runs/{event_id}/associate-commit",
            post(runs::associate_commit),
        )
        .route("/api/v1/runs/{event_id}/commit-url", get(runs::commit_url))
        .route("/api/v1/runs/{event_id}/repo-url", get(runs::repo_url))
        .route("/api/v1/metadata/{field}", get(runs::metadata))
        .route("/api/v1/traces", get(reads::list_traces))
        .route("/api/v1/traces/{trace_id}", get(reads::get_trace))
        .route("/api/v1/query", get(reads::metric_query))
        .route("/v1/traces", post(otlp::traces))
        .route("/v1/metrics", post(otlp::metrics))
        .route("/telemetry/session/start", post(agents::start_session))
        .route("/telemetry/session/{id}/event", post(agents::session_event))
        .route("/telemetry/session/{id}/end", post(agents::end_session))
        .route("/api/v1/skills/capture", post(agents::capture))
        .route("/api/v1/events", post(agents::record_event))
        .route(
            "/api/v1/metrics",
            post(agents::record_metric).get(agents::get_metrics),
        )
}

impl Api {
    fn claims(&self) -> &Arc<Claims> {
        &self.inner.claims
    }

    fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// `read` on a connection to the store's index, off the async threads.
    async fn read<T: Send + 'static>(
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
        let result = tokio::task::spawn_blocking(move || {
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

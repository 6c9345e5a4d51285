//! Request routing: which path answers what.

use crate::Telemetry;
use crate::metrics::{Descriptor, Family, Histogram};
use bytes::Bytes;
use http::header::{ACCEPT, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use std::sync::Arc;
use std::time::Instant;

/// `POST` here exports now: every exporter gets the finished spans and a metrics
/// collection; the answer is the [`crate::pipeline::FlushReport`] as JSON.
pub const EXPORT_PATH: &str = "/export";

/// Scrape durations, exposed on the next scrape.
pub const SCRAPE_DURATION_METRIC: &str = "lookout_scrape_duration_seconds";

/// The engine's endpoints, for a server of its own or as part of another's.
#[derive(Clone)]
pub struct Routes {
    inner: Arc<Inner>,
}

struct Inner {
    telemetry: Telemetry,
    metrics_path: String,
    scrape_duration: Option<Family<Histogram>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("metrics_path", &self.inner.metrics_path)
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// Routes serving `telemetry`, the exposition at `metrics_path` (none if empty).
    pub fn new(telemetry: Telemetry, metrics_path: String) -> Self {
        let descriptor = Descriptor::new(
            SCRAPE_DURATION_METRIC,
            "Time to encode the /metrics exposition.",
        )
        .unit("seconds");
        // Registration can only fail if the application took this name for itself; then
        // scrapes go unmeasured rather than unserved.
        let scrape_duration = telemetry.registry().histogram(descriptor).ok();
        Routes {
            inner: Arc::new(Inner {
                telemetry,
                metrics_path,
                scrape_duration,
            }),
        }
    }

    /// Answers a request; `POST /export` flushes the exporters off the async threads.
    pub async fn respond<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        if req.uri().path() == EXPORT_PATH && req.method() == Method::POST {
            let telemetry = self.inner.telemetry.clone();
            return match tokio::task::spawn_blocking(move || telemetry.flush()).await {
                Ok(report) => json(StatusCode::OK, &report.to_json()),
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "export failed\n"),
            };
        }
        self.handle(req)
    }

    fn handle<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        if req.uri().path() == EXPORT_PATH {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let mut response = match req.uri().path() {
            path if path == self.inner.metrics_path && !path.is_empty() => self.metrics(req),
            "/health" => self.health(),
            "/version" => json(
                StatusCode::OK,
                &serde_json::json!({ "name": "lookout", "version": crate::VERSION }),
            ),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        };
        if req.method() == Method::HEAD {
            *response.body_mut() = Full::default();
        }
        response
    }

    fn metrics<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let exposition = crate::prometheus::render(
            self.inner.telemetry.registry(),
            header(ACCEPT),
            header(ACCEPT_ENCODING),
        );
        let mut response = Response::new(Full::new(Bytes::from(exposition.body)));
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(exposition.content_type),
        );
        headers.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
        if exposition.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Some(family) = &self.inner.scrape_duration {
            family.observe_duration(&[], started.elapsed());
        }
        response
    }

    fn health(&self) -> Response<Full<Bytes>> {
        let telemetry = &self.inner.telemetry;
        json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "ok",
                "version": crate::VERSION,
                "uptime_seconds": telemetry.uptime().as_secs_f64(),
                "series": telemetry.registry().series_count(),
            }),
        )
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string();
    body.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

//! What every request goes through before a handler: the bearer token, CORS, a deadline,
//! decompression and the body cap (counted after decompression, so a small gzip body
//! that inflates past the cap is stopped as soon as it does), and the shaping of every
//! refusal a layer makes into the API's JSON error.

use super::error::{ApiError, code_of_status};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::timeout::TimeoutLayer;

/// The body a request may have, decompressed.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How the API is guarded.
#[derive(Debug, Clone)]
pub(crate) struct ApiOptions {
    /// The Prometheus exposition's path (none if empty).
    pub(crate) metrics_path: String,
    /// A request must carry `Authorization: Bearer {token}` (except `GET /health` and the
    /// web page's files).
    pub(crate) token: Option<String>,
    /// Origins a browser may call the API from; none: CORS off.
    pub(crate) cors_origins: Vec<HeaderValue>,
    /// The largest body, decompressed.
    pub(crate) body_limit: usize,
    /// The longest a request may take.
    pub(crate) request_timeout: Duration,
}

/// `router` with the guards of `options` around it.
pub(super) fn harden(router: axum::Router, options: &ApiOptions) -> axum::Router {
    let mut router = router
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(RequestDecompressionLayer::new());
    if let Some(token) = &options.token {
        let expected: Arc<[u8]> = format!("Bearer {token}").into_bytes().into();
        router = router.layer(middleware::from_fn_with_state(expected, require_token));
    }
    let mut router = router
        .layer(middleware::from_fn_with_state(
            options.body_limit,
            read_body_first,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ));
    if !options.cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(options.cors_origins.clone()))
                .allow_methods([Method::GET, Method::POST, Method::PATCH])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    header::CONTENT_ENCODING,
                ]),
        );
    }
    router.layer(middleware::map_response(as_json_error))
}

/// Reads the whole body (as sent, up to `limit` bytes) before anything can refuse the
/// request: a refusal sent while the client is still sending would make the server close
/// a connection with unread data, and the reset that follows can destroy the answer
/// before the client reads it.
async fn read_body_first(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(body) => {
            let body = axum::body::Body::from(body.to_bytes());
            next.run(Request::from_parts(parts, body)).await
        }
        Err(error) if error.is::<http_body_util::LengthLimitError>() => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {limit} bytes"),
        )
        .into_response(),
        Err(error) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            format!("the body could not be read: {error}"),
        )
        .into_response(),
    }
}

/// Refuses a request without the token (compared in constant time); `GET /health` is
/// open, for probes, and so are the web page's files (they hold no data).
async fn require_token(
    State(expected): State<Arc<[u8]>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if request.method() == Method::GET && (path == "/health" || crate::web::is_page_file(path)) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if bool::from(given.ct_eq(&expected)) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send Authorization: Bearer <token> (the daemon's --token)",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A refusal made by a layer (a body too large, a timeout, an encoding not supported, a
/// method not allowed) has no JSON body: it gets one, its headers kept.
async fn as_json_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status.canonical_reason() {
        Some(reason) => reason.to_owned(),
        None => status.to_string(),
    };
    // The decompression layer refuses an encoding it lacks with a 415 naming those it has.
    let code = match response.headers().contains_key(header::ACCEPT_ENCODING) {
        true if status == StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_encoding",
        _ => code_of_status(status),
    };
    let (mut parts, _) = response.into_parts();
    let shaped = ApiError::new(status, code, message).into_response();
    let (shaped_parts, body) = shaped.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(shaped_parts.headers);
    Response::from_parts(parts, body)
}

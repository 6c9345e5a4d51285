//! The web page `lookout serve` serves at `/`: plain HTML, CSS and JavaScript embedded in
//! the binary (no build step, nothing loaded from elsewhere), drawing its views from the
//! API's JSON. The files hold no data, so they are served without the token; the page
//! sends the token with each API request once given.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// The page's files: path, content type, content.
const FILES: [(&str, &str, &str); 3] = [
    ("/", "text/html; charset=utf-8", include_str!("index.html")),
    (
        "/ui/app.js",
        "text/javascript; charset=utf-8",
        include_str!("app.js"),
    ),
    (
        "/ui/style.css",
        "text/css; charset=utf-8",
        include_str!("style.css"),
    ),
];

/// What the page may load and run: its own files and API only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether a GET of `path` is one of the page's files (served without the token).
pub(crate) fn is_page_file(path: &str) -> bool {
    FILES.iter().any(|(file, _, _)| *file == path)
}

/// The routes of the page's files.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let mut router = axum::Router::new();
    for (path, content_type, body) in FILES {
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                        (
                            header::CONTENT_SECURITY_POLICY,
                            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
                        ),
                        (
                            header::X_CONTENT_TYPE_OPTIONS,
                            HeaderValue::from_static("nosniff"),
                        ),
                    ],
                    body,
                )
                    .into_response()
            }),
        );
    }
    router
}

//! A minimal HTTP/1.1 client over hyper, for the CLI talking to a running endpoint.

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Why a request to an endpoint failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ClientError {
    /// The URL is not an `http://host[:port]/path` URL.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection, or it broke.
    #[error("cannot reach {url}: {source}")]
    Connect {
        /// The URL given.
        url: String,
        /// The transport error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No complete answer within the timeout.
    #[error("no answer from {url} within {timeout:?}")]
    Timeout {
        /// The URL given.
        url: String,
        /// The limit.
        timeout: Duration,
    },
}

/// A received response.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// Status code.
    pub(crate) status: StatusCode,
    /// Body, as received (not decompressed).
    pub(crate) body: Bytes,
}

/// GETs `url` with extra headers, within `timeout`.
pub(crate) async fn get(
    url: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Fetched, ClientError> {
    request(Method::GET, url, headers, Bytes::new(), timeout).await
}

/// POSTs an empty body to `url`, within `timeout`.
pub(crate) async fn post(url: &str, timeout: Duration) -> Result<Fetched, ClientError> {
    request(Method::POST, url, &[], Bytes::new(), timeout).await
}

/// POSTs JSON `body` to `url`, within `timeout`.
pub(crate) async fn post_json(
    url: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<Fetched, ClientError> {
    let headers = [("content-type", "application/json")];
    request(Method::POST, url, &headers, body, timeout).await
}

async fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
    timeout: Duration,
) -> Result<Fetched, ClientError> {
    tokio::time::timeout(timeout, send(method, url, headers, body))
        .await
        .unwrap_or_else(|_| {
            Err(ClientError::Timeout {
                url: url.to_owned(),
                timeout,
            })
        })
}

async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Fetched, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid("only http:// is supported"));
    }
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let connect = |e: Box<dyn std::error::Error + Send + Sync>| ClientError::Connect {
        url: url.to_owned(),
        source: e,
    };
    let stream = tokio::net::TcpStream::connect((authority.host(), port))
        .await
        .map_err(|e| connect(e.into()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect(e.into()))?;
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, authority.as_str());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| invalid(&e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| connect(e.into()))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| connect(e.into()))?
        .to_bytes();
    Ok(Fetched {
        status: parts.status,
        body,
    })
}

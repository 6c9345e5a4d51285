//! A real OTLP receiver for tests: a tonic gRPC server or a hyper HTTP server built on
//! the official generated types, decoding every request it accepts. It answers as
//! scripted (an HTTP status with `Retry-After`, a gRPC code, or never), and can be
//! stopped and started again on the same port.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use parking_lot::Mutex;
use prost::Message;
use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Protocol;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Decode, record, succeed.
    Accept,
    /// HTTP: this status, with `Retry-After` if given. Not recorded.
    Status(u16, Option<String>),
    /// gRPC: this status code. Not recorded.
    Grpc(tonic::Code),
    /// Never answer.
    Stall,
}

/// Everything the receiver saw.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Accepted span requests, decoded.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Accepted metric requests, decoded.
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Headers (gRPC metadata) of every request, accepted or not.
    pub headers: Vec<http::HeaderMap>,
    /// When each request arrived, accepted or not.
    pub arrivals: Vec<Instant>,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Received>,
    script: Mutex<VecDeque<Answer>>,
}

impl Shared {
    /// Notes a request's arrival and says how to answer it.
    fn arrive(&self, headers: http::HeaderMap) -> Answer {
        let mut received = self.received.lock();
        received.headers.push(headers);
        received.arrivals.push(Instant::now());
        self.script.lock().pop_front().unwrap_or(Answer::Accept)
    }
}

/// A running receiver; dropping it stops it.
pub struct Receiver {
    protocol: Protocol,
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("protocol", &self.protocol)
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// A receiver on a free loopback port.
    pub fn start(protocol: Protocol) -> Receiver {
        Receiver::start_on(protocol, "127.0.0.1:0".parse().expect("an address"))
            .expect("a free loopback port")
    }

    /// A receiver on `addr` (to come back on a port a stopped receiver had).
    pub fn start_on(protocol: Protocol, addr: SocketAddr) -> std::io::Result<Receiver> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        match protocol {
            Protocol::Grpc => {
                let service = Service(shared.clone());
                // Windows as large as a Collector's: with h2's 64 KiB default a large
                // request waits on flow control, not on the exporter.
                let server = tonic::transport::Server::builder()
                    .initial_stream_window_size(Some(4 << 20))
                    .initial_connection_window_size(Some(8 << 20))
                    .add_service(
                        TraceServiceServer::new(service.clone())
                            .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                    )
                    .add_service(
                        MetricsServiceServer::new(service)
                            .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                    )
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
                runtime.spawn(server);
            }
            Protocol::HttpProtobuf => {
                runtime.spawn(serve_http(listener, shared.clone()));
            }
        }
        Ok(Receiver {
            protocol,
            addr,
            shared,
            runtime: Some(runtime),
        })
    }

    /// The base URL: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers for the next requests, in order; then it accepts.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().extend(answers);
    }

    /// A copy of what it saw so far.
    pub fn received(&self) -> Received {
        self.shared.received.lock().clone()
    }

    /// Every accepted span, across requests.
    pub fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        self.shared
            .received
            .lock()
            .traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.iter().cloned())
            .collect()
    }

    /// Requests that arrived, accepted or not.
    pub fn requests(&self) -> usize {
        self.shared.received.lock().arrivals.len()
    }

    /// Polls `done` until it holds or `timeout` passes; returns whether it held.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Receiver) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        done(self)
    }

    /// Stops listening and drops open connections.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[derive(Clone)]
struct Service(Arc<Shared>);

impl Service {
    async fn answer(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), tonic::Status> {
        match self.0.arrive(metadata.clone().into_headers()) {
            Answer::Accept => Ok(()),
            Answer::Grpc(code) => Err(tonic::Status::new(code, "scripted")),
            Answer::Status(..) => Err(tonic::Status::internal("an HTTP answer to gRPC")),
            Answer::Stall => std::future::pending().await,
        }
    }
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.answer(request.metadata()).await?;
        self.0.received.lock().traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.answer(request.metadata()).await?;
        self.0.received.lock().metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn serve_http(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle_http(request, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle_http(
    request: http::Request<hyper::body::Incoming>,
    shared: &Shared,
) -> http::Response<Full<Bytes>> {
    let respond = |status: u16, body: &str| {
        let mut response = http::Response::new(Full::new(Bytes::from(body.to_owned())));
        *response.status_mut() = http::StatusCode::from_u16(status).expect("a valid status");
        response
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return respond(400, "unreadable body");
    };
    match shared.arrive(parts.headers.clone()) {
        Answer::Accept => {}
        Answer::Status(status, retry_after) => {
            let mut response = respond(status, "scripted");
            if let Some(value) = retry_after {
                response.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::try_from(value).expect("a header value"),
                );
            }
            return response;
        }
        Answer::Grpc(_) => return respond(500, "a gRPC answer to HTTP"),
        Answer::Stall => std::future::pending().await,
    }
    let gzip = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip");
    let body = if gzip {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            return respond(400, "bad gzip");
        }
        Bytes::from(plain)
    } else {
        body
    };
    if parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.as_bytes())
        != Some(b"application/x-protobuf")
    {
        return respond(415, "expected application/x-protobuf");
    }
    let mut received = shared.received.lock();
    match parts.uri.path() {
        "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
            Ok(request) => received.traces.push(request),
            Err(e) => return respond(400, &e.to_string()),
        },
        "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
            Ok(request) => received.metrics.push(request),
            Err(e) => return respond(400, &e.to_string()),
        },
        _ => return respond(404, "not an OTLP path"),
    }
    respond(200, "")
}

//! A real OTLP receiver for tests (feature `receiver`): a tonic gRPC server or a hyper
//! HTTP server built on the official generated types, decoding every request it accepts.
//!
//! It runs on its own thread and Tokio runtime, so a plain `#[test]` uses it directly:
//!
//! ```
//! use lookout_exporter_otlp::receiver::{Answer, Receiver};
//! use lookout_exporter_otlp::Protocol;
//! use std::time::Duration;
//!
//! let receiver = Receiver::start(Protocol::HttpProtobuf); // 127.0.0.1, a free port
//! let endpoint = receiver.endpoint(); // http://127.0.0.1:PORT: OTEL_EXPORTER_OTLP_ENDPOINT
//! receiver.script([Answer::Status(503, Some("1".into()))]); // the next request: 503
//! // ... export to `endpoint` ...
//! let got_one = receiver.wait_for(|r| !r.spans().is_empty(), Duration::from_millis(10));
//! assert!(!got_one);
//! ```
//!
//! What it answers: the scripted [`Answer`]s first, in order, one per request, then the
//! default answer ([`Answer::Accept`] unless [`Receiver::set_default_answer`] changed
//! it). Only accepted requests are decoded and kept; every request's headers and arrival
//! time are kept. [`Receiver::pause`] and [`Receiver::resume`] take it off and back on
//! its port (a collector that is down, then up), keeping what it recorded.

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
use opentelemetry_proto::tonic::trace::v1::Span;
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
    /// HTTP: this status, with this `Retry-After` value if given. Not recorded.
    /// (A gRPC receiver answers INTERNAL instead.)
    Status(u16, Option<String>),
    /// gRPC: this status code. Not recorded. (An HTTP receiver answers 500 instead.)
    Grpc(tonic::Code),
    /// gRPC: this status code with a `google.rpc.RetryInfo` delay in its details. Not
    /// recorded.
    GrpcRetryAfter(tonic::Code, Duration),
    /// Never answer (until the receiver is paused or stopped).
    Stall,
}

/// Everything the receiver saw.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Accepted span requests, decoded.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Accepted metric requests, decoded.
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Headers (gRPC metadata) of every request, accepted or not, in arrival order.
    pub headers: Vec<http::HeaderMap>,
    /// When each request arrived, accepted or not.
    pub arrivals: Vec<Instant>,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Received>,
    script: Mutex<VecDeque<Answer>>,
    default_answer: Mutex<Option<Answer>>,
}

impl Shared {
    /// Notes a request's arrival and says how to answer it.
    fn arrive(&self, headers: http::HeaderMap) -> Answer {
        let mut received = self.received.lock();
        received.headers.push(headers);
        received.arrivals.push(Instant::now());
        self.script
            .lock()
            .pop_front()
            .or_else(|| self.default_answer.lock().clone())
            .unwrap_or(Answer::Accept)
    }
}

/// The thread serving one listener; dropping it (or `stop`) ends it and its connections.
struct Server {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(
        protocol: Protocol,
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
    ) -> std::io::Result<Server> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    match protocol {
                        Protocol::Grpc => {
                            let service = Service(shared);
                            let gzip = tonic::codec::CompressionEncoding::Gzip;
                            let server = tonic::transport::Server::builder()
                                .add_service(
                                    TraceServiceServer::new(service.clone())
                                        .accept_compressed(gzip),
                                )
                                .add_service(
                                    MetricsServiceServer::new(service).accept_compressed(gzip),
                                )
                                .serve_with_incoming(
                                    tonic::transport::server::TcpIncoming::from(listener)
                                        .with_nodelay(Some(true)),
                                );
                            tokio::spawn(server);
                        }
                        Protocol::HttpProtobuf => {
                            tokio::spawn(serve_http(listener, shared));
                        }
                    }
                    let _ = stopped.await;
                });
                // Dropping the runtime cancels the server and every open connection.
                drop(runtime);
            })?;
        Ok(Server {
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running OTLP receiver on a loopback port; dropping it stops it.
pub struct Receiver {
    protocol: Protocol,
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<Server>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("protocol", &self.protocol)
            .field("addr", &self.addr)
            .field("running", &self.is_running())
            .finish()
    }
}

impl Receiver {
    /// A receiver speaking `protocol` on a free port of 127.0.0.1.
    ///
    /// # Panics
    ///
    /// If no port or thread can be had.
    pub fn start(protocol: Protocol) -> Receiver {
        Receiver::start_on(protocol, SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("an OTLP receiver on a free loopback port")
    }

    /// A receiver on `addr`: a port chosen earlier, such as the one a stopped receiver
    /// had, or one an exporter already sends to.
    pub fn start_on(protocol: Protocol, addr: SocketAddr) -> std::io::Result<Receiver> {
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let server = Server::start(protocol, listener, shared.clone())?;
        Ok(Receiver {
            protocol,
            addr,
            shared,
            server: Some(server),
        })
    }

    /// The protocol it speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The base URL, `http://127.0.0.1:PORT`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// or [`crate::OtlpConfig::new`].
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL spans go to: the endpoint plus `/v1/traces` over HTTP, the endpoint over
    /// gRPC (the value for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
    pub fn traces_url(&self) -> String {
        match self.protocol {
            Protocol::HttpProtobuf => format!("{}/v1/traces", self.endpoint()),
            Protocol::Grpc => self.endpoint(),
        }
    }

    /// The URL metrics go to: the endpoint plus `/v1/metrics` over HTTP, the endpoint
    /// over gRPC (the value for `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`).
    pub fn metrics_url(&self) -> String {
        match self.protocol {
            Protocol::HttpProtobuf => format!("{}/v1/metrics", self.endpoint()),
            Protocol::Grpc => self.endpoint(),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues answers for the next requests, one each, in order; then the default.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().extend(answers);
    }

    /// The answer once the script is used up ([`Answer::Accept`] at first), such as
    /// [`Answer::Stall`] for a receiver that never answers.
    pub fn set_default_answer(&self, answer: Answer) {
        *self.shared.default_answer.lock() = Some(answer);
    }

    /// A copy of everything it saw so far.
    pub fn received(&self) -> Received {
        self.shared.received.lock().clone()
    }

    /// The span requests it accepted, decoded, in arrival order.
    pub fn requests_spans(&self) -> Vec<ExportTraceServiceRequest> {
        self.shared.received.lock().traces.clone()
    }

    /// The metric requests it accepted, decoded, in arrival order.
    pub fn requests_metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.shared.received.lock().metrics.clone()
    }

    /// Every accepted span, across requests, in arrival order.
    pub fn spans(&self) -> Vec<Span> {
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

    /// The headers (gRPC metadata) of every request, accepted or refused.
    pub fn headers(&self) -> Vec<http::HeaderMap> {
        self.shared.received.lock().headers.clone()
    }

    /// How many requests arrived, accepted or refused (stalled ones included).
    pub fn requests(&self) -> usize {
        self.shared.received.lock().arrivals.len()
    }

    /// Polls `done` every 10 ms until it holds or `timeout` passes; whether it held.
    pub fn wait_for(&self, done: impl Fn(&Receiver) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        done(self)
    }

    /// Whether it is listening (not paused).
    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Stops listening and drops open connections (stalled requests included); clients
    /// find the port closed. What it recorded and its script are kept.
    pub fn pause(&mut self) {
        self.server = None;
    }

    /// Listens again on the same port after [`Receiver::pause`]; nothing if running.
    pub fn resume(&mut self) -> std::io::Result<()> {
        if self.server.is_none() {
            let listener = std::net::TcpListener::bind(self.addr)?;
            self.server = Some(Server::start(self.protocol, listener, self.shared.clone())?);
        }
        Ok(())
    }

    /// Stops it for good (as dropping it does).
    pub fn stop(mut self) {
        self.pause();
    }
}

#[derive(Clone)]
struct Service(Arc<Shared>);

impl Service {
    async fn answer(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), tonic::Status> {
        use tonic_types::{ErrorDetails, StatusExt};
        match self.0.arrive(metadata.clone().into_headers()) {
            Answer::Accept => Ok(()),
            Answer::Grpc(code) => Err(tonic::Status::new(code, "scripted")),
            Answer::GrpcRetryAfter(code, delay) => Err(tonic::Status::with_error_details(
                code,
                "scripted",
                ErrorDetails::with_retry_info(Some(delay)),
            )),
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
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, say: let the peer's retry come later.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
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

/// A protobuf response: `200` with an export response, or an error status with a
/// `google.rpc.Status` body, as OTLP/HTTP servers answer.
fn protobuf_response(status: u16, body: Vec<u8>) -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

fn error_response(status: u16, message: &str) -> http::Response<Full<Bytes>> {
    let body = tonic_types::Status {
        code: tonic::Code::Unknown as i32,
        message: message.to_owned(),
        details: Vec::new(),
    };
    protobuf_response(status, body.encode_to_vec())
}

async fn handle_http(
    request: http::Request<hyper::body::Incoming>,
    shared: &Shared,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return error_response(400, "unreadable body");
    };
    match shared.arrive(parts.headers.clone()) {
        Answer::Accept => {}
        Answer::Status(status, retry_after) => {
            let mut response = error_response(status, "scripted");
            if let Some(value) = retry_after.and_then(|v| http::HeaderValue::try_from(v).ok()) {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, value);
            }
            return response;
        }
        Answer::Grpc(_) | Answer::GrpcRetryAfter(..) => {
            return error_response(500, "a gRPC answer to HTTP");
        }
        Answer::Stall => std::future::pending().await,
    }
    if parts.method != http::Method::POST {
        return error_response(405, "OTLP takes POST");
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
            return error_response(400, "bad gzip");
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
        return error_response(415, "expected application/x-protobuf");
    }
    match parts.uri.path() {
        "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
            Ok(request) => {
                shared.received.lock().traces.push(request);
                protobuf_response(200, ExportTraceServiceResponse::default().encode_to_vec())
            }
            Err(e) => error_response(400, &e.to_string()),
        },
        "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
            Ok(request) => {
                shared.received.lock().metrics.push(request);
                protobuf_response(200, ExportMetricsServiceResponse::default().encode_to_vec())
            }
            Err(e) => error_response(400, &e.to_string()),
        },
        _ => error_response(404, "not an OTLP path"),
    }
}

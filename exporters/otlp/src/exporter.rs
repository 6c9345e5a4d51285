//! The exporter: encodes once per batch, sends once per call over HTTP or gRPC, and
//! classifies failures by the OTLP specification's retry rule.

use crate::config::{Compression, OtlpConfig, Protocol, Temporality};
use crate::encode::{metrics_request, resource, spans_request, DeltaState};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan, MetricsBatch};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use parking_lot::Mutex;
use prost::Message;
use std::io::Write;
use std::sync::OnceLock;
use std::time::SystemTime;
use tonic::transport::{Channel, Endpoint};

/// An encoded batch: a request body for HTTP, the message for gRPC.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A protobuf body (gzipped if configured) for `url`.
    Http {
        /// Where it goes.
        url: String,
        /// The body.
        body: Bytes,
    },
    /// Spans over gRPC.
    GrpcSpans(ExportTraceServiceRequest),
    /// Metrics over gRPC.
    GrpcMetrics(ExportMetricsServiceRequest),
}

/// Exports spans and metrics over OTLP.
pub struct OtlpExporter {
    config: OtlpConfig,
    resource: Resource,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    headers: http::HeaderMap,
    grpc: OnceLock<Result<(Channel, Channel), String>>,
    delta: Mutex<DeltaState>,
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why an exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("OTLP header {name:?}: {problem}")]
pub struct HeaderError {
    name: String,
    problem: String,
}

impl OtlpExporter {
    /// An exporter for `config`. Nothing connects until the first send.
    pub fn new(config: OtlpConfig) -> Result<Self, HeaderError> {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &config.headers {
            let bad = |problem: String| HeaderError {
                name: name.clone(),
                problem,
            };
            let header_name = http::HeaderName::try_from(name.to_ascii_lowercase())
                .map_err(|e| bad(e.to_string()))?;
            let header_value =
                http::HeaderValue::try_from(value.as_str()).map_err(|e| bad(e.to_string()))?;
            headers.append(header_name, header_value);
        }
        Ok(OtlpExporter {
            resource: resource(&config.resource),
            http: Client::builder(TokioExecutor::new()).build_http(),
            headers,
            grpc: OnceLock::new(),
            delta: Mutex::new(DeltaState::default()),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OtlpConfig {
        &self.config
    }

    fn body(&self, message: &impl Message) -> Bytes {
        let bytes = message.encode_to_vec();
        match self.config.compression {
            Compression::None => bytes.into(),
            Compression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                // Writing into a Vec cannot fail.
                let _ = gz.write_all(&bytes);
                gz.finish().unwrap_or_default().into()
            }
        }
    }

    fn encode<M: Message>(
        &self,
        message: M,
        url: &str,
        grpc: impl FnOnce(M) -> Payload,
    ) -> Payload {
        match self.config.protocol {
            Protocol::HttpProtobuf => Payload::Http {
                url: url.to_owned(),
                body: self.body(&message),
            },
            Protocol::Grpc => grpc(message),
        }
    }

    async fn send_http(&self, url: &str, body: &Bytes) -> Result<(), ExportError> {
        let mut request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(body.clone()))
            .map_err(|e| ExportError::permanent("request", e.to_string()))?;
        request.headers_mut().extend(self.headers.clone());
        if self.config.compression == Compression::Gzip {
            request.headers_mut().insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static("gzip"),
            );
        }
        let response = self.http.request(request).await.map_err(|e| {
            let reason = if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            ExportError::transient(reason, format!("{url}: {e}"), None)
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| lookout_export::parse_retry_after(v, SystemTime::now()));
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&body);
        Err(ExportError::from_http_status(
            status.as_u16(),
            retry_after,
            body.trim(),
        ))
    }

    /// The gRPC channels (traces, metrics), built on first use inside the runtime.
    fn channels(&self) -> Result<&(Channel, Channel), ExportError> {
        let channels = self.grpc.get_or_init(|| {
            let channel = |url: &Option<String>| -> Result<Channel, String> {
                let url = url
                    .clone()
                    .unwrap_or_else(|| "http://localhost:4317".into());
                Endpoint::from_shared(url.clone())
                    .map(|e| e.connect_lazy())
                    .map_err(|e| format!("{url}: {e}"))
            };
            Ok((
                channel(&self.config.traces_endpoint)?,
                channel(&self.config.metrics_endpoint)?,
            ))
        });
        channels
            .as_ref()
            .map_err(|e| ExportError::permanent("request", e.clone()))
    }

    fn grpc_request<M>(&self, message: M) -> tonic::Request<M> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                metadata.insert(name, value);
            }
        }
        // No grpc-timeout: `send` bounds the call itself, so a stall reads as a timeout.
        request
    }

    async fn send_grpc(&self, payload: &Payload) -> Result<(), ExportError> {
        let (traces, metrics) = self.channels()?;
        let gzip = self.config.compression == Compression::Gzip;
        let result = match payload {
            Payload::GrpcSpans(request) => {
                let mut client = TraceServiceClient::new(traces.clone());
                if gzip {
                    client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                client
                    .export(self.grpc_request(request.clone()))
                    .await
                    .map(drop)
            }
            Payload::GrpcMetrics(request) => {
                let mut client = MetricsServiceClient::new(metrics.clone());
                if gzip {
                    client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                client
                    .export(self.grpc_request(request.clone()))
                    .await
                    .map(drop)
            }
            Payload::Http { .. } => return Err(ExportError::permanent("request", "not gRPC")),
        };
        result.map_err(grpc_error)
    }
}

/// The OTLP specification's rule for gRPC: UNAVAILABLE and RESOURCE_EXHAUSTED may pass
/// later (a refused connection reads as UNAVAILABLE); a deadline is a timeout; the rest
/// are final.
fn grpc_error(status: tonic::Status) -> ExportError {
    let message = format!("gRPC {:?}: {}", status.code(), status.message());
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted => {
            ExportError::transient("grpc_status", message, None)
        }
        tonic::Code::DeadlineExceeded => ExportError::transient("timeout", message, None),
        _ => ExportError::permanent("grpc_status", message),
    }
}

impl Exporter for OtlpExporter {
    type Payload = Payload;

    fn name(&self) -> &str {
        "otlp"
    }

    fn destination(&self) -> String {
        let urls: Vec<&str> = [&self.config.traces_endpoint, &self.config.metrics_endpoint]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let protocol = match self.config.protocol {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        };
        match urls.as_slice() {
            [a, b] if a == b => format!("{a} ({protocol})"),
            _ => format!("{} ({protocol})", urls.join(", ")),
        }
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Payload>> {
        let url = self.config.traces_endpoint.as_deref()?;
        let request = spans_request(spans, &self.resource);
        Some(Encoded {
            payload: self.encode(request, url, Payload::GrpcSpans),
            items: spans.len(),
        })
    }

    fn encode_metrics(&self, batch: &MetricsBatch<'_>) -> Option<Encoded<Payload>> {
        let url = self.config.metrics_endpoint.as_deref()?;
        let mut delta = self.delta.lock();
        let delta = (self.config.temporality == Temporality::Delta).then_some(&mut *delta);
        let (request, points) =
            metrics_request(batch, &self.resource, self.config.temporality, delta);
        Some(Encoded {
            payload: self.encode(request, url, Payload::GrpcMetrics),
            items: points,
        })
    }

    async fn send(&self, payload: &Payload) -> Result<(), ExportError> {
        let send = async {
            match payload {
                Payload::Http { url, body } => self.send_http(url, body).await,
                grpc => self.send_grpc(grpc).await,
            }
        };
        match tokio::time::timeout(self.config.timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(ExportError::transient(
                "timeout",
                format!("no answer within {} ms", self.config.timeout.as_millis()),
                None,
            )),
        }
    }
}

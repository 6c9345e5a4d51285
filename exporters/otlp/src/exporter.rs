//! The exporter: encodes once per batch, sends once per call over HTTP or gRPC, and
//! classifies failures by the OTLP specification's retry rule.

use crate::config::{Compression, OtlpConfig, Protocol, Temporality};
use crate::encode::{DeltaState, metrics_request, spans_request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan, MetricsBatch};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use parking_lot::Mutex;
use prost::Message;
use std::io::Write;
use std::sync::OnceLock;
use std::time::SystemTime;
use tonic::transport::{Channel, Endpoint};

/// An encoded batch: a request body for HTTP, the message for gRPC. Sending it again (a
/// retry) does not encode again.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A protobuf body (gzipped if configured) for `url`.
    Http {
        /// Where it goes.
        url: String,
        /// The body.
        body: Bytes,
        /// What it carries.
        signal: Signal,
    },
    /// Spans over gRPC.
    GrpcSpans(ExportTraceServiceRequest),
    /// Metrics over gRPC.
    GrpcMetrics(ExportMetricsServiceRequest),
}

/// Which kind of telemetry a payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
}

/// Exports spans and metrics over OTLP: an [`Exporter`] for Lookout's pipeline.
///
/// `send` must run inside a Tokio runtime; the gRPC channels are made lazily by the
/// first gRPC send and belong to that runtime.
pub struct OtlpExporter {
    config: OtlpConfig,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    traces_headers: http::HeaderMap,
    metrics_headers: http::HeaderMap,
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

/// Why an exporter could not be built: a configured header is not a valid HTTP header.
#[derive(Debug, thiserror::Error)]
#[error("OTLP header {name:?}: {problem}")]
pub struct HeaderError {
    name: String,
    problem: String,
}

impl OtlpExporter {
    /// An exporter for `config`. Nothing connects until the first send.
    pub fn new(config: OtlpConfig) -> Result<Self, HeaderError> {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        Ok(OtlpExporter {
            http: Client::builder(TokioExecutor::new()).build(connector),
            traces_headers: header_map(&config.headers, &config.traces_headers)?,
            metrics_headers: header_map(&config.headers, &config.metrics_headers)?,
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
        signal: Signal,
        grpc: impl FnOnce(M) -> Payload,
    ) -> Payload {
        match self.config.protocol {
            Protocol::HttpProtobuf => Payload::Http {
                url: url.to_owned(),
                body: self.body(&message),
                signal,
            },
            Protocol::Grpc => grpc(message),
        }
    }

    async fn send_http(
        &self,
        url: &str,
        body: &Bytes,
        headers: &http::HeaderMap,
    ) -> Result<(), ExportError> {
        let mut request = http::Request::post(url)
            .body(Full::new(body.clone()))
            .map_err(|e| ExportError::permanent("request", e.to_string()))?;
        request.headers_mut().extend(headers.clone());
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-protobuf"),
        );
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
        let protobuf = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-protobuf"));
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        // OTLP/HTTP error bodies are a protobuf `google.rpc.Status`; show its message.
        let message = match tonic_types::Status::decode(body.clone()) {
            Ok(status) if protobuf => status.message,
            _ => String::from_utf8_lossy(&body).into_owned(),
        };
        Err(ExportError::from_http_status(
            status.as_u16(),
            retry_after,
            message.trim(),
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

    fn grpc_request<M>(&self, message: M, headers: &http::HeaderMap) -> tonic::Request<M> {
        // No grpc-timeout: `send` bounds the call itself, so a stall reads as a timeout.
        tonic::Request::from_parts(
            tonic::metadata::MetadataMap::from_headers(headers.clone()),
            tonic::Extensions::default(),
            message,
        )
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
                    .export(self.grpc_request(request.clone(), &self.traces_headers))
                    .await
                    .map(drop)
            }
            Payload::GrpcMetrics(request) => {
                let mut client = MetricsServiceClient::new(metrics.clone());
                if gzip {
                    client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                client
                    .export(self.grpc_request(request.clone(), &self.metrics_headers))
                    .await
                    .map(drop)
            }
            Payload::Http { .. } => return Err(ExportError::permanent("request", "not gRPC")),
        };
        result.map_err(grpc_error)
    }
}

/// The headers one signal sends: the common ones, then the signal's own (replacing).
pub(crate) fn header_map(
    common: &[(String, String)],
    signal: &[(String, String)],
) -> Result<http::HeaderMap, HeaderError> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in common.iter().chain(signal) {
        let bad = |problem: String| HeaderError {
            name: name.clone(),
            problem,
        };
        let header_name = http::HeaderName::try_from(name.to_ascii_lowercase())
            .map_err(|e| bad(e.to_string()))?;
        let header_value =
            http::HeaderValue::try_from(value.as_str()).map_err(|e| bad(e.to_string()))?;
        headers.insert(header_name, header_value);
    }
    Ok(headers)
}

/// The OTLP specification's rule for gRPC: UNAVAILABLE and RESOURCE_EXHAUSTED may pass
/// later, after the delay the server named (`RetryInfo` in the status details, else
/// `grpc-retry-pushback-ms`); a deadline is a `timeout`; the rest are final. A status
/// tonic made itself from a transport error is a `connect` failure (no connection) or a
/// `transport` one (the connection broke), both worth retrying.
fn grpc_error(status: tonic::Status) -> ExportError {
    use tonic_types::StatusExt;
    let message = format!("gRPC {:?}: {}", status.code(), status.message());
    let mut source = std::error::Error::source(&status);
    let mut transport = false;
    while let Some(error) = source {
        if error.is::<tonic::ConnectError>() {
            return ExportError::transient("connect", message, None);
        }
        transport |= error.is::<tonic::transport::Error>() || error.is::<hyper::Error>();
        source = error.source();
    }
    if transport {
        // Made here, not sent by the server: the connection broke (a collector that
        // restarted), which tonic reports as UNKNOWN. Sending again may well pass.
        return ExportError::transient("transport", message, None);
    }
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted => {
            let delay = status
                .get_details_retry_info()
                .and_then(|info| info.retry_delay)
                .or_else(|| {
                    status
                        .metadata()
                        .get("grpc-retry-pushback-ms")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse().ok())
                        .map(std::time::Duration::from_millis)
                });
            ExportError::transient("grpc_status", message, delay)
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
        let protocol = self.config.protocol.as_str();
        match urls.as_slice() {
            [a, b] if a == b => format!("{a} ({protocol})"),
            _ => format!("{} ({protocol})", urls.join(", ")),
        }
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Payload>> {
        let url = self.config.traces_endpoint.as_deref()?;
        let request = spans_request(spans);
        Some(Encoded {
            payload: self.encode(request, url, Signal::Traces, Payload::GrpcSpans),
            items: spans.len(),
        })
    }

    fn encode_metrics(&self, batch: &MetricsBatch<'_>) -> Option<Encoded<Payload>> {
        let url = self.config.metrics_endpoint.as_deref()?;
        let mut delta = self.delta.lock();
        let delta = (self.config.temporality == Temporality::Delta).then_some(&mut *delta);
        let (request, points) = metrics_request(batch, self.config.temporality, delta);
        Some(Encoded {
            payload: self.encode(request, url, Signal::Metrics, Payload::GrpcMetrics),
            items: points,
        })
    }

    async fn send(&self, payload: &Payload) -> Result<(), ExportError> {
        let send = async {
            match payload {
                Payload::Http { url, body, signal } => {
                    let headers = match signal {
                        Signal::Traces => &self.traces_headers,
                        Signal::Metrics => &self.metrics_headers,
                    };
                    self.send_http(url, body, headers).await
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn grpc_pushback_metadata_names_the_delay() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("grpc-retry-pushback-ms", "250".parse().unwrap());
        let status =
            tonic::Status::with_metadata(tonic::Code::ResourceExhausted, "slow down", metadata);
        let error = grpc_error(status);
        assert!(error.is_retryable());
        assert_eq!(error.retry_after(), Some(Duration::from_millis(250)));
        assert_eq!(error.to_string(), "gRPC ResourceExhausted: slow down");
        let error = grpc_error(tonic::Status::invalid_argument("bad"));
        assert!(!error.is_retryable());
        assert_eq!(error.reason(), "grpc_status");
    }

    #[test]
    fn destination_names_the_urls_and_protocol() {
        let exporter = OtlpExporter::new(OtlpConfig::new("http://c:4317", Protocol::Grpc)).unwrap();
        assert_eq!(exporter.name(), "otlp");
        assert_eq!(exporter.destination(), "http://c:4317 (grpc)");
        let exporter =
            OtlpExporter::new(OtlpConfig::new("http://c:4318", Protocol::HttpProtobuf)).unwrap();
        assert_eq!(
            exporter.destination(),
            "http://c:4318/v1/traces, http://c:4318/v1/metrics (http/protobuf)"
        );
    }

    #[test]
    fn a_bad_header_is_refused_when_building() {
        let mut config = OtlpConfig::new("http://c:4318", Protocol::HttpProtobuf);
        config.traces_headers.push(("bad name".into(), "v".into()));
        let error = OtlpExporter::new(config).unwrap_err();
        assert!(
            error.to_string().starts_with("OTLP header \"bad name\""),
            "{error}"
        );
    }
}

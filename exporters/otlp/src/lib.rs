//! OTLP export for Lookout: finished spans and metric collections sent to any
//! OpenTelemetry backend (a Collector, Tempo, Jaeger, Phoenix, Langfuse, ...) over
//! `http/protobuf` or `grpc`.
//!
//! Messages are the official generated types of `opentelemetry-proto` (prost), sent with
//! hyper (HTTP/1.1, plain `http://`) or its tonic client (gRPC): no hand-written
//! protobuf. [`OtlpExporter`] implements [`lookout_export::Exporter`]: it encodes each
//! batch once ([`Payload`]) and tries each send once, within [`OtlpConfig::timeout`],
//! saying whether a failure may pass later ([`lookout_export::ExportError::is_retryable`]:
//! HTTP 429, 502, 503, 504 with their `Retry-After`; gRPC UNAVAILABLE and
//! RESOURCE_EXHAUSTED with their `RetryInfo`; refused or broken connections; timeouts).
//! Lookout's pipeline does the batching, the retries and the counting.
//!
//! Counters become monotonic sums, gauges gauges, histograms explicit-bucket histograms
//! with the family's bounds; cumulative by default, delta by option
//! ([`Temporality`]). Family names are kept (counters have no `_total`); units become
//! UCUM ([`ucum_unit`]: `seconds` → `s`).
//!
//! Each span and each metrics batch names the process it came from
//! ([`lookout_export::Resource`]); spans of several processes in one batch go out as one
//! `ResourceSpans` each.
//!
//! [`OtlpConfig::from_env`] reads the standard `OTEL_EXPORTER_OTLP_*` variables;
//! [`OtlpConfig::from_lookup`] reads them from any map, and [`OtlpSettings`] is the
//! config file's `opentelemetry` block:
//!
//! ```
//! use lookout_exporter_otlp::{OtlpConfig, Protocol};
//!
//! let vars = |name: &str| match name {
//!     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_string()),
//!     "OTEL_EXPORTER_OTLP_HEADERS" => Some("Authorization=Bearer%20abc".to_string()),
//!     _ => None,
//! };
//! let config = OtlpConfig::from_lookup(&vars).unwrap().expect("an endpoint is set");
//! assert_eq!(config.protocol, Protocol::HttpProtobuf);
//! assert_eq!(config.metrics_endpoint.as_deref(), Some("http://collector:4318/v1/metrics"));
//! assert_eq!(config.headers, [("Authorization".to_string(), "Bearer abc".to_string())]);
//! assert_eq!(OtlpConfig::from_lookup(&|_| None), Ok(None), "no endpoint, no exporter");
//! ```
//!
//! Encoding a batch needs no collector and no runtime:
//!
//! ```
//! use lookout_export::{Exporter, FinishedSpan, SpanId, TraceId};
//! use lookout_exporter_otlp::{OtlpConfig, OtlpExporter, Payload, Protocol};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let mut config = OtlpConfig::new("http://localhost:4318", Protocol::HttpProtobuf);
//! config.headers.push(("Authorization".into(), "Bearer token".into()));
//! assert_eq!(config.traces_endpoint.as_deref(), Some("http://localhost:4318/v1/traces"));
//!
//! let exporter = OtlpExporter::new(config).unwrap();
//! let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut span = FinishedSpan::new(TraceId(7), SpanId(8), "invoke_agent coder", start);
//! span.end_time = start + Duration::from_millis(5);
//! let encoded = exporter.encode_spans(&[span]).unwrap();
//! assert_eq!(encoded.items, 1);
//! assert!(matches!(encoded.payload, Payload::Http { ref url, .. } if url.ends_with("/v1/traces")));
//! ```
//!
//! The `receiver` feature adds `receiver::Receiver`, a real OTLP receiver (both
//! protocols) that decodes and records what it is sent and answers as scripted, for
//! tests.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod config;
mod encode;
mod exporter;
#[cfg(feature = "ingest")]
pub mod ingest;
#[cfg(feature = "ingest-grpc")]
pub mod ingest_grpc;
#[cfg(feature = "ingest")]
pub mod ingest_metrics;
#[cfg(feature = "receiver")]
pub mod receiver;
mod settings;

pub use config::{Compression, ConfigError, OtlpConfig, Protocol, Temporality};
pub use encode::{spans_request, ucum_unit};
pub use exporter::{HeaderError, OtlpExporter, Payload, Signal};
/// The generated OTLP messages (`opentelemetry-proto`'s prost types), for readers of
/// what was sent.
pub use opentelemetry_proto::tonic as proto;
pub use settings::OtlpSettings;

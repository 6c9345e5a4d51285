//! Seed 003's `opentelemetry` block of the config file, read into an [`OtlpConfig`]:
//! the one place besides the `OTEL_*` variables where OTLP settings are parsed.

use crate::config::{ConfigError, OtlpConfig, Protocol, compression, invalid, temporality};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The config file's `opentelemetry` block, as written. Unknown keys are errors, so a typo
/// never silently disables anything.
///
/// ```
/// use lookout_exporter_otlp::{Compression, OtlpSettings};
///
/// let block: OtlpSettings = serde_json::from_str(
///     r#"{"endpoint": "http://localhost:4318", "compression": "gzip", "timeout": 3000}"#,
/// ).unwrap();
/// let config = block.to_config().unwrap().expect("enabled");
/// assert_eq!(config.compression, Compression::Gzip);
/// assert_eq!(config.traces_endpoint.as_deref(), Some("http://localhost:4318/v1/traces"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct OtlpSettings {
    /// `false` turns OTLP off.
    pub enabled: Option<bool>,
    /// The collector: `http://localhost:4318` (http) or `http://localhost:4317` (grpc).
    pub endpoint: Option<String>,
    /// `http` (`http/protobuf`) or `grpc`.
    pub protocol: Option<String>,
    /// Request headers (gRPC metadata), such as `Authorization`.
    pub headers: Option<BTreeMap<String, String>>,
    /// Milliseconds one request may take.
    pub timeout: Option<u64>,
    /// `gzip` or `none`.
    pub compression: Option<String>,
    /// `cumulative` or `delta`.
    pub temporality: Option<String>,
    /// The process's `service.name`: not an OTLP setting, the engine reads it into the
    /// resource every span and metric carries.
    pub service_name: Option<String>,
    /// More resource attributes of the process, read as `service_name` is.
    pub resource_attributes: Option<BTreeMap<String, String>>,
}

impl OtlpSettings {
    /// The configuration this block describes, `None` when it says `"enabled": false`;
    /// errors name the field (`opentelemetry.compression`) and the fix.
    pub fn to_config(&self) -> Result<Option<OtlpConfig>, ConfigError> {
        if self.enabled == Some(false) {
            return Ok(None);
        }
        let Some(endpoint) = self.endpoint.as_deref().filter(|e| !e.is_empty()) else {
            return Err(invalid(
                "opentelemetry.endpoint",
                "missing",
                "name the collector, such as http://localhost:4318, or set \"enabled\": false",
            ));
        };
        let protocol = match self.protocol.as_deref() {
            None => Protocol::HttpProtobuf,
            Some(p) => Protocol::parse(p).ok_or_else(|| {
                invalid(
                    "opentelemetry.protocol",
                    format!("{p:?} is not supported"),
                    "use \"http\" (http/protobuf) or \"grpc\"",
                )
            })?,
        };
        let mut otlp = OtlpConfig::new(endpoint, protocol);
        otlp.headers = self
            .headers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        crate::exporter::header_map(&otlp.headers, &[]).map_err(|e| {
            invalid(
                "opentelemetry.headers",
                e.to_string(),
                "use ASCII header names and values",
            )
        })?;
        if let Some(ms) = self.timeout {
            otlp.timeout = Duration::from_millis(ms);
        }
        if let Some(value) = &self.compression {
            otlp.compression = compression("opentelemetry.compression", value)?;
        }
        if let Some(value) = &self.temporality {
            otlp.temporality = temporality("opentelemetry.temporality", value)?;
        }
        // The endpoint is checked as the environment's would be.
        otlp.apply_lookup(&|_| None)
            .map(Some)
            .map_err(|e| ConfigError {
                variable: "opentelemetry.endpoint".into(),
                ..e
            })
    }
}

//! The config file's shape: seed 003's `prometheus`, `json` and `opentelemetry` blocks.

use serde::Deserialize;

/// The whole file. Unknown keys are errors, so a typo never silently disables anything.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct FileConfig {
    pub(super) prometheus: Option<PrometheusBlock>,
    pub(super) json: Option<JsonBlock>,
    pub(super) opentelemetry: Option<OpenTelemetryBlock>,
    /// Milliseconds between metric exports, for every push exporter.
    pub(super) export_interval: Option<u64>,
    /// A JSON-lines file every finished span is appended to.
    pub(super) span_log: Option<String>,
    /// The durable store.
    pub(super) store: Option<StoreBlock>,
    /// Alert rules, for `lookout serve` (read by the query engine).
    pub(super) monitors: Option<serde_json::Value>,
}

/// The `store` block: its settings are the store crate's to read.
#[cfg(feature = "store")]
pub(super) type StoreBlock = lookout_store::StoreBlock;

/// The `store` block in a build without the store: only whether it is on matters.
#[cfg(not(feature = "store"))]
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoreBlock {
    pub(super) enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct PrometheusBlock {
    pub(super) enabled: Option<bool>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct JsonBlock {
    pub(super) enabled: Option<bool>,
    pub(super) output_dir: Option<String>,
    /// Milliseconds.
    pub(super) rotate_interval: Option<u64>,
    pub(super) max_files: Option<usize>,
    pub(super) max_file_bytes: Option<u64>,
}

/// The `opentelemetry` block: its settings are the OTLP crate's to read.
#[cfg(feature = "otlp")]
pub(super) type OpenTelemetryBlock = lookout_exporter_otlp::OtlpSettings;

/// The `opentelemetry` block in a build without OTLP: whether it is on, and the
/// process's resource attributes.
#[cfg(not(feature = "otlp"))]
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OpenTelemetryBlock {
    pub(super) enabled: Option<bool>,
    pub(super) service_name: Option<String>,
    pub(super) resource_attributes: Option<std::collections::BTreeMap<String, String>>,
}

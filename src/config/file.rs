//! The config file's shape: seed 003's `prometheus`, `json` and `opentelemetry` blocks.

use serde::Deserialize;
use std::collections::BTreeMap;

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(super) struct OpenTelemetryBlock {
    pub(super) enabled: Option<bool>,
    pub(super) endpoint: Option<String>,
    pub(super) protocol: Option<String>,
    pub(super) headers: Option<BTreeMap<String, String>>,
    /// Milliseconds.
    pub(super) timeout: Option<u64>,
    pub(super) compression: Option<String>,
    pub(super) temporality: Option<String>,
    pub(super) service_name: Option<String>,
    pub(super) resource_attributes: Option<BTreeMap<String, String>>,
}

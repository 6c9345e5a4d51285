//! The exporters a [`Config`] turns on, built and added to a pipeline.

use super::{PipelineBuilder, StartError};
use crate::config::Config;
use lookout_exporter_json::JsonFileExporter;

impl PipelineBuilder {
    /// Adds the exporters `config` turns on (rotating JSON files, the span log, OTLP),
    /// opening their files, and takes its metric interval.
    pub fn configured(mut self, config: &Config) -> Result<Self, StartError> {
        self = self.metric_interval(config.metric_interval);
        if let Some(json) = &config.json {
            let exporter =
                JsonFileExporter::new(json.clone()).map_err(|source| StartError::Exporter {
                    exporter: "json",
                    source: source.into(),
                })?;
            self = self.exporter(exporter);
        }
        if let Some(log) = &config.span_log {
            self = self.exporter(log.clone());
        }
        #[cfg(feature = "otlp")]
        if let Some(otlp) = &config.opentelemetry {
            let exporter =
                lookout_exporter_otlp::OtlpExporter::new(otlp.clone()).map_err(|source| {
                    StartError::Exporter {
                        exporter: "otlp",
                        source: source.into(),
                    }
                })?;
            self = self.exporter(exporter);
        }
        Ok(self)
    }
}

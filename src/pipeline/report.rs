//! What a flush or shutdown delivered, exporter by exporter.

use super::self_metrics::Signal;

/// One exporter's share of a flush: what it delivered since the previous flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterReport {
    /// The exporter's name (`otlp`, `json`, ...).
    pub exporter: String,
    /// Where it sends (an URL, a directory).
    pub destination: String,
    /// Spans delivered.
    pub spans: u64,
    /// Metric data points delivered.
    pub metric_points: u64,
    /// Spans and data points given up on.
    pub failed: u64,
    /// The last error, if an export failed.
    pub error: Option<String>,
    /// Whether the exporter had not finished when the deadline passed.
    pub timed_out: bool,
}

impl ExporterReport {
    pub(crate) fn new(exporter: &str, destination: &str) -> Self {
        ExporterReport {
            exporter: exporter.to_owned(),
            destination: destination.to_owned(),
            spans: 0,
            metric_points: 0,
            failed: 0,
            error: None,
            timed_out: false,
        }
    }

    pub(crate) fn add_exported(&mut self, signal: Signal, items: u64) {
        match signal {
            Signal::Spans => self.spans += items,
            Signal::Metrics => self.metric_points += items,
        }
    }

    /// Whether everything this exporter was given arrived, in time.
    pub fn is_ok(&self) -> bool {
        self.failed == 0 && self.error.is_none() && !self.timed_out
    }
}

/// What [`crate::Telemetry::flush`] and [`crate::Telemetry::shutdown`] delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// One entry per exporter, in the order they were added.
    pub exporters: Vec<ExporterReport>,
}

impl FlushReport {
    /// Whether every exporter delivered everything in time (true with no exporters).
    pub fn is_ok(&self) -> bool {
        self.exporters.iter().all(ExporterReport::is_ok)
    }

    /// Spans delivered by all exporters together.
    pub fn spans(&self) -> u64 {
        self.exporters.iter().map(|e| e.spans).sum()
    }

    /// The report as JSON, as `POST /export` answers it.
    pub fn to_json(&self) -> serde_json::Value {
        let exporters = self
            .exporters
            .iter()
            .map(|e| {
                serde_json::json!({
                    "exporter": e.exporter,
                    "destination": e.destination,
                    "spans": e.spans,
                    "metricPoints": e.metric_points,
                    "failed": e.failed,
                    "error": e.error,
                    "timedOut": e.timed_out,
                })
            })
            .collect::<Vec<_>>();
        serde_json::json!({ "ok": self.is_ok(), "exporters": exporters })
    }

    /// Reads a report written by [`FlushReport::to_json`].
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let exporters = value["exporters"]
            .as_array()?
            .iter()
            .map(|e| {
                Some(ExporterReport {
                    exporter: e["exporter"].as_str()?.to_owned(),
                    destination: e["destination"].as_str()?.to_owned(),
                    spans: e["spans"].as_u64()?,
                    metric_points: e["metricPoints"].as_u64()?,
                    failed: e["failed"].as_u64()?,
                    error: e["error"].as_str().map(str::to_owned),
                    timed_out: e["timedOut"].as_bool()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(FlushReport { exporters })
    }
}

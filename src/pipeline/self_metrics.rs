//! The pipeline's own families: what each exporter exported, failed, retried and dropped.

use crate::metrics::{Counter, Descriptor, Family, Histogram, MetricError, Registry};

/// `lookout_exporter_*` families, shared by every exporter of a registry.
#[derive(Debug, Clone)]
pub(crate) struct PipelineMetrics {
    exported: Family<Counter>,
    failed: Family<Counter>,
    retries: Family<Counter>,
    dropped: Family<Counter>,
    errors: Family<Counter>,
    duration: Family<Histogram>,
}

/// The signals an exporter carries, as the `signal` label spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Spans,
    Metrics,
}

impl Signal {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Signal::Spans => "spans",
            Signal::Metrics => "metrics",
        }
    }
}

const LABELS: [&str; 2] = ["exporter", "signal"];

impl PipelineMetrics {
    pub(crate) fn register(registry: &Registry) -> Result<Self, MetricError> {
        let counter =
            |name: &str, help: &str| registry.counter(Descriptor::new(name, help).labels(LABELS));
        Ok(PipelineMetrics {
            exported: counter(
                "lookout_exporter_exported_total",
                "Spans and metric data points an exporter delivered.",
            )?,
            failed: counter(
                "lookout_exporter_failed_total",
                "Spans and metric data points an exporter gave up on after a permanent error or its retries.",
            )?,
            retries: counter(
                "lookout_exporter_retries_total",
                "Export attempts repeated after a retryable failure.",
            )?,
            dropped: counter(
                "lookout_exporter_dropped_total",
                "Spans an exporter never tried to send: its queue was full, or shutdown's deadline passed.",
            )?,
            errors: registry.counter(
                Descriptor::new(
                    "lookout_exporter_errors_total",
                    "Failed export attempts by reason (http_status, grpc_status, connect, timeout, io, ...).",
                )
                .labels(["exporter", "signal", "reason"]),
            )?,
            duration: registry.histogram(
                Descriptor::new(
                    "lookout_exporter_export_duration_seconds",
                    "Time from an export's first attempt to its outcome, retries included.",
                )
                .unit("seconds")
                .labels(LABELS),
            )?,
        })
    }

    /// The handles of one exporter, its series created at zero so they show from the start.
    pub(crate) fn for_exporter(&self, exporter: &str) -> [SignalMetrics; 2] {
        [Signal::Spans, Signal::Metrics].map(|signal| {
            let labels = [exporter, signal.as_str()];
            let get = |family: &Family<Counter>| family.get(&labels).expect(TWO_LABELS);
            SignalMetrics {
                exported: get(&self.exported),
                failed: get(&self.failed),
                retries: get(&self.retries),
                dropped: get(&self.dropped),
                duration: self.duration.get(&labels).expect(TWO_LABELS),
            }
        })
    }

    /// Counts one failed attempt.
    pub(crate) fn count_error(&self, exporter: &str, signal: Signal, reason: &str) {
        self.errors.inc(&[exporter, signal.as_str(), reason]);
    }
}

const TWO_LABELS: &str = "two label values for two label names";

/// One exporter's counters for one signal.
#[derive(Debug, Clone)]
pub(crate) struct SignalMetrics {
    pub(crate) exported: Counter,
    pub(crate) failed: Counter,
    pub(crate) retries: Counter,
    pub(crate) dropped: Counter,
    pub(crate) duration: Histogram,
}

//! The store as an exporter of the pipeline: every finished span, with its events,
//! links, status and resource, lands in the store, and every collection of metrics
//! (seed 003's periodic export to the database) becomes metric points: a counter as
//! `{name}_total`, a gauge as `{name}`, a histogram as `{name}_count`, `{name}_sum` and
//! cumulative `{name}_bucket{le}`, as Prometheus names them, each labelled with its
//! process's `service` and `instance` (so that two processes do not share a counter;
//! a series' own labels of those names are kept).

use crate::metrics::{PointValue, point_record};
use crate::{Record, Store, StoreConfig};
use lookout_export::{
    Encoded, ExportError, Exporter, FamilyInfo, FinishedSpan, MetricKind, MetricVisitor,
    MetricsBatch, Value,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What the store exporter sends: a batch of spans, or a collection's points.
#[derive(Debug, Clone)]
pub enum StorePayload {
    /// Finished spans.
    Spans(Arc<[FinishedSpan]>),
    /// Metric points of one collection.
    Points(Arc<[Record]>),
}

/// How long a pipeline flush waits for the store.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Hands finished spans to a [`Store`]; a pipeline flush makes them durable.
#[derive(Debug, Clone)]
pub struct StoreExporter {
    store: Store,
}

impl StoreExporter {
    /// An exporter into `store`.
    pub fn new(store: Store) -> Self {
        StoreExporter { store }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn config(&self) -> &StoreConfig {
        self.store.config()
    }
}

impl Exporter for StoreExporter {
    type Payload = StorePayload;

    fn name(&self) -> &str {
        "store"
    }

    fn destination(&self) -> String {
        self.config().base_dir.display().to_string()
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Self::Payload>> {
        Some(Encoded {
            payload: StorePayload::Spans(spans.into()),
            items: spans.len(),
        })
    }

    fn encode_metrics(&self, batch: &MetricsBatch<'_>) -> Option<Encoded<Self::Payload>> {
        let mut points = Points {
            time: batch.time,
            process: [
                (
                    "service",
                    batch.resource.service_name().unwrap_or("unknown_service"),
                ),
                ("instance", &instance(batch)),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
            family: None,
            records: Vec::new(),
        };
        batch.source.collect(&mut points);
        let items = points.records.len();
        Some(Encoded {
            payload: StorePayload::Points(points.records.into()),
            items,
        })
    }

    /// Enqueues the batch: it never waits on the disk. A retry of the same batch stores
    /// each span and point once.
    async fn send(&self, payload: &Self::Payload) -> Result<(), ExportError> {
        match payload {
            StorePayload::Spans(spans) => self.store.record_spans(spans.iter().cloned()),
            StorePayload::Points(points) => {
                for point in points.iter() {
                    self.store.record(point.clone());
                }
            }
        }
        Ok(())
    }

    /// Waits, off the async threads, until every span sent is durable.
    async fn flush(&self) -> Result<(), ExportError> {
        let store = self.store.clone();
        let flush = move || store.flush(FLUSH_TIMEOUT);
        let flushed = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(flush)
                .await
                .unwrap_or(Err(crate::FlushError::Closed)),
            Err(_) => flush(),
        };
        flushed.map_err(|e| ExportError::permanent("store", e.to_string()))
    }
}

/// The process's `service.instance.id`, else its pid.
fn instance(batch: &MetricsBatch<'_>) -> String {
    match batch.resource.get("service.instance.id") {
        Some(lookout_export::AttributeValue::String(id)) => id.to_string(),
        _ => std::process::id().to_string(),
    }
}

/// Turns a collection into point records.
struct Points {
    time: SystemTime,
    process: [(String, String); 2],
    family: Option<(String, MetricKind)>,
    records: Vec<Record>,
}

impl Points {
    fn push(&mut self, name: &str, kind: &str, labels: &BTreeMap<String, String>, value: f64) {
        let record = point_record(name, kind, labels, PointValue::Number(value), self.time);
        self.records.push(record);
    }
}

impl MetricVisitor for Points {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        self.family = Some((family.name.to_owned(), family.kind));
    }

    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
        let Some((name, _)) = self.family.clone() else {
            return;
        };
        let mut labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (key, value) in &self.process {
            labels.entry(key.clone()).or_insert_with(|| value.clone());
        }
        match value {
            Value::Counter(total) => {
                self.push(&format!("{name}_total"), "counter", &labels, total as f64)
            }
            Value::Gauge(value) => self.push(&name, "gauge", &labels, value),
            Value::Histogram(histogram) => {
                self.push(
                    &format!("{name}_count"),
                    "counter",
                    &labels,
                    histogram.count as f64,
                );
                self.push(&format!("{name}_sum"), "counter", &labels, histogram.sum);
                let mut cumulative = 0;
                let bounds = histogram
                    .bounds
                    .iter()
                    .map(|b| b.to_string())
                    .chain(["+Inf".to_owned()]);
                for (bound, count) in bounds.zip(histogram.counts) {
                    cumulative += count;
                    let mut bucket = labels.clone();
                    bucket.insert("le".into(), bound);
                    self.push(
                        &format!("{name}_bucket"),
                        "histogram_bucket",
                        &bucket,
                        cumulative as f64,
                    );
                }
            }
            _ => {}
        }
    }
}

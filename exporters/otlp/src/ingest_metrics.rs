//! OTLP metrics ingest (feature `ingest`): an `ExportMetricsServiceRequest` from another
//! process as metric points named as Prometheus names them (the store exporter's names).
//!
//! A monotonic sum is `{name}_total` (a counter), a gauge or other sum `{name}`, a
//! histogram `{name}_count`, `{name}_sum` and cumulative `{name}_bucket{le}`, an
//! exponential histogram `{name}_count` and `{name}_sum`, a summary `{name}{quantile}`,
//! `{name}_sum` and `{name}_count`. Names and label keys keep `[A-Za-z0-9_]` (and `:` in
//! names), anything else becomes `_`. Each point is labelled with its resource's
//! `service` (`service.name`, else `unknown_service`) and `instance`
//! (`service.instance.id`, else `host.name:process.pid` when the resource has both, so
//! that replicas of a service keep apart series), as the point's own labels of those
//! names allow.
//!
//! A malformed request (a point without a time, histogram buckets that do not match
//! their bounds) is refused whole, naming the field at fault. Points Lookout cannot keep
//! (delta temporality: a point's increase since the last, which only the sender can add
//! up; a value that is not finite) are counted as rejected, as OTLP's partial success
//! reports them, and the rest are kept.
//!
//! ```
//! use lookout_exporter_otlp::ingest::Encoding;
//! use lookout_exporter_otlp::ingest_metrics::{PointKind, decode_metrics};
//!
//! let body = br#"{"resourceMetrics":[{"resource":{"attributes":[
//!     {"key":"service.name","value":{"stringValue":"planner"}}]},
//!   "scopeMetrics":[{"metrics":[{"name":"gen_ai.client.token.usage","sum":{
//!     "aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"42",
//!     "timeUnixNano":"1700000000000000000",
//!     "attributes":[{"key":"gen_ai.token.type","value":{"stringValue":"input"}}]}]}}]}]}]}"#;
//! let decoded = decode_metrics(body, Encoding::Json).unwrap();
//! let point = &decoded.points[0];
//! assert_eq!(point.name, "gen_ai_client_token_usage_total");
//! assert_eq!(point.kind, PointKind::Counter);
//! assert_eq!(point.labels["gen_ai_token_type"], "input");
//! assert_eq!(point.labels["service"], "planner");
//! assert_eq!(point.value, 42.0);
//! assert_eq!(decoded.rejected, 0);
//! ```

use crate::ingest::{Encoding, IngestError, json_of};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, HistogramDataPoint, NumberDataPoint, metric, number_data_point,
};
use prost::Message;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a point measures, as the store names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// A cumulative total (its increase between points is what happened).
    Counter,
    /// A value at its time.
    Gauge,
    /// A cumulative histogram bucket (`le` its upper bound).
    HistogramBucket,
}

impl PointKind {
    /// The store's name: `counter`, `gauge`, `histogram_bucket`.
    pub fn as_str(self) -> &'static str {
        match self {
            PointKind::Counter => "counter",
            PointKind::Gauge => "gauge",
            PointKind::HistogramBucket => "histogram_bucket",
        }
    }
}

/// One point of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The series' name (`{name}_total`, `{name}_bucket`, ...).
    pub name: String,
    /// What it measures.
    pub kind: PointKind,
    /// Its labels: the point's attributes, `service` and `instance`.
    pub labels: BTreeMap<String, String>,
    /// Its value (finite).
    pub value: f64,
    /// When it was measured.
    pub time: SystemTime,
}

/// A request's points, and how many of its data points were not kept and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedMetrics {
    /// The points to keep.
    pub points: Vec<MetricPoint>,
    /// OTLP data points not kept (OTLP's `rejected_data_points`).
    pub rejected: u64,
    /// Why they were not, for the sender (empty when none were).
    pub reason: String,
}

impl DecodedMetrics {
    /// OTLP's partial success for this request, when points were not kept.
    pub fn partial_success(&self) -> Option<ExportMetricsPartialSuccess> {
        (self.rejected > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(self.rejected).unwrap_or(i64::MAX),
            error_message: self.reason.clone(),
        })
    }

    /// The `ExportMetricsServiceResponse` to answer in `encoding`: empty (`{}` in JSON),
    /// or this partial success.
    pub fn response(&self, encoding: Encoding) -> Vec<u8> {
        let response = ExportMetricsServiceResponse {
            partial_success: self.partial_success(),
        };
        match encoding {
            Encoding::Protobuf => response.encode_to_vec(),
            Encoding::Json if response.partial_success.is_none() => b"{}".to_vec(),
            Encoding::Json => serde_json::to_vec(&response).unwrap_or_default(),
        }
    }
}

/// Decodes `body` and turns it into points, refusing it whole if it is malformed.
pub fn decode_metrics(body: &[u8], encoding: Encoding) -> Result<DecodedMetrics, IngestError> {
    let request = match encoding {
        Encoding::Protobuf => {
            ExportMetricsServiceRequest::decode(body).map_err(|e| IngestError {
                code: "invalid_protobuf",
                message: format!("not an OTLP ExportMetricsServiceRequest: {e}"),
                field: None,
            })?
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|e| IngestError {
            code: "invalid_json",
            message: format!("not an OTLP/JSON ExportMetricsServiceRequest: {e}"),
            field: None,
        })?,
    };
    points_of(request)
}

/// The points of a decoded request, refused whole if it is malformed.
pub fn points_of(request: ExportMetricsServiceRequest) -> Result<DecodedMetrics, IngestError> {
    let mut out = Points::default();
    for (r, resource_metrics) in request.resource_metrics.into_iter().enumerate() {
        let resource = resource_metrics
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        let text = |key: &str| {
            resource
                .iter()
                .find_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(s) if kv.key == key => Some(s.clone()),
                    any_value::Value::IntValue(n) if kv.key == key => Some(n.to_string()),
                    _ => None,
                })
        };
        out.process = vec![(
            "service".to_owned(),
            text("service.name").unwrap_or_else(|| "unknown_service".into()),
        )];
        let instance = text("service.instance.id")
            .or_else(|| Some(format!("{}:{}", text("host.name")?, text("process.pid")?)));
        out.process
            .extend(instance.map(|id| ("instance".to_owned(), id)));
        for (s, scope_metrics) in resource_metrics.scope_metrics.into_iter().enumerate() {
            for (m, metric) in scope_metrics.metrics.into_iter().enumerate() {
                let at = format!("resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}]");
                out.metric(metric, &at)?;
                if out.full() {
                    return Err(IngestError::at(
                        "payload_too_large",
                        at,
                        format!(
                            "the request expands to more than {} MiB of points and labels",
                            MAX_EXPANDED >> 20
                        ),
                    ));
                }
            }
        }
    }
    let reason = [
        (out.delta, "delta temporality (only cumulative is kept)"),
        (out.not_finite, "a value that is not finite"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, why)| format!("{n} with {why}"))
    .collect::<Vec<_>>()
    .join("; ");
    Ok(DecodedMetrics {
        points: out.points,
        rejected: out.delta + out.not_finite,
        reason,
    })
}

/// The most a request may expand to: its points' names and labels, and a fixed cost per
/// point, in bytes. A small request can name many buckets of many labels: past this it is
/// refused (`payload_too_large`) before it takes the memory.
pub const MAX_EXPANDED: usize = 64 << 20;

/// What a point costs beside its name and labels, towards [`MAX_EXPANDED`].
const POINT_COST: usize = 128;

/// What a request turns into, metric by metric.
#[derive(Default)]
struct Points {
    points: Vec<MetricPoint>,
    /// Bytes expanded so far, towards [`MAX_EXPANDED`].
    expanded: usize,
    /// The current resource's labels.
    process: Vec<(String, String)>,
    delta: u64,
    not_finite: u64,
}

impl Points {
    /// Whether the request expanded past [`MAX_EXPANDED`] (it is then refused).
    fn full(&self) -> bool {
        self.expanded > MAX_EXPANDED
    }

    fn metric(
        &mut self,
        metric: opentelemetry_proto::tonic::metrics::v1::Metric,
        at: &str,
    ) -> Result<(), IngestError> {
        let name = sanitized(&metric.name, true);
        if name.is_empty() {
            return Err(IngestError::at(
                "invalid_value",
                format!("{at}.name"),
                "a metric has a name",
            ));
        }
        let Some(data) = metric.data else {
            return Ok(());
        };
        match data {
            metric::Data::Gauge(gauge) => {
                let at = format!("{at}.gauge");
                self.numbers(&name, PointKind::Gauge, gauge.data_points, &at)
            }
            metric::Data::Sum(sum) => {
                let at = format!("{at}.sum");
                if !self.cumulative(sum.aggregation_temporality, sum.data_points.len(), &at)? {
                    return Ok(());
                }
                match sum.is_monotonic {
                    true => {
                        let total = match name.ends_with("_total") {
                            true => name,
                            false => format!("{name}_total"),
                        };
                        self.numbers(&total, PointKind::Counter, sum.data_points, &at)
                    }
                    false => self.numbers(&name, PointKind::Gauge, sum.data_points, &at),
                }
            }
            metric::Data::Histogram(histogram) => {
                let at = format!("{at}.histogram");
                let (temporality, n) = (
                    histogram.aggregation_temporality,
                    histogram.data_points.len(),
                );
                if !self.cumulative(temporality, n, &at)? {
                    return Ok(());
                }
                for (d, point) in histogram.data_points.into_iter().enumerate() {
                    if self.full() {
                        break;
                    }
                    self.histogram(&name, point, &format!("{at}.dataPoints[{d}]"))?;
                }
                Ok(())
            }
            metric::Data::ExponentialHistogram(histogram) => {
                let at = format!("{at}.exponentialHistogram");
                let (temporality, n) = (
                    histogram.aggregation_temporality,
                    histogram.data_points.len(),
                );
                if !self.cumulative(temporality, n, &at)? {
                    return Ok(());
                }
                for (d, point) in histogram.data_points.into_iter().enumerate() {
                    if self.full() {
                        break;
                    }
                    let at = format!("{at}.dataPoints[{d}]");
                    let Some(time) = self.time(point.time_unix_nano, point.flags, &at)? else {
                        continue;
                    };
                    let labels = self.labels(&point.attributes);
                    self.totals(&name, &labels, point.count, point.sum, time);
                }
                Ok(())
            }
            metric::Data::Summary(summary) => {
                let at = format!("{at}.summary");
                for (d, point) in summary.data_points.into_iter().enumerate() {
                    if self.full() {
                        break;
                    }
                    let at = format!("{at}.dataPoints[{d}]");
                    let Some(time) = self.time(point.time_unix_nano, point.flags, &at)? else {
                        continue;
                    };
                    let labels = self.labels(&point.attributes);
                    for quantile in &point.quantile_values {
                        if self.full() {
                            break;
                        }
                        let mut labels = labels.clone();
                        labels.insert("quantile".into(), quantile.quantile.to_string());
                        self.push(&name, PointKind::Gauge, labels, quantile.value, time);
                    }
                    self.totals(&name, &labels, point.count, Some(point.sum), time);
                }
                Ok(())
            }
        }
    }

    /// Whether points of `temporality` are kept: cumulative ones are, delta ones are
    /// counted as rejected, anything else is malformed.
    fn cumulative(
        &mut self,
        temporality: i32,
        points: usize,
        at: &str,
    ) -> Result<bool, IngestError> {
        match AggregationTemporality::try_from(temporality) {
            Ok(AggregationTemporality::Cumulative) => Ok(true),
            Ok(AggregationTemporality::Delta) => {
                self.delta += points as u64;
                Ok(false)
            }
            _ => Err(IngestError::at(
                "invalid_value",
                format!("{at}.aggregationTemporality"),
                format!("{temporality} is not a temporality (1 delta, 2 cumulative)"),
            )),
        }
    }

    fn numbers(
        &mut self,
        name: &str,
        kind: PointKind,
        points: Vec<NumberDataPoint>,
        at: &str,
    ) -> Result<(), IngestError> {
        for (d, point) in points.into_iter().enumerate() {
            if self.full() {
                break;
            }
            let at = format!("{at}.dataPoints[{d}]");
            let Some(time) = self.time(point.time_unix_nano, point.flags, &at)? else {
                continue;
            };
            let value = match point.value {
                Some(number_data_point::Value::AsDouble(x)) => x,
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                None => {
                    return Err(IngestError::at(
                        "missing_field",
                        format!("{at}.asDouble"),
                        "a number point has asDouble or asInt",
                    ));
                }
            };
            let labels = self.labels(&point.attributes);
            self.push(name, kind, labels, value, time);
        }
        Ok(())
    }

    fn histogram(
        &mut self,
        name: &str,
        point: HistogramDataPoint,
        at: &str,
    ) -> Result<(), IngestError> {
        let Some(time) = self.time(point.time_unix_nano, point.flags, at)? else {
            return Ok(());
        };
        let buckets = point.bucket_counts.len();
        if buckets != 0 && buckets != point.explicit_bounds.len() + 1 {
            return Err(IngestError::at(
                "invalid_value",
                format!("{at}.bucketCounts"),
                format!(
                    "{buckets} bucket counts for {} bounds (one more than the bounds)",
                    point.explicit_bounds.len()
                ),
            ));
        }
        let bounds = &point.explicit_bounds;
        let increasing =
            bounds.windows(2).all(|w| w[0] < w[1]) && bounds.iter().all(|b| b.is_finite());
        if !increasing {
            return Err(IngestError::at(
                "invalid_value",
                format!("{at}.explicitBounds"),
                "bounds are finite numbers, each greater than the one before",
            ));
        }
        let labels = self.labels(&point.attributes);
        self.totals(name, &labels, point.count, point.sum, time);
        let bounds = point
            .explicit_bounds
            .iter()
            .map(f64::to_string)
            .chain(["+Inf".to_owned()]);
        let mut cumulative = 0u64;
        for (bound, count) in bounds.zip(point.bucket_counts) {
            if self.full() {
                break;
            }
            cumulative = cumulative.saturating_add(count);
            let mut bucket = labels.clone();
            bucket.insert("le".into(), bound);
            self.push(
                &format!("{name}_bucket"),
                PointKind::HistogramBucket,
                bucket,
                cumulative as f64,
                time,
            );
        }
        Ok(())
    }

    /// `{name}_count` and, when known, `{name}_sum`.
    fn totals(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
        count: u64,
        sum: Option<f64>,
        time: SystemTime,
    ) {
        let count_name = format!("{name}_count");
        self.push(
            &count_name,
            PointKind::Counter,
            labels.clone(),
            count as f64,
            time,
        );
        if let Some(sum) = sum {
            self.push(
                &format!("{name}_sum"),
                PointKind::Counter,
                labels.clone(),
                sum,
                time,
            );
        }
    }

    /// The point's time; `None` for a point flagged as having no recorded value.
    fn time(
        &self,
        unix_nanos: u64,
        flags: u32,
        at: &str,
    ) -> Result<Option<SystemTime>, IngestError> {
        const NO_RECORDED_VALUE: u32 = 1;
        if flags & NO_RECORDED_VALUE != 0 {
            return Ok(None);
        }
        // The store keeps signed nanoseconds: up to the year 2262.
        if unix_nanos == 0 || unix_nanos > i64::MAX as u64 {
            return Err(IngestError::at(
                "invalid_value",
                format!("{at}.timeUnixNano"),
                "a point has a time, in Unix nanoseconds",
            ));
        }
        Ok(Some(UNIX_EPOCH + Duration::from_nanos(unix_nanos)))
    }

    /// The point's labels: its attributes (keys that sanitise alike have their values
    /// joined by `;`, as Prometheus joins them; an empty key is dropped), then the
    /// process's.
    fn labels(&self, attributes: &[KeyValue]) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        for kv in attributes.iter().filter(|kv| !kv.key.is_empty()) {
            let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
                continue;
            };
            let value = match value {
                any_value::Value::StringValue(s) => s.clone(),
                other => json_of(other).to_string(),
            };
            labels
                .entry(sanitized(&kv.key, false))
                .and_modify(|joined| {
                    joined.push(';');
                    joined.push_str(&value);
                })
                .or_insert(value);
        }
        for (key, value) in &self.process {
            labels.entry(key.clone()).or_insert_with(|| value.clone());
        }
        labels
    }

    fn push(
        &mut self,
        name: &str,
        kind: PointKind,
        labels: BTreeMap<String, String>,
        value: f64,
        time: SystemTime,
    ) {
        if !value.is_finite() {
            self.not_finite += 1;
            return;
        }
        let text: usize = labels.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.expanded = self.expanded.saturating_add(POINT_COST + name.len() + text);
        self.points.push(MetricPoint {
            name: name.to_owned(),
            kind,
            labels,
            value,
            time,
        });
    }
}

/// `text` with what Prometheus does not allow in a name (`colon`: a metric name) or a
/// label key replaced by `_`, and `_` before a leading digit.
fn sanitized(text: &str, colon: bool) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(text.chars().map(|c| match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c,
        ':' if colon => c,
        _ => '_',
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::{MAX_EXPANDED, points_of, sanitized};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, metric, number_data_point,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn text(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn request(resource: Vec<KeyValue>, data: metric::Data) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "m".into(),
                        data: Some(data),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn gauge(points: usize, attributes: Vec<KeyValue>) -> metric::Data {
        let point = NumberDataPoint {
            attributes,
            time_unix_nano: 1,
            value: Some(number_data_point::Value::AsInt(1)),
            ..Default::default()
        };
        metric::Data::Gauge(Gauge {
            data_points: vec![point; points],
        })
    }

    #[test]
    fn keys_that_sanitise_alike_join_their_values() {
        let attributes = vec![text("a.b", "x"), text("a_b", "y"), text("", "dropped")];
        let decoded = points_of(request(vec![], gauge(1, attributes))).unwrap();
        let labels = &decoded.points[0].labels;
        assert_eq!(labels["a_b"], "x;y");
        assert_eq!(labels.len(), 2, "{labels:?}");
    }

    #[test]
    fn replicas_without_an_instance_id_are_told_apart_by_host_and_pid() {
        let pid = |n: i64| KeyValue {
            key: "process.pid".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(n)),
            }),
            ..Default::default()
        };
        let instance = |resource: Vec<KeyValue>| {
            let decoded = points_of(request(resource, gauge(1, vec![]))).unwrap();
            decoded.points[0].labels.get("instance").cloned()
        };
        let replica = |n| vec![text("service.name", "s"), text("host.name", "h"), pid(n)];
        assert_eq!(instance(replica(7)).as_deref(), Some("h:7"));
        assert_ne!(instance(replica(7)), instance(replica(8)));
        let mut with_id = replica(7);
        with_id.push(text("service.instance.id", "i-1"));
        assert_eq!(instance(with_id).as_deref(), Some("i-1"));
        // Without both, no guess.
        assert_eq!(instance(vec![text("host.name", "h")]), None);
    }

    #[test]
    fn an_infinite_bound_is_refused() {
        let point = HistogramDataPoint {
            time_unix_nano: 1,
            count: 1,
            explicit_bounds: vec![1.0, f64::INFINITY],
            bucket_counts: vec![0, 1, 0],
            ..Default::default()
        };
        let histogram = metric::Data::Histogram(Histogram {
            data_points: vec![point],
            aggregation_temporality: 2,
        });
        let error = points_of(request(vec![], histogram)).unwrap_err();
        assert_eq!(error.code, "invalid_value");
        assert!(error.field.unwrap().ends_with("explicitBounds"));
    }

    #[test]
    fn a_request_that_expands_past_the_cap_is_refused_before_it_takes_the_memory() {
        // 1 MiB of service name copied into each of 100 points: 100 MiB of labels.
        let service = vec![text("service.name", &"s".repeat(1 << 20))];
        const { assert!(100 << 20 > MAX_EXPANDED) };
        let error = points_of(request(service.clone(), gauge(100, vec![]))).unwrap_err();
        assert_eq!(error.code, "payload_too_large");
        // Under the cap it is taken.
        assert_eq!(
            points_of(request(service, gauge(10, vec![])))
                .unwrap()
                .points
                .len(),
            10
        );
    }

    #[test]
    fn names_keep_what_prometheus_allows() {
        assert_eq!(
            sanitized("gen_ai.client.token-usage", true),
            "gen_ai_client_token_usage"
        );
        assert_eq!(sanitized("job:rate5m", true), "job:rate5m");
        assert_eq!(sanitized("job:rate5m", false), "job_rate5m");
        assert_eq!(sanitized("9lives", false), "_9lives");
        assert_eq!(sanitized("é", true), "_");
    }
}

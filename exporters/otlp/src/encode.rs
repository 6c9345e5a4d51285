//! Lookout's spans and metrics as the official OTLP messages.

use crate::config::Temporality;
use lookout_export::{
    AttributeValue, FamilyInfo, FinishedSpan, KeyValue, MetricKind, MetricVisitor, MetricsBatch,
    SpanKind, Status, Value,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::metrics::v1 as metrics;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1 as trace;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The instrumentation scope of everything Lookout sends.
fn scope() -> common::InstrumentationScope {
    common::InstrumentationScope {
        name: "lookout".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

fn resource(resource: Option<&lookout_export::Resource>) -> Resource {
    Resource {
        attributes: resource
            .map(|r| r.attributes.iter().map(key_value).collect())
            .unwrap_or_default(),
        ..Default::default()
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn any_value(value: &AttributeValue) -> common::AnyValue {
    use common::any_value::Value as V;
    let value = match value {
        AttributeValue::Bool(b) => V::BoolValue(*b),
        AttributeValue::Int(i) => V::IntValue(*i),
        AttributeValue::Float(f) => V::DoubleValue(*f),
        AttributeValue::String(s) => V::StringValue(s.to_string()),
        other => V::StringValue(other.to_string()),
    };
    common::AnyValue { value: Some(value) }
}

fn key_value(kv: &KeyValue) -> common::KeyValue {
    common::KeyValue {
        key: kv.key.to_string(),
        value: Some(any_value(&kv.value)),
        ..Default::default()
    }
}

fn string_attribute(key: &str, value: &str) -> common::KeyValue {
    common::KeyValue {
        key: key.to_owned(),
        value: Some(common::AnyValue {
            value: Some(common::any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` (0x100): the is-remote bit is meaningful.
const HAS_IS_REMOTE: u32 = trace::SpanFlags::ContextHasIsRemoteMask as u32;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK` (0x200): the parent is in another process.
const IS_REMOTE: u32 = trace::SpanFlags::ContextIsRemoteMask as u32;

fn span(span: &FinishedSpan) -> trace::Span {
    let kind = match span.kind {
        SpanKind::Internal => trace::span::SpanKind::Internal,
        SpanKind::Server => trace::span::SpanKind::Server,
        SpanKind::Client => trace::span::SpanKind::Client,
        SpanKind::Producer => trace::span::SpanKind::Producer,
        SpanKind::Consumer => trace::span::SpanKind::Consumer,
    };
    let status = match &span.status {
        Status::Unset => None,
        Status::Ok => Some(trace::Status {
            code: trace::status::StatusCode::Ok as i32,
            ..Default::default()
        }),
        Status::Error(message) => Some(trace::Status {
            code: trace::status::StatusCode::Error as i32,
            message: message.to_string(),
        }),
    };
    let remote = if span.parent_is_remote { IS_REMOTE } else { 0 };
    trace::Span {
        trace_id: span.trace_id.0.to_be_bytes().to_vec(),
        span_id: span.span_id.0.to_be_bytes().to_vec(),
        trace_state: span.trace_state.as_deref().unwrap_or_default().to_owned(),
        parent_span_id: if span.parent_span_id.is_valid() {
            span.parent_span_id.0.to_be_bytes().to_vec()
        } else {
            Vec::new()
        },
        flags: u32::from(span.flags.0) | HAS_IS_REMOTE | remote,
        name: span.name.to_string(),
        kind: kind as i32,
        start_time_unix_nano: nanos(span.start_time),
        end_time_unix_nano: nanos(span.end_time),
        attributes: span.attributes.iter().map(key_value).collect(),
        dropped_attributes_count: span.dropped_attributes,
        events: span
            .events
            .iter()
            .map(|e| trace::span::Event {
                time_unix_nano: nanos(e.time),
                name: e.name.to_string(),
                attributes: e.attributes.iter().map(key_value).collect(),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: span.dropped_events,
        links: span
            .links
            .iter()
            .map(|l| trace::span::Link {
                trace_id: l.trace_id.0.to_be_bytes().to_vec(),
                span_id: l.span_id.0.to_be_bytes().to_vec(),
                trace_state: l.trace_state.as_deref().unwrap_or_default().to_owned(),
                attributes: l.attributes.iter().map(key_value).collect(),
                dropped_attributes_count: 0,
                // Whether the linked span is remote is not known: bits 8 and 9 stay 0.
                flags: u32::from(l.flags.0),
            })
            .collect(),
        dropped_links_count: span.dropped_links,
        status,
    }
}

/// Finished spans as one `ExportTraceServiceRequest`: one `ResourceSpans` for each run
/// of spans from the same process (its [`lookout_export::Resource`]).
pub fn spans_request(spans: &[FinishedSpan]) -> ExportTraceServiceRequest {
    let same_process = |a: &FinishedSpan, b: &FinishedSpan| match (&a.resource, &b.resource) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        (a, b) => a.is_none() && b.is_none(),
    };
    ExportTraceServiceRequest {
        resource_spans: spans
            .chunk_by(same_process)
            .map(|run| trace::ResourceSpans {
                resource: Some(resource(run[0].resource.as_deref())),
                scope_spans: vec![trace::ScopeSpans {
                    scope: Some(scope()),
                    spans: run.iter().map(span).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    }
}

/// The UCUM unit OTLP expects for a Lookout unit.
pub fn ucum_unit(unit: &str) -> &str {
    match unit {
        "seconds" => "s",
        "milliseconds" => "ms",
        "bytes" => "By",
        "ratio" => "1",
        "tokens" => "{token}",
        other => other,
    }
}

/// Previous cumulative values, for delta temporality.
#[derive(Debug, Default)]
pub(crate) struct DeltaState {
    last: HashMap<(String, Vec<(String, String)>), Previous>,
    last_time: Option<SystemTime>,
}

#[derive(Debug, Clone)]
enum Previous {
    Counter(u64),
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

/// Walks a metrics collection into OTLP metrics.
struct Collect<'a> {
    temporality: Temporality,
    delta: Option<&'a mut DeltaState>,
    start: u64,
    time: u64,
    metrics: Vec<metrics::Metric>,
    family: String,
    /// Whether the last family became a metric (series of unknown kinds are skipped).
    current: bool,
    points: usize,
}

impl Collect<'_> {
    fn temporality(&self) -> i32 {
        match self.temporality {
            Temporality::Cumulative => metrics::AggregationTemporality::Cumulative as i32,
            Temporality::Delta => metrics::AggregationTemporality::Delta as i32,
        }
    }

    /// The change since the previous export of this series, and remembers `now`.
    fn delta(&mut self, labels: &[(&str, &str)], now: Previous) -> Previous {
        let Some(state) = self.delta.as_deref_mut() else {
            return now;
        };
        let key = (
            self.family.clone(),
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        let before = state.last.insert(key, now.clone());
        match (now, before) {
            (Previous::Counter(n), Some(Previous::Counter(b))) if n >= b => {
                Previous::Counter(n - b)
            }
            (
                Previous::Histogram { counts, sum, count },
                Some(Previous::Histogram {
                    counts: b_counts,
                    sum: b_sum,
                    count: b_count,
                }),
            ) if count >= b_count && counts.len() == b_counts.len() => Previous::Histogram {
                counts: counts
                    .iter()
                    .zip(&b_counts)
                    .map(|(n, b)| n.saturating_sub(*b))
                    .collect(),
                sum: sum - b_sum,
                count: count - b_count,
            },
            // First export, or the series was reset: everything is new.
            (now, _) => now,
        }
    }
}

impl MetricVisitor for Collect<'_> {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        let temporality = self.temporality();
        let data = match family.kind {
            MetricKind::Counter => metrics::metric::Data::Sum(metrics::Sum {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
                is_monotonic: true,
            }),
            MetricKind::Gauge => metrics::metric::Data::Gauge(metrics::Gauge::default()),
            MetricKind::Histogram => metrics::metric::Data::Histogram(metrics::Histogram {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
            }),
            // A kind this encoder does not know: its series find no metric to join.
            _ => {
                self.family.clear();
                self.current = false;
                return;
            }
        };
        self.current = true;
        self.family = family.name.to_owned();
        self.metrics.push(metrics::Metric {
            name: family.name.to_owned(),
            description: family.help.to_owned(),
            unit: ucum_unit(family.unit).to_owned(),
            data: Some(data),
            ..Default::default()
        });
    }

    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
        if !self.current {
            return;
        }
        let attributes: Vec<_> = labels.iter().map(|(k, v)| string_attribute(k, v)).collect();
        let (start, time) = (self.start, self.time);
        let (value, bounds) = match value {
            Value::Counter(n) => (self.delta(labels, Previous::Counter(n)), Vec::new()),
            Value::Histogram(h) => {
                let now = Previous::Histogram {
                    counts: h.counts.to_vec(),
                    sum: h.sum,
                    count: h.count,
                };
                (self.delta(labels, now), h.bounds.to_vec())
            }
            Value::Gauge(v) => {
                if let Some(metrics::metric::Data::Gauge(gauge)) =
                    self.metrics.last_mut().and_then(|m| m.data.as_mut())
                {
                    gauge.data_points.push(metrics::NumberDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        value: Some(metrics::number_data_point::Value::AsDouble(v)),
                        ..Default::default()
                    });
                    self.points += 1;
                }
                return;
            }
            _ => return,
        };
        match (self.metrics.last_mut().and_then(|m| m.data.as_mut()), value) {
            (Some(metrics::metric::Data::Sum(sum)), Previous::Counter(n)) => {
                sum.data_points.push(metrics::NumberDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    value: Some(metrics::number_data_point::Value::AsInt(
                        i64::try_from(n).unwrap_or(i64::MAX),
                    )),
                    ..Default::default()
                });
            }
            (
                Some(metrics::metric::Data::Histogram(histogram)),
                Previous::Histogram { counts, sum, count },
            ) => {
                histogram.data_points.push(metrics::HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count,
                    sum: Some(sum),
                    bucket_counts: counts,
                    explicit_bounds: bounds,
                    ..Default::default()
                });
            }
            _ => return,
        }
        self.points += 1;
    }
}

/// One metrics collection as an `ExportMetricsServiceRequest`, and its data point count.
/// With delta temporality, `delta` holds the previous values and is updated.
pub(crate) fn metrics_request(
    batch: &MetricsBatch<'_>,
    temporality: Temporality,
    delta: Option<&mut DeltaState>,
) -> (ExportMetricsServiceRequest, usize) {
    let time = nanos(batch.time);
    let (start, delta) = match delta {
        Some(state) => {
            let start = state
                .last_time
                .replace(batch.time)
                .unwrap_or(batch.start_time);
            (nanos(start), Some(state))
        }
        None => (nanos(batch.start_time), None),
    };
    let mut collect = Collect {
        temporality,
        delta,
        start,
        time,
        metrics: Vec::new(),
        family: String::new(),
        current: false,
        points: 0,
    };
    batch.source.collect(&mut collect);
    let points = collect.points;
    // A family without series is no metric: OTLP metrics carry at least one point.
    collect.metrics.retain(|metric| match &metric.data {
        Some(metrics::metric::Data::Sum(sum)) => !sum.data_points.is_empty(),
        Some(metrics::metric::Data::Gauge(gauge)) => !gauge.data_points.is_empty(),
        Some(metrics::metric::Data::Histogram(h)) => !h.data_points.is_empty(),
        _ => false,
    });
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![metrics::ResourceMetrics {
            resource: Some(resource(Some(batch.resource))),
            scope_metrics: vec![metrics::ScopeMetrics {
                scope: Some(scope()),
                metrics: collect.metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    (request, points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_export::{SpanId, TraceFlags};
    use std::time::Duration;

    fn root() -> FinishedSpan {
        let mut root = lookout_export::testing::span(
            0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            0x1112_1314_1516_1718,
            "root",
        );
        root.kind = SpanKind::Producer;
        root.end_time = root.start_time + Duration::from_nanos(5);
        root
    }

    #[test]
    fn a_root_span_has_no_parent_and_a_known_local_context() {
        let span = span(&root());
        assert_eq!(span.trace_id, (1..=16).collect::<Vec<u8>>());
        assert_eq!(span.span_id, (0x11..=0x18).collect::<Vec<u8>>());
        assert!(span.parent_span_id.is_empty());
        assert_eq!(span.flags, 0x101);
        assert_eq!(span.kind, trace::span::SpanKind::Producer as i32);
        assert_eq!(span.trace_state, "");
        assert_eq!(span.status, None);
        assert_eq!(span.end_time_unix_nano - span.start_time_unix_nano, 5);
        let mut unsampled = root();
        unsampled.flags = TraceFlags(0);
        unsampled.parent_span_id = SpanId(9);
        unsampled.parent_is_remote = true;
        unsampled.kind = SpanKind::Consumer;
        let span = super::span(&unsampled);
        assert_eq!(span.flags, 0x300);
        assert_eq!(span.parent_span_id, 9u64.to_be_bytes());
        assert_eq!(span.kind, trace::span::SpanKind::Consumer as i32);
    }

    #[test]
    fn units_are_ucum() {
        for (unit, ucum) in [
            ("seconds", "s"),
            ("milliseconds", "ms"),
            ("bytes", "By"),
            ("ratio", "1"),
            ("tokens", "{token}"),
            ("", ""),
            ("requests", "requests"),
        ] {
            assert_eq!(ucum_unit(unit), ucum);
        }
    }
}

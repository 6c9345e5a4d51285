//! Metric collections as JSON records, one per series.

use crate::time::rfc3339;
use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value as MetricValue};
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// Every series of `source` as a record:
///
/// ```json
/// {"type":"metric","time":"2026-11-22T10:15:00.000Z","name":"agent_execution_total",
///  "kind":"counter","unit":"","labels":{"agent_type":"coder"},"value":3}
/// ```
///
/// Counters carry their Prometheus sample name (with `_total`) and a `value`; gauges a
/// `value`; histograms `count`, `sum` and `buckets`, each `{"le": bound, "count": n}`
/// counting the observations in that bucket alone (not cumulative), the last with
/// `"le": "+Inf"`.
pub fn metrics_to_json(source: &dyn MetricSource, time: SystemTime) -> Vec<Value> {
    let mut records = Records {
        time: rfc3339(time),
        family: None,
        records: Vec::new(),
    };
    source.collect(&mut records);
    records.records
}

struct Records {
    time: String,
    /// Name, kind and unit of the family being visited.
    family: Option<(String, MetricKind, String)>,
    records: Vec<Value>,
}

impl MetricVisitor for Records {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        let name = match family.kind {
            MetricKind::Counter => format!("{}_total", family.name),
            _ => family.name.to_owned(),
        };
        self.family = Some((name, family.kind, family.unit.to_owned()));
    }

    fn visit_series(&mut self, labels: &[(&str, &str)], value: MetricValue<'_>) {
        let Some((name, kind, unit)) = &self.family else {
            return;
        };
        let labels: Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let mut record = json!({
            "type": "metric",
            "time": self.time,
            "name": name,
            "kind": kind.as_str(),
            "unit": unit,
            "labels": labels,
        });
        let fields = record.as_object_mut().expect("built as an object");
        match value {
            MetricValue::Counter(n) => {
                fields.insert("value".into(), json!(n));
            }
            MetricValue::Gauge(v) => {
                fields.insert("value".into(), finite(v));
            }
            MetricValue::Histogram(h) => {
                fields.insert("count".into(), json!(h.count));
                fields.insert("sum".into(), finite(h.sum));
                let buckets: Vec<Value> = h
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(i, count)| match h.bounds.get(i) {
                        Some(le) => json!({ "le": le, "count": count }),
                        None => json!({ "le": "+Inf", "count": count }),
                    })
                    .collect();
                fields.insert("buckets".into(), Value::Array(buckets));
            }
            _ => return,
        }
        self.records.push(record);
    }
}

/// JSON has no NaN or infinities: they become their names as strings.
fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        json!(v.to_string())
    }
}

//! The live registry's answer (seed 003's query "over the live registry"): the current
//! value of each series of a family in a running process, read from any
//! [`MetricSource`] (a `lookout::metrics::Registry`, a `Telemetry`'s registry) without the
//! store. Counters and gauges answer their value; histograms their count, sum and
//! percentiles interpolated within their buckets ([`histogram_quantile`]).

use crate::functions::histogram_quantile;
use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value};
use std::collections::BTreeMap;

/// A series' value now.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveValue {
    /// A counter's total or a gauge's value.
    Number(f64),
    /// A histogram.
    Histogram {
        /// Observations.
        count: u64,
        /// Their sum.
        sum: f64,
        /// The median.
        p50: Option<f64>,
        /// The 95th percentile.
        p95: Option<f64>,
        /// The 99th percentile.
        p99: Option<f64>,
    },
}

/// One series of a family, now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LiveSeries {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// Its value.
    pub value: LiveValue,
}

/// The series of family `name` in `source` that have every label of `labels`, in label
/// order.
pub fn query(
    source: &dyn MetricSource,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<LiveSeries> {
    struct Picker<'a> {
        name: &'a str,
        labels: &'a BTreeMap<String, String>,
        kind: Option<MetricKind>,
        found: Vec<LiveSeries>,
    }
    impl MetricVisitor for Picker<'_> {
        fn visit_family(&mut self, family: &FamilyInfo<'_>) {
            self.kind = (family.name == self.name).then_some(family.kind);
        }

        fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
            let Some(kind) = self.kind else { return };
            let has = |(key, value): (&String, &String)| {
                labels.iter().any(|(k, v)| k == key && v == value)
            };
            if !self.labels.iter().all(has) {
                return;
            }
            let value = match value {
                Value::Counter(total) => LiveValue::Number(total as f64),
                Value::Gauge(value) => LiveValue::Number(value),
                Value::Histogram(h) => {
                    let mut cumulative = 0.0;
                    let bounds: Vec<(f64, f64)> = h
                        .bounds
                        .iter()
                        .copied()
                        .chain([f64::INFINITY])
                        .zip(h.counts)
                        .map(|(bound, count)| {
                            cumulative += *count as f64;
                            (bound, cumulative)
                        })
                        .collect();
                    let at = |q| histogram_quantile(q, bounds.clone());
                    LiveValue::Histogram {
                        count: h.count,
                        sum: h.sum,
                        p50: at(0.5),
                        p95: at(0.95),
                        p99: at(0.99),
                    }
                }
                _ => return,
            };
            self.found.push(LiveSeries {
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                kind: kind.as_str(),
                value,
            });
        }
    }
    let mut picker = Picker {
        name,
        labels,
        kind: None,
        found: Vec::new(),
    };
    source.collect(&mut picker);
    picker.found.sort_by(|a, b| a.labels.cmp(&b.labels));
    picker.found
}

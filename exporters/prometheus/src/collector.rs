//! Interop: a `prometheus::core::Collector` over any metric source.

use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value};
use prometheus::proto;

/// Lets a `prometheus::Registry` gather Lookout's metrics, so an application that already
/// serves the prometheus crate's registry keeps one endpoint.
///
/// ```
/// # use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value};
/// # struct Jobs;
/// # impl MetricSource for Jobs {
/// #     fn collect(&self, v: &mut dyn MetricVisitor) {
/// #         v.visit_family(&FamilyInfo::new("jobs", "Jobs", "", MetricKind::Counter));
/// #         v.visit_series(&[], Value::Counter(2));
/// #     }
/// # }
/// use lookout_exporter_prometheus::PrometheusCollector;
/// let registry = prometheus::Registry::new();
/// registry.register(Box::new(PrometheusCollector::new(Jobs))).unwrap();
/// let families = registry.gather();
/// assert_eq!(families[0].name(), "jobs_total");
/// ```
#[derive(Debug)]
pub struct PrometheusCollector<S> {
    source: S,
}

impl<S: MetricSource> PrometheusCollector<S> {
    /// Wraps `source`.
    pub fn new(source: S) -> Self {
        PrometheusCollector { source }
    }
}

impl<S: MetricSource> prometheus::core::Collector for PrometheusCollector<S> {
    /// No fixed descriptors: families appear as they are registered, so this is an
    /// unchecked collector, as the prometheus crate allows.
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let mut builder = Builder::default();
        self.source.collect(&mut builder);
        builder.families
    }
}

#[derive(Default)]
struct Builder {
    families: Vec<proto::MetricFamily>,
}

impl MetricVisitor for Builder {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        let mut mf = proto::MetricFamily::default();
        let (name, kind) = match family.kind {
            MetricKind::Counter => (format!("{}_total", family.name), proto::MetricType::COUNTER),
            MetricKind::Gauge => (family.name.to_owned(), proto::MetricType::GAUGE),
            _ => (family.name.to_owned(), proto::MetricType::HISTOGRAM),
        };
        mf.set_name(name);
        mf.set_help(family.help.to_owned());
        mf.set_field_type(kind);
        self.families.push(mf);
    }

    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
        let Some(family) = self.families.last_mut() else {
            return;
        };
        let mut metric = proto::Metric::default();
        metric.set_label(
            labels
                .iter()
                .map(|(name, value)| {
                    let mut pair = proto::LabelPair::default();
                    pair.set_name((*name).to_owned());
                    pair.set_value((*value).to_owned());
                    pair
                })
                .collect(),
        );
        match value {
            Value::Counter(total) => {
                let mut counter = proto::Counter::default();
                counter.set_value(total as f64);
                metric.set_counter(counter);
            }
            Value::Gauge(value) => {
                let mut gauge = proto::Gauge::default();
                gauge.set_value(value);
                metric.set_gauge(gauge);
            }
            Value::Histogram(h) => {
                let mut histogram = proto::Histogram::default();
                histogram.set_sample_count(h.count);
                histogram.set_sample_sum(h.sum);
                let mut cumulative = 0;
                let buckets = h.bounds.iter().zip(h.counts).map(|(bound, count)| {
                    cumulative += count;
                    let mut bucket = proto::Bucket::default();
                    bucket.set_upper_bound(*bound);
                    bucket.set_cumulative_count(cumulative);
                    bucket
                });
                histogram.set_bucket(buckets.collect());
                metric.set_histogram(histogram);
            }
            _ => return,
        }
        family.mut_metric().push(metric);
    }
}

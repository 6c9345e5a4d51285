//! Metric families and series as an exporter sees them.

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricKind {
    /// A monotonic count; its samples carry the `_total` suffix on the wire.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution exported as cumulative buckets, a sum and a count.
    Histogram,
}

impl MetricKind {
    /// The lowercase name used by the Prometheus `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// What an exporter learns about a family before its series.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct FamilyInfo<'a> {
    /// The family name, valid under Prometheus rules. For counters it never ends in
    /// `_total`: encoders append the suffix to sample names.
    pub name: &'a str,
    /// Help text, unescaped.
    pub help: &'a str,
    /// Unit (such as `seconds`), or the empty string. When set, `name` ends with `_{unit}`.
    pub unit: &'a str,
    /// The family's type; every series that follows carries a matching [`Value`].
    pub kind: MetricKind,
}

impl<'a> FamilyInfo<'a> {
    /// A family named `name` of `kind`, with its help text and unit (`""` for none).
    pub fn new(name: &'a str, help: &'a str, unit: &'a str, kind: MetricKind) -> Self {
        FamilyInfo {
            name,
            help,
            unit,
            kind,
        }
    }
}

/// A histogram's state at collection time.
///
/// `counts[i]` is the number of observations `v` with `bounds[i-1] < v <= bounds[i]`;
/// the last element counts those above every bound (the `+Inf` bucket), so
/// `counts.len() == bounds.len() + 1` and `counts` sums to `count`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct HistogramValue<'a> {
    /// Upper bounds of the finite buckets, strictly increasing.
    pub bounds: &'a [f64],
    /// Per-bucket (not cumulative) observation counts, one more than `bounds`.
    pub counts: &'a [u64],
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl<'a> HistogramValue<'a> {
    /// A histogram with per-bucket `counts` (one more than `bounds`), `sum` and `count`.
    pub fn new(bounds: &'a [f64], counts: &'a [u64], sum: f64, count: u64) -> Self {
        HistogramValue {
            bounds,
            counts,
            sum,
            count,
        }
    }
}

/// The value of one series.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A counter's total.
    Counter(u64),
    /// A gauge's current value.
    Gauge(f64),
    /// A histogram's buckets, sum and count.
    Histogram(HistogramValue<'a>),
}

/// Receives families and their series from a [`MetricSource`].
///
/// Calls come in order: `visit_family` once per family, then `visit_series` for each of
/// its series, before the next family. A family may have no series.
pub trait MetricVisitor {
    /// Starts a family.
    fn visit_family(&mut self, family: &FamilyInfo<'_>);
    /// Reports one series of the current family, labels as `(name, value)` pairs.
    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>);
}

/// Anything whose metrics an exporter can read: Lookout's registry, or a test double.
pub trait MetricSource: Send + Sync {
    /// Walks every family and series, handing each to `visitor`.
    fn collect(&self, visitor: &mut dyn MetricVisitor);
}

impl<T: MetricSource + ?Sized> MetricSource for std::sync::Arc<T> {
    fn collect(&self, visitor: &mut dyn MetricVisitor) {
        (**self).collect(visitor)
    }
}

impl<T: MetricSource + ?Sized> MetricSource for &T {
    fn collect(&self, visitor: &mut dyn MetricVisitor) {
        (**self).collect(visitor)
    }
}

//! Histograms: exact Prometheus buckets, sum and count, plus an HDR histogram for quantiles.

use super::MetricError;
use super::series::{Metric, Series, sealed::Sealed};
use lookout_export::{HistogramValue, MetricKind, Value};
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket boundaries and HDR range of a histogram family, in the family's unit.
///
/// Buckets are counted exactly: an observation `v` lands in the first bucket with
/// `v <= bound`. The HDR histogram beside them answers quantiles (p50, p99, ...) with
/// `significant_figures` of precision between `resolution` and `max`; values outside that
/// range are clamped for quantiles only. Its memory grows with
/// `log2(max / resolution)` and `10^significant_figures`; the presets keep it near 14 KiB.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramOptions {
    buckets: Vec<f64>,
    resolution: f64,
    max: f64,
    significant_figures: u8,
}

impl HistogramOptions {
    /// Durations in seconds: 5 ms to 10 min buckets, 1 µs resolution up to 1 hour.
    pub fn seconds() -> Self {
        HistogramOptions {
            buckets: vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                300.0, 600.0,
            ],
            resolution: 1e-6,
            max: 3600.0,
            significant_figures: 2,
        }
    }

    /// Durations in milliseconds: the [`seconds`](Self::seconds) layout scaled by 1,000.
    pub fn milliseconds() -> Self {
        let seconds = Self::seconds();
        HistogramOptions {
            buckets: seconds.buckets.iter().map(|b| b * 1e3).collect(),
            resolution: 1e-3,
            max: 3.6e6,
            significant_figures: 2,
        }
    }

    /// Sizes in bytes: 64 B to 64 MiB by powers of 4, up to 1 TiB.
    pub fn bytes() -> Self {
        HistogramOptions {
            buckets: exponential(64.0, 4.0, 11),
            resolution: 1.0,
            max: (1u64 << 40) as f64,
            significant_figures: 2,
        }
    }

    /// Token counts: 100 to 1,000,000 tokens, up to 100 million.
    pub fn tokens() -> Self {
        HistogramOptions {
            buckets: vec![
                100.0, 500.0, 1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6,
            ],
            resolution: 1.0,
            max: 1e8,
            significant_figures: 2,
        }
    }

    /// Ratios in [0, 1]: ten linear buckets of 0.1.
    pub fn ratio() -> Self {
        HistogramOptions {
            buckets: (1..=10).map(|i| f64::from(i) / 10.0).collect(),
            resolution: 1e-4,
            max: 100.0,
            significant_figures: 2,
        }
    }

    /// Prometheus' default buckets (0.005 to 10) for values without a known unit.
    pub fn unitless() -> Self {
        HistogramOptions {
            buckets: vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
            resolution: 1e-3,
            max: 1e9,
            significant_figures: 2,
        }
    }

    /// The preset for a family unit: `seconds`, `milliseconds`, `bytes`, `tokens`, `ratio`,
    /// or [`unitless`](Self::unitless) for anything else.
    pub fn for_unit(unit: &str) -> Self {
        match unit {
            "seconds" => Self::seconds(),
            "milliseconds" => Self::milliseconds(),
            "bytes" => Self::bytes(),
            "tokens" => Self::tokens(),
            "ratio" => Self::ratio(),
            _ => Self::unitless(),
        }
    }

    /// Replaces the bucket upper bounds (finite, strictly increasing; `+Inf` is implicit).
    pub fn buckets(mut self, bounds: impl Into<Vec<f64>>) -> Self {
        self.buckets = bounds.into();
        self
    }

    /// Replaces the buckets with `count` bounds `start, start*factor, start*factor^2, ...`.
    pub fn exponential_buckets(self, start: f64, factor: f64, count: usize) -> Self {
        self.buckets(exponential(start, factor, count))
    }

    /// The smallest value the HDR histogram tells apart from zero.
    pub fn resolution(mut self, resolution: f64) -> Self {
        self.resolution = resolution;
        self
    }

    /// The largest value the HDR histogram tracks; larger ones count as `max` for quantiles.
    pub fn max(mut self, max: f64) -> Self {
        self.max = max;
        self
    }

    /// Decimal digits of quantile precision, 1 to 5 (2 means within 1%).
    pub fn significant_figures(mut self, digits: u8) -> Self {
        self.significant_figures = digits;
        self
    }

    /// Checks the options and fixes them into a layout.
    pub(crate) fn layout(&self, name: &str, unit: &str) -> Result<HistogramLayout, MetricError> {
        let invalid = |reason| MetricError::InvalidHistogram {
            name: name.to_owned(),
            reason,
        };
        if self.buckets.iter().any(|b| !b.is_finite()) {
            return Err(invalid("bucket bounds must be finite (+Inf is implicit)"));
        }
        if self.buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid("bucket bounds must be strictly increasing"));
        }
        if !(self.resolution.is_finite() && self.resolution > 0.0) {
            return Err(invalid("resolution must be finite and positive"));
        }
        let high = self.max / self.resolution;
        if !(high.is_finite() && (2.0..=(1u64 << 62) as f64).contains(&high)) {
            return Err(invalid("max / resolution must lie in [2, 2^62]"));
        }
        if !(1..=5).contains(&self.significant_figures) {
            return Err(invalid("significant figures must be 1 to 5"));
        }
        let empty =
            hdrhistogram::Histogram::new_with_bounds(1, high as u64, self.significant_figures)
                .map_err(|_| invalid("HDR histogram cannot track this range"))?;
        let per_second = match unit {
            "milliseconds" => 1e3,
            "microseconds" => 1e6,
            "nanoseconds" => 1e9,
            _ => 1.0,
        };
        Ok(HistogramLayout {
            bounds: self.buckets.clone().into_boxed_slice(),
            scale: 1.0 / self.resolution,
            empty,
            units_per_second: per_second,
            nan_dropped: AtomicU64::new(0),
        })
    }
}

impl Default for HistogramOptions {
    fn default() -> Self {
        Self::unitless()
    }
}

fn exponential(start: f64, factor: f64, count: usize) -> Vec<f64> {
    std::iter::successors(Some(start), |b| Some(b * factor))
        .take(count)
        .collect()
}

/// A family's fixed histogram layout, shared by its series.
#[derive(Debug)]
pub struct HistogramLayout {
    bounds: Box<[f64]>,
    scale: f64,
    /// Cloned into each new series.
    empty: hdrhistogram::Histogram<u32>,
    units_per_second: f64,
    /// NaN observations refused, counted for the self-metrics.
    pub(crate) nan_dropped: AtomicU64,
}

impl HistogramLayout {
    #[inline]
    fn bucket_index(&self, value: f64) -> usize {
        self.bounds.partition_point(|bound| *bound < value)
    }
}

/// A histogram's storage: everything under one uncontended lock, so a scrape sees a
/// consistent state (`_count` always equals the `+Inf` bucket).
#[derive(Debug)]
pub struct HistogramCell {
    layout: Arc<HistogramLayout>,
    state: Mutex<HistogramState>,
}

#[derive(Debug)]
struct HistogramState {
    counts: Box<[u64]>,
    sum: f64,
    count: u64,
    hdr: hdrhistogram::Histogram<u32>,
}

impl HistogramCell {
    #[inline]
    pub(crate) fn observe(&self, value: f64) {
        if value.is_nan() {
            self.layout.nan_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let bucket = self.layout.bucket_index(value);
        // Saturating cast: negative values become 0, huge ones u64::MAX, clamped by HDR.
        let scaled = (value * self.layout.scale) as u64;
        let mut state = self.state.lock();
        state.counts[bucket] += 1;
        state.sum += value;
        state.count += 1;
        state.hdr.saturating_record(scaled);
    }

    #[inline]
    pub(crate) fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64() * self.layout.units_per_second);
    }

    fn quantile(&self, q: f64) -> Option<f64> {
        let state = self.state.lock();
        (state.count > 0).then(|| state.hdr.value_at_quantile(q) as f64 / self.layout.scale)
    }
}

/// The usual quantiles of a histogram series, in the family's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// A handle on one histogram series.
#[derive(Debug, Clone)]
pub struct Histogram {
    series: Arc<Series<HistogramCell>>,
}

impl Histogram {
    /// Records one observation, in the family's unit. NaN is refused and counted.
    #[inline]
    pub fn observe(&self, value: f64) {
        self.series.cell.observe(value);
    }

    /// Records a duration, converted to the family's unit (seconds unless the family's unit
    /// is `milliseconds`, `microseconds` or `nanoseconds`).
    #[inline]
    pub fn observe_duration(&self, duration: Duration) {
        self.series.cell.observe_duration(duration);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.series.cell.state.lock().count
    }

    /// Sum of observations.
    pub fn sum(&self) -> f64 {
        self.series.cell.state.lock().sum
    }

    /// The value at quantile `q` (0 to 1) within the HDR precision, or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.series.cell.quantile(q)
    }

    /// p50, p90, p95 and p99, or `None` when empty.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let cell = &self.series.cell;
        let state = cell.state.lock();
        let at = |q| state.hdr.value_at_quantile(q) as f64 / cell.layout.scale;
        (state.count > 0).then(|| Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
        })
    }
}

impl Sealed for Histogram {}

impl Metric for Histogram {
    type Cell = HistogramCell;
    type Layout = Arc<HistogramLayout>;
    const KIND: MetricKind = MetricKind::Histogram;

    fn new_cell(layout: &Arc<HistogramLayout>) -> HistogramCell {
        HistogramCell {
            layout: layout.clone(),
            state: Mutex::new(HistogramState {
                counts: vec![0; layout.bounds.len() + 1].into_boxed_slice(),
                sum: 0.0,
                count: 0,
                hdr: layout.empty.clone(),
            }),
        }
    }

    fn from_series(series: Arc<Series<HistogramCell>>) -> Self {
        Histogram { series }
    }

    fn read<'a>(
        cell: &HistogramCell,
        layout: &'a Arc<HistogramLayout>,
        scratch: &'a mut Vec<u64>,
    ) -> Value<'a> {
        let state = cell.state.lock();
        scratch.clear();
        scratch.extend_from_slice(&state.counts);
        let (sum, count) = (state.sum, state.count);
        drop(state);
        Value::Histogram(HistogramValue::new(&layout.bounds, scratch, sum, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(options: HistogramOptions) -> HistogramCell {
        Histogram::new_cell(&Arc::new(options.layout("h", "").unwrap()))
    }

    #[test]
    fn buckets_are_exact_at_their_bounds() {
        let h = cell(HistogramOptions::unitless().buckets([1.0, 2.0]));
        for v in [0.5, 1.0, 1.0000001, 2.0, 2.5, f64::INFINITY, -3.0] {
            h.observe(v);
        }
        let state = h.state.lock();
        assert_eq!(&*state.counts, &[3, 2, 2]);
        assert_eq!(state.count, 7);
    }

    #[test]
    fn nan_is_refused_and_counted() {
        let h = cell(HistogramOptions::seconds());
        h.observe(f64::NAN);
        assert_eq!(h.state.lock().count, 0);
        assert_eq!(h.layout.nan_dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn quantiles_are_within_hdr_precision() {
        let h = cell(HistogramOptions::seconds());
        for ms in 1..=1000 {
            h.observe(f64::from(ms) / 1e3);
        }
        for (q, expected) in [(0.5, 0.5), (0.95, 0.95), (0.99, 0.99)] {
            let got = h.quantile(q).unwrap();
            assert!((got - expected).abs() / expected < 0.01, "q{q}: {got}");
        }
        assert_eq!(cell(HistogramOptions::seconds()).quantile(0.5), None);
    }

    #[test]
    fn invalid_options_are_typed_errors() {
        for options in [
            HistogramOptions::seconds().buckets([1.0, 1.0]),
            HistogramOptions::seconds().buckets([2.0, 1.0]),
            HistogramOptions::seconds().buckets([1.0, f64::INFINITY]),
            HistogramOptions::seconds().resolution(0.0),
            HistogramOptions::seconds().max(1e-6),
            HistogramOptions::seconds().significant_figures(0),
            HistogramOptions::seconds().significant_figures(6),
        ] {
            assert!(matches!(
                options.layout("h", ""),
                Err(MetricError::InvalidHistogram { .. })
            ));
        }
    }
}

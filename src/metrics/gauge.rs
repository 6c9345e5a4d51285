//! Gauges: `f64` values that go up and down.

use super::series::{Metric, Series, sealed::Sealed};
use lookout_export::{MetricKind, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A handle on one gauge series. `set` is one atomic store; `add` a compare-and-swap loop.
#[derive(Debug, Clone)]
pub struct Gauge {
    series: Arc<Series<GaugeCell>>,
}

/// A gauge's storage: the bits of an `f64`.
#[derive(Debug)]
pub struct GaugeCell(AtomicU64);

impl Default for GaugeCell {
    fn default() -> Self {
        GaugeCell(AtomicU64::new(0f64.to_bits()))
    }
}

impl GaugeCell {
    #[inline]
    pub(crate) fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn add(&self, delta: f64) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        self.series.cell.set(value);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.series.cell.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.series.cell.add(-1.0);
    }

    /// Adds `delta` (negative to subtract).
    #[inline]
    pub fn add(&self, delta: f64) {
        self.series.cell.add(delta);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.series.cell.get()
    }
}

impl Sealed for Gauge {}

impl Metric for Gauge {
    type Cell = GaugeCell;
    type Layout = ();
    const KIND: MetricKind = MetricKind::Gauge;

    fn new_cell(_: &()) -> GaugeCell {
        GaugeCell::default()
    }

    fn from_series(series: Arc<Series<GaugeCell>>) -> Self {
        Gauge { series }
    }

    fn read<'a>(cell: &GaugeCell, _: &'a (), _: &'a mut Vec<u64>) -> Value<'a> {
        Value::Gauge(cell.get())
    }
}

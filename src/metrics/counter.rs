//! Counters: monotonic `u64` totals.

use super::series::{sealed::Sealed, Metric, Series};
use lookout_export::{MetricKind, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A handle on one counter series. Cloning is cheap; every operation is one atomic op.
#[derive(Debug, Clone)]
pub struct Counter {
    series: Arc<Series<CounterCell>>,
}

/// A counter's storage.
#[derive(Debug, Default)]
pub struct CounterCell(AtomicU64);

impl CounterCell {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.series.cell.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.series.cell.add(n);
    }

    /// The current total.
    pub fn get(&self) -> u64 {
        self.series.cell.get()
    }
}

impl Sealed for Counter {}

impl Metric for Counter {
    type Cell = CounterCell;
    type Layout = ();
    const KIND: MetricKind = MetricKind::Counter;

    fn new_cell(_: &()) -> CounterCell {
        CounterCell::default()
    }

    fn from_series(series: Arc<Series<CounterCell>>) -> Self {
        Counter { series }
    }

    fn read<'a>(cell: &CounterCell, _: &'a (), _: &'a mut Vec<u64>) -> Value<'a> {
        Value::Counter(cell.get())
    }
}

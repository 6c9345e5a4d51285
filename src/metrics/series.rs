//! One labelled series, and the trait tying a handle type to its storage.

use super::labels::LabelValues;
use lookout_export::{MetricKind, Value};
use std::sync::Arc;

/// A series: its label values, their hash, and the cell its measurements land in.
#[derive(Debug)]
pub struct Series<C> {
    pub(crate) values: LabelValues,
    pub(crate) hash: u64,
    pub(crate) cell: C,
}

/// A metric type: the handle users hold ([`Counter`](super::Counter),
/// [`Gauge`](super::Gauge), [`Histogram`](super::Histogram)) and its per-series storage.
///
/// Sealed: the registry knows how to export exactly these types.
pub trait Metric: Clone + sealed::Sealed + Send + Sync + 'static {
    /// Per-series storage.
    #[doc(hidden)]
    type Cell: Send + Sync + 'static;
    /// Per-family settings every cell is built from.
    #[doc(hidden)]
    type Layout: Send + Sync + 'static;
    /// The exported type.
    #[doc(hidden)]
    const KIND: MetricKind;
    /// A fresh cell.
    #[doc(hidden)]
    fn new_cell(layout: &Self::Layout) -> Self::Cell;
    /// A handle on a resolved series.
    #[doc(hidden)]
    fn from_series(series: Arc<Series<Self::Cell>>) -> Self;
    /// Reads the cell for export; `scratch` is reused between calls.
    #[doc(hidden)]
    fn read<'a>(
        cell: &Self::Cell,
        layout: &'a Self::Layout,
        scratch: &'a mut Vec<u64>,
    ) -> Value<'a>;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

//! The metrics registry: counters, gauges and HDR histograms in labelled families.
//!
//! ```
//! use lookout::metrics::{Descriptor, Registry};
//! let registry = Registry::new();
//! let duration = registry
//!     .histogram(Descriptor::new("task_duration_seconds", "Task duration").unit("seconds"))
//!     .unwrap()
//!     .get(&[])
//!     .unwrap();
//! duration.observe(0.25);
//! assert_eq!(duration.count(), 1);
//! ```

mod counter;
mod descriptor;
mod error;
mod family;
mod gauge;
mod histogram;
mod labels;
mod name;
mod registry;
mod series;

pub use counter::Counter;
pub use descriptor::Descriptor;
pub use error::MetricError;
pub use family::Family;
pub use gauge::Gauge;
pub use histogram::{Histogram, HistogramOptions, Percentiles};
pub use name::OVERFLOW_LABEL;
pub use registry::{
    DEFAULT_CARDINALITY_LIMIT, DROPPED_METRIC, OVERFLOW_METRIC, Registry, SERIES_METRIC,
};
pub use series::Metric;

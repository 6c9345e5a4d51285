//! The contract between Lookout's engine and its exporters.
//!
//! An exporter never sees the engine's internals. It receives metric data through
//! [`MetricSource::collect`], which walks every family and series and hands each one,
//! borrowed, to a [`MetricVisitor`]. Nothing is copied or allocated on the way: an
//! encoder writes straight from the registry into its output buffer.
//!
//! Finished spans arrive as [`FinishedSpan`]s, identified by [`TraceId`] and [`SpanId`],
//! each with the [`Resource`] (the process) it came from.
//!
//! A push exporter implements [`Exporter`]: it encodes batches of spans or metrics and
//! sends them once per call; Lookout's pipeline batches, retries what
//! [`ExportError::is_retryable`], counts and isolates it.
//!
//! This crate has no dependencies, so a third party implements an exporter against it
//! alone, exactly as Lookout's own exporters do.
//!
//! ```
//! use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value};
//!
//! /// A source with one counter family and one series.
//! struct Fixed;
//! impl MetricSource for Fixed {
//!     fn collect(&self, visitor: &mut dyn MetricVisitor) {
//!         visitor.visit_family(&FamilyInfo::new("jobs", "Jobs run", "", MetricKind::Counter));
//!         visitor.visit_series(&[("queue", "default")], Value::Counter(3));
//!     }
//! }
//!
//! /// An exporter that sums every counter it is shown.
//! #[derive(Default)]
//! struct Total(u64);
//! impl MetricVisitor for Total {
//!     fn visit_family(&mut self, _family: &FamilyInfo<'_>) {}
//!     fn visit_series(&mut self, _labels: &[(&str, &str)], value: Value<'_>) {
//!         if let Value::Counter(n) = value {
//!             self.0 += n;
//!         }
//!     }
//! }
//!
//! let mut total = Total::default();
//! Fixed.collect(&mut total);
//! assert_eq!(total.0, 3);
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod calendar;
mod exporter;
mod ids;
mod key_values;
mod metric;
mod resource;
mod span;
#[cfg(feature = "testing")]
pub mod testing;

pub use exporter::{Encoded, ExportError, Exporter, MetricsBatch, parse_retry_after};
pub use ids::{SpanId, TraceFlags, TraceId, parse_lower_hex, write_lower_hex};
pub use key_values::{KeyValueError, parse_key_values};
pub use metric::{FamilyInfo, HistogramValue, MetricKind, MetricSource, MetricVisitor, Value};
pub use resource::{Resource, SERVICE_NAME, host_name};
pub use span::{AttributeValue, Event, FinishedSpan, KeyValue, Link, SpanKind, Status};

//! Lookout's query engine (seed 003's `DashboardData`): time-series answers from the
//! metric points in the store. [`functions`] holds the calculations on a series of
//! points (buckets, percentiles, summaries, moving averages, anomalies, rates); [`query`]
//! reads a metric's series from the store, filtered by labels and time, and buckets them;
//! [`bridge`] is seed 004's record and metrics API with its codes; [`diff`] compares
//! the executions of two commits or time windows, with [`significance`] tests and
//! [`cost`]s from token usage; [`activity`] sums up what agents did since a time.
//!
//! ```
//! use lookout_query::functions::{percentile, summarize, Point};
//!
//! let points: Vec<Point> = (1..=100).map(|i| Point::new(i, i as f64)).collect();
//! let summary = summarize(&points).unwrap();
//! assert_eq!((summary.count, summary.min, summary.max, summary.avg), (100, 1.0, 100.0, 50.5));
//! // Linear interpolation between closest ranks: 1 + 0.95 * 99 = 95.05.
//! assert!((summary.p95 - 95.05).abs() < 1e-9);
//! assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod activity;
pub mod bridge;
pub mod cost;
pub mod diff;
pub mod functions;
pub mod live;
pub mod monitors;
pub mod query;
pub mod significance;

pub use functions::{Aggregation, Point};
pub use query::{Query, QueryError, SeriesResult, Source};

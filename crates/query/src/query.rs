//! Seed 003's `query({ metric, labels, range, aggregation, interval })` over the metric
//! points in the store: the metric's series whose labels match, each as one value per
//! interval bucket (aligned to the Unix epoch; buckets without points left out).

use crate::functions::{Aggregation, Point, bucket_start};
use lookout_store::metrics;
use lookout_store::rusqlite::{self, Connection};
use std::collections::BTreeMap;

/// The most buckets one series of an answer may have.
pub const MAX_BUCKETS: i64 = 100_000;

/// What to read: a metric, label values it must have, a time range and how to bucket it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Query {
    /// The metric's name.
    pub metric: String,
    /// Labels a series must have, with these values (others may be present).
    pub labels: BTreeMap<String, String>,
    /// From (inclusive), Unix nanoseconds.
    pub from: i64,
    /// Until (exclusive), Unix nanoseconds.
    pub until: i64,
    /// How a bucket's points become its value.
    pub aggregation: Aggregation,
    /// The bucket width in nanoseconds.
    pub interval: i64,
}

impl Query {
    /// A query of `metric` over `[from, until)` in buckets of `interval` nanoseconds.
    pub fn new(
        metric: &str,
        from: i64,
        until: i64,
        aggregation: Aggregation,
        interval: i64,
    ) -> Query {
        Query {
            metric: metric.to_owned(),
            labels: BTreeMap::new(),
            from,
            until,
            aggregation,
            interval,
        }
    }

    /// Only series with label `name` = `value`.
    pub fn label(mut self, name: &str, value: &str) -> Query {
        self.labels.insert(name.to_owned(), value.to_owned());
        self
    }
}

/// One series of an answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SeriesResult {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// `counter`, `gauge`, ...
    pub kind: String,
    /// One point per bucket with points: the bucket's start and its value.
    pub points: Vec<Point>,
}

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The range ends before it starts.
    #[error("the range ends before it starts")]
    Range,
    /// The interval is not positive, or makes more than [`MAX_BUCKETS`] buckets.
    #[error("the interval must be positive and make at most {MAX_BUCKETS} buckets")]
    Interval,
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[from] rusqlite::Error),
}

/// Answers `query` from the store behind `conn`: every matching series, in label order.
pub fn run(conn: &Connection, query: &Query) -> Result<Vec<SeriesResult>, QueryError> {
    if query.until < query.from {
        return Err(QueryError::Range);
    }
    let span = i128::from(query.until) - i128::from(query.from);
    if query.interval <= 0 || span / i128::from(query.interval) > i128::from(MAX_BUCKETS) {
        return Err(QueryError::Interval);
    }
    let series = metrics::series(conn, &query.metric, &query.labels)?;
    let ids: Vec<i64> = series.iter().map(|s| s.series_id).collect();
    let mut buckets: Vec<Buckets> = series
        .iter()
        .map(|_| Buckets::new(query.aggregation))
        .collect();
    let position: std::collections::HashMap<i64, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    metrics::for_each_point_of(conn, &ids, query.from, query.until, |id, time, value| {
        if let Some(i) = position.get(&id) {
            buckets[*i].add(bucket_start(time, query.interval), value);
        }
    })?;
    let answer = series
        .into_iter()
        .zip(buckets)
        .map(|(series, buckets)| SeriesResult {
            labels: series.labels,
            kind: series.kind,
            points: buckets.finish(),
        })
        .collect();
    Ok(answer)
}

/// Folds points arriving in time order into one value per bucket: running sums for the
/// plain aggregations, the bucket's values for percentiles.
struct Buckets {
    aggregation: Aggregation,
    done: Vec<Point>,
    start: Option<i64>,
    values: Vec<f64>,
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
}

impl Buckets {
    fn new(aggregation: Aggregation) -> Buckets {
        Buckets {
            aggregation,
            done: Vec::new(),
            start: None,
            values: Vec::new(),
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn add(&mut self, start: i64, value: f64) {
        if self.start != Some(start) {
            self.close();
            self.start = Some(start);
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if matches!(self.aggregation, Aggregation::Percentile(_)) {
            self.values.push(value);
        }
    }

    fn close(&mut self) {
        let Some(start) = self.start.take() else {
            return;
        };
        let n = self.count as f64;
        let value = match self.aggregation {
            Aggregation::Avg => Some(self.sum / n),
            Aggregation::Sum => Some(self.sum),
            Aggregation::Min => Some(self.min),
            Aggregation::Max => Some(self.max),
            Aggregation::Count => Some(n),
            Aggregation::Percentile(_) => self.aggregation.apply(&mut self.values),
        };
        if let Some(value) = value {
            self.done.push(Point::new(start, value));
        }
        self.values.clear();
        (self.count, self.sum, self.min, self.max) = (0, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    }

    fn finish(mut self) -> Vec<Point> {
        self.close();
        self.done
    }
}

/// The raw points of every series of `query.metric` matching `query.labels` in
/// `[query.from, query.until)`, each series in time order (its aggregation and interval
/// unused): for summaries and histograms over the points themselves.
pub fn points(conn: &Connection, query: &Query) -> Result<Vec<SeriesResult>, QueryError> {
    if query.until < query.from {
        return Err(QueryError::Range);
    }
    let mut answer = Vec::new();
    for series in metrics::series(conn, &query.metric, &query.labels)? {
        let mut points = Vec::new();
        metrics::for_each_point(
            conn,
            series.series_id,
            query.from,
            query.until,
            |time, value| {
                points.push(Point::new(time, value));
            },
        )?;
        answer.push(SeriesResult {
            labels: series.labels,
            kind: series.kind,
            points,
        });
    }
    Ok(answer)
}

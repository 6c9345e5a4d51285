//! Seed 003's `query({ metric, labels, range, aggregation, interval })` over the metric
//! points in the store: the metric's series whose labels match, each as one value per
//! interval bucket (aligned to the Unix epoch; buckets without points left out).

use crate::functions::{Aggregation, Bucket, Point, bucket_start};
use lookout_store::metrics;
use lookout_store::rusqlite::{self, Connection};
use std::collections::{BTreeMap, HashMap};

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
    let mut buckets: Vec<Buckets> = Vec::new();
    let series = read_points(conn, query, |i, time, value| {
        if buckets.len() <= i {
            buckets.resize_with(i + 1, || Buckets::new(query.aggregation));
        }
        buckets[i].add(bucket_start(time, query.interval), value);
    })?;
    buckets.resize_with(series.len(), || Buckets::new(query.aggregation));
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

/// Folds points arriving in time order into one value per bucket: a [`Bucket`]'s running
/// sums for the plain aggregations, the bucket's values for percentiles.
struct Buckets {
    aggregation: Aggregation,
    done: Vec<Point>,
    current: Option<Bucket>,
    values: Vec<f64>,
}

impl Buckets {
    fn new(aggregation: Aggregation) -> Buckets {
        Buckets {
            aggregation,
            done: Vec::new(),
            current: None,
            values: Vec::new(),
        }
    }

    fn add(&mut self, start: i64, value: f64) {
        if self.current.as_ref().is_none_or(|b| b.start != start) {
            self.close();
            self.current = Some(Bucket::new(start));
        }
        if let Some(bucket) = &mut self.current {
            bucket.add(value);
        }
        if matches!(self.aggregation, Aggregation::Percentile(_)) {
            self.values.push(value);
        }
    }

    fn close(&mut self) {
        let Some(bucket) = self.current.take() else {
            return;
        };
        let value = match self.aggregation {
            Aggregation::Percentile(_) => self.aggregation.apply(&mut self.values),
            plain => bucket.value(plain),
        };
        if let Some(value) = value {
            self.done.push(Point::new(bucket.start, value));
        }
        self.values.clear();
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
    let mut points: Vec<Vec<Point>> = Vec::new();
    let series = read_points(conn, query, |i, time, value| {
        if points.len() <= i {
            points.resize_with(i + 1, Vec::new);
        }
        points[i].push(Point::new(time, value));
    })?;
    points.resize_with(series.len(), Vec::new);
    Ok(series
        .into_iter()
        .zip(points)
        .map(|(series, points)| SeriesResult {
            labels: series.labels,
            kind: series.kind,
            points,
        })
        .collect())
}

/// The series `query` selects, in label order, after handing `f` every numeric point of
/// them in its range: `(the series' position, time, value)`, one series after another,
/// each in time order, read in one statement.
fn read_points(
    conn: &Connection,
    query: &Query,
    mut f: impl FnMut(usize, i64, f64),
) -> Result<Vec<metrics::StoredSeries>, QueryError> {
    let series = metrics::series(conn, &query.metric, &query.labels)?;
    let ids: Vec<i64> = series.iter().map(|s| s.series_id).collect();
    let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    metrics::for_each_point_of(conn, &ids, query.from, query.until, |id, time, value| {
        if let Some(i) = position.get(&id) {
            f(*i, time, value);
        }
    })?;
    Ok(series)
}

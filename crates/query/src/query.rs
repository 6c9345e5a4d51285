//! Seed 003's `query({ metric, labels, range, aggregation, interval })` over the metric
//! points in the store: the metric's series whose labels match, each as one value per
//! interval bucket (aligned to the Unix epoch; buckets without points left out).

use crate::functions::{Aggregation, Bucket, Point, bucket_start, histogram_quantile};
use lookout_store::MetricReads;
use lookout_store::metrics;
use lookout_store::rollups::{self, Rollup};
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
    /// Points or rollups.
    pub source: Source,
}

/// What a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Source {
    /// Hour rollups when the range and the interval are whole hours; minute rollups
    /// when they are whole minutes and the range starts before the oldest stored point
    /// (past the points' retention); the points otherwise (exact where they are kept),
    /// and for a counter's percentiles (its rollups keep no sketch).
    #[default]
    Auto,
    /// The points themselves: exact percentiles, only within the points' retention.
    Points,
    /// Rollups only ([`QueryError::NotWhole`] when the range or interval is not whole
    /// minutes): percentiles within [`rollups::RELATIVE_ERROR`].
    Rollups,
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
            source: Source::Auto,
        }
    }

    /// Read from `source`.
    pub fn source(mut self, source: Source) -> Query {
        self.source = source;
        self
    }

    /// The rollup width (seconds) this query of `series` reads, if it reads rollups
    /// (see [`Source`]): the widest whose multiples the range and interval are.
    fn rollup_width(
        &self,
        reads: &mut impl MetricReads,
        series: &[metrics::StoredSeries],
    ) -> Result<Option<i64>, QueryError> {
        if self.source == Source::Points {
            return Ok(None);
        }
        let whole = |width: i64| {
            let nanos = width * 1_000_000_000;
            [self.from, self.until, self.interval]
                .iter()
                .all(|t| t.rem_euclid(nanos) == 0)
        };
        let [minute, hour] = rollups::WIDTHS;
        // Counters' rollups keep no sketch: their percentiles come from the points.
        if self.source == Source::Auto
            && matches!(self.aggregation, Aggregation::Percentile(_))
            && series.iter().any(|s| rollups::is_counter(&s.kind))
        {
            return Ok(None);
        }
        Ok(match self.source {
            _ if whole(hour) => Some(hour),
            Source::Rollups if whole(minute) => Some(minute),
            Source::Rollups => return Err(QueryError::NotWhole),
            _ if whole(minute) && reads.oldest_point()?.is_none_or(|t| self.from < t) => {
                Some(minute)
            }
            _ => None,
        })
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
    /// Rollups were asked for a range or interval that is not whole minutes.
    #[error("rollups answer whole minutes: the range and interval must be multiples of 1m")]
    NotWhole,
    /// A histogram family was asked for something other than a percentile.
    #[error("a histogram family answers percentiles (p50, p95, ...)")]
    NotPercentile,
    /// The store could not be read.
    #[error("cannot read the store: {0}")]
    Store(#[from] lookout_store::ReadError),
}

impl From<lookout_store::rusqlite::Error> for QueryError {
    fn from(error: lookout_store::rusqlite::Error) -> QueryError {
        QueryError::Store(error.into())
    }
}

/// Answers `query` from an index (a SQLite connection, or a fleet's PostgreSQL reader):
/// every matching series with points in the range, in label order.
pub fn run(mut reads: impl MetricReads, query: &Query) -> Result<Vec<SeriesResult>, QueryError> {
    check(query)?;
    let series = reads.series(&query.metric, &query.labels)?;
    if let Some(width) = query.rollup_width(&mut reads, &series)? {
        return from_rollups(&mut reads, query, series, width);
    }
    let mut buckets: Vec<Buckets> = (0..series.len())
        .map(|_| Buckets::new(query.aggregation))
        .collect();
    read_points(&mut reads, query, &series, |i, time, value| {
        buckets[i].add(bucket_start(time, query.interval), value);
    })?;
    let answer = series
        .into_iter()
        .zip(buckets)
        .map(|(series, buckets)| SeriesResult {
            labels: series.labels,
            kind: series.kind,
            points: buckets.finish(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    Ok(answer)
}

/// Checks `query`'s range and interval.
fn check(query: &Query) -> Result<(), QueryError> {
    if query.until < query.from {
        return Err(QueryError::Range);
    }
    let span = i128::from(query.until) - i128::from(query.from);
    if query.interval <= 0 || span / i128::from(query.interval) > i128::from(MAX_BUCKETS) {
        return Err(QueryError::Interval);
    }
    Ok(())
}

/// [`run`] from the rollups of `width` seconds: each interval bucket merges the rollups
/// it holds.
fn from_rollups(
    reads: &mut impl MetricReads,
    query: &Query,
    series: Vec<metrics::StoredSeries>,
    width: i64,
) -> Result<Vec<SeriesResult>, QueryError> {
    let merged = merged_rollups(reads, &series, width, query, false)?;
    Ok(series
        .into_iter()
        .zip(merged)
        .map(|(series, buckets)| SeriesResult {
            labels: series.labels,
            kind: series.kind,
            points: buckets
                .iter()
                .filter_map(|r| Some(Point::new(r.start, value_of(r, query.aggregation)?)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect())
}

/// Per series of `series` (same order), its rollups of `width` in `query`'s range merged
/// into one per interval bucket, in time order (the sketches left out for a `histogram`
/// family's buckets, whose increases answer).
fn merged_rollups(
    reads: &mut impl MetricReads,
    series: &[metrics::StoredSeries],
    width: i64,
    query: &Query,
    histogram: bool,
) -> Result<Vec<Vec<Rollup>>, QueryError> {
    let ids: Vec<i64> = series.iter().map(|s| s.series_id).collect();
    let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut merged: Vec<Vec<Rollup>> = vec![Vec::new(); series.len()];
    let sketches = matches!(query.aggregation, Aggregation::Percentile(_)) && !histogram;
    let range = (query.from, query.until);
    reads.for_each_rollup_of(&ids, width, range, sketches, &mut |id, rollup| {
        let Some(buckets) = position.get(&id).map(|i| &mut merged[*i]) else {
            return;
        };
        let start = bucket_start(rollup.start, query.interval);
        match buckets.last_mut() {
            Some(last) if last.start == start => last.merge(&rollup),
            _ => {
                let mut bucket = rollup;
                bucket.start = start;
                buckets.push(bucket);
            }
        }
    })?;
    Ok(merged)
}

/// A merged rollup's value under `aggregation`.
fn value_of(rollup: &Rollup, aggregation: Aggregation) -> Option<f64> {
    if rollup.count == 0 {
        return None;
    }
    Some(match aggregation {
        Aggregation::Avg => rollup.sum / rollup.count as f64,
        Aggregation::Sum => rollup.sum,
        Aggregation::Min => rollup.min,
        Aggregation::Max => rollup.max,
        Aggregation::Count => rollup.count as f64,
        Aggregation::Percentile(thousandths) => rollup.quantile(f64::from(thousandths) / 1000.0)?,
    })
}

/// Percentiles of histogram family `query.metric` (its `{metric}_bucket` series, as the
/// store's exporter writes a registry histogram) per interval bucket, from the minute or
/// hour rollups' increases of each bucket, interpolated within a bucket as Prometheus'
/// `histogram_quantile` does: the answer lies in the same bucket as the exact percentile.
/// The range is widened to whole minutes; series are summed over their `le` and
/// `instance` labels (one answer per service and label set, not per process).
pub fn histogram_percentiles(
    mut reads: impl MetricReads,
    query: &Query,
) -> Result<Vec<SeriesResult>, QueryError> {
    let Aggregation::Percentile(thousandths) = query.aggregation else {
        return Err(QueryError::NotPercentile);
    };
    let minute = rollups::WIDTHS[0] * 1_000_000_000;
    let mut query = query.clone().source(Source::Rollups);
    query.from = bucket_start(query.from, minute);
    query.until = bucket_start(query.until.saturating_add(minute - 1), minute);
    query.interval = query.interval.max(minute) / minute * minute;
    check(&query)?;
    let series = reads.series(&format!("{}_bucket", query.metric), &query.labels)?;
    let width = query
        .rollup_width(&mut reads, &series)?
        .unwrap_or(rollups::WIDTHS[0]);
    let merged = merged_rollups(&mut reads, &series, width, &query, true)?;
    // Per label set without `le` and `instance`: per bucket start, per bound, the increase.
    type Bounds = BTreeMap<i64, Vec<(f64, f64)>>;
    let mut groups: BTreeMap<BTreeMap<String, String>, Bounds> = BTreeMap::new();
    for (series, buckets) in series.iter().zip(merged) {
        let Some(bound) = series.labels.get("le").and_then(|le| parse_bound(le)) else {
            continue;
        };
        let mut labels = series.labels.clone();
        labels.remove("le");
        labels.remove("instance");
        let times = groups.entry(labels).or_default();
        for rollup in buckets {
            times
                .entry(rollup.start)
                .or_default()
                .push((bound, rollup.increase));
        }
    }
    let q = f64::from(thousandths) / 1000.0;
    Ok(groups
        .into_iter()
        .map(|(labels, times)| SeriesResult {
            labels,
            kind: "histogram".into(),
            points: times
                .into_iter()
                .filter_map(|(start, bounds)| {
                    Some(Point::new(start, histogram_quantile(q, bounds)?))
                })
                .collect(),
        })
        .collect())
}

fn parse_bound(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
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
/// unused; series without points there left out): for summaries and histograms over the
/// points themselves.
pub fn points(mut reads: impl MetricReads, query: &Query) -> Result<Vec<SeriesResult>, QueryError> {
    if query.until < query.from {
        return Err(QueryError::Range);
    }
    let series = reads.series(&query.metric, &query.labels)?;
    let mut points: Vec<Vec<Point>> = vec![Vec::new(); series.len()];
    read_points(&mut reads, query, &series, |i, time, value| {
        points[i].push(Point::new(time, value));
    })?;
    Ok(series
        .into_iter()
        .zip(points)
        .map(|(series, points)| SeriesResult {
            labels: series.labels,
            kind: series.kind,
            points,
        })
        .filter(|s| !s.points.is_empty())
        .collect())
}

/// Hands `f` every numeric point of `series` in `query`'s range: `(the series'
/// position, time, value)`, one series after another, each in time order, read in one
/// statement.
fn read_points(
    reads: &mut impl MetricReads,
    query: &Query,
    series: &[metrics::StoredSeries],
    mut f: impl FnMut(usize, i64, f64),
) -> Result<(), QueryError> {
    let ids: Vec<i64> = series.iter().map(|s| s.series_id).collect();
    let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    reads.for_each_point_of(&ids, query.from, query.until, &mut |id, time, value| {
        if let Some(i) = position.get(&id) {
            f(*i, time, value);
        }
    })?;
    Ok(())
}

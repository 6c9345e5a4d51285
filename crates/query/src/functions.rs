//! Calculations on one series of points, as seed 003's `DashboardData` offers them.
//!
//! Percentiles are linear interpolations between closest ranks (Hyndman and Fan's
//! definition 7, the default of NumPy, R and spreadsheets' `PERCENTILE.INC`): for `n`
//! sorted values and quantile `q`, the rank `h = (n - 1) q` gives
//! `x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])`.

/// One observation: a time (Unix nanoseconds) and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix nanoseconds.
    pub time: i64,
    /// The value.
    pub value: f64,
}

impl Point {
    /// A point at `time` (Unix nanoseconds).
    pub fn new(time: i64, value: f64) -> Point {
        Point { time, value }
    }
}

/// How a bucket's points become one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// The mean.
    Avg,
    /// The sum.
    Sum,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// How many.
    Count,
    /// A percentile, in thousandths (`Percentile(950)` is p95), interpolated as the
    /// module says.
    Percentile(u16),
}

impl Aggregation {
    /// Parses `avg`, `sum`, `min`, `max`, `count`, `p50`, `p95`, `p99`, `p99.9` (any
    /// `pN` with 0 <= N <= 100 and at most one decimal).
    pub fn parse(text: &str) -> Option<Aggregation> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "avg" | "mean" => Aggregation::Avg,
            "sum" => Aggregation::Sum,
            "min" => Aggregation::Min,
            "max" => Aggregation::Max,
            "count" => Aggregation::Count,
            other => {
                let number: f64 = other.strip_prefix('p')?.parse().ok()?;
                let thousandths = (number * 10.0).round();
                if !(0.0..=1000.0).contains(&thousandths)
                    || (number * 10.0 - thousandths).abs() > 1e-9
                {
                    return None;
                }
                Aggregation::Percentile(thousandths as u16)
            }
        })
    }

    /// The value of `values` (any order; reordered for percentiles); `None` when empty.
    pub fn apply(self, values: &mut [f64]) -> Option<f64> {
        if let Aggregation::Percentile(thousandths) = self {
            values.sort_unstable_by(f64::total_cmp);
            return percentile(values, f64::from(thousandths) / 1000.0);
        }
        let mut bucket = Bucket::new(0);
        for value in values.iter() {
            bucket.add(*value);
        }
        bucket.value(self)
    }
}

/// Percentile `q` (0 to 1) of `sorted` (ascending), interpolated as the module says;
/// `None` when empty or `q` is outside 0..=1.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = (sorted.len() - 1) as f64 * q;
    let below = rank.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = rank - below as f64;
    if fraction == 0.0 {
        return Some(sorted[below]);
    }
    // Weighted, not `a + f (b - a)`: no overflow between ±f64::MAX, no 0 x infinity.
    Some((1.0 - fraction) * sorted[below] + fraction * sorted[above])
}

/// Seed 003's `summarize`: count, min, max, mean and p50/p95/p99.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many points.
    pub count: usize,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The mean.
    pub avg: f64,
    /// The median.
    pub p50: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
}

/// The summary of `points`; `None` when there are none.
pub fn summarize(points: &[Point]) -> Option<Summary> {
    let mut values: Vec<f64> = points.iter().map(|p| p.value).collect();
    values.sort_unstable_by(f64::total_cmp);
    let at = |q| percentile(&values, q);
    Some(Summary {
        count: values.len(),
        min: *values.first()?,
        max: *values.last()?,
        avg: values.iter().sum::<f64>() / values.len() as f64,
        p50: at(0.5)?,
        p95: at(0.95)?,
        p99: at(0.99)?,
    })
}

/// One interval of [`aggregate`]: the points whose time falls in
/// `[start, start + interval)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Unix nanoseconds; a multiple of the interval.
    pub start: i64,
    /// How many points.
    pub count: usize,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Bucket {
    /// An empty bucket starting at `start`.
    pub fn new(start: i64) -> Bucket {
        Bucket {
            start,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Counts `value` in.
    pub fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// The mean of its points.
    pub fn avg(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// Its value under `aggregation`; `None` for percentiles (they need the values) and
    /// for an empty bucket.
    pub fn value(&self, aggregation: Aggregation) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        match aggregation {
            Aggregation::Avg => Some(self.avg()),
            Aggregation::Sum => Some(self.sum),
            Aggregation::Min => Some(self.min),
            Aggregation::Max => Some(self.max),
            Aggregation::Count => Some(self.count as f64),
            Aggregation::Percentile(_) => None,
        }
    }
}

/// Seed 003's `aggregate(metrics, interval)`: `points` in buckets of `interval`
/// nanoseconds aligned to the Unix epoch, in time order. Buckets without points are left
/// out (a gap stays a gap). `points` in any order; an `interval` of 0 is one bucket per
/// distinct time.
pub fn aggregate(points: &[Point], interval: i64) -> Vec<Bucket> {
    let mut buckets: std::collections::BTreeMap<i64, Bucket> = Default::default();
    for point in points {
        let start = bucket_start(point.time, interval);
        buckets
            .entry(start)
            .or_insert_with(|| Bucket::new(start))
            .add(point.value);
    }
    buckets.into_values().collect()
}

/// The start of the bucket of `interval` nanoseconds that holds `time`.
pub fn bucket_start(time: i64, interval: i64) -> i64 {
    if interval <= 0 {
        return time;
    }
    time.div_euclid(interval)
        .checked_mul(interval)
        .unwrap_or(i64::MIN)
}

/// Seed 003's `movingAverage(metrics, window)`: each point's value replaced by the mean
/// of it and the `window - 1` points before it (fewer at the start), in time order.
pub fn moving_average(points: &[Point], window: usize) -> Vec<Point> {
    let window = window.max(1);
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.time);
    let mut sum = 0.0;
    (0..sorted.len())
        .map(|i| {
            sum += sorted[i].value;
            if i >= window {
                sum -= sorted[i - window].value;
            }
            let n = (i + 1).min(window) as f64;
            Point::new(sorted[i].time, sum / n)
        })
        .collect()
}

/// Seed 003's `detectAnomalies(metrics, stdDevs)`: the points farther than `std_devs`
/// standard deviations (of the population: all points) from the mean. None when the
/// values do not vary.
pub fn detect_anomalies(points: &[Point], std_devs: f64) -> Vec<Point> {
    if points.is_empty() {
        return Vec::new();
    }
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.value).sum::<f64>() / n;
    let variance = points.iter().map(|p| (p.value - mean).powi(2)).sum::<f64>() / n;
    let limit = std_devs * variance.sqrt();
    if limit == 0.0 {
        return Vec::new();
    }
    points
        .iter()
        .filter(|p| (p.value - mean).abs() > limit)
        .copied()
        .collect()
}

/// Seed 003's `calculateRate(metrics, interval)` for a counter: per bucket of
/// `interval` nanoseconds (aligned to the epoch), the increase per second over the time
/// the samples cover in it. The increase between two samples is their difference, or
/// the later value when it is lower (the counter restarted from zero, as PromQL counts a
/// reset), spread evenly over the time between them, so a gap spans its buckets and a
/// bucket only partly covered (the one still open) is not diluted. Unlike PromQL's
/// `rate`, nothing is extrapolated past the first and last samples. Buckets no pair of
/// samples covers are left out; an `interval` of 0 or less is one bucket.
pub fn calculate_rate(points: &[Point], interval: i64) -> Vec<Point> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.time);
    // Per bucket start: (increase, nanoseconds covered).
    let mut buckets: std::collections::BTreeMap<i64, (f64, i64)> = Default::default();
    for pair in sorted.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        let span = after.time - before.time;
        if span <= 0 {
            continue;
        }
        let increase = if after.value >= before.value {
            after.value - before.value
        } else {
            after.value
        };
        let mut from = before.time;
        while from < after.time {
            let start = bucket_start(from, interval);
            let end = if interval > 0 {
                start.saturating_add(interval).min(after.time)
            } else {
                after.time
            };
            let covered = end - from;
            let bucket = buckets.entry(start).or_insert((0.0, 0));
            bucket.0 += increase * covered as f64 / span as f64;
            bucket.1 += covered;
            from = end;
        }
    }
    buckets
        .into_iter()
        .map(|(start, (increase, covered))| Point::new(start, increase / (covered as f64 / 1e9)))
        .collect()
}

/// Prometheus' `histogram_quantile`: quantile `q` (0 to 1) of a histogram given as
/// cumulative `(upper bound, count)` pairs (any order; counts of one bound summed): the
/// rank's bucket, interpolated linearly from its lower bound (0 for the first bucket);
/// in the `+Inf` bucket, the highest finite bound. `None` without observations.
pub fn histogram_quantile(q: f64, mut bounds: Vec<(f64, f64)>) -> Option<f64> {
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    bounds.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    // Cumulative counts may dip where processes ended between exports: keep them rising.
    let mut highest = 0.0_f64;
    for bound in &mut bounds {
        highest = highest.max(bound.1);
        bound.1 = highest;
    }
    let total = bounds.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let i = bounds.iter().position(|(_, count)| *count >= rank)?;
    let (upper, count) = bounds[i];
    if upper.is_infinite() {
        return bounds[..i].last().map(|(bound, _)| *bound);
    }
    let (lower, below) = match i {
        0 if upper > 0.0 => (0.0, 0.0),
        0 => return Some(upper),
        _ => bounds[i - 1],
    };
    if count == below {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / (count - below))
}

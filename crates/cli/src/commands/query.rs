//! `lookout query` and `lookout stats`: seed 003's `/telemetry query` and `/telemetry
//! stats` over the metric points in the store.

use crate::args::{QueryArgs, QuerySource, SeriesArgs, StatsArgs};
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::store::{rfc3339_of_nanos, unix_nanos};
use lookout_query::functions::{self, Point};
use lookout_query::{Aggregation, Query, SeriesResult, Source, query};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MINUTE: i64 = 60_000_000_000;
/// The range when none is given.
const DEFAULT_SINCE: Duration = Duration::from_secs(3600);
/// The most buckets a sparkline shows (the newest).
const SPARK_WIDTH: usize = 120;
/// Bars of the terminal histogram of `stats`.
const HISTOGRAM_BINS: usize = 10;
/// Width of its longest bar.
const BAR_WIDTH: usize = 40;

pub(super) fn run_query(args: QueryArgs, settings: &Settings) -> Result<(), CliError> {
    let aggregation = Aggregation::parse(&args.agg)
        .ok_or_else(|| CliError::InvalidAggregation(args.agg.clone()))?;
    let mut query = series_query(&args.series, aggregation).source(match args.source {
        QuerySource::Auto => Source::Auto,
        QuerySource::Points => Source::Points,
        QuerySource::Rollups => Source::Rollups,
    });
    query.interval = args.interval.as_nanos().min(i64::MAX as u128) as i64;
    if args.series.from.is_none() && args.series.until.is_none() && query.interval % MINUTE == 0 {
        // A range relative to now in whole intervals: whole first and last buckets, which
        // the rollups answer.
        query.from = functions::bucket_start(query.from, query.interval);
        query.until =
            functions::bucket_start(query.until, query.interval).saturating_add(query.interval);
    }
    let answer = match &args.fleet.store_url {
        Some(url) => super::on_fleet(url, |fleet| answer(fleet, &query).map_err(CliError::Query))?,
        None => read(|conn| answer(conn, &query))?,
    };
    if settings.json {
        let series: Vec<Value> = answer.iter().map(|s| series_json(s, &args.agg)).collect();
        println!("{}", Value::from(series));
        return Ok(());
    }
    if answer.is_empty() {
        println!("no series of {} match", query.metric);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header([
        "series",
        "buckets",
        "min",
        "max",
        "last",
        &format!("{} per {}", args.agg, human_age(args.interval)),
    ]);
    for series in &answer {
        let values: Vec<f64> = series.points.iter().map(|p| p.value).collect();
        let number = |x: Option<f64>| {
            Cell::new(x.map(short).unwrap_or_default()).set_alignment(CellAlignment::Right)
        };
        table.add_row([
            Cell::new(labels_text(&series.labels)),
            Cell::new(values.len()).set_alignment(CellAlignment::Right),
            number(values.iter().copied().reduce(f64::min)),
            number(values.iter().copied().reduce(f64::max)),
            number(values.last().copied()),
            Cell::new(sparkline(
                &series.points,
                query.from,
                query.until,
                query.interval,
            )),
        ]);
    }
    println!("{table}");
    Ok(())
}

pub(super) fn run_stats(args: StatsArgs, settings: &Settings) -> Result<(), CliError> {
    let query = series_query(&args.series, Aggregation::Avg);
    let answer = read(|conn| query::points(conn, &query))?;
    let points: Vec<Point> = answer
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    let Some(summary) = functions::summarize(&points) else {
        if settings.json {
            println!(
                "{}",
                json!({"metric": query.metric, "series": answer.len(), "count": 0})
            );
        } else {
            println!(
                "no points of {} in the range ({} series match)",
                query.metric,
                answer.len()
            );
        }
        return Ok(());
    };
    if settings.json {
        println!(
            "{}",
            json!({
                "metric": query.metric, "series": answer.len(), "count": summary.count,
                "min": summary.min, "max": summary.max, "avg": summary.avg,
                "p50": summary.p50, "p95": summary.p95, "p99": summary.p99,
            })
        );
        return Ok(());
    }
    println!(
        "{}: {} points in {} series\n  min {}  avg {}  max {}\n  p50 {}  p95 {}  p99 {}\n",
        query.metric,
        summary.count,
        answer.len(),
        short(summary.min),
        short(summary.avg),
        short(summary.max),
        short(summary.p50),
        short(summary.p95),
        short(summary.p99)
    );
    print!("{}", histogram(&points, summary.min, summary.max));
    Ok(())
}

/// The series answering `query`; a histogram family (its `_bucket` series) answers
/// percentiles by its name.
pub(crate) fn answer(
    mut reads: impl lookout::store::MetricReads,
    query: &Query,
) -> Result<Vec<SeriesResult>, lookout_query::QueryError> {
    match query::run(&mut reads, query)? {
        empty if empty.is_empty() && matches!(query.aggregation, Aggregation::Percentile(_)) => {
            query::histogram_percentiles(&mut reads, query)
        }
        answer => Ok(answer),
    }
}

/// The query `args` describe (its interval set by the caller).
fn series_query(args: &SeriesArgs, aggregation: Aggregation) -> Query {
    let now = SystemTime::now();
    let until = args.until.unwrap_or(now);
    let from = args.from.unwrap_or_else(|| {
        until
            .checked_sub(args.since.unwrap_or(DEFAULT_SINCE))
            .unwrap_or(UNIX_EPOCH)
    });
    let mut query = Query::new(
        &args.name,
        unix_nanos(from),
        unix_nanos(until),
        aggregation,
        1,
    );
    for (key, value) in args.labels.iter().flat_map(|set| &set.0) {
        query = query.label(key, value);
    }
    query
}

/// `read` on the store's database; its errors as the CLI's.
fn read<T>(
    read: impl FnOnce(&lookout::store::rusqlite::Connection) -> Result<T, lookout_query::QueryError>,
) -> Result<T, CliError> {
    let store = super::store_config()?;
    let conn = super::open_store_reader(&store)?;
    read(&conn).map_err(CliError::Query)
}

/// A series as `--json` prints it.
pub(crate) fn series_json(series: &SeriesResult, aggregation: &str) -> Value {
    let points: Vec<Value> = series
        .points
        .iter()
        .map(|p| json!({"time": rfc3339_of_nanos(p.time), "value": p.value}))
        .collect();
    json!({"labels": series.labels, "kind": series.kind, "aggregation": aggregation, "points": points})
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// A number in at most 4 significant digits.
fn short(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let text = format!("{x:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

fn human_age(age: Duration) -> String {
    let seconds = age.as_secs();
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// One character per bucket of the range (its newest [`SPARK_WIDTH`] buckets), its
/// height the bucket's value between the series' smallest and largest; a bucket without
/// points is a space.
fn sparkline(points: &[Point], from: i64, until: i64, interval: i64) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let interval = interval.max(1);
    let last = functions::bucket_start(until, interval);
    let span = (i128::from(last) - i128::from(functions::bucket_start(from, interval)))
        / i128::from(interval);
    let buckets = (span + 1).clamp(1, SPARK_WIDTH as i128) as usize;
    let first = last - (buckets as i64 - 1) * interval;
    let points: Vec<&Point> = points.iter().filter(|p| p.time >= first).collect();
    let (low, high) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.value), hi.max(p.value))
        });
    let mut line = vec![' '; buckets];
    for point in points {
        let slot = ((point.time - first) / interval) as usize;
        let level = match high > low {
            true => ((point.value - low) / (high - low) * 7.0).round() as usize,
            false => 3,
        };
        if let Some(cell) = line.get_mut(slot) {
            *cell = LEVELS[level.min(7)];
        }
    }
    line.into_iter().collect()
}

/// The points' values in [`HISTOGRAM_BINS`] equal bins from `min` to `max`, a bar each.
fn histogram(points: &[Point], min: f64, max: f64) -> String {
    let width = (max - min) / HISTOGRAM_BINS as f64;
    let mut counts = [0usize; HISTOGRAM_BINS];
    for point in points {
        let bin = match width > 0.0 {
            true => (((point.value - min) / width) as usize).min(HISTOGRAM_BINS - 1),
            false => 0,
        };
        counts[bin] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut out = String::new();
    for (i, count) in counts.iter().enumerate() {
        if width == 0.0 && i > 0 {
            break;
        }
        let low = min + width * i as f64;
        let bar = "█".repeat((count * BAR_WIDTH).div_ceil(most));
        out.push_str(&format!(
            "  {:>10} .. {:<10} {:>7}  {bar}\n",
            short(low),
            short(low + width),
            count
        ));
    }
    out
}

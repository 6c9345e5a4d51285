//! Seed 003's dashboard queries (its `telemetry-dashboard` example) on Lookout: an hour of
//! agent execution durations recorded into a store, then the query with a label filter,
//! percentiles, a summary, a moving average, anomalies, a rate and an aggregation.
//!
//! cargo run -p lookout-query --example dashboard_queries

use lookout_query::functions::{self, Aggregation, Point};
use lookout_query::{Query, query};
use lookout_store::metrics::{PointValue, point_record};
use lookout_store::{Store, StoreConfig};
use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MINUTE: i64 = 60_000_000_000;

/// What the example found, for its test.
#[derive(Debug)]
pub struct Findings {
    /// Buckets of the filtered query.
    pub buckets: usize,
    /// p95 of the coder's durations.
    pub p95: f64,
    /// Anomalies found among the coder's durations.
    pub anomalies: usize,
    /// The counter's rate per second in its last minute.
    pub last_rate: f64,
}

/// Records an hour of points into a store in `dir` and runs seed 003's queries on it.
pub fn dashboard(dir: &std::path::Path) -> Result<Findings, Box<dyn Error>> {
    let store = Store::open(StoreConfig::new(dir));
    let now = SystemTime::now();
    let hour_ago = now - Duration::from_secs(3600);
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    };
    for second in (0..3600).step_by(15) {
        let at = hour_ago + Duration::from_secs(second);
        for (agent, typical) in [("coder", 12.0), ("reviewer", 4.0)] {
            // A slow patch 40 minutes in: the anomalies below.
            let spike = if (2400..2430).contains(&second) {
                8.0
            } else {
                1.0
            };
            let wobble = 1.0 + 0.2 * ((second as f64) / 97.0).sin();
            let labels = BTreeMap::from([("agent_type".to_owned(), agent.to_owned())]);
            let duration = PointValue::Number(typical * wobble * spike);
            store.record(point_record(
                "agent_execution_duration_seconds",
                "gauge",
                &labels,
                duration,
                at,
            ));
        }
        let total = PointValue::Number((second / 15 * 3) as f64);
        let labels = BTreeMap::from([("agent_type".to_owned(), "coder".to_owned())]);
        store.record(point_record(
            "agent_execution_total",
            "counter",
            &labels,
            total,
            at,
        ));
    }
    store.flush(Duration::from_secs(30))?;
    let conn = lookout_store::open_reader(&store.config().db_path)?;

    // Query with filtering: the coder's average duration in 5-minute buckets.
    let result = query::run(
        &conn,
        &Query::new(
            "agent_execution_duration_seconds",
            nanos(hour_ago),
            nanos(now),
            Aggregation::Avg,
            5 * MINUTE,
        )
        .label("agent_type", "coder"),
    )?;
    let buckets = &result[0].points;
    println!(
        "avg per 5m for coder: {} buckets, first {:.2} s",
        buckets.len(),
        buckets[0].value
    );

    // Percentiles and a summary over the raw points.
    let raw = query::points(
        &conn,
        &Query::new(
            "agent_execution_duration_seconds",
            nanos(hour_ago),
            nanos(now),
            Aggregation::Avg,
            1,
        )
        .label("agent_type", "coder"),
    )?;
    let metrics: Vec<Point> = raw[0].points.clone();
    let mut values: Vec<f64> = metrics.iter().map(|m| m.value).collect();
    values.sort_by(f64::total_cmp);
    let p95 = functions::percentile(&values, 0.95).ok_or("no points")?;
    let stats = functions::summarize(&metrics).ok_or("no points")?;
    println!(
        "p95 {p95:.2} s; avg {:.2}, p95 {:.2}, p99 {:.2}",
        stats.avg, stats.p95, stats.p99
    );

    // Moving average, anomalies (3 standard deviations), rate of change, aggregation.
    let moving = functions::moving_average(&metrics, 10);
    let anomalies = functions::detect_anomalies(&metrics, 3.0);
    println!(
        "moving average ends at {:.2} s; {} anomalies",
        moving.last().map_or(0.0, |p| p.value),
        anomalies.len()
    );
    let counter = query::points(
        &conn,
        &Query::new(
            "agent_execution_total",
            nanos(hour_ago),
            nanos(now),
            Aggregation::Avg,
            1,
        ),
    )?;
    let rate = functions::calculate_rate(&counter[0].points, MINUTE);
    let last_rate = rate.last().map_or(0.0, |p| p.value);
    println!("executions per second in the last minute: {last_rate:.2}");
    let aggregated = functions::aggregate(&metrics, 5 * MINUTE);
    println!(
        "5m aggregates: {} buckets, max of the slowest {:.2} s",
        aggregated.len(),
        aggregated.iter().map(|b| b.max).fold(0.0, f64::max)
    );
    Ok(Findings {
        buckets: buckets.len(),
        p95,
        anomalies: anomalies.len(),
        last_rate,
    })
}

#[allow(dead_code)] // a test includes this file and calls `dashboard`
fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    dashboard(dir.path())?;
    Ok(())
}

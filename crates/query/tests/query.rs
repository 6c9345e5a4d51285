//! The query engine against numbers this test computes itself, on points generated into
//! a real store: every aggregation, buckets with gaps, label filters, percentiles,
//! moving averages, anomalies, and rates across a counter reset.

use lookout_query::functions::{self, Aggregation, Point};
use lookout_query::{Query, QueryError, Source, query};
use lookout_store::metrics::{PointValue, point_record};
use lookout_store::rollups::RELATIVE_ERROR;
use lookout_store::{Store, StoreConfig};
use lookout_testkit::Rng;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MINUTE: i64 = 60_000_000_000;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn at(nanos: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos as u64)
}

/// Three series of a duration metric over two hours, a point every 10 to 50 s, with
/// the 30 minutes from 00:40 left empty; returns the store and the points by agent type.
fn generated() -> (tempfile::TempDir, Store, BTreeMap<String, Vec<Point>>, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let start = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
    let mut rng = Rng(42);
    let mut all = BTreeMap::new();
    for agent in ["coder", "reviewer", "tester"] {
        let mut points = Vec::new();
        let mut time = start + (rng.next_u64() % 10_000_000_000) as i64;
        while time < start + 120 * MINUTE {
            let in_gap = (start + 40 * MINUTE..start + 70 * MINUTE).contains(&time);
            if !in_gap {
                let value = 0.5 + 10.0 * rng.unit();
                let point = point_record(
                    "agent_execution_duration_seconds",
                    "gauge",
                    &labels(&[("agent_type", agent), ("phase", "code")]),
                    PointValue::Number(value),
                    at(time),
                );
                store.record(point);
                points.push(Point::new(time, value));
            }
            time += (10 + rng.next_u64() % 40) as i64 * 1_000_000_000;
        }
        all.insert(agent.to_owned(), points);
    }
    store.flush(Duration::from_secs(30)).unwrap();
    (dir, store, all, start)
}

/// The values of `points` by bucket, computed here: grouped by `time - time mod interval`.
fn grouped(points: &[Point], interval: i64) -> BTreeMap<i64, Vec<f64>> {
    let mut groups: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for p in points {
        groups
            .entry(p.time - p.time.rem_euclid(interval))
            .or_default()
            .push(p.value);
    }
    groups
}

/// The expected buckets: [`grouped`], then folded.
fn expected(points: &[Point], interval: i64, aggregation: Aggregation) -> Vec<Point> {
    grouped(points, interval)
        .into_iter()
        .map(|(start, mut values)| {
            values.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let n = values.len();
            let value = match aggregation {
                Aggregation::Avg => values.iter().sum::<f64>() / n as f64,
                Aggregation::Sum => values.iter().sum(),
                Aggregation::Min => values[0],
                Aggregation::Max => values[n - 1],
                Aggregation::Count => n as f64,
                Aggregation::Percentile(t) => {
                    // Definition 7, from scratch: weights of the two neighbouring ranks.
                    let position = (t as f64 / 1000.0) * (n as f64 - 1.0);
                    let lower = position as usize;
                    let weight = position - lower as f64;
                    let upper = if lower + 1 < n {
                        values[lower + 1]
                    } else {
                        values[lower]
                    };
                    values[lower] * (1.0 - weight) + upper * weight
                }
            };
            Point::new(start, value)
        })
        .collect()
}

fn close(a: &[Point], b: &[Point]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.time == y.time && (x.value - y.value).abs() <= 1e-9 * y.value.abs().max(1.0)
        })
}

/// Whether each of `got`'s percentiles (from a rollup's sketch) is within
/// `RELATIVE_ERROR` of the value at the rank below `t` thousandths of its bucket's
/// `points`, which the exact percentile interpolates from.
fn within_sketch_error(got: &[Point], points: &[Point], interval: i64, t: u16) -> bool {
    let groups = grouped(points, interval);
    got.len() == groups.len()
        && got.iter().zip(groups).all(|(point, (start, mut values))| {
            values.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let rank = ((t as f64 / 1000.0) * (values.len() as f64 - 1.0)) as usize;
            let below = values[rank];
            point.time == start && (point.value - below).abs() <= RELATIVE_ERROR * below * 1.0001
        })
}

#[test]
fn every_aggregation_equals_the_tests_own_computation_gaps_and_filters_included() {
    let (dir, _store, all, start) = generated();
    let conn = lookout_store::open_reader(&dir.path().join("db/telemetry.sqlite")).unwrap();
    let (from, until) = (start + 5 * MINUTE, start + 115 * MINUTE);
    let aggregations = ["avg", "sum", "min", "max", "count", "p50", "p95", "p99"];
    for (aggregation, source) in aggregations
        .iter()
        .flat_map(|a| [(a, Source::Points), (a, Source::Rollups)])
    {
        let aggregation = Aggregation::parse(aggregation).unwrap();
        let answer = query::run(
            &conn,
            &Query::new(
                "agent_execution_duration_seconds",
                from,
                until,
                aggregation,
                5 * MINUTE,
            )
            .label("agent_type", "reviewer")
            .source(source),
        )
        .unwrap();
        assert_eq!(answer.len(), 1, "the label filter keeps one series");
        assert_eq!(answer[0].labels["agent_type"], "reviewer");
        let inside: Vec<Point> = all["reviewer"]
            .iter()
            .filter(|p| (from..until).contains(&p.time))
            .copied()
            .collect();
        let want = expected(&inside, 5 * MINUTE, aggregation);
        match (aggregation, source) {
            (Aggregation::Percentile(t), Source::Rollups) => assert!(
                within_sketch_error(&answer[0].points, &inside, 5 * MINUTE, t),
                "{aggregation:?} from rollups: {:?} vs exact {want:?}",
                answer[0].points
            ),
            _ => assert!(
                close(&answer[0].points, &want),
                "{aggregation:?} from {source:?}: {:?} != {want:?}",
                answer[0].points
            ),
        }
        // The empty half hour stays empty: no bucket from 00:40 to 01:10.
        let gap = start + 40 * MINUTE..start + 70 * MINUTE;
        assert!(answer[0].points.iter().all(|p| !gap.contains(&p.time)));
        assert_eq!(
            answer[0].points.len(),
            22 - 6,
            "22 buckets, 6 of them empty"
        );
    }
    let every = query::run(
        &conn,
        &Query::new(
            "agent_execution_duration_seconds",
            from,
            until,
            Aggregation::Count,
            5 * MINUTE,
        )
        .label("phase", "code"),
    )
    .unwrap();
    assert_eq!(every.len(), 3);
    let none = query::run(
        &conn,
        &Query::new(
            "agent_execution_duration_seconds",
            from,
            until,
            Aggregation::Count,
            MINUTE,
        )
        .label("agent_type", "nobody"),
    )
    .unwrap();
    assert!(none.is_empty());
    assert!(matches!(
        query::run(
            &conn,
            &Query::new("x", until, from, Aggregation::Avg, MINUTE)
        ),
        Err(QueryError::Range)
    ));
    assert!(matches!(
        query::run(&conn, &Query::new("x", from, until, Aggregation::Avg, 0)),
        Err(QueryError::Interval)
    ));
}

#[test]
fn summaries_moving_averages_and_anomalies_equal_direct_computations() {
    let (_dir, _store, all, _) = generated();
    let points = &all["coder"];
    let summary = functions::summarize(points).unwrap();
    let mut values: Vec<f64> = points.iter().map(|p| p.value).collect();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    assert_eq!(summary.count, n);
    assert_eq!((summary.min, summary.max), (values[0], values[n - 1]));
    let mean = values.iter().sum::<f64>() / n as f64;
    assert!((summary.avg - mean).abs() < 1e-9);
    let whole = [Point::new(0, 0.0)];
    let p95 = expected(
        &points
            .iter()
            .map(|p| Point::new(0, p.value))
            .collect::<Vec<_>>(),
        1,
        Aggregation::Percentile(950),
    );
    assert!((summary.p95 - p95[0].value).abs() < 1e-9);
    assert_eq!(functions::summarize(&whole).unwrap().p99, 0.0);
    assert!(functions::summarize(&[]).is_none());

    // Moving average: the naive mean of each trailing window of 10.
    let moving = functions::moving_average(points, 10);
    for (i, point) in moving.iter().enumerate() {
        let window = &points[i.saturating_sub(9)..=i];
        let naive = window.iter().map(|p| p.value).sum::<f64>() / window.len() as f64;
        assert!((point.value - naive).abs() < 1e-9, "at {i}");
        assert_eq!(point.time, points[i].time);
    }

    // Anomalies: three spikes in otherwise uniform noise are exactly what is found.
    let mut spiked = points.clone();
    for i in [17, 80, 133] {
        spiked[i].value = 500.0;
    }
    let found = functions::detect_anomalies(&spiked, 3.0);
    let times: Vec<i64> = found.iter().map(|p| p.time).collect();
    assert_eq!(times, [17, 80, 133].map(|i| spiked[i].time));
    assert!(functions::detect_anomalies(&[Point::new(1, 2.0); 5], 3.0).is_empty());
}

#[test]
fn a_rate_counts_across_a_counter_reset_as_promql_does() {
    // A counter sampled every 15 s: 0, 10, 20, 30, then the process restarts (5), 15, 25.
    let values = [0.0, 10.0, 20.0, 30.0, 5.0, 15.0, 25.0];
    let points: Vec<Point> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Point::new(i as i64 * 15_000_000_000, *v))
        .collect();
    let rates = functions::calculate_rate(&points, MINUTE);
    // Minute 0 holds 10 + 10 + 10 and the reset (5: the counter restarted from zero) over
    // its 60 s; minute 1 holds 10 + 10 over the 30 s its samples cover.
    assert_eq!(rates.len(), 2);
    assert_eq!(rates[0].time, 0);
    assert!((rates[0].value - 35.0 / 60.0).abs() < 1e-12, "{rates:?}");
    assert_eq!(rates[1].time, MINUTE);
    assert!((rates[1].value - 20.0 / 30.0).abs() < 1e-12, "{rates:?}");

    // A gap: 600 in ten minutes is 1 a second in each of them, not 10 in the last.
    let gap = functions::calculate_rate(
        &[Point::new(0, 0.0), Point::new(10 * MINUTE, 600.0)],
        MINUTE,
    );
    assert_eq!(gap.len(), 10);
    assert!(gap.iter().all(|r| (r.value - 1.0).abs() < 1e-12), "{gap:?}");
    // A bucket still open (covered for 20 s of its 60) is not diluted.
    let open = functions::calculate_rate(
        &[
            Point::new(0, 0.0),
            Point::new(MINUTE, 60.0),
            Point::new(MINUTE + 20_000_000_000, 80.0),
        ],
        MINUTE,
    );
    assert!((open[1].value - 1.0).abs() < 1e-12, "{open:?}");
    // Before the epoch too: buckets align downwards.
    let old = functions::calculate_rate(
        &[
            Point::new(-90_000_000_000, 0.0),
            Point::new(-30_000_000_000, 60.0),
        ],
        MINUTE,
    );
    assert_eq!(
        old.iter().map(|r| r.time).collect::<Vec<_>>(),
        [-2 * MINUTE, -MINUTE]
    );
}

#[test]
fn percentiles_at_the_edges() {
    assert_eq!(functions::percentile(&[3.0, 7.0], 0.0), Some(3.0));
    assert_eq!(functions::percentile(&[3.0, 7.0], 1.0), Some(7.0));
    assert_eq!(functions::percentile(&[3.0, 7.0], 0.25), Some(4.0));
    assert_eq!(functions::percentile(&[5.0], 0.99), Some(5.0));
    assert_eq!(functions::percentile(&[1.0, f64::INFINITY], 0.0), Some(1.0));
    assert_eq!(
        functions::percentile(&[-f64::MAX, f64::MAX], 0.5),
        Some(0.0)
    );
    assert_eq!(functions::percentile(&[], 0.5), None);
    assert_eq!(functions::percentile(&[1.0], 1.5), None);
    assert_eq!(functions::bucket_start(-1, 10), -10);
    assert_eq!(functions::bucket_start(i64::MIN + 1, 1_000), i64::MIN);
}

#[test]
fn aggregations_parse_as_the_commands_write_them() {
    assert_eq!(
        Aggregation::parse("p95"),
        Some(Aggregation::Percentile(950))
    );
    assert_eq!(
        Aggregation::parse("P99.9"),
        Some(Aggregation::Percentile(999))
    );
    assert_eq!(Aggregation::parse("mean"), Some(Aggregation::Avg));
    for bad in ["p101", "p9.95", "median", "", "p"] {
        assert_eq!(Aggregation::parse(bad), None, "{bad}");
    }
}

#[path = "../examples/dashboard_queries.rs"]
mod dashboard_queries;

#[test]
fn seed_003s_dashboard_example_runs_and_finds_the_slow_patch() {
    let dir = tempfile::tempdir().unwrap();
    let found = dashboard_queries::dashboard(dir.path()).unwrap();
    assert!((12..=13).contains(&found.buckets), "{found:?}");
    // The slow patch (two points, eight times the usual) is exactly what is found.
    assert_eq!(found.anomalies, 2, "{found:?}");
    assert!(found.p95 > 12.0 && found.p95 < 20.0, "{found:?}");
    // Three executions every 15 s: 0.2 a second.
    assert!((found.last_rate - 0.2).abs() < 1e-9, "{found:?}");
}

#[test]
fn hour_rollups_answer_whole_hours_and_rollups_refuse_part_minutes() {
    let (dir, _store, all, start) = generated();
    let conn = lookout_store::open_reader(&dir.path().join("db/telemetry.sqlite")).unwrap();
    let hour = 60 * MINUTE;
    let (from, until) = (start, start + 2 * hour);
    for aggregation in ["avg", "sum", "min", "max", "count"] {
        let aggregation = Aggregation::parse(aggregation).unwrap();
        let ask = |source| {
            query::run(
                &conn,
                &Query::new(
                    "agent_execution_duration_seconds",
                    from,
                    until,
                    aggregation,
                    hour,
                )
                .label("agent_type", "coder")
                .source(source),
            )
            .unwrap()
        };
        let want = expected(&all["coder"], hour, aggregation);
        for source in [Source::Auto, Source::Rollups, Source::Points] {
            assert!(
                close(&ask(source)[0].points, &want),
                "{aggregation:?} {source:?}"
            );
        }
    }
    let part = Query::new(
        "agent_execution_duration_seconds",
        start + 1_000_000_000,
        until,
        Aggregation::Avg,
        hour,
    );
    assert!(matches!(
        query::run(&conn, &part.clone().source(Source::Rollups)),
        Err(QueryError::NotWhole)
    ));
    // Auto reads the points for a range that starts inside a minute: still exact.
    let coder = query::run(&conn, &part.label("agent_type", "coder")).unwrap();
    let inside: Vec<Point> = all["coder"]
        .iter()
        .filter(|p| p.time >= start + 1_000_000_000)
        .copied()
        .collect();
    assert!(close(
        &coder[0].points,
        &expected(&inside, hour, Aggregation::Avg)
    ));
}

/// Upper bounds of the histogram below, as the registry's default buckets are cut.
const BOUNDS: [f64; 8] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];

#[test]
fn histogram_percentiles_from_rollups_fall_in_the_exact_percentiles_bucket() {
    // Two processes observe durations into one histogram family; each exports its
    // cumulative buckets every 15 s for two hours, as the store's exporter writes them.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let start = 1_767_225_600_000_000_000;
    let mut rng = Rng(7);
    let mut observations: Vec<(i64, f64)> = Vec::new();
    for instance in ["a", "b"] {
        let mut cumulative = [0u64; BOUNDS.len()];
        let mut time = start;
        while time < start + 120 * MINUTE {
            for _ in 0..rng.next_u64() % 20 {
                // Log-uniform from 0.02 s to 6 s; the second hour twice as slow, its
                // slowest past the last finite bound.
                let slow = if time >= start + 60 * MINUTE {
                    2.0
                } else {
                    1.0
                };
                let value = slow * 0.02 * 300f64.powf(rng.unit());
                observations.push((time, value));
                for (i, bound) in BOUNDS.iter().enumerate() {
                    if value <= *bound {
                        cumulative[i] += 1;
                    }
                }
            }
            time += 15_000_000_000;
            for (bound, count) in BOUNDS.iter().zip(cumulative) {
                let le = if bound.is_infinite() {
                    "+Inf".to_owned()
                } else {
                    bound.to_string()
                };
                store.record(point_record(
                    "tool_duration_seconds_bucket",
                    "histogram_bucket",
                    &labels(&[("instance", instance), ("le", &le), ("tool", "grep")]),
                    PointValue::Number(count as f64),
                    at(time),
                ));
            }
        }
    }
    store.flush(Duration::from_secs(30)).unwrap();
    let conn = lookout_store::open_reader(&dir.path().join("db/telemetry.sqlite")).unwrap();
    let hour = 60 * MINUTE;
    for t in [500u16, 950, 990] {
        let answer = query::histogram_percentiles(
            &conn,
            &Query::new(
                "tool_duration_seconds",
                start,
                start + 2 * hour,
                Aggregation::Percentile(t),
                hour,
            )
            .label("tool", "grep"),
        )
        .unwrap();
        assert_eq!(answer.len(), 1, "the two processes are summed: {answer:?}");
        assert_eq!(answer[0].labels, labels(&[("tool", "grep")]));
        assert_eq!(answer[0].points.len(), 2);
        for point in &answer[0].points {
            // An observation counts in the export after it: (time, time + 15 s].
            let mut values: Vec<f64> = observations
                .iter()
                .filter(|(time, _)| {
                    let exported = time + 15_000_000_000;
                    (point.time..point.time + hour).contains(&exported)
                })
                .map(|(_, value)| *value)
                .collect();
            values.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let exact = functions::percentile(&values, t as f64 / 1000.0).unwrap();
            let bucket = |x: f64| BOUNDS.iter().position(|b| x <= *b).unwrap();
            if bucket(exact) == BOUNDS.len() - 1 {
                // Past the last finite bound, Prometheus answers that bound.
                assert_eq!(point.value, BOUNDS[BOUNDS.len() - 2]);
                continue;
            }
            assert_eq!(
                bucket(point.value),
                bucket(exact),
                "p{} at {}: {} vs exact {exact}",
                t / 10,
                point.time,
                point.value
            );
        }
        // The slower second hour shows.
        assert!(
            answer[0].points[1].value > answer[0].points[0].value,
            "{answer:?}"
        );
    }
    assert!(matches!(
        query::histogram_percentiles(
            &conn,
            &Query::new(
                "tool_duration_seconds",
                start,
                start + hour,
                Aggregation::Avg,
                hour
            )
        ),
        Err(QueryError::NotPercentile)
    ));
}

#[test]
fn past_the_points_retention_the_rollups_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let now = lookout_store::unix_nanos(SystemTime::now());
    // Forty days ago, from a whole hour: one point every 20 s for an hour.
    let start = functions::bucket_start(now - 40 * 24 * 60 * MINUTE, 60 * MINUTE);
    let points: Vec<Point> = (0..180)
        .map(|i| Point::new(start + i * 20_000_000_000, (i % 7) as f64))
        .collect();
    for point in &points {
        store.record(point_record(
            "queue_depth",
            "gauge",
            &labels(&[]),
            PointValue::Number(point.value),
            at(point.time),
        ));
    }
    // And one recent point, so that the points table is not empty.
    store.record(point_record(
        "queue_depth",
        "gauge",
        &labels(&[]),
        PointValue::Number(1.0),
        SystemTime::now(),
    ));
    store.flush(Duration::from_secs(30)).unwrap();
    let removed = store.apply_retention().unwrap();
    assert_eq!(removed.metric_points, 180);
    let conn = lookout_store::open_reader(&dir.path().join("db/telemetry.sqlite")).unwrap();
    let ask = |source| {
        let query = Query::new(
            "queue_depth",
            start,
            start + 60 * MINUTE,
            Aggregation::Avg,
            15 * MINUTE,
        );
        query::run(&conn, &query.source(source)).unwrap()
    };
    assert!(ask(Source::Points).is_empty(), "the points are gone");
    let want = expected(&points, 15 * MINUTE, Aggregation::Avg);
    assert!(
        close(&ask(Source::Auto)[0].points, &want),
        "{:?}",
        ask(Source::Auto)
    );
}

//! The query engine: seed 003's `query({ metric, labels, range, aggregation: 'avg',
//! interval: '5m' })` over 1,000,000 stored points (1,000 series x 1,000 points, one a
//! minute), with a label filter that keeps 100 series, beside the same query as plain
//! SQL in SQLite and beside seed 003's approach (every point in an in-memory array,
//! filtered and grouped on each query), in the same run; for the 1 h range of the seed's
//! example and for the whole 1,000 minutes.
//!
//! Beside them, p95 over one hour of one series and of a histogram family (10 processes
//! exporting 8 cumulative buckets each minute for 10 tools), from the rollups, from the
//! points, as plain SQL, and as the seed computes it (every observation kept, sorted on
//! each call).
//!
//! `cargo bench --bench query`, then `python3 scripts/bench_table.py query`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout_query::{Aggregation, Query, Source, functions, query};
use lookout_store::rusqlite::{Connection, params};
use lookout_store::{Store, StoreConfig};
use std::collections::HashMap;
use std::hint::black_box;

const SERIES: usize = 1_000;
const POINTS: i64 = 1_000;
const MINUTE: i64 = 60_000_000_000;
const START: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
const AGENTS: [&str; 10] = [
    "coder",
    "reviewer",
    "tester",
    "planner",
    "researcher",
    "writer",
    "critic",
    "router",
    "summarizer",
    "fixer",
];

/// Seed 003's in-memory metric: a name, labels, a timestamp and a value.
struct SeedMetric {
    name: String,
    labels: HashMap<String, String>,
    timestamp: i64,
    value: f64,
}

/// Seed 003's query: scan every metric, keep the name, labels and range, group by bucket.
fn seed_query(all: &[SeedMetric], from: i64, until: i64) -> Vec<(String, i64, f64)> {
    let mut groups: HashMap<(String, i64), (f64, usize)> = HashMap::new();
    for m in all {
        if m.name == "agent_execution_duration_seconds"
            && m.labels.get("agent_type").map(String::as_str) == Some("coder")
            && (from..until).contains(&m.timestamp)
        {
            let bucket = m.timestamp - m.timestamp.rem_euclid(5 * MINUTE);
            let key = (m.labels["instance"].clone(), bucket);
            let entry = groups.entry(key).or_insert((0.0, 0));
            entry.0 += m.value;
            entry.1 += 1;
        }
    }
    groups
        .into_iter()
        .map(|((series, bucket), (sum, n))| (series, bucket, sum / n as f64))
        .collect()
}

fn value(series: usize, minute: i64) -> f64 {
    ((series as i64 * 7919 + minute * 104_729) % 10_000) as f64 / 1000.0
}

const TOOLS: [&str; 10] = [
    "grep", "read", "write", "edit", "bash", "search", "fetch", "test", "build", "lint",
];
const INSTANCES: usize = 10;
const BOUNDS: [f64; 8] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];

/// The observations of tool `t` in process `i` during `minute`: 5 to 14 durations,
/// log-uniform from 0.02 s to 6 s.
fn observations(t: usize, i: usize, minute: i64) -> impl Iterator<Item = f64> {
    let seed = (t as i64 * 31 + i as i64 * 17 + minute * 7) as u64;
    let n = 5 + seed % 10;
    (0..n).map(move |k| {
        let x = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(k * 1_442_695_040_888_963_407);
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
        0.02 * 300f64.powf(unit)
    })
}

fn le(bound: f64) -> String {
    if bound.is_infinite() {
        "+Inf".into()
    } else {
        bound.to_string()
    }
}

/// Prometheus' `histogram_quantile` over cumulative `(bound, count)` in bound order.
fn bucket_quantile(q: f64, bounds: &[(f64, f64)]) -> f64 {
    let rank = q * bounds.last().unwrap().1;
    let i = bounds.iter().position(|b| b.1 >= rank).unwrap();
    if bounds[i].0.is_infinite() {
        return bounds[i - 1].0;
    }
    let (lower, below) = if i == 0 { (0.0, 0.0) } else { bounds[i - 1] };
    lower + (bounds[i].0 - lower) * (rank - below) / (bounds[i].1 - below)
}

/// The store's schema, filled as the store fills it (series, their labels, points) in
/// one transaction: the bench is about reading them.
fn filled(dir: &std::path::Path) -> Connection {
    let config = StoreConfig::new(dir);
    drop(Store::open(config.clone()));
    let mut conn = Connection::open(&config.db_path).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut series = tx
            .prepare("INSERT INTO telemetry_series (name, kind, labels) VALUES ('agent_execution_duration_seconds', 'gauge', ?1)")
            .unwrap();
        let mut label = tx
            .prepare("INSERT INTO telemetry_series_labels (name, key, value, series_id) VALUES ('agent_execution_duration_seconds', ?1, ?2, ?3)")
            .unwrap();
        let mut point = tx
            .prepare("INSERT INTO telemetry_points (series_id, time_unix_nano, event_id, value) VALUES (?1, ?2, '', ?3)")
            .unwrap();
        for s in 0..SERIES {
            let labels = format!(
                r#"{{"agent_type":"{}","instance":"i-{s:04}"}}"#,
                AGENTS[s % 10]
            );
            series.execute([labels]).unwrap();
            let id = tx.last_insert_rowid();
            for (key, value) in [
                ("agent_type", AGENTS[s % 10].to_owned()),
                ("instance", format!("i-{s:04}")),
            ] {
                label.execute(params![key, value, id]).unwrap();
            }
            for minute in 0..POINTS {
                point
                    .execute(params![id, START + minute * MINUTE, value(s, minute)])
                    .unwrap();
            }
        }
        let mut series = tx
            .prepare("INSERT INTO telemetry_series (name, kind, labels) VALUES ('tool_duration_seconds_bucket', 'histogram_bucket', ?1)")
            .unwrap();
        let mut label = tx
            .prepare("INSERT INTO telemetry_series_labels (name, key, value, series_id) VALUES ('tool_duration_seconds_bucket', ?1, ?2, ?3)")
            .unwrap();
        for (t, tool) in TOOLS.iter().enumerate() {
            for i in 0..INSTANCES {
                let ids: Vec<i64> = BOUNDS
                    .iter()
                    .map(|bound| {
                        let instance = format!("i-{i:02}");
                        let labels = format!(
                            r#"{{"instance":"{instance}","le":"{}","tool":"{tool}"}}"#,
                            le(*bound)
                        );
                        series.execute([labels]).unwrap();
                        let id = tx.last_insert_rowid();
                        for (key, value) in [
                            ("instance", instance),
                            ("le", le(*bound)),
                            ("tool", (*tool).into()),
                        ] {
                            label.execute(params![key, value, id]).unwrap();
                        }
                        id
                    })
                    .collect();
                let mut cumulative = [0u64; BOUNDS.len()];
                for minute in 0..POINTS {
                    for value in observations(t, i, minute) {
                        for (b, bound) in BOUNDS.iter().enumerate() {
                            cumulative[b] += u64::from(value <= *bound);
                        }
                    }
                    // Exported at the end of the minute.
                    for (id, count) in ids.iter().zip(cumulative) {
                        point
                            .execute(params![id, START + (minute + 1) * MINUTE - 1, count as f64])
                            .unwrap();
                    }
                }
            }
        }
    }
    lookout_store::rollups::rebuild(&tx).unwrap();
    tx.commit().unwrap();
    conn
}

fn queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let conn = filled(dir.path());
    let seed: Vec<SeedMetric> = (0..SERIES)
        .flat_map(|s| {
            (0..POINTS).map(move |minute| SeedMetric {
                name: "agent_execution_duration_seconds".into(),
                labels: HashMap::from([
                    ("agent_type".into(), AGENTS[s % 10].into()),
                    ("instance".into(), format!("i-{s:04}")),
                ]),
                timestamp: START + minute * MINUTE,
                value: value(s, minute),
            })
        })
        .collect();
    let sql = "SELECT s.series_id, (p.time_unix_nano / ?3) * ?3 AS bucket, AVG(p.value)
               FROM telemetry_series s JOIN telemetry_points p ON p.series_id = s.series_id
               WHERE s.name = 'agent_execution_duration_seconds'
                 AND json_extract(s.labels, '$.agent_type') = 'coder'
                 AND p.time_unix_nano >= ?1 AND p.time_unix_nano < ?2
               GROUP BY s.series_id, bucket";
    for (name, from, until) in [
        ("1h", START + 600 * MINUTE, START + 660 * MINUTE),
        ("all", START, START + POINTS * MINUTE),
    ] {
        let query = Query::new(
            "agent_execution_duration_seconds",
            from,
            until,
            Aggregation::Avg,
            5 * MINUTE,
        )
        .label("agent_type", "coder");
        // The three agree before they are timed.
        let ours: usize = query::run(&conn, &query)
            .unwrap()
            .iter()
            .map(|s| s.points.len())
            .sum();
        let mut statement = conn.prepare_cached(sql).unwrap();
        let plain = statement
            .query_map(params![from, until, 5 * MINUTE], |_| Ok(()))
            .unwrap()
            .count();
        assert_eq!(ours, plain);
        assert_eq!(ours, seed_query(&seed, from, until).len());
        let mut group = c.benchmark_group(format!("query_avg_5m_{name}"));
        group.sample_size(20);
        let points = query.clone().source(Source::Points);
        assert_eq!(
            query::run(&conn, &points).unwrap(),
            query::run(&conn, &query).unwrap()
        );
        group.bench_function("lookout", |b| {
            b.iter(|| query::run(&conn, black_box(&query)).unwrap())
        });
        group.bench_function("lookout_points", |b| {
            b.iter(|| query::run(&conn, black_box(&points)).unwrap())
        });
        group.bench_function("sqlite_sql", |b| {
            b.iter(|| {
                statement
                    .query_map(params![from, until, 5 * MINUTE], |r| r.get::<_, f64>(2))
                    .unwrap()
                    .map(Result::unwrap)
                    .sum::<f64>()
            })
        });
        group.bench_function("seed_003_in_memory", |b| {
            b.iter(|| seed_query(black_box(&seed), from, until))
        });
        group.finish();
    }
    // p95 of one hour of one series: rollups (Auto: the hour is whole), points, seed.
    let (from, until) = (START + 600 * MINUTE, START + 660 * MINUTE);
    let p95 = Query::new(
        "agent_execution_duration_seconds",
        from,
        until,
        Aggregation::Percentile(950),
        60 * MINUTE,
    )
    .label("instance", "i-0007");
    let p95_points = p95.clone().source(Source::Points);
    let seed_p95 = |all: &[SeedMetric]| {
        let mut values: Vec<f64> = all
            .iter()
            .filter(|m| m.labels["instance"] == "i-0007" && (from..until).contains(&m.timestamp))
            .map(|m| m.value)
            .collect();
        values.sort_by(|a, b| a.partial_cmp(b).unwrap());
        functions::percentile(&values, 0.95).unwrap()
    };
    let exact = seed_p95(&seed);
    let sketched = query::run(&conn, &p95).unwrap()[0].points[0].value;
    assert!(
        (sketched - exact).abs() <= 0.02 * exact,
        "{sketched} vs {exact}"
    );
    assert_eq!(
        query::run(&conn, &p95_points).unwrap()[0].points[0].value,
        exact
    );
    let mut group = c.benchmark_group("query_p95_1h_one_series");
    group.bench_function("lookout", |b| {
        b.iter(|| query::run(&conn, black_box(&p95)).unwrap())
    });
    group.bench_function("lookout_points", |b| {
        b.iter(|| query::run(&conn, black_box(&p95_points)).unwrap())
    });
    group.bench_function("seed_003_in_memory", |b| {
        b.iter(|| seed_p95(black_box(&seed)))
    });
    group.finish();
    drop(seed);

    // p95 over one hour of the histogram family, tool "grep", the 10 processes summed.
    let family = Query::new(
        "tool_duration_seconds",
        from,
        until,
        Aggregation::Percentile(950),
        60 * MINUTE,
    )
    .label("tool", "grep");
    let observed: Vec<SeedMetric> = TOOLS
        .iter()
        .enumerate()
        .flat_map(|(t, tool)| {
            (0..INSTANCES).flat_map(move |i| {
                (0..POINTS).flat_map(move |minute| {
                    observations(t, i, minute).map(move |value| SeedMetric {
                        name: "tool_duration_seconds".into(),
                        labels: HashMap::from([
                            ("tool".into(), (*tool).into()),
                            ("instance".into(), format!("i-{i:02}")),
                        ]),
                        timestamp: START + minute * MINUTE,
                        value,
                    })
                })
            })
        })
        .collect();
    let seed_family = |all: &[SeedMetric]| {
        let mut values: Vec<f64> = all
            .iter()
            .filter(|m| {
                m.name == "tool_duration_seconds"
                    && m.labels["tool"] == "grep"
                    && (from..until).contains(&m.timestamp)
            })
            .map(|m| m.value)
            .collect();
        values.sort_by(|a, b| a.partial_cmp(b).unwrap());
        functions::percentile(&values, 0.95).unwrap()
    };
    // The increases of each bucket over the hour from the points, as plain SQL (the point
    // before the hour gives the first increase).
    let family_sql = "WITH d AS (
          SELECT json_extract(s.labels, '$.le') AS le, p.time_unix_nano AS t,
                 p.value - LAG(p.value, 1, 0) OVER (PARTITION BY p.series_id ORDER BY p.time_unix_nano) AS inc
          FROM telemetry_series s JOIN telemetry_points p ON p.series_id = s.series_id
          WHERE s.name = 'tool_duration_seconds_bucket'
            AND json_extract(s.labels, '$.tool') = 'grep'
            AND p.time_unix_nano >= ?1 - 60000000000 AND p.time_unix_nano < ?2)
        SELECT le, SUM(inc) FROM d WHERE t >= ?1 GROUP BY le";
    let mut statement = conn.prepare_cached(family_sql).unwrap();
    let mut sql_p95 = || {
        let mut bounds: Vec<(f64, f64)> = statement
            .query_map(params![from, until], |r| {
                let le: String = r.get(0)?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                Ok((bound, r.get::<_, f64>(1)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
        bucket_quantile(0.95, &bounds)
    };
    let ours = query::histogram_percentiles(&conn, &family).unwrap()[0].points[0].value;
    assert_eq!(ours, sql_p95());
    let exact = seed_family(&observed);
    let bucket = |x: f64| BOUNDS.iter().position(|b| x <= *b);
    assert_eq!(bucket(ours), bucket(exact), "{ours} vs exact {exact}");
    let mut group = c.benchmark_group("query_p95_1h_histogram_family");
    group.bench_function("lookout", |b| {
        b.iter(|| query::histogram_percentiles(&conn, black_box(&family)).unwrap())
    });
    group.bench_function("sqlite_sql", |b| b.iter(&mut sql_p95));
    group.bench_function("seed_003_in_memory", |b| {
        b.iter(|| seed_family(black_box(&observed)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = queries
}
criterion_main!(benches);

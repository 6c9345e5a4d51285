//! The query engine: seed 003's `query({ metric, labels, range, aggregation: 'avg',
//! interval: '5m' })` over 1,000,000 stored points (1,000 series x 1,000 points, one a
//! minute), with a label filter that keeps 100 series, beside the same query as plain
//! SQL in SQLite and beside seed 003's approach (every point in an in-memory array,
//! filtered and grouped on each query), in the same run; for the 1 h range of the seed's
//! example and for the whole 1,000 minutes.
//!
//! `cargo bench --bench query`, then `python3 scripts/bench_table.py query`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout_query::{Aggregation, Query, query};
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
    }
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
        group.bench_function("lookout", |b| {
            b.iter(|| query::run(&conn, black_box(&query)).unwrap())
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
    // p95 of one hour of one series from its points (rollups come with the histograms).
    let p95 = Query::new(
        "agent_execution_duration_seconds",
        START + 600 * MINUTE,
        START + 660 * MINUTE,
        Aggregation::Percentile(950),
        60 * MINUTE,
    )
    .label("instance", "i-0007");
    let mut group = c.benchmark_group("query_p95_1h_one_series");
    group.bench_function("lookout", |b| {
        b.iter(|| query::run(&conn, black_box(&p95)).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = queries
}
criterion_main!(benches);

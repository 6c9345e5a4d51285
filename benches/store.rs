//! The durable store: records made durable (in the NDJSON log, synced, and in SQLite)
//! through Lookout's store, beside seed 002's approach in the same run (per record one
//! NDJSON write and one SQLite transaction, journal DELETE, synchronous FULL); then the
//! sustained rate, and the recording call's and `flush()`'s latency at 1,000 records/s
//! offered.
//!
//! `cargo bench --bench store`, then `python3 scripts/bench_table.py store`.

#[path = "peers.rs"]
mod peers;
#[path = "seed_002.rs"]
mod seed_002;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lookout_store::{Record, RecordKind, Store, StoreConfig};
use seed_002::SeedWriter;
use serde_json::json;
use std::time::{Duration, Instant};

/// Records per measured unit in the side-by-side bench.
const UNIT: u64 = 100;

fn run(n: u64) -> Record {
    Record::new(
        RecordKind::Run,
        json!({"agent_name": "coder", "job_type": "process_files", "status": "success",
               "items_discovered": n, "items_succeeded": n, "items_failed": 0}),
    )
}

fn durable(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("store_durable_{UNIT}"));
    group.throughput(Throughput::Elements(UNIT));
    group.sample_size(10);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path().join("lookout")));
    let mut n = 0;
    group.bench_function("lookout", |b| {
        b.iter(|| {
            for _ in 0..UNIT {
                store.record(run(n));
                n += 1;
            }
            store.flush(Duration::from_secs(30)).unwrap();
        })
    });
    let mut seed = SeedWriter::open(&dir.path().join("seed"));
    group.bench_function("seed_002_per_record", |b| {
        b.iter(|| {
            for _ in 0..UNIT {
                let record = run(n);
                seed.write(&record.event_id, &record.body);
                n += 1;
            }
        })
    });
    group.finish();
    assert_eq!(store.stats().dropped_total(), 0);
    sustained(&store);
    latencies();
}

/// Records 200,000 as fast as the caller can and flushes: durable records per second.
fn sustained(store: &Store) {
    let total = 200_000;
    let started = Instant::now();
    let mut offered = 0;
    for n in 0..total {
        store.record(run(n));
        offered += 1;
        // Stay within the queue, as a host writing this much would flush now and then.
        if offered % 20_000 == 0 {
            store.flush(Duration::from_secs(60)).unwrap();
        }
    }
    store.flush(Duration::from_secs(60)).unwrap();
    let elapsed = started.elapsed();
    println!(
        "\nsustained: {total} records durable (log synced, SQLite committed) in {:.2} s: {:.0} records/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}

/// 1,000 records/s offered for 5 s, a flush every 10 ms: p50/p99 of the recording call
/// and of `flush()`.
fn latencies() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let mut record_ns = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let mut flush_ns = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let started = Instant::now();
    for n in 0..5_000u64 {
        let due = started + Duration::from_millis(n);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let record = run(n);
        let at = Instant::now();
        store.record(record);
        let _ = record_ns.record(at.elapsed().as_nanos() as u64);
        if n % 10 == 9 {
            let at = Instant::now();
            store.flush(Duration::from_secs(10)).unwrap();
            let _ = flush_ns.record(at.elapsed().as_nanos() as u64);
        }
    }
    println!("\nat 1,000 records/s offered, a flush every 10 records (µs):");
    peers::latency_table(&[("record", &record_ns), ("flush", &flush_ns)]);
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = durable
}
criterion_main!(benches);

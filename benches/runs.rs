//! Runs (seed 002): `start_run` + `end_run` on the caller's thread with the store on,
//! beside seed 002's approach in the same run (each call one NDJSON append and one
//! SQLite transaction, journal DELETE, synchronous FULL); then each call's p50/p99 at
//! 1,000 runs/s offered, in wall time and in the calling thread's CPU time (on two cores
//! the store's writer thread takes the caller's core now and then: wall time counts it).
//!
//! `cargo bench --bench runs`, then `python3 scripts/bench_table.py runs`.

#[path = "peers.rs"]
mod peers;
#[path = "seed_002.rs"]
mod seed_002;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout::Telemetry;
use lookout::runs::{RunFields, RunStatus, Runs};
use seed_002::SeedWriter;
use serde_json::json;
use std::time::{Duration, Instant};

/// Flush the store every this many runs, outside the measured time: a host ending this
/// many runs keeps within the store's queue.
const FLUSH_EVERY: u64 = 1_000;

fn telemetry(base: &std::path::Path) -> Telemetry {
    let config = lookout::config::Config::default()
        .with_env(&lookout::config::env_map(&[(
            lookout::store::BASE_DIR_ENV,
            base.to_str().unwrap(),
        )]))
        .unwrap();
    Telemetry::builder().config(config).build().unwrap()
}

fn one_run(runs: &Runs) {
    let id = runs.start_run("coder", "process_files");
    runs.end_run(
        &id,
        RunStatus::Success,
        RunFields::default().items(10, 9, 1),
    );
}

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Seed 002's start and end of a run: a row written, then its new state.
fn seed_run(seed: &mut SeedWriter, n: u64) -> (Duration, Duration) {
    let id = format!("run-{n}");
    let at = Instant::now();
    seed.write(
        &id,
        &json!({"agent_name": "coder", "job_type": "process_files", "status": "running"}),
    );
    let start = at.elapsed();
    let at = Instant::now();
    seed.write(
        &id,
        &json!({"agent_name": "coder", "job_type": "process_files", "status": "success",
                "items_discovered": 10, "items_succeeded": 9, "items_failed": 1}),
    );
    (start, at.elapsed())
}

fn start_and_end(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(&dir.path().join("lookout"));
    let runs = telemetry.runs();
    let mut group = c.benchmark_group("run_start_end");
    group.bench_function("lookout", |b| {
        b.iter_custom(|iters| {
            let mut measured = Duration::ZERO;
            for n in 0..iters {
                let at = Instant::now();
                one_run(runs);
                measured += at.elapsed();
                if n % FLUSH_EVERY == FLUSH_EVERY - 1 {
                    telemetry.flush();
                }
            }
            measured
        })
    });
    let mut seed = SeedWriter::open(&dir.path().join("seed"));
    let mut n = 0;
    group.sample_size(10);
    group.bench_function("seed_002", |b| {
        b.iter(|| {
            n += 1;
            seed_run(&mut seed, n)
        })
    });
    group.finish();
    assert!(telemetry.flush().is_ok());
    latencies(runs, &telemetry, &mut seed);
}

/// 1,000 runs/s offered for 5 s (a flush every 100 runs), and 1,000 of seed 002's: p50,
/// p99, p99.9 and max of each call on the caller's thread.
fn latencies(runs: &Runs, telemetry: &Telemetry, seed: &mut SeedWriter) {
    let histogram = || hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let (mut start_ns, mut end_ns) = (histogram(), histogram());
    let (mut start_cpu, mut end_cpu) = (histogram(), histogram());
    let started = Instant::now();
    for n in 0..5_000u64 {
        let due = started + Duration::from_millis(n);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let (at, cpu) = (Instant::now(), thread_cpu());
        let id = runs.start_run("coder", "process_files");
        let _ = start_ns.record(at.elapsed().as_nanos() as u64);
        let _ = start_cpu.record((thread_cpu() - cpu).as_nanos() as u64);
        let (at, cpu) = (Instant::now(), thread_cpu());
        runs.end_run(
            &id,
            RunStatus::Success,
            RunFields::default().items(10, 9, 1),
        );
        let _ = end_ns.record(at.elapsed().as_nanos() as u64);
        let _ = end_cpu.record((thread_cpu() - cpu).as_nanos() as u64);
        if n % 100 == 99 {
            telemetry.flush();
        }
    }
    let (mut seed_start, mut seed_end) = (histogram(), histogram());
    for n in 0..1_000 {
        let (start, end) = seed_run(seed, 1_000_000 + n);
        let _ = seed_start.record(start.as_nanos() as u64);
        let _ = seed_end.record(end.as_nanos() as u64);
    }
    println!("\nper call on the caller's thread (µs):");
    peers::latency_table(&[
        ("lookout start_run", &start_ns),
        ("lookout end_run", &end_ns),
        ("lookout start_run, thread CPU", &start_cpu),
        ("lookout end_run, thread CPU", &end_cpu),
        ("seed 002 start_run", &seed_start),
        ("seed 002 end_run", &seed_end),
    ]);
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = start_and_end
}
criterion_main!(benches);

//! Skill captures (seed 000) into a `telemetry.json` that already holds 100,000 entries:
//! Lookout's library capture (entry made and redacted, span, skill families, one
//! positioned write into the file's reserve, under the file's lock) beside seed 000's
//! approach in the same run (under a lock: read the whole array, append, write it all
//! back beside the file and rename it over, as its `safe_update_json` does). Lookout
//! runs with seed 000's policy: at 100,000 entries the oldest tenth goes to the archives,
//! and that rewrite is in the figures. Then each capture's p50/p99 at 1,000 captures/s
//! offered.
//!
//! `cargo bench --bench capture`, then `python3 scripts/bench_table.py capture`.

#[path = "peers.rs"]
mod peers;

use criterion::{Criterion, criterion_group, criterion_main};
use lookout::Telemetry;
use lookout::skills::Skills;
use serde_json::{Value, json};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Entries the file holds before the first measured capture.
const ENTRIES: usize = 100_000;

/// A file of `ENTRIES` recent entries in `dir`, as one JSON array.
fn write_full_file(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join("telemetry.json");
    let now = lookout::json::rfc3339(SystemTime::now());
    let mut out = std::io::BufWriter::new(File::create(&path).unwrap());
    out.write_all(b"[").unwrap();
    for i in 0..ENTRIES {
        let entry = json!({"timestamp": now, "skill": format!("skill.{}", i % 50),
                           "inputs": {"path": format!("tasks/{i}.yaml"), "strict": i % 2 == 0},
                           "status": if i % 9 == 0 { "failed" } else { "success" },
                           "duration_ms": i % 5000, "agent": "orchestrator", "caller": "cli"});
        out.write_all(if i == 0 { b"\n" } else { b",\n" }).unwrap();
        serde_json::to_writer(&mut out, &entry).unwrap();
    }
    out.write_all(b"\n]\n").unwrap();
    path
}

fn skills(dir: &Path) -> Telemetry {
    let config = lookout::config::Config::default()
        .with_env(&lookout::config::env_map(&[(
            lookout::config::SKILLS_DIR_ENV,
            dir.to_str().unwrap(),
        )]))
        .unwrap();
    Telemetry::builder().config(config).build().unwrap()
}

/// One library capture: the entry made from its parts (inputs parsed and redacted),
/// then captured.
fn lookout_capture(skills: &Skills, n: u64) {
    let inputs = format!(r#"{{"path": "tasks/{n}.yaml", "token": "s3cr3t"}}"#);
    let entry = skills
        .create_entry(
            "workflow.validate",
            &inputs,
            "success",
            "150",
            [None, None, Some("cli")],
        )
        .unwrap();
    skills.capture(&entry).unwrap();
}

/// Seed 000's capture: under an exclusive lock, the array read whole, the entry
/// appended, the array written back (indented, as `json.dump(..., indent=2)`) beside the
/// file and renamed over it.
struct SeedFile {
    path: PathBuf,
    lock: File,
}

impl SeedFile {
    fn capture(&self, n: u64) {
        let mut inputs: Value =
            serde_json::from_str(&format!(r#"{{"path": "tasks/{n}.yaml"}}"#)).unwrap();
        inputs["token"] = json!("[REDACTED]");
        let entry = json!({"timestamp": lookout::json::rfc3339(SystemTime::now()),
                           "skill": "workflow.validate", "inputs": inputs, "status": "success",
                           "duration_ms": 150, "caller": "cli"});
        self.lock.lock().unwrap();
        let mut entries: Vec<Value> =
            serde_json::from_slice(&fs::read(&self.path).unwrap()).unwrap();
        entries.push(entry);
        let tmp = self.path.with_extension("json.tmp");
        fs::write(&tmp, serde_json::to_vec_pretty(&entries).unwrap()).unwrap();
        fs::rename(&tmp, &self.path).unwrap();
        self.lock.unlock().unwrap();
    }
}

fn capture_into_a_full_file(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("lookout");
    write_full_file(&ours);
    let telemetry = skills(&ours);
    let skills = telemetry.skills();
    // The first capture adopts the file (read once, written in Lookout's layout).
    lookout_capture(skills, 0);
    let seed = SeedFile {
        path: write_full_file(&dir.path().join("seed")),
        lock: OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.path().join("seed/telemetry.json.lock"))
            .unwrap(),
    };
    let mut group = c.benchmark_group("capture_into_100k_entries");
    let mut n = 0;
    group.bench_function("lookout", |b| {
        b.iter(|| {
            n += 1;
            lookout_capture(skills, n)
        })
    });
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("seed_000", |b| {
        b.iter(|| {
            n += 1;
            seed.capture(n)
        })
    });
    group.finish();
    latencies(skills, &seed);
    let total = skills.file().unwrap().total_entries().unwrap();
    println!("main file after the run: {total} entries (cap 100,000)");
}

/// 5,000 of Lookout's captures at 1,000/s offered and 50 of the seed's back to back:
/// p50, p99, p99.9 and max of each on the caller's thread.
fn latencies(skills: &Skills, seed: &SeedFile) {
    let histogram = || hdrhistogram::Histogram::<u64>::new(3).unwrap();
    let mut ours = histogram();
    let started = Instant::now();
    for n in 0..5_000u64 {
        let due = started + Duration::from_millis(n);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let at = Instant::now();
        lookout_capture(skills, 10_000_000 + n);
        let _ = ours.record(at.elapsed().as_nanos() as u64);
    }
    let mut theirs = histogram();
    for n in 0..50 {
        let at = Instant::now();
        seed.capture(20_000_000 + n);
        let _ = theirs.record(at.elapsed().as_nanos() as u64);
    }
    println!("\none capture into a file of 100,000 entries (µs):");
    peers::latency_table(&[("lookout", &ours), ("seed 000", &theirs)]);
}

criterion_group! {
    name = benches;
    config = peers::criterion();
    targets = capture_into_a_full_file
}
criterion_main!(benches);

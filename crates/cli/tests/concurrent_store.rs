//! Many processes, one store: 8 writer processes record 10,000 spans each into one base
//! directory at once while 4 readers run `lookout traces` in a loop. Every span must be
//! stored exactly once (in SQLite and in the NDJSON log), no writer may warn or drop, and
//! no reader may fail.
//!
//! A test binary without the libtest harness: with `LOOKOUT_STORE_WRITER=N` it is writer N.

use lookout::store::{Store, StoreConfig};
use lookout::trace::{SpanId, TraceId};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WRITER_ENV: &str = "LOOKOUT_STORE_WRITER";
const WRITERS: u64 = 8;
const READERS: usize = 4;
const SPANS: u64 = 10_000;
/// Spans per trace: each writer writes 1,000 traces of 10.
const PER_TRACE: u64 = 10;

fn main() -> ExitCode {
    if let Ok(n) = std::env::var(WRITER_ENV) {
        let base = std::env::var(lookout::store::BASE_DIR_ENV).expect("a base directory");
        return writer(n.parse().expect("a writer number"), Path::new(&base));
    }
    match parent() {
        Ok(summary) => {
            println!("concurrent_store: {summary}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("concurrent_store: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// Records this writer's spans in batches as a pipeline would, flushing every 1,000.
fn writer(n: u64, base: &Path) -> ExitCode {
    let store = Store::open(StoreConfig::new(base));
    let now = std::time::SystemTime::now();
    for i in 0..SPANS {
        let trace = u128::from(n) << 64 | u128::from(i / PER_TRACE) | 1 << 100;
        let mut span = lookout_export::testing::span(trace, n << 32 | (i + 1), "work");
        span.name = if i % PER_TRACE == 0 {
            format!("writer-{n}").into()
        } else {
            format!("step-{i}").into()
        };
        if i % PER_TRACE != 0 {
            span.parent_span_id = SpanId(n << 32 | (i / PER_TRACE * PER_TRACE + 1));
        }
        span.start_time = now;
        span.end_time = now + Duration::from_millis(1);
        store.record_spans([span]);
        if (i + 1) % 1000 == 0
            && let Err(e) = store.flush(Duration::from_secs(60))
        {
            eprintln!("writer {n}: flush: {e}");
            return ExitCode::FAILURE;
        }
    }
    let dropped = store.stats().dropped_total();
    if dropped > 0 {
        eprintln!("writer {n}: {dropped} dropped");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn parent() -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let base = dir.path();
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            Command::new(&me)
                .env(WRITER_ENV, n.to_string())
                .env(lookout::store::BASE_DIR_ENV, base)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let db = StoreConfig::new(base).db_path;
    while !db.exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (done, reads, base) = (done.clone(), reads.clone(), base.to_owned());
            std::thread::spawn(move || -> Result<(), String> {
                while !done.load(Ordering::Acquire) {
                    let output = Command::new(env!("CARGO_BIN_EXE_lookout"))
                        .args(["traces", "--json", "--limit", "5"])
                        .env(lookout::store::BASE_DIR_ENV, &base)
                        .output()
                        .map_err(|e| e.to_string())?;
                    if !output.status.success() {
                        return Err(format!(
                            "lookout traces failed: {}",
                            String::from_utf8_lossy(&output.stderr)
                        ));
                    }
                    serde_json::from_slice::<serde_json::Value>(&output.stdout)
                        .map_err(|e| format!("lookout traces printed no JSON: {e}"))?;
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let mut problems = Vec::new();
    for (n, writer) in writers.into_iter().enumerate() {
        let output = writer.wait_with_output().map_err(|e| e.to_string())?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() || !stderr.is_empty() {
            problems.push(format!("writer {n}: {} {stderr}", output.status));
        }
    }
    let writing = started.elapsed();
    done.store(true, Ordering::Release);
    for reader in readers {
        if let Err(problem) = reader.join().map_err(|_| "a reader panicked".to_owned())? {
            problems.push(problem);
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let stored = check(base)?;
    Ok(format!(
        "{WRITERS} processes x {SPANS} spans in {:.1} s, {stored} stored once each, \
         {} `lookout traces` runs by {READERS} readers meanwhile, none failed",
        writing.as_secs_f64(),
        reads.load(Ordering::Relaxed)
    ))
}

/// Every span of every writer in SQLite once and in the log once.
fn check(base: &Path) -> Result<usize, String> {
    let expected: HashSet<String> = (0..WRITERS)
        .flat_map(|n| {
            (0..SPANS).map(move |i| {
                let trace = u128::from(n) << 64 | u128::from(i / PER_TRACE) | 1 << 100;
                format!("{}{}", TraceId(trace), SpanId(n << 32 | (i + 1)))
            })
        })
        .collect();
    let conn = lookout::store::rusqlite::Connection::open(StoreConfig::new(base).db_path)
        .map_err(|e| e.to_string())?;
    let mut statement = conn
        .prepare("SELECT event_id FROM telemetry_spans")
        .map_err(|e| e.to_string())?;
    let indexed: Vec<String> = statement
        .query_map([], |r| r.get(0))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let indexed_set: HashSet<String> = indexed.iter().cloned().collect();
    if indexed.len() != expected.len() || indexed_set != expected {
        return Err(format!(
            "SQLite holds {} spans ({} distinct), {} expected",
            indexed.len(),
            indexed_set.len(),
            expected.len()
        ));
    }
    let mut logged = Vec::new();
    for entry in std::fs::read_dir(base.join("raw")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            for line in text.lines() {
                let value: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| format!("a torn or mixed line: {e}"))?;
                logged.push(value["event_id"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let logged_set: HashSet<String> = logged.iter().cloned().collect();
    if logged.len() != expected.len() || logged_set != expected {
        return Err(format!(
            "the log holds {} lines ({} distinct), {} expected",
            logged.len(),
            logged_set.len(),
            expected.len()
        ));
    }
    Ok(indexed.len())
}

//! kill -9: a child writes records and prints the ids each `flush()` acknowledged; it is
//! killed with SIGKILL at random points. After every kill, a new open must find every
//! acknowledged id in SQLite and in the NDJSON log exactly once, `PRAGMA integrity_check`
//! `ok`, the log and the index holding the same ids, and every torn line set aside.
//!
//! A test binary without the libtest harness: with `LOOKOUT_CRASH_CHILD=DIR` it is the
//! child. Rounds and records per child: `LOOKOUT_CRASH_ROUNDS` (default 10) and
//! `LOOKOUT_CRASH_RECORDS` (default 10,000); the full run is 50 x 100,000.

use lookout_store::{Record, RecordKind, Store, StoreConfig};
use rusqlite::Connection;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

const CHILD_ENV: &str = "LOOKOUT_CRASH_CHILD";
/// Lines the recovering opens indexed from the log: logged by a child, not indexed yet.
static REPLAYED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Records between flushes in the child.
const PER_FLUSH: usize = 250;

fn main() -> ExitCode {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir), env_number("LOOKOUT_CRASH_RECORDS", 10_000));
        return ExitCode::SUCCESS;
    }
    match parent() {
        Ok(summary) => {
            println!("crash: {summary}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("crash: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Records `total` runs, printing `ack ID...` after each flush that succeeded.
fn child(dir: &Path, total: usize) {
    let store = Store::open(StoreConfig::new(dir));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let pid = std::process::id();
    let mut pending = Vec::with_capacity(PER_FLUSH);
    for n in 0..total {
        let record = Record::new(RecordKind::Run, json!({"pid": pid, "n": n}));
        pending.push(record.event_id.clone());
        store.record(record);
        if pending.len() == PER_FLUSH {
            if store.flush(Duration::from_secs(30)).is_ok() {
                let _ = writeln!(out, "ack {}", pending.join(" "));
                let _ = out.flush();
            }
            pending.clear();
        }
    }
}

/// A xorshift generator: no dependency, and the seed in the output reproduces a run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn parent() -> Result<String, String> {
    let rounds = env_number("LOOKOUT_CRASH_ROUNDS", 10);
    let records = env_number("LOOKOUT_CRASH_RECORDS", 10_000);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // LOOKOUT_CRASH_KEEP: leave the directory for inspection.
    let dir = if std::env::var_os("LOOKOUT_CRASH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("crash: keeping {}", kept.display());
        Err(kept)
    } else {
        Ok(dir)
    };
    let dir_path = match &dir {
        Ok(d) => d.path().to_owned(),
        Err(p) => p.clone(),
    };
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut random = Random(seed);
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut acknowledged: HashSet<String> = HashSet::new();
    // How long one child takes to write everything, measured by the first one.
    let mut full_run: Option<Duration> = None;
    let mut killed_mid_run = 0;
    let mut torn = 0;
    for round in 0..rounds {
        let mut child = Command::new(&me)
            .env(CHILD_ENV, &dir_path)
            .env("LOOKOUT_CRASH_RECORDS", records.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            // Only whole lines: the kill can cut the last one mid-id.
            while stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
                if let Some(rest) = line.strip_prefix("ack ").and_then(|l| l.strip_suffix('\n')) {
                    ids.extend(rest.split(' ').map(str::to_owned));
                }
                line.clear();
            }
            ids
        });
        let started = Instant::now();
        match full_run {
            None => {
                let status = child.wait().map_err(|e| e.to_string())?;
                if !status.success() {
                    return Err(format!("the first child failed: {status}"));
                }
                full_run = Some(started.elapsed());
            }
            Some(full) => {
                let at = Duration::from_nanos(random.next() % (full.as_nanos() as u64).max(1));
                std::thread::sleep(at);
                // SAFETY: kill(2) on the pid of a child we spawned.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
                let status = child.wait().map_err(|e| e.to_string())?;
                if status.code().is_none() {
                    killed_mid_run += 1;
                }
            }
        }
        let acked = reader.join().map_err(|_| "reader panicked")?;
        acknowledged.extend(acked);
        torn += verify(&dir_path, &acknowledged)
            .map_err(|e| format!("round {round} (seed {seed}): {e}"))?;
    }
    Ok(format!(
        "{rounds} rounds of {records} records, {killed_mid_run} killed mid-run, {} ids \
         acknowledged, all durable; {} lines replayed into SQLite, {torn} torn lines set \
         aside (seed {seed})",
        acknowledged.len(),
        REPLAYED.load(std::sync::atomic::Ordering::Relaxed)
    ))
}

/// Opens the store (which recovers), then checks everything the round must show;
/// returns the torn lines this open set aside.
fn verify(dir: &Path, acknowledged: &HashSet<String>) -> Result<u64, String> {
    let config = StoreConfig::new(dir);
    let store = Store::open(config.clone());
    store
        .flush(Duration::from_secs(60))
        .map_err(|e| format!("recovery flush: {e}"))?;
    let stats = store.stats();
    let torn_now = stats.torn_lines;
    REPLAYED.fetch_add(stats.replayed, std::sync::atomic::Ordering::Relaxed);
    drop(store);

    let conn = Connection::open(&config.db_path).map_err(|e| e.to_string())?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if check != "ok" {
        return Err(format!("integrity_check: {check}"));
    }
    let mut statement = conn
        .prepare("SELECT event_id FROM telemetry_records")
        .map_err(|e| e.to_string())?;
    let indexed: HashSet<String> = statement
        .query_map([], |r| r.get(0))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;

    let mut logged: HashMap<String, usize> = HashMap::new();
    let raw = dir.join("raw");
    for entry in std::fs::read_dir(&raw).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_none_or(|e| e != "ndjson") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(format!(
                "{} ends in a torn line after recovery",
                path.display()
            ));
        }
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("{}: a line that is not JSON: {e}", path.display()))?;
            let id = value["event_id"].as_str().unwrap_or_default().to_owned();
            *logged.entry(id).or_default() += 1;
        }
    }
    if let Some((id, n)) = logged.iter().find(|(_, n)| **n > 1) {
        return Err(format!("{id} is in the log {n} times"));
    }
    let missing_index: Vec<_> = acknowledged
        .iter()
        .filter(|id| !indexed.contains(*id))
        .collect();
    if !missing_index.is_empty() {
        let id = missing_index[0];
        let in_log = logged.contains_key(id.as_str());
        return Err(format!(
            "{} acknowledged ids missing from SQLite, {id} among them ({} the log)",
            missing_index.len(),
            if in_log { "in" } else { "not in" }
        ));
    }
    let missing_log = acknowledged
        .iter()
        .filter(|id| !logged.contains_key(*id))
        .count();
    if missing_log > 0 {
        return Err(format!(
            "{missing_log} acknowledged ids missing from the log"
        ));
    }
    let log_ids: HashSet<String> = logged.into_keys().collect();
    if log_ids != indexed {
        return Err(format!(
            "the log ({}) and the index ({}) disagree",
            log_ids.len(),
            indexed.len()
        ));
    }
    // What was torn is kept: as many lines set aside as the recovering opens counted,
    // and at least the one this open found, if any.
    let torn_dir = raw.join("torn");
    let aside: usize = std::fs::read_dir(&torn_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| std::fs::read_to_string(e.path()).map_or(0, |t| t.lines().count()))
                .sum()
        })
        .unwrap_or(0);
    if (torn_now as usize) > aside {
        return Err(format!(
            "{torn_now} torn lines counted, {aside} kept in raw/torn"
        ));
    }
    Ok(torn_now)
}

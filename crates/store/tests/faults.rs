//! Faults the store meets on real machines: a read-only base directory, a file system
//! that fills up (a small tmpfs where the machine lets us mount one), a reserve of free
//! space or a size limit reached, a truncated database file. In each the host finishes
//! its work, says one warning, counts its drops, and the next healthy open recovers what
//! the NDJSON log holds.
//!
//! A test binary without the libtest harness: each scenario runs in a child process (so
//! its stderr can be read) started as `faults child SCENARIO DIR`.

use lookout_store::{DropReason, Record, RecordKind, Store, StoreConfig};
use rusqlite::Connection;
use serde_json::json;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(&args[2], Path::new(&args[3]));
        return ExitCode::SUCCESS;
    }
    let mut failures = Vec::new();
    for (name, scenario) in [
        (
            "read-only directory",
            read_only as fn() -> Result<String, String>,
        ),
        ("full file system", full_file_system),
        ("free-space reserve", reserve),
        ("size limit", size_limit),
        ("truncated database", truncated_database),
    ] {
        match scenario() {
            Ok(summary) => println!("faults: {name}: {summary}"),
            Err(problem) => {
                eprintln!("faults: {name}: {problem}");
                failures.push(name);
            }
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Records `n` runs of ~1 KiB, flushing every 100; prints the stats as JSON.
fn child(scenario: &str, dir: &Path) {
    let mut config = StoreConfig::new(dir);
    let n = match scenario {
        "full" => {
            config.min_free_bytes = 0;
            5_000
        }
        "reserve" => {
            config.min_free_bytes = u64::MAX;
            500
        }
        "size" => {
            config.max_bytes = Some(1);
            500
        }
        _ => 500,
    };
    let store = Store::open(config);
    let padding = "x".repeat(1000);
    let mut failed_flushes = 0;
    for i in 0..n {
        store.record(Record::new(
            RecordKind::Run,
            json!({"n": i, "padding": padding}),
        ));
        if (i + 1) % 100 == 0 && store.flush(Duration::from_secs(30)).is_err() {
            failed_flushes += 1;
        }
    }
    let stats = store.stats();
    let dropped: serde_json::Map<String, serde_json::Value> = DropReason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), stats.dropped(*r).into()))
        .collect();
    println!(
        "{}",
        json!({"logged": stats.logged, "dropped": dropped, "failed_flushes": failed_flushes})
    );
}

struct ChildRun {
    stats: serde_json::Value,
    warnings: Vec<String>,
}

fn run_child(scenario: &str, dir: &Path) -> Result<ChildRun, String> {
    let output = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["child", scenario])
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "the host did not finish its work: {} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stats = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("no stats from the child: {e}"))?;
    let warnings = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("lookout: store:"))
        .map(str::to_owned)
        .collect();
    Ok(ChildRun { stats, warnings })
}

/// Exactly one warning, saying one of `about`.
fn one_warning(run: &ChildRun, about: &[&str]) -> Result<(), String> {
    match run.warnings.as_slice() {
        [warning] if about.iter().any(|a| warning.contains(a)) => Ok(()),
        other => Err(format!(
            "expected one warning about {about:?}, got {other:?}"
        )),
    }
}

fn dropped(run: &ChildRun, reason: DropReason) -> u64 {
    run.stats["dropped"][reason.as_str()].as_u64().unwrap_or(0)
}

/// Root ignores permissions: a read-only mount is the only read-only directory for it.
fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

fn mount_tmpfs(dir: &Path, options: &str) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

fn unmount(dir: &Path) {
    let _ = Command::new("umount").arg(dir).status();
}

fn read_only() -> Result<String, String> {
    let parent = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = parent.path().join("ro");
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    let mounted = is_root() && mount_tmpfs(&dir, "ro,size=1m");
    if !mounted {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555))
            .map_err(|e| e.to_string())?;
        if is_root() {
            return Err("running as root and no read-only tmpfs could be mounted".into());
        }
    }
    let run = run_child("plain", &dir);
    if mounted {
        unmount(&dir);
    }
    let run = run?;
    one_warning(&run, &["cannot open"])?;
    let n = dropped(&run, DropReason::Unwritable);
    if n != 500 || run.stats["logged"] != 0 {
        return Err(format!("500 unwritable drops expected: {}", run.stats));
    }
    Ok(format!(
        "500 records dropped as unwritable, one warning ({})",
        if mounted {
            "read-only tmpfs"
        } else {
            "mode 0555"
        }
    ))
}

fn full_file_system() -> Result<String, String> {
    let parent = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = parent.path().join("small");
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    if !(is_root() && mount_tmpfs(&dir, "size=1m")) {
        let message = "cannot mount a small tmpfs here; the reserve scenario covers the guard";
        if std::env::var("CI").as_deref() == Ok("true") && is_root() {
            return Err(message.into());
        }
        return Ok(format!("SKIPPED: {message}"));
    }
    let run = run_child("full", &dir);
    // Copy what the full disk holds somewhere with room, then open it there.
    let copy = parent.path().join("copy");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&dir)
        .arg(&copy)
        .status()
        .map_err(|e| e.to_string());
    unmount(&dir);
    let run = run?;
    copied?;
    one_warning(&run, &["No space left", "disk is full"])?;
    let full = dropped(&run, DropReason::DiskFull);
    let logged = run.stats["logged"].as_u64().unwrap_or(0);
    if full == 0 || logged + full + dropped(&run, DropReason::IndexUnavailable) < 5_000 {
        return Err(format!("disk_full drops expected: {}", run.stats));
    }
    let recovered = recover(&copy)?;
    Ok(format!(
        "{logged} records logged and {full} dropped as disk_full on a 1 MiB tmpfs, one \
         warning; a healthy open indexes all {recovered} the log holds"
    ))
}

/// Opens the store at `dir` (recovering), and checks the index holds every record of the
/// log; returns how many.
fn recover(dir: &Path) -> Result<usize, String> {
    let config = StoreConfig::new(dir);
    let store = Store::open(config.clone());
    store
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("recovery: {e}"))?;
    drop(store);
    let mut logged = std::collections::HashSet::new();
    for entry in std::fs::read_dir(dir.join("raw")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())?
                .lines()
            {
                let value: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| e.to_string())?;
                logged.insert(value["event_id"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let conn = Connection::open(&config.db_path).map_err(|e| e.to_string())?;
    let mut statement = conn
        .prepare("SELECT event_id FROM telemetry_records")
        .map_err(|e| e.to_string())?;
    let indexed: std::collections::HashSet<String> = statement
        .query_map([], |r| r.get(0))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if indexed != logged {
        return Err(format!(
            "after recovery the index holds {} ids, the log {}",
            indexed.len(),
            logged.len()
        ));
    }
    Ok(indexed.len())
}

fn reserve() -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let run = run_child("reserve", dir.path())?;
    one_warning(&run, &["refusing new records"])?;
    if dropped(&run, DropReason::DiskFull) != 500 || run.stats["failed_flushes"] != 5 {
        return Err(format!("500 refused records expected: {}", run.stats));
    }
    Ok("every record refused and counted while free space is under the reserve".into())
}

fn size_limit() -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let run = run_child("size", dir.path())?;
    one_warning(&run, &["refusing new records"])?;
    if dropped(&run, DropReason::SizeLimit) != 500 {
        return Err(format!("500 size_limit drops expected: {}", run.stats));
    }
    Ok("every record refused and counted past the size limit".into())
}

fn truncated_database() -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let first = run_child("plain", dir.path())?;
    if first.stats["logged"] != 500 || !first.warnings.is_empty() {
        return Err(format!("a healthy first run expected: {}", first.stats));
    }
    let db = StoreConfig::new(dir.path()).db_path;
    // Checkpoint the WAL into the file, then cut the file in half.
    Connection::open(&db)
        .and_then(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)"))
        .map_err(|e| e.to_string())?;
    let len = std::fs::metadata(&db).map_err(|e| e.to_string())?.len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .and_then(|f| f.set_len(len / 2))
        .map_err(|e| e.to_string())?;
    let second = run_child("plain", dir.path())?;
    one_warning(&second, &["not a usable database"])?;
    if second.stats["dropped"]
        .as_object()
        .is_some_and(|d| d.values().any(|v| v != 0))
    {
        return Err(format!("no drops expected once rebuilt: {}", second.stats));
    }
    let recovered = recover(dir.path())?;
    if recovered != 1000 {
        return Err(format!(
            "1000 records expected after the rebuild, {recovered} found"
        ));
    }
    Ok("set aside, rebuilt from the log: all 1000 records of both runs indexed".into())
}

//! What `analyze` and `eval convert` read: seed 001 session files, seed 000
//! `telemetry.json` files and archives, a directory of them (recursively, with a
//! progress bar), or the store's `session` and `skill_entry` records.

use crate::error::CliError;
use lookout::sessions::SessionTelemetry;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Sessions and skill entries read.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) sessions: Vec<SessionTelemetry>,
    pub(crate) entries: Vec<Value>,
    /// Files in a directory that were neither (named on stderr, left out).
    pub(crate) skipped: usize,
}

/// Reads `path` (a file or a directory), or the store when `None`.
pub(crate) fn load(path: Option<&Path>) -> Result<Loaded, CliError> {
    let Some(path) = path else {
        return from_store();
    };
    if !path.is_dir() {
        let mut loaded = Loaded::default();
        read_one(path, &mut loaded)?;
        return Ok(loaded);
    }
    let files = json_files(path)?;
    let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
            .expect("a valid template"),
    );
    let mut loaded = Loaded::default();
    for file in &files {
        if let Err(error) = read_one(file, &mut loaded) {
            bar.suspend(|| eprintln!("lookout: skipped: {error}"));
            loaded.skipped += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(loaded)
}

/// Every `*.json` file under `dir` (hidden files and directories left out), sorted.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| CliError::InvalidInput(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Adds one file's sessions or entries.
fn read_one(path: &Path, loaded: &mut Loaded) -> Result<(), CliError> {
    let invalid = |why: String| CliError::InvalidInput(format!("{}: {why}", path.display()));
    // A live telemetry.json is read under its lock, never half an append.
    let sidecar = path.with_file_name(format!("{}.state", lookout::skills::FILE_NAME));
    if path
        .file_name()
        .is_some_and(|n| n == lookout::skills::FILE_NAME)
        && sidecar.exists()
    {
        let dir = path.parent().unwrap_or(Path::new("."));
        if let Ok(entries) = lookout::skills::TelemetryFile::new(dir).read_entries() {
            loaded.entries.extend(entries);
            return Ok(());
        }
    }
    let bytes = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let first = match &value {
        Value::Array(items) => items.first(),
        other => Some(other),
    };
    let Some(first) = first else {
        return Ok(());
    };
    if first.get("session_id").is_some() || first.get("sessions").is_some() {
        let sessions = lookout::sessions::parse(&bytes)
            .map_err(|e| invalid(format!("not a session file: {e}")))?;
        loaded.sessions.extend(sessions);
    } else if first.get("skill").is_some() && first.get("duration_ms").is_some() {
        let Value::Array(entries) = value else {
            return Err(invalid("a skill entry file is a JSON array".into()));
        };
        loaded.entries.extend(entries);
    } else {
        return Err(invalid(
            "neither a session file (seed 001) nor skill entries (seed 000)".into(),
        ));
    }
    Ok(())
}

/// The store's sessions and skill entries.
fn from_store() -> Result<Loaded, CliError> {
    let store = super::store_config()?;
    let db = super::open_store_reader(&store)?;
    let bodies = |kind: &str| -> Result<Vec<Value>, CliError> {
        let mut statement = db
            .prepare("SELECT body FROM telemetry_records WHERE kind = ?1 ORDER BY time_unix_nano")
            .map_err(|e| super::read_error(&store.db_path, e))?;
        let rows = statement
            .query_map([kind], |row| row.get::<_, String>(0))
            .map_err(|e| super::read_error(&store.db_path, e))?;
        Ok(rows
            .filter_map(Result::ok)
            .filter_map(|body| serde_json::from_str(&body).ok())
            .collect())
    };
    let sessions = bodies("session")?
        .into_iter()
        .filter_map(|body| serde_json::from_value(body).ok())
        .collect();
    Ok(Loaded {
        sessions,
        entries: bodies("skill_entry")?,
        skipped: 0,
    })
}

//! Seed 000's weekly archives: entries that leave `telemetry.json` go to
//! `telemetry_archive/telemetry-YYYY-Www.json`, one JSON array per ISO week of their
//! timestamps, merged into the week's file when it exists and kept in time order.

use super::telemetry_file::{content_of, entry_time_ms, set_aside};
use lookout_export::calendar::iso_week;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The archive file of the ISO week that holds `time_ms` (Unix milliseconds).
pub fn archive_path(dir: &Path, time_ms: u64) -> PathBuf {
    let (year, week) = iso_week(UNIX_EPOCH + Duration::from_millis(time_ms));
    dir.join(format!("telemetry-{year:04}-W{week:02}.json"))
}

/// Adds `entries` to their weeks' archives in `dir`; an entry without a readable
/// timestamp goes to the week of `now_ms`. Each archive is written beside itself and
/// renamed over, so it is a whole JSON array at every moment.
pub(super) fn merge(dir: &Path, entries: Vec<Value>, now_ms: u64) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    let mut weeks: BTreeMap<PathBuf, Vec<Value>> = BTreeMap::new();
    for entry in entries {
        let time_ms = entry_time_ms(&entry).unwrap_or(now_ms);
        weeks
            .entry(archive_path(dir, time_ms))
            .or_default()
            .push(entry);
    }
    for (path, new) in weeks {
        let mut all = read_archive(&path)?;
        all.extend(new);
        // Stable: entries of the same millisecond keep the order they had.
        all.sort_by_key(|entry| entry_time_ms(entry).unwrap_or(now_ms));
        let (mut content, _) = content_of(&all)?;
        content.insert(0, b'[');
        content.extend_from_slice(b"\n]\n");
        let tmp = path.with_extension("json.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&content)?;
        file.sync_data()?;
        fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// A week's archive as it stands: empty when there is none; one that is not a JSON
/// array is set aside (kept) and the week starts again.
fn read_archive(path: &Path) -> io::Result<Vec<Value>> {
    match fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(entries) => Ok(entries),
            Err(_) => set_aside(path).map(|_| Vec::new()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

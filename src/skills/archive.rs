//! Seed 000's weekly archives: entries that leave `telemetry.json` go to
//! `telemetry_archive/telemetry-YYYY-Www.json`, one JSON array per ISO week of their
//! timestamps, merged into the week's file when it exists and kept in time order. Each
//! archive is written beside itself and renamed over, so it is a whole JSON array at
//! every moment; entries newer than the archive's last are appended to its bytes without
//! parsing them. Every week's new file is written before any is renamed, and the
//! directory is synced before the main file lets the entries go.

use super::files::{set_aside, sync_dir};
use super::lines::{self, CLOSING, Line};
use lookout_export::calendar::iso_week;
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
/// timestamp goes to the week of `now_ms`.
pub(super) fn merge(dir: &Path, entries: Vec<Line<'_>>, now_ms: u64) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    let mut weeks: BTreeMap<PathBuf, Vec<Line<'_>>> = BTreeMap::new();
    for mut entry in entries {
        let time_ms = *entry.time_ms.get_or_insert(now_ms);
        weeks
            .entry(archive_path(dir, time_ms))
            .or_default()
            .push(entry);
    }
    let mut written = Vec::with_capacity(weeks.len());
    for (path, mut new) in weeks {
        new.sort_by_key(|line| line.time_ms);
        let old = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => b"[\n]\n".to_vec(),
            Err(e) => return Err(e),
        };
        let bytes = match lines::content_of_file(&old) {
            // In Lookout's layout: append when every new entry is at or after its last.
            Some(content) => {
                let existing = content
                    .rsplit(|&b| b == b'\n')
                    .next()
                    .and_then(lines::time_of);
                let after = existing.is_none_or(|last| new[0].time_ms.is_some_and(|t| t >= last));
                if after {
                    appended(content, &new)
                } else {
                    sorted(lines::split(content), new)
                }
            }
            None => match serde_json::from_slice::<Vec<serde_json::Value>>(&old) {
                Ok(entries) => sorted(lines::of_values(&entries)?, new),
                Err(_) => {
                    set_aside(&path)?;
                    sorted(Vec::new(), new)
                }
            },
        };
        let tmp = path.with_extension("json.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_data()?;
        written.push((tmp, path));
    }
    for (tmp, path) in &written {
        fs::rename(tmp, path)?;
    }
    if let Some((_, path)) = written.first() {
        sync_dir(path)?;
    }
    Ok(())
}

/// The archive `content` with `new` after it.
fn appended(content: &[u8], new: &[Line<'_>]) -> Vec<u8> {
    let (tail, _) = lines::join(new);
    let mut bytes = Vec::with_capacity(content.len() + tail.len() + 8);
    bytes.push(b'[');
    bytes.extend_from_slice(content);
    if !content.is_empty() {
        bytes.push(b',');
    }
    bytes.extend_from_slice(&tail);
    bytes.extend_from_slice(CLOSING);
    bytes
}

/// `old` and `new` in time order (stable: entries of one millisecond keep their order).
fn sorted<'a>(mut all: Vec<Line<'a>>, new: Vec<Line<'a>>) -> Vec<u8> {
    all.extend(new);
    all.sort_by_key(|line| line.time_ms.unwrap_or(u64::MAX));
    appended(&[], &all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn line(ms: u64, i: u64) -> Line<'static> {
        let time = lookout_exporter_json::rfc3339(UNIX_EPOCH + Duration::from_millis(ms));
        let entry = json!({"timestamp": time, "skill": "s", "i": i});
        lines::of_values(&[entry]).unwrap().remove(0)
    }

    fn order(path: &Path) -> Vec<u64> {
        let entries: Vec<Value> = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        entries.iter().map(|e| e["i"].as_u64().unwrap()).collect()
    }

    #[test]
    fn later_entries_append_earlier_ones_merge_and_a_seed_archive_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let monday = 1_760_918_400_000; // 2025-10-20, ISO week 43
        let path = archive_path(dir.path(), monday);
        assert!(path.ends_with("telemetry-2025-W43.json"));
        merge(
            dir.path(),
            vec![line(monday + 10, 1), line(monday + 20, 2)],
            0,
        )
        .unwrap();
        let before = fs::read(&path).unwrap();
        merge(dir.path(), vec![line(monday + 30, 3)], 0).unwrap();
        let after = fs::read(&path).unwrap();
        assert_eq!(
            after[..before.len() - CLOSING.len()],
            before[..before.len() - CLOSING.len()],
            "appended"
        );
        merge(dir.path(), vec![line(monday + 15, 4)], 0).unwrap();
        assert_eq!(order(&path), [1, 4, 2, 3], "merged in time order");
        // An archive the seed wrote (indented): read, merged, rewritten in the layout.
        let seed: Vec<Value> = (0..2)
            .map(|i| {
                let time = lookout_exporter_json::rfc3339(
                    UNIX_EPOCH + Duration::from_millis(monday + 100 * i),
                );
                json!({"timestamp": time, "i": 10 + i})
            })
            .collect();
        fs::write(&path, serde_json::to_string_pretty(&seed).unwrap()).unwrap();
        merge(dir.path(), vec![line(monday + 50, 5)], 0).unwrap();
        assert_eq!(order(&path), [10, 5, 11]);
        assert!(lines::content_of_file(&fs::read(&path).unwrap()).is_some());
    }
}

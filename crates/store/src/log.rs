//! The NDJSON log: one file per UTC day, `raw/events_YYYYMMDD.ndjson`, that any number of
//! processes append to at once.
//!
//! An append takes the file's exclusive lock, so lines from two processes never
//! interleave. A process killed in the middle of an append leaves the last line torn (no
//! `\n`); the next append, or the next open, finds it under the same lock, copies it to
//! `raw/torn/` (kept, never deleted) and cuts it from the log, so the log holds whole
//! lines only.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The day file a write at `time` goes to: `events_YYYYMMDD.ndjson` (UTC).
pub(crate) fn day_file_name(time: SystemTime) -> String {
    let stamp = lookout_exporter_json::rfc3339(time);
    format!(
        "events_{}{}{}.ndjson",
        &stamp[..4],
        &stamp[5..7],
        &stamp[8..10]
    )
}

/// The day of a file name (`20261201`), if it is a day file.
pub(crate) fn day_of(file_name: &str) -> Option<&str> {
    let day = file_name.strip_prefix("events_")?.strip_suffix(".ndjson")?;
    (day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit())).then_some(day)
}

/// The log's directory and the files this process has written since its last sync.
#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    current: Option<(String, File)>,
    unsynced: Vec<File>,
}

/// What a repair of a file's end did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Repaired {
    /// Torn lines (0 or 1) set aside from the file's end.
    pub(crate) torn_lines: u64,
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// The file's length before: where the lines start.
    pub(crate) start: u64,
    /// Where they end.
    pub(crate) end: u64,
    /// What was repaired first.
    pub(crate) repaired: Repaired,
    /// The file appended to ([`identity`]): a clear may replace it after.
    pub(crate) identity: (u64, u64),
}

impl Log {
    /// The log in `dir` (created if missing).
    pub(crate) fn open(dir: &Path) -> io::Result<Log> {
        std::fs::create_dir_all(dir)?;
        Ok(Log {
            dir: dir.to_owned(),
            current: None,
            unsynced: Vec::new(),
        })
    }

    /// Appends `lines` (whole lines) to the day file of `time`, under its lock, after
    /// setting aside a torn line another process left.
    pub(crate) fn append(&mut self, time: SystemTime, lines: &[u8]) -> io::Result<Appended> {
        let name = day_file_name(time);
        if self.current.as_ref().is_none_or(|(n, _)| *n != name) {
            let file = open_for_append(&self.dir.join(&name))?;
            if let Some((_, previous)) = self.current.replace((name.clone(), file)) {
                self.unsynced.push(previous);
            }
        }
        let (name, file) = self.current.as_ref().expect("opened above");
        file.lock()?;
        let current = match is_current(&self.dir.join(name), file) {
            Ok(current) => current,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                let _ = file.unlock();
                return Err(e);
            }
        };
        if !current {
            // A clear rewrote the file while this one waited (or it was removed): append
            // to the one at its name now.
            let _ = file.unlock();
            let name = name.clone();
            let file = open_for_append(&self.dir.join(&name))?;
            if let Some((_, previous)) = self.current.replace((name, file)) {
                self.unsynced.push(previous);
            }
            return self.append(time, lines);
        }
        let result = repair_tail(&self.dir, name, file).and_then(|repaired| {
            let metadata = file.metadata()?;
            let start = metadata.len();
            let mut writer: &File = file;
            writer.write_all(lines)?;
            Ok(Appended {
                start,
                end: start + lines.len() as u64,
                repaired,
                identity: device_and_inode(&metadata),
            })
        });
        let _ = file.unlock();
        result
    }

    /// Makes everything appended so far durable (`fdatasync` of each file written).
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        for file in self.unsynced.drain(..) {
            file.sync_data()?;
        }
        if let Some((_, file)) = &self.current {
            file.sync_data()?;
        }
        Ok(())
    }

    /// The day files, oldest first.
    pub(crate) fn day_files(&self) -> io::Result<Vec<PathBuf>> {
        day_files(&self.dir)
    }
}

/// The day files in `dir`, oldest first.
pub(crate) fn day_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(day_of)
                    .is_some()
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    files.sort();
    Ok(files)
}

/// Whether `file` is what `path` names now (a clear renames a rewritten file over it).
fn is_current(path: &Path, file: &File) -> io::Result<bool> {
    Ok(device_and_inode(&file.metadata()?) == identity(path)?)
}

/// The identity of the file `path` names now (device and inode).
pub(crate) fn identity(path: &Path) -> io::Result<(u64, u64)> {
    std::fs::metadata(path).map(|m| device_and_inode(&m))
}

fn device_and_inode(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

/// Removes from every day file in `dir` the lines `drop` picks: each file with such lines
/// is written beside itself, synced and renamed over it, under its lock, so that a
/// reader sees the old file or the new one and an appender waiting on the old one writes
/// to the new one. Still under the lock, `rewritten(name, map)` is told of each rewritten
/// file with `map`, which takes an offset into the old file (a line's end) to the same
/// place in the new one. Returns each file rewritten with the lines it lost.
pub(crate) fn remove_lines(
    dir: &Path,
    mut drop: impl FnMut(&[u8]) -> bool,
    mut rewritten: impl FnMut(&str, &dyn Fn(u64) -> u64) -> io::Result<()>,
) -> io::Result<Vec<(String, u64)>> {
    let mut done = Vec::new();
    for path in day_files(dir)? {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        // Another clear may rename the file between the open and the lock: open again.
        let file = loop {
            let file = open_for_append(&path)?;
            file.lock()?;
            if is_current(&path, &file)? {
                break file;
            }
            let _ = file.unlock();
        };
        let result = (|| -> io::Result<u64> {
            repair_tail(dir, &name, &file)?;
            let data = std::fs::read(&path)?;
            let mut kept = Vec::with_capacity(data.len());
            // (old end, new end) of every line, for the offset map.
            let mut ends = Vec::new();
            let mut old_end = 0u64;
            let mut removed = 0;
            for line in data.split_inclusive(|&b| b == b'\n') {
                old_end += line.len() as u64;
                if drop(line.strip_suffix(b"\n").unwrap_or(line)) {
                    removed += 1;
                } else {
                    kept.extend_from_slice(line);
                }
                ends.push((old_end, kept.len() as u64));
            }
            if removed == 0 {
                return Ok(0);
            }
            let aside = dir.join(format!(".{name}.rewrite"));
            let mut out = File::create(&aside)?;
            out.write_all(&kept)?;
            out.sync_all()?;
            std::fs::rename(&aside, &path)?;
            File::open(dir)?.sync_all()?;
            let map = |offset: u64| match ends.binary_search_by_key(&offset, |(old, _)| *old) {
                Ok(i) => ends[i].1,
                // Inside a line, or past the end: where the kept bytes before it end.
                Err(0) => 0,
                Err(i) => ends[i - 1].1,
            };
            rewritten(&name, &map)?;
            Ok(removed)
        })();
        let _ = file.unlock();
        let removed = result?;
        if removed > 0 {
            done.push((name, removed));
        }
    }
    Ok(done)
}

fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
}

/// With the file's lock held: when the file does not end in `\n`, its last line is torn
/// (its writer died mid-append). The fragment is appended to `torn/{name}.torn`, synced,
/// and cut from the log.
fn repair_tail(dir: &Path, name: &str, file: &File) -> io::Result<Repaired> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Repaired::default());
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(Repaired::default());
    }
    let start = last_line_start(file, len)?;
    let mut fragment = vec![0u8; usize::try_from(len - start).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut fragment, start)?;
    let torn_dir = dir.join("torn");
    std::fs::create_dir_all(&torn_dir)?;
    let mut aside = open_for_append(&torn_dir.join(format!("{name}.torn")))?;
    fragment.push(b'\n');
    aside.write_all(&fragment)?;
    aside.sync_data()?;
    file.set_len(start)?;
    Ok(Repaired { torn_lines: 1 })
}

/// The offset just after the last `\n` before `len` (0 if there is none).
fn last_line_start(file: &File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// What [`scan`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// The offset after the last whole line.
    pub(crate) end: u64,
    /// What was repaired first.
    pub(crate) repaired: Repaired,
    /// The file read ([`identity`]): a clear may replace it after.
    pub(crate) identity: (u64, u64),
}

/// Reads the whole lines of `path` from `from` on, under its lock (after setting aside a
/// torn last line), calling `line` for each.
pub(crate) fn scan(path: &Path, from: u64, mut line: impl FnMut(&[u8])) -> io::Result<Scanned> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("events.ndjson")
        .to_owned();
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = loop {
        let file = open_for_append(path)?;
        file.lock()?;
        if is_current(path, &file)? {
            break file;
        }
        let _ = file.unlock();
    };
    let identity = identity(path);
    let repaired = repair_tail(dir, &name, &file);
    let len = file.metadata().map(|m| m.len());
    let _ = file.unlock();
    let (repaired, len, identity) = (repaired?, len?, identity?);
    // Lines appended after `len` by live writers are theirs to index.
    let from = from.min(len);
    let mut data = vec![0u8; usize::try_from(len - from).unwrap_or(usize::MAX)];
    file.read_exact_at(&mut data, from)?;
    let mut end = from;
    for piece in data.split_inclusive(|&b| b == b'\n') {
        if piece.last() != Some(&b'\n') {
            break;
        }
        end += piece.len() as u64;
        let text = &piece[..piece.len() - 1];
        if !text.is_empty() {
            line(text);
        }
    }
    Ok(Scanned {
        end,
        repaired,
        identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn day_files_are_named_by_utc_date() {
        let time = UNIX_EPOCH + Duration::from_secs(1_764_547_200); // 2025-12-01T00:00:00Z
        assert_eq!(day_file_name(time), "events_20251201.ndjson");
        assert_eq!(day_of("events_20251201.ndjson"), Some("20251201"));
        assert_eq!(day_of("events_2025.ndjson"), None);
    }

    #[test]
    fn a_torn_line_is_set_aside_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let mut log = Log::open(dir.path()).unwrap();
        log.append(now, b"{\"a\":1}\n").unwrap();
        let path = dir.path().join(day_file_name(now));
        // A writer died half-way through a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"b\":")
            .unwrap();
        let appended = log.append(now, b"{\"c\":3}\n").unwrap();
        assert_eq!(appended.repaired.torn_lines, 1);
        assert_eq!((appended.start, appended.end), (8, 16));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"c\":3}\n"
        );
        let aside = dir
            .path()
            .join("torn")
            .join(format!("{}.torn", day_file_name(now)));
        assert_eq!(std::fs::read_to_string(aside).unwrap(), "{\"b\":\n");

        let mut lines = Vec::new();
        let end = scan(&path, 0, |l| lines.push(l.to_vec())).unwrap().end;
        assert_eq!(lines, [b"{\"a\":1}".to_vec(), b"{\"c\":3}".to_vec()]);
        assert_eq!(end, std::fs::metadata(&path).unwrap().len());
        let again = scan(&path, end, |_| panic!("nothing new")).unwrap().end;
        assert_eq!(again, end);
    }
}

//! Seed 000's `telemetry.json`: a JSON array of skill entries that people read with `jq`,
//! appended in place so that one capture costs the same into an empty file as into one of
//! 100,000 entries (the seed reads, appends to and rewrites the whole array every time).
//!
//! The file is `[`, the entries one per line (`\n{…},\n{…}`), a reserve of spaces, and
//! `\n]\n`: a JSON array. An append writes `,\n{entry}` into the reserve with one
//! positioned write. A sidecar, `telemetry.json.state`, is both the lock (an exclusive
//! `flock`, so threads and processes take turns) and the state: where the reserve
//! starts, how many entries there are, the oldest entry's time. When the reserve runs
//! out, or rotation is due, the file is written anew beside itself and renamed over it,
//! with a reserve as large as its content between 64 KiB and 8 MiB (so rewrites are
//! amortised): a reader holds either the whole old file or the whole new one.
//!
//! Rotation (seed 000): entries older than 7 days go to `telemetry_archive/telemetry-YYYY-Www.json`
//! by ISO week ([`super::archive`]), checked at most once an hour (the oldest entry's time
//! is in the state, so the check costs nothing); when the file holds 100,000 entries the
//! oldest tenth is archived the same way. Nothing is deleted. A rotation that fails (an
//! archive that cannot be written) is tried again an hour later; the capture goes on.
//!
//! Crashes: an append writes the entry, then the state. A process killed between the two,
//! or in the middle of the entry's write, leaves bytes past the state's end of entries;
//! the next append (or read) finds the reserve does not start with a space and blanks it
//! again (that entry was never acknowledged). Until then a reader sees those bytes. A
//! file changed by another program (the seed's own tool, an editor) no longer matches
//! the state and is read again whole and adopted; a file that is not a JSON array is set
//! aside as `telemetry.json.invalid-…`, never deleted. A crash during rotation can leave
//! an entry in both an archive and the main file, never in neither. [`TelemetryFile::sync`]
//! makes what was appended survive a power loss (file, state and directory synced).
//!
//! Readers: `jq` and any JSON parser read the file at any time. A reader that does not
//! take the lock and whose reads straddle an append's single write can see that entry
//! half written; [`TelemetryFile::read_entries`] takes the lock and never does.

use super::archive;
use super::files::{FileId, id_of, open_rw, read_at, set_aside, sync_dir, write_at};
use super::lines::{self, CLOSING, entry_time_ms, unix_ms};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The file's name in its directory.
pub const FILE_NAME: &str = "telemetry.json";
/// The archives' directory, beside the file.
pub const ARCHIVE_DIR: &str = "telemetry_archive";

/// The smallest and largest reserve a rewrite leaves.
const RESERVE: (usize, usize) = (64 * 1024, 8 * 1024 * 1024);
/// The state record's fixed size.
const STATE_LEN: usize = 256;
/// The state record's first word (and format version).
const STATE_MAGIC: &str = "lookout-telemetry-json/2";

/// When entries leave the main file for the archives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation {
    /// Entries older than this are archived (seed 000: 7 days).
    pub max_age: Duration,
    /// The main file never holds more (seed 000: 100,000).
    pub max_entries: u64,
    /// Age is checked at most this often (an entry can stay this much past `max_age`).
    pub check_every: Duration,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_age: Duration::from_secs(7 * 86_400),
            max_entries: 100_000,
            check_every: Duration::from_secs(3600),
        }
    }
}

impl Rotation {
    /// Seed 000's policy with another cap.
    pub fn max_entries(mut self, max_entries: u64) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }
}

/// The clock rotation reads (injected by tests).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Seed 000's `telemetry.json` in a directory, shared by threads and processes.
pub struct TelemetryFile {
    path: PathBuf,
    state_path: PathBuf,
    archive_dir: PathBuf,
    rotation: Rotation,
    clock: Clock,
    open: parking_lot::Mutex<Option<Open>>,
}

impl std::fmt::Debug for TelemetryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryFile")
            .field("path", &self.path)
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

/// What an append reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Entries in the main file now (the seed's `total_entries`).
    pub total_entries: u64,
    /// Entries this append moved to the archives.
    pub archived: u64,
}

/// The open sidecar and data file.
struct Open {
    sidecar: File,
    data: Option<(File, FileId)>,
}

/// The sidecar's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    id: FileId,
    /// The data file's length (a file of another length was changed by someone else).
    len: u64,
    /// Where the reserve starts.
    end: u64,
    entries: u64,
    /// The oldest entry's time, Unix milliseconds (`u64::MAX`: none).
    oldest_ms: u64,
    /// When age was last checked, Unix milliseconds.
    checked_ms: u64,
    /// When a rotation last failed, Unix milliseconds (0: never).
    failed_ms: u64,
}

impl TelemetryFile {
    /// `telemetry.json` and `telemetry_archive/` in `dir` (created when first written),
    /// with seed 000's rotation and the system clock.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        TelemetryFile {
            path: dir.join(FILE_NAME),
            state_path: dir.join(format!("{FILE_NAME}.state")),
            archive_dir: dir.join(ARCHIVE_DIR),
            rotation: Rotation::default(),
            clock: Arc::new(SystemTime::now),
            open: parking_lot::Mutex::new(None),
        }
    }

    /// Another rotation policy.
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Another clock for rotation's "now".
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The archives' directory.
    pub fn archive_dir(&self) -> &Path {
        &self.archive_dir
    }

    /// Appends one entry (a JSON object, written compact on one line), rotating first
    /// when due. Durable against a crash of this process once it returns; [`Self::sync`]
    /// makes it durable against a crash of the machine.
    pub fn append(&self, entry: &serde_json::Value) -> io::Result<Appended> {
        let line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let time_ms = entry_time_ms(entry);
        self.locked(|held| {
            let now_ms = unix_ms((self.clock)());
            let mut archived = 0;
            if self.rotation_due(&held.state, now_ms) {
                match held.rotate(&self.rotation, now_ms) {
                    Ok(moved) => archived = moved,
                    // The entry is kept all the same; rotation is tried again later.
                    Err(_) => {
                        held.state.failed_ms = now_ms;
                        held.write_state()?;
                    }
                }
            }
            let prefix: &[u8] = if held.state.entries == 0 {
                b"\n"
            } else {
                b",\n"
            };
            let needed = (prefix.len() + line.len()) as u64;
            let state = held.state;
            if state.end + needed > state.reserve_end() {
                let content = held.content()?;
                held.rewrite(&content, state.entries, state.oldest_ms, needed)?;
            }
            let mut bytes = Vec::with_capacity(needed as usize);
            bytes.extend_from_slice(prefix);
            bytes.extend_from_slice(&line);
            write_at(held.data()?, &bytes, held.state.end)?;
            let state = &mut held.state;
            state.end += needed;
            state.entries += 1;
            state.oldest_ms = state.oldest_ms.min(time_ms.unwrap_or(u64::MAX));
            held.write_state()?;
            Ok(Appended {
                total_entries: held.state.entries,
                archived,
            })
        })
    }

    /// Entries in the main file (O(1): the state keeps the count).
    pub fn total_entries(&self) -> io::Result<u64> {
        self.locked(|held| Ok(held.state.entries))
    }

    /// The main file's entries, read under the lock.
    pub fn read_entries(&self) -> io::Result<Vec<serde_json::Value>> {
        self.locked(|held| {
            let mut content = b"[".to_vec();
            content.extend_from_slice(&held.content()?);
            content.extend_from_slice(CLOSING);
            serde_json::from_slice(&content).map_err(io::Error::other)
        })
    }

    /// Flushes the file and its state to disk (what was appended survives a power loss).
    pub fn sync(&self) -> io::Result<()> {
        self.locked(|held| {
            held.data()?.sync_data()?;
            held.sidecar.sync_data()
        })
    }

    /// Runs `work` holding the lock, with the state checked against the file: an
    /// interrupted append blanked, a changed file adopted, a missing one created.
    fn locked<T>(&self, work: impl FnOnce(&mut Held<'_>) -> io::Result<T>) -> io::Result<T> {
        let mut open = self.open.lock();
        if open.is_none() {
            if let Some(dir) = self.path.parent() {
                fs::create_dir_all(dir)?;
            }
            let sidecar = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.state_path)?;
            *open = Some(Open {
                sidecar,
                data: None,
            });
        }
        let open = open.as_mut().expect("opened above");
        open.sidecar.lock()?;
        // Unlocked however `work` ends, a panic included.
        let flock = Flock(&open.sidecar);
        let mut held = Held {
            path: &self.path,
            archive_dir: &self.archive_dir,
            sidecar: &open.sidecar,
            data: open.data.take(),
            state: State::empty(),
        };
        let result = held.check().and_then(|()| work(&mut held));
        open.data = held.data.take();
        drop(flock);
        result
    }

    fn rotation_due(&self, state: &State, now_ms: u64) -> bool {
        let every = self.rotation.check_every.as_millis() as u64;
        if now_ms.saturating_sub(state.failed_ms) < every {
            return false;
        }
        let age_due = now_ms.saturating_sub(state.checked_ms) >= every
            && state.oldest_ms < now_ms.saturating_sub(self.rotation.max_age.as_millis() as u64);
        age_due || state.entries >= self.rotation.max_entries.max(1)
    }
}

/// The sidecar's `flock`, released when dropped.
struct Flock<'a>(&'a File);

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// The files while the lock is held.
struct Held<'a> {
    path: &'a Path,
    archive_dir: &'a Path,
    sidecar: &'a File,
    data: Option<(File, FileId)>,
    state: State,
}

impl Held<'_> {
    fn data(&self) -> io::Result<&File> {
        self.data
            .as_ref()
            .map(|(file, _)| file)
            .ok_or_else(|| io::Error::other("telemetry.json is not open"))
    }

    /// Makes the state true of the file on disk: a missing file created, an
    /// interrupted append blanked, a file someone else changed adopted.
    fn check(&mut self) -> io::Result<()> {
        let recorded = read_state(self.sidecar)?;
        let (id, len) = match fs::metadata(self.path) {
            Ok(meta) => (id_of(&meta), meta.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.state = State::empty();
                return self.rewrite(&[], 0, u64::MAX, 0);
            }
            Err(e) => return Err(e),
        };
        if self.data.as_ref().is_none_or(|(_, held)| *held != id) {
            self.data = Some((open_rw(self.path)?, id));
        }
        match recorded.filter(|s| s.id == id && s.len == len && s.is_consistent()) {
            Some(state) => {
                self.state = state;
                self.blank_unacknowledged()
            }
            None => self.adopt(),
        }
    }

    /// Blanks what an append cut off left in the reserve (it was never acknowledged):
    /// the reserve starts with a space, or is used up.
    fn blank_unacknowledged(&self) -> io::Result<()> {
        let (end, reserve_end) = (self.state.end, self.state.reserve_end());
        let mut first = [0u8; 1];
        if end == reserve_end || read_at(self.data()?, &mut first, end)? == 0 || first[0] == b' ' {
            return Ok(());
        }
        let blank = vec![b' '; 64 * 1024];
        let mut at = end;
        while at < reserve_end {
            let n = (reserve_end - at).min(blank.len() as u64) as usize;
            write_at(self.data()?, &blank[..n], at)?;
            at += n as u64;
        }
        Ok(())
    }

    /// Reads a file the state does not describe and writes it anew in this format.
    fn adopt(&mut self) -> io::Result<()> {
        let data = self.data()?;
        let mut bytes = vec![0; data.metadata()?.len() as usize];
        let read = read_at(data, &mut bytes, 0)?;
        bytes.truncate(read);
        let entries: Vec<serde_json::Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            serde_json::from_slice(&bytes).or_else(|_| set_aside(self.path).map(|_| Vec::new()))?
        };
        let (content, oldest) = lines::join(&lines::of_values(&entries)?);
        self.state = State::empty();
        self.rewrite(&content, entries.len() as u64, oldest, 0)
    }

    /// Moves entries past the age, and the oldest beyond the cap, to the archives.
    fn rotate(&mut self, rotation: &Rotation, now_ms: u64) -> io::Result<u64> {
        let content = self.content()?;
        let cutoff = now_ms.saturating_sub(rotation.max_age.as_millis() as u64);
        let (mut old, mut kept): (Vec<_>, Vec<_>) = lines::split(&content)
            .into_iter()
            .partition(|line| line.time_ms.is_some_and(|ms| ms < cutoff));
        let cap = rotation.max_entries.max(1);
        if kept.len() as u64 >= cap {
            // Down to nine tenths, so that the next tenth of appends costs nothing.
            let keep = (cap - (cap / 10).max(1)) as usize;
            let over = kept.len() - keep;
            old.extend(kept.drain(..over));
        }
        let archived = old.len() as u64;
        archive::merge(self.archive_dir, old, now_ms)?;
        let (content, oldest) = lines::join(&kept);
        self.state.checked_ms = now_ms;
        self.rewrite(&content, kept.len() as u64, oldest, 0)?;
        Ok(archived)
    }

    /// The entries' bytes between `[` and the reserve.
    fn content(&self) -> io::Result<Vec<u8>> {
        let mut content = vec![0; self.state.end.saturating_sub(1) as usize];
        if read_at(self.data()?, &mut content, 1)? != content.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "telemetry.json is shorter than its state says",
            ));
        }
        Ok(content)
    }

    /// Writes `[` + `content` + a reserve + `]` beside the file and renames it over.
    fn rewrite(
        &mut self,
        content: &[u8],
        entries: u64,
        oldest_ms: u64,
        at_least: u64,
    ) -> io::Result<()> {
        let reserve = content
            .len()
            .clamp(RESERVE.0, RESERVE.1)
            .max(2 * at_least as usize);
        let tmp = self.path.with_file_name(format!(".{FILE_NAME}.tmp"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let mut out = io::BufWriter::new(file);
        out.write_all(b"[")?;
        out.write_all(content)?;
        io::copy(&mut io::repeat(b' ').take(reserve as u64), &mut out)?;
        out.write_all(CLOSING)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_data()?;
        let id = id_of(&file.metadata()?);
        fs::rename(&tmp, self.path)?;
        sync_dir(self.path)?;
        self.data = Some((file, id));
        self.state = State {
            id,
            len: (1 + content.len() + reserve + CLOSING.len()) as u64,
            end: 1 + content.len() as u64,
            entries,
            oldest_ms,
            checked_ms: self.state.checked_ms,
            failed_ms: self.state.failed_ms,
        };
        self.write_state()
    }

    fn write_state(&self) -> io::Result<()> {
        write_at(self.sidecar, &self.state.encode(), 0)
    }
}

impl State {
    fn empty() -> State {
        State {
            id: (0, 0),
            len: 0,
            end: 0,
            entries: 0,
            oldest_ms: u64::MAX,
            checked_ms: 0,
            failed_ms: 0,
        }
    }

    /// Where the reserve ends (the closing `\n]\n` begins).
    fn reserve_end(&self) -> u64 {
        self.len.saturating_sub(CLOSING.len() as u64)
    }

    /// Whether the record can describe a file (a damaged sidecar is not trusted).
    fn is_consistent(&self) -> bool {
        1 <= self.end && self.end <= self.reserve_end() && self.entries < self.end
    }

    fn encode(&self) -> [u8; STATE_LEN] {
        let text = format!(
            "{STATE_MAGIC} {} {} {} {} {} {} {} {}",
            self.id.0,
            self.id.1,
            self.len,
            self.end,
            self.entries,
            self.oldest_ms,
            self.checked_ms,
            self.failed_ms
        );
        let mut record = [b' '; STATE_LEN];
        record[..text.len()].copy_from_slice(text.as_bytes());
        record[STATE_LEN - 1] = b'\n';
        record
    }

    fn decode(record: &[u8]) -> Option<State> {
        let text = std::str::from_utf8(record).ok()?;
        let mut words = text.split_ascii_whitespace();
        if words.next()? != STATE_MAGIC {
            return None;
        }
        let mut next = || words.next()?.parse::<u64>().ok();
        Some(State {
            id: (next()?, next()?),
            len: next()?,
            end: next()?,
            entries: next()?,
            oldest_ms: next()?,
            checked_ms: next()?,
            failed_ms: next()?,
        })
    }
}

fn read_state(file: &File) -> io::Result<Option<State>> {
    let mut record = vec![0; STATE_LEN];
    let read = read_at(file, &mut record, 0)?;
    Ok((read == STATE_LEN)
        .then(|| State::decode(&record))
        .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(i: u64) -> serde_json::Value {
        json!({"timestamp": "2026-12-01T10:00:00.000Z", "skill": "s", "inputs": {"i": i},
               "status": "success", "duration_ms": i})
    }

    /// The file in `dir` on a clock stopped an hour after the entries' time.
    fn stopped(dir: &Path) -> TelemetryFile {
        let now = lookout_export::calendar::parse_rfc3339("2026-12-01T11:00:00Z").unwrap();
        TelemetryFile::new(dir).clock(Arc::new(move || now))
    }

    fn parsed(path: &Path) -> Vec<serde_json::Value> {
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn every_append_leaves_a_valid_array_and_the_reserve_grows() {
        let dir = tempfile::tempdir().unwrap();
        let file = stopped(dir.path());
        assert_eq!(file.total_entries().unwrap(), 0);
        assert_eq!(parsed(file.path()), Vec::<serde_json::Value>::new());
        // Entries of ~1 KiB: the first reserve (64 KiB) runs out and the file is rewritten.
        let big = "x".repeat(1000);
        for i in 0..300 {
            let mut e = entry(i);
            e["inputs"]["pad"] = json!(big);
            let appended = file.append(&e).unwrap();
            assert_eq!(appended.total_entries, i + 1);
            if i % 37 == 0 {
                assert_eq!(parsed(file.path()).len() as u64, i + 1);
            }
        }
        let all = parsed(file.path());
        assert_eq!(all.len(), 300);
        assert!(all.iter().enumerate().all(|(i, e)| e["inputs"]["i"] == i));
        assert_eq!(file.read_entries().unwrap(), all);
        // A second handle (another process, in effect) continues from the state.
        let other = stopped(dir.path());
        assert_eq!(other.append(&entry(300)).unwrap().total_entries, 301);
        assert_eq!(file.append(&entry(301)).unwrap().total_entries, 302);
        assert_eq!(parsed(file.path()).len(), 302);
    }

    #[test]
    fn an_append_cut_off_midway_is_blanked_by_the_next() {
        // What a process killed inside an append leaves past the state's end: half an
        // entry (killed during its write), or a whole long one (killed before the state
        // was written), followed by a shorter append.
        let long =
            serde_json::json!({"timestamp": "2026-12-01T10:00:00.000Z", "pad": "x".repeat(500)});
        for leftover in [
            b",\n{\"timestamp\":\"2026-".to_vec(),
            [b",\n".to_vec(), serde_json::to_vec(&long).unwrap()].concat(),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let file = stopped(dir.path());
            file.append(&entry(0)).unwrap();
            let sidecar = dir.path().join("telemetry.json.state");
            let state = read_state(&File::open(&sidecar).unwrap()).unwrap().unwrap();
            let data = open_rw(file.path()).unwrap();
            write_at(&data, &leftover, state.end).unwrap();
            let fresh = stopped(dir.path());
            assert_eq!(fresh.total_entries().unwrap(), 1);
            assert_eq!(parsed(file.path()).len(), 1, "blanked by the check");
            assert_eq!(fresh.append(&entry(1)).unwrap().total_entries, 2);
            assert_eq!(parsed(file.path()), vec![entry(0), entry(1)]);
        }
    }

    #[test]
    fn a_damaged_state_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = stopped(dir.path());
        file.append(&entry(0)).unwrap();
        let sidecar = dir.path().join("telemetry.json.state");
        let mut state = read_state(&File::open(&sidecar).unwrap()).unwrap().unwrap();
        state.end = state.len + 10;
        fs::write(&sidecar, state.encode()).unwrap();
        assert_eq!(
            stopped(dir.path()).append(&entry(1)).unwrap().total_entries,
            2,
            "adopted"
        );
        assert_eq!(parsed(file.path()), vec![entry(0), entry(1)]);
    }

    #[test]
    fn a_file_written_by_another_program_is_adopted_and_a_broken_one_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        // As the seed writes it: pretty-printed, no state.
        let seed = serde_json::to_string_pretty(&vec![entry(0), entry(1)]).unwrap();
        fs::write(&path, &seed).unwrap();
        let file = stopped(dir.path());
        assert_eq!(file.append(&entry(2)).unwrap().total_entries, 3);
        assert_eq!(parsed(&path), vec![entry(0), entry(1), entry(2)]);
        // Changed behind the state's back (an editor): read again, not trusted.
        fs::write(&path, serde_json::to_string(&vec![entry(7)]).unwrap()).unwrap();
        assert_eq!(file.append(&entry(8)).unwrap().total_entries, 2);
        assert_eq!(parsed(&path), vec![entry(7), entry(8)]);
        // Not JSON: set aside, kept byte for byte, and a new array begun.
        fs::write(&path, "[{\"oops\"").unwrap();
        assert_eq!(file.append(&entry(9)).unwrap().total_entries, 1);
        let aside: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("telemetry.json.invalid-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(fs::read(dir.path().join(&aside[0])).unwrap(), b"[{\"oops\"");
        // Deleted: begun again.
        fs::remove_file(&path).unwrap();
        assert_eq!(file.append(&entry(10)).unwrap().total_entries, 1);
    }

    #[test]
    fn the_state_record_round_trips() {
        let state = State {
            id: (u64::MAX, 3),
            len: 1 << 40,
            end: 17,
            entries: 100_000,
            oldest_ms: u64::MAX,
            checked_ms: 1_764_000_000_000,
            failed_ms: u64::MAX,
        };
        assert_eq!(State::decode(&state.encode()), Some(state));
        assert_eq!(State::decode(b"something else"), None);
    }
}

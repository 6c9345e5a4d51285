//! A fleet's shared index in PostgreSQL: a [`Follower`] reads a data directory's log
//! from where PostgreSQL's checkpoint for it stopped and inserts what it finds there,
//! into the same tables the SQLite index has, by the same rules (each id once, a run's
//! newest state, metric points by series with their rollups).
//!
//! The log stays the truth and SQLite the local index: what a write acknowledged is in
//! the log, and the follower brings it to PostgreSQL when it can. A server that is down
//! or refuses costs nothing but lag: the follower tries again with backoff (up to
//! 30 s) and catches up from its checkpoint, which moves in the transaction of the rows
//! it covers. Many data directories (daemons, machines) can follow into one database:
//! each keeps its own checkpoints (its `source`), and each id is stored once.
//!
//! Not followed yet: `clear` records (stored as records, their deletes not applied)
//! and day files rewritten by a clear.

mod index;
mod reads;

use crate::config::{Retention, StoreConfig};
use crate::record::Entry;
use index::PgIndex;
/// The errors of PostgreSQL's client, as the reader's reads give them.
pub use postgres::Error as PostgresError;
pub use reads::Reader;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How often a follower that found nothing new looks again.
const POLL: Duration = Duration::from_millis(100);
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long connecting may take before it counts as a failure.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Log bytes read per transaction at most (a longer line is read whole).
const CHUNK: usize = 4 << 20;
/// How long dropping a follower waits for its thread.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How often retention runs on the database.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Where a follower writes and what it follows.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// The database, as a `postgres://` URL (or key=value connection string).
    pub url: String,
    /// The data directory's log to follow.
    pub raw_dir: PathBuf,
    /// The name this log's checkpoints are kept under: unique per data directory.
    pub source: String,
    /// Retention applied to the database (hourly).
    pub retention: Retention,
}

impl FollowConfig {
    /// Follows `store`'s log into `url`, its checkpoints under the host name, the data
    /// directory and an id made once for it (kept in `{base}/db/source_id`, so that
    /// copies of a machine with the same name and directory keep apart).
    pub fn new(store: &StoreConfig, url: impl Into<String>) -> FollowConfig {
        let host = lookout_export::host_name().unwrap_or_else(|| "localhost".into());
        let mut source = format!("{host}:{}", store.base_dir.display());
        if let Some(id) = source_id(&store.base_dir.join("db").join("source_id")) {
            source = format!("{source}#{id}");
        }
        FollowConfig {
            url: url.into(),
            raw_dir: store.raw_dir(),
            source,
            retention: store.retention,
        }
    }
}

/// The id in `path`, made there first if there is none; `None` if it cannot be kept.
fn source_id(path: &Path) -> Option<String> {
    if let Ok(id) = std::fs::read_to_string(path)
        && !id.trim().is_empty()
    {
        return Some(id.trim().to_owned());
    }
    let id = uuid::Uuid::now_v7().to_string();
    std::fs::create_dir_all(path.parent()?).ok()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .ok()?;
    use std::io::Write;
    file.write_all(id.as_bytes()).ok()?;
    file.sync_all().ok()?;
    Some(id)
}

/// How a follower is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowStatus {
    /// Log lines inserted since it started (a line already stored counts too).
    pub indexed: u64,
    /// Lines that are not records (counted, skipped).
    pub invalid: u64,
    /// Records PostgreSQL refused for their data (a NUL in a text; counted, skipped).
    pub refused: u64,
    /// Connections or transactions that failed since it started.
    pub failures: u64,
    /// The last failure, while it lasts (cleared by a pass that succeeds).
    pub error: Option<String>,
}

/// The thread that follows a log into PostgreSQL; dropping it stops the thread.
#[derive(Debug)]
pub struct Follower {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    /// Passes that found the log wholly indexed.
    caught_up: AtomicU64,
    status: Mutex<FollowStatus>,
}

impl Follower {
    /// Starts following; never fails (a server that cannot be reached is retried).
    pub fn start(config: FollowConfig) -> Follower {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("lookout-postgres".into())
                .spawn(move || follow(&config, &shared))
        };
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(e) => {
                shared
                    .status
                    .lock()
                    .map(|mut s| s.error = Some(e.to_string()))
                    .ok();
                None
            }
        };
        Follower { shared, thread }
    }

    /// What it did so far.
    pub fn status(&self) -> FollowStatus {
        self.shared.status()
    }

    /// [`Follower::status`] as a function that outlives no one: for a metrics hook.
    pub fn status_source(&self) -> impl Fn() -> FollowStatus + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.status()
    }

    /// Waits until a pass that started after this call found the whole log in
    /// PostgreSQL; `false` if that did not happen within `timeout`.
    pub fn caught_up(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        // The pass under way may have started before: the one after it counts.
        let wanted = self.shared.caught_up.load(Ordering::Acquire) + 2;
        while self.shared.caught_up.load(Ordering::Acquire) < wanted {
            if Instant::now() > deadline || self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Drop for Follower {
    /// Stops the thread, waiting for it 5 s at most (a statement under way runs to its
    /// end or its timeout; what it did not commit is followed on the next start).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

/// Where `url` points (`host:port/database`, no password), or why it is not a
/// PostgreSQL URL.
pub fn describe(url: &str) -> Result<String, String> {
    let config = parse(url)?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    Ok(format!("{host}:{port}/{database}"))
}

fn parse(url: &str) -> Result<postgres::Config, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        // Said by its scheme only: the rest may hold a password.
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        return Err(format!(
            "a {scheme:?} URL is not PostgreSQL's (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
        ));
    }
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

impl Shared {
    fn status(&self) -> FollowStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn follow(config: &FollowConfig, shared: &Shared) {
    let url = parse(&config.url);
    let place = describe(&config.url).unwrap_or_default();
    let mut index: Option<PgIndex> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut last_retention: Option<Instant> = None;
    let mut failing = false;
    while !shared.stop.load(Ordering::Acquire) {
        let passed = (|| -> Result<u64, String> {
            let db = match &mut index {
                Some(db) => db,
                None => {
                    let url = url.as_ref()?;
                    index.insert(PgIndex::connect(url).map_err(|e| error_text(&e))?)
                }
            };
            // Retention failing (a role without DELETE, a timeout) stops nothing else.
            if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
                last_retention = Some(Instant::now());
                if let Err(e) = db.retention(&config.retention, SystemTime::now()) {
                    eprintln!("lookout: postgres: {place}: retention: {}", error_text(&e));
                }
            }
            pass(db, config, shared)
        })();
        match passed {
            Ok(found) => {
                backoff = FIRST_BACKOFF;
                if std::mem::take(&mut failing) {
                    eprintln!("lookout: postgres: {place} reached again, catching up");
                }
                if let Ok(mut status) = shared.status.lock() {
                    status.error = None;
                }
                if found == 0 {
                    shared.caught_up.fetch_add(1, Ordering::AcqRel);
                    sleep_unless_stopped(shared, POLL);
                }
            }
            Err(e) => {
                // A broken connection is opened again; a refused batch is tried again.
                index = None;
                if !std::mem::replace(&mut failing, true) {
                    eprintln!(
                        "lookout: postgres: {place}: {e}; the log keeps everything, retrying"
                    );
                }
                if let Ok(mut status) = shared.status.lock() {
                    status.failures += 1;
                    status.error = Some(e);
                }
                sleep_unless_stopped(shared, backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// A PostgreSQL error with what the server said (message, detail, SQLSTATE).
pub fn error_text(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let detail = db.detail().map(|d| format!(" ({d})")).unwrap_or_default();
            format!("{}{detail} [SQLSTATE {}]", db.message(), db.code().code())
        }
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

fn sleep_unless_stopped(shared: &Shared, wait: Duration) {
    let until = Instant::now() + wait;
    while !shared.stop.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Inserts what each day file holds past its checkpoint, a chunk per transaction;
/// returns the lines found. A file rewritten since its checkpoint (a clear) or shorter
/// than it is read again from its start (each id is stored once).
fn pass(db: &mut PgIndex, config: &FollowConfig, shared: &Shared) -> Result<u64, String> {
    let dir = &config.raw_dir;
    let files =
        crate::log::day_files(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found = 0;
    for path in files {
        let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let unreadable = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        loop {
            let identity = match crate::log::identity(&path) {
                Ok((device, inode)) => format!("{device}:{inode}"),
                // Removed by retention meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(unreadable(e)),
            };
            let (mut from, known) = db
                .checkpoint(&config.source, &file)
                .map_err(|e| error_text(&e))?;
            let len = std::fs::metadata(&path).map_err(unreadable)?.len();
            if len < from {
                // Shorter than indexed (a power cut took back what was never synced
                // here): the checkpoint starts over with the file.
                db.reset_checkpoint(&config.source, &file)
                    .map_err(|e| error_text(&e))?;
                from = 0;
            } else if !known.is_empty() && known != identity {
                from = 0;
            }
            let Some(Lines {
                entries,
                invalid,
                end,
            }) = read_lines(&path, from).map_err(unreadable)?
            else {
                break;
            };
            let refused = db
                .insert(&config.source, &file, &identity, end, &entries)
                .map_err(|e| error_text(&e))?;
            found += entries.len() as u64 + invalid;
            if let Ok(mut status) = shared.status.lock() {
                status.indexed += entries.len() as u64 - refused;
                status.invalid += invalid;
                status.refused += refused;
            }
            if shared.stop.load(Ordering::Acquire) {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

/// Whole lines of a day file read past a checkpoint.
struct Lines {
    entries: Vec<Entry>,
    /// Lines that are not records.
    invalid: u64,
    /// The offset after the last.
    end: u64,
}

/// The whole lines of `path` from `from` on, up to [`CHUNK`] bytes (more for a longer
/// line); `None` when there is no whole line past `from`. The file is synced first, so
/// that no checkpoint covers lines a power cut could still take back.
fn read_lines(path: &Path, from: u64) -> std::io::Result<Option<Lines>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut data = Vec::new();
    let mut limit = CHUNK;
    let whole = loop {
        let before = data.len();
        (&mut file)
            .take((limit - before) as u64)
            .read_to_end(&mut data)?;
        if let Some(last) = data.iter().rposition(|&b| b == b'\n') {
            break last + 1;
        }
        // No whole line yet: the end of the file (a line being written), or a line
        // longer than the chunk.
        if data.len() == before || data.len() < limit {
            return Ok(None);
        }
        limit *= 2;
    };
    file.sync_data()?;
    let mut entries = Vec::new();
    let mut invalid = 0;
    for line in data[..whole].split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match Entry::from_line(line) {
            Some(entry) => entries.push(entry),
            None => invalid += 1,
        }
    }
    Ok(Some(Lines {
        entries,
        invalid,
        end: from + whole as u64,
    }))
}

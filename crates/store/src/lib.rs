//! Lookout's durable local store: every record is appended to an NDJSON log (the truth)
//! and indexed in SQLite (for queries), seed 002's layout:
//!
//! ```text
//! {base}/raw/events_YYYYMMDD.ndjson    the log: one JSON line per record, any process appends
//! {base}/raw/torn/                     torn last lines of writers that died, kept
//! {base}/db/telemetry.sqlite           the index: tables and seed 003's views
//! {base}/backups/                      `lookout backup`
//! ```
//!
//! Recording enqueues and returns: it never waits on the disk and never fails the
//! caller. One writer thread per handle appends batches to the log; an index thread
//! inserts them, a batch per transaction, so that a durable write (the log synced)
//! never waits on SQLite. With the `postgres` feature, `postgres::Follower` also
//! follows the log into a PostgreSQL database, a fleet's shared index. [`Store::flush`]
//! returns once everything recorded before it is in both, the log synced; so do
//! dropping the last handle and process exit through it. On open, what the log holds
//! and the index lacks is indexed (by `event_id`); a record written twice is stored
//! once.
//!
//! ```
//! use lookout_store::{Record, RecordKind, Store, StoreConfig};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(StoreConfig::new(dir.path()));
//! let run = Record::new(RecordKind::Run, serde_json::json!({"agent_name": "coder"}));
//! store.record(run.clone());
//! store.record(run); // the same id: stored once
//! store.flush(Duration::from_secs(5)).unwrap();
//!
//! let db = rusqlite::Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
//! let runs: i64 = db
//!     .query_row("SELECT COUNT(*) FROM telemetry_records WHERE kind = 'run'", [], |r| r.get(0))
//!     .unwrap();
//! assert_eq!(runs, 1);
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod backup;
pub mod clear;
mod config;
pub mod disk;
mod exporter;
mod housekeeping;
mod index;
mod index_thread;
mod log;
mod metric_reads;
pub mod metrics;
pub mod overview;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod process;
pub mod query;
mod record;
pub mod rollups;
pub mod runs;
pub mod sessions;
mod stats;
mod writer;

pub use backup::{BackupError, Copied, Restored, backup, default_backup_path, restore};
pub use config::{
    BASE_DIR_ENV, ConfigError, DB_PATH_ENV, JOURNAL_MODE_ENV, JournalMode, LOOKOUT_BASE_DIR_ENV,
    Retention, SYNCHRONOUS_ENV, StoreBlock, StoreConfig, Synchronous,
};
pub use exporter::{StoreExporter, StorePayload};
pub use housekeeping::Removed;
pub use index::{SCHEMA_VERSION, open_reader};
pub use metric_reads::{MetricReads, ReadError};
pub use record::{Record, RecordKind, new_event_id, rfc3339_of_nanos, span_event_id, unix_nanos};
/// The SQLite bindings the index is read with (its connections and errors).
pub use rusqlite;
pub use stats::{DropReason, StoreStats};
pub use writer::FlushError;

use crossbeam_channel::{Sender, TrySendError};
use lookout_export::FinishedSpan;
use record::Entry;
use serde_json::Value;
use stats::Counters;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use writer::{Message, Writer};

/// A handle on a store: cheap to clone; the writer stops when the last handle is dropped,
/// after making everything recorded durable.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: StoreConfig,
    sender: Option<Sender<Message>>,
    counters: Arc<Counters>,
    /// Records the queue refused since the last flush answered.
    queue_drops: AtomicU64,
    writer: Option<JoinHandle<()>>,
}

impl Store {
    /// Opens (creating what is missing) the store `config` names and starts its writer,
    /// which first indexes what the log has and the index lacks. Never fails: a directory
    /// that cannot be written or a database that cannot be used becomes one warning on
    /// stderr and counted drops ([`Store::stats`]); a corrupt database is moved aside and
    /// rebuilt from the log.
    pub fn open(config: StoreConfig) -> Store {
        let counters = Arc::new(Counters::default());
        let (sender, messages) = crossbeam_channel::bounded(config.queue_capacity.max(1));
        let writer = Writer::open(config.clone(), Arc::clone(&counters));
        let thread = std::thread::Builder::new()
            .name("lookout-store".into())
            .spawn(move || writer.run(messages));
        let (sender, writer) = match thread {
            Ok(thread) => (Some(sender), Some(thread)),
            Err(e) => {
                eprintln!("lookout: store: cannot start its writer thread: {e}");
                (None, None)
            }
        };
        Store {
            inner: Arc::new(Inner {
                config,
                sender,
                counters,
                queue_drops: AtomicU64::new(0),
                writer,
            }),
        }
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Enqueues `record` and returns; a full queue drops it (counted).
    pub fn record(&self, record: Record) {
        self.enqueue(Entry::Record(record));
    }

    /// Enqueues finished spans (with their events) and returns.
    pub fn record_spans(&self, spans: impl IntoIterator<Item = FinishedSpan>) {
        for span in spans {
            self.enqueue(Entry::Span(Box::new(span)));
        }
    }

    /// Enqueues a record of `kind` at this time whose body `build` makes on the writer
    /// thread, which also gives it its id: the caller pays for neither (a run records its
    /// whole state at every change this way). A `build` that panics loses the record
    /// (counted, `body_panicked`), never the writer.
    pub fn record_with(&self, kind: RecordKind, build: impl FnOnce() -> Value + Send + 'static) {
        self.send(Message::Deferred(record::Deferred {
            kind,
            time: SystemTime::now(),
            build: Box::new(build),
        }));
    }

    /// Enqueues `record`, waiting up to `timeout` for room in the queue instead of
    /// dropping it: for the few records an operator's command must not lose (a commit
    /// associated, a stale run closed), never for the recording path.
    pub fn record_waiting(&self, record: Record, timeout: Duration) -> Result<(), FlushError> {
        self.send_waiting(Message::Entry(Entry::Record(record)), timeout)
    }

    /// Records `record` and waits (up to `timeout`) until it is in the log, synced: what
    /// an API acknowledging a record needs. `Err` when its batch did not reach the log (a
    /// full or read-only disk, the size limit); an index that lags behind is no error,
    /// since the log is the truth.
    pub fn record_durable(&self, record: Record, timeout: Duration) -> Result<(), FlushError> {
        self.durable(vec![Entry::Record(record)], timeout)
    }

    /// Records all of `records` and waits, as [`Store::record_durable`] does, until they
    /// are in the log, synced: one append and one sync for all of them.
    pub fn records_durable(
        &self,
        records: impl IntoIterator<Item = Record>,
        timeout: Duration,
    ) -> Result<(), FlushError> {
        self.durable(records.into_iter().map(Entry::Record).collect(), timeout)
    }

    /// Records finished spans and waits until they are in the log, synced: what an
    /// ingest endpoint acknowledging spans needs.
    pub fn spans_durable(
        &self,
        spans: impl IntoIterator<Item = FinishedSpan>,
        timeout: Duration,
    ) -> Result<(), FlushError> {
        let entries = spans
            .into_iter()
            .map(|s| Entry::Span(Box::new(s)))
            .collect();
        self.durable(entries, timeout)
    }

    fn durable(&self, entries: Vec<Entry>, timeout: Duration) -> Result<(), FlushError> {
        self.ask(|reply| Message::Durable { entries, reply }, timeout)
    }

    /// Sends `message`, waiting up to `timeout` for room in the queue.
    fn send_waiting(&self, message: Message, timeout: Duration) -> Result<(), FlushError> {
        let Some(sender) = &self.inner.sender else {
            return Err(FlushError::Closed);
        };
        sender.send_timeout(message, timeout).map_err(|e| match e {
            crossbeam_channel::SendTimeoutError::Timeout(_) => FlushError::Timeout(timeout),
            crossbeam_channel::SendTimeoutError::Disconnected(_) => FlushError::Closed,
        })
    }

    /// Sends the message `question` makes of a reply channel and waits for the writer's
    /// answer, all within `timeout`. A busy writer polls: it is woken, not waited for.
    fn ask(
        &self,
        question: impl FnOnce(crossbeam_channel::Sender<Result<(), FlushError>>) -> Message,
        timeout: Duration,
    ) -> Result<(), FlushError> {
        let deadline = Instant::now() + timeout;
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send_waiting(question(reply), timeout)?;
        if let Some(writer) = &self.inner.writer {
            writer.thread().unpark();
        }
        answer
            .recv_deadline(deadline)
            .map_err(|_| FlushError::Timeout(timeout))?
    }

    fn enqueue(&self, entry: Entry) {
        self.send(Message::Entry(entry));
    }

    fn send(&self, message: Message) {
        let Some(sender) = &self.inner.sender else {
            self.inner.counters.count_drop(DropReason::Closed, 1);
            return;
        };
        match sender.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.inner.counters.count_drop(DropReason::QueueFull, 1);
                self.inner.queue_drops.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.inner.counters.count_drop(DropReason::Closed, 1)
            }
        }
    }

    /// Waits until everything recorded before this call is in the log (synced to disk)
    /// and in the index, at most `timeout`. An error says what is not durable: records
    /// dropped since the last flush, or a writer that did not finish in time.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.wait_durable(timeout, true)?;
        // What the queue refused never reached the writer: it is reported here.
        match self.inner.queue_drops.swap(0, Ordering::Relaxed) {
            0 => Ok(()),
            count => Err(FlushError::Dropped {
                count,
                reason: DropReason::QueueFull.as_str(),
            }),
        }
    }

    /// Waits, as [`Store::flush`] does, until everything recorded before is durable, but
    /// leaves the report of drops to the next `flush`: for the store's own readers (a run
    /// updated from its stored state) that must not take the host's answer.
    pub fn sync(&self, timeout: Duration) -> Result<(), FlushError> {
        self.wait_durable(timeout, false)
    }

    /// How many records this handle has put in the log, and how many of those the index
    /// has taken (or counted as not taken): the index has caught up when they are equal.
    pub fn logged_and_indexed(&self) -> (u64, u64) {
        let counters = &self.inner.counters;
        // Settled first: never more than logged.
        let settled = counters.settled.load(Ordering::Acquire);
        (counters.logged.load(Ordering::Acquire), settled)
    }

    /// Waits until the index has taken everything this handle put in the log before the
    /// call (or counted what it could not take), without asking the writer for anything:
    /// for a reader that must see the writes acknowledged before it. `false` after
    /// `timeout` (another process holding the index's write lock, say).
    pub fn wait_indexed(&self, timeout: Duration) -> bool {
        let counters = &self.inner.counters;
        let target = counters.logged.load(Ordering::Acquire);
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(50);
        while counters.settled.load(Ordering::Acquire) < target {
            if Instant::now() >= deadline
                || self.inner.writer.as_ref().is_none_or(|w| w.is_finished())
            {
                return false;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
        true
    }

    fn wait_durable(&self, timeout: Duration, report_drops: bool) -> Result<(), FlushError> {
        let flush = |reply| Message::Flush {
            reply,
            report_drops,
        };
        self.ask(flush, timeout)
    }

    /// What it wrote and dropped since it opened.
    pub fn stats(&self) -> StoreStats {
        self.inner.counters.snapshot()
    }

    /// Clears `what` recorded before now, from the index and from the log (see
    /// [`clear`]); `timeout` bounds the wait for the clear record to be durable.
    pub fn clear(
        &self,
        what: clear::Clear,
        timeout: Duration,
    ) -> Result<clear::Cleared, clear::ClearError> {
        let config = &self.inner.config;
        clear::clear(
            index::open_writer(config, SCHEMA_VERSION)?,
            &config.raw_dir(),
            what,
            |record, timeout| self.record_durable(record, timeout),
            timeout,
        )
    }

    /// Runs retention now (rows and day files past their age), whether or not another
    /// process ran it within the hour; returns what it removed.
    pub fn apply_retention(&self) -> rusqlite::Result<Removed> {
        let conn = index::open_writer(&self.inner.config, SCHEMA_VERSION)?;
        let config = &self.inner.config;
        housekeeping::retention(
            &conn,
            &config.raw_dir(),
            &config.retention,
            std::time::SystemTime::now(),
            true,
        )
        .map(Option::unwrap_or_default)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer sees the queue disconnect once the sender is gone, writes what is
        // left, syncs and exits.
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

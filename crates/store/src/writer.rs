//! The one writer thread of a store handle: takes records off the queue in batches,
//! appends them to the log, hands them to the index thread (one transaction a batch),
//! and answers durable writes once the log is synced, flushes once what came before
//! them is in the index too.

use crate::config::StoreConfig;
use crate::index::Index;
use crate::index_thread::{Checkpoint, IndexThread, Inserted};
use crate::log::{self, Log};
use crate::record::{Deferred, Entry};
use crate::stats::{Counters, DropReason};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Records per batch at most: one append, one transaction.
const MAX_BATCH: usize = 4096;
/// How often an idle writer checks free space and size.
const SPACE_CHECK: Duration = Duration::from_secs(1);
/// How often a busy writer takes what was recorded: the group-commit window.
const POLL: Duration = Duration::from_millis(1);
/// Empty polls before a busy writer goes back to waiting on the queue.
const IDLE_POLLS: u32 = 50;
/// Records waiting for the index thread beyond which the writer waits for it.
const MAX_UNINDEXED: usize = 4 * MAX_BATCH;

/// What the handle sends the writer.
pub(crate) enum Message {
    Entry(Entry),
    /// A record to build here, then store as an entry.
    Deferred(Deferred),
    /// Entries whose sender waits to hear that they are in the log, synced: `Err` with
    /// the reason when their batch did not reach the log.
    Durable {
        entries: Vec<Entry>,
        reply: Sender<Result<(), FlushError>>,
    },
    /// Answer once everything sent before is in the log (synced) and the index; with
    /// `report_drops`, also say (once) what was dropped since the last such answer.
    Flush {
        reply: Sender<Result<(), FlushError>>,
        report_drops: bool,
    },
}

/// Why a flush could not say everything is durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Records were dropped since the last flush (see [`crate::StoreStats`]).
    #[error("{count} records dropped since the last flush ({reason})")]
    Dropped {
        /// How many.
        count: u64,
        /// The reason of the last one.
        reason: &'static str,
    },
    /// The writer did not answer in time.
    #[error("the store did not finish writing within {0:?}")]
    Timeout(Duration),
    /// The store is closed.
    #[error("the store is closed")]
    Closed,
}

pub(crate) struct Writer {
    config: StoreConfig,
    log: Option<Log>,
    /// The index until the writer runs, then its thread's.
    index: Option<Index>,
    indexer: Option<IndexThread>,
    counters: Arc<Counters>,
    /// Reasons already warned about: one warning each.
    warned: HashSet<&'static str>,
    /// Records in the log not handed to the index thread yet (an insert was in flight,
    /// or the index was busy).
    unindexed: Vec<Entry>,
    /// The checkpoint the next insert moves.
    unindexed_checkpoint: Option<Checkpoint>,
    /// Per day file, the offset up to which every line is indexed or handed over to be,
    /// and the file's identity then.
    handed_prefix: HashMap<String, (u64, (u64, u64))>,
    /// Drops since the last flush answer, and the last reason.
    dropped_since_flush: (u64, &'static str),
    /// Set while free space or size says no.
    refusing: Option<DropReason>,
    last_space_check: Option<Instant>,
    last_housekeeping: Option<Instant>,
    /// Why the log could not be opened, the reason its records are dropped.
    log_unavailable: DropReason,
}

impl Writer {
    /// Opens the log and the index, warning once about what cannot be opened.
    pub(crate) fn open(config: StoreConfig, counters: Arc<Counters>) -> Writer {
        let mut writer = Writer {
            log: None,
            index: None,
            indexer: None,
            counters,
            warned: HashSet::new(),
            unindexed: Vec::new(),
            unindexed_checkpoint: None,
            handed_prefix: HashMap::new(),
            dropped_since_flush: (0, ""),
            refusing: None,
            last_space_check: None,
            last_housekeeping: None,
            log_unavailable: DropReason::Unwritable,
            config,
        };
        match Log::open(&writer.config.raw_dir()) {
            Ok(log) => {
                writer.log = Some(log);
                writer.index = writer.open_index();
            }
            Err(e) => {
                // Without the log nothing is durable: records are dropped, not indexed.
                let reason = DropReason::of(&e);
                let dir = writer.config.raw_dir();
                writer.warn(
                    reason.as_str(),
                    &format!("cannot open {}: {e}", dir.display()),
                );
                writer.log_unavailable = reason;
            }
        }
        writer
    }

    fn open_index(&mut self) -> Option<Index> {
        match Index::open(&self.config) {
            Ok(index) => Some(index),
            Err(e) if is_corrupt(&e) => {
                let aside = set_aside(&self.config.db_path);
                self.warn(
                    "index_corrupt",
                    &format!(
                        "{} is not a usable database ({e}); moved to {} and rebuilt from the log",
                        self.config.db_path.display(),
                        aside.display()
                    ),
                );
                Index::open(&self.config).ok()
            }
            Err(e) => {
                self.warn(
                    DropReason::IndexUnavailable.as_str(),
                    &format!("cannot open {}: {e}", self.config.db_path.display()),
                );
                None
            }
        }
    }

    /// Says `message` on stderr the first time `key` comes up.
    fn warn(&mut self, key: &'static str, message: &str) {
        if self.warned.insert(key) {
            eprintln!(
                "lookout: store: {message} (further drops are counted in lookout_store_dropped_total)"
            );
        }
    }

    fn dropped(&mut self, reason: DropReason, n: u64) {
        if n > 0 {
            self.counters.count_drop(reason, n);
            self.dropped_since_flush.0 += n;
            self.dropped_since_flush.1 = reason.as_str();
        }
    }

    /// Indexes what the log holds and the index lacks: every day file from its
    /// checkpoint on. Torn last lines are set aside; other unreadable lines are counted.
    pub(crate) fn replay(&mut self) {
        let (Some(log), Some(index)) = (&self.log, &mut self.index) else {
            return;
        };
        let Ok(files) = log.day_files() else { return };
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            let Ok(from) = index.checkpoint(&name) else {
                continue;
            };
            let mut entries = Vec::new();
            let mut invalid = 0;
            let scanned = log::scan(&path, from, |line| match Entry::from_line(line) {
                Some(entry) => entries.push(entry),
                None => invalid += 1,
            });
            let Ok(scanned) = scanned else {
                continue;
            };
            Counters::add(&self.counters.torn, scanned.repaired.torn_lines);
            Counters::add(&self.counters.invalid, invalid);
            let count = entries.len() as u64;
            // A clear that rewrote the file since it was read owns it now.
            let replayed = index.replay(&name, &entries, scanned.end, || {
                log::identity(&path).is_ok_and(|now| now == scanned.identity)
            });
            if replayed.is_ok_and(|done| done) {
                Counters::add(&self.counters.replayed, count);
                self.handed_prefix
                    .insert(name, (scanned.end, scanned.identity));
            }
        }
    }

    /// Runs until every handle is gone, then makes what it wrote durable.
    pub(crate) fn run(mut self, messages: Receiver<Message>) {
        self.replay();
        if let Some(index) = self.index.take() {
            match IndexThread::spawn(index, self.config.raw_dir()) {
                Ok(indexer) => self.indexer = Some(indexer),
                Err(e) => self.warn(
                    DropReason::IndexUnavailable.as_str(),
                    &format!("cannot start the index thread: {e}"),
                ),
            }
        }
        self.housekeep();
        // While records keep coming, the writer takes them every POLL without waiting on
        // the queue, so that recording never pays for waking it; idle for IDLE_POLLS
        // polls, it blocks on the queue again (and the next record wakes it once).
        let mut idle_polls = 0;
        let mut polling = false;
        loop {
            let first = if polling {
                // A flush unparks it at once.
                std::thread::park_timeout(POLL);
                match messages.try_recv() {
                    Ok(message) => {
                        idle_polls = 0;
                        message
                    }
                    Err(TryRecvError::Empty) => {
                        self.index_next(false);
                        idle_polls += 1;
                        let indexing = self.indexer.as_ref().is_some_and(|i| i.in_flight());
                        polling = idle_polls < IDLE_POLLS || indexing;
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                match messages.recv_timeout(SPACE_CHECK) {
                    Ok(message) => {
                        (polling, idle_polls) = (true, 0);
                        message
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        self.index_next(false);
                        self.housekeep();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut batch = Vec::new();
            let mut waiters = Vec::new();
            let mut durable_waiters = Vec::new();
            // Entries after the last flush of the batch: the next flush answers for them.
            let mut after_last_flush = 0;
            let mut next = Some(first);
            while let Some(message) = next {
                match message {
                    Message::Entry(entry) => {
                        batch.push(entry);
                        after_last_flush += 1;
                    }
                    Message::Deferred(deferred) => match deferred.into_record() {
                        Some(record) => {
                            batch.push(Entry::Record(record));
                            after_last_flush += 1;
                        }
                        None => self.dropped(DropReason::BodyPanicked, 1),
                    },
                    Message::Durable { entries, reply } => {
                        after_last_flush += entries.len() as u64;
                        durable_waiters.push((reply, entries.len() as u64));
                        batch.extend(entries);
                    }
                    Message::Flush {
                        reply,
                        report_drops,
                    } => {
                        if report_drops {
                            after_last_flush = 0;
                        }
                        waiters.push((reply, report_drops));
                    }
                }
                next = (batch.len() < MAX_BATCH)
                    .then(|| messages.try_recv().ok())
                    .flatten();
            }
            let dropped_before = self.dropped_since_flush.0;
            let logged = self.append(batch);
            if !durable_waiters.is_empty() {
                // In the log and synced is durable: those waiting hear it before the
                // batch is indexed, and the index catches up from the log.
                let answer = logged.as_ref().map(|_| ()).map_err(|r| *r);
                let answer = answer.and_then(|()| self.sync_log());
                for (reply, count) in durable_waiters {
                    let answer = answer.map_err(|reason| FlushError::Dropped { count, reason });
                    let _ = reply.send(answer);
                }
            }
            if let Ok(Some(checkpoint)) = logged {
                self.unindexed_checkpoint = Some(checkpoint);
            }
            self.index_next(self.unindexed.len() >= MAX_UNINDEXED);
            if !waiters.is_empty() {
                let dropped_here = self.dropped_since_flush.0 - dropped_before;
                let reason = self.dropped_since_flush.1;
                let durable = self.make_durable();
                let reports = waiters.iter().any(|(_, report_drops)| *report_drops);
                let drops = match reports && durable.is_ok() {
                    true => self.take_drops(),
                    false => Ok(()),
                };
                for (waiter, report_drops) in waiters {
                    let answer = match report_drops {
                        true => durable.clone().and(drops.clone()),
                        false => durable.clone(),
                    };
                    let _ = waiter.send(answer);
                }
                // A batch fails whole: what it dropped after its last flush is still to
                // be reported to the next one.
                let carried = dropped_here.min(after_last_flush);
                if reports && carried > 0 {
                    self.dropped_since_flush = (carried, reason);
                }
            }
        }
        let _ = self.make_durable();
    }

    /// Runs retention when it is due here (hourly) and no other process ran it within
    /// the hour.
    fn housekeep(&mut self) {
        if self
            .last_housekeeping
            .is_some_and(|t| t.elapsed() < crate::housekeeping::EVERY)
        {
            return;
        }
        self.last_housekeeping = Some(Instant::now());
        if let Some(indexer) = &mut self.indexer {
            indexer.housekeep(self.config.raw_dir(), self.config.retention);
        }
    }

    /// Syncs the log and checks the index has everything; a failed sync is a drop, for
    /// the next flush that reports drops.
    fn make_durable(&mut self) -> Result<(), FlushError> {
        let _ = self.sync_log();
        // The insert in flight, then one of what came since (or came back busy).
        self.index_next(true);
        self.index_next(true);
        let indexing = self.indexer.as_ref().is_some_and(IndexThread::in_flight);
        if !self.unindexed.is_empty() || indexing {
            // The index stayed busy: the records are in the log, not yet in SQLite.
            return Err(FlushError::Timeout(crate::index::BUSY_TIMEOUT));
        }
        Ok(())
    }

    /// Syncs the log; a failure is a drop (for the next flush that reports drops), and
    /// its reason.
    fn sync_log(&mut self) -> Result<(), &'static str> {
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        let Err(e) = log.sync() else {
            return Ok(());
        };
        let reason = DropReason::of(&e);
        self.warn(reason.as_str(), &format!("cannot sync the log: {e}"));
        self.dropped_since_flush = (self.dropped_since_flush.0.max(1), reason.as_str());
        Err(reason.as_str())
    }

    /// What was dropped since the last flush that reported drops, reported now.
    fn take_drops(&mut self) -> Result<(), FlushError> {
        let (count, reason) = std::mem::take(&mut self.dropped_since_flush);
        if count > 0 {
            return Err(FlushError::Dropped { count, reason });
        }
        Ok(())
    }

    /// Appends `batch` to the log, to be indexed next (with the checkpoint it may move);
    /// `Err` with the reason when the batch did not reach the log (it is dropped and
    /// counted).
    fn append(&mut self, batch: Vec<Entry>) -> Result<Option<Checkpoint>, &'static str> {
        if batch.is_empty() {
            return Ok(None);
        }
        let n = batch.len() as u64;
        if self.log.is_none() {
            self.dropped(self.log_unavailable, n);
            return Err(self.log_unavailable.as_str());
        }
        // A clear frees space: it is written whatever space is left.
        let clearing = batch
            .iter()
            .all(|e| matches!(e, Entry::Record(r) if r.kind == crate::RecordKind::Clear));
        if let Some(reason) = self.space_check().filter(|_| !clearing) {
            self.dropped(reason, n);
            return Err(reason.as_str());
        }
        let Some(log) = &mut self.log else {
            return Err(self.log_unavailable.as_str());
        };
        let mut lines = Vec::with_capacity(batch.len() * 512);
        for entry in &batch {
            entry.write_line(&mut lines);
        }
        let now = SystemTime::now();
        let appended = log.append(now, &lines);
        let appended = match appended {
            Ok(appended) => appended,
            Err(e) => {
                let reason = DropReason::of(&e);
                let file = self.config.raw_dir().join(log::day_file_name(now));
                self.warn(
                    reason.as_str(),
                    &format!("cannot append to {}: {e}", file.display()),
                );
                self.dropped(reason, n);
                return Err(reason.as_str());
            }
        };
        Counters::add(&self.counters.torn, appended.repaired.torn_lines);
        Counters::add(&self.counters.logged, n);
        // The index checkpoint may move past this batch when nothing of another
        // process's lies between what is known indexed (or handed over) and it.
        let name = log::day_file_name(now);
        let contiguous = match self.handed_prefix.get(&name) {
            Some(&known) => known == (appended.start, appended.identity),
            None => appended.start == 0,
        };
        self.unindexed.extend(batch);
        if !contiguous {
            return Ok(None);
        }
        self.handed_prefix
            .insert(name.clone(), (appended.end, appended.identity));
        Ok(Some(Checkpoint {
            file: name,
            offset: appended.end,
            identity: appended.identity,
        }))
    }

    /// Takes the index thread's answer when its insert is done (`wait`: waits for it),
    /// then hands it what the log took since, if it is free.
    fn index_next(&mut self, wait: bool) {
        let Some(indexer) = &mut self.indexer else {
            let n = self.unindexed.len() as u64;
            self.unindexed.clear();
            self.dropped(DropReason::IndexUnavailable, n);
            Counters::add(&self.counters.settled, n);
            return;
        };
        if let Some(inserted) = indexer.finished(wait) {
            self.took(inserted);
        }
        if let Some(indexer) = &mut self.indexer
            && !indexer.in_flight()
            && !self.unindexed.is_empty()
        {
            let entries = std::mem::take(&mut self.unindexed);
            indexer.insert(entries, self.unindexed_checkpoint.take());
        }
    }

    /// Counts an insert that landed; keeps one the index was too busy for; drops and
    /// counts one it could not take (the records stay in the log, indexed on the next
    /// open).
    fn took(&mut self, inserted: Inserted) {
        let n = inserted.count;
        let error = match inserted.result {
            Ok(()) => {
                Counters::add(&self.counters.indexed, n);
                return Counters::add(&self.counters.settled, n);
            }
            Err((e, entries)) if is_busy(&e) => {
                // Another process holds the write lock: try again, before what came since.
                let later = std::mem::replace(&mut self.unindexed, entries);
                self.unindexed.extend(later);
                self.unindexed_checkpoint =
                    self.unindexed_checkpoint.take().or(inserted.checkpoint);
                return;
            }
            Err((e, _)) => e,
        };
        // What is not indexed breaks the known prefix: no checkpoint moves past it.
        self.handed_prefix.clear();
        self.unindexed_checkpoint = None;
        let path = self.config.db_path.display().to_string();
        let reason = match is_full(&error) {
            // The index stays open for when space comes back.
            true => DropReason::DiskFull,
            false => {
                self.indexer = None;
                DropReason::IndexUnavailable
            }
        };
        self.warn(
            reason.as_str(),
            &format!("cannot write {path}: {error}; records stay in the log"),
        );
        self.dropped(reason, n);
        Counters::add(&self.counters.settled, n);
    }

    /// `Some(reason)` while new records must be refused: less free space than the
    /// reserve, or the data directory at its configured size. Checked at most once a
    /// second.
    fn space_check(&mut self) -> Option<DropReason> {
        let due = self
            .last_space_check
            .is_none_or(|t| t.elapsed() >= SPACE_CHECK);
        if !due {
            return self.refusing;
        }
        self.last_space_check = Some(Instant::now());
        let base = &self.config.base_dir;
        let refusing = if crate::disk::space(base)
            .is_some_and(|space| space.available < self.config.min_free_bytes)
        {
            Some(DropReason::DiskFull)
        } else if self
            .config
            .max_bytes
            .is_some_and(|max| crate::disk::directory_bytes(base) >= max)
        {
            Some(DropReason::SizeLimit)
        } else {
            None
        };
        if let Some(reason) = refusing {
            let message = match reason {
                DropReason::DiskFull => format!(
                    "less than {} bytes free under {}; refusing new records",
                    self.config.min_free_bytes,
                    base.display()
                ),
                _ => format!(
                    "{} holds {} bytes or more; refusing new records",
                    base.display(),
                    self.config.max_bytes.unwrap_or(0)
                ),
            };
            self.warn(reason.as_str(), &message);
        }
        self.refusing = refusing;
        refusing
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn is_full(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

fn is_corrupt(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// Renames a database that cannot be used (and its `-wal`, `-shm`) beside itself, kept
/// for inspection; returns the new name.
fn set_aside(db: &Path) -> std::path::PathBuf {
    let stamp = crate::record::nanos(SystemTime::now());
    let aside = db.with_extension(format!("sqlite.corrupt-{stamp}"));
    let _ = std::fs::rename(db, &aside);
    for suffix in ["-wal", "-shm"] {
        let mut from = db.as_os_str().to_owned();
        from.push(suffix);
        let mut to = aside.as_os_str().to_owned();
        to.push(suffix);
        let _ = std::fs::rename(&from, &to);
    }
    aside
}

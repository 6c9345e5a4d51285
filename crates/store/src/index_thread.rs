//! The index's own thread: the writer hands it what the log took, so that appending to
//! the log and syncing it (what a durable write waits for) never wait on SQLite. One
//! insert is in flight at a time; what the log takes meanwhile is handed over next, in
//! one transaction.

use crate::config::Retention;
use crate::index::Index;
use crate::log;
use crate::record::Entry;
use crossbeam_channel::{Receiver, Sender};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::SystemTime;

/// A day file, the offset up to which every line of it is indexed, and the file's
/// identity then: a clear that rewrote the file since moved the checkpoint itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub(crate) file: String,
    pub(crate) offset: u64,
    pub(crate) identity: (u64, u64),
}

/// What the writer asks of the index thread.
enum Job {
    /// Inserts entries, moving the checkpoint with them.
    Insert {
        entries: Vec<Entry>,
        checkpoint: Option<Checkpoint>,
    },
    /// Runs retention if it is due.
    Housekeep { raw: PathBuf, retention: Retention },
}

/// How an insert went: on an error its entries come back, for the writer to keep or drop.
pub(crate) struct Inserted {
    /// Entries the insert was given.
    pub(crate) count: u64,
    /// The checkpoint it was to move.
    pub(crate) checkpoint: Option<Checkpoint>,
    /// `Err` with the error and the entries not inserted.
    pub(crate) result: Result<(), (rusqlite::Error, Vec<Entry>)>,
}

/// The handle the writer keeps on the index thread.
pub(crate) struct IndexThread {
    jobs: Option<Sender<Job>>,
    inserted: Receiver<Inserted>,
    in_flight: bool,
    thread: Option<JoinHandle<()>>,
}

impl IndexThread {
    /// Starts the thread that owns `index`, for the log in `raw`.
    pub(crate) fn spawn(mut index: Index, raw: PathBuf) -> Result<IndexThread, std::io::Error> {
        let (jobs, job_queue) = crossbeam_channel::unbounded::<Job>();
        let (answers, inserted) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("lookout-index".into())
            .spawn(move || {
                for job in job_queue {
                    match job {
                        Job::Insert {
                            entries,
                            checkpoint,
                        } => {
                            let count = entries.len() as u64;
                            // The checkpoint moves only if its file is still the one the
                            // entries were appended to (checked under the write lock).
                            let insert = || match &checkpoint {
                                Some(c) => {
                                    let path = raw.join(&c.file);
                                    let same =
                                        || log::identity(&path).is_ok_and(|i| i == c.identity);
                                    match index.replay(&c.file, &entries, c.offset, same)? {
                                        true => Ok(()),
                                        false => index.insert(&entries),
                                    }
                                }
                                None => index.insert(&entries),
                            };
                            // A panic is an error like another: the writer closes the index.
                            let result = std::panic::catch_unwind(AssertUnwindSafe(insert))
                                .unwrap_or(Err(rusqlite::Error::UnwindingPanic));
                            let result = result.map_err(|e| (e, entries));
                            let answer = Inserted {
                                count,
                                checkpoint,
                                result,
                            };
                            if answers.send(answer).is_err() {
                                return;
                            }
                        }
                        Job::Housekeep { raw, retention } => {
                            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                                crate::housekeeping::retention(
                                    index.connection(),
                                    &raw,
                                    &retention,
                                    SystemTime::now(),
                                    false,
                                )
                            }));
                        }
                    }
                }
            })?;
        Ok(IndexThread {
            jobs: Some(jobs),
            inserted,
            in_flight: false,
            thread: Some(thread),
        })
    }

    /// Whether an insert is under way.
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Hands `entries` over; the writer calls it only when no insert is in flight.
    pub(crate) fn insert(&mut self, entries: Vec<Entry>, checkpoint: Option<Checkpoint>) {
        debug_assert!(!self.in_flight);
        self.in_flight = self.send(Job::Insert {
            entries,
            checkpoint,
        });
    }

    /// Asks for retention, after what was handed over before.
    pub(crate) fn housekeep(&mut self, raw: PathBuf, retention: Retention) {
        self.send(Job::Housekeep { raw, retention });
    }

    fn send(&self, job: Job) -> bool {
        self.jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok())
    }

    /// The insert in flight, if it is done (`wait`: once it is); `None` when none is in
    /// flight or the thread is gone.
    pub(crate) fn finished(&mut self, wait: bool) -> Option<Inserted> {
        if !self.in_flight {
            return None;
        }
        let answer = match wait {
            true => self.inserted.recv().ok(),
            false => self.inserted.try_recv().ok(),
        };
        // The thread answers every insert (it catches panics): no answer on a wait
        // cannot come back later.
        self.in_flight = answer.is_none() && !wait;
        answer
    }
}

impl Drop for IndexThread {
    /// Closes the queue and waits for the thread to finish what it was handed, so that
    /// the database is closed when the writer is done.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

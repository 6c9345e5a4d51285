//! What the store did and what it could not do, counted.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a record did not reach the log (or the index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The writer's queue was full: the host records faster than the disk takes it.
    QueueFull,
    /// The store was closed.
    Closed,
    /// The file system has less free space than the store keeps in reserve.
    DiskFull,
    /// The data directory reached its configured size.
    SizeLimit,
    /// The directory or file cannot be written (permissions, read-only file system).
    Unwritable,
    /// Another I/O error.
    Io,
    /// In the log, but the SQLite index cannot take it (corrupt or unwritable file): the
    /// next healthy open indexes it from the log.
    IndexUnavailable,
    /// A body built on the writer thread ([`crate::Store::record_with`]) panicked.
    BodyPanicked,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 8] = [
        DropReason::QueueFull,
        DropReason::Closed,
        DropReason::DiskFull,
        DropReason::SizeLimit,
        DropReason::Unwritable,
        DropReason::Io,
        DropReason::IndexUnavailable,
        DropReason::BodyPanicked,
    ];

    /// The `reason` label of `lookout_store_dropped_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Closed => "closed",
            DropReason::DiskFull => "disk_full",
            DropReason::SizeLimit => "size_limit",
            DropReason::Unwritable => "unwritable",
            DropReason::Io => "io",
            DropReason::IndexUnavailable => "index_unavailable",
            DropReason::BodyPanicked => "body_panicked",
        }
    }

    /// The reason an I/O error stands for.
    pub(crate) fn of(error: &std::io::Error) -> DropReason {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => DropReason::DiskFull,
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => DropReason::Unwritable,
            _ => DropReason::Io,
        }
    }
}

/// Counters shared by the handle and the writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) logged: AtomicU64,
    pub(crate) indexed: AtomicU64,
    /// Logged records the index took, or could not take (dropped): never more than
    /// `logged`, and equal once the index has caught up.
    pub(crate) settled: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) torn: AtomicU64,
    pub(crate) invalid: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
}

impl Counters {
    pub(crate) fn count_drop(&self, reason: DropReason, n: u64) {
        let i = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.dropped[i].fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StoreStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            logged: load(&self.logged),
            indexed: load(&self.indexed),
            replayed: load(&self.replayed),
            torn_lines: load(&self.torn),
            invalid_lines: load(&self.invalid),
            dropped: DropReason::ALL
                .iter()
                .zip(&self.dropped)
                .map(|(r, c)| (*r, load(c)))
                .collect(),
        }
    }
}

/// A snapshot of a store's counts since it opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Records appended to the log.
    pub logged: u64,
    /// Records inserted in (or found already in) the index.
    pub indexed: u64,
    /// Log lines indexed at open because the index lacked them.
    pub replayed: u64,
    /// Torn last lines set aside (`raw/torn/`).
    pub torn_lines: u64,
    /// Whole lines of the log that are not records (skipped, left in place).
    pub invalid_lines: u64,
    /// Records dropped, by reason.
    pub dropped: Vec<(DropReason, u64)>,
}

impl StoreStats {
    /// Records dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// Records dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

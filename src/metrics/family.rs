//! A family: every series of one metric, keyed by label values.
//!
//! The hot path is [`Family::inc`] and its siblings, which take label values and find the
//! series without allocating. Each thread keeps a small cache of the series it touched, so
//! a hit reads nothing that other threads write except the series' own cell: two threads
//! incrementing one labelled series contend only on its counter. A miss takes the shard's
//! read lock, and only a new series takes the write lock.

use super::labels::{LabelValues, hash_values};
use super::name::OVERFLOW_LABEL;
use super::series::{Metric, Series};
use super::{Counter, Gauge, Histogram, MetricError};
use hashbrown::HashTable;
use lookout_export::MetricVisitor;
use parking_lot::RwLock;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use thread_local::ThreadLocal;

const SHARDS: usize = 16;
/// Entries a thread caches per family before it starts over.
const CACHE_CAPACITY: usize = 512;

/// All series of one metric. Cloning is cheap and shares the series.
#[derive(Debug)]
pub struct Family<M: Metric> {
    core: Arc<FamilyCore<M>>,
}

impl<M: Metric> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family {
            core: self.core.clone(),
        }
    }
}

type SeriesRef<M> = Arc<Series<<M as Metric>::Cell>>;

pub(crate) struct FamilyCore<M: Metric> {
    /// Exported family name (counters without `_total`).
    pub(crate) name: Box<str>,
    pub(crate) help: Box<str>,
    pub(crate) unit: Box<str>,
    pub(crate) label_names: Box<[Box<str>]>,
    pub(crate) layout: M::Layout,
    shards: [RwLock<HashTable<SeriesRef<M>>>; SHARDS],
    hasher: foldhash::fast::RandomState,
    len: AtomicUsize,
    limit: usize,
    overflow: OnceLock<SeriesRef<M>>,
    /// Bumped by every removal so thread caches drop what they hold.
    generation: AtomicU64,
    cache: ThreadLocal<ThreadCache<M::Cell>>,
    /// Measurements routed to the overflow series.
    pub(crate) overflowed: AtomicU64,
    /// Measurements dropped for a wrong number of label values.
    pub(crate) label_mismatches: AtomicU64,
}

impl<M: Metric> std::fmt::Debug for FamilyCore<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("labels", &self.label_names)
            .field("series", &self.len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One thread's cache, alone on its cache lines: `thread_local` stores threads' values
/// side by side, and each lookup writes the `RefCell` flag.
#[repr(align(128))]
struct ThreadCache<C>(RefCell<HashTable<Cached<C>>>);

impl<C> Default for ThreadCache<C> {
    fn default() -> Self {
        ThreadCache(RefCell::new(HashTable::new()))
    }
}

/// A thread's cache entry. It keeps its own copy of the key: comparing against the
/// series' key would read the cache line that other threads' increments keep writing.
struct Cached<C> {
    hash: u64,
    generation: u64,
    values: LabelValues,
    series: Arc<Series<C>>,
}

impl<M: Metric> FamilyCore<M> {
    pub(crate) fn new(
        name: Box<str>,
        help: Box<str>,
        unit: Box<str>,
        label_names: Box<[Box<str>]>,
        layout: M::Layout,
        limit: usize,
    ) -> Self {
        FamilyCore {
            name,
            help,
            unit,
            label_names,
            layout,
            shards: std::array::from_fn(|_| RwLock::new(HashTable::new())),
            hasher: foldhash::fast::RandomState::default(),
            len: AtomicUsize::new(0),
            limit,
            overflow: OnceLock::new(),
            generation: AtomicU64::new(0),
            cache: ThreadLocal::new(),
            overflowed: AtomicU64::new(0),
            label_mismatches: AtomicU64::new(0),
        }
    }

    pub(crate) fn into_family(self: Arc<Self>) -> Family<M> {
        Family { core: self }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn shard(&self, hash: u64) -> &RwLock<HashTable<SeriesRef<M>>> {
        // hashbrown indexes by the low bits and tags by the top 7: shard by bits in between.
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    fn check_count(&self, values: &[&str]) -> Result<(), MetricError> {
        if values.len() == self.label_names.len() {
            Ok(())
        } else {
            Err(MetricError::LabelCount {
                family: self.name.to_string(),
                expected: self.label_names.len(),
                got: values.len(),
            })
        }
    }

    /// Runs `f` on the cell for `values`, creating the series if needed. A wrong number of
    /// values is counted and dropped.
    #[inline]
    fn with_cell(&self, values: &[&str], f: impl FnOnce(&M::Cell)) {
        if values.len() != self.label_names.len() {
            self.label_mismatches.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let hash = hash_values(&self.hasher, values);
        let generation = self.generation.load(Ordering::Acquire);
        let cache = self.cache.get_or(Default::default);
        let Ok(mut cache) = cache.0.try_borrow_mut() else {
            return f(&self.resolve(hash, values).0.cell);
        };
        let eq = |c: &Cached<M::Cell>| c.hash == hash && c.values.matches(values);
        if let Some(cached) = cache.find_mut(hash, eq) {
            if cached.generation != generation {
                let (series, cacheable) = self.resolve(hash, values);
                if !cacheable {
                    return f(&series.cell);
                }
                cached.generation = generation;
                cached.series = series;
            }
            return f(&cached.series.cell);
        }
        let (series, cacheable) = self.resolve(hash, values);
        f(&series.cell);
        if cacheable {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            let entry = Cached {
                hash,
                generation,
                values: LabelValues::new(values),
                series,
            };
            cache.insert_unique(hash, entry, |c| c.hash);
        }
    }

    /// Finds or creates the series for `values` (whose count is right). Returns it and
    /// whether it is the real series (`false` for the overflow series).
    #[cold]
    fn resolve(&self, hash: u64, values: &[&str]) -> (SeriesRef<M>, bool) {
        let shard = self.shard(hash);
        let eq = |s: &SeriesRef<M>| s.hash == hash && s.values.matches(values);
        if let Some(series) = shard.read().find(hash, eq) {
            return (series.clone(), true);
        }
        let mut table = shard.write();
        if let Some(series) = table.find(hash, eq) {
            return (series.clone(), true);
        }
        if self.len.fetch_add(1, Ordering::Relaxed) >= self.limit {
            self.len.fetch_sub(1, Ordering::Relaxed);
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            return (self.overflow_series(), false);
        }
        let series = Arc::new(Series {
            values: LabelValues::new(values),
            hash,
            cell: M::new_cell(&self.layout),
        });
        table.insert_unique(hash, series.clone(), |s| s.hash);
        (series, true)
    }

    fn overflow_series(&self) -> SeriesRef<M> {
        self.overflow
            .get_or_init(|| {
                Arc::new(Series {
                    values: LabelValues::new(&["true"]),
                    hash: 0,
                    cell: M::new_cell(&self.layout),
                })
            })
            .clone()
    }

    fn remove(&self, values: &[&str]) -> bool {
        if values.len() != self.label_names.len() {
            return false;
        }
        let hash = hash_values(&self.hasher, values);
        let mut table = self.shard(hash).write();
        let eq = |s: &SeriesRef<M>| s.hash == hash && s.values.matches(values);
        let Ok(entry) = table.find_entry(hash, eq) else {
            return false;
        };
        entry.remove();
        self.len.fetch_sub(1, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        true
    }

    fn clear(&self) {
        for shard in &self.shards {
            let mut table = shard.write();
            self.len.fetch_sub(table.len(), Ordering::Relaxed);
            table.clear();
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Hands every series to `visitor`; `scratch` is reused between histogram series.
    pub(crate) fn visit_series(&self, visitor: &mut dyn MetricVisitor, scratch: &mut Vec<u64>) {
        for shard in &self.shards {
            let table = shard.read();
            if table.is_empty() {
                continue;
            }
            let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(self.label_names.len());
            // Series live in their own allocations, scattered once there are many: fetch
            // the ones a few steps ahead (the series, then its label values) while this
            // one is encoded, so that the walk does not wait on memory at every step.
            let all: Vec<&SeriesRef<M>> = table.iter().collect();
            for (at, series) in all.iter().enumerate() {
                if let Some(ahead) = all.get(at + 2 * PREFETCH_DISTANCE) {
                    prefetch(Arc::as_ptr(ahead));
                }
                if let Some(ahead) = all.get(at + PREFETCH_DISTANCE) {
                    prefetch(ahead.values.as_ptr());
                }
                pairs.clear();
                pairs.extend(
                    self.label_names
                        .iter()
                        .map(|n| &**n)
                        .zip(series.values.iter()),
                );
                visitor.visit_series(&pairs, M::read(&series.cell, &self.layout, scratch));
            }
        }
        if let Some(overflow) = self.overflow.get() {
            let value = M::read(&overflow.cell, &self.layout, scratch);
            visitor.visit_series(&[(OVERFLOW_LABEL, "true")], value);
        }
    }
}

/// How many series ahead `visit_series` fetches label values (and twice as far, series).
const PREFETCH_DISTANCE: usize = 8;

/// Asks the CPU to bring `ptr`'s cache line in; a hint, without effect elsewhere.
#[inline(always)]
fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the
    // address; SSE is part of every x86_64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

impl<M: Metric> Family<M> {
    /// The exported family name (for counters, without `_total`).
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The label names, in the order values are passed.
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.core.label_names.iter().map(|n| &**n)
    }

    /// A handle on the series for `values`, created if needed. Past the cardinality limit
    /// this is the shared overflow series. Hold it to record with one atomic op.
    pub fn get(&self, values: &[&str]) -> Result<M, MetricError> {
        self.core.check_count(values)?;
        let hash = hash_values(&self.core.hasher, values);
        Ok(M::from_series(self.core.resolve(hash, values).0))
    }

    /// Removes the series for `values`; returns whether it existed. Handles already held
    /// keep working but are no longer exported.
    pub fn remove(&self, values: &[&str]) -> bool {
        self.core.remove(values)
    }

    /// Removes every series.
    pub fn clear(&self) {
        self.core.clear()
    }

    /// Number of series, not counting the overflow series.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether the family has no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Family<Counter> {
    /// Adds one to the series for `values`.
    #[inline]
    pub fn inc(&self, values: &[&str]) {
        self.core.with_cell(values, |c| c.add(1));
    }

    /// Adds `n` to the series for `values`.
    #[inline]
    pub fn add(&self, values: &[&str], n: u64) {
        self.core.with_cell(values, |c| c.add(n));
    }
}

impl Family<Gauge> {
    /// Sets the series for `values`.
    #[inline]
    pub fn set(&self, values: &[&str], value: f64) {
        self.core.with_cell(values, |c| c.set(value));
    }

    /// Adds `delta` to the series for `values`.
    #[inline]
    pub fn add(&self, values: &[&str], delta: f64) {
        self.core.with_cell(values, |c| c.add(delta));
    }

    /// Adds one to the series for `values`.
    #[inline]
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1.0);
    }

    /// Subtracts one from the series for `values`.
    #[inline]
    pub fn dec(&self, values: &[&str]) {
        self.add(values, -1.0);
    }
}

impl Family<Histogram> {
    /// Records `value` in the series for `values`.
    #[inline]
    pub fn observe(&self, values: &[&str], value: f64) {
        self.core.with_cell(values, |c| c.observe(value));
    }

    /// Records a duration in the family's unit (see [`Histogram::observe_duration`]).
    #[inline]
    pub fn observe_duration(&self, values: &[&str], duration: Duration) {
        self.core
            .with_cell(values, |c| c.observe_duration(duration));
    }
}

//! Counters: monotonic `u64` totals.

use super::series::{Metric, Series, sealed::Sealed};
use lookout_export::{MetricKind, Value};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A handle on one counter series. Cloning is cheap; an increment is one atomic op.
#[derive(Debug, Clone)]
pub struct Counter {
    series: Arc<Series<CounterCell>>,
}

/// A counter's storage: one word while uncontended, per-thread stripes once contended.
///
/// Threads incrementing one word take turns owning its cache line, and each turn costs
/// a transfer between cores. An increment is one `fetch_add` on the word; once every
/// [`PROBE_EVERY`] increments, one also probes for another thread's increments (a
/// compare-and-swap of the value it has just read), and the first probe that finds one
/// in its way gives the counter stripes, one cache line each. From then on every thread
/// adds to its own; reading sums them. Only counters that really are contended pay the
/// stripes' memory.
#[derive(Debug, Default)]
pub struct CounterCell {
    base: AtomicU64,
    /// Increments of `base`, roughly (a plain read and write, not an atomic add: a lost
    /// tick only delays a probe); they time the probes.
    ticks: AtomicU32,
    stripes: OnceLock<Box<[Stripe]>>,
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// An uncontended counter probes for contention once per this many increments (a power
/// of two): the probe's compare-and-swap is a few nanoseconds, once per 4,096.
const PROBE_EVERY: u32 = 4096;

/// Stripes per contended counter: a power of two, at least the number of cores, at most 64.
fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        cores.next_power_of_two().clamp(2, 64)
    })
}

/// This thread's stripe index (before masking): threads take consecutive numbers.
fn thread_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    STRIPE.with(|s| *s)
}

impl CounterCell {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        if let Some(stripes) = self.stripes.get() {
            let stripe = &stripes[thread_stripe() & (stripes.len() - 1)];
            stripe.0.fetch_add(n, Ordering::Relaxed);
            return;
        }
        // The add's result is not read: the increment stays one locked add.
        self.base.fetch_add(n, Ordering::Relaxed);
        let tick = self.ticks.load(Ordering::Relaxed).wrapping_add(1);
        self.ticks.store(tick, Ordering::Relaxed);
        if tick.is_multiple_of(PROBE_EVERY) {
            self.probe();
        }
    }

    /// Stripes the counter if another thread's increment lands between a read of the
    /// word and a compare-and-swap of that value.
    #[cold]
    #[inline(never)]
    fn probe(&self) {
        let seen = self.base.load(Ordering::Relaxed);
        if self
            .base
            .compare_exchange(seen, seen, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.stripes
                .get_or_init(|| (0..stripe_count()).map(|_| Stripe::default()).collect());
        }
    }

    pub(crate) fn get(&self) -> u64 {
        let striped = self.stripes.get().map_or(0, |stripes| {
            stripes
                .iter()
                .fold(0u64, |sum, s| sum.wrapping_add(s.0.load(Ordering::Relaxed)))
        });
        self.base.load(Ordering::Relaxed).wrapping_add(striped)
    }

    /// Whether contention gave this counter stripes.
    #[cfg(test)]
    pub(crate) fn is_striped(&self) -> bool {
        self.stripes.get().is_some()
    }
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.series.cell.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.series.cell.add(n);
    }

    /// The current total.
    pub fn get(&self) -> u64 {
        self.series.cell.get()
    }
}

impl Sealed for Counter {}

impl Metric for Counter {
    type Cell = CounterCell;
    type Layout = ();
    const KIND: MetricKind = MetricKind::Counter;

    fn new_cell(_: &()) -> CounterCell {
        CounterCell::default()
    }

    fn from_series(series: Arc<Series<CounterCell>>) -> Self {
        Counter { series }
    }

    fn read<'a>(cell: &CounterCell, _: &'a (), _: &'a mut Vec<u64>) -> Value<'a> {
        Value::Counter(cell.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncontended_counters_stay_one_word() {
        let cell = CounterCell::default();
        // Past many probes (one per PROBE_EVERY increments), none finding another thread.
        for _ in 0..100_000 {
            cell.add(3);
        }
        assert_eq!(cell.get(), 300_000);
        assert!(!cell.is_striped());
    }

    #[test]
    fn contended_counters_stripe_and_lose_nothing() {
        let cell = CounterCell::default();
        let threads = 4;
        let start = std::sync::Barrier::new(threads);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // All start at once and hammer one word until it has striped (two threads on
        // two cores collide within microseconds), then a while longer.
        let added: u64 = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let mut added = 0u64;
                        while added < 200_000
                            || (!cell.is_striped() && std::time::Instant::now() < deadline)
                        {
                            for _ in 0..1_000 {
                                cell.add(1);
                            }
                            added += 1_000;
                        }
                        added
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(cell.get(), added, "nothing lost");
        assert!(cell.is_striped(), "contention stripes the counter");
    }
}

//! Memory per series: live heap bytes after creating 100,000 labelled counter series
//! (3 labels) and 1,000 histogram series (11 buckets) in each crate, divided by the
//! series count. A counting global allocator measures; every registry stays alive.
//!
//! `cargo bench --bench memory` prints a markdown table.

#[path = "peers.rs"]
mod peers;

use lookout::metrics::{Descriptor, HistogramOptions, Registry};
use peers::{BOUNDS, NAMES};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const COUNTERS: usize = 100_000;
const HISTOGRAMS: usize = 1_000;
/// Lookout's per-family series limit here, above both counts.
const LOOKOUT_LIMIT: usize = 200_000;

/// Bytes per series that `build` leaves live, keeping what it returns alive meanwhile.
fn per_series<T>(series: usize, build: impl FnOnce() -> T) -> f64 {
    let before = LIVE.load(Ordering::Relaxed);
    let kept = build();
    let after = LIVE.load(Ordering::Relaxed);
    drop(kept);
    (after - before) as f64 / series as f64
}

fn lookout_counters() -> impl Sized {
    let registry = Registry::with_cardinality_limit(LOOKOUT_LIMIT);
    let family = registry
        .counter(Descriptor::new("c_total", "c").labels(NAMES))
        .unwrap();
    for i in 0..COUNTERS {
        let v = peers::label_set(i);
        family.inc(&[&v[0], &v[1], &v[2]]);
    }
    registry
}

fn lookout_histograms() -> impl Sized {
    let registry = Registry::with_cardinality_limit(LOOKOUT_LIMIT);
    let d = Descriptor::new("h_seconds", "h")
        .unit("seconds")
        .labels(NAMES);
    let family = registry
        .histogram_with(d, &HistogramOptions::seconds().buckets(BOUNDS))
        .unwrap();
    for i in 0..HISTOGRAMS {
        let v = peers::label_set(i);
        family.observe(&[&v[0], &v[1], &v[2]], 0.1);
    }
    registry
}

fn prometheus_counters() -> impl Sized {
    let family =
        prometheus::IntCounterVec::new(prometheus::Opts::new("c_total", "c"), &NAMES).unwrap();
    for i in 0..COUNTERS {
        let v = peers::label_set(i);
        family.with_label_values(&[&v[0], &v[1], &v[2]]).inc();
    }
    family
}

fn prometheus_histograms() -> impl Sized {
    let opts = prometheus::HistogramOpts::new("h_seconds", "h").buckets(BOUNDS.to_vec());
    let family = prometheus::HistogramVec::new(opts, &NAMES).unwrap();
    for i in 0..HISTOGRAMS {
        let v = peers::label_set(i);
        family
            .with_label_values(&[&v[0], &v[1], &v[2]])
            .observe(0.1);
    }
    family
}

type ClientLabels = Vec<(String, String)>;

fn client_counters() -> impl Sized {
    use prometheus_client::metrics::{counter::Counter, family::Family};
    let family = Family::<ClientLabels, Counter>::default();
    for i in 0..COUNTERS {
        let v = peers::label_set(i);
        family
            .get_or_create(&peers::client_labels([&v[0], &v[1], &v[2]]))
            .inc();
    }
    family
}

fn client_histograms() -> impl Sized {
    use prometheus_client::metrics::{family::Family, histogram::Histogram};
    fn new_histogram() -> Histogram {
        Histogram::new(BOUNDS)
    }
    let family =
        Family::<ClientLabels, Histogram, fn() -> Histogram>::new_with_constructor(new_histogram);
    for i in 0..HISTOGRAMS {
        let v = peers::label_set(i);
        family
            .get_or_create(&peers::client_labels([&v[0], &v[1], &v[2]]))
            .observe(0.1);
    }
    family
}

fn metrics_series(histograms: bool) -> impl Sized {
    let recorder = peers::metrics_recorder();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..if histograms { HISTOGRAMS } else { COUNTERS } {
            let v = peers::label_set(i);
            let labels: Vec<(&'static str, String)> =
                NAMES.iter().zip(v).map(|(n, v)| (*n, v)).collect();
            if histograms {
                metrics::histogram!("h_seconds", &labels).record(0.1);
            } else {
                metrics::counter!("c_total", &labels).increment(1);
            }
        }
    });
    // Moves histogram samples into buckets, as a scrape or the upkeep thread does.
    recorder.handle().run_upkeep();
    recorder
}

fn otel_counters() -> impl Sized {
    // The SDK sizes each instrument's map for its cardinality limit up front.
    let (provider, meter) = peers::otel_meter(COUNTERS + 1);
    let counter = meter.u64_counter("c_total").build();
    for i in 0..COUNTERS {
        let v = peers::label_set(i);
        counter.add(1, &peers::otel_attributes([&v[0], &v[1], &v[2]]));
    }
    (provider, counter)
}

fn otel_histograms() -> impl Sized {
    let (provider, meter) = peers::otel_meter(HISTOGRAMS + 1);
    let histogram = meter
        .f64_histogram("h_seconds")
        .with_boundaries(BOUNDS.to_vec())
        .build();
    for i in 0..HISTOGRAMS {
        let v = peers::label_set(i);
        histogram.record(0.1, &peers::otel_attributes([&v[0], &v[1], &v[2]]));
    }
    (provider, histogram)
}

fn main() {
    // Criterion passes flags such as --bench; this bench takes none.
    let rows = [
        (
            "lookout",
            per_series(COUNTERS, lookout_counters),
            per_series(HISTOGRAMS, lookout_histograms),
        ),
        (
            "prometheus",
            per_series(COUNTERS, prometheus_counters),
            per_series(HISTOGRAMS, prometheus_histograms),
        ),
        (
            "prometheus_client",
            per_series(COUNTERS, client_counters),
            per_series(HISTOGRAMS, client_histograms),
        ),
        (
            "metrics",
            per_series(COUNTERS, || metrics_series(false)),
            per_series(HISTOGRAMS, || metrics_series(true)),
        ),
        (
            "opentelemetry_sdk",
            per_series(COUNTERS, otel_counters),
            per_series(HISTOGRAMS, otel_histograms),
        ),
    ];
    println!(
        "| crate | bytes per counter series (100,000, 3 labels) | bytes per histogram series (1,000, 11 buckets) |"
    );
    println!("| --- | ---: | ---: |");
    for (name, counter, histogram) in rows {
        println!("| {name} | {counter:.0} | {histogram:.0} |");
    }
}

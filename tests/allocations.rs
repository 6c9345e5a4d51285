//! The recording path allocates nothing once a series exists and this thread has seen it.

use lookout::metrics::{Descriptor, Registry};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations made by the current thread, so parallel tests do not interfere.
struct PerThreadCount;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator; the count is a const-initialised
// thread-local `Cell`, which neither allocates nor needs a destructor.
unsafe impl GlobalAlloc for PerThreadCount {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PerThreadCount = PerThreadCount;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn labelled_recording_of_known_series_allocates_nothing() {
    let registry = Registry::new();
    let calls = registry
        .counter(Descriptor::new("calls_total", "c").labels(["agent_type", "phase", "status"]))
        .unwrap();
    let depth = registry
        .gauge(Descriptor::new("depth", "d").labels(["priority"]))
        .unwrap();
    let latency = registry
        .histogram(
            Descriptor::new("latency_seconds", "l")
                .unit("seconds")
                .labels(["tool"]),
        )
        .unwrap();
    let label_sets: Vec<[String; 3]> = (0..100)
        .map(|i| {
            [
                format!("agent{i}"),
                format!("phase{}", i % 5),
                "success".to_owned(),
            ]
        })
        .collect();
    let record = || {
        for values in &label_sets {
            calls.inc(&[&values[0], &values[1], &values[2]]);
            depth.set(&[&values[1]], 3.0);
            latency.observe(&[&values[0]], 0.25);
        }
    };
    // The first pass creates the series and this thread's cache entries.
    assert!(allocations_during(record) > 0);
    assert_eq!(allocations_during(record), 0);

    // A handle never allocates.
    let handle = calls.get(&["agent1", "phase1", "success"]).unwrap();
    assert_eq!(allocations_during(|| handle.add(5)), 0);
    // Nor does a wrong label count: it is counted and dropped.
    assert_eq!(allocations_during(|| calls.inc(&["only-one"])), 0);
}

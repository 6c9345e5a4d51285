//! Random trace and span ids from a per-thread generator.

use lookout_export::{SpanId, TraceId};
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    /// wyrand state, seeded from the OS-randomised std hasher and the thread.
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}

/// wyrand: one multiply per 64 random bits, good statistical quality.
fn next() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    })
}

/// 64 random bits (not for secrets).
pub(crate) fn random_u64() -> u64 {
    next()
}

/// A random, valid trace id.
pub(crate) fn trace_id() -> TraceId {
    loop {
        let id = TraceId((u128::from(next()) << 64) | u128::from(next()));
        if id.is_valid() {
            return id;
        }
    }
}

/// A random, valid span id.
pub(crate) fn span_id() -> SpanId {
    loop {
        let id = SpanId(next());
        if id.is_valid() {
            return id;
        }
    }
}

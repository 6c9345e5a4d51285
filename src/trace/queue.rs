//! The bounded hand-off from ending spans to whoever exports them.

use crossbeam_queue::ArrayQueue;
use lookout_export::FinishedSpan;
use std::sync::atomic::{AtomicU64, Ordering};

/// Finished spans wait here; when it is full a span is dropped and counted, never waited on.
#[derive(Debug)]
pub(crate) struct SpanQueue {
    spans: ArrayQueue<FinishedSpan>,
    dropped: AtomicU64,
}

impl SpanQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        SpanQueue {
            spans: ArrayQueue::new(capacity.max(1)),
            dropped: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn push(&self, span: FinishedSpan) {
        if self.spans.push(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes up to `max` spans, oldest first.
    pub(crate) fn drain(&self, max: usize, mut f: impl FnMut(FinishedSpan)) {
        for _ in 0..max {
            match self.spans.pop() {
                Some(span) => f(span),
                None => break,
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

//! Recent traces kept in memory, for `recent_spans(trace_id)`.

use lookout_export::{FinishedSpan, TraceId};
use std::collections::{HashMap, VecDeque};

/// Finished spans grouped by trace, at most `capacity` spans; the oldest traces go first.
#[derive(Debug)]
pub(crate) struct RecentTraces {
    by_trace: HashMap<TraceId, Vec<FinishedSpan>>,
    arrival: VecDeque<TraceId>,
    spans: usize,
    capacity: usize,
}

impl RecentTraces {
    pub(crate) fn new(capacity: usize) -> Self {
        RecentTraces {
            by_trace: HashMap::new(),
            arrival: VecDeque::new(),
            spans: 0,
            capacity,
        }
    }

    pub(crate) fn insert(&mut self, span: FinishedSpan) {
        if self.capacity == 0 {
            return;
        }
        let trace = self.by_trace.entry(span.trace_id).or_default();
        if trace.is_empty() {
            self.arrival.push_back(span.trace_id);
        }
        trace.push(span);
        self.spans += 1;
        while self.spans > self.capacity {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            self.spans -= self.by_trace.remove(&oldest).map_or(0, |t| t.len());
        }
    }

    /// Whether nothing is kept (capacity 0).
    pub(crate) fn is_disabled(&self) -> bool {
        self.capacity == 0
    }

    pub(crate) fn trace(&self, trace_id: TraceId) -> Vec<FinishedSpan> {
        self.by_trace.get(&trace_id).cloned().unwrap_or_default()
    }

    pub(crate) fn trace_ids(&self) -> impl Iterator<Item = TraceId> + '_ {
        self.arrival.iter().copied()
    }
}

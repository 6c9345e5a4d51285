//! Takes finished spans off the tracer's queue and hands them to every worker in batches,
//! by size or by delay.

use super::Settings;
use super::worker::{SpanBatch, WorkerHandle};
use crate::trace::Tracer;
use lookout_export::FinishedSpan;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The batch being filled.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    tracer: Tracer,
    max_batch: usize,
    delay: Duration,
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    spans: Vec<FinishedSpan>,
    since: Option<Instant>,
}

impl Dispatcher {
    pub(crate) fn new(tracer: Tracer, settings: &Settings) -> Self {
        Dispatcher {
            tracer,
            max_batch: settings.max_batch,
            delay: settings.span_delay,
            pending: Mutex::new(Pending::default()),
        }
    }

    /// Moves finished spans into the batch and hands out every full batch, and the
    /// partial one when its first span has waited the delay. A worker whose queue is full
    /// loses the batch (counted).
    ///
    /// The batch lock is held until the batches are handed over, so a flush that pumps
    /// at the same time waits for them: none reaches a worker after the flush asked it.
    /// While a flush holds it, this pump (an async task) skips its turn instead of
    /// blocking its thread: the flush hands everything out.
    pub(crate) fn pump(&self, workers: &[WorkerHandle]) {
        let Some(mut pending) = self.pending.try_lock() else {
            return;
        };
        for batch in self.due_batches(&mut pending, false) {
            for worker in workers {
                worker.offer(&batch);
            }
        }
    }

    /// Hands out every finished span now. A worker whose queue is full is waited for
    /// until `deadline`, so a flush loses nothing that a working exporter can take.
    pub(crate) fn pump_all(&self, workers: &[WorkerHandle], deadline: Instant) {
        let mut pending = self.pending.lock();
        for batch in self.due_batches(&mut pending, true) {
            for worker in workers {
                worker.offer_until(&batch, deadline);
            }
        }
    }

    /// Takes finished spans off the tracer into `pending`; returns the batches due.
    fn due_batches(&self, pending: &mut Pending, force: bool) -> Vec<SpanBatch> {
        let mut due = Vec::new();
        loop {
            let room = self.max_batch - pending.spans.len();
            let taken = self.tracer.take_finished(room);
            let more = taken.len() == room;
            if !taken.is_empty() && pending.since.is_none() {
                pending.since = Some(Instant::now());
            }
            pending.spans.extend(taken);
            let ready = pending.spans.len() >= self.max_batch
                || (!pending.spans.is_empty()
                    && (force || pending.since.is_some_and(|t| t.elapsed() >= self.delay)));
            if ready {
                due.push(std::mem::take(&mut pending.spans).into());
                pending.since = None;
            }
            if !more {
                return due;
            }
        }
    }
}

/// Pumps until the pipeline stops, polling at a tenth of the delay (at most every 50 ms).
pub(crate) async fn run(
    dispatcher: Arc<Dispatcher>,
    workers: Arc<[WorkerHandle]>,
    stopped: Arc<AtomicBool>,
) {
    let poll = (dispatcher.delay / 10).clamp(Duration::from_millis(1), Duration::from_millis(50));
    while !stopped.load(Ordering::Acquire) {
        tokio::time::sleep(poll).await;
        dispatcher.pump(&workers);
    }
}

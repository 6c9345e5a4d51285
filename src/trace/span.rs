//! A span in progress: a guard that ends the span when dropped.

use super::context::SpanContext;
use super::current::{self, Entered, InSpan};
use super::tracer::Tracer;
use lookout_export::{AttributeValue, Event, FinishedSpan, KeyValue, Link, Status};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A span in progress. Set attributes, add events, record errors; it ends with
/// [`end`](Self::end) or when dropped, and a panic while it is current (or dropped during
/// unwinding) ends it with an error status.
///
/// Unsampled spans carry a context for propagation and record nothing.
#[derive(Debug)]
pub struct Span {
    context: SpanContext,
    started: quanta::Instant,
    recording: Option<Recording>,
    /// Set by a panic while current; atomic so a span can be shared (e.g. by `tracing`).
    panicked: AtomicBool,
}

/// A sampled span's record: the finished span it will become, filled in as it goes and
/// moved into the queue when it ends. Inline, so a span allocates nothing of its own.
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) tracer: Tracer,
    pub(crate) data: FinishedSpan,
}

impl Span {
    pub(crate) fn new(
        context: SpanContext,
        started: quanta::Instant,
        recording: Option<Recording>,
    ) -> Self {
        Span {
            context,
            started,
            recording,
            panicked: AtomicBool::new(false),
        }
    }

    /// This span's identity, to parent other spans or to propagate.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// The `traceparent` header value naming this span as parent (seed 003's `propagate`).
    pub fn traceparent(&self) -> String {
        self.context.traceparent()
    }

    /// Whether this span records (it was sampled).
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Sets an attribute, replacing an earlier value for the same key. Past the tracer's
    /// attribute limit new keys are dropped and counted; long strings are cut and counted.
    pub fn set_attribute(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<AttributeValue>,
    ) {
        if let Some(rec) = &mut self.recording {
            let limits = rec.tracer.limits();
            let mut kv = KeyValue::new(key, value);
            rec.tracer.truncate(&mut kv.value);
            let data = &mut rec.data;
            if let Some(existing) = data.attributes.iter_mut().find(|a| a.key == kv.key) {
                existing.value = kv.value;
            } else if data.attributes.len() < limits.max_attributes {
                data.attributes.push(kv);
            } else {
                data.dropped_attributes += 1;
                rec.tracer.count_dropped_attribute();
            }
        }
    }

    /// The value of an attribute set so far (`None` when unset or not recording).
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        let rec = self.recording.as_ref()?;
        rec.data
            .attributes
            .iter()
            .find(|a| a.key == key)
            .map(|a| &a.value)
    }

    /// Sets several attributes (seed 003's `setAttributes`).
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        for kv in attributes {
            self.set_attribute(kv.key, kv.value);
        }
    }

    /// Adds an event now. Past the tracer's event limit it is dropped and counted.
    pub fn add_event(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        if let Some(rec) = &mut self.recording {
            if rec.data.events.len() >= rec.tracer.limits().max_events {
                rec.data.dropped_events += 1;
                rec.tracer.count_dropped_event();
                return;
            }
            let mut attributes: Vec<KeyValue> = attributes.into_iter().collect();
            for kv in &mut attributes {
                rec.tracer.truncate(&mut kv.value);
            }
            let time = rec.data.start_time + self.started.elapsed();
            rec.data.events.push(Event::new(name, time, attributes));
        }
    }

    /// Links another span (from this trace or another). Past the limit it is dropped and counted.
    pub fn add_link(
        &mut self,
        context: &SpanContext,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        if let Some(rec) = &mut self.recording {
            if rec.data.links.len() >= rec.tracer.limits().max_links {
                rec.data.dropped_links += 1;
                rec.tracer.count_dropped_link();
                return;
            }
            let mut link = Link::new(context.trace_id, context.span_id);
            link.flags = context.flags;
            link.trace_state = context.trace_state.shared();
            link.attributes = attributes.into_iter().collect();
            rec.data.links.push(link);
        }
    }

    /// Records an error as OpenTelemetry does: an `exception` event with
    /// `exception.type` and `exception.message`, and an error status.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        let message = error.to_string();
        self.add_event(
            "exception",
            [
                KeyValue::new("exception.type", std::any::type_name::<E>()),
                KeyValue::new("exception.message", message.clone()),
            ],
        );
        self.set_status(Status::Error(message.into()));
    }

    /// Sets the status (an `Ok` is never overwritten by a later `Error`, as in OpenTelemetry).
    pub fn set_status(&mut self, status: Status) {
        if let Some(rec) = &mut self.recording
            && rec.data.status != Status::Ok
        {
            rec.data.status = status;
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(rec) = &mut self.recording {
            rec.data.name = name.into();
        }
    }

    /// Makes this span current on this thread until the guard drops: spans started without
    /// an explicit parent become its children.
    pub fn enter(&self) -> Entered<'_> {
        current::push(self.context.clone());
        Entered { span: self }
    }

    /// Runs `future` inside this span: current during every poll, ended on completion,
    /// marked as an error if a poll panics.
    pub fn in_future<F: std::future::Future>(self, future: F) -> InSpan<F> {
        InSpan::new(future, self)
    }

    /// Ends the span now.
    pub fn end(mut self) {
        self.finish();
    }

    /// Ends the span now with `status`.
    pub fn end_with_status(mut self, status: Status) {
        self.set_status(status);
        self.finish();
    }

    /// Ends the span at `end` (for work that already happened, started with
    /// [`crate::trace::SpanBuilder::start_time`]); never before its start.
    pub fn end_at(mut self, end: std::time::SystemTime) {
        self.finish_at(Some(end));
    }

    pub(crate) fn mark_panicked(&self) {
        self.panicked.store(true, Ordering::Relaxed);
    }

    /// Ends the span once; returns how long it lasted.
    pub(crate) fn finish(&mut self) -> Duration {
        self.finish_at(None)
    }

    /// Ends the span once, at `end` or now.
    fn finish_at(&mut self, end: Option<std::time::SystemTime>) -> Duration {
        let duration = self.started.elapsed();
        if std::thread::panicking() {
            self.mark_panicked();
        }
        let Some(Recording { tracer, mut data }) = self.recording.take() else {
            return duration;
        };
        if self.panicked.load(Ordering::Relaxed) && data.status != Status::Ok {
            data.status = Status::Error(Cow::Borrowed("panicked"));
        }
        data.end_time = match end {
            Some(end) => end.max(data.start_time),
            None => data.start_time + duration,
        };
        tracer.enqueue(data);
        duration
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.finish();
    }
}

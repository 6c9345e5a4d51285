//! The tracer: starts spans, applies sampling and limits, hands finished spans on.

use super::context::SpanContext;
use super::current;
use super::id_generator;
use super::queue::SpanQueue;
use super::recent::RecentTraces;
use super::resource::process_resource;
use super::sampler::Sampler;
use super::span::{Recording, Span};
use super::tracestate::TraceState;
use lookout_export::{
    AttributeValue, FinishedSpan, KeyValue, Resource, SpanId, SpanKind, TraceFlags, TraceId,
};
use parking_lot::Mutex;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

/// How much one span may hold; what goes past is dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span (default 128, as OpenTelemetry).
    pub max_attributes: usize,
    /// Events per span (default 128).
    pub max_events: usize,
    /// Links per span (default 128).
    pub max_links: usize,
    /// Bytes per string attribute value; longer values are cut (default 4,096).
    pub max_value_len: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            max_value_len: 4096,
        }
    }
}

/// Counts of what the tracer dropped or cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TracerStats {
    /// Finished spans dropped because the export queue was full.
    pub queue_dropped: u64,
    /// Attributes refused by the per-span limit.
    pub attributes_dropped: u64,
    /// Events refused by the per-span limit.
    pub events_dropped: u64,
    /// Links refused by the per-span limit.
    pub links_dropped: u64,
    /// String values cut to the length limit.
    pub values_truncated: u64,
}

/// Settings for a [`Tracer`].
#[derive(Debug, Clone)]
pub struct TracerBuilder {
    sampler: Sampler,
    limits: SpanLimits,
    queue_capacity: usize,
    recent_capacity: usize,
    resource: Option<Resource>,
}

impl TracerBuilder {
    /// The sampler (default: parent-based, always on for roots).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Per-span limits.
    pub fn limits(mut self, limits: SpanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Finished spans waiting for export before new ones are dropped (default 2,048).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Finished spans kept in memory for [`Tracer::recent_spans`] (default 10,000).
    pub fn recent_capacity(mut self, capacity: usize) -> Self {
        self.recent_capacity = capacity;
        self
    }

    /// The process its spans come from (default: [`process_resource`]).
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// The resource spans will carry: the one set, else this process's.
    pub(crate) fn resource_or_default(&self) -> Resource {
        self.resource.clone().unwrap_or_else(process_resource)
    }

    /// The tracer.
    pub fn build(self) -> Tracer {
        Tracer {
            inner: Arc::new(Inner {
                resource: Arc::new(self.resource_or_default()),
                sampler: self.sampler,
                limits: self.limits,
                queue: SpanQueue::new(self.queue_capacity),
                recent: Mutex::new(RecentTraces::new(self.recent_capacity)),
                exported: AtomicBool::new(false),
                attributes_dropped: AtomicU64::new(0),
                events_dropped: AtomicU64::new(0),
                links_dropped: AtomicU64::new(0),
                values_truncated: AtomicU64::new(0),
            }),
        }
    }
}

/// Starts spans. Cloning is cheap and shares the queue and the recent traces.
#[derive(Debug, Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    resource: Arc<Resource>,
    sampler: Sampler,
    limits: SpanLimits,
    queue: SpanQueue,
    recent: Mutex<RecentTraces>,
    /// Set once an export pipeline takes the finished spans: then only it drains the queue.
    exported: AtomicBool,
    attributes_dropped: AtomicU64,
    events_dropped: AtomicU64,
    links_dropped: AtomicU64,
    values_truncated: AtomicU64,
}

impl Default for Tracer {
    fn default() -> Self {
        Tracer::builder().build()
    }
}

/// Where a new span's parent comes from.
#[derive(Debug, Clone)]
enum Parent {
    /// The current span of this thread or task, if any.
    Current,
    /// None: a new trace.
    Root,
    /// This one (local or remote).
    Explicit(SpanContext),
}

/// A span about to start: name, kind, parent, initial attributes.
#[derive(Debug)]
#[must_use = "call start() to start the span"]
pub struct SpanBuilder<'t> {
    tracer: &'t Tracer,
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Parent,
    attributes: Vec<KeyValue>,
    start_time: Option<SystemTime>,
}

impl SpanBuilder<'_> {
    /// Sets the kind (default internal).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Makes `parent` (a local span's context or an extracted remote one) the parent.
    pub fn parent(mut self, parent: &SpanContext) -> Self {
        self.parent = Parent::Explicit(parent.clone());
        self
    }

    /// Starts a new trace, whatever span is current.
    pub fn root(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// Adds an attribute present from the start.
    pub fn attribute(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<AttributeValue>,
    ) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Dates the span's start (for work that already happened, ended with
    /// [`Span::end_at`]); default now.
    pub fn start_time(mut self, time: SystemTime) -> Self {
        self.start_time = Some(time);
        self
    }

    /// Starts the span.
    pub fn start(self) -> Span {
        let SpanBuilder {
            tracer,
            name,
            kind,
            parent,
            attributes,
            start_time,
        } = self;
        let parent = match parent {
            Parent::Current => current::current(),
            Parent::Root => None,
            Parent::Explicit(context) => Some(context),
        };
        let started = quanta::Instant::now();
        let trace_id = parent
            .as_ref()
            .map_or_else(id_generator::trace_id, |p| p.trace_id);
        let sampled = tracer
            .inner
            .sampler
            .should_sample(trace_id, parent.as_ref().map(SpanContext::is_sampled));
        let (parent_span_id, parent_is_remote, trace_state, flags) = match parent {
            Some(p) => (p.span_id, p.is_remote, p.trace_state, p.flags),
            None => (
                SpanId::INVALID,
                false,
                TraceState::EMPTY,
                TraceFlags::default(),
            ),
        };
        let context = SpanContext {
            trace_id,
            span_id: id_generator::span_id(),
            flags: flags.with_sampled(sampled),
            trace_state,
            is_remote: false,
        };
        let recording = sampled.then(|| {
            let start_time = start_time.unwrap_or_else(|| wall_clock(started));
            let mut data = FinishedSpan::new(trace_id, context.span_id, name, start_time);
            data.parent_span_id = parent_span_id;
            data.parent_is_remote = parent_is_remote;
            data.flags = context.flags;
            data.trace_state = context.trace_state.shared();
            data.kind = kind;
            Recording {
                tracer: tracer.clone(),
                data,
            }
        });
        let mut span = Span::new(context, started, recording);
        span.set_attributes(attributes);
        span
    }
}

/// The wall-clock time of `instant`, from one process-wide anchor: a span reads one clock,
/// the TSC through `quanta` (calibrated against the OS clock), at start and at end.
fn wall_clock(instant: quanta::Instant) -> SystemTime {
    static ANCHOR: OnceLock<(SystemTime, quanta::Instant)> = OnceLock::new();
    let (wall, mono) = *ANCHOR.get_or_init(|| (SystemTime::now(), quanta::Instant::now()));
    match instant.checked_duration_since(mono) {
        Some(after) => wall + after,
        None => wall - mono.duration_since(instant),
    }
}

impl Tracer {
    /// Settings to build a tracer from.
    pub fn builder() -> TracerBuilder {
        TracerBuilder {
            sampler: Sampler::default(),
            limits: SpanLimits::default(),
            queue_capacity: 2048,
            recent_capacity: 10_000,
            resource: None,
        }
    }

    /// A span named `name`, a child of the current span unless told otherwise.
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> SpanBuilder<'_> {
        SpanBuilder {
            tracer: self,
            name: name.into(),
            kind: SpanKind::Internal,
            parent: Parent::Current,
            attributes: Vec::new(),
            start_time: None,
        }
    }

    /// Starts a new trace with a root span (seed 003's `startTrace`).
    pub fn start_trace(&self, name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Span {
        self.span(name).kind(kind).root().start()
    }

    /// Starts a child of `parent` (seed 003's `startSpan`).
    pub fn start_span(&self, parent: &SpanContext, name: impl Into<Cow<'static, str>>) -> Span {
        self.span(name).parent(parent).start()
    }

    /// Starts a span continuing a remote context (seed 003's `continueTrace`).
    pub fn continue_trace(&self, remote: &SpanContext, name: impl Into<Cow<'static, str>>) -> Span {
        self.span(name)
            .parent(remote)
            .kind(SpanKind::Server)
            .start()
    }

    /// The finished spans of `trace_id` still in memory (seed 003's `exportSpans`).
    ///
    /// With an export pipeline running, spans reach memory as the pipeline takes them
    /// (within its poll interval); without one, this takes them off the queue itself.
    pub fn recent_spans(&self, trace_id: TraceId) -> Vec<FinishedSpan> {
        self.recent_queued().trace(trace_id)
    }

    /// The recent traces, after moving queued spans into them unless a pipeline owns the
    /// queue.
    fn recent_queued(&self) -> parking_lot::MutexGuard<'_, RecentTraces> {
        let mut recent = self.inner.recent.lock();
        if !self.inner.exported.load(Ordering::Acquire) {
            self.inner.queue.drain(usize::MAX, |mut span| {
                span.resource = Some(Arc::clone(&self.inner.resource));
                recent.insert(span);
            });
        }
        recent
    }

    /// Marks the queue as drained by an export pipeline.
    pub(crate) fn attach_pipeline(&self) {
        self.inner.exported.store(true, Ordering::Release);
    }

    /// The ids of the traces in memory, oldest first.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        self.recent_queued().trace_ids().collect()
    }

    /// Takes up to `max` finished spans off the queue, for an exporter; they are also kept
    /// for [`recent_spans`](Self::recent_spans).
    pub fn take_finished(&self, max: usize) -> Vec<FinishedSpan> {
        let mut taken = Vec::new();
        let mut recent = self.inner.recent.lock();
        let keep = !recent.is_disabled();
        self.inner.queue.drain(max, |mut span| {
            span.resource = Some(Arc::clone(&self.inner.resource));
            if keep {
                recent.insert(span.clone());
            }
            taken.push(span);
        });
        taken
    }

    /// The process this tracer's spans come from.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.inner.resource
    }

    /// Finished spans waiting in the queue.
    pub fn queued(&self) -> usize {
        self.inner.queue.len()
    }

    /// What the tracer dropped or cut so far.
    pub fn stats(&self) -> TracerStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TracerStats {
            queue_dropped: self.inner.queue.dropped(),
            attributes_dropped: load(&self.inner.attributes_dropped),
            events_dropped: load(&self.inner.events_dropped),
            links_dropped: load(&self.inner.links_dropped),
            values_truncated: load(&self.inner.values_truncated),
        }
    }

    pub(crate) fn limits(&self) -> SpanLimits {
        self.inner.limits
    }

    pub(crate) fn enqueue(&self, span: FinishedSpan) {
        self.inner.queue.push(span);
    }

    /// Cuts a string value to the length limit at a character boundary, counting it.
    pub(crate) fn truncate(&self, value: &mut AttributeValue) {
        let max = self.inner.limits.max_value_len;
        if let AttributeValue::String(text) = value
            && text.len() > max
        {
            let mut cut = max;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            *text = Cow::Owned(text[..cut].to_owned());
            self.inner.values_truncated.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_dropped_attribute(&self) {
        self.inner
            .attributes_dropped
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped_event(&self) {
        self.inner.events_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_dropped_link(&self) {
        self.inner.links_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

//! A `tracing-subscriber` layer: `tracing` spans become Lookout spans and `tracing` events
//! become span events, parents kept.
//!
//! ```
//! use lookout::trace::{LookoutLayer, Tracer};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let tracer = Tracer::default();
//! let subscriber = tracing_subscriber::registry().with(LookoutLayer::new(tracer.clone()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let outer = tracing::info_span!("plan", agent = "planner");
//!     let _entered = outer.enter();
//!     tracing::info_span!("search", query = "rust").in_scope(|| tracing::info!(hits = 3, "found"));
//! });
//! let trace = tracer.trace_ids()[0];
//! let spans = tracer.recent_spans(trace);
//! assert_eq!(spans.len(), 2);
//! let (search, plan) = (&spans[0], &spans[1]);
//! assert_eq!(search.parent_span_id, plan.span_id);
//! assert_eq!(search.events[0].name, "found");
//! ```

use super::current;
use super::span::Span;
use super::tracer::Tracer;
use lookout_export::{AttributeValue, KeyValue};
use std::borrow::Cow;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Sends `tracing` spans and events to a Lookout [`Tracer`].
#[derive(Debug, Clone)]
pub struct LookoutLayer {
    tracer: Tracer,
}

impl LookoutLayer {
    /// A layer recording into `tracer`.
    pub fn new(tracer: Tracer) -> Self {
        LookoutLayer { tracer }
    }
}

/// The Lookout span living in a `tracing` span's extensions.
struct Bridged(Span);

/// Collects fields as attributes; `message` becomes the event name.
#[derive(Default)]
struct Fields {
    attributes: Vec<KeyValue>,
    message: Option<String>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: AttributeValue) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.push(field, AttributeValue::from(value.to_owned()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S> Layer<S> for LookoutLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let parent = span_ref.parent().and_then(|parent| {
            let extensions = parent.extensions();
            extensions.get::<Bridged>().map(|b| b.0.context().clone())
        });
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let builder = self.tracer.span(Cow::Borrowed(attrs.metadata().name()));
        let builder = match &parent {
            Some(parent) => builder.parent(parent),
            // No tracing parent: the current Lookout span, if any, as any span would.
            None => builder,
        };
        let mut span = builder.start();
        span.set_attributes(fields.attributes);
        span_ref.extensions_mut().insert(Bridged(span));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span_ref.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            bridged.0.set_attributes(fields.attributes);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.event_span(event) else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let name = fields
            .message
            .map_or(Cow::Borrowed(event.metadata().name()), Cow::Owned);
        let mut extensions = span_ref.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            bridged.0.add_event(name, fields.attributes);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span_ref) = ctx.span(id) {
            let extensions = span_ref.extensions();
            if let Some(bridged) = extensions.get::<Bridged>() {
                current::push(bridged.0.context().clone());
            }
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(span_ref) = ctx.span(id)
            && span_ref.extensions().get::<Bridged>().is_some()
        {
            current::pop();
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span_ref) = ctx.span(&id) {
            let bridged = span_ref.extensions_mut().remove::<Bridged>();
            if let Some(Bridged(span)) = bridged {
                span.end();
            }
        }
    }
}

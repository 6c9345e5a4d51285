//! The current span of a thread, and of a future across its polls.

use super::context::SpanContext;
use super::span::Span;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    static STACK: RefCell<Vec<SpanContext>> = const { RefCell::new(Vec::new()) };
}

/// The context of the innermost entered span on this thread, if any.
pub fn current() -> Option<SpanContext> {
    STACK.with(|stack| stack.borrow().last().cloned())
}

pub(crate) fn push(context: SpanContext) {
    STACK.with(|stack| stack.borrow_mut().push(context));
}

pub(crate) fn pop() {
    STACK.with(|stack| {
        stack.borrow_mut().pop();
    });
}

/// Keeps a span current on this thread until dropped; see [`Span::enter`].
#[derive(Debug)]
#[must_use = "the span is current only while this guard lives"]
pub struct Entered<'a> {
    pub(crate) span: &'a Span,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.span.mark_panicked();
        }
        pop();
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a span: the span is current during every poll, ends
    /// when the future completes, and is marked as an error if a poll panics.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<F> {
        #[pin]
        future: F,
        span: Option<Span>,
    }
}

impl<F> InSpan<F> {
    pub(crate) fn new(future: F, span: Span) -> Self {
        InSpan {
            future,
            span: Some(span),
        }
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.span.as_ref().map(Span::enter);
        let output = this.future.poll(cx);
        if output.is_ready() {
            drop(_entered);
            drop(this.span.take());
        }
        output
    }
}

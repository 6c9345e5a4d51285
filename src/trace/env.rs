//! Trace context through the environment, for sub-agent processes.
//!
//! A parent sets `TRACEPARENT` and `TRACESTATE` (OpenTelemetry's environment carrier
//! names) and `TRACE_CONTEXT` (seed 003's alias, carrying the same `traceparent`). A
//! child reads `TRACEPARENT` first and falls back to `TRACE_CONTEXT` only when
//! `TRACEPARENT` is not set; an invalid value starts a new trace and drops `TRACESTATE`.

use super::context::SpanContext;

/// OpenTelemetry's environment carrier for `traceparent`.
pub const TRACEPARENT_ENV: &str = "TRACEPARENT";
/// OpenTelemetry's environment carrier for `tracestate`.
pub const TRACESTATE_ENV: &str = "TRACESTATE";
/// Seed 003's variable, an alias of `TRACEPARENT`.
pub const TRACE_CONTEXT_ENV: &str = "TRACE_CONTEXT";

/// The parent context this process was given, if any.
pub fn context_from_env() -> Option<SpanContext> {
    context_from(|name| std::env::var(name).ok())
}

/// The parent context found through `lookup` (a variable name to its value).
pub fn context_from(lookup: impl Fn(&str) -> Option<String>) -> Option<SpanContext> {
    let traceparent = lookup(TRACEPARENT_ENV).or_else(|| lookup(TRACE_CONTEXT_ENV))?;
    let tracestate = lookup(TRACESTATE_ENV);
    SpanContext::extract(&traceparent, tracestate.as_deref())
}

/// The variables that hand `context` to a child: `TRACEPARENT`, `TRACE_CONTEXT`, and
/// `TRACESTATE` (empty when there is none).
pub fn env_vars(context: &SpanContext) -> [(&'static str, String); 3] {
    let traceparent = context.traceparent();
    [
        (TRACEPARENT_ENV, traceparent.clone()),
        (TRACE_CONTEXT_ENV, traceparent),
        (TRACESTATE_ENV, context.trace_state.header().to_owned()),
    ]
}

/// Makes a command carry a trace context to the process it starts.
pub trait CommandExt {
    /// Sets the trace-context variables for the child; a stale `TRACESTATE` inherited
    /// from this process is removed when `context` has none.
    fn trace_context(&mut self, context: &SpanContext) -> &mut Self;

    /// Hands the child the current span of this thread (see
    /// [`Span::enter`](super::Span::enter)), if there is one.
    fn current_trace_context(&mut self) -> &mut Self {
        match super::current::current() {
            Some(context) => self.trace_context(&context),
            None => self,
        }
    }
}

/// Both command types have the same `env` and `env_remove`; one body serves them.
macro_rules! impl_command_ext {
    ($($command:ty),*) => {$(
        impl CommandExt for $command {
            fn trace_context(&mut self, context: &SpanContext) -> &mut Self {
                for (name, value) in env_vars(context) {
                    if value.is_empty() {
                        self.env_remove(name);
                    } else {
                        self.env(name, value);
                    }
                }
                self
            }
        }
    )*};
}

impl_command_ext!(std::process::Command, tokio::process::Command);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsStr;

    fn from(vars: &[(&str, &str)]) -> Option<SpanContext> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        context_from(|name| vars.get(name).cloned())
    }

    const A: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const B: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_wins_over_the_alias() {
        assert_eq!(
            from(&[(TRACEPARENT_ENV, A), (TRACE_CONTEXT_ENV, B)])
                .unwrap()
                .traceparent(),
            A
        );
        assert_eq!(from(&[(TRACE_CONTEXT_ENV, B)]).unwrap().traceparent(), B);
        // Set but invalid: a new trace, not the alias.
        assert_eq!(
            from(&[(TRACEPARENT_ENV, "garbage"), (TRACE_CONTEXT_ENV, B)]),
            None
        );
        assert_eq!(from(&[]), None);
    }

    #[test]
    fn tracestate_travels_with_a_valid_parent_only() {
        let ctx = from(&[(TRACEPARENT_ENV, A), (TRACESTATE_ENV, "rojo=1,congo=2")]).unwrap();
        assert_eq!(ctx.trace_state.header(), "rojo=1,congo=2");
        assert_eq!(
            env_vars(&ctx)[2],
            (TRACESTATE_ENV, "rojo=1,congo=2".to_owned())
        );
        let bad_state = from(&[(TRACEPARENT_ENV, A), (TRACESTATE_ENV, "Bad Key=1")]).unwrap();
        assert!(bad_state.trace_state.is_empty());
    }

    #[test]
    fn commands_carry_the_context() {
        let ctx = from(&[(TRACEPARENT_ENV, A)]).unwrap();
        let mut command = std::process::Command::new("env");
        command.trace_context(&ctx);
        let envs: HashMap<_, _> = command.get_envs().collect();
        assert_eq!(envs[OsStr::new(TRACEPARENT_ENV)], Some(OsStr::new(A)));
        assert_eq!(envs[OsStr::new(TRACE_CONTEXT_ENV)], Some(OsStr::new(A)));
        assert_eq!(envs[OsStr::new(TRACESTATE_ENV)], None);
    }

    #[test]
    fn commands_carry_the_current_span() {
        let tracer = crate::trace::Tracer::default();
        let span = tracer.span("parent").start();
        let mut command = std::process::Command::new("env");
        {
            let _entered = span.enter();
            command.current_trace_context();
        }
        let envs: HashMap<_, _> = command.get_envs().collect();
        let expected = span.traceparent();
        assert_eq!(
            envs[OsStr::new(TRACEPARENT_ENV)],
            Some(OsStr::new(&expected))
        );
        let mut untouched = std::process::Command::new("env");
        untouched.current_trace_context();
        assert_eq!(untouched.get_envs().count(), 0);
    }
}

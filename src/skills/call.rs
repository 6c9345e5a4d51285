//! A skill call being timed: the guard behind [`Skills::call`], [`Skills::time`] and
//! `#[lookout::skill]`, and the process-wide [`Skills`] that attribute uses.

use super::capture::{Captured, Skills};
use super::entry::SkillEntry;
use crate::trace::{Entered, Span};
use parking_lot::RwLock;
use serde_json::{Map, Value, json};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

/// A call of a skill in progress. Finish it with its status; dropped unfinished (a
/// panic, an early return) it is captured `failed`. Capturing never fails the caller.
#[derive(Debug)]
#[must_use = "finish() the call with its status, or it is captured failed when dropped"]
pub struct SkillCall {
    skills: Skills,
    skill: String,
    context: [Option<String>; 3],
    inputs: Map<String, Value>,
    started: Instant,
    span: Option<Span>,
}

impl SkillCall {
    pub(super) fn new(skills: Skills, skill: String, span: Span) -> SkillCall {
        SkillCall {
            skills,
            skill,
            context: [None, None, None],
            inputs: Map::new(),
            started: Instant::now(),
            span: Some(span),
        }
    }

    /// The agent that invoked it.
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.context[0] = Some(agent.into());
        self
    }

    /// The workflow it runs in.
    pub fn workflow(mut self, workflow: impl Into<String>) -> Self {
        self.context[1] = Some(workflow.into());
        self
    }

    /// Who called it (`cli`, `api`, `workflow`, `agent`).
    pub fn caller(mut self, caller: impl Into<String>) -> Self {
        self.context[2] = Some(caller.into());
        self
    }

    /// Its inputs, redacted now (a value that is not an object is kept as `{"input": …}`).
    pub fn inputs(mut self, mut inputs: Value) -> Self {
        self.skills.redactor().redact(&mut inputs);
        self.inputs = match inputs {
            Value::Object(map) => map,
            other => Map::from_iter([("input".to_owned(), other)]),
        };
        self
    }

    /// Its arguments' count and names, never their values (seed 000's decorator):
    /// inputs `{"arg_count": 2, "arg_names": ["path", "strict"]}`.
    pub fn arguments(self, names: &[&str]) -> Self {
        self.inputs(json!({"arg_count": names.len(), "arg_names": names}))
    }

    /// Makes the call's span current on this thread until the guard drops: spans started
    /// meanwhile (a tool call, an LLM request) are its children.
    pub fn enter(&self) -> Option<Entered<'_>> {
        self.span.as_ref().map(Span::enter)
    }

    /// Runs `future` with the call's span current during every poll.
    pub fn in_future<F: Future>(&self, future: F) -> InCall<'_, F> {
        InCall { call: self, future }
    }

    /// Ends the call with `status` (`success`, `failed`, `timeout`, ...) and captures it;
    /// `None` when the capture failed (counted on `lookout_skill_capture_failures_total`).
    pub fn finish(mut self, status: &str) -> Option<Captured> {
        self.end(status)
    }

    fn end(&mut self, status: &str) -> Option<Captured> {
        let span = self.span.take()?;
        let [agent, workflow, caller] = std::mem::take(&mut self.context);
        let entry = SkillEntry {
            timestamp: SystemTime::now(),
            skill: std::mem::take(&mut self.skill),
            inputs: std::mem::take(&mut self.inputs),
            status: status.to_owned(),
            duration_ms: self.started.elapsed().as_millis() as u64,
            agent,
            workflow,
            caller,
        };
        self.skills.keep(&entry, span).ok()
    }
}

impl Drop for SkillCall {
    fn drop(&mut self) {
        self.end("failed");
    }
}

pin_project_lite::pin_project! {
    /// A future run inside a skill call's span ([`SkillCall::in_future`]).
    #[derive(Debug)]
    pub struct InCall<'a, F> {
        call: &'a SkillCall,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InCall<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.call.enter();
        this.future.poll(cx)
    }
}

/// The process's skills, for `#[lookout::skill]`.
static GLOBAL: RwLock<Option<Skills>> = RwLock::new(None);

impl Skills {
    /// Starts timing a call of `skill`: its span is current while it is
    /// [entered](SkillCall::enter), and [finishing](SkillCall::finish) it captures the
    /// entry; dropped unfinished (a panic, an early return) it captures `failed`.
    pub fn call(&self, skill: impl Into<String>) -> SkillCall {
        let skill = skill.into();
        let span = self.tracer().span(format!("skill {skill}")).start();
        SkillCall::new(self.clone(), skill, span)
    }

    /// Runs `work` as a call of `skill`: `success` when it returns `Ok`, `failed` when
    /// it returns `Err` or panics. A telemetry failure never reaches the caller.
    pub fn time<T, E>(&self, skill: &str, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let call = self.call(skill);
        let result = {
            let _entered = call.enter();
            work()
        };
        call.finish(if result.is_ok() { "success" } else { "failed" });
        result
    }

    /// Makes these the skills `#[lookout::skill]` functions record into (spans, metrics,
    /// the store and `telemetry.json` of this handle's [`crate::Telemetry`]).
    pub fn install(&self) {
        *GLOBAL.write() = Some(self.clone());
    }

    /// The installed skills; until [`Skills::install`] is called, skills that only
    /// append to `telemetry.json` in `LOOKOUT_SKILLS_DIR` (nowhere when it is unset).
    pub fn global() -> Skills {
        if let Some(skills) = GLOBAL.read().as_ref() {
            return skills.clone();
        }
        GLOBAL
            .write()
            .get_or_insert_with(|| {
                let dir = std::env::var_os(crate::config::SKILLS_DIR_ENV);
                Skills::file_only(dir.as_deref().map(std::path::Path::new))
            })
            .clone()
    }
}

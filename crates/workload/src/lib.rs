//! A simulated agent orchestrator: runs, sub-agents, model and tool calls, sessions and
//! skill entries recorded into a [`Telemetry`]. The orchestrator example's workload and
//! `lookout serve --demo`'s.
//!
//! ```
//! use lookout::Telemetry;
//! use lookout_workload::Orchestrator;
//!
//! let telemetry = Telemetry::builder().without_env_exporters().build().unwrap();
//! let runtime = tokio::runtime::Runtime::new()?;
//! // Two sessions with their sub-agents, time running a thousand times faster.
//! runtime.block_on(Orchestrator::new(telemetry.clone()).speed(1000.0).sessions(2));
//! assert_eq!(telemetry.sessions().sessions().len(), 2);
//! assert!(telemetry.prometheus_text().contains("tool_calls_total{tool="));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Each session of the coordinator is a run (seed 002) whose span parents three to six
//! sub-agents of several types (`invoke_agent` spans); each agent works through its phase
//! with model calls (`chat` spans with token usage) and tool calls (`execute_tool` spans,
//! some failing), fills its context window, now and then hits an error, and is a skill
//! entry (seed 000) too. The session is also a seed 001 conversation of its sub-agents as
//! `Task` tool calls after a planning model call, and a task queue by priority drains and
//! refills. Every agent, run, skill and session metric family gets series; with a store,
//! runs, spans, sessions, skill entries and metric points get rows.

mod rng;

use lookout::Telemetry;
use lookout::agent::semconv;
use lookout::agent::{AgentExecutionGuard, ContextUsage, ErrorEvent, Severity, TaskExecution};
use lookout::runs::{RunFields, RunStatus};
use rng::Rng;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// (agent type, phase, model) combinations the coordinator spawns.
const AGENTS: &[(&str, &str, &str)] = &[
    ("planner", "plan", "claude-opus-4"),
    ("researcher", "plan", "claude-sonnet-4"),
    ("coder", "code", "claude-sonnet-4"),
    ("coder", "code", "claude-opus-4"),
    ("reviewer", "review", "claude-sonnet-4"),
    ("tester", "test", "claude-3-5-haiku"),
];

/// (tool, typical seconds, failure probability, error type).
const TOOLS: &[(&str, f64, f64, &str)] = &[
    ("Read", 0.02, 0.01, "not_found"),
    ("Grep", 0.05, 0.02, "invalid_pattern"),
    ("Edit", 0.04, 0.05, "conflict"),
    ("Write", 0.03, 0.02, "permission_denied"),
    ("Bash", 0.8, 0.12, "exit_code"),
    ("WebFetch", 1.2, 0.15, "timeout"),
];

const TASKS: &[&str] = &["implement", "review", "test", "plan"];
const PRIORITIES: &[&str] = &["high", "normal", "low"];

/// Sessions running at once.
const CONCURRENT_SESSIONS: usize = 4;
/// The pause between two sessions' starts, at speed 1.
const SESSION_INTERVAL: Duration = Duration::from_millis(500);

/// The simulated coordinator, recording into one [`Telemetry`].
#[derive(Clone)]
pub struct Orchestrator {
    telemetry: Telemetry,
    speed: f64,
    queue_drains: Arc<AtomicU64>,
    stopping: Arc<watch::Sender<bool>>,
}

impl Orchestrator {
    /// A coordinator recording into `telemetry`, at the pace of real agents.
    pub fn new(telemetry: Telemetry) -> Self {
        Orchestrator {
            telemetry,
            speed: 1.0,
            queue_drains: Arc::new(AtomicU64::new(0)),
            stopping: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Runs time `speed` times faster: every wait (tool, model call, pause between
    /// sessions) divided by it, and every duration recorded as measured.
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        self
    }

    /// Runs `count` sessions, a few at a time, and returns once all have ended.
    pub async fn sessions(&self, count: u64) {
        self.coordinate(Some(count)).await;
    }

    /// Starts a session every half second (at speed 1), a few at a time, until
    /// [`stop`](Self::stop); returns once the last one has ended.
    pub async fn forever(&self) {
        self.coordinate(None).await;
    }

    /// Ends the work now: no session starts, every agent stops at its next step, and each
    /// running session ends, its run `cancelled`.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    fn stopped(&self) -> bool {
        *self.stopping.borrow()
    }

    async fn coordinate(&self, count: Option<u64>) {
        let mut rng = Rng::seeded(7);
        let mut running = JoinSet::new();
        for session in 1..=count.unwrap_or(u64::MAX) {
            while running.try_join_next().is_some() {}
            while running.len() >= CONCURRENT_SESSIONS {
                running.join_next().await;
            }
            if self.stopped() {
                break;
            }
            running.spawn(self.clone().session(session, Rng::seeded(rng.next())));
            if Some(session) != count {
                self.wait(SESSION_INTERVAL.as_secs_f64()).await;
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Sleeps `seconds` of the workload's time, or until [`stop`](Self::stop).
    async fn wait(&self, seconds: f64) {
        let pause = Duration::try_from_secs_f64(seconds / self.speed).unwrap_or(Duration::MAX);
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
    }

    /// One session: a run of a handful of sub-agents at once, then wait for all of them.
    async fn session(self, session: u64, mut rng: Rng) {
        let telemetry = &self.telemetry;
        let mut run = telemetry.runs().track_run("coordinator", "session");
        let sessions = telemetry.sessions();
        let conversation = sessions.start_session(
            &format!("orchestrate session {session}"),
            json!({"workflow": "orchestration", "run_id": run.id()}),
        );
        let record = |kind: &str, data: serde_json::Value| {
            let _ = sessions.record_event(&conversation, kind, Some("orchestrate"), data);
        };
        record("skill.invoked", json!({"skill_name": "orchestrate"}));
        // The coordinator plans with a model call, then hands each part to a sub-agent
        // through its `Task` tool.
        let (planner, tokens) = (AGENTS[0].2, 2_000 + rng.below(6_000));
        record("llm.request", json!({"model": planner, "tokens": tokens}));
        let asked = Instant::now();
        self.wait(0.5 * rng.log_normal()).await;
        record(
            "llm.response",
            json!({"model": planner, "latency_ms": asked.elapsed().as_millis() as u64,
                   "output_tokens": 200 + rng.below(800)}),
        );
        let context_id = format!("session-{}", session % 4);
        let mut agents = JoinSet::new();
        for call in 0..3 + rng.below(4) {
            let (agent_type, phase, model) = AGENTS[rng.below(AGENTS.len())];
            let agent_id = format!("{agent_type}-{}", rng.below(5));
            record(
                "tool.called",
                json!({"tool": "Task", "call_id": call,
                       "args": {"agent": agent_type, "phase": phase, "model": model}}),
            );
            let execution = {
                let _in_run = run.enter();
                telemetry.start_agent(&agent_id, agent_type, phase)
            };
            let agent = Agent {
                orchestrator: self.clone(),
                agent_id,
                agent_type,
                phase,
                model,
                context_id: context_id.clone(),
            };
            let work = agent.work(execution, Rng::seeded(rng.next()));
            agents.spawn(async move { (call, agent_type, work.await) });
        }
        self.refill_queues(&mut rng);
        let started = agents.len() as u64;
        let mut succeeded = 0;
        // Each Task call completes as its agent finishes.
        while let Some(done) = agents.join_next().await {
            let Ok((call, agent_type, success)) = done else {
                continue;
            };
            let error = (!success).then(|| format!("the {agent_type} failed"));
            record(
                "tool.completed",
                json!({"tool": "Task", "call_id": call, "success": success, "error": error}),
            );
            succeeded += u64::from(success);
        }
        let _ = sessions.end_session(
            &conversation,
            &format!("{succeeded} of {started} sub-agents succeeded"),
            succeeded == started,
            (succeeded < started).then_some("a sub-agent failed"),
        );
        run.set_fields(RunFields::default().items(started, succeeded, started - succeeded));
        run.finish(match succeeded {
            _ if self.stopped() => RunStatus::Cancelled,
            n if n == started => RunStatus::Success,
            0 => RunStatus::Failed,
            _ => RunStatus::Partial,
        });
    }

    fn refill_queues(&self, rng: &mut Rng) {
        for (i, priority) in PRIORITIES.iter().enumerate() {
            let depth = rng.below(4 + 6 * i);
            self.telemetry.agents().set_task_queue_size(priority, depth);
        }
    }
}

/// One sub-agent of a session.
struct Agent {
    orchestrator: Orchestrator,
    agent_id: String,
    agent_type: &'static str,
    phase: &'static str,
    model: &'static str,
    context_id: String,
}

impl Agent {
    /// The sub-agent's execution, its span `execution`'s; whether it succeeded.
    async fn work(self, mut execution: AgentExecutionGuard, mut rng: Rng) -> bool {
        let Agent {
            orchestrator,
            agent_id,
            agent_type,
            phase,
            model,
            context_id,
        } = self;
        let telemetry = &orchestrator.telemetry;
        let agents = telemetry.agents();
        let skill = {
            let _in_agent = execution.enter();
            telemetry
                .skills()
                .call(format!("{agent_type}.{phase}"))
                .agent(agent_type)
                .workflow("orchestration")
                .caller("agent")
                .arguments(&["task_type", "model"])
        };
        let window = if model.contains("haiku") {
            100_000
        } else {
            200_000
        };
        let mut used = 5_000 + rng.below(20_000) as u64;
        let task_type = TASKS[rng.below(TASKS.len())];
        let task_started = Instant::now();
        let mut failed = None;
        for _ in 0..3 + rng.below(8) {
            if orchestrator.stopped() {
                failed = Some("cancelled");
                break;
            }
            // A model call decides the next step.
            let (input, output) = (300 + rng.below(3_000) as u64, 100 + rng.below(900) as u64);
            let mut chat = {
                let _in_agent = execution.enter();
                telemetry
                    .tracer()
                    .span(format!("chat {model}"))
                    .attribute(semconv::OPERATION_NAME, "chat")
                    .attribute(semconv::REQUEST_MODEL, model)
                    .start()
            };
            orchestrator.wait(0.2 * rng.log_normal()).await;
            chat.set_attribute(semconv::USAGE_INPUT_TOKENS, input as i64);
            chat.set_attribute(semconv::USAGE_OUTPUT_TOKENS, output as i64);
            chat.end();
            execution.add_usage(model, input, output);
            used = (used + input + output).min(window);
            agents.track_context_usage(&ContextUsage {
                agent_id: &agent_id,
                session_id: &context_id,
                used,
                total: window,
            });

            // Then a tool runs it.
            let (tool, typical, failure_rate, error_type) = TOOLS[rng.below(TOOLS.len())];
            let call = {
                let _in_agent = execution.enter();
                telemetry.start_tool(tool)
            };
            orchestrator
                .wait((typical * rng.log_normal()).min(3.0))
                .await;
            if rng.unit() >= failure_rate {
                call.succeed();
            } else {
                call.fail(error_type);
                let severity = if rng.unit() < 0.2 {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                agents.track_error(&ErrorEvent {
                    component: "tool-runner",
                    error_type,
                    severity,
                });
                if severity == Severity::Error {
                    failed = Some(error_type);
                    break;
                }
            }
            if rng.unit() < 0.03 {
                agents.track_error(&ErrorEvent {
                    component: "llm-client",
                    error_type: "rate_limit",
                    severity: Severity::Warning,
                });
            }
        }
        if orchestrator
            .queue_drains
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(5)
        {
            agents.set_task_queue_size(PRIORITIES[rng.below(PRIORITIES.len())], 0);
        }
        // A task fails with its agent, or on its own when its result does not validate.
        let task_error = failed.or_else(|| (rng.unit() < 0.1).then_some("validation"));
        agents.track_task(&TaskExecution {
            task_type,
            duration: task_started.elapsed(),
            error: task_error,
        });
        let _ = skill.finish(if failed.is_some() {
            "failed"
        } else {
            "success"
        });
        match failed {
            None => {
                execution.succeed();
                true
            }
            Some(error_type) => {
                agents.track_error(&ErrorEvent {
                    component: "orchestrator",
                    error_type: "agent_failed",
                    severity: Severity::Critical,
                });
                execution.fail(error_type);
                false
            }
        }
    }
}

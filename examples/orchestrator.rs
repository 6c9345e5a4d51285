//! A coordinator running agents, tools, tasks and errors, served on `/metrics`.
//!
//! ```text
//! cargo run --release --example orchestrator -- [--listen ADDR] [--duration SECS]
//! ```
//!
//! Sessions of a hierarchical coordinator spawn sub-agents of several types; each works
//! through its phase with tool calls (some fail), consumes tokens, fills its context
//! window, and now and then hits an error. A task queue by priority drains and refills.
//! With feature `store`, each session is also a run (seed 002) of its sub-agents: success,
//! partial or failed by their outcomes. Every agent and run metric family gets series. `tests/dashboards.rs` runs this workload (its
//! [`run`]) in a child process for a real Prometheus, and checks that every panel of the
//! bundled Grafana dashboards shows data.

use clap::Parser;
use lookout::Telemetry;
use lookout::agent::{ContextUsage, ErrorEvent, Severity, TaskExecution, ToolCall};
use lookout::config::DEFAULT_LISTEN;
use lookout::server::serve;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Parser)]
pub struct Args {
    /// Address serving /metrics, /health and /version.
    #[arg(long, default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
}

/// (agent type, phase, model) combinations the coordinator spawns.
const AGENTS: &[(&str, &str, &str)] = &[
    ("planner", "plan", "claude-opus"),
    ("researcher", "plan", "claude-sonnet"),
    ("coder", "code", "claude-sonnet"),
    ("coder", "code", "claude-opus"),
    ("reviewer", "review", "claude-sonnet"),
    ("tester", "test", "claude-haiku"),
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    run(Args::parse()).await
}

/// Serves `/metrics` on `args.listen` and runs the coordinator until `args.duration` has
/// passed or Ctrl-C; the first line printed names the address.
pub async fn run(args: Args) -> std::io::Result<()> {
    let telemetry = Telemetry::new();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    println!("orchestrator: metrics at http://{addr}/metrics (Ctrl-C to stop)");

    let stop = async move {
        match args.duration {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let server = tokio::spawn(serve(telemetry.clone(), listener, "/metrics".into(), stop));
    let coordinator = tokio::spawn(coordinate(telemetry.clone()));
    let result = server.await.map_err(std::io::Error::other)?;
    coordinator.abort();
    let agents = telemetry.registry().series_count();
    println!(
        "orchestrator: stopped after {:?} with {agents} series",
        telemetry.uptime()
    );
    result
}

/// Starts a session every half second, at most four at a time, forever.
async fn coordinate(telemetry: Telemetry) {
    let in_flight = Arc::new(Semaphore::new(4));
    let mut rng = Rng::seeded(7);
    for session in 1u64.. {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let session = run_session(telemetry.clone(), session, Rng::seeded(rng.next()));
        tokio::spawn(async move {
            session.await;
            drop(permit);
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One session: a handful of sub-agents at once, then wait for all of them.
async fn run_session(telemetry: Telemetry, session: u64, mut rng: Rng) {
    #[cfg(feature = "store")]
    let mut run = telemetry.runs().track_run("coordinator", "session");
    let session_id = format!("session-{}", session % 4);
    // The same work as a seed 001 session: each sub-agent a tool call of the session.
    let sessions = telemetry.sessions();
    let conversation = sessions.start_session(
        &format!("orchestrate session {session}"),
        Default::default(),
    );
    let record = |kind: &str, data: serde_json::Value| {
        let _ = sessions.record_event(&conversation, kind, None, data);
    };
    record(
        "skill.invoked",
        serde_json::json!({"skill_name": "orchestrate"}),
    );
    let mut running = Vec::new();
    for _ in 0..3 + rng.below(4) {
        let (agent_type, phase, model) = AGENTS[rng.below(AGENTS.len())];
        let spec = AgentSpec {
            agent_id: format!("{agent_type}-{}", rng.below(5)),
            agent_type,
            phase,
            model,
            session_id: session_id.clone(),
        };
        record(
            "tool.called",
            serde_json::json!({"tool": agent_type, "args": [phase, model]}),
        );
        let agent = run_agent(telemetry.clone(), Rng::seeded(rng.next()), spec);
        running.push((agent_type, tokio::spawn(agent)));
    }
    refill_queues(&telemetry, &mut rng);
    let started = running.len() as u64;
    let mut succeeded = 0;
    for (agent_type, agent) in running {
        let success = agent.await.unwrap_or(false);
        record(
            "tool.completed",
            serde_json::json!({"tool": agent_type, "success": success}),
        );
        succeeded += u64::from(success);
    }
    let _ = sessions.end_session(
        &conversation,
        &format!("{succeeded} of {started} sub-agents succeeded"),
        succeeded == started,
        (succeeded < started).then_some("a sub-agent failed"),
    );
    #[cfg(feature = "store")]
    {
        use lookout::runs::{RunFields, RunStatus};
        run.set_fields(RunFields::default().items(started, succeeded, started - succeeded));
        run.finish(match succeeded {
            n if n == started => RunStatus::Success,
            0 => RunStatus::Failed,
            _ => RunStatus::Partial,
        });
    }
    #[cfg(not(feature = "store"))]
    let _ = (started, succeeded);
}

struct AgentSpec {
    agent_id: String,
    agent_type: &'static str,
    phase: &'static str,
    model: &'static str,
    session_id: String,
}

static NEXT_QUEUE_DRAIN: AtomicU64 = AtomicU64::new(0);

/// One sub-agent's execution; whether it succeeded.
async fn run_agent(telemetry: Telemetry, mut rng: Rng, spec: AgentSpec) -> bool {
    let agents = telemetry.agents();
    let mut execution = telemetry.start_agent(&spec.agent_id, spec.agent_type, spec.phase);
    // The execution as a seed 000 skill entry too, its span a child of the agent's.
    let skill = {
        let _entered = execution.span_mut().map(|span| span.enter());
        telemetry
            .skills()
            .call(format!("{}.{}", spec.agent_type, spec.phase))
            .agent(spec.agent_type)
            .workflow("orchestration")
            .caller("agent")
            .arguments(&["task_type", "model"])
    };
    let window = if spec.model == "claude-haiku" {
        100_000
    } else {
        200_000
    };
    let mut used = 5_000 + rng.below(20_000) as u64;
    let task_type = TASKS[rng.below(TASKS.len())];
    let task_started = Instant::now();
    let mut failed = None;
    for _ in 0..3 + rng.below(8) {
        let (tool, typical, failure_rate, error_type) = TOOLS[rng.below(TOOLS.len())];
        let seconds = typical * rng.log_normal();
        tokio::time::sleep(Duration::from_secs_f64(seconds.min(3.0))).await;
        let error = (rng.unit() < failure_rate).then_some(error_type);
        agents.track_tool_usage(&ToolCall {
            tool,
            duration: Duration::from_secs_f64(seconds),
            error,
        });
        let tokens = 500 + rng.below(4_000) as u64;
        execution.add_tokens(spec.model, tokens);
        used = (used + tokens).min(window);
        agents.track_context_usage(&ContextUsage {
            agent_id: &spec.agent_id,
            session_id: &spec.session_id,
            used,
            total: window,
        });
        if let Some(error_type) = error {
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
    if NEXT_QUEUE_DRAIN
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

fn refill_queues(telemetry: &Telemetry, rng: &mut Rng) {
    for (i, priority) in PRIORITIES.iter().enumerate() {
        let depth = rng.below(4 + 6 * i);
        telemetry.agents().set_task_queue_size(priority, depth);
    }
}

/// xorshift64*: enough randomness for a workload, no dependency.
struct Rng(u64);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A multiplier around 1 with a long right tail, as latencies have.
    fn log_normal(&mut self) -> f64 {
        let (a, b) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos();
        (0.6 * normal).exp()
    }
}

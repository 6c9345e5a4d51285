//! Three generations of processes (coordinator, sub-agents, sub-sub-agents; three per
//! parent) end in one trace with every parent link right. Children start alternately
//! through the `Command` helper and through `lookout exec`; every process appends its
//! spans to one span log and stores them in one store, and the coordinator checks both:
//! the log's tree, and that `lookout traces ID` shows the same tree from the store.
//!
//! A test binary without the libtest harness: run with `LOOKOUT_SUBAGENT_DEPTH` set it is
//! a sub-agent, otherwise it is the coordinator and the test.

use lookout::Telemetry;
use lookout::json::{SPAN_LOG_ENV, SpanLog};
use lookout::trace::{CommandExt, FinishedSpan, SpanId};
use std::collections::HashMap;
use std::process::{Command, ExitCode};

const DEPTH_ENV: &str = "LOOKOUT_SUBAGENT_DEPTH";
const FANOUT: usize = 3;
const LAST_GENERATION: usize = 2;

fn main() -> ExitCode {
    match std::env::var(DEPTH_ENV) {
        Ok(depth) => {
            run_agent(depth.parse().expect("depth is a number"));
            ExitCode::SUCCESS
        }
        Err(_) => coordinator_test(),
    }
}

/// One agent process: a span of its own, children if not the last generation, and its
/// spans flushed to the shared log before it exits.
fn run_agent(depth: usize) {
    let telemetry = Telemetry::new();
    let agent_id = format!("depth{depth}-pid{}", std::process::id());
    let agent = telemetry.start_agent(&agent_id, &format!("depth{depth}"), "work");
    if depth < LAST_GENERATION {
        let context = agent.context().expect("sampled").clone();
        let me = std::env::current_exe().expect("own path");
        let children: Vec<_> = (0..FANOUT)
            .map(|i| {
                let mut command = if i % 2 == 0 {
                    Command::new(&me)
                } else {
                    let mut exec = Command::new(env!("CARGO_BIN_EXE_lookout"));
                    exec.args(["exec", "--name", "wrapper", "--"]).arg(&me);
                    exec
                };
                command
                    .env(DEPTH_ENV, (depth + 1).to_string())
                    .trace_context(&context);
                command.spawn().expect("child starts")
            })
            .collect();
        for mut child in children {
            assert!(child.wait().expect("child runs").success());
        }
    }
    agent.succeed();
    assert!(telemetry.flush().is_ok(), "span log written");
}

fn coordinator_test() -> ExitCode {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = SpanLog::new(dir.path().join("spans.jsonl"));
    // Every process below inherits the log; this one builds its Telemetry after this.
    let store = dir.path().join("store");
    // SAFETY: `main` calls this before any thread exists (no test harness), so nothing
    // reads the environment while it changes.
    unsafe {
        std::env::set_var(SPAN_LOG_ENV, log.path());
        std::env::set_var(lookout::store::BASE_DIR_ENV, &store);
        for name in ["TRACEPARENT", "TRACESTATE", "TRACE_CONTEXT"] {
            std::env::remove_var(name);
        }
    }
    run_agent(0);
    let spans = log.read().expect("span log readable");
    match check(&spans)
        .and_then(|summary| stored_as_logged(&spans).map(|s| format!("{summary}; {s}")))
    {
        Ok(summary) => {
            println!("multiprocess: {summary}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("multiprocess: {problem}");
            for span in &spans {
                eprintln!(
                    "  {} {} parent={} {}",
                    span.trace_id, span.span_id, span.parent_span_id, span.name
                );
            }
            ExitCode::FAILURE
        }
    }
}

fn check(spans: &[FinishedSpan]) -> Result<String, String> {
    let agents = |depth: usize| {
        let name = format!("invoke_agent depth{depth}");
        spans
            .iter()
            .filter(move |s| s.name == name)
            .collect::<Vec<_>>()
    };
    let (roots, children, grandchildren) = (agents(0), agents(1), agents(2));
    let wrappers: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "invoke_agent wrapper")
        .collect();
    let exec_per_parent = FANOUT / 2;
    let expected = [
        (roots.len(), 1),
        (children.len(), FANOUT),
        (grandchildren.len(), FANOUT * FANOUT),
        (wrappers.len(), exec_per_parent * (1 + FANOUT)),
        (
            spans.len(),
            1 + FANOUT + FANOUT * FANOUT + exec_per_parent * (1 + FANOUT),
        ),
    ];
    if expected.iter().any(|(got, want)| got != want) {
        return Err(format!(
            "span counts (got, want) root/children/grandchildren/exec/all: {expected:?}"
        ));
    }
    let root = roots[0];
    if root.parent_span_id != SpanId::INVALID {
        return Err("the coordinator's span has a parent".into());
    }
    if let Some(stray) = spans.iter().find(|s| s.trace_id != root.trace_id) {
        return Err(format!("{} is in another trace", stray.name));
    }
    let by_id: HashMap<SpanId, &FinishedSpan> = spans.iter().map(|s| (s.span_id, s)).collect();
    if by_id.len() != spans.len() {
        return Err("span ids repeat".into());
    }
    // Each agent's parent is an agent one generation up, directly or through an exec wrapper
    // whose own parent is that agent.
    for (generation, members) in [(1, &children), (2, &grandchildren)] {
        let parent_name = format!("invoke_agent depth{}", generation - 1);
        for span in members.iter() {
            let parent = by_id
                .get(&span.parent_span_id)
                .ok_or(format!("{} has a missing parent", span.name))?;
            let agent = if parent.name == "invoke_agent wrapper" {
                by_id
                    .get(&parent.parent_span_id)
                    .ok_or("a wrapper has a missing parent")?
            } else {
                parent
            };
            if agent.name != parent_name || !span.parent_is_remote {
                return Err(format!(
                    "{} hangs under {} (remote: {})",
                    span.name, agent.name, span.parent_is_remote
                ));
            }
        }
    }
    // Every parent has exactly FANOUT children, exec wrappers counted through.
    for parent in roots.iter().chain(&children) {
        let direct = spans
            .iter()
            .filter(|s| s.parent_span_id == parent.span_id)
            .count();
        if direct != FANOUT {
            return Err(format!("{} has {direct} children", parent.name));
        }
    }
    // Every span names its process: one pid and one instance id per span here.
    let identity = |span: &FinishedSpan, key: &str| {
        span.resource
            .as_ref()
            .and_then(|r| r.get(key))
            .map(ToString::to_string)
            .ok_or(format!("{} has no {key}", span.name))
    };
    for key in ["process.pid", "service.instance.id"] {
        let distinct: std::collections::HashSet<String> = spans
            .iter()
            .map(|s| identity(s, key))
            .collect::<Result<_, _>>()?;
        if distinct.len() != spans.len() {
            return Err(format!(
                "{} distinct {key} for {} spans",
                distinct.len(),
                spans.len()
            ));
        }
    }
    Ok(format!(
        "{} spans from {} processes in trace {}",
        spans.len(),
        spans.len(),
        root.trace_id
    ))
}

/// `lookout traces ID --json` shows every span of the log, each under the same parent.
fn stored_as_logged(spans: &[FinishedSpan]) -> Result<String, String> {
    let trace_id = spans[0].trace_id.to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["traces", &trace_id, "--json"])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!(
            "lookout traces: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let shown: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let stored: HashMap<String, Option<String>> = shown["spans"]
        .as_array()
        .ok_or("no spans in the answer")?
        .iter()
        .map(|s| {
            (
                s["span_id"].as_str().unwrap_or_default().to_owned(),
                s["parent_span_id"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let logged: HashMap<String, Option<String>> = spans
        .iter()
        .map(|s| {
            let parent = s
                .parent_span_id
                .is_valid()
                .then(|| s.parent_span_id.to_string());
            (s.span_id.to_string(), parent)
        })
        .collect();
    if stored != logged {
        return Err(format!(
            "the store's tree ({} spans) differs from the log's ({})",
            stored.len(),
            logged.len()
        ));
    }
    Ok(format!(
        "the store shows the same {} spans and parents",
        stored.len()
    ))
}

//! A coordinator spawns sub-agent processes that spawn their own; every process continues
//! the one trace through `TRACEPARENT`/`TRACE_CONTEXT`, and the coordinator prints the tree.
//!
//! ```text
//! cargo run --example sub_agents [-- --fanout N]
//! ```
//!
//! The example re-executes itself as the sub-agents (`LOOKOUT_EXAMPLE_DEPTH` says which
//! generation it is). Any program can be a sub-agent: `lookout exec -- CMD` wraps one in a
//! span and hands it the same variables.

use lookout::Telemetry;
use lookout::json::{SPAN_LOG_ENV, SpanLog};
use lookout::trace::{CommandExt, FinishedSpan, SpanId};
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

const DEPTH_ENV: &str = "LOOKOUT_EXAMPLE_DEPTH";
const GENERATIONS: usize = 3;

fn main() {
    let depth: usize = std::env::var(DEPTH_ENV)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let fanout = std::env::args()
        .skip_while(|a| a != "--fanout")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let log_dir = (depth == 0).then(tempfile_dir);
    if let Some(dir) = &log_dir {
        // Before building Telemetry: it reads LOOKOUT_SPAN_LOG, and so will every child.
        // SAFETY: no other thread exists yet, so nothing reads the environment meanwhile.
        unsafe { std::env::set_var(SPAN_LOG_ENV, dir.join("spans.jsonl")) };
    }

    let telemetry = Telemetry::new();
    let role = ["coordinator", "sub-agent", "sub-sub-agent"][depth];
    let mut agent = telemetry.start_agent(&format!("{role}-{}", std::process::id()), role, "work");
    let context = agent.context().expect("always sampled").clone();
    if depth + 1 < GENERATIONS {
        let me = std::env::current_exe().expect("own path");
        let mut children: Vec<_> = (0..fanout)
            .map(|_| {
                Command::new(&me)
                    .args(["--fanout", &fanout.to_string()])
                    .env(DEPTH_ENV, (depth + 1).to_string())
                    .trace_context(&context)
                    .spawn()
                    .expect("sub-agent starts")
            })
            .collect();
        for child in &mut children {
            child.wait().expect("sub-agent runs");
        }
    }
    std::thread::sleep(Duration::from_millis(5 * (GENERATIONS - depth) as u64));
    agent.add_usage("claude-sonnet", 1000, 200);
    agent.succeed();
    assert!(telemetry.flush().is_ok(), "span log writable");

    if let Some(dir) = log_dir {
        let spans = SpanLog::new(dir.join("spans.jsonl"))
            .read()
            .expect("span log readable");
        println!(
            "trace {} with {} spans from {} processes:",
            spans[0].trace_id,
            spans.len(),
            spans.len()
        );
        print_tree(&spans);
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn print_tree(spans: &[FinishedSpan]) {
    let mut children: HashMap<SpanId, Vec<&FinishedSpan>> = HashMap::new();
    for span in spans {
        children.entry(span.parent_span_id).or_default().push(span);
    }
    fn walk(children: &HashMap<SpanId, Vec<&FinishedSpan>>, parent: SpanId, indent: usize) {
        for span in children.get(&parent).into_iter().flatten() {
            let id = span
                .attribute("gen_ai.agent.id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            println!(
                "{:indent$}{} {} ({:.1} ms) {id}",
                "",
                span.span_id,
                span.name,
                span.duration().as_secs_f64() * 1e3
            );
            walk(children, span.span_id, indent + 2);
        }
    }
    walk(&children, SpanId::INVALID, 2);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lookout-sub-agents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

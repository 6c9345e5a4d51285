//! Lookout and the official OpenTelemetry Python SDK continue each other's traces
//! through the environment.

use crate::util::require_python_otel;
use lookout::json::{SPAN_LOG_ENV, SpanLog};
use lookout::trace::{CommandExt, SpanContext};
use std::process::Command;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/otel_peer.py");

fn json(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn a_python_child_continues_lookouts_trace() {
    let Some(python) = require_python_otel() else {
        return;
    };
    let tracer = lookout::trace::Tracer::default();
    let root = tracer.start_trace("coordinator", lookout::trace::SpanKind::Internal);
    let context = SpanContext {
        trace_state: root
            .context()
            .trace_state
            .with("lookout", "agent-7")
            .unwrap(),
        ..root.context().clone()
    };
    let output = Command::new(python)
        .args([PEER, "child"])
        .env_remove("TRACESTATE")
        .trace_context(&context)
        .output()
        .unwrap();
    let child = json(&output);
    assert_eq!(child["trace_id"], context.trace_id.to_string());
    assert_eq!(child["parent_span_id"], context.span_id.to_string());
    assert_ne!(child["span_id"], context.span_id.to_string());
    assert_eq!(child["tracestate"], "lookout=agent-7");
    assert_eq!(child["sampled"], true);
}

#[test]
fn lookout_continues_a_trace_python_started() {
    let Some(python) = require_python_otel() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = SpanLog::new(dir.path().join("spans.jsonl"));
    let output = Command::new(python)
        .args([
            PEER,
            "parent",
            env!("CARGO_BIN_EXE_lookout"),
            "exec",
            "--name",
            "rust-sub-agent",
            "--",
            "true",
        ])
        .env(SPAN_LOG_ENV, log.path())
        .env(lookout::store::BASE_DIR_ENV, crate::util::store_dir())
        .env_remove("TRACEPARENT")
        .env_remove("TRACE_CONTEXT")
        .output()
        .unwrap();
    let python_root = json(&output);
    let spans = log.read().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "invoke_agent rust-sub-agent");
    assert_eq!(spans[0].trace_id.to_string(), python_root["trace_id"]);
    assert_eq!(spans[0].parent_span_id.to_string(), python_root["span_id"]);
    assert!(spans[0].parent_is_remote);
}

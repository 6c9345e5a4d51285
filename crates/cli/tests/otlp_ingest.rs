//! OTLP/HTTP ingest on `lookout serve`: spans of other processes land in the store with
//! their resource and feed the agent families.

use crate::daemon::{Daemon, answer, refused};
use serde_json::{Value, json};
use std::process::Command;

/// A three-level agent trace in OTLP/JSON.
fn otlp_json_trace() -> Value {
    let attr = |k: &str, v: Value| json!({"key": k, "value": v});
    let s = |v: &str| json!({"stringValue": v});
    let span = |id: &str,
                parent: &str,
                name: &str,
                start: u64,
                end: u64,
                attributes: Vec<Value>| {
        json!({"traceId": "5b8efff798038103d269b633813fc60c", "spanId": id, "parentSpanId": parent,
               "name": name, "kind": 1, "startTimeUnixNano": start.to_string(),
               "endTimeUnixNano": end.to_string(), "attributes": attributes})
    };
    let t = 1_764_748_800_000_000_000u64;
    let mut tool = span(
        "00000000000000c1",
        "00000000000000b1",
        "execute_tool grep",
        t + 200_000_000,
        t + 700_000_000,
        vec![
            attr("gen_ai.tool.name", s("grep")),
            attr("error.type", s("timeout")),
        ],
    );
    tool["status"] = json!({"code": 2, "message": "timed out"});
    json!({"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", s("py-agents"))]},
        "scopeSpans": [{"scope": {"name": "agents"}, "spans": [
            span("00000000000000a1", "", "invoke_agent coordinator", t, t + 3_000_000_000, vec![attr("gen_ai.operation.name", s("invoke_agent")), attr("gen_ai.agent.name", s("coordinator"))]),
            span("00000000000000b1", "00000000000000a1", "invoke_agent researcher", t + 100_000_000, t + 2_000_000_000, vec![attr("gen_ai.agent.name", s("researcher"))]),
            tool,
            span("00000000000000c2", "00000000000000b1", "chat gpt-4o", t + 800_000_000, t + 1_900_000_000, vec![attr("gen_ai.operation.name", s("chat")), attr("gen_ai.request.model", s("gpt-4o")), attr("gen_ai.usage.input_tokens", json!({"intValue": "120"})), attr("gen_ai.usage.output_tokens", json!({"intValue": 30}))]),
        ]}]
    }]})
}

#[test]
fn otlp_json_spans_land_in_the_store_and_the_agent_families() {
    let d = Daemon::start(&[]);
    let response = d.send("POST", "/v1/traces", &otlp_json_trace());
    assert_eq!(answer(&response, 200), json!({}));
    let output = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["--json", "traces", "5b8efff798038103d269b633813fc60c"])
        .env(lookout::store::BASE_DIR_ENV, &d.base)
        .output()
        .unwrap();
    let trace: Value = serde_json::from_slice(&output.stdout).unwrap();
    let spans = trace["spans"].as_array().unwrap();
    let by_name = |name: &str| spans.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(spans.len(), 4);
    assert_eq!(
        by_name("invoke_agent coordinator")["parent_span_id"],
        Value::Null
    );
    assert_eq!(
        by_name("invoke_agent researcher")["parent_span_id"],
        "00000000000000a1"
    );
    assert_eq!(
        by_name("execute_tool grep")["parent_span_id"],
        "00000000000000b1"
    );
    assert_eq!(by_name("execute_tool grep")["status"], "error");
    assert_eq!(by_name("chat gpt-4o")["duration_ms"], 1100.0);
    assert!(spans.iter().all(|s| s["service_name"] == "py-agents"));
    assert_eq!(
        by_name("chat gpt-4o")["attributes"]["otel.scope.name"],
        "agents"
    );

    let metrics = d.send("GET", "/metrics", &Value::Null).text();
    for line in [
        "agent_execution_total{agent_type=\"coordinator\",phase=\"\",status=\"success\"} 1",
        "agent_execution_total{agent_type=\"researcher\",phase=\"\",status=\"success\"} 1",
        "tool_calls_total{tool=\"grep\",status=\"failure\"} 1",
        "tool_call_failure_total{tool=\"grep\",error_type=\"timeout\"} 1",
        "agent_tokens_used_total{agent_type=\"researcher\",model=\"gpt-4o\"} 150",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    // A span with an id that is not one refuses the request whole.
    let mut bad = otlp_json_trace();
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][2]["spanId"] = "0000000000000000".into();
    refused(
        &d.send("POST", "/v1/traces", &bad),
        400,
        "invalid_id",
        Some("resourceSpans[0].scopeSpans[0].spans[2].spanId"),
    );
    let refused_protobuf = d.raw(
        "POST",
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        b"\xff\xff\xff",
    );
    refused(&refused_protobuf, 400, "invalid_protobuf", None);
    assert_eq!(d.rows("telemetry_spans"), 4);

    // The API shows the trace as `lookout traces --json` does.
    let listed = answer(&d.send("GET", "/api/v1/traces?limit=5", &Value::Null), 200);
    assert_eq!(listed[0]["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(listed[0]["spans"], 4);
    let shown = answer(&d.send("GET", "/api/v1/traces/5b8efff7", &Value::Null), 200);
    assert_eq!(shown, trace, "the same shape as the CLI's");
    let errors = answer(
        &d.send("GET", "/api/v1/traces?status=error", &Value::Null),
        200,
    );
    assert_eq!(errors.as_array().unwrap().len(), 1);
    for (path, status, code, field) in [
        ("/api/v1/traces/xyz", 400, "invalid_id", Some("trace_id")),
        (
            "/api/v1/traces/ffffffffffffffff",
            404,
            "not_found",
            Some("trace_id"),
        ),
        (
            "/api/v1/traces?status=bad",
            400,
            "invalid_parameter",
            Some("status"),
        ),
        (
            "/api/v1/traces?limit=0",
            400,
            "invalid_parameter",
            Some("limit"),
        ),
        (
            "/api/v1/traces?since=yesterday",
            400,
            "invalid_parameter",
            Some("since"),
        ),
        (
            "/api/v1/traces?colour=1",
            400,
            "unknown_parameter",
            Some("colour"),
        ),
    ] {
        refused(&d.send("GET", path, &Value::Null), status, code, field);
    }
}

const PY_AGENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/otel_agents.py");

/// `python3` with the SDK and both OTLP exporters, or `None` after a skip.
fn python_with_exporters() -> Option<std::path::PathBuf> {
    let python = lookout_testkit::require_python_otel()?;
    let found = Command::new(&python)
        .args([
            "-c",
            "import opentelemetry.exporter.otlp.proto.http.trace_exporter, \
             opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        lookout_testkit::skip(
            "the OTLP exporters of the OpenTelemetry Python SDK are not installed \
             (pip install opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc)",
        );
        return None;
    }
    Some(python)
}

/// The trace `id` as `lookout traces --json` shows it: (name, parent's name) of each span.
fn tree(d: &Daemon, id: &str) -> Vec<(String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["--json", "traces", id])
        .env(lookout::store::BASE_DIR_ENV, &d.base)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let trace: Value = serde_json::from_slice(&output.stdout).unwrap();
    let spans = trace["spans"].as_array().unwrap().clone();
    let name_of = |id: &Value| {
        spans
            .iter()
            .find(|s| &s["span_id"] == id)
            .map_or(String::new(), |s| s["name"].as_str().unwrap().to_owned())
    };
    let mut tree: Vec<(String, String)> = spans
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                name_of(&s["parent_span_id"]),
            )
        })
        .collect();
    tree.sort();
    tree
}

#[test]
fn the_python_sdk_exports_a_three_level_agent_trace_over_http_and_grpc() {
    let Some(python) = python_with_exporters() else {
        return;
    };
    let grpc = format!("127.0.0.1:{}", lookout_testkit::free_port());
    let d = Daemon::start(&["--otlp-grpc", &grpc, "--token", "t0ken"]);
    let expected: Vec<(String, String)> = [
        ("chat gpt-4o", "invoke_agent researcher"),
        ("execute_tool search", "invoke_agent researcher"),
        ("invoke_agent coordinator", ""),
        ("invoke_agent researcher", "invoke_agent coordinator"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .to_vec();
    for (protocol, endpoint) in [
        ("http", format!("{}/v1/traces", d.url)),
        ("grpc", grpc.clone()),
    ] {
        let output = Command::new(&python)
            .args([PY_AGENTS, protocol, &endpoint, "t0ken"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let said: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(said["flushed"], true, "{protocol}: {output:?}");
        let id = said["trace_id"].as_str().unwrap();
        assert_eq!(tree(&d, id), expected, "{protocol}");
        let service: String = d
            .db()
            .query_row(
                "SELECT DISTINCT service_name FROM telemetry_spans WHERE trace_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(service, format!("py-agents-{protocol}"));
    }
    let metrics = d
        .raw("GET", "/metrics", &[("authorization", "Bearer t0ken")], b"")
        .text();
    for line in [
        "agent_execution_total{agent_type=\"coordinator\",phase=\"\",status=\"success\"} 2",
        "agent_execution_total{agent_type=\"researcher\",phase=\"\",status=\"success\"} 2",
        "tool_calls_total{tool=\"search\",status=\"failure\"} 2",
        "tool_call_failure_total{tool=\"search\",error_type=\"timeout\"} 2",
        "agent_tokens_used_total{agent_type=\"researcher\",model=\"gpt-4o\"} 300",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    // Without the token neither listener takes spans.
    let output = Command::new(&python)
        .args([PY_AGENTS, "grpc", &grpc])
        .output()
        .unwrap();
    let said: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(said["flushed"], true);
    assert_eq!(d.rows("telemetry_spans"), 8, "refused without the token");
}

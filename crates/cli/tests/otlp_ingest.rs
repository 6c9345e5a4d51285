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
}

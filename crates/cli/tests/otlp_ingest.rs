//! OTLP/HTTP ingest on `lookout serve`: spans of other processes land in the store with
//! their resource and feed the agent families; their metrics land as points.

use crate::daemon::{Daemon, answer, refused};
use lookout::store::rusqlite::Connection;
use serde_json::{Value, json};
use std::process::Command;

/// A three-level agent trace in OTLP/JSON.
pub(crate) fn otlp_json_trace() -> Value {
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

/// An OTLP/JSON metrics request: a counter, a gauge, a histogram, a summary and a delta
/// sum (which Lookout does not keep), all at `time`.
fn otlp_json_metrics(time: u64) -> Value {
    let t = time.to_string();
    let attr = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
    json!({"resourceMetrics": [{
        "resource": {"attributes": [attr("service.name", "py-agents"), attr("service.instance.id", "i-1")]},
        "scopeMetrics": [{"scope": {"name": "agents"}, "metrics": [
            {"name": "agent.tasks", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
                "dataPoints": [{"asInt": "7", "timeUnixNano": t,
                                "attributes": [attr("gen_ai.agent.name", "researcher")]}]}},
            {"name": "queue_depth", "gauge": {"dataPoints": [{"asDouble": 2.5, "timeUnixNano": t}]}},
            {"name": "tool.duration", "unit": "s", "histogram": {"aggregationTemporality": 2,
                "dataPoints": [{"timeUnixNano": t, "count": "6", "sum": 4.5,
                                "explicitBounds": [0.1, 1.0], "bucketCounts": ["1", "2", "3"]}]}},
            {"name": "latency", "summary": {"dataPoints": [{"timeUnixNano": t, "count": "4", "sum": 2.0,
                "quantileValues": [{"quantile": 0.5, "value": 0.4}, {"quantile": 0.99, "value": 0.9}]}]}},
            {"name": "deltas", "sum": {"aggregationTemporality": 1, "isMonotonic": true,
                "dataPoints": [{"asInt": "1", "timeUnixNano": t}, {"asInt": "2", "timeUnixNano": t}]}}
        ]}]
    }]})
}

/// Every metric point stored: (name, labels, value), in that order.
fn points(db: &Connection) -> Vec<(String, String, f64)> {
    let mut statement = db
        .prepare("SELECT name, labels, value FROM telemetry_metrics ORDER BY name, labels")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn otlp_json_metrics_land_as_points_named_as_prometheus_names_them() {
    let d = Daemon::start(&[]);
    let time = 1_764_748_800_000_000_000u64;
    let response = answer(
        &d.send("POST", "/v1/metrics", &otlp_json_metrics(time)),
        200,
    );
    assert_eq!(
        response["partialSuccess"]["errorMessage"],
        "2 with delta temporality (only cumulative is kept)"
    );
    assert_eq!(response["partialSuccess"]["rejectedDataPoints"], 2);
    let process = r#""instance":"i-1","service":"py-agents""#;
    let expected: Vec<(String, String, f64)> = [
        (
            "agent_tasks_total",
            format!(r#"{{"gen_ai_agent_name":"researcher",{process}}}"#),
            7.0,
        ),
        (
            "latency",
            r#"{"instance":"i-1","quantile":"0.5","service":"py-agents"}"#.into(),
            0.4,
        ),
        (
            "latency",
            r#"{"instance":"i-1","quantile":"0.99","service":"py-agents"}"#.into(),
            0.9,
        ),
        ("latency_count", format!("{{{process}}}"), 4.0),
        ("latency_sum", format!("{{{process}}}"), 2.0),
        ("queue_depth", format!("{{{process}}}"), 2.5),
        (
            "tool_duration_bucket",
            r#"{"instance":"i-1","le":"+Inf","service":"py-agents"}"#.into(),
            6.0,
        ),
        (
            "tool_duration_bucket",
            r#"{"instance":"i-1","le":"0.1","service":"py-agents"}"#.into(),
            1.0,
        ),
        (
            "tool_duration_bucket",
            r#"{"instance":"i-1","le":"1","service":"py-agents"}"#.into(),
            3.0,
        ),
        ("tool_duration_count", format!("{{{process}}}"), 6.0),
        ("tool_duration_sum", format!("{{{process}}}"), 4.5),
    ]
    .into_iter()
    .map(|(n, l, v)| (n.to_owned(), l, v))
    .collect();
    let n = expected.len();
    assert_eq!(d.when(points, |p| p.len() >= n), expected);
    let kinds: Vec<(String, String)> = d
        .db()
        .prepare("SELECT name, kind FROM telemetry_series WHERE name LIKE 'tool_duration%' GROUP BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        kinds,
        [
            ("tool_duration_bucket", "histogram_bucket"),
            ("tool_duration_count", "counter"),
            ("tool_duration_sum", "counter"),
        ]
        .map(|(n, k)| (n.to_owned(), k.to_owned()))
    );

    // A retry of the same request stores each point once (the index takes the log in
    // order: once the later points are in, the retry is too); a later collection adds.
    answer(
        &d.send("POST", "/v1/metrics", &otlp_json_metrics(time)),
        200,
    );
    answer(
        &d.send("POST", "/v1/metrics", &otlp_json_metrics(time + 1)),
        200,
    );
    let twice = d.when(points, |p| p.len() >= 2 * n);
    assert_eq!(twice.len(), 2 * n, "the retry added nothing");

    // Nothing but cumulative points: an empty success.
    let cumulative = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "up", "gauge": {"dataPoints": [{"asInt": "1", "timeUnixNano": time.to_string()}]}}]}]}]});
    assert_eq!(
        answer(&d.send("POST", "/v1/metrics", &cumulative), 200),
        json!({})
    );
    let up = d.when(
        |db| {
            db.query_row(
                "SELECT labels FROM telemetry_metrics WHERE name = 'up'",
                [],
                |r| r.get::<_, String>(0),
            )
            .ok()
        },
        Option::is_some,
    );
    assert_eq!(up.as_deref(), Some(r#"{"service":"unknown_service"}"#));
    let stored = points(&d.db()).len();

    // A malformed request is refused whole, naming the field at fault.
    for (pointer, value, code, field) in [
        (
            "/2/histogram/dataPoints/0/bucketCounts",
            json!(["1", "2"]),
            "invalid_value",
            "[2].histogram.dataPoints[0].bucketCounts",
        ),
        (
            "/2/histogram/dataPoints/0/explicitBounds",
            json!([1.0, 0.1]),
            "invalid_value",
            "[2].histogram.dataPoints[0].explicitBounds",
        ),
        (
            "/1/gauge/dataPoints/0/timeUnixNano",
            json!("0"),
            "invalid_value",
            "[1].gauge.dataPoints[0].timeUnixNano",
        ),
        (
            "/0/sum/aggregationTemporality",
            json!(0),
            "invalid_value",
            "[0].sum.aggregationTemporality",
        ),
        (
            "/1/gauge/dataPoints/0",
            json!({"timeUnixNano": "5"}),
            "missing_field",
            "[1].gauge.dataPoints[0].asDouble",
        ),
        ("/3/name", json!(""), "invalid_value", "[3].name"),
    ] {
        let mut body = otlp_json_metrics(time + 2);
        let metrics = &mut body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
        *metrics.pointer_mut(pointer).unwrap() = value;
        let field = format!("resourceMetrics[0].scopeMetrics[0].metrics{field}");
        refused(
            &d.send("POST", "/v1/metrics", &body),
            400,
            code,
            Some(&field),
        );
    }
    let wrong_type = json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": 5}]}]}]});
    refused(
        &d.send("POST", "/v1/metrics", &wrong_type),
        400,
        "invalid_json",
        None,
    );
    // 1 MiB of service name on each of 100 points: past the expansion cap.
    let point = json!({"asInt": "1", "timeUnixNano": time.to_string()});
    let expands = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "s".repeat(1 << 20)}}]},
        "scopeMetrics": [{"metrics": [{"name": "wide", "gauge": {"dataPoints": vec![point; 100]}}]}]}]});
    refused(
        &d.send("POST", "/v1/metrics", &expands),
        413,
        "payload_too_large",
        Some("resourceMetrics[0].scopeMetrics[0].metrics[0]"),
    );
    let not_protobuf = d.raw(
        "POST",
        "/v1/metrics",
        &[("content-type", "application/x-protobuf")],
        b"\xff\xff\xff",
    );
    refused(&not_protobuf, 400, "invalid_protobuf", None);
    let text = d.raw(
        "POST",
        "/v1/metrics",
        &[("content-type", "text/plain")],
        b"up 1",
    );
    refused(&text, 415, "unsupported_media_type", None);
    assert_eq!(
        points(&d.db()).len(),
        stored,
        "nothing of a refused request is kept"
    );
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
fn the_python_sdk_exports_a_three_level_agent_trace_and_its_metrics_over_http_and_grpc() {
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
        // The newest point of `name` with `labels` and the process's.
        let latest = |name: &str, labels: &[(&str, &str)]| -> f64 {
            let instance = format!("{protocol}-1");
            let mut all: std::collections::BTreeMap<&str, &str> = labels.iter().copied().collect();
            all.extend([
                ("instance", instance.as_str()),
                ("service", service.as_str()),
            ]);
            let labels = serde_json::to_string(&all).unwrap();
            let read = |db: &Connection| {
                db.query_row(
                    "SELECT value FROM telemetry_metrics WHERE name = ?1 AND labels = ?2
                     ORDER BY time_unix_nano DESC LIMIT 1",
                    [name, &labels],
                    |r| r.get(0),
                )
                .ok()
            };
            d.when(read, Option::is_some)
                .unwrap_or_else(|| panic!("{protocol}: no {name}{labels}"))
        };
        let input = ("gen_ai_token_type", "input");
        let tokens = "gen_ai_client_token_usage";
        for (name, labels, value) in [
            (
                "agent_tasks_total",
                vec![("gen_ai_agent_name", "researcher")],
                3.0,
            ),
            (&format!("{tokens}_count"), vec![input], 1.0),
            (&format!("{tokens}_sum"), vec![input], 120.0),
            (&format!("{tokens}_bucket"), vec![input, ("le", "100")], 0.0),
            (&format!("{tokens}_bucket"), vec![input, ("le", "250")], 1.0),
            (
                &format!("{tokens}_bucket"),
                vec![input, ("le", "+Inf")],
                1.0,
            ),
        ] {
            assert_eq!(latest(name, &labels), value, "{protocol}: {name}{labels:?}");
        }
    }
    let points = d.rows("telemetry_points");
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
    assert_eq!(
        d.rows("telemetry_points"),
        points,
        "refused without the token"
    );
}

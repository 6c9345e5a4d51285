//! The seeds' other write paths on `lookout serve`: seed 001's session webhooks, seed
//! 000's skill capture, seed 004's record_event, record_metric and get_metrics; each for
//! success (stored when answered) and for bad input.

use crate::daemon::{Daemon, answer, refused};
use serde_json::{Value, json};

#[test]
fn a_session_posted_as_webhooks_is_a_stored_trace_with_its_rollup() {
    let d = Daemon::start(&[]);
    let started = d.send(
        "POST",
        "/telemetry/session/start",
        &json!({"prompt": "Deploy my app", "metadata": {"environment": "prod"}, "session_id": "s-1"}),
    );
    assert_eq!(answer(&started, 201), json!({"session_id": "s-1"}));
    let events = [
        json!({"event_type": "skill.invoked", "skill_name": "azure-deploy"}),
        json!({"event_type": "tool.called", "data": {"tool": "az", "args": ["webapp", "create"]}}),
        json!({"event_type": "tool.completed", "data": {"tool": "az", "success": true}}),
        json!({"event_type": "llm.request", "data": {"model": "gpt-4o", "tokens": 120}}),
        json!({"event_type": "llm.response", "data": {"model": "gpt-4o", "output_tokens": 40}}),
    ];
    for event in &events {
        let said = d.send("POST", "/telemetry/session/s-1/event", event);
        assert_eq!(answer(&said, 200), json!({"ok": true}));
    }
    // Acknowledged means stored: the events are in the store before the end.
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM telemetry_records WHERE kind = 'session_event'"
        ),
        5
    );
    let end = json!({"success": true, "output": "Deployed"});
    let ended = answer(&d.send("POST", "/telemetry/session/s-1/end", &end), 200);
    assert_eq!(ended["rollup"]["tool_calls"], 1);
    assert_eq!(ended["rollup"]["events"], 5);
    // The end sent again (a lost answer retried) answers the same, storing nothing new.
    let again = answer(&d.send("POST", "/telemetry/session/s-1/end", &end), 200);
    assert_eq!(again, ended);
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM telemetry_records WHERE kind = 'session'"
        ),
        1
    );
    // The session's spans follow through the export pipeline.
    let spans = || -> Vec<String> {
        d.db()
            .prepare("SELECT name FROM telemetry_spans ORDER BY start_time_unix_nano")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while spans().len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let names = spans();
    assert_eq!(
        names,
        ["session azure-deploy", "execute_tool az", "chat gpt-4o"]
    );
    let metrics = d.send("GET", "/metrics", &Value::Null).text();
    assert!(
        metrics.contains("sessions_total{skill=\"azure-deploy\",outcome=\"success\"} 1"),
        "{metrics}"
    );

    // Without an id the daemon gives one.
    let started = answer(
        &d.send("POST", "/telemetry/session/start", &json!({"prompt": "p"})),
        201,
    );
    assert!(
        started["session_id"]
            .as_str()
            .is_some_and(|id| id.len() >= 32)
    );
}

fn count(d: &Daemon, sql: &str) -> i64 {
    d.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn session_webhooks_refuse_bad_input() {
    let d = Daemon::start(&[]);
    let start = json!({"prompt": "p", "session_id": "open-1"});
    answer(&d.send("POST", "/telemetry/session/start", &start), 201);
    let records = count(&d, "SELECT COUNT(*) FROM telemetry_records");
    let cases = [
        (
            "/telemetry/session/start",
            json!({}),
            422,
            "missing_field",
            "prompt",
        ),
        (
            "/telemetry/session/start",
            json!({"prompt": 1}),
            422,
            "wrong_type",
            "prompt",
        ),
        (
            "/telemetry/session/start",
            json!({"prompt": "p", "metadata": [1]}),
            422,
            "wrong_type",
            "metadata",
        ),
        (
            "/telemetry/session/start",
            json!({"prompt": "p", "user": "x"}),
            422,
            "unknown_field",
            "user",
        ),
        (
            "/telemetry/session/start",
            json!({"prompt": "p", "session_id": "a b"}),
            422,
            "invalid_id",
            "session_id",
        ),
        (
            "/telemetry/session/start",
            start.clone(),
            409,
            "session_exists",
            "session_id",
        ),
        (
            "/telemetry/session/open-1/event",
            json!({"event_type": "tool.exploded"}),
            422,
            "E_EVENT_TYPE",
            "event_type",
        ),
        (
            "/telemetry/session/open-1/event",
            json!({"event_type": "error", "data": [1]}),
            422,
            "E_EVENT_DATA",
            "data",
        ),
        (
            "/telemetry/session/open-1/event",
            json!({"data": {}}),
            422,
            "missing_field",
            "event_type",
        ),
        (
            "/telemetry/session/nobody/event",
            json!({"event_type": "error"}),
            404,
            "E_UNKNOWN_SESSION",
            "session_id",
        ),
        (
            "/telemetry/session/open-1/end",
            json!({"output": "x"}),
            422,
            "missing_field",
            "success",
        ),
        (
            "/telemetry/session/open-1/end",
            json!({"success": "yes"}),
            422,
            "wrong_type",
            "success",
        ),
        (
            "/telemetry/session/nobody/end",
            json!({"success": true}),
            404,
            "E_UNKNOWN_SESSION",
            "session_id",
        ),
    ];
    for (path, body, status, code, field) in cases {
        refused(&d.send("POST", path, &body), status, code, Some(field));
    }
    assert_eq!(count(&d, "SELECT COUNT(*) FROM telemetry_records"), records);
}

#[test]
fn a_skill_capture_is_in_telemetry_json_and_the_store_when_answered() {
    let d = Daemon::start(&[]);
    let entry = json!({"skill_name": "code.review", "inputs": {"files": 3}, "status": "success",
                       "duration_ms": 1234, "agent": "reviewer", "workflow": "pr", "caller": "api"});
    let said = answer(&d.send("POST", "/api/v1/skills/capture", &entry), 201);
    assert_eq!(said["ok"], true);
    assert_eq!(said["details"]["total_entries"], 1);
    let path = said["details"]["telemetry_path"].as_str().unwrap();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file[0]["skill"], "code.review");
    assert_eq!(file[0]["inputs"]["files"], 3);
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM telemetry_records WHERE kind = 'skill_entry'"
        ),
        1
    );
    let metrics = d.send("GET", "/metrics", &Value::Null).text();
    assert!(metrics.contains(
        "skill_executions_total{skill=\"code.review\",status=\"success\",caller=\"api\"} 1"
    ));

    // Seed 000's own refusal (its ValueError) for an entry the seed refuses.
    let mut negative = entry.clone();
    negative["duration_ms"] = json!(-5);
    let refusal = answer(&d.send("POST", "/api/v1/skills/capture", &negative), 422);
    assert_eq!(refusal["ok"], false);
    assert_eq!(refusal["details"]["error"]["error"], "ValueError");
    let cases = [
        (
            json!({"status": "success", "duration_ms": 1}),
            "missing_field",
            "skill_name",
        ),
        (
            json!({"skill_name": "s", "duration_ms": 1}),
            "missing_field",
            "status",
        ),
        (
            json!({"skill_name": "s", "status": "success"}),
            "missing_field",
            "duration_ms",
        ),
        (
            json!({"skill_name": "s", "status": "success", "duration_ms": "1"}),
            "wrong_type",
            "duration_ms",
        ),
        (
            json!({"skill_name": "s", "status": "success", "duration_ms": 1, "inputs": "{}"}),
            "wrong_type",
            "inputs",
        ),
        (
            json!({"skill_name": "s", "status": "success", "duration_ms": 1, "who": 1}),
            "unknown_field",
            "who",
        ),
    ];
    for (body, code, field) in cases {
        refused(
            &d.send("POST", "/api/v1/skills/capture", &body),
            422,
            code,
            Some(field),
        );
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        file.as_array().unwrap().len(),
        1,
        "nothing refused was written"
    );
}

#[test]
fn bridge_events_and_metrics_are_recorded_and_read_back() {
    let d = Daemon::start(&[]);
    let event = json!({"event_type": "COMMAND", "source": "cli", "data": {"command": "deploy"}, "event_id": "ev-1"});
    let recorded = answer(&d.send("POST", "/api/v1/events", &event), 201);
    assert_eq!(recorded["status"], "success");
    assert_eq!(recorded["event_id"], "ev-1");
    // A retry answers as the first time; another event under the id is refused.
    assert_eq!(
        answer(&d.send("POST", "/api/v1/events", &event), 201),
        recorded
    );
    let mut other = event.clone();
    other["data"]["command"] = "rollback".into();
    let refusal = answer(&d.send("POST", "/api/v1/events", &other), 422);
    assert_eq!(refusal["error"]["code"], "INVALID_EVENT");
    let refusal = answer(
        &d.send("POST", "/api/v1/events", &json!({"source": "cli"})),
        422,
    );
    assert_eq!(refusal["error"]["code"], "INVALID_EVENT");
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM telemetry_records WHERE kind = 'bridge_event'"
        ),
        1
    );

    for value in [10, 20, 60] {
        let point = json!({"metric_name": "latency_ms", "metric_value": value, "context": {"tool": "grep"},
                           "timestamp": "2026-12-01T10:00:00Z"});
        assert_eq!(
            answer(&d.send("POST", "/api/v1/metrics", &point), 201)["status"],
            "success"
        );
    }
    let read = answer(
        &d.send(
            "GET",
            "/api/v1/metrics?names=latency_ms&aggregation=MEAN",
            &Value::Null,
        ),
        200,
    );
    assert_eq!(read["metrics"]["latency_ms"]["value"], 30.0);
    assert_eq!(read["metrics"]["latency_ms"]["sample_count"], 3);
    let max = answer(
        &d.send(
            "GET",
            "/api/v1/metrics?names=latency_ms&aggregation=MAX&since=2026-12-01T00:00:00Z&until=2026-12-02T00:00:00Z",
            &Value::Null,
        ),
        200,
    );
    assert_eq!(max["metrics"]["latency_ms"]["value"], 60.0);
    // The same points through the query engine, as `lookout query --json` answers.
    let path = "/api/v1/query?metric=latency_ms&agg=max&interval=1h&label.tool=grep\
                &from=2026-12-01T09:00:00Z&until=2026-12-01T11:00:00Z";
    let series = answer(&d.send("GET", path, &Value::Null), 200);
    assert_eq!(series[0]["labels"]["tool"], "grep");
    assert_eq!(series[0]["points"][0]["value"], 60.0);
    let none = path.replace("grep", "sed");
    assert_eq!(answer(&d.send("GET", &none, &Value::Null), 200), json!([]));
    for (path, code, field) in [
        ("/api/v1/query?agg=max", "missing_parameter", "metric"),
        (
            "/api/v1/query?metric=m&agg=p200",
            "invalid_parameter",
            "agg",
        ),
        (
            "/api/v1/query?metric=m&interval=soon",
            "invalid_parameter",
            "interval",
        ),
        (
            "/api/v1/query?metric=m&interval=1ms",
            "invalid_parameter",
            "interval",
        ),
        (
            "/api/v1/query?metric=m&from=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z",
            "invalid_parameter",
            "from",
        ),
        ("/api/v1/query?metric=m&step=1", "unknown_parameter", "step"),
    ] {
        refused(&d.send("GET", path, &Value::Null), 400, code, Some(field));
    }
    let refusal = answer(
        &d.send("GET", "/api/v1/metrics?aggregation=MEDIAN", &Value::Null),
        422,
    );
    assert_eq!(refusal["error"]["code"], "INVALID_AGGREGATION");
    let cases = [
        (json!({"metric_value": 1}), "missing_field", "metric_name"),
        (json!({"metric_name": "m"}), "missing_field", "metric_value"),
        (
            json!({"metric_name": "m", "metric_value": [1]}),
            "wrong_type",
            "metric_value",
        ),
        (
            json!({"metric_name": "m", "metric_value": 1, "context": 3}),
            "wrong_type",
            "context",
        ),
        (
            json!({"metric_name": "m", "metric_value": 1, "timestamp": "now"}),
            "invalid_value",
            "timestamp",
        ),
        (
            json!({"metric_name": "m", "metric_value": 1, "unit": "ms"}),
            "unknown_field",
            "unit",
        ),
    ];
    for (body, code, field) in cases {
        refused(
            &d.send("POST", "/api/v1/metrics", &body),
            422,
            code,
            Some(field),
        );
    }
    refused(
        &d.send(
            "GET",
            "/api/v1/metrics?since=2026-12-01T00:00:00Z",
            &Value::Null,
        ),
        400,
        "invalid_parameter",
        Some("until"),
    );
    refused(
        &d.send("GET", "/api/v1/metrics?name=x", &Value::Null),
        400,
        "unknown_parameter",
        Some("name"),
    );
}

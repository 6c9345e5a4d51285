//! `lookout serve`'s HTTP API against a real daemon process: seed 002's run endpoints
//! (success, every kind of bad input with its status and code, idempotent retries, a
//! concurrent duplicate batch), the guards (token, body cap at the limit and one byte
//! over, a gzip bomb, unknown encodings).

use crate::daemon::{Daemon, answer, refused};
use lookout_testkit::{Response, request_cut_short};
use serde_json::{Value, json};
use std::io::Write;
use std::process::Command;

fn run(event_id: &str) -> Value {
    json!({"event_id": event_id, "agent_name": "coder", "job_type": "fix", "items_discovered": 3})
}

#[test]
fn a_run_is_created_listed_changed_and_given_a_commit() {
    let d = Daemon::start(&[]);
    let created = answer(&d.send("POST", "/api/v1/runs", &run("e-1")), 201);
    assert_eq!(created, json!({"event_id": "e-1", "run_id": "e-1"}));
    let mut other = run("e-2");
    other["run_id"] = "nightly-7".into();
    other["agent_name"] = "reviewer".into();
    other["start_time"] = "2026-01-31T13:00:00+01:00".into();
    let created = answer(&d.send("POST", "/api/v1/runs", &other), 201);
    assert_eq!(created["run_id"], "nightly-7");

    let all = answer(&d.send("GET", "/api/v1/runs", &Value::Null), 200);
    assert_eq!(all["runs"].as_array().unwrap().len(), 2);
    let coder = answer(
        &d.send("GET", "/api/v1/runs?agent_name=coder", &Value::Null),
        200,
    );
    let runs = coder["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0]["status"], "running",
        "defaults: running, started now"
    );
    assert_eq!(runs[0]["items_discovered"], 3);
    let reviewer = &answer(
        &d.send(
            "GET",
            "/api/v1/runs?since=2026-01-31T11:59:00Z&until=2026-01-31T12:01:00Z",
            &Value::Null,
        ),
        200,
    )["runs"];
    assert_eq!(
        reviewer[0]["start_time"], "2026-01-31T12:00:00.000Z",
        "times stored in UTC"
    );
    let page = answer(
        &d.send("GET", "/api/v1/runs?limit=1&offset=1", &Value::Null),
        200,
    );
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);

    let patch = json!({"status": "success", "items_succeeded": 3, "git_repo": "git@github.com:acme/agents.git"});
    let changed = answer(&d.send("PATCH", "/api/v1/runs/e-1", &patch), 200);
    assert_eq!(changed["status"], "success");
    assert_eq!(changed["items_discovered"], 3, "fields not sent are kept");
    let commit = json!({"commit_hash": "ABCDEF1234", "commit_source": "llm", "commit_author": "Agent <a@b>"});
    let said = answer(
        &d.send("POST", "/api/v1/runs/e-1/associate-commit", &commit),
        200,
    );
    assert_eq!(said["success"], true);
    let url = answer(
        &d.send("GET", "/api/v1/runs/e-1/commit-url", &Value::Null),
        200,
    );
    assert_eq!(
        url["commit_url"],
        "https://github.com/acme/agents/commit/abcdef1234"
    );
    let url = answer(
        &d.send("GET", "/api/v1/runs/e-1/repo-url", &Value::Null),
        200,
    );
    assert_eq!(url["repo_url"], "https://github.com/acme/agents");
    // The run id names a run too; its state carries the commit.
    let shown = answer(&d.send("GET", "/api/v1/runs/nightly-7", &Value::Null), 200);
    assert_eq!(shown["agent_name"], "reviewer");
    let shown = answer(&d.send("GET", "/api/v1/runs/e-1", &Value::Null), 200);
    assert_eq!(shown["git_commit_source"], "llm");
    assert_eq!(shown["git_commit_author"], "Agent <a@b>");

    let agents = answer(
        &d.send("GET", "/api/v1/metadata/agent_name", &Value::Null),
        200,
    );
    assert_eq!(agents["values"], json!(["coder", "reviewer"]));

    // Seed 002's own recipe reads what the API wrote.
    let status: String = d
        .db()
        .query_row(
            "SELECT status FROM agent_runs WHERE run_id = 'e-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "success");
}

#[test]
fn a_retry_gets_the_first_answer_and_another_body_under_the_id_a_409() {
    let d = Daemon::start(&[]);
    let first = d.send("POST", "/api/v1/runs", &run("same"));
    assert_eq!(
        answer(&first, 201),
        json!({"event_id": "same", "run_id": "same"})
    );
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = d.send("POST", "/api/v1/runs", &run("same"));
    assert_eq!(answer(&again, 201), answer(&first, 201));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let mut changed = run("same");
    changed["items_discovered"] = 4.into();
    refused(
        &d.send("POST", "/api/v1/runs", &changed),
        409,
        "idempotency_conflict",
        Some("event_id"),
    );
    // A batch with the conflict in it writes nothing.
    let batch = json!([run("new-1"), changed]);
    refused(
        &d.send("POST", "/api/v1/runs/batch", &batch),
        409,
        "idempotency_conflict",
        Some("[1].event_id"),
    );
    assert_eq!(d.rows("agent_runs"), 1);
    // Across a restart the stored digest answers.
    let d = d.restart(&[]);
    let again = d.send("POST", "/api/v1/runs", &run("same"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    refused(
        &d.send("POST", "/api/v1/runs", &changed),
        409,
        "idempotency_conflict",
        Some("event_id"),
    );
    let runs = d.log_lines().iter().filter(|l| l["kind"] == "run").count();
    assert_eq!(runs, 1, "the log holds the run once");
}

#[test]
fn the_same_batch_posted_twice_at_once_stores_each_run_once() {
    let d = Daemon::start(&[]);
    let batch: Vec<Value> = (0..500).map(|i| run(&format!("b-{i}"))).collect();
    let batch = Value::from(batch);
    let answers: Vec<Response> = std::thread::scope(|s| {
        let posts: Vec<_> = (0..2)
            .map(|_| s.spawn(|| d.send("POST", "/api/v1/runs/batch", &batch)))
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    let bodies: Vec<Value> = answers.iter().map(|a| answer(a, 201)).collect();
    assert_eq!(bodies[0], bodies[1], "both get the first answer");
    assert_eq!(bodies[0]["runs"].as_array().unwrap().len(), 500);
    assert_eq!(
        bodies[0]["runs"][499]["event_id"], "b-499",
        "in the order sent"
    );
    let replayed = answers
        .iter()
        .filter(|a| a.header("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 1);
    let logged = d.log_lines().iter().filter(|l| l["kind"] == "run").count();
    assert_eq!(logged, 500, "each run written once");
    // Acknowledged means in the log; the index follows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while d.rows("agent_runs") < 500 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(d.rows("agent_runs"), 500);
}

/// Every refusal of bad input: its status, code and field; nothing is written.
#[test]
fn bad_input_is_refused_with_its_status_code_and_field() {
    let d = Daemon::start(&[]);
    answer(&d.send("POST", "/api/v1/runs", &run("kept")), 201);
    let records_before = d.rows("telemetry_records");
    let long = "x".repeat(64 * 1024 + 1);
    let with = |key: &str, value: Value| {
        let mut body = run("fresh");
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = run("fresh");
        body.as_object_mut().unwrap().remove(key);
        body
    };
    type Case<'a> = (&'a str, &'a str, Value, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/v1/runs",
            json!([1]),
            422,
            "expected_object",
            Some(""),
        ),
        (
            "POST",
            "/api/v1/runs",
            without("event_id"),
            422,
            "missing_field",
            Some("event_id"),
        ),
        (
            "POST",
            "/api/v1/runs",
            without("agent_name"),
            422,
            "missing_field",
            Some("agent_name"),
        ),
        (
            "POST",
            "/api/v1/runs",
            without("job_type"),
            422,
            "missing_field",
            Some("job_type"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("colour", "red".into()),
            422,
            "unknown_field",
            Some("colour"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("items_failed", "3".into()),
            422,
            "wrong_type",
            Some("items_failed"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("items_failed", json!(-1)),
            422,
            "invalid_value",
            Some("items_failed"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("items_failed", json!(1.5)),
            422,
            "invalid_value",
            Some("items_failed"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("agent_name", json!(7)),
            422,
            "wrong_type",
            Some("agent_name"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("agent_name", Value::Null),
            422,
            "wrong_type",
            Some("agent_name"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("status", "done".into()),
            422,
            "invalid_value",
            Some("status"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("start_time", "yesterday".into()),
            422,
            "invalid_value",
            Some("start_time"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("git_commit_hash", "xyz".into()),
            422,
            "invalid_value",
            Some("git_commit_hash"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("git_commit_source", "bot".into()),
            422,
            "invalid_value",
            Some("git_commit_source"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("error_summary", long.clone().into()),
            422,
            "too_long",
            Some("error_summary"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("api_posting_status", "posted".into()),
            422,
            "read_only_field",
            Some("api_posting_status"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("event_id", "a b".into()),
            422,
            "invalid_id",
            Some("event_id"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("event_id", "x".repeat(129).into()),
            422,
            "invalid_id",
            Some("event_id"),
        ),
        (
            "POST",
            "/api/v1/runs",
            with("run_id", json!(1)),
            422,
            "wrong_type",
            Some("run_id"),
        ),
        (
            "POST",
            "/api/v1/runs/batch",
            run("x"),
            422,
            "expected_array",
            Some(""),
        ),
        (
            "POST",
            "/api/v1/runs/batch",
            json!([]),
            422,
            "invalid_value",
            Some(""),
        ),
        (
            "POST",
            "/api/v1/runs/batch",
            json!([run("ok"), with("pid", "1".into())]),
            422,
            "wrong_type",
            Some("[1].pid"),
        ),
        (
            "POST",
            "/api/v1/runs/batch",
            json!([run("ok"), 3]),
            422,
            "expected_object",
            Some("[1]"),
        ),
        (
            "PATCH",
            "/api/v1/runs/kept",
            json!({}),
            422,
            "missing_field",
            Some(""),
        ),
        (
            "PATCH",
            "/api/v1/runs/kept",
            json!({"event_id": "other"}),
            422,
            "read_only_field",
            Some("event_id"),
        ),
        (
            "PATCH",
            "/api/v1/runs/kept",
            json!({"status": 1}),
            422,
            "wrong_type",
            Some("status"),
        ),
        (
            "PATCH",
            "/api/v1/runs/kept",
            json!({"colour": 1}),
            422,
            "unknown_field",
            Some("colour"),
        ),
        (
            "PATCH",
            "/api/v1/runs/missing",
            json!({"status": "failed"}),
            404,
            "not_found",
            Some("event_id"),
        ),
        (
            "PATCH",
            "/api/v1/runs/bad%20id",
            json!({"status": "failed"}),
            400,
            "invalid_id",
            Some("event_id"),
        ),
        (
            "POST",
            "/api/v1/runs/kept/associate-commit",
            json!({"commit_source": "llm"}),
            422,
            "missing_field",
            Some("commit_hash"),
        ),
        (
            "POST",
            "/api/v1/runs/kept/associate-commit",
            json!({"commit_hash": "abcdef1"}),
            422,
            "missing_field",
            Some("commit_source"),
        ),
        (
            "POST",
            "/api/v1/runs/kept/associate-commit",
            json!({"commit_hash": "zz", "commit_source": "llm"}),
            422,
            "invalid_value",
            Some("commit_hash"),
        ),
        (
            "POST",
            "/api/v1/runs/kept/associate-commit",
            json!({"commit_hash": "abcdef1", "commit_source": "x"}),
            422,
            "invalid_value",
            Some("commit_source"),
        ),
        (
            "POST",
            "/api/v1/runs/kept/associate-commit",
            json!({"commit_hash": 1, "commit_source": "llm"}),
            422,
            "wrong_type",
            Some("commit_hash"),
        ),
        (
            "POST",
            "/api/v1/runs/kept/associate-commit",
            json!({"commit_hash": "abcdef1", "commit_source": "llm", "why": 1}),
            422,
            "unknown_field",
            Some("why"),
        ),
        (
            "POST",
            "/api/v1/runs/missing/associate-commit",
            json!({"commit_hash": "abcdef1", "commit_source": "llm"}),
            404,
            "not_found",
            Some("event_id"),
        ),
        (
            "GET",
            "/api/v1/runs/kept/commit-url",
            Value::Null,
            404,
            "not_found",
            Some("git_commit_hash"),
        ),
        (
            "GET",
            "/api/v1/runs/kept/repo-url",
            Value::Null,
            404,
            "not_found",
            Some("git_repo"),
        ),
        (
            "GET",
            "/api/v1/runs/missing",
            Value::Null,
            404,
            "not_found",
            Some("event_id"),
        ),
        (
            "GET",
            "/api/v1/runs?colour=red",
            Value::Null,
            400,
            "unknown_parameter",
            Some("colour"),
        ),
        (
            "GET",
            "/api/v1/runs?limit=0",
            Value::Null,
            400,
            "invalid_parameter",
            Some("limit"),
        ),
        (
            "GET",
            "/api/v1/runs?limit=1001",
            Value::Null,
            400,
            "invalid_parameter",
            Some("limit"),
        ),
        (
            "GET",
            "/api/v1/runs?offset=-1",
            Value::Null,
            400,
            "invalid_parameter",
            Some("offset"),
        ),
        (
            "GET",
            "/api/v1/runs?since=monday",
            Value::Null,
            400,
            "invalid_parameter",
            Some("since"),
        ),
        (
            "GET",
            "/api/v1/runs?status=a&status=b",
            Value::Null,
            400,
            "invalid_parameter",
            Some("status"),
        ),
        (
            "GET",
            "/api/v1/metadata/colour",
            Value::Null,
            404,
            "not_found",
            Some("field"),
        ),
        (
            "DELETE",
            "/api/v1/runs/kept",
            Value::Null,
            405,
            "method_not_allowed",
            None,
        ),
        (
            "GET",
            "/api/v1/nothing",
            Value::Null,
            404,
            "not_found",
            None,
        ),
        (
            "POST",
            "/v1/traces",
            json!({"resourceSpans": 1}),
            400,
            "invalid_json",
            None,
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let response = d.send(method, path, &body);
        assert_eq!(
            response.status,
            status,
            "{method} {path} {body}: {}",
            String::from_utf8_lossy(&response.body)
        );
        refused(&response, status, code, field);
    }
    type RawCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8], u16, &'a str);
    let raw_cases: [RawCase; 5] = [
        (
            "/api/v1/runs",
            &[("content-type", "application/json")],
            b"{\"event_id\":",
            400,
            "invalid_json",
        ),
        (
            "/api/v1/runs",
            &[("content-type", "text/plain")],
            b"{}",
            415,
            "unsupported_media_type",
        ),
        ("/api/v1/runs", &[], b"{}", 415, "unsupported_media_type"),
        (
            "/api/v1/runs",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            b"{}",
            415,
            "unsupported_encoding",
        ),
        (
            "/api/v1/runs",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            b"not gzip",
            400,
            "unreadable_body",
        ),
    ];
    for (path, headers, body, status, code) in raw_cases {
        refused(&d.raw("POST", path, headers, body), status, code, None);
    }
    assert_eq!(
        d.rows("telemetry_records"),
        records_before,
        "nothing written"
    );
    assert_eq!(d.rows("agent_runs"), 1);
}

#[test]
fn a_body_at_the_cap_is_taken_one_byte_over_is_refused_also_when_compressed() {
    let d = Daemon::start(&["--max-body", "4096"]);
    let sized = |id: &str, size: usize| {
        let mut body = run(id);
        body["error_summary"] = "".into();
        let pad = size - body.to_string().len();
        body["error_summary"] = "x".repeat(pad).into();
        let text = body.to_string();
        assert_eq!(text.len(), size);
        text
    };
    let json = [("content-type", "application/json")];
    let at_cap = d.raw(
        "POST",
        "/api/v1/runs",
        &json,
        sized("at-cap", 4096).as_bytes(),
    );
    assert_eq!(answer(&at_cap, 201)["event_id"], "at-cap");
    let over = d.raw(
        "POST",
        "/api/v1/runs",
        &json,
        sized("over", 4097).as_bytes(),
    );
    refused(&over, 413, "payload_too_large", None);
    // Compressed under the cap, over it once inflated: refused.
    let gzipped = gzip(sized("gz-over", 4097).as_bytes());
    assert!(gzipped.len() < 4096);
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    refused(
        &d.raw("POST", "/api/v1/runs", &headers, &gzipped),
        413,
        "payload_too_large",
        None,
    );
    let gzipped = gzip(sized("gz-at-cap", 4096).as_bytes());
    assert_eq!(
        answer(&d.raw("POST", "/api/v1/runs", &headers, &gzipped), 201)["event_id"],
        "gz-at-cap"
    );
    assert_eq!(d.rows("agent_runs"), 2);
}

#[test]
fn a_gzip_bomb_is_stopped_at_the_cap() {
    let d = Daemon::start(&[]);
    // 1 GiB of spaces inside a JSON array: about 1 MB compressed.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(b"[").unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.write_all(b"]").unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let url = format!("{}/api/v1/runs/batch", d.url);
    refused(
        &request_cut_short(&url, &headers, bomb),
        413,
        "payload_too_large",
        None,
    );
    assert_eq!(
        answer(&d.send("GET", "/health", &Value::Null), 200)["status"],
        "ok"
    );
    let rss = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    let kib: u64 = rss
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    // Inflated whole, the gigabyte would be in memory at once.
    assert!(
        kib < 256 * 1024,
        "peak memory {kib} KiB: the bomb was inflated"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_token_guards_every_endpoint_but_health_and_is_required_off_loopback() {
    let d = Daemon::start(&["--token", "s3cret"]);
    refused(
        &d.send("GET", "/api/v1/runs", &Value::Null),
        401,
        "unauthorized",
        None,
    );
    refused(
        &d.send("GET", "/metrics", &Value::Null),
        401,
        "unauthorized",
        None,
    );
    let wrong = [("authorization", "Bearer s3cres")];
    refused(
        &d.raw("GET", "/api/v1/runs", &wrong, b""),
        401,
        "unauthorized",
        None,
    );
    let right = [("authorization", "Bearer s3cret")];
    assert_eq!(d.raw("GET", "/api/v1/runs", &right, b"").status, 200);
    assert_eq!(d.send("GET", "/health", &Value::Null).status, 200);

    let refused = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("LOOKOUT_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--token") && said.contains("--no-auth"),
        "{said}"
    );
}

#[test]
fn cors_is_off_unless_an_origin_is_allowed() {
    let d = Daemon::start(&[]);
    let origin = [("origin", "http://page.example")];
    let response = d.raw("GET", "/api/v1/runs", &origin, b"");
    assert_eq!(response.header("access-control-allow-origin"), None);
    let d = Daemon::start(&["--cors-origin", "http://page.example"]);
    let response = d.raw("GET", "/api/v1/runs", &origin, b"");
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("http://page.example")
    );
    let other = d.raw(
        "GET",
        "/api/v1/runs",
        &[("origin", "http://evil.example")],
        b"",
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[test]
fn the_page_reads_answer_what_was_recorded_and_refuse_bad_parameters() {
    let d = Daemon::start(&[]);
    let run = |id: &str, agent: &str, status: &str| json!({"event_id": id, "agent_name": agent, "job_type": "j", "status": status});
    let runs = json!([
        run("p-1", "coder", "success"),
        run("p-2", "coder", "failed"),
        run("p-3", "tester", "running")
    ]);
    answer(&d.send("POST", "/api/v1/runs/batch", &runs), 201);
    let start = json!({"session_id": "p-session", "prompt": "hello"});
    answer(&d.send("POST", "/telemetry/session/start", &start), 201);
    let event = json!({"event_type": "tool.completed", "data": {"tool": "Read", "success": true}});
    answer(
        &d.send("POST", "/telemetry/session/p-session/event", &event),
        200,
    );
    let entry = json!({"skill_name": "triage", "status": "success", "duration_ms": 40});
    answer(&d.send("POST", "/api/v1/skills/capture", &entry), 201);
    let point = json!({"metric_name": "depth", "metric_value": 3, "context": {"queue": "a"}});
    answer(&d.send("POST", "/api/v1/metrics", &point), 201);

    let overview = answer(&d.send("GET", "/api/v1/overview", &Value::Null), 200);
    assert_eq!(
        overview["runs"],
        json!({"failed": 1, "running": 1, "success": 1})
    );
    assert_eq!(overview["run_success_rate"], 0.5, "of the two that ended");
    assert_eq!(overview["agents"], json!(["coder", "tester"]));
    assert_eq!(overview["recent_runs"].as_array().unwrap().len(), 3);
    let sessions = answer(&d.send("GET", "/api/v1/sessions", &Value::Null), 200);
    assert_eq!(sessions[0]["session_id"], "p-session", "{sessions}");
    assert_eq!(sessions[0]["open"], true);
    assert_eq!(sessions[0]["tool_calls"], 1);
    let session = answer(
        &d.send("GET", "/api/v1/sessions/p-session", &Value::Null),
        200,
    );
    assert_eq!(
        session["events"][0]["event_type"], "tool.completed",
        "{session}"
    );
    answer(
        &d.send(
            "POST",
            "/telemetry/session/p-session/end",
            &json!({"success": true}),
        ),
        200,
    );
    let session = answer(
        &d.send("GET", "/api/v1/sessions/p-session", &Value::Null),
        200,
    );
    assert_eq!(
        (session["open"].clone(), session["success"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(session["prompt"], "hello");
    let skills = answer(&d.send("GET", "/api/v1/skills", &Value::Null), 200);
    assert_eq!(skills["entries"][0]["skill"], "triage", "{skills}");
    assert_eq!(
        skills["analysis"]["per_skill"]["triage"]["invocations"], 1,
        "{skills}"
    );
    let families = answer(&d.send("GET", "/api/v1/families", &Value::Null), 200);
    let depth = families
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "depth")
        .unwrap();
    assert_eq!(depth["labels"]["queue"], json!(["a"]), "{families}");

    for (path, code, field) in [
        (
            "/api/v1/overview?since=yesterday",
            "invalid_parameter",
            "since",
        ),
        ("/api/v1/overview?window=1h", "unknown_parameter", "window"),
        ("/api/v1/sessions?limit=0", "invalid_parameter", "limit"),
        ("/api/v1/sessions?limit=1001", "invalid_parameter", "limit"),
        ("/api/v1/skills?limit=x", "invalid_parameter", "limit"),
        ("/api/v1/sessions/p-session%01", "invalid_id", "session_id"),
    ] {
        let refused = answer(&d.send("GET", path, &Value::Null), 400);
        assert_eq!(refused["error"]["code"], code, "{path}: {refused}");
        assert_eq!(refused["error"]["field"], field, "{path}");
    }
    let missing = answer(&d.send("GET", "/api/v1/sessions/nobody", &Value::Null), 404);
    assert_eq!(missing["error"]["code"], "not_found");
}

#[test]
fn the_openapi_document_lists_every_endpoint_and_each_is_served() {
    let d = Daemon::start(&[]);
    let document = answer(&d.send("GET", "/api/v1/openapi.json", &Value::Null), 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut listed: Vec<(String, String)> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.push((method.to_uppercase(), path.clone()));
        }
    }
    listed.sort();
    let mut expected: Vec<(String, String)> = [
        ("GET", "/health"),
        ("GET", "/version"),
        ("GET", "/metrics"),
        ("POST", "/export"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/runs"),
        ("GET", "/api/v1/runs"),
        ("POST", "/api/v1/runs/batch"),
        ("GET", "/api/v1/runs/{event_id}"),
        ("PATCH", "/api/v1/runs/{event_id}"),
        ("POST", "/api/v1/runs/{event_id}/associate-commit"),
        ("GET", "/api/v1/runs/{event_id}/commit-url"),
        ("GET", "/api/v1/runs/{event_id}/repo-url"),
        ("GET", "/api/v1/metadata/{field}"),
        ("GET", "/api/v1/traces"),
        ("GET", "/api/v1/traces/{trace_id}"),
        ("GET", "/api/v1/query"),
        ("GET", "/api/v1/overview"),
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/sessions/{id}"),
        ("GET", "/api/v1/skills"),
        ("GET", "/api/v1/families"),
        ("POST", "/v1/traces"),
        ("POST", "/v1/metrics"),
        ("POST", "/telemetry/session/start"),
        ("POST", "/telemetry/session/{id}/event"),
        ("POST", "/telemetry/session/{id}/end"),
        ("POST", "/api/v1/skills/capture"),
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/metrics"),
        ("GET", "/api/v1/metrics"),
    ]
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .to_vec();
    expected.sort();
    assert_eq!(listed, expected);

    // Each is routed: whatever it answers to an empty request, it is not the fallback's
    // 404 nor a 405.
    for (method, path) in &listed {
        let path = path
            .replace("{event_id}", "e-unknown")
            .replace("{field}", "agent_name")
            .replace("{trace_id}", "0123456789abcdef")
            .replace("{id}", "s-unknown");
        let body = if method == "GET" {
            Value::Null
        } else {
            json!({})
        };
        let response = d.send(method, &path, &body);
        assert_ne!(response.status, 405, "{method} {path}");
        let text = response.text();
        assert!(
            !text.contains("no such endpoint"),
            "{method} {path}: {text}"
        );
        assert!(response.status < 500, "{method} {path}: {text}");
    }

    // The run schema is the run endpoints' own: every field, unknown ones refused.
    let run = &document["components"]["schemas"]["Run"];
    assert_eq!(run["additionalProperties"], false);
    for field in [
        "event_id",
        "agent_name",
        "job_type",
        "status",
        "pid",
        "git_commit_source",
    ] {
        assert!(run["properties"][field].is_object(), "{field} in {run}");
    }
    assert_eq!(run["properties"]["pid"]["type"], "integer");
    let refused = &document["paths"]["/api/v1/runs"]["post"]["responses"]["4XX"];
    assert_eq!(
        refused["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
}

//! `lookout serve`'s HTTP API against a real daemon process: seed 002's run endpoints
//! (success, every kind of bad input with its status and code, idempotent retries, a
//! concurrent duplicate batch), the guards (token, body cap at the limit and one byte
//! over, a gzip bomb, unknown encodings) and OTLP/HTTP ingest into the store and the
//! agent families.

use lookout::store::rusqlite::Connection;
use lookout_testkit::{Response, request, request_cut_short};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A `lookout serve` on a store of its own, stopped when dropped.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its store's base directory.
    pub base: PathBuf,
    dir: Option<tempfile::TempDir>,
    /// Its stdout, read to the banner and kept open (it prints more when it stops).
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Daemon {
    /// Starts `lookout serve --listen 127.0.0.1:0 ARGS` and waits for its banner.
    pub fn start(args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        Daemon::start_on(dir, args)
    }

    fn start_on(dir: tempfile::TempDir, args: &[&str]) -> Daemon {
        let base = dir.path().to_path_buf();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env(lookout::store::BASE_DIR_ENV, &base)
            .env_remove("LOOKOUT_JSON_DIR")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove(lookout::config::STORE_ENV)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap();
        let addr = banner
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .and_then(|w| w.split('/').next())
            .unwrap_or_else(|| panic!("no URL in {banner:?}"));
        Daemon {
            child,
            url: format!("http://{addr}"),
            base,
            dir: Some(dir),
            _stdout: stdout,
        }
    }

    /// Stops it and starts another on the same store.
    pub fn restart(mut self, args: &[&str]) -> Daemon {
        let dir = self.dir.take().unwrap();
        drop(self);
        Daemon::start_on(dir, args)
    }

    /// Sends `method path` with a JSON body (or none if `Value::Null`).
    pub fn send(&self, method: &str, path: &str, body: &Value) -> Response {
        let text = match body {
            Value::Null => String::new(),
            body => body.to_string(),
        };
        self.raw(
            method,
            path,
            &[("content-type", "application/json")],
            text.as_bytes(),
        )
    }

    /// Sends a request as given.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(method, &format!("{}{path}", self.url), headers, body)
    }

    /// A read-only connection to its index.
    pub fn db(&self) -> Connection {
        lookout::store::open_reader(&self.base.join("db/telemetry.sqlite")).unwrap()
    }

    /// Rows of `table`.
    pub fn rows(&self, table: &str) -> i64 {
        self.db()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Lines of the store's log, all day files.
    pub fn log_lines(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        for file in lookout_testkit::files_under(&self.base.join("raw")) {
            if file.extension().is_some_and(|e| e == "ndjson") {
                let text = std::fs::read_to_string(file).unwrap();
                lines.extend(
                    text.lines()
                        .map(|l| serde_json::from_str::<Value>(l).unwrap()),
                );
            }
        }
        lines
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The JSON of a response, asserting its status.
fn answer(response: &Response, status: u16) -> Value {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

/// Asserts a refusal: its status, code and field.
fn refused(response: &Response, status: u16, code: &str, field: Option<&str>) {
    let body = answer(response, status);
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"].as_str(), field, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

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
    let rss = std::fs::read_to_string(format!("/proc/{}/status", d.child.id())).unwrap();
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

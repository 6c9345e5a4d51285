//! `lookout serve --demo`, the README's run command: the simulated orchestrator fills
//! every view of the page (runs, three-level traces, sessions as conversations, skills,
//! metrics), its store in a new directory when none is configured.

use crate::daemon::{Daemon, answer};
use crate::util::lookout;
use crate::web::{Page, chromium};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `read` once `done` holds of it, polled for a minute at most.
fn eventually(what: &str, read: impl Fn() -> Value, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = read();
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "never {what}: {value}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// How many ancestors `span` has among `spans`.
fn depth<'a>(spans: &'a [Value], mut span: &'a Value) -> usize {
    let mut depth = 0;
    while let Some(parent) = spans
        .iter()
        .find(|p| p["span_id"] == span["parent_span_id"])
    {
        (span, depth) = (parent, depth + 1);
    }
    depth
}

#[test]
fn the_demo_fills_every_view_of_the_page() {
    let d = Daemon::start(&["--demo"]);
    let get = |path: &str| answer(&d.send("GET", path, &Value::Null), 200);

    // Runs end, and a finished one's trace is the run, its agents, their calls.
    let runs = eventually(
        "three finished runs",
        || get("/api/v1/runs?limit=100"),
        |runs| {
            let ended = runs["runs"].as_array().unwrap().iter();
            ended.filter(|r| r["status"] != "running").count() >= 3
        },
    );
    let run = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] != "running")
        .unwrap()
        .clone();
    assert_eq!(run["agent_name"], "coordinator");
    let trace = run["trace_id"].as_str().unwrap().to_owned();
    // The run's record is written as it ends, its spans with the next export (until
    // then, the trace is not found).
    let trace_json = eventually(
        "the run's span in its trace",
        || {
            let response = d.send("GET", &format!("/api/v1/traces/{trace}"), &Value::Null);
            match response.status {
                404 => json!({"spans": []}),
                _ => answer(&response, 200),
            }
        },
        |t| {
            t["spans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "run session")
        },
    );
    let spans = trace_json["spans"].as_array().unwrap();
    let depth = |span: &Value| depth(spans, span);
    let root = spans.iter().find(|s| depth(s) == 0).unwrap();
    assert_eq!(root["name"], "run session");
    let agents: Vec<&Value> = spans.iter().filter(|s| depth(s) == 1).collect();
    assert!(agents.len() >= 3, "sub-agents of the run: {}", agents.len());
    assert!(
        agents
            .iter()
            .all(|a| a["name"].as_str().unwrap().starts_with("invoke_agent "))
    );
    let calls: Vec<&str> = spans
        .iter()
        .filter(|s| depth(s) == 2)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for kind in ["chat ", "execute_tool ", "skill "] {
        assert!(
            calls.iter().any(|c| c.starts_with(kind)),
            "no {kind}span in {calls:?}"
        );
    }

    // Sessions end as conversations with model and tool calls; skills have entries.
    let sessions = eventually(
        "an ended session",
        || get("/api/v1/sessions?limit=100"),
        |s| s.as_array().unwrap().iter().any(|s| s["open"] == false),
    );
    let ended = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["open"] == false)
        .unwrap();
    let session_id = ended["session_id"].as_str().unwrap().to_owned();
    let skills = get("/api/v1/skills?limit=100");
    assert!(
        !skills["entries"].as_array().unwrap().is_empty(),
        "{skills}"
    );
    let overview = get("/api/v1/overview");
    assert!(overview["input_tokens"].as_u64().unwrap() > 0, "{overview}");
    assert_eq!(overview["unpriced_spans"], 0, "every demo model is priced");

    // The page draws it all.
    let Some(chromium) = chromium() else { return };
    let page = Page::open(chromium, 1280);
    page.go(&format!("{}/", d.url));
    page.wait("document.querySelectorAll('.card').length >= 6");
    page.wait("document.body.innerText.includes('run session')");
    page.screenshot("demo-overview");
    page.go(&format!("{}/#/traces/{trace}", d.url));
    page.wait(&format!(
        "document.querySelectorAll('.waterfall .row').length === {}",
        spans.len()
    ));
    let depths =
        page.eval("[...document.querySelectorAll('.waterfall .row')].map(r => +r.dataset.depth)");
    let deepest = depths
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .max();
    assert_eq!(deepest, Some(2), "{depths}");
    page.screenshot("demo-trace");
    page.go(&format!("{}/#/sessions/{session_id}", d.url));
    page.wait("document.querySelectorAll('.message.llm').length >= 2 && document.querySelectorAll('.message.tool').length >= 2");
    page.screenshot("demo-session");
    page.go(&format!("{}/#/skills", d.url));
    page.wait("document.body.innerText.includes('orchestrate')");
    eventually(
        "tool_calls_total stored",
        || get("/api/v1/families"),
        |f| f.to_string().contains("\"tool_calls_total\""),
    );
    page.go(&format!(
        "{}/#/metrics?metric=tool_calls_total&agg=sum&since=1h",
        d.url
    ));
    page.wait("document.querySelector('select[name=metric]').value === 'tool_calls_total' && (document.querySelector('svg.chart circle.dot') !== null || [...document.querySelectorAll('svg.chart path.line')].some(p => p.getAttribute('d')))");
    page.screenshot("demo-metrics");
    page.assert_no_errors("the demo's views");
}

/// A `lookout serve` stopped however the test ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn without_a_configured_store_the_demo_records_into_a_new_directory_and_ends_its_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Stopped(
        lookout()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .env_remove(lookout::store::BASE_DIR_ENV)
            .env_remove(lookout::store::LOOKOUT_BASE_DIR_ENV)
            .env_remove(lookout::store::DB_PATH_ENV)
            .env_remove(lookout::config::STORE_ENV)
            .env_remove("LOOKOUT_JSON_DIR")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = BufReader::new(server.0.stdout.take().unwrap());
    let (said, hear) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = said.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let dir = loop {
        let line = hear
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the demo names its store");
        if let Some(dir) =
            line.strip_prefix("demo: a simulated orchestrator records into the store in ")
        {
            break std::path::PathBuf::from(dir);
        }
    };
    assert_eq!(dir.parent(), Some(tmp.path()), "{}", dir.display());
    let name = dir.file_name().unwrap().to_string_lossy();
    assert!(name.starts_with("lookout-demo-"), "{name}");

    // A run is recorded; stopped, the daemon ends every run it started.
    let index = dir.join("db/telemetry.sqlite");
    let runs = |statuses: &str| -> i64 {
        let Ok(db) = lookout::store::open_reader(&index) else {
            return 0;
        };
        db.query_row(
            &format!("SELECT COUNT(*) FROM agent_runs WHERE status IN ({statuses})"),
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    while runs("'running'") == 0 {
        assert!(Instant::now() < deadline, "no run in {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(crate::util::terminate(&mut server.0).success());
    assert_eq!(runs("'running'"), 0, "runs left running");
    assert!(
        runs("'cancelled'") >= 1,
        "the sessions running at the stop end cancelled"
    );
    assert!(
        dir.join("raw").is_dir(),
        "the log stays for the commands to read"
    );
}

//! The web page in a real browser: headless Chromium (Debian's `chromium`) driven over
//! the DevTools protocol against `lookout serve` filled with a generated workload. Every
//! view renders with no console error; the waterfall of a known three-level trace has its
//! bars in order, nested and to scale, its critical path marked; a filter narrows the
//! runs; a deep link opens its trace; screenshots of each view are written under the
//! test's target directory.

use crate::daemon::{Daemon, answer};
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TRACE: &str = "7a11ce0a00000000000000000000000a";
const BIG_TRACE: &str = "b16b16b100000000000000000000000b";

/// A span of OTLP/JSON: `start` and `end` in ms after `t0` (Unix ns).
fn span(trace: &str, id: u64, parent: Option<u64>, name: &str, t0: u64, ms: (u64, u64)) -> Value {
    json!({"traceId": trace, "spanId": format!("{id:016x}"),
           "parentSpanId": parent.map(|p| format!("{p:016x}")).unwrap_or_default(),
           "name": name, "kind": 1,
           "startTimeUnixNano": (t0 + ms.0 * 1_000_000).to_string(),
           "endTimeUnixNano": (t0 + ms.1 * 1_000_000).to_string(), "attributes": []})
}

fn attributes(span: &mut Value, pairs: &[(&str, Value)]) {
    span["attributes"] = pairs
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
}

fn resource_spans(spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "py-agents"}}]},
        "scopeSpans": [{"scope": {"name": "agents"}, "spans": spans}]
    }]})
}

/// The known trace: a coordinator (3 s) whose researcher runs `read`, `grep` (failed)
/// and a chat, then a `write`. Its critical path: coordinator, write, researcher, chat,
/// grep; `read` overlaps the chat and is off it.
fn known_trace(t0: u64) -> Value {
    let s = |v: &str| json!({"stringValue": v});
    let int = |n: i64| json!({"intValue": n.to_string()});
    let mut root = span(TRACE, 1, None, "invoke_agent coordinator", t0, (0, 3000));
    attributes(
        &mut root,
        &[
            ("gen_ai.operation.name", s("invoke_agent")),
            ("gen_ai.agent.name", s("coordinator")),
        ],
    );
    let mut researcher = span(
        TRACE,
        2,
        Some(1),
        "invoke_agent researcher",
        t0,
        (100, 2000),
    );
    attributes(
        &mut researcher,
        &[
            ("gen_ai.operation.name", s("invoke_agent")),
            ("gen_ai.agent.name", s("researcher")),
        ],
    );
    let tool = |id, name: &str, ms| {
        let mut tool = span(TRACE, id, Some(2), &format!("execute_tool {name}"), t0, ms);
        attributes(
            &mut tool,
            &[
                ("gen_ai.operation.name", s("execute_tool")),
                ("gen_ai.tool.name", s(name)),
            ],
        );
        tool
    };
    let read = tool(3, "read", (150, 900));
    let mut grep = tool(4, "grep", (200, 700));
    grep["status"] = json!({"code": 2, "message": "timed out"});
    let mut chat = span(TRACE, 5, Some(2), "chat claude-sonnet", t0, (800, 1900));
    attributes(
        &mut chat,
        &[
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.request.model", s("claude-sonnet-4")),
            ("gen_ai.usage.input_tokens", int(1200)),
            ("gen_ai.usage.output_tokens", int(300)),
        ],
    );
    let mut write = span(TRACE, 6, Some(1), "execute_tool write", t0, (2100, 2900));
    attributes(
        &mut write,
        &[
            ("gen_ai.operation.name", s("execute_tool")),
            ("gen_ai.tool.name", s("write")),
        ],
    );
    resource_spans(vec![root, researcher, read, grep, chat, write])
}

/// A trace of 1,000 spans: a root, 40 agents under it, the rest tools under the agents.
fn big_trace(t0: u64) -> Value {
    let mut spans = vec![span(
        BIG_TRACE,
        1,
        None,
        "invoke_agent fleet",
        t0,
        (0, 20_000),
    )];
    for agent in 0..40u64 {
        let start = agent * 400;
        spans.push(span(
            BIG_TRACE,
            2 + agent,
            Some(1),
            &format!("invoke_agent worker-{agent}"),
            t0,
            (start, start + 4000),
        ));
    }
    for n in 0..959u64 {
        let agent = n % 40;
        let start = agent * 400 + (n / 40) * 150;
        spans.push(span(
            BIG_TRACE,
            100 + n,
            Some(2 + agent),
            &format!("execute_tool step-{n}"),
            t0,
            (start, start + 100 + n % 50),
        ));
    }
    resource_spans(spans)
}

/// Fills the daemon: 30 runs of three agents (10 failed), the two traces, two sessions
/// (one open), skill entries and a gauge.
fn fill(d: &Daemon) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let t0 = (now.as_nanos() as u64) - 60_000_000_000;
    let runs: Vec<Value> = (0..30)
        .map(|n| {
            let status = ["success", "failed", "partial"][n % 3];
            let agent = ["coder", "reviewer", "planner"][n % 3];
            json!({"event_id": format!("web-run-{n:02}"), "agent_name": agent,
                   "job_type": "nightly", "status": status, "items_succeeded": n})
        })
        .collect();
    answer(&d.send("POST", "/api/v1/runs/batch", &json!(runs)), 201);
    answer(&d.send("POST", "/v1/traces", &known_trace(t0)), 200);
    answer(&d.send("POST", "/v1/traces", &big_trace(t0)), 200);
    for (id, end) in [("web-session-done", true), ("web-session-open", false)] {
        let start = json!({"session_id": id, "prompt": "Fix the failing test"});
        answer(&d.send("POST", "/telemetry/session/start", &start), 201);
        let events = [
            json!({"event_type": "skill.invoked", "skill_name": "fix-tests"}),
            json!({"event_type": "tool.called", "data": {"tool": "Bash", "args": {"cmd": "cargo test"}}}),
            json!({"event_type": "tool.completed", "data": {"tool": "Bash", "success": true}}),
            json!({"event_type": "llm.request", "data": {"model": "claude-sonnet", "tokens": 900}}),
            json!({"event_type": "llm.response", "data": {"model": "claude-sonnet", "latency_ms": 1200}}),
        ];
        for event in events {
            answer(
                &d.send("POST", &format!("/telemetry/session/{id}/event"), &event),
                200,
            );
        }
        if end {
            let end = json!({"success": true, "output": "All tests pass"});
            answer(
                &d.send("POST", &format!("/telemetry/session/{id}/end"), &end),
                200,
            );
        }
    }
    for n in 0..6 {
        let skill = ["fix-tests", "review"][n % 2];
        let entry = json!({"skill_name": skill, "status": "success",
                           "duration_ms": 100 + n * 10, "agent": "coder"});
        answer(&d.send("POST", "/api/v1/skills/capture", &entry), 201);
    }
    for n in 0..10u64 {
        let time = lookout::json::rfc3339(UNIX_EPOCH + now - Duration::from_secs(600 - n * 60));
        let point = json!({"metric_name": "queue_depth", "metric_value": n,
                           "context": {"queue": "main"}, "timestamp": time});
        answer(&d.send("POST", "/api/v1/metrics", &point), 201);
    }
    t0.to_string()
}

/// A browser tab and the console errors and exceptions it has seen.
pub struct Page {
    _browser: Browser,
    tab: Arc<Tab>,
    errors: Arc<Mutex<Vec<String>>>,
    shots: std::path::PathBuf,
}

impl Page {
    /// A tab of a new headless Chromium whose window is `width` pixels wide.
    pub fn open(chromium: std::path::PathBuf, width: u32) -> Page {
        let options = LaunchOptions::default_builder()
            .path(Some(chromium))
            .sandbox(false)
            .window_size(Some((width, 900)))
            .idle_browser_timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let browser = Browser::new(options).unwrap();
        let tab = browser.new_tab().unwrap();
        tab.enable_runtime().unwrap();
        tab.enable_log().unwrap();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&errors);
        tab.add_event_listener(Arc::new(move |event: &Event| {
            let error = match event {
                Event::RuntimeExceptionThrown(e) => {
                    Some(format!("{:?}", e.params.exception_details))
                }
                Event::RuntimeConsoleAPICalled(c) if format!("{:?}", c.params.Type) == "Error" => {
                    Some(format!("console.error {:?}", c.params.args))
                }
                Event::LogEntryAdded(e) if format!("{:?}", e.params.entry.level) == "Error" => {
                    Some(format!("{}: {:?}", e.params.entry.text, e.params.entry.url))
                }
                _ => None,
            };
            if let Some(error) = error {
                seen.lock().unwrap().push(error);
            }
        }))
        .unwrap();
        let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Page {
            _browser: browser,
            tab,
            errors,
            shots,
        }
    }

    /// Opens `url`: a load, or within the page (a new hash) when only its hash differs.
    pub fn go(&self, url: &str) {
        let document = |url: &str| url.split('#').next().unwrap_or_default().to_owned();
        if document(&self.tab.get_url()) == document(url) {
            self.eval(&format!("location.href = {}", json!(url)));
            return;
        }
        self.tab.navigate_to(url).unwrap();
        self.tab.wait_until_navigated().unwrap();
    }

    /// The value of `js`, an expression, through JSON.
    pub fn eval(&self, js: &str) -> Value {
        let object = self
            .tab
            .evaluate(&format!("JSON.stringify({js})"), true)
            .unwrap();
        match object.value {
            Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
            _ => Value::Null,
        }
    }

    /// Waits (10 s at most) until `js` is true.
    pub fn wait(&self, js: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.eval(js) != Value::Bool(true) {
            let main = self.eval("document.getElementById('main').innerText");
            assert!(
                Instant::now() < deadline,
                "never true: {js}\nthe page: {main}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn screenshot(&self, name: &str) {
        let png = self
            .tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    pub fn assert_no_errors(&self, view: &str) {
        let errors = self.errors.lock().unwrap();
        assert!(errors.is_empty(), "{view}: {errors:#?}");
    }
}

/// Chromium's binary on `PATH`; `None` (a failure under `CI=true`) without it.
pub fn chromium() -> Option<std::path::PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let paths = std::env::var_os("PATH")?;
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
        .or_else(|| {
            lookout_testkit::skip(
                "`chromium` is not installed (Debian package chromium; .ci/run installs it)",
            );
            None
        })
}

#[test]
fn every_view_renders_in_chromium_and_the_waterfall_is_drawn_to_scale() {
    let Some(chromium) = chromium() else { return };
    let d = Daemon::start(&[]);
    fill(&d);
    let page = Page::open(chromium.clone(), 1280);

    // The overview: its figures, and what it took to load.
    page.go(&format!("{}/", d.url));
    page.wait("document.querySelectorAll('.card').length >= 6");
    let cards = page
        .eval("[...document.querySelectorAll('.card')].map(c => c.innerText.replace('\\n', ': '))");
    let cards: Vec<&str> = cards
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(cards.contains(&"Runs: 30"), "{cards:?}");
    // The chat's 1,500 and the sessions' two LLM requests of 900; not the agents' sums.
    assert!(cards.contains(&"Tokens: 3,300"), "{cards:?}");
    // Three agents with runs, the coordinator and its researcher.
    assert!(cards.contains(&"Active agents: 5"), "{cards:?}");
    page.wait("document.body.innerText.includes('invoke_agent coordinator')");
    let transfer = page.eval(
        "performance.getEntriesByType('navigation')[0].transferSize + performance.getEntriesByType('resource').reduce((n, r) => n + r.transferSize, 0)",
    );
    let transfer = transfer.as_f64().unwrap();
    assert!(
        transfer > 10_000.0 && transfer < 300_000.0,
        "the overview's transfer: {transfer} bytes"
    );
    eprintln!("the overview transferred {transfer} bytes");
    page.screenshot("overview");
    page.assert_no_errors("overview");

    // Runs: all 30, then only the failed ones once the filter says so.
    page.go(&format!("{}/#/runs", d.url));
    page.wait("document.querySelectorAll('#runs-list tr.run').length === 30");
    page.eval("(() => { const s = document.querySelector('select[name=status]'); s.value = 'failed'; s.dispatchEvent(new Event('change')); return true })()");
    page.wait("document.querySelectorAll('#runs-list tr.run').length === 10");
    let statuses = page.eval("[...document.querySelectorAll('#runs-list tr.run td:nth-child(4)')].map(td => td.innerText)");
    assert!(
        statuses.as_array().unwrap().iter().all(|s| s == "failed"),
        "{statuses}"
    );
    assert!(
        page.eval("location.hash")
            .as_str()
            .unwrap()
            .contains("status=failed")
    );
    page.screenshot("runs");
    page.go(&format!("{}/#/runs/web-run-04", d.url));
    page.wait("document.body.innerText.includes('Run web-run-04')");
    assert!(
        page.eval("document.body.innerText")
            .as_str()
            .unwrap()
            .contains("reviewer")
    );
    page.screenshot("run");

    // Traces: both listed; the known one by a deep link, as a waterfall.
    page.go(&format!("{}/#/traces", d.url));
    let listed =
        |root: &str| format!("document.querySelector('#traces-list').innerText.includes('{root}')");
    page.wait(&listed("invoke_agent coordinator"));
    page.wait(&listed("invoke_agent fleet"));
    page.screenshot("traces");
    page.go("about:blank");
    page.go(&format!("{}/#/traces/{}", d.url, &TRACE[..12]));
    page.wait("document.querySelectorAll('.waterfall .row').length === 6");
    let rows = page.eval(
        "[...document.querySelectorAll('.waterfall .row')].map(r => {
            const bar = r.querySelector('.bar').getBoundingClientRect();
            const track = r.querySelector('.track').getBoundingClientRect();
            return {name: r.querySelector('.name').innerText, depth: +r.dataset.depth,
                    critical: r.classList.contains('critical'), error: r.querySelector('.bar').classList.contains('error'),
                    left: (bar.left - track.left) / track.width, width: bar.width / track.width};
        })",
    );
    let rows = rows.as_array().unwrap();
    let want = [
        ("invoke_agent coordinator", 0, true, 0.0, 3000.0),
        ("invoke_agent researcher", 1, true, 100.0, 1900.0),
        ("execute_tool read", 2, false, 150.0, 750.0),
        ("execute_tool grep", 2, true, 200.0, 500.0),
        ("chat claude-sonnet", 2, true, 800.0, 1100.0),
        ("execute_tool write", 1, true, 2100.0, 800.0),
    ];
    for (row, (name, depth, critical, start, length)) in rows.iter().zip(want) {
        assert_eq!(row["name"], name, "{rows:?}");
        assert_eq!(row["depth"], depth, "{name}");
        assert_eq!(row["critical"], critical, "{name} on the critical path");
        assert_eq!(row["error"], name == "execute_tool grep", "{name}");
        let (left, width) = (
            row["left"].as_f64().unwrap(),
            row["width"].as_f64().unwrap(),
        );
        assert!((left - start / 3000.0).abs() < 0.01, "{name}: left {left}");
        assert!(
            (width - length / 3000.0).abs() < 0.01,
            "{name}: width {width}"
        );
    }
    // A span's attributes on click.
    page.eval("document.querySelectorAll('.waterfall .row')[3].click(), true");
    page.wait("document.querySelector('#detail') && document.querySelector('#detail').innerText.includes('gen_ai.tool.name')");
    let detail = page.eval("document.querySelector('#detail').innerText");
    assert!(detail.as_str().unwrap().contains("timed out"), "{detail}");
    page.screenshot("trace");
    page.assert_no_errors("trace");

    // 1,000 spans drawn within a second of the page's start.
    page.go("about:blank");
    page.go(&format!("{}/#/traces/{BIG_TRACE}", d.url));
    page.wait("document.querySelectorAll('.waterfall .row').length === 1000");
    let rendered = page.eval("performance.getEntriesByName('trace-rendered')[0].startTime");
    let rendered = rendered.as_f64().unwrap();
    eprintln!("a 1,000-span trace rendered {rendered:.0} ms after the page started");
    assert!(rendered < 1000.0, "{rendered} ms");

    // Sessions: the open one first; the ended one as a conversation.
    page.go(&format!("{}/#/sessions", d.url));
    page.wait("document.querySelectorAll('#sessions-list tbody tr').length === 2");
    let first = page.eval("document.querySelector('#sessions-list tbody tr').innerText");
    assert!(
        first.as_str().unwrap().contains("web-session-open"),
        "{first}"
    );
    page.screenshot("sessions");
    page.go(&format!("{}/#/sessions/web-session-done", d.url));
    page.wait("document.querySelectorAll('.conversation .message').length === 7");
    let tools = page.eval("document.querySelectorAll('.message.tool').length");
    assert_eq!(tools, 2, "the tool call and its completion");
    assert_eq!(
        page.eval("document.querySelectorAll('.message.llm').length"),
        2
    );
    page.screenshot("session");

    // Skills: seed 001's per-skill table over the sessions and entries.
    page.go(&format!("{}/#/skills", d.url));
    page.wait("document.body.innerText.includes('fix-tests') && document.body.innerText.includes('review')");
    page.screenshot("skills");

    // Metrics: the gauge charted, its label offered as a filter.
    page.go(&format!(
        "{}/#/metrics?metric=queue_depth&agg=max&since=1h",
        d.url
    ));
    page.wait("document.querySelector('svg.chart path.line') !== null");
    assert_eq!(
        page.eval("document.querySelectorAll('select[name=\"label.queue\"] option').length"),
        2
    );
    page.screenshot("metrics");
    page.assert_no_errors("every view");

    // A narrow window: the overview fits without scrolling sideways.
    let narrow = Page::open(chromium, 420);
    narrow.go(&format!("{}/", d.url));
    narrow.wait("document.querySelectorAll('.card').length >= 6");
    let overflow = narrow.eval("document.documentElement.scrollWidth - window.innerWidth");
    assert!(overflow.as_f64().unwrap() <= 1.0, "{overflow} px too wide");
    narrow.screenshot("overview-narrow");
    narrow.assert_no_errors("narrow overview");
}

//! Helpers shared by the integration tests.

use lookout::server::{ServerConfig, ServerHandle};
use lookout::Telemetry;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Finds an external tool on PATH. Without it the test cannot run: under `CI=true` that is
/// a failure, elsewhere the test says loudly that it skipped.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let message =
            format!("`{name}` is not installed (Debian package `prometheus`; .ci/run installs it)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("SKIPPED: {message}");
    }
    found
}

/// `python3` with the OpenTelemetry SDK importable (`pip install opentelemetry-sdk`), or
/// `None` after saying so; under `CI=true` its absence is a failure.
pub fn require_python_otel() -> Option<PathBuf> {
    let python = require_tool("python3")?;
    let found = std::process::Command::new(&python)
        .args(["-c", "import opentelemetry.sdk.trace"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let message =
            "the OpenTelemetry Python SDK is not installed (pip install opentelemetry-sdk)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("SKIPPED: {message}");
        return None;
    }
    Some(python)
}

/// Serves `telemetry` on a free loopback port.
pub fn serve(telemetry: &Telemetry) -> ServerHandle {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_path: "/metrics".into(),
    };
    ServerHandle::start(telemetry.clone(), &config).unwrap()
}

/// GETs `url` (with optional headers) and returns the status and body text.
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fetched = runtime
        .block_on(lookout::client::get(url, headers, Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (
        fetched.status.as_u16(),
        String::from_utf8(fetched.body.to_vec()).unwrap(),
    )
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Percent-encodes a query parameter.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Label values that stress escaping: quotes, backslashes, newlines, unicode.
pub const NASTY: &[&str] = &[
    "say \"hi\"",
    "C:\\agents\\coder",
    "line one\nline two",
    "ünïcødé ✓ 日本語",
    "all \"of\\them\"\n✓",
];

/// Fills every agent family, using nasty label values for some series.
pub fn fill_every_family(telemetry: &Telemetry) {
    use lookout::agent::*;
    let agents = telemetry.agents();
    for (i, nasty) in NASTY.iter().enumerate() {
        let ms = Duration::from_millis(40 * (i as u64 + 1));
        agents.track_agent_execution(&AgentExecution {
            agent_id: nasty,
            agent_type: nasty,
            phase: "code",
            model: nasty,
            duration: ms * 50,
            tokens: 1000 + i as u64,
            success: i % 2 == 0,
        });
        agents.track_tool_usage(&ToolCall {
            tool: nasty,
            duration: ms,
            error: None,
        });
        agents.track_tool_usage(&ToolCall {
            tool: nasty,
            duration: ms * 3,
            error: Some(nasty),
        });
        agents.track_context_usage(&ContextUsage {
            agent_id: nasty,
            session_id: nasty,
            used: 50_000,
            total: 200_000,
        });
        agents.track_error(&ErrorEvent {
            component: nasty,
            error_type: nasty,
            severity: Severity::Error,
        });
        agents.track_task(&TaskRun {
            task_type: nasty,
            duration: ms * 10,
            error: None,
        });
        agents.track_task(&TaskRun {
            task_type: nasty,
            duration: ms * 20,
            error: Some(nasty),
        });
        agents.set_task_queue_size(nasty, i);
        agents.start_agent(nasty, nasty, "review").succeed();
    }
    let _still_running = std::mem::ManuallyDrop::new(agents.start_agent("a-1", "coder", "code"));
}

/// Debian's Prometheus scraping one target every second; stopped and reaped however the
/// test ends.
pub struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    pub fn start(binary: &std::path::Path, target: std::net::SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n\
                 scrape_configs:\n  - job_name: lookout\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Runs an instant query; returns (labels, value) per result.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let url = format!("{}/api/v1/query?query={}", self.url, urlencode(promql));
        let (status, body) = get(&url, &[]);
        assert_eq!(status, 200, "{promql}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metric"].clone(),
                    r["value"][1].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect()
    }

    pub fn scalar(&self, promql: &str) -> f64 {
        let results = self.query(promql);
        assert_eq!(results.len(), 1, "{promql}: {results:?}");
        results[0].1
    }

    /// Waits until Prometheus has scraped the target successfully `scrapes` times.
    pub fn wait_for_scrapes(&self, scrapes: u32) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = 0.0;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            if std::net::TcpStream::connect(self.url.trim_start_matches("http://")).is_err() {
                continue;
            }
            let results =
                self.query("count_over_time(up{job=\"lookout\"}[1m]) and up{job=\"lookout\"} == 1");
            seen = results.first().map_or(0.0, |r| r.1);
            if seen >= f64::from(scrapes) {
                return;
            }
        }
        panic!("Prometheus scraped Lookout only {seen} times in 60 s");
    }
}

/// `lookout serve ARGS` as a child process, with no exporters from the environment;
/// returns it, its stdout after the banner line, and its base URL (`http://ADDR`).
pub fn lookout_serve(args: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .arg("serve")
        .args(args)
        .env_remove("LOOKOUT_JSON_DIR")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let addr = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|w| w.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {banner:?}"));
    let url = format!("http://{addr}");
    (server, stdout, url)
}

/// Sends SIGTERM to `child` and waits for it to exit.
pub fn terminate(child: &mut Child) -> ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

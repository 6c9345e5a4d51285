//! Helpers shared by the integration tests.

use lookout::Telemetry;
use lookout::server::{ServerConfig, ServerHandle};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use lookout_testkit::{free_port, get, urlencode};

/// Finds `prometheus` or `promtool` (Debian package `prometheus`) on PATH; without it the
/// test fails under `CI=true` and says loudly that it skipped elsewhere.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    lookout_testkit::require_tool(name, "Debian package `prometheus`")
}

/// Telemetry recording into the store in `base`, with `vars` as its environment too.
#[cfg(feature = "store")]
pub fn store_telemetry(base: &std::path::Path, vars: &[(&str, &str)]) -> Telemetry {
    let mut env = vec![(lookout::store::BASE_DIR_ENV, base.to_str().unwrap())];
    env.extend_from_slice(vars);
    let config = lookout::config::Config::default()
        .with_env(&lookout::config::env_map(&env))
        .unwrap();
    Telemetry::builder().config(config).build().unwrap()
}

/// Serves `telemetry` on a free loopback port.
pub fn serve(telemetry: &Telemetry) -> ServerHandle {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_path: "/metrics".into(),
    };
    ServerHandle::start(telemetry.clone(), &config).unwrap()
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
        agents.track_task(&TaskExecution {
            task_type: nasty,
            duration: ms * 10,
            error: None,
        });
        agents.track_task(&TaskExecution {
            task_type: nasty,
            duration: ms * 20,
            error: Some(nasty),
        });
        agents.set_task_queue_size(nasty, i);
        agents.start_agent(nasty, nasty, "review").succeed();
        let _ = telemetry
            .skills()
            .call(*nasty)
            .caller(*nasty)
            .agent(*nasty)
            .workflow(*nasty)
            .finish(nasty);
        let sessions = telemetry.sessions();
        let id = sessions.start_session(nasty, serde_json::Value::Null);
        let _ = sessions.record_event(&id, "skill.invoked", Some(nasty), serde_json::Value::Null);
        let _ = sessions.record_event(&id, "tool.called", None, serde_json::json!({"tool": nasty}));
        let _ = sessions.end_session(&id, nasty, i % 2 == 0, None);
        #[cfg(feature = "store")]
        {
            let mut run = telemetry.runs().track_run(nasty, nasty);
            run.set_fields(lookout::runs::RunFields::default().items(3, 2, 1));
            run.finish(lookout::runs::RunStatus::Partial);
        }
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

/// Runs ignored test `name` of this test binary as a child process with `envs`, and
/// returns it with the run id it prints (`run ID`) once its run is stored.
pub fn child_with_run(name: &str, envs: &[(&str, &std::ffi::OsStr)]) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--nocapture"])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let id = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("run ").map(str::to_owned))
        .expect("the child says its run's id");
    (child, id)
}

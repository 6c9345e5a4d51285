//! The `lookout` binary: serve, read back, stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_answers_metrics_then_stops_cleanly_on_sigterm() {
    let (mut server, mut stdout, base) = crate::util::lookout_serve(&["--listen", "127.0.0.1:0"]);
    let url = format!("{base}/metrics");

    let shown = crate::util::lookout()
        .args(["metrics", "--url", &url])
        .output()
        .unwrap();
    assert!(shown.status.success());
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.contains("lookout_registry_series (gauge)"), "{shown}");
    assert!(shown.contains("family=\"tool_calls\""), "{shown}");

    let raw = crate::util::lookout()
        .args(["metrics", "--raw", "--url", &url])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(raw.stdout)
            .unwrap()
            .contains("# TYPE lookout_registry_series gauge")
    );

    let exit = crate::util::terminate(&mut server);
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_line(&mut rest).unwrap();
    assert_eq!(rest.trim(), "lookout stopped");
}

#[test]
fn global_flags_name_the_endpoint_once_and_json_is_for_scripts() {
    let (mut server, _stdout, base) = crate::util::lookout_serve(&["--listen", "127.0.0.1:0"]);
    // The base URL from the environment: `metrics` reads its /metrics.
    let shown = crate::util::lookout()
        .args(["metrics", "--json", "--timeout", "5"])
        .env("LOOKOUT_URL", &base)
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    let families: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let series = families
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "lookout_registry_series")
        .expect("the registry's own family");
    assert_eq!(series["kind"], "gauge");
    assert!(
        series["samples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["labels"]["family"] == "tool_calls" && s["value"].is_number()),
        "{series}"
    );
    // A global flag goes before the command as well as after it.
    let export = crate::util::lookout()
        .args(["--url", &base, "--json", "export"])
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let report: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert!(
        report["exporters"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert!(crate::util::terminate(&mut server).success());
}

#[test]
fn errors_carry_a_code_and_an_exit_status() {
    let bad_url = crate::util::lookout()
        .args(["metrics", "--url", "ftp://nowhere"])
        .output()
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_url.stderr).starts_with("error[E_URL]"));

    let port = crate::util::free_port();
    let refused = crate::util::lookout()
        .args([
            "metrics",
            "--url",
            &format!("http://127.0.0.1:{port}/metrics"),
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).starts_with("error[E_CONNECT]"));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let busy = crate::util::lookout()
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).starts_with("error[E_BIND]"));
}

/// Runs `lookout exec` with a span log; returns its exit code and the span it logged.
fn exec(args: &[&str]) -> (Option<i32>, lookout::trace::FinishedSpan) {
    let dir = tempfile::tempdir().unwrap();
    let log = lookout::json::SpanLog::new(dir.path().join("spans.jsonl"));
    let status = crate::util::lookout()
        .arg("exec")
        .args(args)
        .env(lookout::json::SPAN_LOG_ENV, log.path())
        .env_remove("TRACEPARENT")
        .env_remove("TRACE_CONTEXT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let mut spans = log.read().unwrap();
    assert_eq!(spans.len(), 1, "{spans:?}");
    (status.code(), spans.remove(0))
}

#[test]
fn exec_forwards_exit_codes_and_records_them() {
    use lookout::trace::{AttributeValue, Status};
    let code = |span: &lookout::trace::FinishedSpan| span.attribute("process.exit.code").cloned();

    let (status, span) = exec(&["--name", "ok", "--", "true"]);
    assert_eq!(status, Some(0));
    assert_eq!(span.name, "invoke_agent ok");
    assert_eq!(span.status, Status::Ok);
    assert_eq!(code(&span), Some(AttributeValue::Int(0)));

    let (status, span) = exec(&["--", "sh", "-c", "exit 1"]);
    assert_eq!(status, Some(1));
    assert_eq!(span.status, Status::Error("exit_code".into()));
    assert_eq!(code(&span), Some(AttributeValue::Int(1)));
    assert_eq!(
        span.attribute("error.type"),
        Some(&AttributeValue::from("exit_code"))
    );

    let (status, span) = exec(&["--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(status, Some(137));
    assert_eq!(span.status, Status::Error("signal".into()));
    assert_eq!(code(&span), Some(AttributeValue::Int(137)));

    let (status, span) = exec(&["--", "/no/such/program"]);
    assert_eq!(status, Some(127));
    assert_eq!(
        span.attribute("error.type"),
        Some(&AttributeValue::from("spawn"))
    );
}

#[test]
fn exec_forwards_termination_signals_to_the_child() {
    /// Kills the child (whose pid it printed) if the test ends before the child does.
    struct KillOnDrop(Option<String>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(pid) = &self.0 {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
    }
    let script = "trap 'exit 42' TERM; echo ready $$; while :; do sleep 0.05; done";
    let mut exec = crate::util::lookout()
        .args(["exec", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(exec.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let mut child = KillOnDrop(
        ready
            .strip_prefix("ready ")
            .map(|pid| pid.trim().to_owned()),
    );
    assert!(child.0.is_some(), "{ready:?}");
    Command::new("kill")
        .args(["-TERM", &exec.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(exec.wait().unwrap().code(), Some(42));
    child.0 = None;
}

#[test]
fn backup_and_restore_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let in_dir = |args: &[&str]| {
        crate::util::lookout()
            .args(args)
            .env(lookout::store::BASE_DIR_ENV, dir.path())
            .output()
            .unwrap()
    };
    assert!(
        in_dir(&["exec", "--name", "saved", "--", "true"])
            .status
            .success()
    );
    let backup = in_dir(&["backup", "--json"]);
    assert!(backup.status.success(), "{backup:?}");
    let copy: serde_json::Value = serde_json::from_slice(&backup.stdout).unwrap();
    let path = copy["path"].as_str().unwrap().to_owned();
    assert!(
        path.starts_with(&dir.path().join("backups").display().to_string()),
        "{path}"
    );
    assert!(copy["pages"].as_u64().unwrap() > 0);

    assert!(
        in_dir(&["exec", "--name", "after-backup", "--", "true"])
            .status
            .success()
    );
    let restore = in_dir(&["restore", &path]);
    assert!(restore.status.success(), "{restore:?}");
    let said = String::from_utf8(restore.stdout).unwrap();
    assert!(said.starts_with("restored "), "{said}");
    assert!(said.contains("before-restore"), "{said}");
    // The span recorded after the backup comes back from the log.
    let traces = in_dir(&["traces", "--json"]);
    let traces: serde_json::Value = serde_json::from_slice(&traces.stdout).unwrap();
    let names: Vec<&str> = traces
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["root_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"invoke_agent saved"), "{names:?}");
    assert!(names.contains(&"invoke_agent after-backup"), "{names:?}");

    let bad = dir.path().join("bad.sqlite");
    std::fs::write(&bad, "no database here, not one byte of it, none at all").unwrap();
    let refused = in_dir(&["restore", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).starts_with("error[E_STORE]"));
}

#[test]
fn status_shows_the_store_its_failures_and_a_running_serve() {
    let dir = tempfile::tempdir().unwrap();
    let in_dir = |args: &[&str]| {
        crate::util::lookout()
            .args(args)
            .env(lookout::store::BASE_DIR_ENV, dir.path())
            .output()
            .unwrap()
    };
    let before = in_dir(&["status", "--url", "http://127.0.0.1:1", "--json"]);
    let before: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert!(
        before["store"]["index"].is_null(),
        "no database yet: {before}"
    );
    assert!(
        in_dir(&["exec", "--name", "fine", "--", "true"])
            .status
            .success()
    );
    assert_eq!(
        in_dir(&["exec", "--name", "broken", "--", "false"])
            .status
            .code(),
        Some(1)
    );

    let (mut server, _stdout, base) = crate::util::lookout_serve(&["--listen", "127.0.0.1:0"]);
    let status = in_dir(&["status", "--url", &base, "--json"]);
    assert!(status.status.success(), "{status:?}");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let index = &status["store"]["index"];
    assert_eq!(
        (index["spans"].as_u64(), index["traces"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(index["error_spans"], 1);
    assert_eq!(index["recent_errors"][0]["name"], "invoke_agent broken");
    assert!(status["store"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(status["serve"]["health"]["status"], "ok");
    let text = String::from_utf8(in_dir(&["status", "--url", &base]).stdout).unwrap();
    assert!(
        text.contains("recent errors") && text.contains("invoke_agent broken"),
        "{text}"
    );
    assert!(crate::util::terminate(&mut server).success());
    let text = String::from_utf8(in_dir(&["status", "--url", &base]).stdout).unwrap();
    assert!(text.contains("not answering"), "{text}");
}

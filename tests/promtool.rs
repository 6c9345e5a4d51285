//! `promtool check metrics` finds nothing wrong with a full exposition.

use crate::util::{fill_every_family, get, require_tool, serve};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn promtool_finds_no_problem_in_every_agent_family() {
    let Some(promtool) = require_tool("promtool") else {
        return;
    };
    let telemetry = lookout::Telemetry::new();
    fill_every_family(&telemetry);
    let server = serve(&telemetry);
    // A first scrape so the scrape-duration histogram has a series too.
    let url = format!("http://{}/metrics", server.local_addr());
    get(&url, &[]);
    let (status, body) = get(&url, &[("accept", "text/plain;version=0.0.4")]);
    assert_eq!(status, 200);
    let families = body.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert!(families >= 17 + 4, "expected every family in\n{body}");

    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.trim().is_empty(),
        "promtool:\n{report}\n---\n{body}"
    );
}

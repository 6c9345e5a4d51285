//! `lookout serve` with monitors: a rule on a metric recorded from a shell fires, is
//! stored, counted on `/metrics`, and posted to a webhook receiver that first stalls and
//! then fails, while the evaluations go on.

use lookout_testkit::Answer;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A child killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

#[test]
fn a_firing_alert_is_stored_counted_and_posted_through_a_failing_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let recorded = crate::util::lookout()
        .env(lookout::store::BASE_DIR_ENV, base)
        .args([
            "record",
            "metric",
            "task_seconds",
            "9",
            "--label",
            "agent_type=coder",
        ])
        .output()
        .unwrap();
    assert!(recorded.status.success(), "{recorded:?}");
    // The receiver holds the first post 2 s and answers 500, then 500, then 200.
    let (webhook, received) = lookout_testkit::receiver(&[
        Answer::Late(Duration::from_secs(2), 500),
        Answer::Status(500),
        Answer::Status(200),
    ]);
    let config = base.join("lookout.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"prometheus": {{"enabled": true, "port": 0}},
                "monitors": {{"interval": "200ms", "webhook": "{webhook}/alerts",
                  "rules": [{{"name": "slow", "metric": "task_seconds", "aggregation": "max",
                              "window": "1h", "comparison": ">", "threshold": 3}}]}}}}"#
        ),
    )
    .unwrap();
    let mut server = Killed(
        crate::util::lookout()
            .env(lookout::store::BASE_DIR_ENV, base)
            .env_remove("LOOKOUT_JSON_DIR")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let addr = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap();
    let url = format!("http://{}", addr.split('/').next().unwrap());
    let mut line = String::new();
    while !line.starts_with("monitors: ") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no monitors line");
    }
    assert!(
        line.starts_with("monitors: 1 rules every 200ms, alerts posted to"),
        "{line}"
    );
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("alert slow firing {agent_type=coder}: 9 > 3 since "),
        "{line}"
    );

    // The receiver holds the first post for 2 s: evaluations go on meanwhile.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, metrics) = crate::util::get(&format!("{url}/metrics"), &[]);
    assert_eq!(status, 200);
    assert!(
        sample(
            &metrics,
            "lookout_monitor_evaluations_total{outcome=\"ok\"}"
        ) >= 4.0,
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "lookout_alert_webhook_posts_total{outcome=\"sent\"}"
        ),
        0.0
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    while received.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let posts: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body.clone())
        .collect();
    assert_eq!(
        posts.len(),
        3,
        "two failures, then the post that lands: {posts:?}"
    );
    let alert: serde_json::Value = serde_json::from_str(&posts[2]).unwrap();
    assert_eq!(
        (alert["rule"].as_str(), alert["state"].as_str()),
        (Some("slow"), Some("firing"))
    );
    assert_eq!(alert["labels"]["agent_type"], "coder");
    assert_eq!(alert["value"], 9.0);
    assert!(
        posts.iter().all(|p| p == &posts[0]),
        "the same alert, again"
    );
    std::thread::sleep(Duration::from_millis(300));
    let (_, metrics) = crate::util::get(&format!("{url}/metrics"), &[]);
    for (series, want) in [
        ("lookout_alerts_total{rule=\"slow\",state=\"firing\"}", 1.0),
        ("lookout_alerts_firing{rule=\"slow\"}", 1.0),
        (
            "lookout_alert_webhook_posts_total{outcome=\"retried\"}",
            2.0,
        ),
        ("lookout_alert_webhook_posts_total{outcome=\"sent\"}", 1.0),
    ] {
        assert_eq!(sample(&metrics, series), want, "{series}\n{metrics}");
    }
    // `lookout status` reads the exporters' health from the running serve.
    let status = crate::util::lookout()
        .env(lookout::store::BASE_DIR_ENV, base)
        .args(["status", "--json", "--url", &url])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let exporters = status["exporters"].as_array().unwrap();
    let store = exporters
        .iter()
        .find(|e| e["exporter"] == "store" && e["signal"] == "metrics")
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(store["healthy"], true, "{store}");
    crate::util::terminate(&mut server.0);
    let db = base.join("db/telemetry.sqlite");
    let conn = lookout::store::rusqlite::Connection::open(db).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT json_extract(body, '$.state') FROM telemetry_records WHERE kind = 'alert'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, "firing");
}

//! `lookout serve` with monitors: a rule on a metric recorded from a shell fires, is
//! stored, counted on `/metrics`, and posted to a webhook receiver that first stalls and
//! then fails, while the evaluations go on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A receiver that holds its first request 2 s and answers 500, answers 500 to the
/// second and 200 from the third; each request's body goes to the channel.
fn receiver() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (bodies, received) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            if n == 0 {
                std::thread::sleep(Duration::from_secs(2));
            }
            let status = if n < 2 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = bodies.send(String::from_utf8(body).unwrap());
        }
    });
    (port, received)
}

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
    let (port, bodies) = receiver();
    let config = base.join("lookout.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"prometheus": {{"enabled": true, "port": 0}},
                "monitors": {{"interval": "200ms", "webhook": "http://127.0.0.1:{port}/alerts",
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
    let mut posts = Vec::new();
    while posts.len() < 3 && Instant::now() < deadline {
        if let Ok(body) = bodies.recv_timeout(Duration::from_millis(100)) {
            posts.push(body);
        }
    }
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

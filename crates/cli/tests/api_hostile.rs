//! `lookout serve` under hostile clients: 500 slow connections while a normal client is
//! still answered, slow clients cut off at the deadline, and generated malformed
//! requests (50,000 in CI; `LOOKOUT_MALFORMED_REQUESTS` for more by hand) answered with
//! no 5xx and nothing written.

use crate::daemon::{Daemon, answer};
use lookout_testkit::Rng;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn five_hundred_slow_connections_leave_a_normal_client_answered_and_are_cut_off() {
    let d = Daemon::start(&["--request-timeout", "3s"]);
    let addr = d.url.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for i in 0..500 {
        let mut stream = TcpStream::connect(&addr).unwrap();
        // Half never finish their head; half promise a body they never send.
        let partial = match i % 2 {
            0 => "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: appl".to_owned(),
            _ => "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"event_id\":".to_owned(),
        };
        stream.write_all(partial.as_bytes()).unwrap();
        slow.push(stream);
    }
    for i in 0..5 {
        let started = Instant::now();
        let health = d.send("GET", "/health", &Value::Null);
        let run = json!({"event_id": format!("normal-{i}"), "agent_name": "a", "job_type": "j"});
        let created = d.send("POST", "/api/v1/runs", &run);
        let took = started.elapsed();
        assert_eq!(health.status, 200);
        assert_eq!(created.status, 201);
        assert!(
            took < Duration::from_secs(1),
            "a normal client waited {took:?}"
        );
    }
    // At the deadline each slow client is cut off: the slow head closed, the slow body
    // answered 408.
    let mut timed_out = 0;
    for (i, stream) in slow.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut said = Vec::new();
        let _ = stream.read_to_end(&mut said);
        let said = String::from_utf8_lossy(&said);
        if i % 2 == 1 {
            assert!(said.starts_with("HTTP/1.1 408"), "{said}");
            assert!(said.contains("\"code\":\"timeout\""), "{said}");
            timed_out += 1;
        } else {
            assert!(!said.contains(" 5"), "{said}");
        }
    }
    assert_eq!(timed_out, 250);
    assert_eq!(d.rows("agent_runs"), 5, "only the normal client's runs");
}

/// A request that must be refused: a mutation of a valid one, or not HTTP at all; and
/// whether it is HTTP enough to be answered (the server may drop what it cannot parse).
fn malformed(rng: &mut Rng) -> (Vec<u8>, bool) {
    let pick = |rng: &mut Rng, n: usize| (rng.next_u64() % n as u64) as usize;
    let paths = [
        "/api/v1/runs",
        "/api/v1/runs/batch",
        "/api/v1/runs/e-1",
        "/api/v1/runs/e-1/associate-commit",
        "/api/v1/runs/e-1/commit-url",
        "/api/v1/metadata/agent_name",
        "/telemetry/session/start",
        "/telemetry/session/s-1/event",
        "/telemetry/session/s-1/end",
        "/api/v1/skills/capture",
        "/api/v1/events",
        "/api/v1/metrics",
        "/v1/traces",
        "/v1/metrics",
        "/api/v1/runs/%00%ff",
        "/../../etc/passwd",
    ];
    // Valid-looking bodies that each break a rule (a missing field, a wrong type).
    let bodies = [
        r#"{"event_id":"m","agent_name":"a"}"#.to_owned(),
        r#"{"event_id":"m","agent_name":"a","job_type":7}"#.to_owned(),
        r#"[{"event_id":"m","agent_name":"a","job_type":"j","pid":"1"}]"#.to_owned(),
        r#"{"status":"exploded"}"#.to_owned(),
        r#"{"commit_hash":"xyz","commit_source":"llm"}"#.to_owned(),
        r#"{"prompt":5}"#.to_owned(),
        r#"{"event_type":"nope"}"#.to_owned(),
        r#"{"skill_name":"s","status":"success","duration_ms":-1}"#.to_owned(),
        r#"{"event_type":"X","source":"s"}"#.to_owned(),
        r#"{"metric_name":"m","metric_value":[1]}"#.to_owned(),
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00","spanId":"00"}]}]}]}"#
            .to_owned(),
        r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"1","timeUnixNano":"0"}]}}]}]}]}"#
            .to_owned(),
        "[".repeat(10_000),
        format!("{{\"event_id\":\"{}\"}}", "x".repeat(300)),
        "\u{0}\u{1}garbage".to_owned(),
    ];
    let method = ["POST", "PATCH", "GET", "PUT", "DELETE", "BREW"][pick(rng, 6)];
    let path = paths[pick(rng, paths.len())];
    let mut body = bodies[pick(rng, bodies.len())].clone().into_bytes();
    // Flip, cut or splice bytes, or leave the broken body as it is.
    match pick(rng, 4) {
        0 if !body.is_empty() => {
            let at = pick(rng, body.len());
            body[at] ^= 1 << pick(rng, 8);
        }
        1 => body.truncate(pick(rng, body.len() + 1)),
        2 => body.extend((0..pick(rng, 64)).map(|_| rng.next_u64() as u8)),
        _ => {}
    }
    let content_type = [
        "application/json",
        "application/x-protobuf",
        "text/plain",
        "",
    ][pick(rng, 4)];
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: lookout\r\nConnection: close\r\n");
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    match pick(rng, 10) {
        // Not HTTP: random bytes, a bad version, a length that is not a number.
        0 => {
            let mut junk: Vec<u8> = (0..pick(rng, 200)).map(|_| rng.next_u64() as u8).collect();
            junk.extend_from_slice(b"\r\n\r\n");
            return (junk, false);
        }
        1 => {
            return (
                format!("{method} {path} HTTP/9.9\r\n\r\n").into_bytes(),
                false,
            );
        }
        2 => {
            head.push_str("Content-Length: twelve\r\n\r\n");
            return (head.into_bytes(), false);
        }
        3 => head.push_str("Content-Encoding: gzip\r\n"),
        _ => {}
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut request = head.into_bytes();
    request.extend(body);
    (request, true)
}

/// The status of each HTTP response in `raw`, in order.
fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

#[test]
fn malformed_requests_get_4xx_never_5xx_and_write_nothing() {
    let d = Daemon::start(&[]);
    let total: usize = std::env::var("LOOKOUT_MALFORMED_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let addr = d.url.trim_start_matches("http://").to_owned();
    let threads = 4;
    let answered: Vec<Vec<u16>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let addr = addr.clone();
                s.spawn(move || {
                    let mut rng = Rng(0x5eed + t as u64);
                    let mut seen = Vec::new();
                    // Many requests per connection, the answers read once it closes: a
                    // request the server cannot read ends the connection, and the rest
                    // go on a new one.
                    // One request per connection: a refusal before the body was read
                    // ends its connection, and every request must be answered.
                    for _ in 0..total / threads {
                        let (request, answerable) = malformed(&mut rng);
                        let mut stream = TcpStream::connect(&addr).unwrap();
                        stream
                            .set_read_timeout(Some(Duration::from_secs(30)))
                            .unwrap();
                        let _ = stream.write_all(&request);
                        let _ = stream.shutdown(std::net::Shutdown::Write);
                        let mut raw = Vec::new();
                        let _ = stream.read_to_end(&mut raw);
                        let answers = statuses(&raw);
                        assert!(
                            answers.len() == 1 || !answerable,
                            "{answers:?} for {}",
                            String::from_utf8_lossy(&request)
                        );
                        seen.extend(answers);
                    }
                    seen
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = answered.into_iter().flatten().collect();
    let server_errors = statuses.iter().filter(|s| **s >= 500).count();
    let successes = statuses.iter().filter(|s| **s < 400 && **s != 200).count();
    assert_eq!(
        server_errors,
        0,
        "5xx answers among {} responses",
        statuses.len()
    );
    assert_eq!(successes, 0, "a malformed request was taken");
    assert!(statuses.len() > total / 2, "{} answers", statuses.len());
    assert_eq!(
        answer(&d.send("GET", "/health", &Value::Null), 200)["status"],
        "ok"
    );
    assert_eq!(d.rows("telemetry_records"), 0, "nothing written");
    assert_eq!(d.rows("telemetry_spans"), 0);
    assert_eq!(d.rows("telemetry_points"), 0);
}

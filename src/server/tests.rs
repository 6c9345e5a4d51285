use super::*;
use crate::agent::ToolCall;
use lookout_testkit::{Response, request};
use std::io::Read;

fn fetch(server: &ServerHandle, path: &str, headers: &[(&str, &str)]) -> Response {
    let url = format!("http://{}{path}", server.local_addr());
    request("GET", &url, headers, b"")
}

fn start() -> (Telemetry, ServerHandle) {
    let telemetry = Telemetry::new();
    telemetry.agents().track_tool_usage(&ToolCall {
        tool: "Read",
        duration: Duration::from_millis(5),
        error: None,
    });
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_path: "/metrics".into(),
    };
    let server = ServerHandle::start(telemetry.clone(), &config).unwrap();
    (telemetry, server)
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.header(name)
}

#[test]
fn metrics_negotiates_format_and_compression() {
    let (_telemetry, server) = start();
    let text = fetch(&server, "/metrics", &[]);
    assert_eq!(text.status, 200);
    assert_eq!(
        header(&text, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = String::from_utf8(text.body.to_vec()).unwrap();
    assert!(body.contains("tool_calls_total{tool=\"Read\",status=\"success\"} 1\n"));

    let om = fetch(
        &server,
        "/metrics",
        &[("accept", "application/openmetrics-text;version=1.0.0")],
    );
    assert!(
        header(&om, "content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(om.body.ends_with(b"# EOF\n"));

    let gz = fetch(&server, "/metrics", &[("accept-encoding", "gzip")]);
    assert_eq!(header(&gz, "content-encoding"), Some("gzip"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert!(unzipped.contains("tool_calls_total{tool=\"Read\",status=\"success\"} 1\n"));
    // The earlier scrapes were timed.
    assert!(
        unzipped.contains("lookout_scrape_duration_seconds_count 2\n"),
        "{unzipped}"
    );
}

#[test]
fn health_and_version_answer_json() {
    let (telemetry, server) = start();
    let health: serde_json::Value =
        serde_json::from_slice(&fetch(&server, "/health", &[]).body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], crate::VERSION);
    assert!(health["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(health["series"], telemetry.registry().series_count());
    let version: serde_json::Value =
        serde_json::from_slice(&fetch(&server, "/version", &[]).body).unwrap();
    assert_eq!(version["version"], crate::VERSION);
}

#[test]
fn unknown_paths_and_methods_are_refused() {
    let (_telemetry, server) = start();
    assert_eq!(fetch(&server, "/nope", &[]).status, 404);
    let url = format!("http://{}/metrics", server.local_addr());
    let mut stream = std::net::TcpStream::connect(server.local_addr()).unwrap();
    use std::io::Write;
    write!(
        stream,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405"), "{url}: {answer}");
    assert!(answer.to_ascii_lowercase().contains("allow: get, head"));
}

#[test]
fn shutdown_releases_the_port() {
    let (_telemetry, server) = start();
    let addr = server.local_addr();
    server.shutdown().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
    std::net::TcpListener::bind(addr).unwrap();
}

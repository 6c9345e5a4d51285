//! The `lookout` binary: serve, read back, stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const LOOKOUT: &str = env!("CARGO_BIN_EXE_lookout");

#[test]
fn serve_answers_metrics_then_stops_cleanly_on_sigterm() {
    let mut server = Command::new(LOOKOUT)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_owned();

    let shown = Command::new(LOOKOUT)
        .args(["metrics", "--url", &url])
        .output()
        .unwrap();
    assert!(shown.status.success());
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.contains("lookout_registry_series (gauge)"), "{shown}");
    assert!(shown.contains("family=\"tool_calls\""), "{shown}");

    let raw = Command::new(LOOKOUT)
        .args(["metrics", "--raw", "--url", &url])
        .output()
        .unwrap();
    assert!(String::from_utf8(raw.stdout)
        .unwrap()
        .contains("# TYPE lookout_registry_series gauge"));

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_line(&mut rest).unwrap();
    assert_eq!(rest.trim(), "lookout stopped");
}

#[test]
fn errors_carry_a_code_and_an_exit_status() {
    let bad_url = Command::new(LOOKOUT)
        .args(["metrics", "--url", "ftp://nowhere"])
        .output()
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_url.stderr).starts_with("error[E_URL]"));

    let port = crate::util::free_port();
    let refused = Command::new(LOOKOUT)
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
    let busy = Command::new(LOOKOUT)
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).starts_with("error[E_BIND]"));
}

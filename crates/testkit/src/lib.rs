//! Helpers shared by Lookout's tests: the real tools a test talks to, free loopback ports,
//! a blocking HTTP client that needs no runtime, a scripted HTTP receiver, a seeded
//! random number generator, and (feature `postgres`) a PostgreSQL database per test.
//!
//! A test that needs a tool asks [`require_tool`] for it: without the tool the test cannot
//! run, and under `CI=true` that is a failure, never a silent pass.
//!
//! ```
//! let port = lookout_testkit::free_port();
//! assert!(port > 0);
//! assert_eq!(lookout_testkit::urlencode("a b/c"), "a%20b%2Fc");
//! ```
#![deny(missing_docs)]

mod http;
#[cfg(feature = "postgres")]
pub mod postgres;
mod receiver;
mod rng;

pub use http::{KeepAlive, Response, get, request, request_cut_short};
pub use receiver::{Answer, Received, receiver};
pub use rng::Rng;

use std::path::PathBuf;

/// Whether this run is CI (`CI=true`), where a missing tool fails the test.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Says that a test cannot run and why: a panic under `CI=true`, a loud `SKIPPED` line
/// elsewhere.
pub fn skip(message: &str) {
    assert!(!in_ci(), "{message}");
    eprintln!("SKIPPED: {message}");
}

/// Finds `name` on PATH; `install` says how to get it (`Debian package prometheus`).
/// `None`, after [`skip`], when it is missing.
pub fn require_tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        skip(&format!(
            "`{name}` is not installed ({install}; .ci/run installs it)"
        ));
    }
    found
}

/// Every regular file under `dir`, in subdirectories too (for scanning what a test wrote).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// `python3` with the OpenTelemetry SDK importable (`pip install opentelemetry-sdk`), or
/// `None` after [`skip`].
pub fn require_python_otel() -> Option<PathBuf> {
    let python = require_tool("python3", "Debian package python3")?;
    let found = std::process::Command::new(&python)
        .args(["-c", "import opentelemetry.sdk.trace"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        skip("the OpenTelemetry Python SDK is not installed (pip install opentelemetry-sdk)");
        return None;
    }
    Some(python)
}

/// The `http://ADDR` base URL in `lookout serve`'s banner line (`... serving http://ADDR/metrics ...`).
pub fn url_in_banner(banner: &str) -> String {
    let addr = banner
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|w| w.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {banner:?}"));
    format!("http://{addr}")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A variable lookup over fixed pairs, for configuration read "from the environment"
/// without touching the process's.
pub fn env_map(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let vars: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
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

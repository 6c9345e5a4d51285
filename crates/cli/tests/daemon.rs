//! A `lookout serve` process on a store of its own, and the checks of its answers.

use lookout::store::rusqlite::Connection;
use lookout_testkit::{Response, request};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A `lookout serve` on a store of its own, stopped when dropped.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its store's base directory.
    pub base: PathBuf,
    dir: Option<tempfile::TempDir>,
    /// Its stdout, read to the banner and kept open (it prints more when it stops).
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Daemon {
    /// Starts `lookout serve --listen 127.0.0.1:0 ARGS` and waits for its banner.
    pub fn start(args: &[&str]) -> Daemon {
        Daemon::start_in(tempfile::tempdir().unwrap(), "127.0.0.1:0", args)
    }

    /// Starts `lookout serve --listen LISTEN ARGS` on the store in `dir`.
    pub fn start_in(dir: tempfile::TempDir, listen: &str, args: &[&str]) -> Daemon {
        let base = dir.path().to_path_buf();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
            .args(["serve", "--listen", listen])
            .args(args)
            .env(lookout::store::BASE_DIR_ENV, &base)
            .env_remove("LOOKOUT_JSON_DIR")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove(lookout::config::STORE_ENV)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap();
        Daemon {
            child,
            url: lookout_testkit::url_in_banner(&banner),
            base,
            dir: Some(dir),
            _stdout: stdout,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it and starts another on the same store.
    pub fn restart(self, args: &[&str]) -> Daemon {
        Daemon::start_in(self.stop(), "127.0.0.1:0", args)
    }

    /// Stops it, keeping its store.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.dir.take().unwrap()
    }

    /// Sends `method path` with a JSON body (or none if `Value::Null`).
    pub fn send(&self, method: &str, path: &str, body: &Value) -> Response {
        let text = match body {
            Value::Null => String::new(),
            body => body.to_string(),
        };
        self.raw(
            method,
            path,
            &[("content-type", "application/json")],
            text.as_bytes(),
        )
    }

    /// Sends a request as given.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(method, &format!("{}{path}", self.url), headers, body)
    }

    /// A read-only connection to its index, once the index has every write acknowledged
    /// before (an acknowledged write is durable in the log and indexed just after; a read
    /// through the API waits for the index first).
    pub fn db(&self) -> Connection {
        let _ = self.send("GET", "/api/v1/runs?limit=1", &Value::Null);
        lookout::store::open_reader(&self.base.join("db/telemetry.sqlite")).unwrap()
    }

    /// `read` of the index once `done` holds of what it reads, or after 10 s what it
    /// reads then: an acknowledged write is durable in the log, and indexed just after.
    pub fn when<T>(&self, read: impl Fn(&Connection) -> T, done: impl Fn(&T) -> bool) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let value = read(&self.db());
            if done(&value) || std::time::Instant::now() > deadline {
                return value;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Rows of `table`.
    pub fn rows(&self, table: &str) -> i64 {
        self.db()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Lines of the store's log, all day files.
    pub fn log_lines(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        for file in lookout_testkit::files_under(&self.base.join("raw")) {
            if file.extension().is_some_and(|e| e == "ndjson") {
                let text = std::fs::read_to_string(file).unwrap();
                lines.extend(
                    text.lines()
                        .map(|l| serde_json::from_str::<Value>(l).unwrap()),
                );
            }
        }
        lines
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The JSON of a response, asserting its status.
pub fn answer(response: &Response, status: u16) -> Value {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

/// Asserts a refusal: its status, code and field.
pub fn refused(response: &Response, status: u16, code: &str, field: Option<&str>) {
    let body = answer(response, status);
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"].as_str(), field, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

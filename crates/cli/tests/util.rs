//! Helpers shared by the tests of the `lookout` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

pub use lookout_testkit::{free_port, get, require_python_otel};

/// The store every `lookout` these tests start records into, instead of the user's.
pub fn store_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

/// The `lookout` binary, recording into [`store_dir`].
pub fn lookout() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lookout"));
    command
        .env(lookout::store::BASE_DIR_ENV, store_dir())
        .env_remove("LOOKOUT_POSTGRES_URL");
    command
}

/// `lookout serve ARGS` as a child process, with no exporters from the environment and
/// no store;
/// returns it, its stdout after the banner line, and its base URL (`http://ADDR`).
pub fn lookout_serve(args: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut server = lookout()
        .arg("serve")
        .args(args)
        .env_remove("LOOKOUT_JSON_DIR")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env(lookout::config::STORE_ENV, "off")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let url = lookout_testkit::url_in_banner(&banner);
    (server, stdout, url)
}

/// Sends SIGTERM to `child` and waits for it to exit.
pub fn terminate(child: &mut Child) -> ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

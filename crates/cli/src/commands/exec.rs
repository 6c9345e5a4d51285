//! `lookout exec`: run any program as a sub-agent under a child span.

use crate::args::ExecArgs;
use crate::error::CliError;
use lookout::Telemetry;
use lookout::trace::{CommandExt, KeyValue};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

/// How long `exec` waits for its exporters before it exits.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Signals passed on to the child; a terminal's Ctrl-C also reaches it directly.
#[cfg(unix)]
const FORWARDED: [libc::c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Runs the command with `TRACEPARENT`, `TRACESTATE` and `TRACE_CONTEXT` naming its span;
/// returns the child's exit code (128 + N when a signal N killed it).
pub(super) async fn run(args: ExecArgs) -> Result<u8, CliError> {
    let telemetry = super::recording_telemetry();
    let program = args.command[0].clone();
    let name = args.name.unwrap_or_else(|| {
        Path::new(&program)
            .file_name()
            .unwrap_or(&program)
            .to_string_lossy()
            .into_owned()
    });
    let mut execution = telemetry.start_agent(&name, &name, &args.phase);
    let command_line: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let span = execution.span_mut();
    if let Some(span) = span {
        span.set_attribute("process.executable.name", name.clone());
        span.set_attribute("process.command_line", command_line.join(" "));
    }
    let context = execution.context().cloned();

    // Before the child exists: a signal arriving between spawn and wait must be forwarded,
    // not kill this process with the default action and orphan the child.
    let mut signals = forwarded_signals().map_err(CliError::Runtime)?;
    let mut command = tokio::process::Command::new(&program);
    command.args(&args.command[1..]);
    if let Some(context) = &context {
        command.trace_context(context);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let code = if error.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            if let Some(span) = execution.span_mut() {
                span.set_attribute("process.exit.code", i64::from(code));
                span.record_error(&error);
            }
            execution.fail("spawn");
            finish_exporting(telemetry).await;
            return Err(CliError::Spawn {
                program: program.to_string_lossy().into_owned(),
                source: error,
                code,
            });
        }
    };
    if let (Some(span), Some(pid)) = (execution.span_mut(), child.id()) {
        span.set_attribute("process.pid", pid);
    }
    let status = wait_forwarding_signals(&mut child, &mut signals)
        .await
        .map_err(CliError::Runtime)?;
    let (code, failure) = match (status.code(), status.signal()) {
        (Some(0), _) => (0u8, None),
        (Some(code), _) => (
            u8::try_from(code).unwrap_or(1),
            Some(("exit_code", format!("exit status {code}"))),
        ),
        (None, Some(signal)) => {
            let code = u8::try_from(128 + signal).unwrap_or(255);
            (code, Some(("signal", format!("killed by signal {signal}"))))
        }
        (None, None) => (1, Some(("exit_code", "exit status unknown".to_owned()))),
    };
    if let Some(span) = execution.span_mut() {
        span.set_attribute("process.exit.code", i64::from(code));
        if let Some((_, message)) = &failure {
            span.add_event("process.exit", [KeyValue::new("message", message.clone())]);
        }
    }
    match failure {
        None => execution.succeed(),
        Some((error_type, _)) => execution.fail(error_type),
    }
    finish_exporting(telemetry).await;
    Ok(code)
}

/// Delivers this process's spans and metrics and stops its exporters before it exits
/// (off the async threads, which the exporters run on); says what did not arrive.
async fn finish_exporting(telemetry: Telemetry) {
    let report = tokio::task::spawn_blocking(move || telemetry.shutdown(SHUTDOWN_TIMEOUT))
        .await
        .unwrap_or_default();
    for exporter in report.exporters.iter().filter(|e| !e.is_ok()) {
        let why = match (&exporter.error, exporter.timed_out) {
            (_, true) => "timed out".to_owned(),
            (Some(error), _) => error.clone(),
            (None, false) => format!("{} lost", exporter.failed),
        };
        eprintln!(
            "lookout exec: exporter {} ({}): {why}",
            exporter.exporter, exporter.destination
        );
    }
}

/// A stream for each forwarded signal; while they exist the signals no longer kill us.
#[cfg(unix)]
fn forwarded_signals() -> std::io::Result<Vec<(libc::c_int, tokio::signal::unix::Signal)>> {
    use tokio::signal::unix::{SignalKind, signal};
    FORWARDED
        .iter()
        .map(|&number| Ok((number, signal(SignalKind::from_raw(number))?)))
        .collect()
}

#[cfg(unix)]
async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
    signals: &mut [(libc::c_int, tokio::signal::unix::Signal)],
) -> std::io::Result<std::process::ExitStatus> {
    let pid = child.id();
    loop {
        tokio::select! {
            status = child.wait() => return status,
            signal = next_signal(signals) => {
                if let Some(pid) = pid {
                    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
                    unsafe { libc::kill(pid as libc::pid_t, signal) };
                }
            }
        }
    }
}

/// Resolves with the number of the first of `streams` to receive its signal.
#[cfg(unix)]
async fn next_signal(streams: &mut [(libc::c_int, tokio::signal::unix::Signal)]) -> libc::c_int {
    std::future::poll_fn(|cx| {
        for (number, stream) in streams.iter_mut() {
            if stream.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready(*number);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

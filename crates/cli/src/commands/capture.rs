//! `lookout capture`: seed 000's command line. One skill execution becomes an entry in
//! `telemetry.json` (synced before the answer), a span, the skill families and a store
//! record; stdout is seed 000's JSON response, and a failure exits 1.

use crate::args::CaptureArgs;
use lookout::skills::{CaptureError, Captured, SkillEntry, Skills};
use serde_json::{Value, json};
use std::time::Duration;

/// How long the command waits for its exporters and the store.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Captures and prints the response; returns the exit code.
pub(super) fn run(args: CaptureArgs) -> u8 {
    let mut config = lookout::config::Config::from_env_or_warn().with_default_store();
    if args.dir.is_some() {
        config.skills_dir = args.dir.clone();
    }
    let telemetry = lookout::Telemetry::builder()
        .exporters(super::exporters_on_this_runtime())
        .config(config)
        .build_or_warn();
    let skills = telemetry.skills();
    let outcome = skills
        .create_entry(
            &args.skill,
            &args.inputs,
            &args.status,
            &args.duration_ms,
            [
                args.agent.as_deref(),
                args.workflow.as_deref(),
                args.caller.as_deref(),
            ],
        )
        .map_err(CaptureError::from)
        .and_then(|entry| capture_synced(skills, &entry));
    telemetry.shutdown(FLUSH_TIMEOUT);
    let (response, code) = match outcome {
        Ok(captured) => (success(&captured), 0),
        Err(error) => {
            eprintln!("lookout: capture failed: {error}");
            (failure(&error), 1)
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&response).expect("JSON values always serialize")
    );
    code
}

/// Captures `entry` and syncs `telemetry.json`: what answering for it needs.
pub(crate) fn capture_synced(
    skills: &Skills,
    entry: &SkillEntry,
) -> Result<Captured, CaptureError> {
    let captured = skills.capture(entry)?;
    if let Some(file) = skills.file() {
        file.sync().map_err(|source| CaptureError::File {
            path: file.path().to_owned(),
            source,
        })?;
    }
    Ok(captured)
}

/// Seed 000's success response.
pub(crate) fn success(captured: &Captured) -> Value {
    let path = captured
        .path
        .as_ref()
        .map_or(String::new(), |p| p.display().to_string());
    json!({
        "ok": true,
        "status": "success",
        "errors": [],
        "path": path,
        "details": {
            "status": "success",
            "telemetry_entry": captured.entry,
            "telemetry_path": path,
            "total_entries": captured.total_entries,
        },
    })
}

/// Seed 000's failure response.
pub(crate) fn failure(error: &CaptureError) -> Value {
    let message = error.to_string();
    json!({
        "ok": false,
        "status": "failed",
        "errors": [message],
        "path": "",
        "details": {"error": {"error": error.error_type(), "message": message}},
    })
}

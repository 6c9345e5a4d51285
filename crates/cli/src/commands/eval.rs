//! `lookout eval convert`: chosen sessions as seed 001's eval tasks, one YAML file per
//! task (`tasks/runtime-….yaml`).

use super::telemetry_files;
use crate::args::{ConvertArgs, EvalArgs};
use crate::error::CliError;

pub(super) fn run(args: EvalArgs) -> Result<(), CliError> {
    let EvalArgs::Convert(args) = args;
    let loaded = telemetry_files::load(args.path.as_deref())?;
    let chosen: Vec<_> = loaded
        .sessions
        .iter()
        .filter(|s| chosen(s, &args))
        .collect();
    std::fs::create_dir_all(&args.out).map_err(|e| {
        CliError::InvalidInput(format!("cannot create {}: {e}", args.out.display()))
    })?;
    let mut used = std::collections::HashSet::new();
    for session in &chosen {
        let mut task = lookout::sessions::to_eval_input(session);
        // Ids are cut short: two sessions sharing a prefix get -2, -3, ...
        let base = task["id"].as_str().unwrap_or("runtime-task").to_owned();
        let id = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|id| used.insert(id.clone()))
            .expect("an unused id");
        task["id"] = serde_json::Value::String(id.clone());
        let path = args.out.join(format!("{id}.yaml"));
        let yaml = yaml_serde::to_string(&task).map_err(|e| {
            CliError::InvalidInput(format!("session {} as YAML: {e}", session.session_id))
        })?;
        std::fs::write(&path, yaml)
            .map_err(|e| CliError::InvalidInput(format!("cannot write {}: {e}", path.display())))?;
        println!("{}", path.display());
    }
    eprintln!(
        "{} of {} sessions converted into {}",
        chosen.len(),
        loaded.sessions.len(),
        args.out.display()
    );
    Ok(())
}

fn chosen(session: &lookout::sessions::SessionTelemetry, args: &ConvertArgs) -> bool {
    args.skill
        .as_deref()
        .is_none_or(|skill| session.skill_name.as_deref() == Some(skill))
        && (!args.succeeded || session.success)
        && (!args.failed || !session.success)
        && args.since.is_none_or(|since| session.start_time >= since)
        && args.until.is_none_or(|until| session.start_time < until)
}

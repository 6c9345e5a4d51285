//! A batch agent (seed 002's shape): one run processing ten items, two of which fail,
//! writing its output into a git repository, committing it, and associating the commit
//! with the run. `lookout runs` then lists the run and `lookout runs show` links its
//! commit.
//!
//! cargo run --example runs --features store
//! TELEMETRY_BASE_DIR=<the directory it prints> lookout runs

use lookout::Telemetry;
use lookout::runs::{RunFields, RunStatus, git};
use std::error::Error;
use std::path::Path;
use std::process::Command;

/// What the batch did.
#[derive(Debug)]
pub struct Batch {
    /// The run's id.
    pub run_id: String,
    /// The commit it produced; `None` without git.
    pub commit: Option<String>,
}

/// Runs the batch, recording into the store in `base`, committing into `repo`.
pub fn batch(base: &Path, repo: &Path) -> Result<Batch, Box<dyn Error>> {
    let config = lookout::config::Config::default().with_env(&lookout::config::env_map(&[(
        lookout::store::BASE_DIR_ENV,
        base.to_str().ok_or("a base directory in UTF-8")?,
    )]))?;
    let telemetry = Telemetry::builder().config(config).build()?;
    let mut run = telemetry.runs().track_run("batch_agent", "translate_items");
    let run_id = run.id().to_owned();

    let (mut succeeded, mut failed) = (0, 0);
    let mut output = String::new();
    for item in 1..=10 {
        if item % 4 == 0 {
            failed += 1;
            run.log_event(
                "item_failed",
                serde_json::json!({"item": item, "reason": "no translation"}),
            );
        } else {
            succeeded += 1;
            output.push_str(&format!("item {item}: translated\n"));
        }
    }
    let mut fields = RunFields::default().items(10, succeeded, failed);
    fields.input_summary = Some("10 items from the inbox".into());
    fields.output_summary = Some(format!("{succeeded} translations in translations.txt"));

    let commit = commit_output(repo, &output);
    if let Some(context) = git::detect(repo, git::DETECT_TIMEOUT) {
        fields.git_repo = context.repo;
        fields.git_branch = context.branch;
    }
    run.set_fields(fields);
    if let Some(hash) = &commit {
        run.associate_commit(hash, "ci", Some("Batch Agent <batch@example.com>"))?;
    }
    run.finish(if failed == 0 {
        RunStatus::Success
    } else {
        RunStatus::Partial
    });
    if !telemetry.flush().is_ok() {
        return Err("the store did not take the run in time".into());
    }
    Ok(Batch { run_id, commit })
}

/// Writes `output` into a repository at `repo` (created, with a GitHub remote) and
/// commits it; the commit's hash, or `None` if git is not installed.
fn commit_output(repo: &Path, output: &str) -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repo)
            .output()
            .ok()
            .filter(|o| o.status.success())
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&[
        "remote",
        "add",
        "origin",
        "git@github.com:acme/batch-agent.git",
    ]);
    std::fs::write(repo.join("translations.txt"), output).ok()?;
    git(&["add", "translations.txt"])?;
    git(&[
        "-c",
        "user.name=Batch Agent",
        "-c",
        "user.email=batch@example.com",
        "commit",
        "-q",
        "-m",
        "Translations",
    ])?;
    let head = git(&["rev-parse", "HEAD"])?;
    Some(String::from_utf8_lossy(&head.stdout).trim().to_owned())
}

#[allow(dead_code)] // a test includes this file and calls `batch`
fn main() -> Result<(), Box<dyn Error>> {
    let base = match std::env::var_os(lookout::store::BASE_DIR_ENV) {
        Some(base) => base.into(),
        None => tempfile::tempdir()?.keep(),
    };
    let repo = tempfile::tempdir()?;
    let done = batch(&base, repo.path())?;
    println!("run {} ended partial: 8 of 10 items", done.run_id);
    match &done.commit {
        Some(hash) => println!("commit {hash} associated with it"),
        None => println!("no git here: no commit"),
    }
    println!(
        "see it: TELEMETRY_BASE_DIR={} lookout runs show {}",
        base.display(),
        done.run_id
    );
    Ok(())
}

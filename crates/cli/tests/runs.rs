//! `lookout runs`: runs an agent recorded, listed with filters, shown with events and
//! URLs, a commit associated (and refused when malformed), stale runs closed.

use lookout::config::{Config, env_map};
use lookout::runs::{RunFields, RunStatus};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// `lookout ARGS` on the store in `base`.
fn lookout(base: &Path, args: &[&str]) -> Output {
    crate::util::lookout()
        .args(args)
        .env(lookout::store::BASE_DIR_ENV, base)
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Three runs: a success with events and a repository, a failure, a partial one.
fn record_runs(base: &Path) -> String {
    let config = Config::default()
        .with_env(&env_map(&[(
            lookout::store::BASE_DIR_ENV,
            base.to_str().unwrap(),
        )]))
        .unwrap();
    let telemetry = lookout::Telemetry::builder()
        .config(config)
        .build()
        .unwrap();
    let runs = telemetry.runs();
    let mut run = runs.track_run("coder", "refactor");
    let id = run.id().to_owned();
    run.log_event("plan", json!({"files": 3}));
    run.log_event("edit", json!({"file": "src/lib.rs"}));
    let mut fields = RunFields::default().items(3, 3, 0);
    fields.git_repo = Some("git@github.com:acme/widgets.git".into());
    run.set_fields(fields);
    run.succeed();
    let failed = runs.start_run("coder", "review");
    runs.end_run(
        &failed,
        RunStatus::Failed,
        RunFields::default().error("lint failed"),
    );
    let partial = runs.start_run("tester", "suite");
    runs.end_run(
        &partial,
        RunStatus::Partial,
        RunFields::default().items(10, 8, 2),
    );
    assert!(telemetry.flush().is_ok());
    id
}

#[test]
fn runs_are_listed_shown_and_given_commits_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let id = record_runs(base);

    let all = json_of(&lookout(base, &["runs", "--json"]));
    let jobs: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job_type"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["suite", "review", "refactor"], "newest first");
    let coder = json_of(&lookout(base, &["runs", "--agent", "coder", "--json"]));
    assert_eq!(coder.as_array().unwrap().len(), 2);
    let failed = json_of(&lookout(base, &["runs", "--status", "failed", "--json"]));
    assert_eq!(failed[0]["error_summary"], "lint failed");
    let suite = json_of(&lookout(
        base,
        &["runs", "--job", "suite", "--limit", "1", "--json"],
    ));
    assert_eq!(suite[0]["items_failed"], 2);
    assert_eq!(
        json_of(&lookout(base, &["runs", "--since", "1h", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let table = lookout(base, &["runs"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("refactor") && table.contains("partial") && table.contains("8/2"),
        "{table}"
    );

    // A malformed hash or source is bad input: exit 2 with a code.
    let bad = lookout(base, &["runs", "associate-commit", &id, "not-a-hash"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("E_COMMIT_HASH"),
        "{bad:?}"
    );
    let unknown = lookout(
        base,
        &["runs", "associate-commit", "ffff-no-such-run", "abc1234"],
    );
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("E_NOT_FOUND"),
        "{unknown:?}"
    );
    assert_eq!(unknown.status.code(), Some(1));
    let robot = lookout(
        base,
        &[
            "runs",
            "associate-commit",
            &id,
            "abc1234",
            "--source",
            "robot",
        ],
    );
    assert_eq!(robot.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&robot.stderr).contains("E_COMMIT_SOURCE"),
        "{robot:?}"
    );

    let hash = "89abcdef0123456789abcdef0123456789abcdef";
    let said = lookout(
        base,
        &[
            "runs",
            "associate-commit",
            &id[..30],
            hash,
            "--source",
            "llm",
            "--author",
            "Claude",
        ],
    );
    assert!(said.status.success(), "{said:?}");
    let shown = json_of(&lookout(base, &["runs", "show", &id, "--json"]));
    assert_eq!(shown["status"], "success", "the rest of the state is kept");
    assert_eq!(shown["git_commit_source"], "llm");
    assert_eq!(shown["git_commit_author"], "Claude");
    assert_eq!(shown["repo_url"], "https://github.com/acme/widgets");
    assert_eq!(
        shown["commit_url"],
        format!("https://github.com/acme/widgets/commit/{hash}")
    );
    let events: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["plan", "edit"]);
    assert_eq!(shown["trace_id"].as_str().unwrap().len(), 32);
    let text = String::from_utf8(lookout(base, &["runs", "show", &id]).stdout).unwrap();
    assert!(
        text.contains(&format!("https://github.com/acme/widgets/commit/{hash}")),
        "{text}"
    );
    assert!(text.contains("lookout traces "), "{text}");

    let cleanup = json_of(&lookout(base, &["runs", "cleanup", "--json"]));
    assert_eq!(
        cleanup,
        json!({"abandoned": []}),
        "no process died holding a run"
    );
}

#[path = "../../../examples/runs.rs"]
mod example;

#[test]
fn the_batch_agent_example_shows_in_lookout_runs_with_its_commit() {
    if lookout_testkit::require_tool("git", "Debian package git").is_none() {
        return;
    }
    let (base, repo) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let batch = example::batch(base.path(), repo.path()).unwrap();
    let commit = batch
        .commit
        .expect("git is installed: the output is committed");
    let listed = json_of(&lookout(base.path(), &["runs", "--json"]));
    let run = &listed[0];
    assert_eq!(run["run_id"], batch.run_id.as_str());
    assert_eq!(run["status"], "partial");
    assert_eq!(
        (
            run["items_succeeded"].as_i64(),
            run["items_failed"].as_i64()
        ),
        (Some(8), Some(2))
    );
    assert_eq!(run["git_commit_hash"], commit.as_str());
    assert_eq!(run["git_branch"], "main");
    let shown = lookout(base.path(), &["runs", "show", &batch.run_id]);
    let shown = String::from_utf8(shown.stdout).unwrap();
    let url = format!("https://github.com/acme/batch-agent/commit/{commit}");
    assert!(shown.contains(&url), "{shown}");
    assert_eq!(shown.matches("item_failed").count(), 2, "{shown}");
}

//! `lookout capture`: seed 000's four examples answered in its response shape, every
//! invalid input its own message and exit code, secrets kept out of every file Lookout
//! writes, processes capturing at once.

use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// `lookout capture ARGS` recording into the store in `base`.
fn capture(base: &Path, args: &[&str]) -> Output {
    crate::util::lookout()
        .arg("capture")
        .args(args)
        .env(lookout::store::BASE_DIR_ENV, base)
        .env_remove("LOOKOUT_SKILLS_DIR")
        .output()
        .unwrap()
}

fn response(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn seed_000s_examples_answer_in_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry/telemetry.json");
    let examples: [&[&str]; 4] = [
        &[
            "workflow.validate",
            r#"{"path": "test.yaml"}"#,
            "success",
            "150",
        ],
        &[
            "skill.create",
            r#"{"name": "new.skill"}"#,
            "success",
            "2500",
            "skill-generator",
            "",
            "cli",
        ],
        &[
            "policy.enforce",
            r#"{"policy": "naming"}"#,
            "failed",
            "450",
            "",
            "validation-pipeline",
            "workflow",
        ],
        &[
            "agent.define",
            r#"{"name": "test-agent", "mode": "iterative"}"#,
            "success",
            "3200",
            "meta-orchestrator",
            "agent-creation-workflow",
            "api",
        ],
    ];
    for (n, args) in examples.iter().enumerate() {
        let output = capture(dir.path(), args);
        assert!(output.status.success(), "{output:?}");
        let answer = response(&output);
        assert_eq!(keys(&answer), ["ok", "status", "errors", "path", "details"]);
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["status"], "success");
        assert_eq!(answer["errors"], json!([]));
        assert_eq!(answer["path"], path.to_str().unwrap());
        let details = &answer["details"];
        assert_eq!(
            keys(details),
            [
                "status",
                "telemetry_entry",
                "telemetry_path",
                "total_entries"
            ]
        );
        assert_eq!(details["telemetry_path"], answer["path"]);
        assert_eq!(details["total_entries"], n + 1);
        let entry = &details["telemetry_entry"];
        assert_eq!(entry["skill"], args[0]);
        assert_eq!(
            entry["inputs"],
            serde_json::from_str::<Value>(args[1]).unwrap()
        );
        assert_eq!(entry["status"], args[2]);
        assert_eq!(entry["duration_ms"], args[3].parse::<u64>().unwrap());
        for (i, field) in ["agent", "workflow", "caller"].into_iter().enumerate() {
            match args.get(4 + i).filter(|v| !v.is_empty()) {
                Some(value) => assert_eq!(entry[field], *value),
                None => assert!(entry.get(field).is_none(), "{field} left out: {entry}"),
            }
        }
        let at =
            lookout_export::calendar::parse_rfc3339(entry["timestamp"].as_str().unwrap()).unwrap();
        let age = std::time::SystemTime::now().duration_since(at).unwrap();
        assert!(
            age < std::time::Duration::from_secs(60),
            "timestamped now: {entry}"
        );
    }
    let file: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file.len(), 4);
    // Each is also a span and a store record.
    let db =
        lookout::store::rusqlite::Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM telemetry_records WHERE kind = 'skill_entry'"),
        4
    );
    assert_eq!(
        count("SELECT count(*) FROM telemetry_spans WHERE name LIKE 'skill %'"),
        4
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM telemetry_spans WHERE name = 'skill policy.enforce' AND status_code = 'error'"
        ),
        1
    );
}

#[test]
fn each_invalid_input_is_its_own_failure_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            ["s", "not a valid json", "success", "1"],
            "Invalid inputs JSON: ",
        ),
        (
            ["s", "[1, 2]", "success", "1"],
            "Invalid inputs JSON: inputs must be a JSON object",
        ),
        (
            ["s", "{}", "success", "-5"],
            "Duration must be a non-negative integer of milliseconds, got -5",
        ),
        (
            ["s", "{}", "success", "1.5"],
            "Duration must be a non-negative integer of milliseconds, got 1.5",
        ),
        (
            ["s", "{}", "success", "soon"],
            "Duration must be a non-negative integer",
        ),
        (["", "{}", "success", "1"], "Skill name must not be empty"),
        (["s", "{}", " ", "1"], "Status must not be empty"),
    ] {
        let output = capture(dir.path(), &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        let answer = response(&output);
        assert_eq!(keys(&answer), ["ok", "status", "errors", "path", "details"]);
        assert_eq!(answer["ok"], false);
        assert_eq!(answer["status"], "failed");
        assert_eq!(answer["path"], "");
        let error = answer["errors"][0].as_str().unwrap();
        assert!(error.starts_with(message), "{args:?}: {error}");
        assert_eq!(
            answer["details"],
            json!({"error": {"error": "ValueError", "message": error}})
        );
        assert!(String::from_utf8_lossy(&output.stderr).contains(error));
    }
    let file = dir.path().join("registry/telemetry.json");
    assert!(!file.exists(), "no capture, no file");
    // Too few arguments: the usage, exit 2.
    assert_eq!(capture(dir.path(), &["s", "{}"]).status.code(), Some(2));
}

#[test]
fn no_secret_reaches_the_file_the_store_or_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let exports = tempfile::tempdir().unwrap();
    let secrets = [
        "hunter2-password-value",
        "tok-0123456789-session",
        "ada.lovelace@example.com",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
        "AKIAIOSFODNN7EXAMPLE",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU",
        "app:pg-pass-991@db.internal",
    ];
    let inputs = json!({
        "password": secrets[0],
        "session": {"access_token": secrets[1], "user": "ada"},
        "notify": format!("mail {} when done", secrets[2]),
        "llm": {"apiKey": secrets[3], "model": "claude", "max_tokens": 200},
        "env": [secrets[4], secrets[5]],
        "headers": {"X-Custom": format!("Bearer {}", secrets[6])},
        "database_url": format!("postgres://{}:5432/prod", secrets[7]),
        "query": "weather in Paris",
    });
    let output = crate::util::lookout()
        .args([
            "capture",
            "deploy.run",
            &inputs.to_string(),
            "success",
            "12",
            "",
            "",
            "cli",
        ])
        .env(lookout::store::BASE_DIR_ENV, dir.path())
        .env("LOOKOUT_JSON_DIR", exports.path())
        .env("LOOKOUT_SPAN_LOG", exports.path().join("spans.ndjson"))
        .env_remove("LOOKOUT_SKILLS_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let kept = &response_of(&stdout)["details"]["telemetry_entry"]["inputs"];
    assert_eq!(kept["query"], "weather in Paris");
    assert_eq!(kept["llm"]["max_tokens"], 200);
    let mut files = 0;
    for root in [dir.path(), exports.path()] {
        for file in lookout_testkit::files_under(root) {
            // The database's -wal and -shm files go when its last connection closes.
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            files += 1;
            let text = String::from_utf8_lossy(&bytes);
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} in {}", file.display());
            }
        }
    }
    assert!(
        files >= 5,
        "the file, the log, the database, the span log, an export: {files}"
    );
    for secret in secrets {
        assert!(!stdout.contains(secret), "{secret} in the response");
    }
}

fn response_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn processes_capturing_at_once_each_land_once() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|p| {
            let dir = dir.path().to_owned();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let inputs = json!({"p": p, "i": i}).to_string();
                    let output = capture(&dir, &["load", &inputs, "success", "1"]);
                    assert!(output.status.success(), "{output:?}");
                }
            })
        })
        .collect();
    for child in children {
        child.join().unwrap();
    }
    let file: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("registry/telemetry.json")).unwrap())
            .unwrap();
    let mut seen: Vec<(u64, u64)> = file
        .iter()
        .map(|e| {
            (
                e["inputs"]["p"].as_u64().unwrap(),
                e["inputs"]["i"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 40);
    assert_eq!(file.len(), 40);
}

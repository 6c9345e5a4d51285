//! `lookout analyze` and `lookout eval convert` over a generated directory of 1,000
//! sessions (and seed 000 entries), with every figure computed again here, and over the
//! store.

use lookout_testkit::Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

const SKILLS: [&str; 3] = ["azure-deploy", "azure-create-app", "azure-diagnostics"];

fn lookout(args: &[&str], base: &Path) -> Output {
    let output = crate::util::lookout()
        .args(args)
        .env(lookout::store::BASE_DIR_ENV, base)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    output
}

/// 1,000 sessions in ten files (and nested directories), written as seed 001's files
/// are, independently of Lookout's own serializer.
fn generate(dir: &Path) -> Vec<Value> {
    let mut rng = Rng(7);
    let mut sessions = Vec::new();
    for n in 0..1000u64 {
        let skill = (n % 17 != 0).then(|| SKILLS[(rng.next_u64() % 3) as usize]);
        let start = 1_764_000_000_000 + n * 60_000;
        let duration = 100 + rng.next_u64() % 5000;
        let tools: Vec<Value> = (0..rng.next_u64() % 9)
            .map(|t| json!({"tool": format!("tool-{t}"), "args": [], "success": true, "error": null}))
            .collect();
        let time = |ms: u64| {
            lookout::json::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        };
        sessions.push(json!({
            "session_id": format!("{n:08x}-0000-4000-8000-000000000000"),
            "start_time": time(start),
            "end_time": time(start + duration),
            "skill_name": skill,
            "prompt": format!("task {n}"),
            "output": "done",
            "events": [],
            "tool_calls": tools,
            "success": rng.unit() < 0.9,
            "error": null,
            "metadata": {"n": n},
        }));
    }
    for (i, chunk) in sessions.chunks(100).enumerate() {
        let sub = dir.join(format!("month-{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("sessions-{i}.json")),
            serde_json::to_vec_pretty(chunk).unwrap(),
        )
        .unwrap();
    }
    sessions
}

/// The tables computed here: (count, success %, mean duration, tool calls) per skill
/// ("" for all).
fn expected(sessions: &[Value], entries: &[Value]) -> BTreeMap<String, (u64, f64, f64, u64)> {
    let mut rows: BTreeMap<String, Vec<(bool, f64, u64)>> = BTreeMap::new();
    let parse = |v: &Value| lookout_export::calendar::parse_rfc3339(v.as_str().unwrap()).unwrap();
    for s in sessions {
        let duration = parse(&s["end_time"])
            .duration_since(parse(&s["start_time"]))
            .unwrap();
        let row = (
            s["success"].as_bool().unwrap(),
            duration.as_millis() as f64,
            s["tool_calls"].as_array().unwrap().len() as u64,
        );
        rows.entry(s["skill_name"].as_str().unwrap_or("").to_owned())
            .or_default()
            .push(row);
        rows.entry("*".into()).or_default().push(row);
    }
    for e in entries {
        let row = (
            e["status"] == "success",
            e["duration_ms"].as_f64().unwrap(),
            0,
        );
        rows.entry(e["skill"].as_str().unwrap().to_owned())
            .or_default()
            .push(row);
        rows.entry("*".into()).or_default().push(row);
    }
    rows.into_iter()
        .map(|(skill, runs)| {
            let n = runs.len() as f64;
            let ok = runs.iter().filter(|r| r.0).count() as f64;
            let duration: f64 = runs.iter().map(|r| r.1).sum();
            let tools: u64 = runs.iter().map(|r| r.2).sum();
            (
                skill,
                (runs.len() as u64, 100.0 * ok / n, duration / n, tools),
            )
        })
        .collect()
}

/// Telemetry recording into the store in `base`, as an agent beside the binary would.
fn store_telemetry(base: &Path) -> lookout::Telemetry {
    let config = lookout::config::Config::default()
        .with_env(&lookout::config::env_map(&[(
            lookout::store::BASE_DIR_ENV,
            base.to_str().unwrap(),
        )]))
        .unwrap();
    lookout::Telemetry::builder()
        .config(config)
        .build()
        .unwrap()
}

fn close(a: &Value, b: f64) {
    assert!((a.as_f64().unwrap() - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn analyze_gives_the_figures_computed_independently() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = generate(&dir.path().join("telemetry"));
    // Seed 000 entries beside them, and a file that is neither (skipped, named).
    let entries: Vec<Value> = (0..50)
        .map(|i| {
            json!({"timestamp": "2026-12-01T10:00:00.000Z", "skill": SKILLS[i % 3],
                        "inputs": {}, "status": if i % 5 == 0 { "failed" } else { "success" },
                        "duration_ms": 10 * i})
        })
        .collect();
    std::fs::create_dir_all(dir.path().join("telemetry/registry")).unwrap();
    std::fs::write(
        dir.path().join("telemetry/registry/telemetry.json"),
        serde_json::to_vec(&entries).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("telemetry/notes.json"), r#"{"hello": 1}"#).unwrap();
    let report = dir.path().join("analysis-report.json");
    let output = lookout(
        &[
            "analyze",
            dir.path().join("telemetry").to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
        ],
        dir.path(),
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("notes.json"), "{stderr}");
    let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let want = expected(&sessions, &entries);
    let all = want["*"];
    assert_eq!(written["sessions_analyzed"], all.0);
    close(&written["metrics"]["success_rate"], all.1);
    close(&written["metrics"]["avg_duration_ms"], all.2);
    assert_eq!(written["metrics"]["total_tool_calls"], all.3);
    close(
        &written["metrics"]["avg_tool_calls_per_session"],
        all.3 as f64 / all.0 as f64,
    );
    for skill in SKILLS.into_iter().chain([""]) {
        let (n, rate, duration, tools) = want[skill];
        let row = &written["per_skill"][skill];
        assert_eq!(row["invocations"], n, "{skill}");
        close(&row["success_rate"], rate);
        close(&row["avg_duration_ms"], duration);
        assert_eq!(row["total_tool_calls"], tools);
    }
    // The text report: the seed's headings and figures as the seed formats them.
    assert!(text.contains("Runtime Telemetry Analysis"), "{text}");
    assert!(text.contains("Sessions analyzed: 1,050"), "{text}");
    assert!(text.contains(&format!("{:.1}%", all.1)), "{text}");
    assert!(text.contains("avg_tool_calls_per_session"));
    // --skill: one skill's figures; --json prints what -o writes.
    let output = lookout(
        &[
            "analyze",
            dir.path().join("telemetry").to_str().unwrap(),
            "--skill",
            "azure-deploy",
            "--json",
        ],
        dir.path(),
    );
    let one: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(one["sessions_analyzed"], want["azure-deploy"].0);
    assert_eq!(one["skills_invoked"], json!(["azure-deploy"]));
}

#[test]
fn eval_convert_writes_one_yaml_task_per_chosen_session() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = generate(&dir.path().join("telemetry"));
    let out = dir.path().join("tasks");
    let output = lookout(
        &[
            "eval",
            "convert",
            dir.path().join("telemetry").to_str().unwrap(),
            "--skill",
            "azure-deploy",
            "--succeeded",
            "--since",
            "2025-11-24T17:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let since = lookout_export::calendar::parse_rfc3339("2025-11-24T17:00:00Z").unwrap();
    let chosen: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["skill_name"] == "azure-deploy" && s["success"] == true)
        .filter(|s| {
            lookout_export::calendar::parse_rfc3339(s["start_time"].as_str().unwrap()).unwrap()
                >= since
        })
        .collect();
    assert!(chosen.len() > 10 && chosen.len() < 400, "{}", chosen.len());
    let files: Vec<_> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(files.len(), chosen.len());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), chosen.len());
    // Read back by another YAML implementation: PyYAML, as seed 001 writes them.
    let Some(python) = lookout_testkit::require_tool("python3", "Debian package python3") else {
        return;
    };
    let script = "import json, sys, yaml\nprint(json.dumps([yaml.safe_load(open(p)) for p in sys.argv[1:]]))";
    let read = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(&files)
        .output()
        .unwrap();
    if !read.status.success() {
        lookout_testkit::skip(&format!(
            "PyYAML (pip install pyyaml): {}",
            String::from_utf8_lossy(&read.stderr)
        ));
        return;
    }
    let tasks: Vec<Value> = serde_json::from_slice(&read.stdout).unwrap();
    let by_prompt: BTreeMap<&str, &Value> = chosen
        .iter()
        .map(|s| (s["prompt"].as_str().unwrap(), *s))
        .collect();
    for task in &tasks {
        let session = by_prompt[task["inputs"]["prompt"].as_str().unwrap()];
        assert!(task["id"].as_str().unwrap().starts_with("runtime-"));
        assert!(
            task["name"]
                .as_str()
                .unwrap()
                .starts_with("Runtime session ")
        );
        assert_eq!(task["inputs"]["context"], session["metadata"]);
        assert_eq!(task["captured"]["output"], session["output"]);
        assert_eq!(task["captured"]["tool_calls"], session["tool_calls"]);
    }
}

#[test]
fn analyze_reads_the_store_when_no_path_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = store_telemetry(dir.path());
    let sessions = telemetry.sessions();
    for n in 0..6 {
        let id = sessions.start_session("p", json!({}));
        sessions
            .record_event(&id, "skill.invoked", Some("triage"), json!({}))
            .unwrap();
        sessions
            .record_event(&id, "tool.called", None, json!({"tool": "gh"}))
            .unwrap();
        sessions.end_session(&id, "", n % 3 != 0, None).unwrap();
    }
    let skills = telemetry.skills();
    let entry = skills
        .create_entry("triage", "{}", "success", "40", [None, None, None])
        .unwrap();
    skills.capture(&entry).unwrap();
    assert!(telemetry.flush().is_ok());
    drop(telemetry);
    let output = lookout(&["analyze", "--json"], dir.path());
    let analysis: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(analysis["sessions_analyzed"], 7);
    assert_eq!(analysis["per_skill"]["triage"]["total_tool_calls"], 6);
    close(
        &analysis["per_skill"]["triage"]["success_rate"],
        500.0 / 7.0,
    );
}

#[test]
fn a_session_is_a_tree_in_lookout_traces() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = store_telemetry(dir.path());
    let sessions = telemetry.sessions();
    let id = sessions.start_session("Deploy my app", json!({}));
    for (kind, data) in [
        ("skill.invoked", json!({"skill_name": "azure-deploy"})),
        ("tool.called", json!({"tool": "az"})),
        ("llm.request", json!({"model": "claude", "tokens": 900})),
        ("llm.response", json!({"model": "claude", "latency_ms": 20})),
        (
            "tool.completed",
            json!({"tool": "az", "success": false, "error": "quota"}),
        ),
    ] {
        sessions.record_event(&id, kind, None, data).unwrap();
    }
    sessions
        .end_session(&id, "gave up", false, Some("quota exceeded"))
        .unwrap();
    assert!(telemetry.flush().is_ok());
    drop(telemetry);
    let db =
        lookout::store::rusqlite::Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
    let trace: String = db
        .query_row(
            "SELECT trace_id FROM telemetry_spans WHERE name = 'session azure-deploy'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let output = lookout(&["traces", &trace], dir.path());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(&format!("trace {trace}: 3 spans")),
        "{text}"
    );
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("session azure-deploy"),
        "the root first: {text}"
    );
    let children: Vec<&str> = text.lines().skip(2).take(2).collect();
    assert!(
        children.iter().all(|l| l.starts_with("  ")),
        "nested: {text}"
    );
    assert!(
        children
            .iter()
            .any(|l| l.trim_start().starts_with("execute_tool az ✗")),
        "{text}"
    );
    assert!(
        children
            .iter()
            .any(|l| l.trim_start().starts_with("chat claude")),
        "{text}"
    );
}

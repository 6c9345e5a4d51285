//! Seed 000's `telemetry.json` across processes, its rotation into weekly archives and
//! the seed's own `jq` recipes against both.

use lookout::skills::{Rotation, TelemetryFile, archive_path};
use lookout_export::calendar::parse_rfc3339;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The directory a child test process appends into; unset in a normal test run.
const CHILD_DIR: &str = "LOOKOUT_TEST_SKILLS_CHILD_DIR";
/// The child's number.
const CHILD_INDEX: &str = "LOOKOUT_TEST_SKILLS_CHILD_INDEX";
/// Entries each child appends.
const PER_CHILD: u64 = 1000;

fn parsed(path: &Path) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn entry_at(time_ms: u64, i: u64) -> Value {
    let time = lookout::json::rfc3339(UNIX_EPOCH + Duration::from_millis(time_ms));
    json!({"timestamp": time, "skill": "s", "inputs": {"i": i}, "status": "success",
           "duration_ms": i})
}

/// The child of the next test: appends [`PER_CHILD`] entries and exits.
#[test]
#[ignore]
fn child_appends_entries() {
    let (Ok(dir), Ok(index)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_INDEX)) else {
        return;
    };
    let file = TelemetryFile::new(&dir);
    for i in 0..PER_CHILD {
        let entry = json!({"timestamp": lookout::json::rfc3339(SystemTime::now()),
                           "skill": "load", "inputs": {"child": index, "i": i},
                           "status": "success", "duration_ms": i});
        file.append(&entry).unwrap();
    }
}

#[test]
fn eight_processes_appending_leave_one_valid_array_of_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..8)
        .map(|index| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--ignored", "--exact", "skills::child_appends_entries"])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_INDEX, index.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let file = TelemetryFile::new(dir.path());
    let entries = parsed(file.path());
    assert_eq!(entries.len(), 8000);
    let distinct: BTreeSet<(String, u64)> = entries
        .iter()
        .map(|e| {
            let inputs = &e["inputs"];
            (
                inputs["child"].as_str().unwrap().to_owned(),
                inputs["i"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(distinct.len(), 8000, "each entry exactly once");
    assert_eq!(file.total_entries().unwrap(), 8000);
    // Each process's entries in the order it appended them.
    for child in 0..8 {
        let own: Vec<u64> = entries
            .iter()
            .filter(|e| e["inputs"]["child"].as_str() == Some(&child.to_string()))
            .map(|e| e["inputs"]["i"].as_u64().unwrap())
            .collect();
        assert_eq!(own, (0..PER_CHILD).collect::<Vec<_>>());
    }
}

#[test]
fn threads_sharing_a_file_and_holding_their_own_each_land_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(TelemetryFile::new(dir.path()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let shared = shared.clone();
            let dir = dir.path().to_owned();
            std::thread::spawn(move || {
                let own = TelemetryFile::new(&dir);
                for i in 0..250 {
                    let file = if i % 2 == 0 { &*shared } else { &own };
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                    file.append(&entry_at(now.as_millis() as u64, t * 1000 + i))
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let ids: BTreeSet<u64> = parsed(shared.path())
        .iter()
        .map(|e| e["inputs"]["i"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1000);
}

/// A clock the test moves.
fn clock_at(ms: &Arc<AtomicU64>) -> lookout::skills::Clock {
    let ms = ms.clone();
    Arc::new(move || UNIX_EPOCH + Duration::from_millis(ms.load(Ordering::SeqCst)))
}

fn archived(dir: &Path) -> Vec<(String, Vec<Value>)> {
    let mut weeks: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_owned(),
                parsed(&p),
            )
        })
        .collect();
    weeks.sort_by(|a, b| a.0.cmp(&b.0));
    weeks
}

const DAY_MS: u64 = 86_400_000;

#[test]
fn entries_past_seven_days_go_to_their_iso_weeks_merged_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    // Thursday 2025-10-23 12:00 UTC (ISO week 43).
    let now = parse_rfc3339("2025-10-23T12:00:00Z").unwrap();
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let clock = Arc::new(AtomicU64::new(now_ms));
    let file = TelemetryFile::new(dir.path()).clock(clock_at(&clock));
    // One entry every 12 hours over the last 24 days: weeks 40 to 43.
    let times: Vec<u64> = (0..48)
        .map(|k| now_ms - 24 * DAY_MS + k * DAY_MS / 2)
        .collect();
    for (i, &t) in times.iter().enumerate() {
        file.append(&entry_at(t, i as u64)).unwrap();
    }
    // The second append found the first entry old and archived it; age is checked
    // again an hour later.
    assert_eq!(parsed(file.path()).len(), 47);
    clock.fetch_add(3_600_001, Ordering::SeqCst);
    let appended = file.append(&entry_at(now_ms, 48)).unwrap();
    let cutoff = now_ms + 3_600_001 - 7 * DAY_MS;
    let old = times.iter().filter(|&&t| t < cutoff).count() as u64;
    assert_eq!(appended.archived, old - 1);
    assert_eq!(appended.total_entries, 49 - old);
    let main = parsed(file.path());
    assert!(main.iter().all(|e| lookout_time(e) >= cutoff));
    let weeks = archived(file.archive_dir());
    let names: Vec<&str> = weeks.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "telemetry-2025-W40.json",
            "telemetry-2025-W41.json",
            "telemetry-2025-W42.json"
        ]
    );
    for (name, entries) in &weeks {
        for e in entries {
            assert_eq!(
                archive_path(file.archive_dir(), lookout_time(e))
                    .file_name()
                    .unwrap(),
                name.as_str()
            );
        }
    }
    // Old entries arriving late are merged into their week's existing archive, in time order.
    let late = now_ms - 20 * DAY_MS + 1; // week 40
    file.append(&entry_at(late, 100)).unwrap();
    clock.fetch_add(3_600_001, Ordering::SeqCst);
    file.append(&entry_at(now_ms, 101)).unwrap();
    let week_40 = &archived(file.archive_dir())[0];
    assert!(week_40.1.iter().any(|e| e["inputs"]["i"] == 100));
    let order: Vec<u64> = week_40.1.iter().map(lookout_time).collect();
    assert!(order.is_sorted(), "{order:?}");
    // Every entry is in exactly one place.
    let mut everything: Vec<u64> = parsed(file.path())
        .iter()
        .chain(archived(file.archive_dir()).iter().flat_map(|w| &w.1))
        .map(|e| e["inputs"]["i"].as_u64().unwrap())
        .collect();
    everything.sort_unstable();
    let mut expected: Vec<u64> = (0..49).collect();
    expected.extend([100, 101]);
    assert_eq!(everything, expected);
}

fn lookout_time(entry: &Value) -> u64 {
    let time = parse_rfc3339(entry["timestamp"].as_str().unwrap()).unwrap();
    time.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn the_cap_holds_and_what_it_moves_out_is_archived() {
    let dir = tempfile::tempdir().unwrap();
    let now_ms = 1_764_000_000_000;
    let clock = Arc::new(AtomicU64::new(now_ms));
    let file = TelemetryFile::new(dir.path())
        .clock(clock_at(&clock))
        .rotation(Rotation::default().max_entries(10));
    for i in 0..25 {
        let appended = file.append(&entry_at(now_ms - 1000 + i, i)).unwrap();
        assert!(appended.total_entries <= 10, "{appended:?}");
        assert_eq!(parsed(file.path()).len() as u64, appended.total_entries);
    }
    let main = parsed(file.path());
    let archives = archived(file.archive_dir());
    let mut all: Vec<u64> = archives
        .iter()
        .flat_map(|w| &w.1)
        .chain(&main)
        .map(|e| e["inputs"]["i"].as_u64().unwrap())
        .collect();
    assert_eq!(all.len(), 25);
    all.sort_unstable();
    assert_eq!(all, (0..25).collect::<Vec<_>>());
    // The newest stay in the main file.
    assert_eq!(main.last().unwrap()["inputs"]["i"], 24);
}

/// Runs `jq ARGS FILE` (or a shell line) and returns its stdout.
fn jq(dir: &Path, line: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `jq`'s ten slowest (a JSON array) are the ten longest durations of `entries`.
fn assert_ten_slowest(answer: &str, entries: &[Value]) {
    let slowest: Vec<Value> = serde_json::from_str(answer).unwrap();
    let top: Vec<u64> = slowest
        .iter()
        .map(|e| e["duration_ms"].as_u64().unwrap())
        .collect();
    let mut durations: Vec<u64> = entries
        .iter()
        .map(|e| e["duration_ms"].as_u64().unwrap())
        .collect();
    durations.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(top, durations[..10]);
}

#[test]
fn seed_000s_jq_recipes_run_against_the_file_and_the_archives() {
    if lookout_testkit::require_tool("jq", "Debian package jq").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let now = SystemTime::now();
    let now_ms = now.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let clock = Arc::new(AtomicU64::new(now_ms));
    let file = TelemetryFile::new(&registry).clock(clock_at(&clock));
    let skills = ["workflow.compose", "workflow.validate", "agent.define"];
    let callers = [Some("cli"), Some("workflow"), None];
    let mut written = Vec::new();
    // 60 entries: the first 30 three weeks old (archived), the last 30 within the hour.
    for i in 0..60u64 {
        let at = if i < 30 {
            now_ms - 21 * DAY_MS + i * 60_000
        } else {
            now_ms - 3_000_000 + i * 1000
        };
        let mut e = entry_at(at, i);
        e["skill"] = json!(skills[i as usize % 3]);
        e["status"] = json!(if i % 4 == 0 { "failed" } else { "success" });
        e["duration_ms"] = json!((i * 37) % 101);
        if let Some(caller) = callers[i as usize % 3] {
            e["caller"] = json!(caller);
        }
        if i % 5 == 0 {
            e["workflow"] = json!("deployment-pipeline");
            e["agent"] = json!("orchestrator");
        }
        file.append(&e).unwrap();
        written.push(e);
    }
    clock.fetch_add(3_600_001, Ordering::SeqCst);
    file.append(&written[59]).unwrap();
    written.push(written[59].clone());
    let (old, current) = written.split_at(30);
    let main = "registry/telemetry.json";

    assert_eq!(jq(dir.path(), &format!("jq 'length' {main}")).trim(), "31");
    let failed = jq(
        dir.path(),
        &format!("jq -c '.[] | select(.status == \"failed\")' {main}"),
    );
    assert_eq!(
        failed.lines().count(),
        current.iter().filter(|e| e["status"] == "failed").count()
    );
    let compose: Vec<f64> = current
        .iter()
        .filter(|e| e["skill"] == "workflow.compose")
        .map(|e| e["duration_ms"].as_f64().unwrap())
        .collect();
    let average: f64 = jq(
        dir.path(),
        &format!("jq '[.[] | select(.skill == \"workflow.compose\") | .duration_ms] | add / length' {main}"),
    )
    .trim()
    .parse()
    .unwrap();
    assert!((average - compose.iter().sum::<f64>() / compose.len() as f64).abs() < 1e-9);
    assert_ten_slowest(
        &jq(
            dir.path(),
            &format!("jq 'sort_by(.duration_ms) | reverse | .[0:10]' {main}"),
        ),
        current,
    );
    let by_caller: Vec<Value> = serde_json::from_str(&jq(
        dir.path(),
        &format!("jq 'group_by(.caller) | map({{caller: .[0].caller, count: length}})' {main}"),
    ))
    .unwrap();
    for group in &by_caller {
        let count = current
            .iter()
            .filter(|e| e.get("caller").unwrap_or(&Value::Null) == &group["caller"])
            .count();
        assert_eq!(group["count"], count, "{group}");
    }
    assert_eq!(by_caller.len(), 3);
    for (field, value) in [
        ("workflow", "deployment-pipeline"),
        ("agent", "orchestrator"),
    ] {
        let found = jq(
            dir.path(),
            &format!("jq -c '.[] | select(.{field} == \"{value}\")' {main}"),
        );
        assert_eq!(
            found.lines().count(),
            current.iter().filter(|e| e[field] == value).count()
        );
    }
    let last_hour = jq(
        dir.path(),
        &format!(
            "jq -c --arg cutoff \"$(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%S)\" '.[] | select(.timestamp > $cutoff)' {main}"
        ),
    );
    assert_eq!(last_hour.lines().count(), 31);

    // The archives.
    let weeks = jq(
        dir.path(),
        "ls -1 registry/telemetry_archive/ | grep -o 'W[0-9]*'",
    );
    let expected: BTreeSet<String> = old
        .iter()
        .map(|e| {
            let name = archive_path(Path::new(""), lookout_time(e));
            let name = name.to_str().unwrap().to_owned();
            name[name.len() - 8..name.len() - 5].to_owned()
        })
        .collect();
    assert_eq!(
        weeks.lines().map(str::to_owned).collect::<BTreeSet<_>>(),
        expected
    );
    let week = jq(dir.path(), "ls registry/telemetry_archive/*.json | head -1");
    let successes = jq(
        dir.path(),
        &format!(
            "jq -c '.[] | select(.status == \"success\")' {}",
            week.trim()
        ),
    );
    assert!(successes.lines().count() > 0);
    assert_eq!(
        jq(
            dir.path(),
            "jq -s 'add' registry/telemetry_archive/*.json | jq 'length'"
        )
        .trim(),
        "30"
    );
    assert_eq!(
        jq(
            dir.path(),
            "jq -s 'add | length' registry/telemetry_archive/*.json"
        )
        .trim(),
        "30"
    );
    assert_ten_slowest(
        &jq(
            dir.path(),
            "jq -s 'add | sort_by(.duration_ms) | reverse | .[0:10]' registry/telemetry_archive/*.json",
        ),
        old,
    );
}

#[cfg(feature = "store")]
mod captured {
    use lookout::Telemetry;
    use lookout::store::rusqlite::Connection;
    use serde_json::{Value, json};
    use std::path::Path;

    fn telemetry(base: &Path) -> Telemetry {
        crate::util::store_telemetry(base, &[])
    }

    fn file(base: &Path) -> Vec<Value> {
        super::parsed(&base.join("registry/telemetry.json"))
    }

    #[test]
    fn an_entry_is_a_span_a_record_a_line_and_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let telemetry = telemetry(dir.path());
        let skills = telemetry.skills();
        let entry = skills
            .create_entry(
                "policy.enforce",
                r#"{"policy": "naming", "api_key": "sk-live-123456789012"}"#,
                "failed",
                "450",
                [None, Some("validation-pipeline"), Some("workflow")],
            )
            .unwrap();
        let captured = skills.capture(&entry).unwrap();
        assert_eq!(captured.total_entries, Some(1));
        assert!(telemetry.flush().is_ok());

        let db = Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
        let body: String = db
            .query_row(
                "SELECT body FROM telemetry_records WHERE kind = 'skill_entry'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["skill"], "policy.enforce");
        assert_eq!(body["inputs"]["api_key"], "[REDACTED]");
        let (name, status, duration_ns, trace): (String, String, i64, String) = db
            .query_row(
                "SELECT name, status_code, duration_ns, trace_id FROM telemetry_spans",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (name.as_str(), status.as_str()),
            ("skill policy.enforce", "error")
        );
        assert_eq!(
            duration_ns, 450_000_000,
            "the span lasts the entry's duration"
        );
        assert_eq!(body["trace_id"], trace);
        assert_eq!(file(dir.path()), vec![captured.entry]);
        let text = telemetry.prometheus_text();
        assert!(text.contains(
            "skill_executions_total{skill=\"policy.enforce\",status=\"failed\",caller=\"workflow\"} 1"
        ));
        assert!(text.contains("skill_duration_seconds_sum{skill=\"policy.enforce\"} 0.45"));
        assert!(text.contains(
            "skill_workflow_executions_total{workflow=\"validation-pipeline\",agent=\"\"} 1"
        ));
    }

    #[test]
    fn a_timed_call_nests_its_children_and_a_panic_or_drop_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let telemetry = telemetry(dir.path());
        let skills = telemetry.skills();
        let call = skills
            .call("repo.sync")
            .caller("agent")
            .agent("coder")
            .inputs(json!({"repo": "lookout", "password": "hunter2"}));
        {
            let _entered = call.enter();
            telemetry.start_tool("git").succeed();
        }
        let captured = call.finish("success").unwrap();
        assert_eq!(captured.entry["inputs"]["password"], "[REDACTED]");

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            skills.time("explodes", || -> Result<(), String> { panic!("boom") })
        }));
        assert!(panicked.is_err());
        drop(skills.call("abandoned"));
        let failed: Result<(), &str> = skills.time("refuses", || Err("no"));
        assert!(failed.is_err());
        assert!(telemetry.flush().is_ok());

        let statuses: Vec<(String, String)> = file(dir.path())
            .iter()
            .map(|e| {
                (
                    e["skill"].as_str().unwrap().to_owned(),
                    e["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("repo.sync", "success"),
            ("explodes", "failed"),
            ("abandoned", "failed"),
            ("refuses", "failed"),
        ];
        assert_eq!(
            statuses,
            expected.map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let db = Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
        let (parent, child_parent): (String, String) = db
            .query_row(
                "SELECT s.span_id, t.parent_span_id FROM telemetry_spans s, telemetry_spans t \
                 WHERE s.name = 'skill repo.sync' AND t.name = 'execute_tool git'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(parent, child_parent, "the tool call is the skill's child");
    }
}

/// The child of the next test: appends entries of ~3 KB (most cross a page) for ever,
/// saying `ok N` after each one is appended.
#[test]
#[ignore]
fn child_appends_until_killed() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let round: u64 = std::env::var(CHILD_INDEX).unwrap().parse().unwrap();
    let file = TelemetryFile::new(&dir);
    let pad = "p".repeat(3000);
    for i in 0.. {
        let entry = json!({"timestamp": lookout::json::rfc3339(SystemTime::now()), "skill": "k",
                           "inputs": {"round": round, "i": i, "pad": pad}, "status": "success",
                           "duration_ms": 1});
        file.append(&entry).unwrap();
        println!("ok {i}");
    }
}

#[test]
fn appends_killed_midway_lose_nothing_acknowledged_and_leave_a_valid_array() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = 0;
    for round in 0..5u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "skills::child_appends_until_killed",
                "--nocapture",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_INDEX, round.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Killed after a varying number of appends, mid-write or between writes.
        let wanted = 200 + round * 137;
        let mut last = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ok ") {
                last = Some(n.parse::<u64>().unwrap());
                if last == Some(wanted) {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // What the child said after its last acknowledged append may also have landed.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("ok ") {
                last = Some(n.parse().unwrap());
            }
        }
        let last = last.expect("the child appended");
        let file = TelemetryFile::new(dir.path());
        let entries = file.read_entries().unwrap();
        assert_eq!(parsed(file.path()), entries, "a valid array on disk");
        let of_round: Vec<u64> = entries
            .iter()
            .filter(|e| e["inputs"]["round"] == round)
            .map(|e| e["inputs"]["i"].as_u64().unwrap())
            .collect();
        assert!(
            of_round.len() as u64 > last,
            "round {round}: {} < {}",
            of_round.len(),
            last + 1
        );
        assert_eq!(of_round, (0..of_round.len() as u64).collect::<Vec<_>>());
        acknowledged += last + 1;
        assert!(entries.len() as u64 >= acknowledged);
    }
}

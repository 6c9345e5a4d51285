//! `lookout record metric`, `lookout query` and `lookout stats` on a store filled from
//! NDJSON on stdin: answers equal to the test's own arithmetic, filters, and coded errors.

use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

fn lookout(base: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = crate::util::lookout()
        .args(args)
        .env(lookout::store::BASE_DIR_ENV, base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn points_recorded_from_a_shell_are_queried_and_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // 2026-01-01T10:00:00Z plus 0..120 minutes, one point a minute per agent type.
    let mut lines = String::new();
    let mut coder = Vec::new();
    for minute in 0..120u32 {
        for (agent, scale) in [("coder", 2.0), ("reviewer", 1.0)] {
            let value = scale * f64::from(1 + (minute * 37) % 11);
            if agent == "coder" {
                coder.push((minute, value));
            }
            let time = format!("2026-01-01T{:02}:{:02}:00Z", 10 + minute / 60, minute % 60);
            let line = json!({"name": "task_seconds", "value": value,
                              "labels": {"agent_type": agent}, "time": time});
            lines.push_str(&format!("{line}\n"));
        }
    }
    let recorded = lookout(base, &["record", "metric", "-", "--json"], Some(&lines));
    assert!(recorded.status.success(), "{recorded:?}");
    assert_eq!(
        String::from_utf8_lossy(&recorded.stdout).lines().count(),
        240
    );

    let range = [
        "--from",
        "2026-01-01T10:00:00Z",
        "--until",
        "2026-01-01T12:00:00Z",
    ];
    let mut args = vec![
        "query",
        "task_seconds",
        "--labels",
        "agent_type=coder",
        "--interval",
        "15m",
        "--json",
    ];
    args.extend(range);
    let answer = json_of(&lookout(base, &args, None));
    assert_eq!(
        answer.as_array().unwrap().len(),
        1,
        "the filter keeps coder"
    );
    let points = answer[0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 8, "two hours in 15-minute buckets");
    for (i, point) in points.iter().enumerate() {
        let bucket: Vec<f64> = coder
            .iter()
            .filter(|(m, _)| (*m as usize) / 15 == i)
            .map(|(_, v)| *v)
            .collect();
        let mean = bucket.iter().sum::<f64>() / bucket.len() as f64;
        assert!(
            (point["value"].as_f64().unwrap() - mean).abs() < 1e-9,
            "bucket {i}"
        );
    }
    assert_eq!(points[1]["time"], "2026-01-01T10:15:00.000Z");

    // The same from the points, and rollups refusing a range inside a minute.
    let points_args = [&args[..], &["--source", "points"]].concat();
    assert_eq!(json_of(&lookout(base, &points_args, None)), answer);
    let part = lookout(
        base,
        &[
            "query",
            "task_seconds",
            "--source",
            "rollups",
            "--from",
            "2026-01-01T10:00:30Z",
        ],
        None,
    );
    assert_eq!(part.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&part.stderr)
            .starts_with("error[E_QUERY]: rollups answer whole minutes"),
        "{part:?}"
    );

    let mut args = vec!["stats", "task_seconds", "--json"];
    args.extend(range);
    let stats = json_of(&lookout(base, &args, None));
    assert_eq!(
        (stats["count"].as_u64(), stats["series"].as_u64()),
        (Some(240), Some(2))
    );
    assert_eq!(
        (stats["min"].as_f64(), stats["max"].as_f64()),
        (Some(1.0), Some(22.0))
    );
    let table = lookout(
        base,
        &[
            "query",
            "task_seconds",
            range[0],
            range[1],
            range[2],
            range[3],
        ],
        None,
    );
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("{agent_type=reviewer}") && table.contains("avg per 5m"),
        "{table}"
    );

    let bad = lookout(base, &["query", "task_seconds", "--agg", "median"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).starts_with("error[INVALID_AGGREGATION]"),
        "{bad:?}"
    );
    let bad = lookout(base, &["record", "metric", "9lives", "1"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not a metric name"),
        "{bad:?}"
    );
    let bad = lookout(
        base,
        &["record", "metric", "-"],
        Some("{\"name\": \"x\", \"value\": 1}\n{\"value\": 2}\n"),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 2"),
        "{bad:?}"
    );
}

#[test]
fn events_from_a_shell_answer_as_seed_004_does() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let ok = json_of(&lookout(
        base,
        &[
            "record",
            "event",
            "COMMAND",
            "--source",
            "shell",
            "--data",
            r#"{"command": "deploy"}"#,
            "--json",
        ],
        None,
    ));
    assert_eq!(ok["status"], "success");
    assert!(ok["event_id"].is_string() && ok["timestamp"].is_string());

    let bad = lookout(
        base,
        &["record", "event", "command", "--data", "not json"],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.starts_with("error[INVALID_EVENT]: event validation failed: 3 problems"),
        "{said}"
    );
    assert_eq!(said.matches("\n  - ").count(), 3, "{said}");

    let same = r#"{"event_type": "OPERATION", "source": "loop", "data": {"n": 1}}"#;
    let lines = format!("{}\n", [same; 11].join("\n"));
    let looped = lookout(base, &["record", "event", "-", "--json"], Some(&lines));
    assert_eq!(looped.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&looped.stderr).starts_with("error[LOOP_DETECTED]"),
        "{looped:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&looped.stdout).lines().count(),
        10,
        "ten recorded first"
    );
}

#[test]
fn a_registry_histogram_in_the_store_answers_its_percentiles_by_name() {
    use lookout::config::{Config, env_map};
    use lookout::metrics::{Descriptor, HistogramOptions};
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().display().to_string();
    let config = Config::default()
        .with_env(&env_map(&[(lookout::store::BASE_DIR_ENV, &base)]))
        .unwrap();
    let telemetry = lookout::Telemetry::builder()
        .config(config)
        .build()
        .unwrap();
    let family = telemetry
        .registry()
        .histogram_with(
            Descriptor::new("tool_duration_seconds", "Tool call durations.")
                .unit("seconds")
                .labels(["tool"]),
            &HistogramOptions::seconds(),
        )
        .unwrap();
    // 2,000 durations, log-uniform from 10 ms to 20 s, in two exports.
    let mut values: Vec<f64> = (0..2000u32)
        .map(|i| 0.01 * 2000f64.powf(f64::from((i * 7919) % 2000) / 2000.0))
        .collect();
    for half in values.chunks(1000) {
        for value in half {
            family.observe(&["grep"], *value);
        }
        assert!(telemetry.flush().is_ok());
    }
    drop(telemetry);
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // The seconds preset's bounds, up to where the values end.
    let bucket = |x: f64| {
        [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]
        .iter()
        .position(|b| x <= *b)
    };
    for (agg, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let answer = json_of(&lookout(
            dir.path(),
            &[
                "query",
                "tool_duration_seconds",
                "--labels",
                "tool=grep",
                "--agg",
                agg,
                "--interval",
                "1h",
                "--json",
            ],
            None,
        ));
        let series = answer.as_array().unwrap();
        assert_eq!(series.len(), 1, "{answer}");
        assert_eq!(series[0]["kind"], "histogram");
        assert!(series[0]["labels"].get("instance").is_none());
        let points = series[0]["points"].as_array().unwrap();
        assert_eq!(points.len(), 1, "{answer}");
        let value = points[0]["value"].as_f64().unwrap();
        let exact = lookout_query::functions::percentile(&values, q).unwrap();
        assert_eq!(
            bucket(value),
            bucket(exact),
            "{agg}: {value} vs exact {exact}"
        );
    }
}

#[test]
fn clear_asks_first_and_then_removes_from_index_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let lines = "{\"name\": \"depth\", \"value\": 1}\n{\"name\": \"depth\", \"value\": 2}\n";
    assert!(
        lookout(base, &["record", "metric", "-"], Some(lines))
            .status
            .success()
    );
    let series = |base| json_of(&lookout(base, &["query", "depth", "--json"], None));

    let no = lookout(base, &["clear", "metrics"], Some("n\n"));
    assert_eq!(no.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no.stderr).contains("nothing cleared"));
    let silent = lookout(base, &["clear", "metrics"], None);
    assert_eq!(silent.status.code(), Some(1), "no answer is no");
    assert_eq!(series(base).as_array().unwrap().len(), 1);

    let yes = lookout(base, &["clear", "metrics", "--json"], Some("y\n"));
    let cleared = json_of(&yes);
    assert_eq!(
        (cleared["rows"].as_u64(), cleared["log_lines"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(series(base).as_array().unwrap().is_empty());
    let raw = std::fs::read_dir(base.join("raw")).unwrap();
    for file in raw.filter_map(Result::ok).filter(|f| f.path().is_file()) {
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(!text.contains("\"metric_point\""), "{text}");
    }

    let again = lookout(base, &["clear", "all", "--yes"], None);
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("cleared all: "));
    let bad = lookout(base, &["clear", "logs", "--yes"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not metrics, traces, events or all"));
}

#[test]
fn diff_calls_a_slower_tool_and_says_which_prices() {
    use lookout::store::{Record, RecordKind, Store, StoreConfig};
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let start = SystemTime::now() - Duration::from_secs(600);
    for (c, (commit, grep)) in [("1111aaaa", 0.40), ("2222bbbb", 0.52)]
        .into_iter()
        .enumerate()
    {
        for i in 0..12u64 {
            let trace = (c as u128 + 1) << 64 | u128::from(i);
            let jitter = Duration::from_millis(i * 3);
            let mut tool = lookout_export::testing::span(trace, 2, "execute_tool grep");
            tool.start_time = start;
            tool.end_time = start + Duration::from_secs_f64(grep) + jitter;
            let mut llm = lookout_export::testing::span(trace, 3, "chat gpt");
            llm.start_time = start;
            llm.end_time = start + Duration::from_secs(1) + jitter;
            llm.attributes = vec![
                lookout_export::KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
                lookout_export::KeyValue::new("gen_ai.usage.input_tokens", 1000 + i as i64),
            ];
            store.record_spans([tool, llm]);
            store.record(Record::new(
                RecordKind::Run,
                json!({"run_id": format!("{commit}-{i}"), "trace_id": format!("{trace:032x}"),
                       "git_commit_hash": commit, "status": "success"}),
            ));
        }
    }
    drop(store);
    let diff = |args: &[&str]| lookout(dir.path(), &[&["diff"], args].concat(), None);
    let answer = json_of(&diff(&[
        "--commit",
        "2222",
        "--against",
        "1111aa",
        "--json",
    ]));
    assert!(answer["prices"].as_str().unwrap().starts_with("bundled "));
    let rows = answer["comparisons"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(row("execute_tool grep")["verdicts"], json!(["slower"]));
    assert_eq!(row("chat gpt")["verdicts"], json!(["no change"]));
    assert_eq!(row("chat gpt")["priced_as"], json!(["gpt-4o-mini"]));
    assert_eq!(row("chat gpt")["this"]["costs_computed"], 12);
    let table = diff(&["--commit", "2222", "--against", "1111", "--name", "grep"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("execute_tool grep") && text.contains("slower"),
        "{text}"
    );
    assert!(!text.contains("chat gpt"), "{text}");

    let missing = diff(&["--commit", "3333", "--against", "1111"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).starts_with("error[E_NOT_FOUND]"),
        "{missing:?}"
    );
    let bad = diff(&["--commit", "zz%", "--against", "1111"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).starts_with("error[E_INVALID]"),
        "{bad:?}"
    );
    assert_eq!(
        diff(&["--commit", "2222"]).status.code(),
        Some(2),
        "needs --against"
    );
}

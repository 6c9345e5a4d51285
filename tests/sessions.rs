//! Sessions (seed 001): every event type through a session, its trace and records in the
//! store, the session file round trip, sampling that keeps sessions whole, refusals.

use lookout::Telemetry;
use lookout::sessions::{EventType, Sessions};
use lookout::store::rusqlite::Connection;
use serde_json::{Value, json};
use std::path::Path;

fn telemetry(base: &Path, rate: &str) -> Telemetry {
    crate::util::store_telemetry(base, &[(lookout::config::SESSION_SAMPLE_RATE_ENV, rate)])
}

/// A session with every event type: two tools (one fails), an LLM call, an error.
fn full_session(sessions: &Sessions) -> String {
    let id = sessions.start_session(
        "Deploy my app to Azure",
        json!({"environment": "production", "user_id": "user123"}),
    );
    let events = [
        ("skill.invoked", Some("azure-deploy"), json!({})),
        (
            "tool.called",
            None,
            json!({"tool": "az", "args": ["webapp", "create"]}),
        ),
        (
            "llm.request",
            None,
            json!({"model": "claude", "tokens": 1200}),
        ),
        (
            "llm.response",
            None,
            json!({"model": "claude", "latency_ms": 800, "output_tokens": 300}),
        ),
        (
            "tool.completed",
            None,
            json!({"tool": "az", "success": true}),
        ),
        (
            "tool.called",
            None,
            json!({"tool": "kubectl", "args": ["apply"]}),
        ),
        (
            "tool.completed",
            None,
            json!({"tool": "kubectl", "success": false, "error": "timeout"}),
        ),
        (
            "error",
            None,
            json!({"error_type": "DeployError", "message": "rollout slow"}),
        ),
    ];
    for (kind, skill, data) in events {
        sessions.record_event(&id, kind, skill, data).unwrap();
    }
    sessions
        .end_session(
            &id,
            "Deployed to https://myapp.azurewebsites.net",
            true,
            None,
        )
        .unwrap();
    id
}

#[test]
fn a_session_with_every_event_type_is_a_trace_records_and_a_file_that_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path(), "1");
    let sessions = telemetry.sessions();
    let id = full_session(sessions);
    assert!(telemetry.flush().is_ok());

    let kept = sessions.sessions();
    assert_eq!(kept.len(), 1);
    let session = &kept[0];
    for kind in EventType::ALL {
        assert!(session.count(kind) >= 1, "{kind:?}");
    }
    assert_eq!(session.tool_calls.len(), 2);
    assert_eq!(session.tool_calls[1]["error"], "timeout");
    assert_eq!(session.tokens(), 1500);

    // The file: every field back as it was, the person behind user_id pseudonymised.
    let file = dir.path().join("telemetry/sessions-2024-01.json");
    assert_eq!(sessions.export_to_file(&file).unwrap(), 1);
    let loaded = Sessions::load_from_file(&file).unwrap();
    let mut expected = session.clone();
    let pseudonym = loaded[0].metadata["user_id"].as_str().unwrap().to_owned();
    assert!(pseudonym.starts_with("anon-") && pseudonym != "user123");
    expected.metadata["user_id"] = json!(pseudonym);
    assert_eq!(loaded, vec![expected]);
    // The wrapped shape and a single session load too.
    let one = serde_json::to_vec(&loaded[0]).unwrap();
    assert_eq!(lookout::sessions::parse(&one).unwrap(), loaded);
    let wrapped = serde_json::to_vec(&json!({"sessions": loaded})).unwrap();
    assert_eq!(lookout::sessions::parse(&wrapped).unwrap(), loaded);

    // The trace: a root and three children, with GenAI names and statuses.
    let db = Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
    let mut spans: Vec<(String, Option<String>, String, String)> = db
        .prepare("SELECT name, parent_span_id, span_id, status_code FROM telemetry_spans ORDER BY coalesce(parent_span_id, '') != '', name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(spans.len(), 4, "{spans:?}");
    let root = spans.remove(0);
    assert_eq!(
        (root.0.as_str(), root.3.as_str()),
        ("session azure-deploy", "ok")
    );
    assert!(root.1.as_deref().is_none_or(str::is_empty));
    let mut children: Vec<(&str, &str)> =
        spans.iter().map(|s| (s.0.as_str(), s.3.as_str())).collect();
    children.sort_unstable();
    assert_eq!(
        children,
        [
            ("chat claude", "ok"),
            ("execute_tool az", "ok"),
            ("execute_tool kubectl", "error")
        ]
    );
    assert!(
        spans
            .iter()
            .all(|s| s.1.as_deref() == Some(root.2.as_str()))
    );
    let attributes: String = db
        .query_row(
            "SELECT attributes FROM telemetry_spans WHERE name = 'chat claude'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let attributes: Value = serde_json::from_str(&attributes).unwrap();
    assert_eq!(attributes["gen_ai.usage.input_tokens"], 1200);
    assert_eq!(attributes["gen_ai.usage.output_tokens"], 300);
    // The records: one per event, and the session with its rollup.
    let events: i64 = db
        .query_row(
            "SELECT count(*) FROM telemetry_records WHERE kind = 'session_event'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 8);
    let body: String = db
        .query_row(
            "SELECT body FROM telemetry_records WHERE kind = 'session'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["session_id"], id.as_str());
    assert_eq!(
        body["rollup"],
        json!({"duration_ms": session.duration_ms(), "events": 8,
               "events_by_type": {"skill.invoked": 1, "tool.called": 2, "llm.request": 1,
                                  "llm.response": 1, "tool.completed": 2, "error": 1},
               "tool_calls": 2, "tokens": 1500, "errors": 1})
    );
    let text = telemetry.prometheus_text();
    assert!(text.contains("sessions_total{skill=\"azure-deploy\",outcome=\"success\"} 1"));
    assert!(text.contains("session_tool_calls_sum{skill=\"azure-deploy\"} 2"));
}

#[test]
fn concurrent_calls_of_one_tool_complete_by_their_call_id() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path(), "1");
    let sessions = telemetry.sessions();
    let id = sessions.start_session("Read two files at once", Value::Null);
    let event = |kind: &str, data: Value| sessions.record_event(&id, kind, None, data).unwrap();
    event(
        "tool.called",
        json!({"tool": "Read", "call_id": "a", "args": ["a.rs"]}),
    );
    event(
        "tool.called",
        json!({"tool": "Read", "call_id": "b", "args": ["b.rs"]}),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    // The second call ends first, failing; then the first.
    event(
        "tool.completed",
        json!({"tool": "Read", "call_id": "b", "success": false, "error": "not_found"}),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    event(
        "tool.completed",
        json!({"tool": "Read", "call_id": "a", "success": true}),
    );
    sessions.end_session(&id, "read", true, None).unwrap();
    assert!(telemetry.flush().is_ok());

    let session = sessions.ended(&id).unwrap();
    let calls: Vec<(&Value, &Value, &Value)> = session
        .tool_calls
        .iter()
        .map(|c| (&c["call_id"], &c["success"], &c["args"]))
        .collect();
    assert_eq!(
        calls,
        [
            (&json!("a"), &json!(true), &json!(["a.rs"])),
            (&json!("b"), &json!(false), &json!(["b.rs"]))
        ]
    );
    // Each span ends with its own call: the failed one first.
    let db = Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
    let ended: Vec<(String, String)> = db
        .prepare("SELECT status_code, json_extract(attributes, '$.\"lookout.tool.args\"') FROM telemetry_spans WHERE name = 'execute_tool Read' ORDER BY end_time_unix_nano")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        ended,
        [
            ("error".to_owned(), r#"["b.rs"]"#.to_owned()),
            ("ok".to_owned(), r#"["a.rs"]"#.to_owned())
        ]
    );
}

/// `is_sampled("job-1001")` ... `("job-1012")` at a rate of 0.25.
const GOLDEN_AT_A_QUARTER: [bool; 12] = [
    false, false, false, true, true, true, false, false, true, false, false, false,
];

#[test]
fn sampling_keeps_sessions_whole_and_counts_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path(), "0.25");
    let sessions = telemetry.sessions();
    let mut expected_kept = 0;
    for n in 0..400 {
        let id = sessions.start_session(&format!("task {n}"), json!({}));
        expected_kept += usize::from(sessions.is_sampled(&id));
        sessions
            .record_event(&id, "tool.called", None, json!({"tool": "grep"}))
            .unwrap();
        sessions
            .record_event(&id, "tool.completed", None, json!({"tool": "grep"}))
            .unwrap();
        sessions.end_session(&id, "done", n % 3 != 0, None).unwrap();
    }
    assert!(telemetry.flush().is_ok());
    assert!(
        (60..140).contains(&expected_kept),
        "about a quarter: {expected_kept}"
    );
    assert_eq!(sessions.sessions().len(), expected_kept);
    let db = Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM telemetry_records WHERE kind = 'session'"),
        expected_kept as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM telemetry_records WHERE kind = 'session_event'"),
        2 * expected_kept as i64,
        "a kept session keeps all its events"
    );
    assert_eq!(
        count("SELECT count(*) FROM telemetry_spans WHERE name = 'session'"),
        expected_kept as i64
    );
    // The decision is the id's alone, fixed for ever (every process and version agrees):
    // ids a byte apart fall apart.
    let decisions: Vec<bool> = (1001..1013)
        .map(|n| sessions.is_sampled(&format!("job-{n}")))
        .collect();
    assert_eq!(decisions, GOLDEN_AT_A_QUARTER);
    let text = telemetry.prometheus_text();
    let counted: u64 = ["success", "failed"]
        .iter()
        .map(|outcome| {
            let prefix = format!("sessions_total{{skill=\"\",outcome=\"{outcome}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(counted, 400, "metrics count every session");
}

#[test]
fn refusals_each_have_a_code() {
    let telemetry = Telemetry::builder()
        .without_env_exporters()
        .build()
        .unwrap();
    let sessions = telemetry.sessions();
    let error = sessions
        .record_event("nope", "error", None, json!({}))
        .unwrap_err();
    assert_eq!(error.code(), "E_UNKNOWN_SESSION");
    let id = sessions.start_session("p", Value::Null);
    let error = sessions
        .record_event(&id, "tool.exploded", None, json!({}))
        .unwrap_err();
    assert_eq!(error.code(), "E_EVENT_TYPE");
    assert!(error.to_string().contains("tool.called"));
    let error = sessions
        .record_event(&id, "error", None, json!([1]))
        .unwrap_err();
    assert_eq!(
        (error.code(), error.to_string().as_str()),
        (
            "E_EVENT_DATA",
            "event data must be a JSON object, got an array"
        )
    );
    sessions
        .end_session(&id, "", false, Some("gave up"))
        .unwrap();
    assert_eq!(
        sessions
            .end_session(&id, "", false, None)
            .unwrap_err()
            .code(),
        "E_UNKNOWN_SESSION"
    );
    // Secrets in what a session records never stay.
    let id = sessions.start_session(
        "mail ada@example.com the report",
        json!({"api_key": "k-123"}),
    );
    sessions.record_event(&id, "tool.called", None, json!({"tool": "curl", "args": ["-H", "Authorization: Bearer abc.def.ghi"], "password": "hunter2"})).unwrap();
    let session = sessions
        .end_session(
            &id,
            "sent to grace@example.org",
            false,
            Some("token sk-live-0123456789abcdef rejected"),
        )
        .unwrap();
    let text = serde_json::to_string(&session).unwrap();
    for secret in [
        "ada@example.com",
        "k-123",
        "hunter2",
        "abc.def.ghi",
        "grace@example.org",
        "sk-live-0123456789abcdef",
    ] {
        assert!(!text.contains(secret), "{secret}: {text}");
    }
}

#[test]
fn no_secret_reaches_the_store_its_log_or_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let config = lookout::config::Config::default()
        .with_env(&lookout::config::env_map(&[(
            lookout::store::BASE_DIR_ENV,
            dir.path().to_str().unwrap(),
        )]))
        .unwrap();
    let telemetry = Telemetry::builder()
        .config(config)
        .redactor(lookout::redact::Redactor::default().key_word("badge"))
        .build()
        .unwrap();
    let sessions = telemetry.sessions();
    let secrets = [
        "ada@example.com",
        "hunter2-pw",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
        "badge-7731",
        "xoxb-123456789012-abcdefghijklmn",
    ];
    let id = sessions.start_session(
        &format!("email {} the report", secrets[0]),
        json!({"db_password": secrets[1], "badge": secrets[3]}),
    );
    sessions
        .record_event(
            &id,
            "tool.called",
            None,
            json!({"tool": "gh", "args": [secrets[2]]}),
        )
        .unwrap();
    sessions
        .record_event(
            &id,
            "llm.request",
            None,
            json!({"model": "m", "tokens": 3, "prompt": secrets[4]}),
        )
        .unwrap();
    sessions.end_session(&id, "done", true, None).unwrap();
    let skills = telemetry.skills();
    let entry = skills
        .create_entry(
            "s",
            &json!({"badge": secrets[3], "to": secrets[0]}).to_string(),
            "success",
            "1",
            [None, None, None],
        )
        .unwrap();
    skills.capture(&entry).unwrap();
    sessions
        .export_to_file(dir.path().join("export/sessions.json"))
        .unwrap();
    assert!(telemetry.flush().is_ok());
    drop(telemetry);
    let files = lookout_testkit::files_under(dir.path());
    let mut read = 0;
    for file in &files {
        // The database's -wal and -shm files go when its last connection closes.
        let Ok(bytes) = std::fs::read(file) else {
            continue;
        };
        read += 1;
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in {}", file.display());
        }
    }
    assert!(
        read >= 4,
        "the database, the log, telemetry.json, the export: {files:?}"
    );
}

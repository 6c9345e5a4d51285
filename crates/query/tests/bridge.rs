//! Seed 004's bridge records for real: every error code triggered by what causes it (an
//! invalid event, a loop, an unwritable store, an unknown aggregation, an unreadable
//! store), the response shapes, and get_metrics against the test's own arithmetic.

use lookout_query::bridge::{Bridge, BridgeConfig, ErrorCode};
use lookout_store::metrics::PointValue;
use lookout_store::{Store, StoreConfig};
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

fn bridge(dir: &std::path::Path) -> Bridge {
    Bridge::new(Store::open(StoreConfig::new(dir)), BridgeConfig::default())
}

#[test]
fn events_are_validated_stored_and_loops_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = bridge(dir.path());
    let event = json!({"event_type": "COMMAND", "source": "bridge_core",
                       "data": {"command": "status", "ok": true}});
    let recorded = bridge.record_event(&event).unwrap();
    let answer = serde_json::to_value(&recorded).unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["event_id"].as_str().unwrap().len(), 36);
    assert!(answer["timestamp"].as_str().unwrap().ends_with('Z'));
    // Answered once durable: in the log, synced (the index takes it just after).
    let logged = lookout_testkit::files_under(&dir.path().join("raw"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "ndjson"))
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|line| serde_json::from_str::<serde_json::Value>(&line).unwrap())
        .find(|line| line["event_id"] == recorded.event_id.as_str())
        .expect("answered only once in the log");
    assert_eq!(logged["body"]["source"], "bridge_core");

    // Every problem is named at once.
    let bad =
        json!({"event_type": "command", "data": [1], "timestamp": "yesterday", "colour": "red"});
    let error = bridge.record_event(&bad).unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidEvent);
    let body = error.to_json();
    assert_eq!(body["status"], "error");
    assert_eq!(body["error"]["code"], "INVALID_EVENT");
    let problems = body["error"]["details"]["validation_errors"]
        .as_array()
        .unwrap();
    assert_eq!(problems.len(), 5, "{problems:?}");
    for needle in [
        "colour",
        "event_type",
        "source is required",
        "data must be",
        "timestamp",
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.as_str().unwrap().contains(needle)),
            "{needle}: {problems:?}"
        );
    }
    assert_eq!(body["error"]["details"]["received_event"], bad);
    assert_eq!(
        bridge.record_event(&json!("text")).unwrap_err().code,
        ErrorCode::InvalidEvent
    );

    // A retry with the same id gets the first answer, stored once; the id reused for
    // another event is refused.
    let with_id = json!({"event_type": "COMMAND", "source": "retrying", "data": {"n": 1},
                         "event_id": "cmd-0001"});
    let first = bridge.record_event(&with_id).unwrap();
    let again = bridge.record_event(&with_id).unwrap();
    assert_eq!(first, again);
    let other = json!({"event_type": "COMMAND", "source": "retrying", "data": {"n": 2},
                       "event_id": "cmd-0001"});
    let reused = bridge.record_event(&other).unwrap_err();
    assert_eq!(reused.code, ErrorCode::InvalidEvent);
    assert!(reused.message.contains("cmd-0001"), "{reused}");

    // The same event an 11th time within a second is a loop; another event is not.
    let tick = json!({"event_type": "OPERATION", "source": "poller", "data": {"n": 1, "of": 2}});
    for _ in 0..10 {
        bridge.record_event(&tick).unwrap();
    }
    // The same event with its keys in another order is the same event.
    let reordered = serde_json::from_str(
        r#"{"data": {"of": 2, "n": 1}, "source": "poller", "event_type": "OPERATION"}"#,
    )
    .unwrap();
    let looped = bridge.record_event(&reordered).unwrap_err();
    assert_eq!(looped.code, ErrorCode::LoopDetected);
    assert_eq!(looped.to_json()["error"]["code"], "LOOP_DETECTED");
    bridge
        .record_event(&json!({"event_type": "OPERATION", "source": "poller", "data": {"n": 2}}))
        .unwrap();
    let health = bridge.health_check();
    assert_eq!(health["status"], "healthy");
    assert_eq!(
        health["stats"]["events_recorded"], 13,
        "the retry is not counted again"
    );
    assert_eq!(health["stats"]["loops_refused"], 1);
    assert_eq!(health["stats"]["data_retention_days"], 7);
    let usage = health["stats"]["storage_usage_percentage"]
        .as_f64()
        .unwrap();
    assert!((0.0..=100.0).contains(&usage));
}

#[test]
fn a_store_that_cannot_write_is_a_storage_failure() {
    let dir = tempfile::tempdir().unwrap();
    // The base directory lies under a regular file: no one, root included, can create it.
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let bridge = bridge(&file.join("store"));
    let error = bridge
        .record_event(&json!({"event_type": "COMMAND", "source": "s", "data": {}}))
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::StorageFailure, "{error}");
    let error = bridge
        .record_metric("latency_ms", PointValue::Number(1.0), None, None)
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::StorageFailure);
    let health = bridge.health_check();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(bridge.health_check()["stats"]["events_recorded"], 0);
}

#[test]
fn get_metrics_aggregates_as_seed_004_says() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = bridge(dir.path());
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let values = [135.0, 120.5, 160.0, 98.25, 141.0];
    for (i, value) in values.iter().enumerate() {
        let context = json!({"command": if i % 2 == 0 { "status" } else { "deploy" }});
        bridge
            .record_metric(
                "command_processing_time_ms",
                PointValue::Number(*value),
                context.as_object(),
                Some(start + Duration::from_secs(60 * i as u64)),
            )
            .unwrap();
    }
    bridge
        .record_metric(
            "successful_commands",
            PointValue::Number(1.0),
            None,
            Some(start),
        )
        .unwrap();
    bridge
        .record_metric(
            "build",
            PointValue::Text("v1.2.3".into()),
            None,
            Some(start),
        )
        .unwrap();
    let range = (start, start + Duration::from_secs(3600));
    let n = values.len() as f64;
    for (aggregation, want) in [
        ("MEAN", values.iter().sum::<f64>() / n),
        ("SUM", values.iter().sum()),
        ("MIN", 98.25),
        ("MAX", 160.0),
        ("COUNT", n),
    ] {
        let answer = bridge
            .get_metrics(
                Some(&["command_processing_time_ms"]),
                Some(range),
                aggregation,
            )
            .unwrap();
        let metric = &answer.metrics["command_processing_time_ms"];
        assert!((metric.value.unwrap() - want).abs() < 1e-9, "{aggregation}");
        assert_eq!(metric.sample_count, 5);
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["status"], "success");
        assert_eq!(
            json["metrics"]["command_processing_time_ms"]["aggregation"],
            aggregation
        );
        assert_eq!(
            json["metrics"]["command_processing_time_ms"]["time_range"]["start"],
            "2027-01-15T08:00:00.000Z"
        );
    }
    // All metrics, all time; a text-only metric has no numeric samples.
    let all = bridge.get_metrics(None, None, "SUM").unwrap();
    assert_eq!(all.metrics.len(), 3);
    assert_eq!(all.metrics["successful_commands"].value, Some(1.0));
    assert_eq!(all.metrics["build"].sample_count, 0);
    assert_eq!(
        all.metrics["command_processing_time_ms"].time_range.end,
        "2027-01-15T08:04:00.000Z"
    );
    // Only the window asked for.
    let early = bridge
        .get_metrics(
            Some(&["command_processing_time_ms"]),
            Some((start, start + Duration::from_secs(90))),
            "COUNT",
        )
        .unwrap();
    assert_eq!(early.metrics["command_processing_time_ms"].value, Some(2.0));

    let error = bridge.get_metrics(None, None, "MEDIAN").unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidAggregation);
    assert_eq!(error.to_json()["error"]["code"], "INVALID_AGGREGATION");
    let health = bridge.health_check();
    assert_eq!(health["stats"]["metrics_recorded"], 7);
}

#[test]
fn an_unreadable_store_is_a_retrieval_failure() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = bridge(dir.path());
    bridge
        .record_metric("depth", PointValue::Number(1.0), None, None)
        .unwrap();
    // The database file is replaced by a directory: nothing can be read there.
    let db = dir.path().join("db/telemetry.sqlite");
    std::fs::rename(&db, dir.path().join("moved.sqlite")).unwrap();
    std::fs::create_dir(&db).unwrap();
    let error = bridge
        .get_metrics(Some(&["depth"]), None, "MEAN")
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::RetrievalFailure);
    assert_eq!(error.to_json()["error"]["code"], "RETRIEVAL_FAILURE");
}

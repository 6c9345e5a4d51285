//! Monitors on a generated workload, evaluated every 15 s of its timeline: a rule fires
//! once its condition held for its `for`, resolves when it stops, with those times.

use lookout_query::monitors::{AlertState, MonitorConfig, Monitors};
use lookout_store::metrics::{PointValue, point_record};
use lookout_store::{Store, StoreConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const START: i64 = 1_767_225_600 * SECOND; // 2026-01-01T00:00:00Z

#[test]
fn a_rule_fires_after_its_for_and_resolves_with_the_right_times() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    // A point every 10 s for 30 minutes per agent: the coder's durations are 1 s, then
    // 5 s from minute 10 to minute 20; the reviewer's stay at 1 s.
    for agent in ["coder", "reviewer"] {
        for i in 0..180 {
            let time = START + i * 10 * SECOND;
            let slow =
                agent == "coder" && (START + 10 * MINUTE..START + 20 * MINUTE).contains(&time);
            let labels: BTreeMap<String, String> =
                [("agent_type".to_owned(), agent.to_owned())].into();
            store.record(point_record(
                "task_seconds",
                "gauge",
                &labels,
                PointValue::Number(if slow { 5.0 } else { 1.0 }),
                UNIX_EPOCH + Duration::from_nanos(time as u64),
            ));
        }
    }
    store.flush(Duration::from_secs(30)).unwrap();
    let config = MonitorConfig::parse(&json!({
        "interval": "15s",
        "rules": [{"name": "slow tasks", "metric": "task_seconds", "aggregation": "max",
                   "window": "1m", "comparison": ">", "threshold": 3, "for": "2m"}]
    }))
    .unwrap();
    assert_eq!(config.interval, Duration::from_secs(15));
    let mut monitors = Monitors::new(config.rules);
    let conn = lookout_store::open_reader(&store.config().db_path).unwrap();
    let mut alerts = Vec::new();
    let mut firing_at_15m = 0;
    let mut now = START + 15 * SECOND;
    while now <= START + 32 * MINUTE {
        let evaluation = monitors.evaluate(&conn, now);
        assert!(evaluation.failed.is_empty(), "{:?}", evaluation.failed);
        alerts.extend(evaluation.alerts);
        if now == START + 15 * MINUTE {
            firing_at_15m = monitors.firing()["slow tasks"];
        }
        now += 15 * SECOND;
    }
    assert_eq!(firing_at_15m, 1, "the coder fires, the reviewer does not");
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let (fired, resolved) = (&alerts[0], &alerts[1]);
    assert_eq!(fired.labels["agent_type"], "coder");
    // The window (the last minute, 10:00 excluded at the 10:00 evaluation) first holds a
    // 5 s point at 10:15; held for 2 minutes at 12:15.
    assert_eq!(
        (fired.state, fired.since, fired.at),
        (
            AlertState::Firing,
            START + 10 * MINUTE + 15 * SECOND,
            START + 12 * MINUTE + 15 * SECOND
        )
    );
    assert_eq!(fired.value, Some(5.0));
    // The last 5 s point is at 19:50; from 20:50 the window holds none.
    assert_eq!(
        (resolved.state, resolved.at),
        (AlertState::Resolved, START + 21 * MINUTE)
    );
    assert_eq!(resolved.since, fired.since);
    assert_eq!(resolved.value, Some(1.0));
    // The points end at 29:50: nothing is evaluated after 30:50, nothing fires again.
    assert_eq!(monitors.firing()["slow tasks"], 0);
    let record = fired.record();
    assert_eq!(record.body["state"], "firing");
    assert_eq!(record.body["at"], "2026-01-01T00:12:15.000Z");
}

#[test]
fn a_bad_rule_is_named_with_its_field() {
    let bad =
        |rule: serde_json::Value| MonitorConfig::parse(&json!({"rules": [rule]})).unwrap_err();
    let rule = json!({"name": "r", "metric": "m", "aggregation": "p95", "window": "5m",
                      "comparison": ">", "threshold": 1});
    assert!(MonitorConfig::parse(&json!({"rules": [rule.clone()]})).is_ok());
    let mut wrong = rule.clone();
    wrong["comparison"] = json!("=>");
    assert!(bad(wrong).starts_with("monitors.rules[0] (\"r\").comparison: \"=>\""));
    let mut wrong = rule.clone();
    wrong["aggregation"] = json!("median");
    assert!(bad(wrong).contains(".aggregation"));
    let mut wrong = rule.clone();
    wrong["window"] = json!("soon");
    assert!(bad(wrong).contains(".window"));
    let mut wrong = rule.clone();
    wrong["treshold"] = json!(1);
    assert!(bad(wrong).contains("unknown field `treshold`"));
    assert!(
        MonitorConfig::parse(&json!({"webhook": "ftp://x", "rules": []}))
            .unwrap_err()
            .starts_with("monitors.webhook")
    );
}

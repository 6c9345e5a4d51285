//! The store inside a Telemetry: spans land in it through the pipeline, its counts are on
//! /metrics.

use lookout::Telemetry;
use lookout::config::{Config, env_map};

#[test]
fn spans_reach_the_store_and_its_counts_are_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().display().to_string();
    let config = Config::default()
        .with_env(&env_map(&[(lookout::store::BASE_DIR_ENV, &base)]))
        .unwrap();
    let telemetry = Telemetry::builder().config(config).build().unwrap();
    let store = telemetry
        .store()
        .expect("TELEMETRY_BASE_DIR turns the store on")
        .clone();
    let root = telemetry
        .tracer()
        .start_trace("coordinator", lookout::trace::SpanKind::Server);
    {
        let _current = root.enter();
        telemetry.start_agent("coder-1", "coder", "code").succeed();
    }
    let trace_id = root.context().trace_id.to_string();
    root.end();
    assert!(telemetry.flush().is_ok());

    let conn = lookout::store::open_reader(&store.config().db_path).unwrap();
    let spans: Vec<(String, Option<String>)> = conn
        .prepare("SELECT name, service_name FROM telemetry_spans WHERE trace_id = ?1 ORDER BY name")
        .unwrap()
        .query_map([&trace_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0].0, "coordinator");
    assert_eq!(spans[1].0, "invoke_agent coder");
    assert!(
        spans[0]
            .1
            .as_deref()
            .unwrap()
            .starts_with("unknown_service:")
    );

    let text = telemetry.prometheus_text();
    assert!(
        text.contains("lookout_store_dropped_total{reason=\"queue_full\"} 0"),
        "{text}"
    );
    let logged: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("lookout_store_records_total{outcome=\"logged\"} "))
        .expect("the store's counts are exposed")
        .parse()
        .unwrap();
    let points: f64 = conn
        .query_row("SELECT COUNT(*) FROM telemetry_points", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        logged,
        2.0 + points,
        "two spans and the collection's points"
    );

    // The flush exported a collection: the counter as Prometheus names it, the histogram
    // as count, sum and cumulative buckets, each with its process.
    let point = |name: &str, le: Option<&str>| -> (f64, String) {
        conn.query_row(
            "SELECT value, labels FROM telemetry_metrics WHERE name = ?1
               AND json_extract(labels, '$.agent_type') = 'coder'
               AND (?2 IS NULL OR json_extract(labels, '$.le') = ?2)",
            lookout::store::rusqlite::params![name, le],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (executions, labels) = point("agent_execution_total", None);
    assert_eq!(executions, 1.0);
    assert!(labels.contains(r#""status":"success""#), "{labels}");
    assert!(
        labels.contains(r#""service":"unknown_service:"#),
        "{labels}"
    );
    assert!(labels.contains(r#""instance":""#), "{labels}");
    assert_eq!(point("agent_execution_duration_seconds_count", None).0, 1.0);
    assert_eq!(
        point("agent_execution_duration_seconds_bucket", Some("+Inf")).0,
        1.0
    );
    drop(telemetry);
    // Dropping the last handle leaves nothing unwritten.
    assert_eq!(store.stats().dropped_total(), 0);
}

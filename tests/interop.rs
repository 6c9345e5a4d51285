//! An application already on the prometheus crate serves Lookout's metrics from its
//! own registry.

use lookout::agent::ToolCall;
use lookout::prometheus::PrometheusCollector;
use prometheus::Encoder as _;
use std::time::Duration;

#[test]
fn a_prometheus_registry_gathers_lookout_beside_its_own_metrics() {
    let telemetry = lookout::Telemetry::new();
    for error in [None, None, Some("timeout")] {
        telemetry.agents().track_tool_usage(&ToolCall {
            tool: "Read",
            duration: Duration::from_millis(300),
            error,
        });
    }
    let registry = prometheus::Registry::new();
    let own = prometheus::IntCounter::new("app_requests_total", "Requests.").unwrap();
    own.inc_by(5);
    registry.register(Box::new(own)).unwrap();
    registry
        .register(Box::new(PrometheusCollector::new(
            telemetry.registry().clone(),
        )))
        .unwrap();

    let families = registry.gather();
    let family = |name: &str| {
        families
            .iter()
            .find(|f| f.name() == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let calls = family("tool_calls_total");
    let by_status = |status: &str| {
        calls
            .get_metric()
            .iter()
            .find(|m| m.get_label().iter().any(|l| l.value() == status))
            .unwrap()
            .get_counter()
            .value()
    };
    assert_eq!(by_status("success"), 2.0);
    assert_eq!(by_status("failure"), 1.0);
    let duration = family("tool_call_duration_seconds").get_metric()[0].get_histogram();
    assert_eq!(duration.get_sample_count(), 3);
    assert!((duration.get_sample_sum() - 0.9).abs() < 1e-9);
    let le_half = duration
        .get_bucket()
        .iter()
        .find(|b| b.upper_bound() == 0.5)
        .unwrap();
    assert_eq!(le_half.cumulative_count(), 3);
    assert_eq!(
        family("app_requests_total").get_metric()[0]
            .get_counter()
            .value(),
        5.0
    );

    // The prometheus crate's own encoder writes it out as one exposition.
    let mut text = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&families, &mut text)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("tool_calls_total{tool=\"Read\",status=\"success\"} 2"),
        "{text}"
    );
    assert!(text.contains("app_requests_total 5"));
}

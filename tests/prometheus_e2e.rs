//! A real Prometheus scrapes Lookout; what it stores is exactly what was recorded.

use crate::util::{NASTY, Prometheus, require_tool, serve};
use lookout::Telemetry;
use lookout::agent::{AgentExecution, ToolCall};
use lookout::metrics::HistogramOptions;
use std::time::Duration;

#[test]
fn prometheus_reads_back_exact_counters_and_matching_quantiles() {
    let Some(binary) = require_tool("prometheus") else {
        return;
    };
    let telemetry = Telemetry::new();
    let agents = telemetry.agents();
    for _ in 0..7 {
        agents.track_tool_usage(&ToolCall {
            tool: "Read",
            duration: Duration::from_millis(20),
            error: None,
        });
    }
    for _ in 0..3 {
        agents.track_tool_usage(&ToolCall {
            tool: "Bash",
            duration: Duration::from_secs(1),
            error: Some("exit_code"),
        });
    }
    for (i, nasty) in NASTY.iter().enumerate() {
        agents.track_tool_usage(&ToolCall {
            tool: nasty,
            duration: Duration::from_millis(5),
            error: None,
        });
        agents.track_agent_execution(&AgentExecution {
            agent_id: "a",
            agent_type: "coder",
            phase: "code",
            model: nasty,
            duration: Duration::from_secs(1),
            tokens: 1000 * (i as u64 + 1),
            success: true,
        });
    }
    // A latency distribution with a long tail, for the quantile comparison.
    let latency = telemetry
        .registry()
        .histogram_with(
            lookout::metrics::Descriptor::new("probe_latency_seconds", "Probe latency.")
                .unit("seconds")
                .labels(["probe"]),
            &HistogramOptions::seconds(),
        )
        .unwrap();
    let mut x = 0.5f64;
    for _ in 0..5000 {
        x = (x * 3.9 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9); // logistic map: deterministic, spread
        latency.observe(&["dns"], 0.002 * (x * 9.0).exp());
    }
    let hdr_p95 = latency.get(&["dns"]).unwrap().percentiles().unwrap().p95;

    let server = serve(&telemetry);
    let prometheus = Prometheus::start(&binary, server.local_addr());
    prometheus.wait_for_scrapes(3);

    assert_eq!(
        prometheus.scalar("tool_calls_total{tool=\"Read\",status=\"success\"}"),
        7.0
    );
    assert_eq!(
        prometheus.scalar("tool_calls_total{tool=\"Bash\",status=\"failure\"}"),
        3.0
    );
    assert_eq!(
        prometheus.scalar("tool_call_failure_total{tool=\"Bash\",error_type=\"exit_code\"}"),
        3.0
    );
    assert_eq!(
        prometheus.scalar("tool_call_success_total{tool=\"Read\"}"),
        7.0
    );
    assert_eq!(
        prometheus.scalar("tool_call_duration_seconds_count{tool=\"Bash\"}"),
        3.0
    );
    assert_eq!(
        prometheus.scalar("tool_call_duration_seconds_sum{tool=\"Bash\"}"),
        3.0
    );
    assert_eq!(prometheus.scalar("sum(agent_tokens_used_total)"), 15_000.0);

    // Escaped label values arrive intact.
    let by_model = prometheus.query("agent_tokens_used_total");
    for (i, nasty) in NASTY.iter().enumerate() {
        let value = by_model
            .iter()
            .find(|(labels, _)| labels["model"] == *nasty)
            .map(|r| r.1);
        assert_eq!(
            value,
            Some(1000.0 * (i as f64 + 1.0)),
            "model {nasty:?} in {by_model:?}"
        );
    }

    let promql_p95 = prometheus.scalar(
        "histogram_quantile(0.95, sum by (le) (probe_latency_seconds_bucket{probe=\"dns\"}))",
    );
    let bounds = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
        600.0,
    ];
    let bucket = |v: f64| bounds.partition_point(|b| *b < v);
    assert!(
        bucket(promql_p95).abs_diff(bucket(hdr_p95)) <= 1,
        "PromQL p95 {promql_p95} and HDR p95 {hdr_p95} are more than one bucket apart"
    );
    eprintln!("p95: PromQL {promql_p95:.4} s, HDR {hdr_p95:.4} s");
}

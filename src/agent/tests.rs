use super::*;
use crate::prometheus::{Format, encode_to_string};
use std::time::Duration;

fn setup() -> (Registry, AgentMetrics) {
    let registry = Registry::new();
    let agents = AgentMetrics::register(&registry).unwrap();
    (registry, agents)
}

fn text(registry: &Registry) -> String {
    encode_to_string(registry, Format::Text)
}

#[test]
fn registers_the_seed_families_with_their_labels() {
    let (registry, agents) = setup();
    // Registering twice is harmless: the same families come back.
    AgentMetrics::register(&registry).unwrap();
    agents.track_agent_execution(&AgentExecution {
        agent_id: "coder-123",
        agent_type: "coder",
        phase: "code",
        model: "sonnet",
        duration: Duration::from_millis(5000),
        tokens: 1500,
        success: true,
    });
    agents.track_tool_usage(&ToolCall {
        tool: "Read",
        duration: Duration::from_millis(250),
        error: None,
    });
    agents.track_tool_usage(&ToolCall {
        tool: "Bash",
        duration: Duration::from_secs(2),
        error: Some("timeout"),
    });
    agents.track_context_usage(&ContextUsage {
        agent_id: "coder-123",
        session_id: "s1",
        used: 75_000,
        total: 200_000,
    });
    agents.track_error(&ErrorEvent {
        component: "orchestrator",
        error_type: "rate_limit",
        severity: Severity::Warning,
    });
    agents.track_task(&TaskExecution {
        task_type: "review",
        duration: Duration::from_secs(3),
        error: None,
    });
    agents.track_task(&TaskExecution {
        task_type: "review",
        duration: Duration::from_secs(1),
        error: Some("conflict"),
    });
    agents.set_task_queue_size("high", 4);
    agents.start_agent("r-1", "reviewer", "review").succeed();

    let text = text(&registry);
    for line in [
        "agent_execution_total{agent_type=\"coder\",phase=\"code\",status=\"success\"} 1",
        "agent_execution_duration_seconds_sum{agent_type=\"coder\",phase=\"code\"} 5.0",
        "agent_execution_duration_seconds_bucket{agent_type=\"coder\",phase=\"code\",le=\"2.5\"} 0",
        "agent_execution_duration_seconds_bucket{agent_type=\"coder\",phase=\"code\",le=\"5\"} 1",
        "agent_tokens_used_total{agent_type=\"coder\",model=\"sonnet\"} 1500",
        "agents_active{agent_type=\"reviewer\"} 0.0",
        "tool_calls_total{tool=\"Read\",status=\"success\"} 1",
        "tool_calls_total{tool=\"Bash\",status=\"failure\"} 1",
        "tool_call_duration_seconds_count{tool=\"Bash\"} 1",
        "tool_call_success_total{tool=\"Read\"} 1",
        "tool_call_failure_total{tool=\"Bash\",error_type=\"timeout\"} 1",
        "context_window_utilization{agent_id=\"coder-123\",session_id=\"s1\"} 0.375",
        "context_window_size_tokens{agent_id=\"coder-123\"} 200000.0",
        "context_window_used_tokens{agent_id=\"coder-123\"} 75000.0",
        "error_total{component=\"orchestrator\",error_type=\"rate_limit\",severity=\"warning\"} 1",
        "task_queue_size{priority=\"high\"} 4.0",
        "task_duration_seconds_count{task_type=\"review\",status=\"success\"} 1",
        "task_success_total{task_type=\"review\"} 1",
        "task_failure_total{task_type=\"review\",error_type=\"conflict\"} 1",
        "agent_execution_total{agent_type=\"reviewer\",phase=\"review\",status=\"success\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // One error in the 60 s window: 1/60 per second.
    let rate = text
        .lines()
        .find(|l| l.starts_with("error_rate{component=\"orchestrator\",error_type=\"rate_limit\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(rate, Some(1.0 / 60.0));
    let families = text
        .lines()
        .filter(|l| l.starts_with("# TYPE ") && !l.contains(" lookout_"))
        .count();
    assert_eq!(families, 17, "{text}");
}

#[test]
fn an_unfinished_execution_counts_as_a_failure() {
    let (registry, agents) = setup();
    let mut guard = agents.start_agent("c-1", "coder", "plan");
    guard.add_tokens("opus", 10);
    guard.add_tokens("opus", 5);
    assert!(text(&registry).contains("agents_active{agent_type=\"coder\"} 1.0"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("agent crashed");
    }));
    assert!(result.is_err());
    let text = text(&registry);
    assert!(
        text.contains("agents_active{agent_type=\"coder\"} 0.0"),
        "{text}"
    );
    assert!(text.contains(
        "agent_execution_total{agent_type=\"coder\",phase=\"plan\",status=\"failure\"} 1"
    ));
    assert!(text.contains("agent_tokens_used_total{agent_type=\"coder\",model=\"opus\"} 15"));
}

#[test]
fn empty_context_window_sets_no_ratio() {
    let (registry, agents) = setup();
    agents.track_context_usage(&ContextUsage {
        agent_id: "a",
        session_id: "s",
        used: 0,
        total: 0,
    });
    assert!(!text(&registry).contains("context_window_utilization{"));
}

#[test]
fn agent_and_tool_spans_and_metrics_agree() {
    let telemetry = crate::Telemetry::builder()
        .without_env_exporters()
        .build()
        .unwrap();
    let mut agent = telemetry.start_agent("coder-1", "coder", "code");
    let trace_id = agent.context().unwrap().trace_id;
    agent.add_usage("claude-sonnet", 100, 40);
    {
        let _entered = agent.span_mut().unwrap().enter();
        let read = telemetry.start_tool("Read");
        std::thread::sleep(Duration::from_millis(3));
        read.succeed();
        telemetry.start_tool("Bash").fail("exit_code");
    }
    agent.succeed();

    let spans = telemetry.tracer().recent_spans(trace_id);
    let span = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let (agent_span, read, bash) = (
        span("invoke_agent coder"),
        span("execute_tool Read"),
        span("execute_tool Bash"),
    );
    use crate::trace::{AttributeValue, Status};
    assert_eq!(read.parent_span_id, agent_span.span_id);
    assert_eq!(bash.parent_span_id, agent_span.span_id);
    assert_eq!(
        agent_span.attribute(semconv::OPERATION_NAME),
        Some(&AttributeValue::from("invoke_agent"))
    );
    assert_eq!(
        agent_span.attribute(semconv::AGENT_ID),
        Some(&AttributeValue::from("coder-1"))
    );
    assert_eq!(
        agent_span.attribute(semconv::REQUEST_MODEL),
        Some(&AttributeValue::from("claude-sonnet"))
    );
    assert_eq!(
        agent_span.attribute(semconv::USAGE_INPUT_TOKENS),
        Some(&AttributeValue::Int(100))
    );
    assert_eq!(
        agent_span.attribute(semconv::USAGE_OUTPUT_TOKENS),
        Some(&AttributeValue::Int(40))
    );
    assert_eq!(agent_span.status, Status::Ok);
    assert_eq!(
        bash.attribute(semconv::ERROR_TYPE),
        Some(&AttributeValue::from("exit_code"))
    );
    assert_eq!(
        bash.attribute(semconv::TOOL_NAME),
        Some(&AttributeValue::from("Bash"))
    );

    // The histograms hold exactly the spans' durations.
    let registry = telemetry.registry();
    let read_sum = registry_sum(registry, "tool_call_duration_seconds", "Read");
    assert_eq!(read_sum, read.duration().as_secs_f64());
    let text = text(registry);
    assert!(text.contains("tool_call_failure_total{tool=\"Bash\",error_type=\"exit_code\"} 1"));
    assert!(
        text.contains("agent_tokens_used_total{agent_type=\"coder\",model=\"claude-sonnet\"} 140")
    );
    assert!(text.contains("agents_active{agent_type=\"coder\"} 0.0"));
    let agent_sum = text
        .lines()
        .find(|l| l.starts_with("agent_execution_duration_seconds_sum{agent_type=\"coder\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(agent_sum, Some(agent_span.duration().as_secs_f64()));
}

fn registry_sum(registry: &Registry, family: &str, tool: &str) -> f64 {
    let prefix = format!("{family}_sum{{tool=\"{tool}\"}} ");
    text(registry)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str())?.parse().ok())
        .unwrap()
}

#[test]
fn tracer_drops_show_on_metrics() {
    let telemetry = crate::Telemetry::builder()
        .tracer(crate::trace::Tracer::builder().queue_capacity(2))
        .without_env_exporters()
        .build()
        .unwrap();
    for _ in 0..5 {
        telemetry.tracer().span("s").start().end();
    }
    let first = text(telemetry.registry());
    assert!(
        first.contains("lookout_spans_dropped_total{reason=\"queue_full\"} 3"),
        "{first}"
    );
    // Collected again, the count stays exact.
    assert!(
        text(telemetry.registry()).contains("lookout_spans_dropped_total{reason=\"queue_full\"} 3")
    );
}

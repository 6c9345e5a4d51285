//! The whole path: Telemetry records, the pipeline exports over OTLP to a real receiver
//! (decoding with the official generated types), over both protocols; and the faults a
//! backend can throw at it.

use lookout::Telemetry;
use lookout::config::{Config, env_map};
use lookout::pipeline::{PipelineBuilder, RetryPolicy};
use lookout::trace::{KeyValue, SpanKind, Status};
use lookout_exporter_otlp::Protocol;
use lookout_exporter_otlp::proto::metrics::v1::{metric::Data, number_data_point};
use lookout_exporter_otlp::receiver::{Answer, Receiver};
use std::time::{Duration, Instant};

const PROTOCOLS: [(Protocol, &str); 2] = [
    (Protocol::HttpProtobuf, "http/protobuf"),
    (Protocol::Grpc, "grpc"),
];

/// A handle exporting to `vars` (OTEL_* variables), with `pipeline`'s settings.
fn telemetry(vars: &[(&str, &str)], pipeline: PipelineBuilder) -> Telemetry {
    let config = Config::default().with_env(&env_map(vars)).unwrap();
    assert!(config.opentelemetry.is_some());
    Telemetry::builder()
        .config(config)
        .exporters(pipeline)
        .tracer(lookout::trace::Tracer::builder().queue_capacity(20_000))
        .build()
        .unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(10),
    }
}

/// The value of one series in the Prometheus exposition.
fn sample(telemetry: &Telemetry, series: &str) -> f64 {
    let text = telemetry.prometheus_text();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} missing"))
        .parse()
        .unwrap()
}

#[test]
fn spans_and_metrics_arrive_exactly_over_both_protocols() {
    for (protocol, name) in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        let endpoint = receiver.endpoint();
        let telemetry = telemetry(
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", name),
                ("OTEL_SERVICE_NAME", "coordinator"),
            ],
            PipelineBuilder::new(),
        );
        let mut root = telemetry
            .tracer()
            .span("plan")
            .kind(SpanKind::Server)
            .start();
        root.set_attribute("gen_ai.request.model", "claude-sonnet");
        root.add_event("checkpoint", [KeyValue::new("step", 2)]);
        let root_context = root.context().clone();
        let agent_context = {
            let _entered = root.enter();
            let mut agent = telemetry.start_agent("coder-1", "coder", "code");
            let context = agent.context().cloned().unwrap();
            agent.add_tokens("claude-sonnet", 1500);
            agent.succeed();
            context
        };
        root.set_status(Status::Error("tool failed".into()));
        root.end();
        telemetry.agents().set_task_queue_size("high", 4);

        let report = telemetry.shutdown(Duration::from_secs(10));
        assert!(report.is_ok(), "{name}: {report:?}");
        assert_eq!(report.spans(), 2, "{name}");

        // Spans: ids, parents, names, kinds, attributes, events, status, times.
        let spans = receiver.spans();
        assert_eq!(spans.len(), 2, "{name}");
        let agent = spans
            .iter()
            .find(|s| s.name == "invoke_agent coder")
            .unwrap();
        let plan = spans.iter().find(|s| s.name == "plan").unwrap();
        assert_eq!(plan.trace_id, root_context.trace_id.0.to_be_bytes());
        assert_eq!(plan.span_id, root_context.span_id.0.to_be_bytes());
        assert!(plan.parent_span_id.is_empty(), "a root");
        assert_eq!(plan.kind, 2, "server");
        assert_eq!(
            plan.status.as_ref().map(|s| (s.code, s.message.as_str())),
            Some((2, "tool failed"))
        );
        assert_eq!(plan.events[0].name, "checkpoint");
        assert_eq!(agent.trace_id, plan.trace_id);
        assert_eq!(agent.span_id, agent_context.span_id.0.to_be_bytes());
        assert_eq!(
            agent.parent_span_id, plan.span_id,
            "the agent ran inside plan"
        );
        assert!(agent.start_time_unix_nano >= plan.start_time_unix_nano);
        assert!(agent.end_time_unix_nano <= plan.end_time_unix_nano);
        let attribute = |key: &str| {
            agent
                .attributes
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.clone())
        };
        assert!(format!("{:?}", attribute("gen_ai.agent.name")).contains("coder"));
        assert!(format!("{:?}", attribute("gen_ai.operation.name")).contains("invoke_agent"));

        // Metrics: the last collection equals the registry, value for value.
        let received = receiver.received();
        let last = received
            .metrics
            .last()
            .expect("a metrics export at shutdown");
        let resource = last.resource_metrics[0].resource.as_ref().unwrap();
        assert!(format!("{:?}", resource.attributes).contains("coordinator"));
        // Spans carry the same process identity: service, instance, pid, host.
        for request in receiver.requests_spans() {
            for spans in &request.resource_spans {
                let attributes = spans.resource.as_ref().unwrap().attributes.clone();
                assert_eq!(attributes, resource.attributes, "{name}");
            }
        }
        let keys: Vec<&str> = resource
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        for key in [
            "service.name",
            "service.instance.id",
            "process.pid",
            "host.name",
        ] {
            assert!(keys.contains(&key), "{name}: {key} in {keys:?}");
        }
        let metrics = &last.resource_metrics[0].scope_metrics[0].metrics;
        let find = |name: &str| {
            metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let Some(Data::Sum(executions)) = &find("agent_execution").data else {
            panic!()
        };
        let point = &executions.data_points[0];
        assert_eq!(point.value, Some(number_data_point::Value::AsInt(1)));
        assert_eq!(
            sample(
                &telemetry,
                r#"agent_execution_total{agent_type="coder",phase="code",status="success"}"#
            ),
            1.0
        );
        let Some(Data::Sum(tokens)) = &find("agent_tokens_used").data else {
            panic!()
        };
        assert_eq!(
            tokens.data_points[0].value,
            Some(number_data_point::Value::AsInt(1500))
        );
        let Some(Data::Gauge(queue)) = &find("task_queue_size").data else {
            panic!()
        };
        assert_eq!(
            queue.data_points[0].value,
            Some(number_data_point::Value::AsDouble(4.0))
        );
        let duration = find("agent_execution_duration_seconds");
        assert_eq!(duration.unit, "s");
        let Some(Data::Histogram(histogram)) = &duration.data else {
            panic!()
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.count, 1);
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), 1);
        assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
        let span_seconds = (agent.end_time_unix_nano - agent.start_time_unix_nano) as f64 / 1e9;
        assert!(
            (point.sum.unwrap() - span_seconds).abs() < 1e-6,
            "the span's own duration"
        );
        let prometheus_sum = sample(
            &telemetry,
            r#"agent_execution_duration_seconds_sum{agent_type="coder",phase="code"}"#,
        );
        assert_eq!(point.sum.unwrap(), prometheus_sum);
    }
}

#[test]
fn a_receiver_down_at_start_gets_everything_once_it_is_up() {
    for (protocol, name) in PROTOCOLS {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let endpoint = format!("http://{addr}");
        let telemetry = telemetry(
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", name),
            ],
            PipelineBuilder::new().span_delay(Duration::from_millis(50)),
        );
        for i in 0..20 {
            telemetry.tracer().span(format!("early-{i}")).start().end();
        }
        std::thread::sleep(Duration::from_secs(5));
        let receiver = Receiver::start_on(protocol, addr).unwrap();
        for i in 0..20 {
            telemetry.tracer().span(format!("late-{i}")).start().end();
        }
        let report = telemetry.shutdown(Duration::from_secs(15));
        assert!(report.is_ok(), "{name}: {report:?}");
        assert_eq!(receiver.spans().len(), 40, "{name}");
        let labels = r#"{exporter="otlp",signal="spans"}"#;
        assert!(
            sample(
                &telemetry,
                &format!("lookout_exporter_retries_total{labels}")
            ) >= 1.0
        );
        assert_eq!(
            sample(
                &telemetry,
                &format!("lookout_exporter_exported_total{labels}")
            ),
            40.0
        );
        assert_eq!(
            sample(
                &telemetry,
                &format!("lookout_exporter_failed_total{labels}")
            ),
            0.0
        );
    }
}

#[test]
fn retry_after_is_waited_then_the_batch_delivered() {
    let receiver = Receiver::start(Protocol::HttpProtobuf);
    receiver.script([Answer::Status(503, Some("1".into()))]);
    let endpoint = format!("{}/v1/traces", receiver.endpoint());
    let telemetry = telemetry(
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint)],
        PipelineBuilder::new(),
    );
    telemetry.tracer().span("once").start().end();
    assert!(telemetry.flush().is_ok());
    let arrivals = receiver.received().arrivals;
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_secs(1),
        "{:?}",
        arrivals[1] - arrivals[0]
    );
    assert_eq!(receiver.spans().len(), 1);
}

#[test]
fn every_status_from_400_to_599_is_retried_if_and_only_if_the_spec_says_so() {
    let receiver = Receiver::start(Protocol::HttpProtobuf);
    let endpoint = format!("{}/v1/traces", receiver.endpoint());
    let telemetry = telemetry(
        &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &endpoint)],
        PipelineBuilder::new().retry(fast_retries()),
    );
    let labels = r#"{exporter="otlp",signal="spans"}"#;
    for status in 400..600u16 {
        receiver.script([Answer::Status(status, None)]);
        let before = receiver.requests();
        telemetry
            .tracer()
            .span(format!("status-{status}"))
            .start()
            .end();
        let report = telemetry.flush();
        let sent = receiver.requests() - before;
        let retryable = matches!(status, 429 | 502 | 503 | 504);
        if retryable {
            assert_eq!(sent, 2, "{status}: refused, then retried and accepted");
            assert!(report.is_ok(), "{status}: {report:?}");
        } else {
            assert_eq!(sent, 1, "{status}: sent once");
            assert_eq!(report.exporters[0].failed, 1, "{status}: counted failed");
        }
    }
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_retries_total{labels}")
        ),
        4.0
    );
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_failed_total{labels}")
        ),
        196.0
    );
    assert_eq!(
        sample(
            &telemetry,
            &format!("lookout_exporter_exported_total{labels}")
        ),
        4.0
    );
    assert_eq!(receiver.spans().len(), 4);
}

#[test]
fn a_receiver_that_never_answers_leaves_the_host_alone() {
    for (protocol, name) in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        receiver.script(std::iter::repeat_n(Answer::Stall, 1000));
        let endpoint = receiver.endpoint();
        let telemetry = telemetry(
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", name),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "200"),
            ],
            PipelineBuilder::new()
                .span_delay(Duration::from_millis(10))
                .retry(fast_retries()),
        );
        let counter = telemetry.agents();
        let started = Instant::now();
        for i in 0..10_000 {
            telemetry.tracer().span("work").start().end();
            counter.track_error(&lookout::agent::ErrorEvent {
                component: if i % 2 == 0 { "tool" } else { "agent" },
                error_type: "timeout",
                severity: lookout::agent::Severity::Warning,
            });
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: recording was held up"
        );
        std::thread::sleep(Duration::from_millis(600));
        let timeouts =
            r#"lookout_exporter_errors_total{exporter="otlp",signal="spans",reason="timeout"}"#;
        assert!(sample(&telemetry, timeouts) >= 1.0, "{name}");
        let started = Instant::now();
        let report = telemetry.shutdown(Duration::from_millis(500));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: shutdown kept its deadline"
        );
        assert!(!report.is_ok(), "{name}");
        drop(receiver);
    }
}

#[test]
fn no_finished_span_is_lost_at_shutdown() {
    for (protocol, name) in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        let endpoint = receiver.endpoint();
        let telemetry = telemetry(
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", name),
            ],
            PipelineBuilder::new(),
        );
        std::thread::scope(|scope| {
            for t in 0..4 {
                let telemetry = &telemetry;
                scope.spawn(move || {
                    for i in 0..2_500 {
                        telemetry.tracer().span(format!("t{t}-{i}")).start().end();
                    }
                });
            }
        });
        let report = telemetry.shutdown(Duration::from_secs(10));
        assert!(report.is_ok(), "{name}: {report:?}");
        let mut names: Vec<String> = receiver.spans().into_iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 10_000, "{name}: every span, once");
    }
}

//! The exporter against a real receiver decoding with the official types, both protocols:
//! values arrive exactly, failures are classified by the OTLP retry rule.

use lookout_export::{
    ExportError, Exporter, FamilyInfo, FinishedSpan, HistogramValue, MetricKind, MetricSource,
    MetricVisitor, MetricsBatch, Resource, Value,
};
use lookout_exporter_otlp::proto::common::v1::KeyValue as ProtoKeyValue;
use lookout_exporter_otlp::proto::common::v1::any_value::Value as Any;
use lookout_exporter_otlp::proto::metrics::v1::{Metric, metric::Data, number_data_point};
use lookout_exporter_otlp::receiver::{Answer, Receiver};
use lookout_exporter_otlp::{Compression, OtlpConfig, OtlpExporter, Protocol, Temporality};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROTOCOLS: [Protocol; 2] = [Protocol::HttpProtobuf, Protocol::Grpc];

/// The runtime the exporter's futures run on (as the pipeline's would); receivers start
/// and stop outside it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A counter with two series, a gauge, a histogram; the counter's first series is
/// `counter` (so a test can move it between collections).
struct Source {
    counter: AtomicU64,
}

const BOUNDS: [f64; 3] = [0.1, 0.5, 1.0];

impl MetricSource for Source {
    fn collect(&self, visitor: &mut dyn MetricVisitor) {
        visitor.visit_family(&FamilyInfo::new(
            "agent_execution",
            "Agent executions",
            "",
            MetricKind::Counter,
        ));
        let n = self.counter.load(Ordering::Relaxed);
        visitor.visit_series(
            &[("agent_type", "coder"), ("status", "success")],
            Value::Counter(n),
        );
        visitor.visit_series(
            &[("agent_type", "tester"), ("status", "failure")],
            Value::Counter(2),
        );
        visitor.visit_family(&FamilyInfo::new(
            "no_series_yet",
            "A family nothing was recorded in",
            "",
            MetricKind::Counter,
        ));
        visitor.visit_family(&FamilyInfo::new(
            "task_queue_size",
            "Queue size",
            "",
            MetricKind::Gauge,
        ));
        visitor.visit_series(&[("priority", "high")], Value::Gauge(3.5));
        visitor.visit_family(&FamilyInfo::new(
            "agent_execution_duration_seconds",
            "Durations",
            "seconds",
            MetricKind::Histogram,
        ));
        let counts = [1, 0, 2, n];
        visitor.visit_series(
            &[("agent_type", "coder")],
            Value::Histogram(HistogramValue::new(
                &BOUNDS,
                &counts,
                2.25 + n as f64,
                3 + n,
            )),
        );
    }
}

fn exporter(receiver: &Receiver, protocol: Protocol) -> OtlpExporter {
    let mut config = OtlpConfig::new(&receiver.endpoint(), protocol);
    config.timeout = Duration::from_millis(500);
    OtlpExporter::new(config).unwrap()
}

/// The process the test's metrics come from.
static RESOURCE: LazyLock<Resource> = LazyLock::new(|| {
    let mut resource = (*lookout_export::testing::resource()).clone();
    resource.set("service.version", "1.2.3");
    resource
});

fn batch(source: &Source, time: u64) -> MetricsBatch<'_> {
    MetricsBatch::new(
        source,
        UNIX_EPOCH + Duration::from_secs(1_000),
        UNIX_EPOCH + Duration::from_secs(time),
        &RESOURCE,
    )
}

fn send_metrics(
    rt: &tokio::runtime::Runtime,
    exporter: &OtlpExporter,
    batch: &MetricsBatch<'_>,
) -> Result<usize, ExportError> {
    let encoded = exporter.encode_metrics(batch).unwrap();
    rt.block_on(exporter.send(&encoded.payload))
        .map(|()| encoded.items)
}

fn attributes(list: &[ProtoKeyValue]) -> Vec<(String, String)> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Any::StringValue(s)) => s.clone(),
                Some(Any::IntValue(i)) => i.to_string(),
                Some(Any::DoubleValue(f)) => f.to_string(),
                Some(Any::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn metrics_of(receiver: &Receiver, request: usize) -> Vec<Metric> {
    receiver.requests_metrics()[request].resource_metrics[0].scope_metrics[0]
        .metrics
        .clone()
}

fn int(point: &lookout_exporter_otlp::proto::metrics::v1::NumberDataPoint) -> i64 {
    match point.value {
        Some(number_data_point::Value::AsInt(n)) => n,
        other => panic!("not an int: {other:?}"),
    }
}

#[test]
fn metrics_arrive_exactly() {
    let rt = runtime();
    for (protocol, compression) in PROTOCOLS
        .into_iter()
        .flat_map(|p| [(p, Compression::None), (p, Compression::Gzip)])
    {
        let receiver = Receiver::start(protocol);
        let mut config = OtlpConfig::new(&receiver.endpoint(), protocol);
        config.compression = compression;
        let exporter = OtlpExporter::new(config).unwrap();
        let source = Source {
            counter: AtomicU64::new(5),
        };
        assert_eq!(send_metrics(&rt, &exporter, &batch(&source, 2_000)), Ok(4));
        let metrics = metrics_of(&receiver, 0);
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "agent_execution",
                "task_queue_size",
                "agent_execution_duration_seconds"
            ],
            "{protocol:?} {compression:?}: the family without series is left out"
        );
        if compression == Compression::Gzip && protocol == Protocol::HttpProtobuf {
            assert_eq!(receiver.headers()[0]["content-encoding"], "gzip");
        }

        assert_eq!(metrics[0].name, "agent_execution");
        assert_eq!(metrics[0].description, "Agent executions");
        let Some(Data::Sum(sum)) = &metrics[0].data else {
            panic!("{:?}", metrics[0])
        };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, 2, "cumulative");
        assert_eq!(int(&sum.data_points[0]), 5);
        assert_eq!(int(&sum.data_points[1]), 2);
        assert_eq!(
            attributes(&sum.data_points[1].attributes),
            [
                ("agent_type".into(), "tester".into()),
                ("status".into(), "failure".into())
            ]
        );
        assert_eq!(
            attributes(&sum.data_points[0].attributes),
            [
                ("agent_type".into(), "coder".into()),
                ("status".into(), "success".into())
            ]
        );
        assert_eq!(metrics[0].unit, "");
        for point in &sum.data_points {
            assert_eq!(point.start_time_unix_nano, 1_000_000_000_000);
            assert_eq!(point.time_unix_nano, 2_000_000_000_000);
        }

        let Some(Data::Gauge(gauge)) = &metrics[1].data else {
            panic!()
        };
        assert_eq!(metrics[1].description, "Queue size");
        assert_eq!(
            gauge.data_points[0].value,
            Some(number_data_point::Value::AsDouble(3.5))
        );
        assert_eq!(
            attributes(&gauge.data_points[0].attributes),
            [("priority".into(), "high".into())]
        );
        assert_eq!(gauge.data_points[0].time_unix_nano, 2_000_000_000_000);

        assert_eq!(metrics[2].unit, "s");
        let Some(Data::Histogram(histogram)) = &metrics[2].data else {
            panic!()
        };
        assert_eq!(histogram.aggregation_temporality, 2, "cumulative");
        let point = &histogram.data_points[0];
        assert_eq!(point.explicit_bounds, BOUNDS);
        assert_eq!(point.bucket_counts, [1, 0, 2, 5]);
        assert_eq!(point.count, 8);
        assert_eq!(point.sum, Some(7.25));
        assert_eq!(point.start_time_unix_nano, 1_000_000_000_000);
        assert_eq!(point.time_unix_nano, 2_000_000_000_000);
        assert_eq!(
            attributes(&point.attributes),
            [("agent_type".into(), "coder".into())]
        );

        let request = &receiver.requests_metrics()[0];
        let scope = request.resource_metrics[0].scope_metrics[0]
            .scope
            .clone()
            .unwrap();
        assert_eq!(scope.name, "lookout");
        let resource = &request.resource_metrics[0];
        let resource = attributes(&resource.resource.as_ref().unwrap().attributes);
        let sent: Vec<(String, String)> = RESOURCE
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        assert_eq!(resource, sent, "the batch's resource, every attribute");
        assert!(sent.contains(&("service.version".into(), "1.2.3".into())));
    }
}

#[test]
fn delta_temporality_sends_the_changes() {
    let rt = runtime();
    for protocol in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        let mut config = OtlpConfig::new(&receiver.endpoint(), protocol);
        config.temporality = Temporality::Delta;
        config.compression = Compression::Gzip;
        let exporter = OtlpExporter::new(config).unwrap();
        let source = Source {
            counter: AtomicU64::new(5),
        };
        send_metrics(&rt, &exporter, &batch(&source, 2_000)).unwrap();
        source.counter.store(12, Ordering::Relaxed);
        send_metrics(&rt, &exporter, &batch(&source, 2_060)).unwrap();
        let metrics = metrics_of(&receiver, 1);
        let Some(Data::Sum(sum)) = &metrics[0].data else {
            panic!()
        };
        assert_eq!(sum.aggregation_temporality, 1, "delta");
        assert_eq!(int(&sum.data_points[0]), 7, "12 - 5");
        assert_eq!(int(&sum.data_points[1]), 0, "unchanged");
        assert_eq!(sum.data_points[0].start_time_unix_nano, 2_000_000_000_000);
        assert_eq!(sum.data_points[0].time_unix_nano, 2_060_000_000_000);
        let Some(Data::Gauge(gauge)) = &metrics[1].data else {
            panic!()
        };
        assert_eq!(
            gauge.data_points[0].value,
            Some(number_data_point::Value::AsDouble(3.5)),
            "gauges are not differenced"
        );
        let Some(Data::Histogram(histogram)) = &metrics[2].data else {
            panic!()
        };
        assert_eq!(histogram.aggregation_temporality, 1, "delta");
        assert_eq!(histogram.data_points[0].bucket_counts, [0, 0, 0, 7]);
        assert_eq!(histogram.data_points[0].count, 7);
        assert_eq!(histogram.data_points[0].sum, Some(7.0));
        assert_eq!(
            histogram.data_points[0].start_time_unix_nano,
            2_000_000_000_000
        );

        // The first collection is the whole total since the start.
        let first = metrics_of(&receiver, 0);
        let Some(Data::Sum(sum)) = &first[0].data else {
            panic!()
        };
        assert_eq!(int(&sum.data_points[0]), 5);
        assert_eq!(sum.data_points[0].start_time_unix_nano, 1_000_000_000_000);
    }
}

fn spans() -> Vec<FinishedSpan> {
    lookout_export::testing::agent_trace()
}

#[test]
fn span_trees_arrive_exactly_with_gzip_and_headers() {
    let rt = runtime();
    for protocol in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        let mut config = OtlpConfig::new(&receiver.endpoint(), protocol);
        config.compression = Compression::Gzip;
        config
            .headers
            .push(("Authorization".into(), "Bearer s3cret".into()));
        let exporter = OtlpExporter::new(config).unwrap();
        let sent = spans();
        let encoded = exporter.encode_spans(&sent).unwrap();
        rt.block_on(exporter.send(&encoded.payload)).unwrap();

        let headers = receiver.headers()[0].clone();
        assert_eq!(
            headers.get("authorization").unwrap(),
            "Bearer s3cret",
            "{protocol:?}"
        );
        let got = receiver.spans();
        assert_eq!(got.len(), 3);
        for (span, sent) in got.iter().zip(&sent) {
            assert_eq!(span.trace_id, sent.trace_id.0.to_be_bytes());
            assert_eq!(span.span_id, sent.span_id.0.to_be_bytes());
            assert_eq!(span.parent_span_id, sent.parent_span_id.0.to_be_bytes());
            assert_eq!(span.name, sent.name);
            assert_eq!(span.dropped_events_count, sent.dropped_events);
            assert_eq!(span.dropped_links_count, sent.dropped_links);
            assert_eq!(span.trace_state, "rojo=00f067aa0ba902b7");
            let nanos = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
            assert_eq!(span.start_time_unix_nano, nanos(sent.start_time));
            assert_eq!(span.end_time_unix_nano, nanos(sent.end_time));
            assert_eq!(span.flags & 0xff, 1, "sampled");
            assert_eq!(span.flags & 0x100, 0x100, "has is-remote");
            assert_eq!(span.flags & 0x200 != 0, sent.parent_is_remote);
        }
        assert_eq!(got[0].kind, 2, "server");
        assert_eq!(got[1].kind, 1, "internal");
        assert_eq!(got[2].kind, 3, "client");
        assert_eq!(
            attributes(&got[0].attributes),
            [
                ("gen_ai.agent.name".into(), "coordinator".into()),
                ("gen_ai.usage.input_tokens".into(), "1500".into()),
                ("ratio".into(), "0.25".into()),
                ("cached".into(), "true".into()),
            ]
        );
        assert_eq!(got[0].dropped_attributes_count, 2);
        assert_eq!(got[0].status.as_ref().unwrap().code, 1, "ok");
        let status = got[1].status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "exit status 1"));
        assert_eq!(got[1].events[0].name, "exception");
        assert_eq!(got[1].events[0].time_unix_nano, 1_700_000_000_373_456_789);
        assert_eq!(
            attributes(&got[1].events[0].attributes),
            [("exception.message".into(), "exit status 1".into())]
        );
        assert_eq!(got[2].status, None, "unset");
        assert_eq!(got[2].links[0].trace_id, 99u128.to_be_bytes());
        assert_eq!(got[2].links[0].span_id, 98u64.to_be_bytes());
        assert_eq!(got[2].links[0].flags, 1, "sampled; remoteness unknown");
        let request = &receiver.requests_spans()[0];
        let scope = request.resource_spans[0].scope_spans[0]
            .scope
            .clone()
            .unwrap();
        assert_eq!(scope.name, "lookout");
        assert_eq!(request.resource_spans.len(), 1, "one process, one resource");
        let resource = request.resource_spans[0].resource.as_ref().unwrap();
        assert_eq!(
            attributes(&resource.attributes),
            [
                ("service.name".into(), "coordinator".into()),
                ("service.instance.id".into(), "test-instance".into()),
                ("process.pid".into(), "4242".into()),
                ("host.name".into(), "test-host".into()),
            ]
        );
        assert_eq!(
            attributes(&got[2].links[0].attributes),
            [("link.reason".into(), "retry".into())]
        );
    }
}

fn one_span(rt: &tokio::runtime::Runtime, exporter: &OtlpExporter) -> Result<(), ExportError> {
    let encoded = exporter.encode_spans(&spans()[..1]).unwrap();
    rt.block_on(exporter.send(&encoded.payload))
}

#[test]
fn headers_go_to_their_signals() {
    let rt = runtime();
    for protocol in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        let mut config = OtlpConfig::new(&receiver.endpoint(), protocol);
        config.headers = vec![
            ("Authorization".into(), "Bearer both".into()),
            ("x-tenant".into(), "agents".into()),
        ];
        config.traces_headers = vec![("authorization".into(), "Bearer traces".into())];
        config.metrics_headers = vec![("x-signal".into(), "metrics".into())];
        let exporter = OtlpExporter::new(config).unwrap();
        one_span(&rt, &exporter).unwrap();
        let source = Source {
            counter: AtomicU64::new(1),
        };
        send_metrics(&rt, &exporter, &batch(&source, 2_000)).unwrap();
        let headers = receiver.headers();
        let (traces, metrics) = (&headers[0], &headers[1]);
        assert_eq!(traces["authorization"], "Bearer traces", "{protocol:?}");
        assert_eq!(traces["x-tenant"], "agents");
        assert_eq!(traces.get("x-signal"), None);
        assert_eq!(metrics["authorization"], "Bearer both");
        assert_eq!(metrics["x-tenant"], "agents");
        assert_eq!(metrics["x-signal"], "metrics");
        assert_eq!(traces.get_all("authorization").iter().count(), 1);
    }
}

#[test]
fn every_http_status_is_classified_by_the_otlp_rule() {
    let rt = runtime();
    let receiver = Receiver::start(Protocol::HttpProtobuf);
    let exporter = exporter(&receiver, Protocol::HttpProtobuf);
    receiver.script((400..600).map(|status| Answer::Status(status, None)));
    for status in 400..600u16 {
        let error = one_span(&rt, &exporter).unwrap_err();
        assert_eq!(
            error.is_retryable(),
            matches!(status, 429 | 502 | 503 | 504),
            "{status}: {error}"
        );
        assert_eq!(error.reason(), "http_status");
        assert_eq!(error.retry_after(), None);
        // The receiver's google.rpc.Status body, decoded.
        assert_eq!(error.to_string(), format!("HTTP {status}: scripted"));
    }
    assert_eq!(receiver.requests(), 200, "refused requests count");
    assert!(receiver.spans().is_empty(), "refused requests are not kept");
    receiver.script([Answer::Status(503, Some("1".into()))]);
    let error = one_span(&rt, &exporter).unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    receiver.script([Answer::Status(
        429,
        Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
    )]);
    let error = one_span(&rt, &exporter).unwrap_err();
    assert_eq!(
        error.retry_after(),
        Some(Duration::ZERO),
        "a date in the past"
    );
    one_span(&rt, &exporter).unwrap();
    assert_eq!(receiver.spans().len(), 1);
    assert_eq!(receiver.requests(), 203);
}

#[test]
fn grpc_codes_are_classified_by_the_otlp_rule() {
    let rt = runtime();
    let receiver = Receiver::start(Protocol::Grpc);
    let exporter = exporter(&receiver, Protocol::Grpc);
    for (code, retryable) in [
        (tonic::Code::Unavailable, true),
        (tonic::Code::ResourceExhausted, true),
        (tonic::Code::InvalidArgument, false),
        (tonic::Code::PermissionDenied, false),
        (tonic::Code::Unauthenticated, false),
        (tonic::Code::Internal, false),
        (tonic::Code::Unimplemented, false),
    ] {
        receiver.script([Answer::Grpc(code)]);
        let error = one_span(&rt, &exporter).unwrap_err();
        assert_eq!(error.is_retryable(), retryable, "{code:?}: {error}");
        assert_eq!(error.reason(), "grpc_status");
        assert_eq!(error.retry_after(), None);
    }
    receiver.script([Answer::Grpc(tonic::Code::DeadlineExceeded)]);
    let error = one_span(&rt, &exporter).unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.reason(), "timeout");
    for code in [tonic::Code::Unavailable, tonic::Code::ResourceExhausted] {
        receiver.script([Answer::GrpcRetryAfter(code, Duration::from_millis(1500))]);
        let error = one_span(&rt, &exporter).unwrap_err();
        assert!(error.is_retryable(), "{code:?}");
        assert_eq!(
            error.retry_after(),
            Some(Duration::from_millis(1500)),
            "RetryInfo"
        );
    }
    one_span(&rt, &exporter).unwrap();
    assert_eq!(receiver.requests(), 11);
    assert_eq!(receiver.spans().len(), 1);
}

#[test]
fn a_stalled_receiver_is_a_timeout() {
    let rt = runtime();
    for protocol in PROTOCOLS {
        let receiver = Receiver::start(protocol);
        let mut config = OtlpConfig::new(&receiver.endpoint(), protocol);
        config.timeout = Duration::from_millis(300);
        let exporter = OtlpExporter::new(config).unwrap();
        receiver.set_default_answer(Answer::Stall);
        let started = Instant::now();
        let error = one_span(&rt, &exporter).unwrap_err();
        let took = started.elapsed();
        assert!(error.is_retryable(), "{protocol:?}: {error}");
        assert_eq!(error.reason(), "timeout", "{protocol:?}: {error}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(1),
            "{protocol:?}: {took:?}"
        );
        assert!(receiver.wait_for(|r| r.requests() == 1, Duration::from_secs(1)));
        assert!(receiver.spans().is_empty());
    }
}

#[test]
fn a_receiver_that_is_down_is_a_connect_failure_until_it_is_up() {
    let rt = runtime();
    for protocol in PROTOCOLS {
        // Down before the exporter's first send.
        let mut receiver = Receiver::start(protocol);
        receiver.pause();
        assert!(!receiver.is_running());
        let exporter = exporter(&receiver, protocol);
        let error = one_span(&rt, &exporter).unwrap_err();
        assert!(error.is_retryable(), "{protocol:?} down: {error}");
        assert_eq!(error.reason(), "connect", "{protocol:?} down: {error}");

        // Up later, on the same port: delivered.
        receiver.resume().unwrap();
        one_span(&rt, &exporter).unwrap();
        assert_eq!(receiver.spans().len(), 1);

        // Down again after a delivery (the connection it had is gone): retryable, and
        // delivered once it is back.
        receiver.pause();
        let mut reasons = Vec::new();
        for _ in 0..20 {
            let error = one_span(&rt, &exporter).unwrap_err();
            assert!(error.is_retryable(), "{protocol:?} down again: {error}");
            reasons.push(error.reason());
            if error.reason() == "connect" {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            reasons.last(),
            Some(&"connect"),
            "{protocol:?}: {reasons:?}"
        );
        receiver.resume().unwrap();
        let delivered = (0..50).any(|_| {
            if one_span(&rt, &exporter).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
            false
        });
        assert!(delivered, "{protocol:?}: delivered once it is back");
        assert_eq!(
            receiver.spans().len(),
            2,
            "{protocol:?}: kept across pauses"
        );

        // A stopped receiver's port can be taken by a new one.
        let addr = receiver.addr();
        receiver.stop();
        let back = Receiver::start_on(protocol, addr).unwrap();
        assert!(back.wait_for(|_| one_span(&rt, &exporter).is_ok(), Duration::from_secs(5)));
        assert_eq!(back.spans().len(), 1);
    }
}

#[test]
fn a_receiver_that_goes_away_mid_request_is_a_transport_failure() {
    let rt = runtime();
    for protocol in PROTOCOLS {
        let mut receiver = Receiver::start(protocol);
        let exporter = std::sync::Arc::new(exporter(&receiver, protocol));
        one_span(&rt, &exporter).unwrap();
        receiver.script([Answer::Stall]);
        let sending = {
            let exporter = exporter.clone();
            let encoded = exporter.encode_spans(&spans()[..1]).unwrap();
            rt.spawn(async move { exporter.send(&encoded.payload).await })
        };
        assert!(receiver.wait_for(|r| r.requests() == 2, Duration::from_secs(2)));
        receiver.pause();
        let error = rt.block_on(sending).unwrap().unwrap_err();
        assert!(error.is_retryable(), "{protocol:?}: {error}");
        assert_eq!(error.reason(), "transport", "{protocol:?}: {error}");
    }
}

use super::*;

type Series = (Vec<(&'static str, &'static str)>, Value<'static>);

/// A source that replays a fixed list of families and series.
struct Fixture(Vec<(FamilyInfo<'static>, Vec<Series>)>);

impl MetricSource for Fixture {
    fn collect(&self, visitor: &mut dyn MetricVisitor) {
        for (family, series) in &self.0 {
            visitor.visit_family(family);
            for (labels, value) in series {
                visitor.visit_series(labels, *value);
            }
        }
    }
}

fn family(
    name: &'static str,
    help: &'static str,
    unit: &'static str,
    kind: MetricKind,
) -> FamilyInfo<'static> {
    FamilyInfo::new(name, help, unit, kind)
}

fn fixture() -> Fixture {
    Fixture(vec![
        (
            family(
                "tool_calls",
                "Total \"tool\" calls\nper tool \\ status",
                "",
                MetricKind::Counter,
            ),
            vec![
                (
                    vec![("tool", "Read"), ("status", "success")],
                    Value::Counter(3),
                ),
                (
                    vec![("tool", "say \"hi\"\\\nü"), ("status", "error")],
                    Value::Counter(1),
                ),
            ],
        ),
        (
            family("queue_size", "Queue size", "", MetricKind::Gauge),
            vec![
                (vec![], Value::Gauge(2.5)),
                (vec![("p", "nan")], Value::Gauge(f64::NAN)),
                (vec![("p", "inf")], Value::Gauge(f64::INFINITY)),
                (vec![("p", "-inf")], Value::Gauge(f64::NEG_INFINITY)),
            ],
        ),
        (
            family(
                "task_duration_seconds",
                "Task duration",
                "seconds",
                MetricKind::Histogram,
            ),
            vec![(
                vec![("task_type", "build")],
                Value::Histogram(HistogramValue::new(&[0.5, 1.0], &[1, 0, 2], 7.25, 3)),
            )],
        ),
    ])
}

#[test]
fn text_format_matches_the_0_0_4_spec() {
    let expected = r#"# HELP tool_calls_total Total "tool" calls\nper tool \\ status
# TYPE tool_calls_total counter
tool_calls_total{tool="Read",status="success"} 3
tool_calls_total{tool="say \"hi\"\\\nü",status="error"} 1
# HELP queue_size Queue size
# TYPE queue_size gauge
queue_size 2.5
queue_size{p="nan"} NaN
queue_size{p="inf"} +Inf
queue_size{p="-inf"} -Inf
# HELP task_duration_seconds Task duration
# TYPE task_duration_seconds histogram
task_duration_seconds_bucket{task_type="build",le="0.5"} 1
task_duration_seconds_bucket{task_type="build",le="1"} 1
task_duration_seconds_bucket{task_type="build",le="+Inf"} 3
task_duration_seconds_sum{task_type="build"} 7.25
task_duration_seconds_count{task_type="build"} 3
"#;
    assert_eq!(encode_to_string(&fixture(), Format::Text), expected);
}

#[test]
fn openmetrics_format_matches_the_1_0_spec() {
    let expected = r#"# HELP tool_calls Total \"tool\" calls\nper tool \\ status
# TYPE tool_calls counter
tool_calls_total{tool="Read",status="success"} 3
tool_calls_total{tool="say \"hi\"\\\nü",status="error"} 1
# HELP queue_size Queue size
# TYPE queue_size gauge
queue_size 2.5
queue_size{p="nan"} NaN
queue_size{p="inf"} +Inf
queue_size{p="-inf"} -Inf
# HELP task_duration_seconds Task duration
# UNIT task_duration_seconds seconds
# TYPE task_duration_seconds histogram
task_duration_seconds_bucket{task_type="build",le="0.5"} 1
task_duration_seconds_bucket{task_type="build",le="1"} 1
task_duration_seconds_bucket{task_type="build",le="+Inf"} 3
task_duration_seconds_sum{task_type="build"} 7.25
task_duration_seconds_count{task_type="build"} 3
# EOF
"#;
    assert_eq!(encode_to_string(&fixture(), Format::OpenMetrics), expected);
}

#[test]
fn histogram_without_labels_and_without_bounds() {
    let source = Fixture(vec![(
        family("h", "h", "", MetricKind::Histogram),
        vec![(
            vec![],
            Value::Histogram(HistogramValue::new(&[], &[4], 1e-7, 4)),
        )],
    )]);
    let text = encode_to_string(&source, Format::Text);
    assert!(
        text.ends_with("h_bucket{le=\"+Inf\"} 4\nh_sum 1e-7\nh_count 4\n"),
        "{text}"
    );
}

#[test]
fn empty_source_gives_empty_text_and_a_bare_eof() {
    let empty = Fixture(vec![]);
    assert_eq!(encode_to_string(&empty, Format::Text), "");
    assert_eq!(encode_to_string(&empty, Format::OpenMetrics), "# EOF\n");
}

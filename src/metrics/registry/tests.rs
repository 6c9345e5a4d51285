use super::*;
use crate::metrics::OVERFLOW_LABEL;
use lookout_export::HistogramValue;

/// Everything a collection reported, owned: (family, kind, labels, value).
#[derive(Default)]
struct Collected {
    families: Vec<(String, MetricKind)>,
    series: Vec<(String, Labels, Owned)>,
}

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Counter(u64),
    Gauge(f64),
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

impl MetricVisitor for Collected {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        self.families.push((family.name.to_owned(), family.kind));
    }
    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
        let family = self.families.last().unwrap().0.clone();
        let labels = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let value = match value {
            Value::Counter(n) => Owned::Counter(n),
            Value::Gauge(v) => Owned::Gauge(v),
            Value::Histogram(HistogramValue {
                counts, sum, count, ..
            }) => Owned::Histogram {
                counts: counts.to_vec(),
                sum,
                count,
            },
            _ => unreachable!(),
        };
        self.series.push((family, labels, value));
    }
}

impl Collected {
    fn of(registry: &Registry) -> Self {
        let mut collected = Collected::default();
        registry.collect(&mut collected);
        collected
    }

    fn value(&self, family: &str, labels: &[(&str, &str)]) -> Option<Owned> {
        self.series
            .iter()
            .find(|(f, l, _)| {
                f == family
                    && l.iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .eq(labels.iter().copied())
            })
            .map(|(_, _, v)| v.clone())
    }
}

fn calls(registry: &Registry) -> Family<Counter> {
    registry
        .counter(Descriptor::new("tool_calls_total", "Tool calls").labels(["tool", "status"]))
        .unwrap()
}

#[test]
fn counters_drop_total_from_the_family_name() {
    let registry = Registry::new();
    let family = calls(&registry);
    assert_eq!(family.name(), "tool_calls");
    family.add(&["Read", "ok"], 5);
    family.inc(&["Read", "ok"]);
    let collected = Collected::of(&registry);
    assert_eq!(
        collected.families[0],
        ("tool_calls".to_owned(), MetricKind::Counter)
    );
    assert_eq!(
        collected.value("tool_calls", &[("tool", "Read"), ("status", "ok")]),
        Some(Owned::Counter(6))
    );
}

#[test]
fn handles_and_labelled_calls_share_one_series() {
    let registry = Registry::new();
    let family = calls(&registry);
    let handle = family.get(&["Bash", "error"]).unwrap();
    handle.inc();
    family.add(&["Bash", "error"], 2);
    assert_eq!(handle.get(), 3);
    assert_eq!(family.len(), 1);
}

#[test]
fn label_count_mismatch_is_an_error_or_a_counted_drop() {
    let registry = Registry::new();
    let family = calls(&registry);
    assert_eq!(
        family.get(&["only-one"]).unwrap_err(),
        MetricError::LabelCount {
            family: "tool_calls".into(),
            expected: 2,
            got: 1
        }
    );
    family.inc(&["a", "b", "c"]);
    family.inc(&[]);
    assert_eq!(family.len(), 0);
    let collected = Collected::of(&registry);
    assert_eq!(
        collected.value(
            DROPPED_METRIC,
            &[("family", "tool_calls"), ("reason", "label_count")]
        ),
        Some(Owned::Counter(2))
    );
}

#[test]
fn overflow_goes_to_one_series_and_is_counted() {
    let registry = Registry::with_cardinality_limit(3);
    let family = calls(&registry);
    for i in 0..5 {
        family.inc(&[&format!("tool{i}"), "ok"]);
    }
    family.inc(&["tool4", "ok"]);
    family.inc(&["tool0", "ok"]);
    assert_eq!(family.len(), 3);
    let collected = Collected::of(&registry);
    assert_eq!(
        collected.value("tool_calls", &[(OVERFLOW_LABEL, "true")]),
        Some(Owned::Counter(3))
    );
    assert_eq!(
        collected.value("tool_calls", &[("tool", "tool0"), ("status", "ok")]),
        Some(Owned::Counter(2))
    );
    assert_eq!(
        collected.value(OVERFLOW_METRIC, &[("family", "tool_calls")]),
        Some(Owned::Counter(3))
    );
    assert_eq!(
        collected.value(SERIES_METRIC, &[("family", "tool_calls")]),
        Some(Owned::Gauge(3.0))
    );
    // A handle past the limit is the overflow series.
    family.get(&["tool9", "ok"]).unwrap().add(10);
    let collected = Collected::of(&registry);
    assert_eq!(
        collected.value("tool_calls", &[(OVERFLOW_LABEL, "true")]),
        Some(Owned::Counter(13))
    );
}

#[test]
fn descriptor_limit_overrides_the_registry_default() {
    let registry = Registry::new();
    let family = registry
        .gauge(Descriptor::new("g", "g").labels(["k"]).cardinality_limit(1))
        .unwrap();
    family.set(&["a"], 1.0);
    family.set(&["b"], 2.0);
    assert_eq!(family.len(), 1);
}

#[test]
fn removed_series_disappear_and_come_back_fresh() {
    let registry = Registry::new();
    let family = calls(&registry);
    family.add(&["Read", "ok"], 4);
    family.inc(&["Edit", "ok"]);
    assert!(family.remove(&["Read", "ok"]));
    assert!(!family.remove(&["Read", "ok"]));
    assert!(!family.remove(&["Read"]));
    let collected = Collected::of(&registry);
    assert_eq!(
        collected.value("tool_calls", &[("tool", "Read"), ("status", "ok")]),
        None
    );
    assert_eq!(family.len(), 1);
    // This thread cached the removed series; the next increment must start a new one.
    family.inc(&["Read", "ok"]);
    assert_eq!(family.get(&["Read", "ok"]).unwrap().get(), 1);
    // Removal frees room under the cardinality limit.
    family.clear();
    assert!(family.is_empty());
    assert_eq!(
        Collected::of(&registry).value("tool_calls", &[("tool", "Edit"), ("status", "ok")]),
        None
    );
}

#[test]
fn other_threads_see_removals_too() {
    let registry = Registry::new();
    let family = calls(&registry);
    let worker = family.clone();
    std::thread::scope(|s| {
        s.spawn(|| worker.inc(&["Read", "ok"])).join().unwrap();
        assert!(family.remove(&["Read", "ok"]));
        s.spawn(|| worker.inc(&["Read", "ok"])).join().unwrap();
    });
    assert_eq!(family.get(&["Read", "ok"]).unwrap().get(), 1);
}

#[test]
fn invalid_names_are_typed_errors() {
    let registry = Registry::new();
    assert!(matches!(
        registry.counter(Descriptor::new("bad-name", "h")),
        Err(MetricError::InvalidMetricName(_))
    ));
    assert!(matches!(
        registry.counter(Descriptor::new("_total", "h")),
        Err(MetricError::InvalidMetricName(_))
    ));
    assert!(matches!(
        registry.gauge(Descriptor::new("g", "h").labels(["ok", "bad label"])),
        Err(MetricError::InvalidLabelName { .. })
    ));
    assert!(matches!(
        registry.gauge(Descriptor::new("g", "h").labels(["__reserved"])),
        Err(MetricError::InvalidLabelName { .. })
    ));
    assert!(matches!(
        registry.histogram(Descriptor::new("h_seconds", "h").labels(["le"])),
        Err(MetricError::InvalidLabelName { .. })
    ));
    assert!(matches!(
        registry.histogram(Descriptor::new("h", "h").unit("seconds")),
        Err(MetricError::InvalidUnit { .. })
    ));
    assert_eq!(registry.series_count(), 0);
}

#[test]
fn same_descriptor_returns_the_same_family_and_conflicts_are_refused() {
    let registry = Registry::new();
    let a = calls(&registry);
    let b = calls(&registry);
    a.inc(&["Read", "ok"]);
    assert_eq!(b.get(&["Read", "ok"]).unwrap().get(), 1);
    // Same name without the suffix is the same family.
    let c =
        registry.counter(Descriptor::new("tool_calls", "Tool calls").labels(["tool", "status"]));
    assert!(c.is_ok());
    let conflict = |r: Result<(), MetricError>| assert!(matches!(r, Err(MetricError::Conflict(_))));
    conflict(
        registry
            .counter(Descriptor::new("tool_calls_total", "other help").labels(["tool", "status"]))
            .map(drop),
    );
    conflict(
        registry
            .counter(Descriptor::new("tool_calls_total", "Tool calls").labels(["tool"]))
            .map(drop),
    );
    conflict(registry.gauge(Descriptor::new("tool_calls", "g")).map(drop));
    conflict(
        registry
            .gauge(Descriptor::new("tool_calls_total", "g"))
            .map(drop),
    );
    registry.histogram(Descriptor::new("latency", "h")).unwrap();
    conflict(
        registry
            .gauge(Descriptor::new("latency_bucket", "g"))
            .map(drop),
    );
    conflict(
        registry
            .counter(Descriptor::new("latency_count", "g"))
            .map(drop),
    );
    conflict(
        registry
            .gauge(Descriptor::new(SERIES_METRIC, "g"))
            .map(drop),
    );
    conflict(
        registry
            .counter(Descriptor::new("lookout_dropped_observations_total", "g"))
            .map(drop),
    );
}

#[test]
fn collection_is_sorted_by_name_and_skips_empty_families() {
    let registry = Registry::new();
    let z = registry.gauge(Descriptor::new("zeta", "z")).unwrap();
    registry.gauge(Descriptor::new("empty", "e")).unwrap();
    let a = registry.gauge(Descriptor::new("alpha", "a")).unwrap();
    z.set(&[], 1.0);
    a.set(&[], 2.0);
    let names: Vec<_> = Collected::of(&registry)
        .families
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "alpha",
            "zeta",
            SERIES_METRIC,
            OVERFLOW_METRIC,
            DROPPED_METRIC
        ]
    );
}

#[test]
fn histograms_report_exact_buckets_and_count_nan() {
    let registry = Registry::new();
    let family = registry
        .histogram_with(
            Descriptor::new("size_bytes", "s")
                .unit("bytes")
                .labels(["k"]),
            &HistogramOptions::bytes().buckets([10.0, 100.0]),
        )
        .unwrap();
    for v in [1.0, 10.0, 50.0, 1000.0, f64::NAN] {
        family.observe(&["x"], v);
    }
    let collected = Collected::of(&registry);
    assert_eq!(
        collected.value("size_bytes", &[("k", "x")]),
        Some(Owned::Histogram {
            counts: vec![2, 1, 1],
            sum: 1061.0,
            count: 4
        })
    );
    assert_eq!(
        collected.value(
            DROPPED_METRIC,
            &[("family", "size_bytes"), ("reason", "nan")]
        ),
        Some(Owned::Counter(1))
    );
    let handle = family.get(&["x"]).unwrap();
    assert_eq!(handle.count(), 4);
    assert!(handle.percentiles().unwrap().p50 >= 10.0);
}

#[test]
fn durations_land_in_the_family_unit() {
    let registry = Registry::new();
    let seconds = registry
        .histogram(Descriptor::new("a_seconds", "a").unit("seconds"))
        .unwrap()
        .get(&[])
        .unwrap();
    let millis = registry
        .histogram(Descriptor::new("b_milliseconds", "b").unit("milliseconds"))
        .unwrap()
        .get(&[])
        .unwrap();
    seconds.observe_duration(std::time::Duration::from_millis(250));
    millis.observe_duration(std::time::Duration::from_millis(250));
    assert_eq!(seconds.sum(), 0.25);
    assert_eq!(millis.sum(), 250.0);
}

#[test]
fn collect_hooks_run_before_each_collection() {
    let registry = Registry::new();
    let gauge = registry
        .gauge(Descriptor::new("computed", "c"))
        .unwrap()
        .get(&[])
        .unwrap();
    let hooked = gauge.clone();
    registry.on_collect(move || hooked.add(1.0));
    Collected::of(&registry);
    let collected = Collected::of(&registry);
    assert_eq!(collected.value("computed", &[]), Some(Owned::Gauge(2.0)));
}

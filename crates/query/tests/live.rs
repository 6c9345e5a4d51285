//! The live registry's answer: a real `Registry`'s counters, gauges and histograms read
//! by family and labels, percentiles in the exact percentile's bucket.

use lookout::metrics::{Descriptor, HistogramOptions, Registry};
use lookout_query::functions::percentile;
use lookout_query::live::{self, LiveValue};
use std::collections::BTreeMap;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

#[test]
fn a_family_is_read_live_by_its_labels() {
    let registry = Registry::new();
    let calls = registry
        .counter(Descriptor::new("tool_calls", "Calls.").labels(["tool", "status"]))
        .unwrap();
    calls.add(&["grep", "ok"], 7);
    calls.add(&["grep", "error"], 2);
    calls.add(&["read", "ok"], 1);
    let depth = registry
        .gauge(Descriptor::new("queue_depth", "Depth."))
        .unwrap();
    depth.set(&[], 4.5);
    let durations = registry
        .histogram_with(
            Descriptor::new("tool_seconds", "Durations.")
                .unit("seconds")
                .labels(["tool"]),
            &HistogramOptions::seconds().buckets([0.1, 0.5, 1.0, 5.0]),
        )
        .unwrap();
    let mut values: Vec<f64> = (1..=200).map(|i| f64::from(i) * 0.02).collect();
    for value in &values {
        durations.observe(&["grep"], *value);
    }

    let grep = live::query(&registry, "tool_calls", &labels(&[("tool", "grep")]));
    assert_eq!(grep.len(), 2);
    assert_eq!(
        grep[0].labels,
        labels(&[("status", "error"), ("tool", "grep")])
    );
    assert_eq!(
        (grep[0].kind, &grep[0].value),
        ("counter", &LiveValue::Number(2.0))
    );
    assert_eq!(grep[1].value, LiveValue::Number(7.0));
    assert_eq!(
        live::query(&registry, "queue_depth", &labels(&[]))[0].value,
        LiveValue::Number(4.5)
    );
    assert!(live::query(&registry, "tool_calls", &labels(&[("tool", "bash")])).is_empty());

    let seconds = live::query(&registry, "tool_seconds", &labels(&[]));
    let LiveValue::Histogram {
        count,
        sum,
        p50,
        p95,
        ..
    } = seconds[0].value.clone()
    else {
        panic!("{seconds:?}")
    };
    assert_eq!(count, 200);
    assert!((sum - values.iter().sum::<f64>()).abs() < 1e-6);
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let bucket = |x: f64| [0.1, 0.5, 1.0, 5.0].iter().position(|b| x <= *b);
    for (got, q) in [(p50.unwrap(), 0.5), (p95.unwrap(), 0.95)] {
        let exact = percentile(&values, q).unwrap();
        assert_eq!(bucket(got), bucket(exact), "{got} vs exact {exact}");
    }
}

//! Random operations from several threads; the exposition equals a simple model exactly.

use lookout::metrics::{Descriptor, HistogramOptions, Registry};
use lookout::prometheus::{Format, encode_to_string, parse};
use proptest::prelude::*;
use std::collections::BTreeMap;

const THREADS: usize = 3;
const LABELS: &[&str] = &["a", "b \"q\"", "c\\d", "e\nf", "ü✓"];
const BOUNDS: &[f64] = &[0.25, 1.0, 4.0];

#[derive(Debug, Clone)]
enum Op {
    Count { family: usize, label: usize, n: u64 },
    Gauge { label: usize, delta: i32 },
    Observe { label: usize, eighths: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..LABELS.len(), 0..1000u64).prop_map(|(family, label, n)| Op::Count {
            family,
            label,
            n
        }),
        (0..LABELS.len(), -50..50i32).prop_map(|(label, delta)| Op::Gauge { label, delta }),
        // Multiples of 1/8 up to 8: sums are exact in any order, and some land on bounds.
        (0..LABELS.len(), 0..64u16).prop_map(|(label, eighths)| Op::Observe { label, eighths }),
    ]
}

#[derive(Debug, Default, PartialEq)]
struct Model {
    counters: BTreeMap<(String, String), f64>,
    gauges: BTreeMap<String, f64>,
    /// label -> (cumulative bucket counts for BOUNDS + Inf, sum, count)
    histograms: BTreeMap<String, (Vec<f64>, f64, f64)>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Count { family, label, n } => {
                *self
                    .counters
                    .entry((format!("c{family}_total"), LABELS[label].into()))
                    .or_default() += n as f64;
            }
            Op::Gauge { label, delta } => {
                *self.gauges.entry(LABELS[label].into()).or_default() += f64::from(delta)
            }
            Op::Observe { label, eighths } => {
                let value = f64::from(eighths) / 8.0;
                let entry = self
                    .histograms
                    .entry(LABELS[label].into())
                    .or_insert_with(|| (vec![0.0; BOUNDS.len() + 1], 0.0, 0.0));
                for (i, bound) in BOUNDS.iter().chain([&f64::INFINITY]).enumerate() {
                    if value <= *bound {
                        entry.0[i] += 1.0;
                    }
                }
                entry.1 += value;
                entry.2 += 1.0;
            }
        }
    }

    /// Reads the same shape back from exposition text.
    fn from_exposition(text: &str) -> Model {
        let mut model = Model::default();
        for family in parse(text).unwrap() {
            for s in &family.samples {
                let label = |name| s.label(name).unwrap().to_owned();
                match s.name.as_str() {
                    "c0_total" | "c1_total" => {
                        model.counters.insert((s.name.clone(), label("k")), s.value);
                    }
                    "g" => {
                        model.gauges.insert(label("k"), s.value);
                    }
                    "h_bucket" | "h_sum" | "h_count" => {
                        let entry = model
                            .histograms
                            .entry(label("k"))
                            .or_insert_with(|| (vec![0.0; BOUNDS.len() + 1], 0.0, 0.0));
                        match s.name.as_str() {
                            "h_sum" => entry.1 = s.value,
                            "h_count" => entry.2 = s.value,
                            _ => {
                                let le = s.label("le").unwrap();
                                let i = BOUNDS
                                    .iter()
                                    .position(|b| b.to_string() == le)
                                    .unwrap_or(BOUNDS.len());
                                entry.0[i] = s.value;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        model
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn exposition_equals_the_model(ops in proptest::collection::vec((0..THREADS, op()), 0..400)) {
        let registry = Registry::new();
        let counters = [0, 1].map(|i| {
            registry.counter(Descriptor::new(format!("c{i}_total"), "c").labels(["k"])).unwrap()
        });
        let gauge = registry.gauge(Descriptor::new("g", "g").labels(["k"])).unwrap();
        let histogram = registry
            .histogram_with(Descriptor::new("h", "h").labels(["k"]), &HistogramOptions::unitless().buckets(BOUNDS))
            .unwrap();

        let barrier = std::sync::Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (ops, barrier) = (&ops, &barrier);
                let (counters, gauge, histogram) = (&counters, &gauge, &histogram);
                scope.spawn(move || {
                    barrier.wait();
                    for (_, op) in ops.iter().filter(|(t, _)| *t == thread) {
                        match *op {
                            Op::Count { family, label, n } => counters[family].add(&[LABELS[label]], n),
                            Op::Gauge { label, delta } => gauge.add(&[LABELS[label]], f64::from(delta)),
                            Op::Observe { label, eighths } => histogram.observe(&[LABELS[label]], f64::from(eighths) / 8.0),
                        }
                    }
                });
            }
        });

        let mut expected = Model::default();
        for (_, op) in &ops {
            expected.apply(op);
        }
        let text = encode_to_string(&registry, Format::Text);
        prop_assert_eq!(Model::from_exposition(&text), expected);
        let open_metrics = encode_to_string(&registry, Format::OpenMetrics);
        prop_assert_eq!(Model::from_exposition(&open_metrics), Model::from_exposition(&text));
    }
}

//! "Did this commit make skill, agent or tool X slower, costlier or flakier?": the spans
//! of one side (the traces of the runs at a commit, or a time window) against another's,
//! per span name, each difference called only when it is beyond noise.
//!
//! Durations and costs are compared with the Mann-Whitney U test, failures with Fisher's
//! exact test ([`crate::significance`]); a difference is called when its p-value is below
//! [`DiffOptions::alpha`] and, for durations and costs, the medians differ by at least
//! [`DiffOptions::min_change`]. A name with fewer than [`DiffOptions::min_samples`]
//! executions on a side is "too few to tell".

use crate::cost::{self, Prices};
use crate::functions::percentile;
use crate::significance::{fisher_exact, mann_whitney};
use lookout_store::rusqlite::{self, Connection, params};
use serde_json::Value;
use std::collections::BTreeMap;

/// The spans one side of a diff takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// The traces of the runs whose commit starts with this (a hash or a prefix).
    Commit(String),
    /// The spans that started in `[from, until)`, Unix nanoseconds.
    Window(i64, i64),
}

/// When a difference is called.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The largest p-value called a difference.
    pub alpha: f64,
    /// The smallest relative change of the median called a difference.
    pub min_change: f64,
    /// The fewest executions a side needs.
    pub min_samples: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            alpha: 0.01,
            min_change: 0.05,
            min_samples: 8,
        }
    }
}

/// The executions of one span name on one side.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Durations in seconds.
    pub durations: Vec<f64>,
    /// How many ended in error.
    pub failures: u64,
    /// Costs, of the executions that have one.
    pub costs: Vec<f64>,
    /// How many of them were given by the span (the rest computed from tokens).
    pub costs_given: u64,
    /// The price table's models that computed the others.
    pub priced_as: Vec<String>,
}

/// One side's numbers for a name.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Figures {
    /// Executions.
    pub count: usize,
    /// Median duration, seconds.
    pub p50: f64,
    /// 95th percentile duration, seconds.
    pub p95: f64,
    /// Failures / executions.
    pub failure_rate: f64,
    /// Median cost of the executions with one (`None` without).
    pub cost: Option<f64>,
    /// How many costs the spans gave.
    pub costs_given: u64,
    /// How many costs were computed from tokens.
    pub costs_computed: u64,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// Durations rose beyond noise.
    Slower,
    /// Durations fell beyond noise.
    Faster,
    /// Failures rose beyond noise.
    Flakier,
    /// Failures fell beyond noise.
    Steadier,
    /// Costs rose beyond noise.
    Costlier,
    /// Costs fell beyond noise.
    Cheaper,
    /// Nothing beyond noise.
    NoChange,
    /// Too few executions on a side to tell.
    TooFew,
}

impl Verdict {
    /// `slower`, `faster`, ..., `no change`, `too few`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Slower => "slower",
            Verdict::Faster => "faster",
            Verdict::Flakier => "flakier",
            Verdict::Steadier => "steadier",
            Verdict::Costlier => "costlier",
            Verdict::Cheaper => "cheaper",
            Verdict::NoChange => "no change",
            Verdict::TooFew => "too few",
        }
    }
}

/// A name's comparison: the side asked about against the baseline.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Comparison {
    /// The span name (`execute_tool grep`, `invoke_agent coder`, `run nightly`).
    pub name: String,
    /// The side asked about.
    pub this: Figures,
    /// The baseline.
    pub against: Figures,
    /// The p-value of the durations' difference.
    pub duration_p: Option<f64>,
    /// The p-value of the failures' difference.
    pub failure_p: Option<f64>,
    /// The p-value of the costs' difference.
    pub cost_p: Option<f64>,
    /// What changed (`NoChange` or `TooFew` alone).
    pub verdicts: Vec<Verdict>,
    /// The price table's models that computed costs, on either side.
    pub priced_as: Vec<String>,
}

/// The samples of `side` per span name (those containing `name`, if given), costs from
/// `prices`.
pub fn samples(
    conn: &Connection,
    side: &Side,
    name: Option<&str>,
    prices: &Prices,
) -> rusqlite::Result<BTreeMap<String, Sample>> {
    let pattern = format!("%{}%", name.unwrap_or(""));
    let mut statement;
    let mut rows = match side {
        Side::Commit(hash) => {
            statement = conn.prepare_cached(
                "SELECT name, duration_ns, status_code, attributes FROM telemetry_spans
                 WHERE trace_id IN (SELECT trace_id FROM agent_runs
                                    WHERE git_commit_hash LIKE ?1 || '%' AND trace_id IS NOT NULL)
                   AND name LIKE ?2",
            )?;
            statement.query(params![hash.to_ascii_lowercase(), pattern])?
        }
        Side::Window(from, until) => {
            statement = conn.prepare_cached(
                "SELECT name, duration_ns, status_code, attributes FROM telemetry_spans
                 WHERE start_time_unix_nano >= ?1 AND start_time_unix_nano < ?2 AND name LIKE ?3",
            )?;
            statement.query(params![from, until, pattern])?
        }
    };
    let mut samples: BTreeMap<String, Sample> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let (name, duration, status, attributes): (String, i64, String, Option<String>) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let sample = samples.entry(name).or_default();
        sample.durations.push(duration as f64 / 1e9);
        sample.failures += u64::from(status == "error");
        let attributes: Option<serde_json::Map<String, Value>> =
            attributes.and_then(|text| serde_json::from_str(&text).ok());
        match attributes.and_then(|a| cost::of_attributes(&a, prices)) {
            Some(cost::Cost::Given(amount)) => {
                sample.costs.push(amount);
                sample.costs_given += 1;
            }
            Some(cost::Cost::Computed { amount, model }) => {
                sample.costs.push(amount);
                if !sample.priced_as.contains(&model) {
                    sample.priced_as.push(model);
                }
            }
            None => {}
        }
    }
    Ok(samples)
}

/// Whether any run's commit starts with `hash`.
pub fn commit_has_runs(conn: &Connection, hash: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM agent_runs WHERE git_commit_hash LIKE ?1 || '%')",
        [hash.to_ascii_lowercase()],
        |r| r.get(0),
    )
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 0.5)
}

fn figures(sample: &Sample) -> Figures {
    let mut sorted = sample.durations.clone();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    Figures {
        count,
        p50: percentile(&sorted, 0.5).unwrap_or(0.0),
        p95: percentile(&sorted, 0.95).unwrap_or(0.0),
        failure_rate: if count == 0 {
            0.0
        } else {
            sample.failures as f64 / count as f64
        },
        cost: median(&sample.costs),
        costs_given: sample.costs_given,
        costs_computed: sample.costs.len() as u64 - sample.costs_given,
    }
}

/// Compares `this` against `against`, name by name (the names of either).
pub fn compare(
    this: &BTreeMap<String, Sample>,
    against: &BTreeMap<String, Sample>,
    options: &DiffOptions,
) -> Vec<Comparison> {
    let empty = Sample::default();
    let mut names: Vec<&String> = this.keys().chain(against.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let (a, b) = (
                this.get(name).unwrap_or(&empty),
                against.get(name).unwrap_or(&empty),
            );
            let (fa, fb) = (figures(a), figures(b));
            let enough = |n: usize| n >= options.min_samples;
            let duration_p = mann_whitney(&a.durations, &b.durations);
            let failure_p = fisher_exact(a.failures, fa.count as u64, b.failures, fb.count as u64);
            let cost_p = mann_whitney(&a.costs, &b.costs);
            let mut verdicts = Vec::new();
            if !enough(fa.count) || !enough(fb.count) {
                verdicts.push(Verdict::TooFew);
            } else {
                let called = |p: Option<f64>| p.is_some_and(|p| p < options.alpha);
                let change = |now: f64, before: f64| {
                    if before == 0.0 {
                        0.0
                    } else {
                        (now - before) / before
                    }
                };
                let moved = change(fa.p50, fb.p50);
                if called(duration_p) && moved.abs() >= options.min_change {
                    verdicts.push(if moved > 0.0 {
                        Verdict::Slower
                    } else {
                        Verdict::Faster
                    });
                }
                if called(failure_p) {
                    verdicts.push(if fa.failure_rate > fb.failure_rate {
                        Verdict::Flakier
                    } else {
                        Verdict::Steadier
                    });
                }
                if let (Some(now), Some(before)) = (fa.cost, fb.cost)
                    && enough(a.costs.len())
                    && enough(b.costs.len())
                    && called(cost_p)
                    && change(now, before).abs() >= options.min_change
                {
                    verdicts.push(if now > before {
                        Verdict::Costlier
                    } else {
                        Verdict::Cheaper
                    });
                }
                if verdicts.is_empty() {
                    verdicts.push(Verdict::NoChange);
                }
            }
            let mut priced_as = a.priced_as.clone();
            priced_as.extend(
                b.priced_as
                    .iter()
                    .filter(|m| !a.priced_as.contains(m))
                    .cloned(),
            );
            Comparison {
                priced_as,
                name: name.clone(),
                this: fa,
                against: fb,
                duration_p,
                failure_p,
                cost_p,
                verdicts,
            }
        })
        .collect()
}

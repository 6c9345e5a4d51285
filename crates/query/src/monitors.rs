//! Monitors (seed 004): threshold rules on stored metrics, evaluated again and again, each
//! series of a rule moving from ok to pending (the condition holds) to firing (it held for
//! the rule's `for`) and back, as Prometheus' alerting rules do. Firing and resolving are
//! [`Alert`]s, which the caller stores, logs, counts and posts.
//!
//! The config file's block:
//!
//! ```json
//! "monitors": {
//!   "interval": "15s",
//!   "webhook": "http://127.0.0.1:9000/alerts",
//!   "rules": [
//!     { "name": "slow coder", "metric": "task_seconds", "labels": {"agent_type": "coder"},
//!       "aggregation": "p95", "window": "5m", "comparison": ">", "threshold": 30,
//!       "for": "2m" }
//!   ]
//! }
//! ```
//!
//! A rule's value for a series is its aggregation over the series' points in the last
//! `window`; a series without points there is not evaluated (and resolves if it fired).

use crate::functions::Aggregation;
use crate::query::{self, Query, QueryError};
use lookout_store::metrics::labels_of;
use lookout_store::rusqlite::Connection;
use lookout_store::{Record, RecordKind};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

/// How a value compares with a rule's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>`
    Above,
    /// `>=`
    AtLeast,
    /// `<`
    Below,
    /// `<=`
    AtMost,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
}

impl Comparison {
    const ALL: [(&'static str, Comparison); 6] = [
        (">", Comparison::Above),
        (">=", Comparison::AtLeast),
        ("<", Comparison::Below),
        ("<=", Comparison::AtMost),
        ("==", Comparison::Equal),
        ("!=", Comparison::NotEqual),
    ];

    /// `>`, `>=`, ...
    pub fn as_str(self) -> &'static str {
        Comparison::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("?", |(text, _)| text)
    }

    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
            Comparison::Equal => value == threshold,
            Comparison::NotEqual => value != threshold,
        }
    }
}

/// One threshold rule.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rule {
    /// Its name, in alerts and on `/metrics`.
    pub name: String,
    /// The metric, as stored.
    pub metric: String,
    /// Labels its series must have.
    pub labels: BTreeMap<String, String>,
    /// How the window's points become the value.
    pub aggregation: Aggregation,
    /// How far back the value looks.
    pub window: Duration,
    /// How the value compares with the threshold.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
    /// How long the condition must hold before the alert fires.
    pub for_duration: Duration,
}

/// The `monitors` block, read.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MonitorConfig {
    /// Time between evaluations (default 15 s).
    pub interval: Duration,
    /// Where alerts are POSTed, if anywhere.
    pub webhook: Option<String>,
    /// The rules.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    interval: Option<String>,
    webhook: Option<String>,
    rules: Vec<RuleBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleBlock {
    name: String,
    metric: String,
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
    aggregation: String,
    window: String,
    comparison: String,
    threshold: f64,
    #[serde(rename = "for")]
    for_duration: Option<String>,
}

fn duration(text: &str, field: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{field}: {text:?} is not a duration: {e}"))
}

impl MonitorConfig {
    /// Reads the block; an error names the rule and field at fault.
    pub fn parse(block: &Value) -> Result<MonitorConfig, String> {
        let block: Block =
            serde_json::from_value(block.clone()).map_err(|e| format!("monitors: {e}"))?;
        let interval = match &block.interval {
            Some(text) => duration(text, "monitors.interval")?,
            None => Duration::from_secs(15),
        };
        if interval.is_zero() {
            return Err("monitors.interval: must be positive".into());
        }
        if let Some(url) = &block.webhook
            && !url.starts_with("http://")
        {
            return Err(format!("monitors.webhook: {url:?} is not an http:// URL"));
        }
        let mut rules = Vec::new();
        for (i, rule) in block.rules.into_iter().enumerate() {
            let at = |field: &str| format!("monitors.rules[{i}] ({:?}).{field}", rule.name);
            let aggregation = Aggregation::parse(&rule.aggregation).ok_or_else(|| {
                format!(
                    "{}: {:?} is not avg, sum, min, max, count or pN",
                    at("aggregation"),
                    rule.aggregation
                )
            })?;
            let comparison = Comparison::ALL
                .iter()
                .find(|(text, _)| *text == rule.comparison)
                .map(|(_, c)| *c)
                .ok_or_else(|| {
                    format!(
                        "{}: {:?} is not >, >=, <, <=, == or !=",
                        at("comparison"),
                        rule.comparison
                    )
                })?;
            let window = duration(&rule.window, &at("window"))?;
            if window.is_zero() {
                return Err(format!("{}: must be positive", at("window")));
            }
            let for_duration = match &rule.for_duration {
                Some(text) => duration(text, &at("for"))?,
                None => Duration::ZERO,
            };
            rules.push(Rule {
                labels: labels_of(&rule.labels),
                name: rule.name,
                metric: rule.metric,
                aggregation,
                window,
                comparison,
                threshold: rule.threshold,
                for_duration,
            });
        }
        Ok(MonitorConfig {
            interval,
            webhook: block.webhook,
            rules,
        })
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// The condition held for the rule's `for`.
    Firing,
    /// It holds no more.
    Resolved,
}

impl AlertState {
    /// `firing` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// A rule's series that fired or resolved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// Firing or resolved.
    pub state: AlertState,
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The value evaluated (none when the series had no points in the window).
    pub value: Option<f64>,
    /// The rule's threshold.
    pub threshold: f64,
    /// The rule's comparison.
    pub comparison: Comparison,
    /// When the condition started to hold (Unix nanoseconds).
    pub since: i64,
    /// The evaluation that fired or resolved it (Unix nanoseconds).
    pub at: i64,
}

impl Alert {
    /// Its JSON: the webhook's body and the stored record's.
    pub fn to_json(&self) -> Value {
        json!({
            "rule": self.rule, "state": self.state.as_str(), "labels": self.labels,
            "value": self.value, "comparison": self.comparison.as_str(),
            "threshold": self.threshold,
            "since": lookout_store::rfc3339_of_nanos(self.since),
            "at": lookout_store::rfc3339_of_nanos(self.at),
        })
    }

    /// The record the store keeps of it (kind `alert`, at its evaluation's time).
    pub fn record(&self) -> Record {
        let mut record = Record::new(RecordKind::Alert, self.to_json());
        record.time = UNIX_EPOCH + Duration::from_nanos(self.at.max(0) as u64);
        record
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Pending { since: i64 },
    Firing { since: i64 },
}

/// The rules and each series' state between evaluations.
#[derive(Debug)]
pub struct Monitors {
    rules: Vec<Rule>,
    states: HashMap<(usize, BTreeMap<String, String>), State>,
}

impl Monitors {
    /// Monitors of `rules`, every series ok.
    pub fn new(rules: Vec<Rule>) -> Monitors {
        Monitors {
            rules,
            states: HashMap::new(),
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// How many series fire now, per rule name.
    pub fn firing(&self) -> BTreeMap<&str, usize> {
        let mut firing: BTreeMap<&str, usize> =
            self.rules.iter().map(|r| (r.name.as_str(), 0)).collect();
        for ((rule, _), state) in &self.states {
            if matches!(state, State::Firing { .. }) {
                *firing.entry(self.rules[*rule].name.as_str()).or_default() += 1;
            }
        }
        firing
    }

    /// Evaluates every rule as of `now` (Unix nanoseconds) on the store behind `conn`:
    /// the alerts that fired or resolved, and the rules that could not be read (their
    /// series keep their state until the next evaluation).
    pub fn evaluate(&mut self, conn: &Connection, now: i64) -> Evaluation {
        let mut alerts = Vec::new();
        let mut failed = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let window = i64::try_from(rule.window.as_nanos()).unwrap_or(i64::MAX);
            let mut query = Query::new(
                &rule.metric,
                now.saturating_sub(window),
                now,
                rule.aggregation,
                1,
            );
            query.labels = rule.labels.clone();
            let found = match query::points(conn, &query) {
                Ok(found) => found,
                Err(error) => {
                    failed.push((rule.name.clone(), error));
                    continue;
                }
            };
            let mut seen = Vec::new();
            for series in found {
                let mut values: Vec<f64> = series.points.iter().map(|p| p.value).collect();
                let Some(value) = rule.aggregation.apply(&mut values) else {
                    continue;
                };
                let key = (i, series.labels.clone());
                seen.push(series.labels.clone());
                let holds = rule.comparison.holds(value, rule.threshold);
                let for_nanos = i64::try_from(rule.for_duration.as_nanos()).unwrap_or(i64::MAX);
                let alert = |state, since| Alert {
                    rule: rule.name.clone(),
                    state,
                    labels: series.labels.clone(),
                    value: Some(value),
                    threshold: rule.threshold,
                    comparison: rule.comparison,
                    since,
                    at: now,
                };
                let next = match (self.states.get(&key).copied(), holds) {
                    (None, false) | (Some(State::Pending { .. }), false) => None,
                    (Some(State::Firing { since }), false) => {
                        alerts.push(alert(AlertState::Resolved, since));
                        None
                    }
                    (Some(firing @ State::Firing { .. }), true) => Some(firing),
                    (None, true) => Some(State::Pending { since: now }),
                    (Some(pending @ State::Pending { .. }), true) => Some(pending),
                };
                let next = match next {
                    Some(State::Pending { since }) if now.saturating_sub(since) >= for_nanos => {
                        alerts.push(alert(AlertState::Firing, since));
                        Some(State::Firing { since })
                    }
                    other => other,
                };
                match next {
                    Some(state) => self.states.insert(key, state),
                    None => self.states.remove(&key),
                };
            }
            // A series gone quiet is evaluated no more: a firing one resolves.
            let gone: Vec<(BTreeMap<String, String>, State)> = self
                .states
                .iter()
                .filter(|((rule, labels), _)| *rule == i && !seen.contains(labels))
                .map(|((_, labels), state)| (labels.clone(), *state))
                .collect();
            for (labels, state) in gone {
                if let State::Firing { since } = state {
                    alerts.push(Alert {
                        rule: rule.name.clone(),
                        state: AlertState::Resolved,
                        labels: labels.clone(),
                        value: None,
                        threshold: rule.threshold,
                        comparison: rule.comparison,
                        since,
                        at: now,
                    });
                }
                self.states.remove(&(i, labels));
            }
        }
        Evaluation { alerts, failed }
    }
}

/// What one evaluation found.
#[derive(Debug)]
#[non_exhaustive]
pub struct Evaluation {
    /// The alerts that fired or resolved.
    pub alerts: Vec<Alert>,
    /// The rules that could not be read, with why.
    pub failed: Vec<(String, QueryError)>,
}

//! Seed 001's analysis: the "Runtime Metrics" table (success_rate, avg_duration_ms,
//! total_tool_calls, avg_tool_calls_per_session) and the per-skill table (invocations,
//! success_rate, avg_duration_ms, total_tool_calls), over sessions and over seed 000's
//! skill entries alike.

use super::SessionTelemetry;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One execution as the analysis counts it: a session, or a seed 000 entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The skill (a session's first `skill.invoked`); empty when none.
    pub skill: String,
    /// Whether it succeeded.
    pub success: bool,
    /// How long it took.
    pub duration_ms: f64,
    /// Tool calls it made (entries make none).
    pub tool_calls: u64,
}

impl Execution {
    /// A session's figures (an open session counts as lasting 0 ms).
    pub fn of_session(session: &SessionTelemetry) -> Execution {
        Execution {
            skill: session.skill_name.clone().unwrap_or_default(),
            success: session.success,
            duration_ms: session.duration_ms().unwrap_or(0) as f64,
            tool_calls: session.tool_calls.len() as u64,
        }
    }

    /// A seed 000 entry's figures ([`crate::skills::is_success`]); `None` when it
    /// is not an entry (no `skill` or `duration_ms`).
    pub fn of_entry(entry: &Value) -> Option<Execution> {
        Some(Execution {
            skill: entry.get("skill")?.as_str()?.to_owned(),
            success: entry
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(crate::skills::is_success),
            duration_ms: entry.get("duration_ms")?.as_f64()?,
            tool_calls: 0,
        })
    }
}

/// The analysis' figures, as `-o` writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Executions counted.
    pub sessions_analyzed: u64,
    /// The skills seen, most invoked first.
    pub skills_invoked: Vec<String>,
    /// The aggregate table.
    pub metrics: Figures,
    /// The per-skill table, by skill name.
    pub per_skill: BTreeMap<String, SkillFigures>,
}

/// Seed 001's aggregate metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Percentage of executions that succeeded (0 to 100).
    pub success_rate: f64,
    /// Average duration.
    pub avg_duration_ms: f64,
    /// Tool calls across all executions.
    pub total_tool_calls: u64,
    /// Tool calls per execution.
    pub avg_tool_calls_per_session: f64,
}

/// Seed 001's per-skill metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillFigures {
    /// Executions of the skill.
    pub invocations: u64,
    /// Percentage of them that succeeded.
    pub success_rate: f64,
    /// Their average duration.
    pub avg_duration_ms: f64,
    /// Their tool calls.
    pub total_tool_calls: u64,
}

/// Running sums for one table row.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    count: u64,
    successes: u64,
    duration_ms: f64,
    tool_calls: u64,
}

impl Sums {
    fn add(&mut self, e: &Execution) {
        self.count += 1;
        self.successes += u64::from(e.success);
        self.duration_ms += e.duration_ms;
        self.tool_calls += e.tool_calls;
    }

    fn ratio(&self, of: f64) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            of / self.count as f64
        }
    }
}

/// The analysis of `executions`, only those of `skill` when given.
pub fn analyze(executions: impl IntoIterator<Item = Execution>, skill: Option<&str>) -> Analysis {
    let mut all = Sums::default();
    let mut by_skill: BTreeMap<String, Sums> = BTreeMap::new();
    for e in executions {
        if skill.is_some_and(|s| s != e.skill) {
            continue;
        }
        all.add(&e);
        by_skill.entry(e.skill.clone()).or_default().add(&e);
    }
    let mut skills_invoked: Vec<(&String, u64)> = by_skill
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, sums)| (name, sums.count))
        .collect();
    skills_invoked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    Analysis {
        sessions_analyzed: all.count,
        skills_invoked: skills_invoked.into_iter().map(|(n, _)| n.clone()).collect(),
        metrics: Figures {
            success_rate: 100.0 * all.ratio(all.successes as f64),
            avg_duration_ms: all.ratio(all.duration_ms),
            total_tool_calls: all.tool_calls,
            avg_tool_calls_per_session: all.ratio(all.tool_calls as f64),
        },
        per_skill: by_skill
            .iter()
            .map(|(name, sums)| {
                let figures = SkillFigures {
                    invocations: sums.count,
                    success_rate: 100.0 * sums.ratio(sums.successes as f64),
                    avg_duration_ms: sums.ratio(sums.duration_ms),
                    total_tool_calls: sums.tool_calls,
                };
                (name.clone(), figures)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(skill: &str, success: bool, duration_ms: f64, tool_calls: u64) -> Execution {
        Execution {
            skill: skill.into(),
            success,
            duration_ms,
            tool_calls,
        }
    }

    #[test]
    fn the_tables_of_a_few_executions() {
        let runs = [
            run("deploy", true, 1000.0, 4),
            run("deploy", false, 3000.0, 2),
            run("diagnose", true, 500.0, 0),
            run("", true, 100.0, 1),
        ];
        let a = analyze(runs.clone(), None);
        assert_eq!(a.sessions_analyzed, 4);
        assert_eq!(a.skills_invoked, ["deploy", "diagnose"]);
        assert_eq!(a.metrics.success_rate, 75.0);
        assert_eq!(a.metrics.avg_duration_ms, 1150.0);
        assert_eq!(a.metrics.total_tool_calls, 7);
        assert_eq!(a.metrics.avg_tool_calls_per_session, 1.75);
        assert_eq!(
            a.per_skill["deploy"],
            SkillFigures {
                invocations: 2,
                success_rate: 50.0,
                avg_duration_ms: 2000.0,
                total_tool_calls: 6
            }
        );
        let only = analyze(runs, Some("diagnose"));
        assert_eq!(only.sessions_analyzed, 1);
        assert_eq!(only.per_skill.len(), 1);
        let none = analyze([], None);
        assert_eq!(
            (none.sessions_analyzed, none.metrics.success_rate),
            (0, 0.0)
        );
    }

    #[test]
    fn entries_count_as_executions() {
        let entry = serde_json::json!({"skill": "s", "status": "failed", "duration_ms": 450});
        assert_eq!(Execution::of_entry(&entry), Some(run("s", false, 450.0, 0)));
        assert_eq!(
            Execution::of_entry(&serde_json::json!({"skill": "s"})),
            None
        );
    }
}

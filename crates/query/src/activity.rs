//! What agents did since a time, at a glance (the web page's overview): runs by outcome,
//! the agents that were active, the spans' error rate, tokens and their cost, and the
//! slowest tools.

use crate::cost::{self, Cost, Prices};
use lookout_store::rusqlite::{self, Connection, params};
use serde::Serialize;
use serde_json::{Map, Value};

/// How many tools [`Activity::slowest_tools`] lists.
const SLOWEST_TOOLS: usize = 5;

/// What agents did since a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Activity {
    /// Runs started since, by status, most first.
    pub runs: Vec<(String, u64)>,
    /// Of those that ended, the share that succeeded (0 to 1); `None` if none ended.
    pub run_success_rate: Option<f64>,
    /// The agents that ran (a run's `agent_name`, an `invoke_agent` span's
    /// `gen_ai.agent.name`), sorted.
    pub agents: Vec<String>,
    /// Spans started since.
    pub spans: u64,
    /// Of those, the ones that ended with an error status.
    pub error_spans: u64,
    /// Input tokens of the spans that report usage (an agent's span, which sums its
    /// children's, left out).
    pub input_tokens: u64,
    /// Output tokens, likewise.
    pub output_tokens: u64,
    /// What those spans cost, US dollars (given by a span, else priced by its model).
    pub cost: f64,
    /// Spans with usage whose cost is unknown (no price for their model).
    pub unpriced_spans: u64,
    /// The tools with the longest mean duration, slowest first.
    pub slowest_tools: Vec<ToolUsage>,
}

/// One tool's `execute_tool` spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ToolUsage {
    /// `gen_ai.tool.name`.
    pub tool: String,
    /// Calls.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Mean duration, milliseconds.
    pub avg_duration_ms: f64,
    /// Longest duration, milliseconds.
    pub max_duration_ms: f64,
}

/// What agents did from `from` (Unix nanoseconds) on, costs priced by `prices`.
pub fn since(conn: &Connection, from: i64, prices: &Prices) -> rusqlite::Result<Activity> {
    let mut activity = Activity::default();
    let from_text = lookout_store::rfc3339_of_nanos(from);
    let mut statement = conn.prepare_cached(
        "SELECT status, COUNT(*) FROM agent_runs WHERE start_time >= ?1
         GROUP BY status ORDER BY 2 DESC, 1",
    )?;
    activity.runs = statement
        .query_map([&from_text], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let count = |status: &str| {
        activity
            .runs
            .iter()
            .filter(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let ended: u64 = activity.runs.iter().map(|(_, n)| n).sum::<u64>() - count("running");
    activity.run_success_rate = (ended > 0).then(|| count("success") as f64 / ended as f64);
    let mut statement = conn.prepare_cached(
        "SELECT agent_name FROM agent_runs WHERE start_time >= ?1 AND agent_name IS NOT NULL
         UNION
         SELECT json_extract(attributes, '$.\"gen_ai.agent.name\"') FROM telemetry_spans
          WHERE start_time_unix_nano >= ?2
            AND json_extract(attributes, '$.\"gen_ai.operation.name\"') = 'invoke_agent'
            AND json_extract(attributes, '$.\"gen_ai.agent.name\"') IS NOT NULL
         ORDER BY 1",
    )?;
    activity.agents = statement
        .query_map(params![from_text, from], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    (activity.spans, activity.error_spans) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(status_code = 'error'), 0) FROM telemetry_spans
         WHERE start_time_unix_nano >= ?1",
        [from],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
            ))
        },
    )?;
    let mut statement = conn.prepare_cached(
        "SELECT attributes FROM telemetry_spans
          WHERE start_time_unix_nano >= ?1 AND attributes LIKE '%\"gen_ai.usage.%'
            AND json_extract(attributes, '$.\"gen_ai.operation.name\"') IS NOT 'invoke_agent'",
    )?;
    let mut rows = statement.query([from])?;
    while let Some(row) = rows.next()? {
        let attributes: String = row.get(0)?;
        let Ok(attributes) = serde_json::from_str::<Map<String, Value>>(&attributes) else {
            continue;
        };
        let tokens = |key: &str| attributes.get(key).and_then(Value::as_u64).unwrap_or(0);
        activity.input_tokens += tokens("gen_ai.usage.input_tokens");
        activity.output_tokens += tokens("gen_ai.usage.output_tokens");
        match cost::of_attributes(&attributes, prices) {
            Some(Cost::Given(amount) | Cost::Computed { amount, .. }) => activity.cost += amount,
            None => activity.unpriced_spans += 1,
        }
    }
    let mut statement = conn.prepare_cached(
        "SELECT json_extract(attributes, '$.\"gen_ai.tool.name\"') AS tool, COUNT(*),
                SUM(status_code = 'error'), AVG(duration_ns) / 1e6, MAX(duration_ns) / 1e6
           FROM telemetry_spans
          WHERE start_time_unix_nano >= ?1
            AND json_extract(attributes, '$.\"gen_ai.operation.name\"') = 'execute_tool'
            AND tool IS NOT NULL
          GROUP BY tool ORDER BY 4 DESC, 1 LIMIT ?2",
    )?;
    activity.slowest_tools = statement
        .query_map(params![from, SLOWEST_TOOLS as i64], |r| {
            Ok(ToolUsage {
                tool: r.get(0)?,
                calls: r.get::<_, i64>(1)?.max(0) as u64,
                failures: r.get::<_, i64>(2)?.max(0) as u64,
                avg_duration_ms: r.get(3)?,
                max_duration_ms: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(activity)
}

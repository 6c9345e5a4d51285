//! Seed 002's runs in the index: `agent_runs` keeps the newest state of every run from
//! the `run` records (each carries the run's whole state), `agent_run_events` the
//! events; both are rebuilt from the log like every other table.

use crate::record::{Record, RecordKind, nanos};
use rusqlite::{Connection, Transaction, params};
use std::sync::OnceLock;

/// The columns of `agent_runs` filled from a run record's body, under the same names.
pub const RUN_FIELDS: &[&str] = &[
    "agent_name",
    "job_type",
    "status",
    "start_time",
    "end_time",
    "duration_ms",
    "items_discovered",
    "items_succeeded",
    "items_failed",
    "input_summary",
    "output_summary",
    "error_summary",
    "metrics_json",
    "insight_id",
    "product",
    "platform",
    "git_repo",
    "git_branch",
    "git_commit_hash",
    "git_commit_source",
    "git_commit_author",
    "host",
    "pid",
    "process_start",
    "trace_id",
    "api_posting_status",
    "api_posting_attempts",
    "api_posting_error",
];

/// Upserts a run's state (parameters: body, event id, time); an older state never
/// replaces a newer one.
fn run_upsert() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let columns = RUN_FIELDS.join(", ");
        let values: Vec<String> = RUN_FIELDS
            .iter()
            .map(|f| format!("json_extract(?1, '$.{f}')"))
            .collect();
        let updates: Vec<String> = RUN_FIELDS
            .iter()
            .map(|f| format!("{f} = excluded.{f}"))
            .collect();
        format!(
            "INSERT INTO agent_runs (run_id, event_id, updated_unix_nano, {columns})
             SELECT json_extract(?1, '$.run_id'), ?2, ?3, {}
             WHERE json_extract(?1, '$.run_id') IS NOT NULL
             ON CONFLICT (run_id) DO UPDATE SET event_id = excluded.event_id,
                 updated_unix_nano = excluded.updated_unix_nano, {}
             WHERE excluded.updated_unix_nano >= agent_runs.updated_unix_nano",
            values.join(", "),
            updates.join(", ")
        )
    })
}

const EVENT_INSERT: &str = "INSERT OR IGNORE INTO agent_run_events
        (event_id, run_id, name, time_unix_nano, payload)
     SELECT ?2, json_extract(?1, '$.run_id'), COALESCE(json_extract(?1, '$.name'), ''), ?3,
            COALESCE(json_extract(?1, '$.payload'), '{}')
     WHERE json_extract(?1, '$.run_id') IS NOT NULL";

/// Keeps the run tables up to date with `record`, if it is a run or a run event.
pub(crate) fn index(tx: &Transaction<'_>, record: &Record) -> rusqlite::Result<()> {
    let sql = match record.kind {
        RecordKind::Run => run_upsert(),
        RecordKind::RunEvent => EVENT_INSERT,
        _ => return Ok(()),
    };
    tx.prepare_cached(sql)?.execute(params![
        record.body.to_string(),
        record.event_id,
        nanos(record.time)
    ])?;
    Ok(())
}

/// Migration 3: the run tables, filled from the run records already stored.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(include_str!("schema/003_runs.sql"))?;
    let mut runs = conn.prepare(
        "SELECT kind, event_id, time_unix_nano, body FROM telemetry_records
         WHERE kind IN ('run', 'run_event') ORDER BY time_unix_nano",
    )?;
    let mut upsert = conn.prepare(run_upsert())?;
    let mut event = conn.prepare(EVENT_INSERT)?;
    let mut rows = runs.query([])?;
    while let Some(row) = rows.next()? {
        let (kind, id, time, body): (String, String, i64, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let statement = if kind == "run" {
            &mut upsert
        } else {
            &mut event
        };
        statement.execute(params![body, id, time])?;
    }
    Ok(())
}

/// The newest state of run `run_id` as the body of a `run` record (the columns that are
/// set, under their names), to build the next state from; `None` if there is no such run.
pub fn load_state(
    conn: &Connection,
    run_id: &str,
) -> rusqlite::Result<Option<serde_json::Map<String, serde_json::Value>>> {
    let sql = format!(
        "SELECT run_id, {} FROM agent_runs WHERE run_id = ?1",
        RUN_FIELDS.join(", ")
    );
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([run_id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut body = serde_json::Map::new();
    for (i, name) in std::iter::once(&"run_id").chain(RUN_FIELDS).enumerate() {
        use rusqlite::types::ValueRef;
        let value = match row.get_ref(i)? {
            ValueRef::Null => continue,
            ValueRef::Integer(n) => serde_json::Value::from(n),
            ValueRef::Real(x) => serde_json::Value::from(x),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
            ValueRef::Blob(_) => continue,
        };
        body.insert((*name).to_owned(), value);
    }
    Ok(Some(body))
}

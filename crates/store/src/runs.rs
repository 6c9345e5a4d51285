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

/// The commit's columns: an associated commit is kept against a detected or missing one.
const COMMIT_FIELDS: [&str; 3] = ["git_commit_hash", "git_commit_source", "git_commit_author"];

/// Upserts a run's state (parameters: body, event id, time); an older state never
/// replaces a newer one.
fn run_upsert() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let values: Vec<String> = RUN_FIELDS
            .iter()
            .map(|f| format!("json_extract(?1, '$.{f}')"))
            .collect();
        run_upsert_from(&format!(
            "SELECT json_extract(?1, '$.run_id'), ?2, ?3, {}
             WHERE json_extract(?1, '$.run_id') IS NOT NULL",
            values.join(", ")
        ))
    })
}

/// The run upsert of the rows `source` gives (run id, event id, time, then
/// [`RUN_FIELDS`]), in SQL that SQLite and PostgreSQL both run.
pub(crate) fn run_upsert_from(source: &str) -> String {
    let columns = RUN_FIELDS.join(", ");
    let updates: Vec<String> = RUN_FIELDS
        .iter()
        .map(|f| match COMMIT_FIELDS.contains(f) {
            // An associated commit (it has a source) is never taken back by a later
            // state that lacks one or only detected HEAD (a guard ending, another
            // process's copy of the run).
            true => format!(
                "{f} = CASE WHEN excluded.git_commit_source IS NULL
                                 AND agent_runs.git_commit_source IS NOT NULL
                            THEN agent_runs.{f} ELSE COALESCE(excluded.{f}, agent_runs.{f}) END"
            ),
            false => format!("{f} = excluded.{f}"),
        })
        .collect();
    format!(
        "INSERT INTO agent_runs (run_id, event_id, updated_unix_nano, {columns})
             {source}
             ON CONFLICT (run_id) DO UPDATE SET event_id = excluded.event_id,
                 updated_unix_nano = excluded.updated_unix_nano, {}
             WHERE excluded.updated_unix_nano >= agent_runs.updated_unix_nano",
        updates.join(", ")
    )
}

const EVENT_INSERT: &str = "INSERT OR IGNORE INTO agent_run_events
        (event_id, run_id, name, time_unix_nano, payload)
     SELECT ?2, json_extract(?1, '$.run_id'), COALESCE(json_extract(?1, '$.name'), ''), ?3,
            COALESCE(?1 -> '$.payload', '{}')
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

/// Which runs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunFilter {
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only this job type's.
    pub job_type: Option<String>,
    /// Only with this status.
    pub status: Option<String>,
    /// Started at or after this (RFC 3339, compared as text as the column is).
    pub since: Option<String>,
    /// Started before this (RFC 3339, compared as text).
    pub until: Option<String>,
    /// Only runs recorded on this host.
    pub host: Option<String>,
    /// Only runs with this `api_posting_status`.
    pub posting_status: Option<String>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
    /// Skip this many of the newest first.
    pub offset: usize,
}

/// The runs `filter` selects, newest first, each as the body of its newest state.
pub fn list(
    conn: &Connection,
    filter: &RunFilter,
) -> rusqlite::Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let sql = format!(
        "SELECT run_id, {} FROM agent_runs
         WHERE (?1 IS NULL OR agent_name = ?1) AND (?2 IS NULL OR job_type = ?2)
           AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR start_time >= ?4)
           AND (?5 IS NULL OR host = ?5) AND (?6 IS NULL OR api_posting_status = ?6)
           AND (?8 IS NULL OR start_time < ?8)
         ORDER BY start_time DESC, rowid DESC LIMIT ?7 OFFSET ?9",
        RUN_FIELDS.join(", ")
    );
    let mut statement = conn.prepare(&sql)?;
    let limit = if filter.limit == 0 {
        -1
    } else {
        filter.limit as i64
    };
    let mut rows = statement.query(params![
        filter.agent,
        filter.job_type,
        filter.status,
        filter.since,
        filter.host,
        filter.posting_status,
        limit,
        filter.until,
        filter.offset as i64
    ])?;
    let mut runs = Vec::new();
    while let Some(row) = rows.next()? {
        runs.push(body_of(row)?);
    }
    Ok(runs)
}

/// The events of run `run_id` in order: name, time (Unix ns), payload.
pub fn events(
    conn: &Connection,
    run_id: &str,
) -> rusqlite::Result<Vec<(String, i64, serde_json::Value)>> {
    let mut statement = conn.prepare(
        "SELECT name, time_unix_nano, payload FROM agent_run_events
         WHERE run_id = ?1 ORDER BY time_unix_nano",
    )?;
    statement
        .query_map([run_id], |r| {
            let payload: String = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                serde_json::from_str(&payload).unwrap_or_default(),
            ))
        })?
        .collect()
}

/// A row of `run_id` and [`RUN_FIELDS`] as a body: the columns that are set.
fn body_of(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<serde_json::Map<String, serde_json::Value>> {
    use rusqlite::types::ValueRef;
    let mut body = serde_json::Map::new();
    for (i, name) in std::iter::once(&"run_id").chain(RUN_FIELDS).enumerate() {
        let value = match row.get_ref(i)? {
            ValueRef::Null | ValueRef::Blob(_) => continue,
            ValueRef::Integer(n) => serde_json::Value::from(n),
            ValueRef::Real(x) => serde_json::Value::from(x),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        };
        body.insert((*name).to_owned(), value);
    }
    Ok(body)
}

/// The newest state of run `run_id` as the body of a `run` record (the columns that are
/// set, under their names), to build the next state from; `None` if there is no such run.
pub fn load_state(conn: &Connection, run_id: &str) -> rusqlite::Result<Option<RunBody>> {
    let sql = format!(
        "SELECT run_id, {} FROM agent_runs WHERE run_id = ?1",
        RUN_FIELDS.join(", ")
    );
    let mut statement = conn.prepare(&sql)?;
    let mut rows = statement.query([run_id])?;
    rows.next()?.map(body_of).transpose()
}

/// A run's body, as stored and recorded.
pub type RunBody = serde_json::Map<String, serde_json::Value>;

/// Closes the runs of `host` left `running` by processes that died (the pid gone, or
/// reused by a process started later): each gets status `abandoned`, an end time, its
/// duration and, unless it has one, an error summary naming the process; with
/// `mark_pending`, also a posting status of `pending`. Returns their new states once
/// stored.
pub fn close_stale(
    store: &crate::Store,
    host: &str,
    mark_pending: bool,
) -> Result<Vec<RunBody>, RunStoreError> {
    let filter = RunFilter {
        status: Some("running".into()),
        host: Some(host.to_owned()),
        ..RunFilter::default()
    };
    let (running, now) = read_stored(store, |conn| {
        let now = lookout_exporter_json::rfc3339(std::time::SystemTime::now());
        let mut running = list(conn, &filter)?;
        running.retain(|body| !crate::process::recorder_alive(body));
        for body in &mut running {
            let start = body.get("start_time").and_then(serde_json::Value::as_str);
            let ms: Option<i64> = conn.query_row(
                "SELECT CAST(round((julianday(?1) - julianday(?2)) * 86400000) AS INTEGER)",
                params![now, start],
                |r| r.get(0),
            )?;
            if let Some(ms) = ms {
                body.insert("duration_ms".into(), ms.max(0).into());
            }
        }
        Ok((running, now))
    })?;
    for body in &running {
        let mut body = body.clone();
        let pid = body.get("pid").cloned().unwrap_or_default();
        body.insert("status".into(), "abandoned".into());
        body.insert("end_time".into(), now.clone().into());
        body.entry("error_summary").or_insert_with(|| {
            format!("process {pid} on {host} ended before the run did (closed as stale)").into()
        });
        if mark_pending {
            body.insert("api_posting_status".into(), "pending".into());
            body.entry("api_posting_attempts").or_insert(0.into());
        }
        queue(store, body)?;
    }
    sync(store)?;
    Ok(running
        .into_iter()
        .map(|mut body| {
            body.insert("status".into(), "abandoned".into());
            body
        })
        .collect())
}

/// How long the store's run operations wait for what was recorded before them.
const SYNC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why runs could not be read from the store or written to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RunStoreError(String);

/// `read` on the index once everything recorded before is in it (without taking the
/// host's report of drops).
fn read_stored<T>(
    store: &crate::Store,
    read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<T, RunStoreError> {
    let db = &store.config().db_path;
    sync(store)?;
    crate::open_reader(db)
        .and_then(|conn| read(&conn))
        .map_err(|e| RunStoreError(format!("cannot read {}: {e}", db.display())))
}

/// The newest stored state of run `run_id`, once what was recorded before is stored.
pub fn stored_state(store: &crate::Store, run_id: &str) -> Result<Option<RunBody>, RunStoreError> {
    read_stored(store, |conn| load_state(conn, run_id))
}

/// Stores a new state of run `run_id`: its newest stored state (whoever wrote it),
/// changed by `edit`. `Ok(false)` if the store has no such run.
pub fn update(
    store: &crate::Store,
    run_id: &str,
    edit: impl FnOnce(&mut RunBody),
) -> Result<bool, RunStoreError> {
    let Some(mut body) = stored_state(store, run_id)? else {
        return Ok(false);
    };
    edit(&mut body);
    queue(store, body)?;
    sync(store)?;
    Ok(true)
}

/// Queues a new state of a run, waiting for room rather than dropping it.
fn queue(store: &crate::Store, body: RunBody) -> Result<(), RunStoreError> {
    store
        .record_waiting(Record::new(RecordKind::Run, body.into()), SYNC_TIMEOUT)
        .map_err(|e| RunStoreError(e.to_string()))
}

/// Waits until what was recorded is in the index (the host's drop report left alone).
fn sync(store: &crate::Store) -> Result<(), RunStoreError> {
    store
        .sync(SYNC_TIMEOUT)
        .map_err(|e| RunStoreError(e.to_string()))
}

/// Sets a run's commit, as seed 002's `associate_commit`: the hash and source, and the
/// author when one is given (an earlier author stays otherwise, as with every field).
pub fn set_commit(body: &mut RunBody, hash: &str, source: &str, author: Option<&str>) {
    body.insert("git_commit_hash".into(), hash.into());
    body.insert("git_commit_source".into(), source.into());
    if let Some(author) = author {
        body.insert("git_commit_author".into(), author.into());
    }
}

/// The ids of the runs whose id starts with `prefix` (at most `limit`).
pub fn ids_starting_with(
    conn: &Connection,
    prefix: &str,
    limit: usize,
) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT run_id FROM agent_runs WHERE substr(run_id, 1, length(?1)) = ?1 ORDER BY run_id LIMIT ?2",
    )?;
    statement
        .query_map(params![prefix, limit as i64], |r| r.get(0))?
        .collect()
}

/// The run a client's `event_id` names: the run whose id it is (seed 002's posting sends
/// `event_id` = `run_id`), else the run one of whose states was recorded under it.
pub fn run_of_event(conn: &Connection, event_id: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT run_id FROM agent_runs WHERE run_id = ?1
         UNION ALL
         SELECT json_extract(body, '$.run_id') FROM telemetry_records
          WHERE event_id = ?1 AND kind = 'run'
         LIMIT 1",
        [event_id],
        |r| r.get(0),
    )
    .optional()
}

/// The text of field `field` of the `run` record stored under each of `event_ids` (one
/// answer per id, `None` for an id with no run record or no such field): one statement
/// for all of them.
pub fn recorded_fields(
    conn: &Connection,
    event_ids: &[String],
    field: &str,
) -> rusqlite::Result<Vec<Option<String>>> {
    let mut statement = conn.prepare_cached(
        // CROSS JOIN keeps the ids as the outer loop: one primary-key probe each.
        "SELECT r.event_id, json_extract(r.body, '$.' || ?2)
         FROM json_each(?1) AS ids CROSS JOIN telemetry_records AS r
         ON r.event_id = ids.value WHERE r.kind = 'run'",
    )?;
    let ids = serde_json::to_string(event_ids).unwrap_or_default();
    let mut found = std::collections::HashMap::new();
    let mut rows = statement.query(params![ids, field])?;
    while let Some(row) = rows.next()? {
        let (id, value): (String, Option<String>) = (row.get(0)?, row.get(1)?);
        found.insert(id, value);
    }
    Ok(event_ids
        .iter()
        .map(|id| found.get(id).cloned().flatten())
        .collect())
}

/// The distinct values of column `field` of `agent_runs` (one of [`RUN_FIELDS`]), sorted,
/// at most `limit`; `None` if `field` is not a column.
pub fn distinct(
    conn: &Connection,
    field: &str,
    limit: usize,
) -> rusqlite::Result<Option<Vec<serde_json::Value>>> {
    let Some(column) = RUN_FIELDS.iter().find(|f| **f == field) else {
        return Ok(None);
    };
    let mut statement = conn.prepare(&format!(
        "SELECT DISTINCT {column} FROM agent_runs WHERE {column} IS NOT NULL
         ORDER BY {column} LIMIT ?1"
    ))?;
    let values = statement
        .query_map([limit as i64], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Integer(n) => n.into(),
                rusqlite::types::ValueRef::Real(x) => x.into(),
                other => String::from_utf8_lossy(other.as_bytes().unwrap_or_default())
                    .into_owned()
                    .into(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(values))
}

//! The index in PostgreSQL: the SQLite index's tables, filled by the same rules (each id
//! once, a run's newest state, metric points by series with their rollups), in one
//! transaction per batch with the log checkpoint it reaches.

use crate::config::Retention;
use crate::index::SpanRow;
use crate::metrics::Point;
use crate::record::{Entry, Record, RecordKind, nanos};
use crate::rollups::{self, Pending};
use crate::runs::RUN_FIELDS;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement, Transaction};
use serde_json::Value;
use sketches_ddsketch::DDSketch;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The schema version this build writes, kept in `store_schema`.
const SCHEMA_VERSION: i64 = 2;

/// Migrations run under this advisory lock ("lookout" in ASCII), so that daemons starting at once apply
/// each one once.
const MIGRATION_LOCK: i64 = 0x006c_6f6f_6b6f_7574;

/// `agent_runs` columns that are integers (the others are text).
pub(crate) const INTEGER_FIELDS: &[&str] = &[
    "duration_ms",
    "items_discovered",
    "items_succeeded",
    "items_failed",
    "pid",
    "process_start",
    "api_posting_attempts",
];

/// A connection with the schema in place and its statements prepared.
pub(crate) struct PgIndex {
    client: Client,
    statements: Statements,
}

struct Statements {
    span: Statement,
    span_event: Statement,
    record: Statement,
    run: Statement,
    run_event: Statement,
    series: Statement,
    new_series: Statement,
    label: Statement,
    previous: Statement,
    point: Statement,
    new_rollup: Statement,
    read_rollup: Statement,
    write_rollup: Statement,
    checkpoint: Statement,
    move_checkpoint: Statement,
}

impl PgIndex {
    /// Connects to `url`, creates or migrates the schema and prepares the statements.
    /// A statement waits for another's lock 10 s at most and runs 60 s at most, so that
    /// a stuck one fails (and is retried) rather than holding the follower.
    pub(crate) fn connect(config: &postgres::Config) -> Result<PgIndex, postgres::Error> {
        let mut client = config.connect(NoTls)?;
        client.batch_execute("SET lock_timeout = '10s'; SET statement_timeout = '60s'")?;
        migrate(&mut client)?;
        let statements = Statements::prepare(&mut client)?;
        Ok(PgIndex { client, statements })
    }

    /// Where indexing of `source`'s day file `file` stopped, and the file's identity
    /// then (`(0, "")` if it did not start).
    pub(crate) fn checkpoint(
        &mut self,
        source: &str,
        file: &str,
    ) -> Result<(u64, String), postgres::Error> {
        let row = self
            .client
            .query_opt(&self.statements.checkpoint, &[&source, &file])?;
        Ok(row.map_or((0, String::new()), |r| {
            (r.get::<_, i64>(0).max(0) as u64, r.get(1))
        }))
    }

    /// Forgets how far `source`'s `file` was indexed.
    pub(crate) fn reset_checkpoint(
        &mut self,
        source: &str,
        file: &str,
    ) -> Result<(), postgres::Error> {
        self.client
            .execute(
                "DELETE FROM store_log_checkpoints WHERE source = $1 AND file = $2",
                &[&source, &file],
            )
            .map(drop)
    }

    /// Inserts `entries` (each id once) and moves the checkpoint of `source`'s `file`
    /// (of identity `identity`) to `offset`, in one transaction. A batch refused for
    /// its data (a text PostgreSQL cannot hold) is inserted entry by entry, each refused
    /// one skipped; returns how many were.
    pub(crate) fn insert(
        &mut self,
        source: &str,
        file: &str,
        identity: &str,
        offset: u64,
        entries: &[Entry],
    ) -> Result<u64, postgres::Error> {
        let checkpoint: [&(dyn ToSql + Sync); 4] = [&source, &file, &(offset as i64), &identity];
        let s = &self.statements;
        let whole = (|| {
            let mut tx = self.client.transaction()?;
            let mut pending = Pending::default();
            for entry in entries {
                insert_entry(&mut tx, s, entry, &mut pending)?;
            }
            write_rollups(&mut tx, s, &mut pending)?;
            tx.execute(&s.move_checkpoint, &checkpoint)?;
            tx.commit()
        })();
        match whole {
            Err(e) if refused_for_its_data(&e) => {}
            other => return other.map(|()| 0),
        }
        let mut tx = self.client.transaction()?;
        let mut refused = 0;
        for entry in entries {
            let mut one = tx.savepoint("entry")?;
            let mut pending = Pending::default();
            let inserted = insert_entry(&mut one, s, entry, &mut pending)
                .and_then(|()| write_rollups(&mut one, s, &mut pending));
            match inserted {
                Ok(()) => one.commit()?,
                Err(e) if refused_for_its_data(&e) => refused += 1,
                Err(e) => return Err(e),
            }
        }
        tx.execute(&s.move_checkpoint, &checkpoint)?;
        tx.commit().map(|()| refused)
    }

    /// Deletes the rows past `retention`, as the SQLite index's retention does.
    pub(crate) fn retention(
        &mut self,
        retention: &Retention,
        now: SystemTime,
    ) -> Result<(), postgres::Error> {
        let cutoff = |age: std::time::Duration| nanos(now.checked_sub(age).unwrap_or(UNIX_EPOCH));
        let traces = cutoff(retention.traces);
        let events = cutoff(retention.events);
        let metrics = cutoff(retention.metrics);
        let aggregates = cutoff(retention.aggregates);
        let mut tx = self.client.transaction()?;
        tx.execute(
            "DELETE FROM telemetry_span_events WHERE time_unix_nano < $1",
            &[&traces],
        )?;
        tx.execute(
            "DELETE FROM telemetry_spans WHERE start_time_unix_nano < $1",
            &[&traces],
        )?;
        tx.execute(
            "DELETE FROM telemetry_records WHERE time_unix_nano < $1",
            &[&events],
        )?;
        tx.execute(
            "DELETE FROM telemetry_exports WHERE time_unix_nano < $1",
            &[&events],
        )?;
        tx.execute(
            "DELETE FROM telemetry_points WHERE time_unix_nano < $1",
            &[&metrics],
        )?;
        tx.execute(
            "DELETE FROM telemetry_rollups WHERE start_unix_nano < $1",
            &[&aggregates],
        )?;
        tx.batch_execute(crate::housekeeping::DELETE_IDLE_SERIES)?;
        tx.commit()
    }
}

fn insert_entry(
    tx: &mut Transaction<'_>,
    s: &Statements,
    entry: &Entry,
    pending: &mut Pending,
) -> Result<(), postgres::Error> {
    match entry {
        Entry::Span(span) => insert_span(tx, s, span),
        Entry::Record(r) if r.kind == RecordKind::MetricPoint => insert_point(tx, s, r, pending),
        Entry::Record(r) => insert_record(tx, s, r),
    }
}

/// Whether PostgreSQL refused a statement for the data it was given (SQLSTATE classes
/// 22, data exception, as a NUL in text): trying it again would fail again.
fn refused_for_its_data(error: &postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| code.code().starts_with("22"))
}

/// JSON text as PostgreSQL's `jsonb` takes it (the views cast to it): `\u0000`, which
/// it refuses, becomes U+FFFD.
fn jsonb_safe(json: String) -> String {
    match json.contains("\\u0000") {
        true => json.replace("\\u0000", "\\ufffd"),
        false => json,
    }
}

/// Creates the schema, or moves it to [`SCHEMA_VERSION`], once whoever else connects.
fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS store_schema (version BIGINT NOT NULL)")?;
    let version: i64 = tx
        .query_opt("SELECT MAX(version) FROM store_schema", &[])?
        .and_then(|r| r.get::<_, Option<i64>>(0))
        .unwrap_or(0);
    if version == 1 {
        // Version 2: runs keep the order they came in, as SQLite's rowid does.
        tx.batch_execute(
            "ALTER TABLE agent_runs ADD COLUMN IF NOT EXISTS
               rowid BIGINT GENERATED BY DEFAULT AS IDENTITY",
        )?;
    }
    if version < SCHEMA_VERSION {
        if version == 0 {
            tx.batch_execute(include_str!("schema.sql"))?;
        }
        tx.execute(
            "INSERT INTO store_schema (version) VALUES ($1)",
            &[&SCHEMA_VERSION],
        )?;
    }
    tx.commit()
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Statements, postgres::Error> {
        let numbered = |n: usize| {
            (1..=n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Ok(Statements {
            span: client.prepare(&format!(
                "INSERT INTO telemetry_spans (trace_id, span_id, parent_span_id,
                    parent_is_remote, name, kind, start_time_unix_nano, end_time_unix_nano,
                    duration_ns, status_code, status_message, service_name, trace_state, flags,
                    attributes, links, resource, dropped_attributes, dropped_events,
                    dropped_links, event_id)
                 VALUES ({}) ON CONFLICT DO NOTHING",
                numbered(21)
            ))?,
            span_event: client.prepare(
                "INSERT INTO telemetry_span_events (trace_id, span_id, seq, name,
                    time_unix_nano, attributes) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING",
            )?,
            record: client.prepare(
                "INSERT INTO telemetry_records (event_id, kind, time_unix_nano, body)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )?,
            run: client.prepare(&crate::runs::run_upsert_from(&format!(
                "VALUES ({})",
                numbered(3 + RUN_FIELDS.len())
            )))?,
            run_event: client.prepare(
                "INSERT INTO agent_run_events (event_id, run_id, name, time_unix_nano, payload)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )?,
            series: client.prepare(
                "SELECT series_id, kind FROM telemetry_series WHERE name = $1 AND labels = $2",
            )?,
            new_series: client.prepare(
                "INSERT INTO telemetry_series (name, kind, labels) VALUES ($1, $2, $3)
                 ON CONFLICT (name, labels) DO NOTHING RETURNING series_id",
            )?,
            label: client.prepare(
                "INSERT INTO telemetry_series_labels (name, key, value, series_id)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )?,
            previous: client.prepare(
                "SELECT value FROM telemetry_points WHERE series_id = $1 AND time_unix_nano < $2
                 ORDER BY time_unix_nano DESC LIMIT 1",
            )?,
            point: client.prepare(
                "INSERT INTO telemetry_points (series_id, time_unix_nano, event_id, value, text)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )?,
            // A row to lock first: two daemons merging into one bucket take turns.
            new_rollup: client.prepare(
                "INSERT INTO telemetry_rollups (series_id, width_seconds, start_unix_nano,
                    count, sum) VALUES ($1, $2, $3, 0, 0) ON CONFLICT DO NOTHING",
            )?,
            read_rollup: client.prepare(
                "SELECT count, sum, min, max, increase, sketch FROM telemetry_rollups
                 WHERE series_id = $1 AND width_seconds = $2 AND start_unix_nano = $3
                 FOR UPDATE",
            )?,
            write_rollup: client.prepare(
                "INSERT INTO telemetry_rollups (series_id, width_seconds, start_unix_nano,
                    count, sum, min, max, increase, sketch)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (series_id, width_seconds, start_unix_nano) DO UPDATE SET
                    count = excluded.count, sum = excluded.sum, min = excluded.min,
                    max = excluded.max, increase = excluded.increase, sketch = excluded.sketch",
            )?,
            checkpoint: client.prepare(
                "SELECT \"offset\", file_identity FROM store_log_checkpoints
                 WHERE source = $1 AND file = $2",
            )?,
            // A checkpoint of the same file only moves forward; one of a file rewritten
            // since starts over.
            move_checkpoint: client.prepare(
                "INSERT INTO store_log_checkpoints (source, file, \"offset\", file_identity)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (source, file) DO UPDATE SET
                   \"offset\" = CASE
                     WHEN store_log_checkpoints.file_identity = excluded.file_identity
                     THEN GREATEST(store_log_checkpoints.\"offset\", excluded.\"offset\")
                     ELSE excluded.\"offset\" END,
                   file_identity = excluded.file_identity",
            )?,
        })
    }
}

fn insert_span(
    tx: &mut Transaction<'_>,
    s: &Statements,
    span: &lookout_export::FinishedSpan,
) -> Result<(), postgres::Error> {
    let mut row = SpanRow::of(span);
    row.attributes = jsonb_safe(std::mem::take(&mut row.attributes));
    let inserted = tx.execute(
        &s.span,
        &[
            &row.trace_id,
            &row.span_id,
            &row.parent_span_id,
            &row.parent_is_remote,
            &row.name,
            &row.kind,
            &row.start_time,
            &row.end_time,
            &row.duration,
            &row.status_code,
            &row.status_message,
            &row.service_name,
            &row.trace_state,
            &row.flags,
            &row.attributes,
            &row.links,
            &row.resource,
            &row.dropped_attributes,
            &row.dropped_events,
            &row.dropped_links,
            &row.event_id,
        ],
    )?;
    if inserted == 0 {
        return Ok(());
    }
    for (seq, e) in span.events.iter().enumerate() {
        let attributes = lookout_exporter_json::attributes_to_json(&e.attributes).to_string();
        tx.execute(
            &s.span_event,
            &[
                &row.trace_id,
                &row.span_id,
                &(seq as i64),
                &e.name.as_ref(),
                &nanos(e.time),
                &attributes,
            ],
        )?;
    }
    Ok(())
}

fn insert_record(
    tx: &mut Transaction<'_>,
    s: &Statements,
    r: &Record,
) -> Result<(), postgres::Error> {
    let time = nanos(r.time);
    let body = r.body.to_string();
    let inserted = tx.execute(&s.record, &[&r.event_id, &r.kind.as_str(), &time, &body])?;
    if inserted == 0 {
        return Ok(());
    }
    let Some(run_id) = r.body.get("run_id").and_then(json_text) else {
        return Ok(());
    };
    match r.kind {
        RecordKind::Run => {
            let columns: Vec<Column> = RUN_FIELDS
                .iter()
                .map(|f| Column::of(f, r.body.get(*f)))
                .collect();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&run_id, &r.event_id, &time];
            params.extend(columns.iter().map(|c| c as &(dyn ToSql + Sync)));
            tx.execute(&s.run, &params)?;
        }
        RecordKind::RunEvent => {
            let name = r.body.get("name").and_then(json_text).unwrap_or_default();
            let payload = r
                .body
                .get("payload")
                .map_or_else(|| "{}".to_owned(), Value::to_string);
            tx.execute(
                &s.run_event,
                &[&r.event_id, &run_id, &name, &time, &payload],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// A run body's field as SQLite's `json_extract` gives it to its column: text for a
/// text column, an integer for an integer column (`NULL` for what is not one).
#[derive(Debug)]
enum Column {
    Text(Option<String>),
    Integer(Option<i64>),
}

impl Column {
    fn of(field: &str, value: Option<&Value>) -> Column {
        if !INTEGER_FIELDS.contains(&field) {
            return Column::Text(value.and_then(json_text));
        }
        let integer = match value {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64)),
            Some(Value::Bool(b)) => Some(i64::from(*b)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Column::Integer(integer)
    }
}

impl ToSql for Column {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Column::Text(text) => text.to_sql(ty, out),
            Column::Integer(n) => n.to_sql(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        <Option<String> as ToSql>::accepts(ty) || <Option<i64> as ToSql>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A JSON value as `json_extract` gives it as text: a string as it is, `true` and
/// `false` as 1 and 0, `null` as none, anything else as its JSON.
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(u8::from(*b).to_string()),
        other => Some(other.to_string()),
    }
}

fn insert_point(
    tx: &mut Transaction<'_>,
    s: &Statements,
    r: &Record,
    pending: &mut Pending,
) -> Result<(), postgres::Error> {
    let Some(mut point) = Point::of(&r.body) else {
        return Ok(());
    };
    point.labels = jsonb_safe(point.labels);
    let time = nanos(r.time);
    let found = tx.query_opt(&s.series, &[&point.name, &point.labels])?;
    let (series, kind, created): (i64, String, bool) = match found {
        Some(row) => (row.get(0), row.get(1), false),
        None => match tx.query_opt(&s.new_series, &[&point.name, &point.kind, &point.labels])? {
            Some(row) => {
                let id: i64 = row.get(0);
                let pairs: BTreeMap<String, String> =
                    serde_json::from_str(&point.labels).unwrap_or_default();
                for (key, value) in &pairs {
                    tx.execute(&s.label, &[&point.name, key, value, &id])?;
                }
                (id, point.kind.to_owned(), true)
            }
            // Another daemon created it meanwhile.
            None => {
                let row = tx.query_one(&s.series, &[&point.name, &point.labels])?;
                (row.get(0), row.get(1), false)
            }
        },
    };
    let counter = rollups::is_counter(&kind);
    let previous = match point.value {
        Some(value) if counter => {
            let before = tx
                .query_opt(&s.previous, &[&series, &time])?
                .and_then(|row| row.get::<_, Option<f64>>(0));
            match before {
                None if !created => Some(value),
                before => before,
            }
        }
        _ => None,
    };
    let inserted = tx.execute(
        &s.point,
        &[&series, &time, &r.event_id, &point.value, &point.text],
    )?;
    if let (Some(value), 1) = (point.value, inserted) {
        pending.add(series, counter, time, value, previous);
    }
    Ok(())
}

/// Merges each pending rollup into its stored row, which it locks first, in key order
/// (two daemons merging the same buckets never wait on each other in a cycle).
fn write_rollups(
    tx: &mut Transaction<'_>,
    s: &Statements,
    pending: &mut Pending,
) -> Result<(), postgres::Error> {
    let mut rollups: Vec<_> = pending.drain().collect();
    rollups.sort_unstable_by_key(|(key, _)| *key);
    for ((series, width, start), rollup) in rollups {
        let key: [&(dyn ToSql + Sync); 3] = [&series, &width, &start];
        tx.execute(&s.new_rollup, &key)?;
        let merged = match tx.query_opt(&s.read_rollup, &key)? {
            Some(row) => {
                let mut stored = super::reads::rollup_of(&row, start);
                stored.merge(&rollup);
                stored
            }
            None => rollup,
        };
        let sketch = merged.sketch.as_ref().map(DDSketch::to_java_bytes);
        tx.execute(
            &s.write_rollup,
            &[
                &series,
                &width,
                &start,
                &(merged.count as i64),
                &merged.sum,
                &merged.min,
                &merged.max,
                &merged.increase,
                &sketch,
            ],
        )?;
    }
    Ok(())
}

//! The SQLite index: tables built from the log, versioned with `user_version`.

use crate::config::{JournalMode, StoreConfig, Synchronous};
use crate::record::{Entry, nanos};
use lookout_export::{FinishedSpan, Status};
use lookout_exporter_json::attributes_to_json as attributes;
use rusqlite::{Connection, OpenFlags, Transaction, params};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// A step of the schema.
type Migration = fn(&Connection) -> rusqlite::Result<()>;

/// The migrations, in order: migration `i` takes `user_version` from `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    |conn| conn.execute_batch(include_str!("schema/001_tables.sql")),
    |conn| conn.execute_batch(include_str!("schema/002_views.sql")),
    crate::runs::migrate,
    crate::metrics::migrate,
    crate::rollups::migrate,
    |conn| conn.execute_batch(include_str!("schema/006_clears.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a statement waits for another process's write lock before it gives up (the
/// writer then keeps its batch and tries again).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection for writing, with the pragmas and schema in place.
pub(crate) struct Index {
    conn: Connection,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").finish_non_exhaustive()
    }
}

/// Opens `path` for writing: journal mode, synchronous level, busy timeout, migrations up
/// to [`SCHEMA_VERSION`] (`up_to` for tests of older files).
pub(crate) fn open_writer(config: &StoreConfig, up_to: u32) -> rusqlite::Result<Connection> {
    if let Some(dir) = config.db_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(&config.db_path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode = match config.journal_mode {
        JournalMode::Wal => "WAL",
        JournalMode::Delete => "DELETE",
    };
    // Persistent in the file for WAL; per connection for DELETE.
    let _: String = conn.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| r.get(0))?;
    let sync = match config.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF;"
    ))?;
    migrate(&conn, up_to)?;
    Ok(conn)
}

/// Applies the migrations past the file's `user_version`, each in its own immediate
/// transaction so that processes opening a new file at once apply each one once.
fn migrate(conn: &Connection, up_to: u32) -> rusqlite::Result<()> {
    loop {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version >= up_to {
            conn.execute_batch("COMMIT")?;
            return Ok(());
        }
        let applied = MIGRATIONS[version as usize](conn)
            .and_then(|()| conn.execute_batch(&format!("PRAGMA user_version = {}", version + 1)));
        match applied {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
}

/// Opens `path` read-only, for queries; a missing file is an error. A file whose schema
/// is older than this build's (a writer just created it, or an older Lookout wrote it)
/// is migrated first, so the tables and views queries read exist.
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    };
    let conn = open()?;
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(conn);
    }
    drop(conn);
    let writer = Connection::open(path)?;
    writer.busy_timeout(BUSY_TIMEOUT)?;
    migrate(&writer, SCHEMA_VERSION)?;
    drop(writer);
    open()
}

impl Index {
    pub(crate) fn open(config: &StoreConfig) -> rusqlite::Result<Index> {
        open_writer(config, SCHEMA_VERSION).map(|conn| Index { conn })
    }

    /// Inserts `entries` in one transaction; an id already stored is left as it is.
    pub(crate) fn insert(&mut self, entries: &[Entry]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        insert_all(&tx, entries)?;
        tx.commit()
    }

    /// Where indexing of the day file `file` stopped, if it started.
    pub(crate) fn checkpoint(&self, file: &str) -> rusqlite::Result<u64> {
        let offset: Option<i64> = self
            .conn
            .query_row(
                "SELECT offset FROM store_log_checkpoints WHERE file = ?1",
                [file],
                |r| r.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        Ok(offset.map_or(0, |o| o as u64))
    }

    /// Inserts replayed `entries` and moves `file`'s checkpoint to `offset`, at once, if
    /// `unchanged()` says, with the write lock held, that the file read is still there;
    /// returns whether it was.
    pub(crate) fn replay(
        &mut self,
        file: &str,
        entries: &[Entry],
        offset: u64,
        unchanged: impl FnOnce() -> bool,
    ) -> rusqlite::Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !unchanged() {
            return Ok(false);
        }
        insert_all(&tx, entries)?;
        tx.execute(
            "INSERT INTO store_log_checkpoints (file, offset) VALUES (?1, ?2)
             ON CONFLICT (file) DO UPDATE SET offset = MAX(offset, excluded.offset)",
            params![file, offset as i64],
        )?;
        tx.commit().map(|()| true)
    }

    /// The connection, for housekeeping.
    pub(crate) fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn insert_all(tx: &Transaction<'_>, entries: &[Entry]) -> rusqlite::Result<()> {
    let mut span = tx.prepare_cached(
        "INSERT OR IGNORE INTO telemetry_spans (trace_id, span_id, parent_span_id,
            parent_is_remote, name, kind, start_time_unix_nano, end_time_unix_nano, duration_ns,
            status_code, status_message, service_name, trace_state, flags, attributes, links,
            resource, dropped_attributes, dropped_events, dropped_links, event_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19, ?20, ?21)",
    )?;
    let mut event = tx.prepare_cached(
        "INSERT OR IGNORE INTO telemetry_span_events (trace_id, span_id, seq, name,
            time_unix_nano, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut record = tx.prepare_cached(
        "INSERT OR IGNORE INTO telemetry_records (event_id, kind, time_unix_nano, body)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut rollups = crate::rollups::Pending::default();
    let mut cutoffs = crate::clear::Cutoffs::load(tx)?;
    for entry in entries {
        match entry {
            Entry::Span(s) if cutoffs.covers(crate::record::SPAN_KIND, nanos(s.end_time)) => {}
            Entry::Record(r) if cutoffs.covers(r.kind.as_str(), nanos(r.time)) => {}
            Entry::Span(s) => {
                let row = SpanRow::of(s);
                let inserted = span.execute(params![
                    row.trace_id,
                    row.span_id,
                    row.parent_span_id,
                    row.parent_is_remote,
                    row.name,
                    row.kind,
                    row.start_time,
                    row.end_time,
                    row.duration,
                    row.status_code,
                    row.status_message,
                    row.service_name,
                    row.trace_state,
                    row.flags,
                    row.attributes,
                    row.links,
                    row.resource,
                    row.dropped_attributes,
                    row.dropped_events,
                    row.dropped_links,
                    row.event_id,
                ])?;
                if inserted == 0 {
                    continue;
                }
                for (seq, e) in s.events.iter().enumerate() {
                    event.execute(params![
                        row.trace_id,
                        row.span_id,
                        seq as i64,
                        e.name.as_ref(),
                        nanos(e.time),
                        attributes(&e.attributes).to_string(),
                    ])?;
                }
            }
            // A metric point is a row of telemetry_points only (its key makes a repeat
            // a no-op): a million points are not also a million bodies.
            Entry::Record(r) if r.kind == crate::RecordKind::MetricPoint => {
                crate::metrics::index(tx, r, &mut rollups)?;
            }
            Entry::Record(r) => {
                let inserted = record.execute(params![
                    r.event_id,
                    r.kind.as_str(),
                    nanos(r.time),
                    r.body.to_string()
                ])?;
                if inserted > 0 && r.kind == crate::RecordKind::Clear {
                    // Points of this batch are not in the tables yet: write them first.
                    rollups.write(tx)?;
                    let what = r.body["clear"].as_str().and_then(|w| w.parse().ok());
                    if let Some(what) = what {
                        crate::clear::apply(tx, what, nanos(r.time), &mut cutoffs)?;
                    }
                } else if inserted > 0 {
                    crate::runs::index(tx, r)?;
                }
            }
        }
    }
    rollups.write(tx)
}

/// A span's columns of `telemetry_spans`, as both indexes store them.
pub(crate) struct SpanRow<'a> {
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    pub(crate) parent_span_id: Option<String>,
    pub(crate) parent_is_remote: i64,
    pub(crate) name: &'a str,
    pub(crate) kind: &'static str,
    pub(crate) start_time: i64,
    pub(crate) end_time: i64,
    pub(crate) duration: i64,
    pub(crate) status_code: &'static str,
    pub(crate) status_message: Option<&'a str>,
    pub(crate) service_name: Option<&'a str>,
    pub(crate) trace_state: Option<&'a str>,
    pub(crate) flags: i64,
    pub(crate) attributes: String,
    pub(crate) links: String,
    pub(crate) resource: Option<String>,
    pub(crate) dropped_attributes: i64,
    pub(crate) dropped_events: i64,
    pub(crate) dropped_links: i64,
    pub(crate) event_id: String,
}

impl<'a> SpanRow<'a> {
    pub(crate) fn of(s: &'a FinishedSpan) -> SpanRow<'a> {
        let trace_id = s.trace_id.to_string();
        let span_id = s.span_id.to_string();
        SpanRow {
            event_id: format!("{trace_id}{span_id}"),
            trace_id,
            span_id,
            parent_span_id: s
                .parent_span_id
                .is_valid()
                .then(|| s.parent_span_id.to_string()),
            parent_is_remote: i64::from(s.parent_is_remote),
            name: s.name.as_ref(),
            kind: s.kind.as_str(),
            start_time: nanos(s.start_time),
            end_time: nanos(s.end_time),
            duration: i64::try_from(s.duration().as_nanos()).unwrap_or(i64::MAX),
            status_code: status_code(&s.status),
            status_message: status_message(&s.status),
            service_name: s.resource.as_ref().and_then(|r| r.service_name()),
            trace_state: s.trace_state.as_deref(),
            flags: i64::from(s.flags.0),
            attributes: attributes(&s.attributes).to_string(),
            links: links(s).to_string(),
            resource: s
                .resource
                .as_ref()
                .map(|r| attributes(&r.attributes).to_string()),
            dropped_attributes: i64::from(s.dropped_attributes),
            dropped_events: i64::from(s.dropped_events),
            dropped_links: i64::from(s.dropped_links),
        }
    }
}

fn status_code(status: &Status) -> &'static str {
    match status {
        Status::Unset => "unset",
        Status::Ok => "ok",
        Status::Error(_) => "error",
    }
}

fn status_message(status: &Status) -> Option<&str> {
    match status {
        Status::Error(message) => Some(message),
        _ => None,
    }
}

fn links(span: &FinishedSpan) -> Value {
    span.links
        .iter()
        .map(|l| {
            json!({
                "trace_id": l.trace_id.to_string(),
                "span_id": l.span_id.to_string(),
                "attributes": attributes(&l.attributes),
            })
        })
        .collect()
}

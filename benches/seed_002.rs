//! Seed 002's write path, for the store and runs benches: every write is one NDJSON
//! append (not synced) and one SQLite transaction (journal DELETE, synchronous FULL:
//! SQLite syncs at every commit).

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// An NDJSON file and a database, written as seed 002 writes them.
pub struct SeedWriter {
    ndjson: std::fs::File,
    db: Connection,
}

impl SeedWriter {
    /// Opens (creating) `dir/raw/events.ndjson` and `dir/telemetry.sqlite`.
    pub fn open(dir: &Path) -> SeedWriter {
        std::fs::create_dir_all(dir.join("raw")).unwrap();
        let ndjson = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("raw/events.ndjson"))
            .unwrap();
        let db = Connection::open(dir.join("telemetry.sqlite")).unwrap();
        db.execute_batch(
            "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS agent_runs (event_id TEXT PRIMARY KEY, body TEXT)",
        )
        .unwrap();
        SeedWriter { ndjson, db }
    }

    /// Writes `body` under `event_id`: a new row, or the row's new state.
    pub fn write(&mut self, event_id: &str, body: &Value) {
        let line = json!({"event_id": event_id, "body": body}).to_string();
        writeln!(self.ndjson, "{line}").unwrap();
        let tx = self.db.transaction().unwrap();
        tx.execute(
            "INSERT INTO agent_runs (event_id, body) VALUES (?1, ?2)
             ON CONFLICT (event_id) DO UPDATE SET body = excluded.body",
            params![event_id, body.to_string()],
        )
        .unwrap();
        tx.commit().unwrap();
    }
}

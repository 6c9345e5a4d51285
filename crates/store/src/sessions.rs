//! Seed 001's sessions and seed 000's skill entries as the index holds them: a session
//! that ended is one `session` record (all of it, its rollup too); one still open is its
//! `session_event` records so far.

use crate::RecordKind;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};

/// The bodies of the newest `limit` records of `kind` (0: all), newest first.
pub fn bodies(conn: &Connection, kind: RecordKind, limit: usize) -> rusqlite::Result<Vec<Value>> {
    let limit = if limit == 0 { -1 } else { limit as i64 };
    let mut statement = conn.prepare_cached(
        "SELECT body FROM telemetry_records WHERE kind = ?1
         ORDER BY time_unix_nano DESC, rowid DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(params![kind.as_str(), limit], |r| r.get::<_, String>(0))?;
    let mut bodies = Vec::new();
    for body in rows {
        if let Ok(body) = serde_json::from_str(&body?) {
            bodies.push(body);
        }
    }
    Ok(bodies)
}

/// The newest `limit` sessions, the open ones (with an event from `open_since`, Unix
/// nanoseconds, on) first, then those ended, newest first: each its fields without its
/// events and tool calls, their counts instead (`events`, `tool_calls`), and `open`.
pub fn recent(
    conn: &Connection,
    open_since: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Map<String, Value>>> {
    let mut statement = conn.prepare_cached(
        "SELECT json_extract(e.body, '$.session_id') AS id,
                MIN(json_extract(e.body, '$.timestamp')), MAX(json_extract(e.body, '$.timestamp')),
                COUNT(*), SUM(json_extract(e.body, '$.event_type') = 'tool.completed'),
                MAX(json_extract(e.body, '$.skill_name'))
           FROM telemetry_records e
          WHERE e.kind = 'session_event' AND e.time_unix_nano >= ?1 AND id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM telemetry_records s WHERE s.event_id = 'session-' || id)
          GROUP BY id ORDER BY MAX(e.time_unix_nano) DESC LIMIT ?2",
    )?;
    let mut sessions: Vec<Map<String, Value>> = statement
        .query_map(params![open_since, limit as i64], |r| {
            let (id, first, last): (String, Option<String>, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            let (events, tools, skill): (i64, Option<i64>, Option<String>) =
                (r.get(3)?, r.get(4)?, r.get(5)?);
            let json = json!({"session_id": id, "open": true, "start_time": first,
                              "last_event_time": last, "skill_name": skill,
                              "events": events, "tool_calls": tools.unwrap_or(0)});
            Ok(json.as_object().cloned().unwrap_or_default())
        })?
        .collect::<rusqlite::Result<_>>()?;
    let room = limit.saturating_sub(sessions.len());
    if room > 0 {
        for body in bodies(conn, RecordKind::Session, room)? {
            let Value::Object(mut session) = body else {
                continue;
            };
            for list in ["events", "tool_calls"] {
                let count = session
                    .get(list)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                session.insert(list.into(), count.into());
            }
            session.insert("open".into(), false.into());
            sessions.push(session);
        }
    }
    Ok(sessions)
}

/// Session `id`: all of it once ended (`open` false), else what its events say so far
/// (`open` true, its `events` in order); `None` if the index has neither.
pub fn one(conn: &Connection, id: &str) -> rusqlite::Result<Option<Map<String, Value>>> {
    let ended: Option<String> = conn
        .query_row(
            "SELECT body FROM telemetry_records WHERE event_id = ?1 AND kind = 'session'",
            [format!("session-{id}")],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(Ok(Value::Object(mut session))) = ended.map(|b| serde_json::from_str(&b)) {
        session.insert("open".into(), false.into());
        return Ok(Some(session));
    }
    // Its events are `session-{id}-{seq}`: a range of the primary key ('.' follows '-').
    let mut statement = conn.prepare_cached(
        "SELECT body FROM telemetry_records
          WHERE event_id > ?1 AND event_id < ?2 AND kind = 'session_event'
            AND json_extract(body, '$.session_id') = ?3
          ORDER BY time_unix_nano, rowid",
    )?;
    let events: Vec<Value> = statement
        .query_map(
            params![format!("session-{id}-"), format!("session-{id}."), id],
            |r| r.get::<_, String>(0),
        )?
        .filter_map(|body| serde_json::from_str(&body.ok()?).ok())
        .collect();
    let Some(first) = events.first() else {
        return Ok(None);
    };
    let skill = events
        .iter()
        .find_map(|e| e.get("skill_name").filter(|s| s.is_string()).cloned());
    let session = json!({"session_id": id, "open": true, "start_time": first["timestamp"],
                         "skill_name": skill, "events": events});
    Ok(session.as_object().cloned())
}

//! Metric points in the index: a `metric_point` record (`{"name", "kind", "labels",
//! "value"}`, its time the point's time) is one row of `telemetry_points` in the series
//! its name and labels name (`telemetry_series`); both are rebuilt from the log like
//! every other table.

use crate::record::{Record, RecordKind, nanos};
use crate::rollups::{self, Pending};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// What a point's value is.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// A number (an integer is stored as a float).
    Number(f64),
    /// Text (seed 004's `record_metric` accepts strings).
    Text(String),
}

/// A `metric_point` record of `name` with `labels` at `time`.
pub fn point_record(
    name: &str,
    kind: &str,
    labels: &BTreeMap<String, String>,
    value: PointValue,
    time: SystemTime,
) -> Record {
    let value = match value {
        PointValue::Number(x) => json!(x),
        PointValue::Text(text) => json!(text),
    };
    let mut record = Record::new(
        RecordKind::MetricPoint,
        json!({"name": name, "kind": kind, "labels": labels, "value": value}),
    );
    record.time = time;
    record
}

/// [`point_record`] with an id that is its content's (name, labels, value and time), so
/// that the same point sent twice (an OTLP retry) is stored once.
pub fn point_record_by_content(
    name: &str,
    kind: &str,
    labels: &BTreeMap<String, String>,
    value: f64,
    time: SystemTime,
) -> Record {
    let mut record = point_record(name, kind, labels, PointValue::Number(value), time);
    let content = format!(
        "{name}\n{}\n{value}\n{}",
        record.body["labels"],
        nanos(time)
    );
    record.event_id =
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, content.as_bytes()).to_string();
    record
}

/// Labels from a JSON object: each value as text (a string as it is, anything else as
/// its JSON).
pub fn labels_of(object: &Map<String, Value>) -> BTreeMap<String, String> {
    object
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect()
}

/// Labels as stored: a JSON object with its keys sorted, every value a string.
pub fn canonical_labels(labels: &Map<String, Value>) -> String {
    serde_json::to_string(&labels_of(labels)).unwrap_or_else(|_| "{}".into())
}

/// Indexes metric point `record`, if it has a name and a number, boolean (0 or 1) or
/// text value.
/// Its rollups change in `rollups`.
pub(crate) fn index(
    tx: &Transaction<'_>,
    record: &Record,
    rollups: &mut Pending,
) -> rusqlite::Result<()> {
    insert(
        tx,
        &record.event_id,
        nanos(record.time),
        &record.body,
        Some(rollups),
    )
}

/// A metric point record's columns, as both indexes store them.
pub(crate) struct Point<'a> {
    pub(crate) name: &'a str,
    pub(crate) kind: &'a str,
    /// [`canonical_labels`].
    pub(crate) labels: String,
    /// A number's value (a boolean's 0 or 1).
    pub(crate) value: Option<f64>,
    /// A text value.
    pub(crate) text: Option<&'a str>,
}

impl<'a> Point<'a> {
    /// The point of a record's `body`, if it has a name and a number, boolean or text
    /// value.
    pub(crate) fn of(body: &'a Value) -> Option<Point<'a>> {
        let name = body.get("name").and_then(Value::as_str)?;
        let (value, text) = match body.get("value") {
            Some(Value::Number(n)) => (n.as_f64(), None),
            Some(Value::Bool(b)) => (Some(f64::from(u8::from(*b))), None),
            Some(Value::String(s)) => (None, Some(s.as_str())),
            _ => return None,
        };
        Some(Point {
            name,
            kind: body.get("kind").and_then(Value::as_str).unwrap_or("gauge"),
            labels: body
                .get("labels")
                .and_then(Value::as_object)
                .map_or_else(|| "{}".to_owned(), canonical_labels),
            value,
            text,
        })
    }
}

fn insert(
    conn: &Connection,
    event_id: &str,
    time: i64,
    body: &Value,
    rollups: Option<&mut Pending>,
) -> rusqlite::Result<()> {
    let Some(Point {
        name,
        kind,
        labels,
        value,
        text,
    }) = Point::of(body)
    else {
        return Ok(());
    };
    let (series, kind, created): (i64, String, bool) = match conn
        .prepare_cached(
            "SELECT series_id, kind FROM telemetry_series WHERE name = ?1 AND labels = ?2",
        )?
        .query_row(params![name, labels], |r| Ok((r.get(0)?, r.get(1)?, false)))
        .optional()?
    {
        Some(found) => found,
        None => {
            conn.prepare_cached(
                "INSERT INTO telemetry_series (name, kind, labels) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![name, kind, labels])?;
            let id = conn.last_insert_rowid();
            let pairs: BTreeMap<String, String> = serde_json::from_str(&labels).unwrap_or_default();
            let mut label = conn.prepare_cached(
                "INSERT OR IGNORE INTO telemetry_series_labels (name, key, value, series_id)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (key, value) in &pairs {
                label.execute(params![name, key, value, id])?;
            }
            (id, kind.to_owned(), true)
        }
    };
    let counter = rollups::is_counter(&kind);
    // A counter's increase counts from its previous point; a new series' first point
    // from zero; a known series without an earlier point (its points cleared or past
    // retention) from its own value: nothing is known to have happened in between.
    let previous = match (&rollups, value) {
        (Some(_), Some(value)) if counter => match rollups::previous_value(conn, series, time)? {
            None if !created => Some(value),
            previous => previous,
        },
        _ => None,
    };
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO telemetry_points (series_id, time_unix_nano, event_id, value, text)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![series, time, event_id, value, text])?;
    if let (Some(rollups), Some(value), 1) = (rollups, value, inserted) {
        rollups.add(series, counter, time, value, previous);
    }
    Ok(())
}

/// Migration 4: series and points, filled from the metric points already stored (the
/// version 3 table's rows and the `metric_point` records, which then leave
/// `telemetry_records`: a migrated file holds what a rebuild from the log would).
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(include_str!("schema/004_metric_points.sql"))?;
    let mut old = conn.prepare(
        "SELECT event_id, name, kind, labels, time_unix_nano, value FROM telemetry_metrics_v3",
    )?;
    let mut rows = old.query([])?;
    while let Some(row) = rows.next()? {
        let (id, name, kind, labels, time, value): (String, String, String, String, i64, f64) = (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        );
        let labels: Value = serde_json::from_str(&labels).unwrap_or_else(|_| json!({}));
        let body = json!({"name": name, "kind": kind, "labels": labels, "value": value});
        insert(conn, &id, time, &body, None)?;
    }
    drop(rows);
    drop(old);
    conn.execute_batch("DROP TABLE telemetry_metrics_v3")?;
    let mut points = conn.prepare(
        "SELECT event_id, time_unix_nano, body FROM telemetry_records
         WHERE kind = 'metric_point' ORDER BY time_unix_nano",
    )?;
    let mut rows = points.query([])?;
    while let Some(row) = rows.next()? {
        let (id, time, body): (String, i64, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if let Ok(body) = serde_json::from_str(&body) {
            insert(conn, &id, time, &body, None)?;
        }
    }
    drop(rows);
    drop(points);
    conn.execute(
        "DELETE FROM telemetry_records WHERE kind = 'metric_point'",
        [],
    )?;
    Ok(())
}

/// A series of a metric: its id, kind and labels.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredSeries {
    /// The row id in `telemetry_series`.
    pub series_id: i64,
    /// `counter`, `gauge`, `histogram_bucket` (what the store's exporter writes), or what
    /// a point record named.
    pub kind: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// The series of metric `name` that have every label of `labels` with its value, in
/// label order (found through `telemetry_series_labels`: only matching series are read).
pub fn series(
    conn: &Connection,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> rusqlite::Result<Vec<StoredSeries>> {
    // The first label drives: a range of the label index, not a scan of the name's
    // series; the others filter what it finds.
    let mut pairs = labels.iter();
    let (mut sql, mut values) = match pairs.next() {
        Some((key, value)) => (
            String::from(
                "SELECT s.series_id, s.kind, s.labels FROM telemetry_series_labels l
                 JOIN telemetry_series s ON s.series_id = l.series_id
                 WHERE l.name = ? AND l.key = ? AND l.value = ?",
            ),
            vec![name, key.as_str(), value.as_str()],
        ),
        None => (
            String::from(
                "SELECT s.series_id, s.kind, s.labels FROM telemetry_series s WHERE s.name = ?",
            ),
            vec![name],
        ),
    };
    for (key, value) in pairs {
        sql.push_str(
            " AND s.series_id IN (SELECT series_id FROM telemetry_series_labels
                                  WHERE name = ? AND key = ? AND value = ?)",
        );
        values.extend([name, key.as_str(), value.as_str()]);
    }
    sql.push_str(" ORDER BY s.labels");
    let mut statement = conn.prepare_cached(&sql)?;
    statement
        .query_map(rusqlite::params_from_iter(&values), |r| {
            let labels: String = r.get(2)?;
            Ok(StoredSeries {
                series_id: r.get(0)?,
                kind: r.get(1)?,
                labels: serde_json::from_str(&labels).unwrap_or_default(),
            })
        })?
        .collect()
}

/// The numeric points of series `series_id` from `from` (inclusive) to `until`
/// (exclusive), Unix nanoseconds, in time order; `f` gets each `(time, value)`.
pub fn for_each_point(
    conn: &Connection,
    series_id: i64,
    from: i64,
    until: i64,
    mut f: impl FnMut(i64, f64),
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "SELECT time_unix_nano, value FROM telemetry_points
         WHERE series_id = ?1 AND time_unix_nano >= ?2 AND time_unix_nano < ?3
           AND value IS NOT NULL
         ORDER BY time_unix_nano",
    )?;
    let mut rows = statement.query(params![series_id, from, until])?;
    while let Some(row) = rows.next()? {
        f(row.get(0)?, row.get(1)?);
    }
    Ok(())
}

/// [`for_each_point`] for many series in one statement: `f` gets `(series_id, time,
/// value)`, each series' points together and in time order, the series in id order.
pub fn for_each_point_of(
    conn: &Connection,
    series_ids: &[i64],
    from: i64,
    until: i64,
    mut f: impl FnMut(i64, i64, f64),
) -> rusqlite::Result<()> {
    let ids = serde_json::to_string(series_ids).unwrap_or_else(|_| "[]".into());
    let mut statement = conn.prepare_cached(
        "SELECT series_id, time_unix_nano, value FROM telemetry_points
         WHERE series_id IN (SELECT value FROM json_each(?1))
           AND time_unix_nano >= ?2 AND time_unix_nano < ?3 AND value IS NOT NULL
         ORDER BY series_id, time_unix_nano",
    )?;
    let mut rows = statement.query(params![ids, from, until])?;
    while let Some(row) = rows.next()? {
        f(row.get(0)?, row.get(1)?, row.get(2)?);
    }
    Ok(())
}

/// The time of the oldest point stored (of any series), Unix nanoseconds.
pub fn oldest_point(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT MIN(time_unix_nano) FROM telemetry_points")?
        .query_row([], |r| r.get(0))
}

/// A metric as the index holds it: its name, kind, how many series, and the values of
/// each of its labels.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Family {
    /// The metric's name.
    pub name: String,
    /// The kind of its series (the first, if they differ).
    pub kind: String,
    /// How many series.
    pub series: u64,
    /// Each label key and its values, sorted, at most `values_per_label` of each.
    pub labels: BTreeMap<String, Vec<String>>,
}

/// The metrics stored, sorted by name: at most `limit` of them, each with at most
/// `values_per_label` values of a label.
pub fn families(
    conn: &Connection,
    limit: usize,
    values_per_label: usize,
) -> rusqlite::Result<Vec<Family>> {
    let mut statement = conn.prepare_cached(
        "SELECT name, MIN(kind), COUNT(*) FROM telemetry_series GROUP BY name ORDER BY name LIMIT ?1",
    )?;
    let mut families: Vec<Family> = statement
        .query_map([limit as i64], |r| {
            Ok(Family {
                name: r.get(0)?,
                kind: r.get(1)?,
                series: r.get::<_, i64>(2)?.max(0) as u64,
                labels: BTreeMap::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    // The label index is sorted by (name, key, value): one range per metric.
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT key, value FROM telemetry_series_labels WHERE name = ?1 ORDER BY key, value",
    )?;
    for family in &mut families {
        let mut rows = statement.query([&family.name])?;
        while let Some(row) = rows.next()? {
            let values = family.labels.entry(row.get(0)?).or_default();
            if values.len() < values_per_label {
                values.push(row.get(1)?);
            }
        }
    }
    Ok(families)
}

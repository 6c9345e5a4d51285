//! The index's reads on PostgreSQL, with the answers the SQLite index's give:
//! [`crate::query::traces`] and [`crate::query::trace`], [`crate::runs::list`],
//! [`crate::runs::events`], [`crate::runs::load_state`] and [`crate::runs::distinct`];
//! and the metric reads the query engine runs on: [`crate::metrics::series`],
//! [`crate::metrics::for_each_point_of`], [`crate::metrics::oldest_point`] and
//! [`crate::rollups::for_each_rollup_of`].
//! Text is compared and sorted byte by byte (`COLLATE "C"`), as SQLite does.

use crate::metrics::StoredSeries;
use crate::query::{Lookup, StoredSpan, TraceFilter, TraceStatus, TraceSummary};
use crate::rollups::Rollup;
use crate::runs::{RUN_FIELDS, RunBody, RunFilter};
use postgres::types::Type;
use postgres::{Client, NoTls, Row};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A connection for reading a fleet's database.
pub struct Reader {
    client: Client,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl Reader {
    /// Connects to `url` (see [`super::describe`]).
    pub fn connect(url: &str) -> Result<Reader, String> {
        let config = super::parse(url)?;
        let client = config.connect(NoTls).map_err(|e| super::error_text(&e))?;
        Ok(Reader { client })
    }

    /// The traces `filter` selects, newest first: those whose newest span is newest,
    /// as [`crate::query::traces`] meets them.
    pub fn traces(&mut self, filter: &TraceFilter) -> Result<Vec<TraceSummary>, postgres::Error> {
        let since = filter.since.map_or(0, crate::record::nanos);
        let errors: Option<bool> = filter.status.map(|s| s == TraceStatus::Error);
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows = self.client.query(
            "WITH met AS (
                 SELECT trace_id, MAX(start_time_unix_nano) AS newest FROM telemetry_spans
                 WHERE start_time_unix_nano >= $1 GROUP BY trace_id)
             SELECT v.trace_id, v.root_name, v.service_name, v.start_time_unix_nano,
                    v.duration_ns, v.spans, v.errors, v.services
             FROM met JOIN v_trace_summary v USING (trace_id)
             WHERE v.start_time_unix_nano >= $1
               AND ($2::text IS NULL OR strpos(v.root_name, $2) > 0)
               AND ($3::bool IS NULL OR (v.errors > 0) = $3)
             ORDER BY met.newest DESC LIMIT $4",
            &[&since, &filter.name, &errors, &limit],
        )?;
        let mut found: Vec<TraceSummary> = rows
            .iter()
            .map(|row| TraceSummary {
                trace_id: row.get(0),
                root_name: row.get(1),
                service_name: row.get(2),
                start: time(row.get(3)),
                duration: Duration::from_nanos(row.get::<_, i64>(4).max(0) as u64),
                spans: row.get::<_, i64>(5).max(0) as u64,
                errors: row.get::<_, i64>(6).max(0) as u64,
                services: row.get::<_, i64>(7).max(0) as u64,
            })
            .collect();
        found.sort_by_key(|t| std::cmp::Reverse(t.start));
        Ok(found)
    }

    /// The trace `id` (or a prefix of its hex digits) names, with its spans.
    pub fn trace(&mut self, id: &str) -> Result<Lookup, postgres::Error> {
        let prefix = id.to_ascii_lowercase();
        let ids: Vec<String> = self
            .client
            .query(
                "SELECT DISTINCT trace_id COLLATE \"C\" FROM telemetry_spans
                 WHERE starts_with(trace_id, $1) ORDER BY 1 LIMIT 2",
                &[&prefix],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let full = match ids.as_slice() {
            [] => return Ok(Lookup::NotFound),
            [one] => one.clone(),
            _ => return Ok(Lookup::Ambiguous(ids)),
        };
        let spans = self.client.query(
            "SELECT span_id, parent_span_id, parent_is_remote, name, kind, start_time_unix_nano,
                    end_time_unix_nano, status_code, status_message, service_name, attributes
             FROM telemetry_spans WHERE trace_id = $1
             ORDER BY start_time_unix_nano, span_id COLLATE \"C\"",
            &[&full],
        )?;
        let mut out: Vec<StoredSpan> = spans
            .iter()
            .map(|row| StoredSpan {
                span_id: row.get(0),
                parent_span_id: row.get(1),
                parent_is_remote: row.get::<_, i64>(2) != 0,
                name: row.get(3),
                kind: row.get(4),
                start: time(row.get(5)),
                end: time(row.get(6)),
                status_code: row.get(7),
                status_message: row.get(8),
                service_name: row.get(9),
                attributes: serde_json::from_str(row.get(10)).unwrap_or_default(),
                events: Vec::new(),
            })
            .collect();
        // The trace's events in one query (a round trip per span would be thousands).
        let mut events: HashMap<String, Vec<_>> = HashMap::new();
        for row in self.client.query(
            "SELECT span_id, name, time_unix_nano, attributes FROM telemetry_span_events
             WHERE trace_id = $1 ORDER BY span_id, seq",
            &[&full],
        )? {
            let attributes = serde_json::from_str(row.get(3)).unwrap_or_default();
            let event = (row.get(1), time(row.get(2)), attributes);
            events.entry(row.get(0)).or_default().push(event);
        }
        for span in &mut out {
            span.events = events.remove(&span.span_id).unwrap_or_default();
        }
        Ok(Lookup::Found {
            trace_id: full,
            spans: out,
        })
    }

    /// The runs `filter` selects, newest first, each as the body of its newest state.
    pub fn runs(&mut self, filter: &RunFilter) -> Result<Vec<RunBody>, postgres::Error> {
        let limit = (filter.limit > 0).then(|| i64::try_from(filter.limit).unwrap_or(i64::MAX));
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT run_id, {} FROM agent_runs
             WHERE ($1::text IS NULL OR agent_name = $1) AND ($2::text IS NULL OR job_type = $2)
               AND ($3::text IS NULL OR status = $3)
               AND ($4::text IS NULL OR start_time COLLATE \"C\" >= $4)
               AND ($5::text IS NULL OR host = $5) AND ($6::text IS NULL OR api_posting_status = $6)
               AND ($7::text IS NULL OR start_time COLLATE \"C\" < $7)
             ORDER BY start_time COLLATE \"C\" DESC NULLS LAST, rowid DESC
             LIMIT $8 OFFSET $9",
            RUN_FIELDS.join(", ")
        );
        let rows = self.client.query(
            &sql,
            &[
                &filter.agent,
                &filter.job_type,
                &filter.status,
                &filter.since,
                &filter.host,
                &filter.posting_status,
                &filter.until,
                &limit,
                &offset,
            ],
        )?;
        Ok(rows.iter().map(body_of).collect())
    }

    /// The events of run `run_id` in order: name, time (Unix ns), payload.
    pub fn run_events(
        &mut self,
        run_id: &str,
    ) -> Result<Vec<(String, i64, Value)>, postgres::Error> {
        let rows = self.client.query(
            "SELECT name, time_unix_nano, payload FROM agent_run_events
             WHERE run_id = $1 ORDER BY time_unix_nano",
            &[&run_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let payload = serde_json::from_str(r.get(2)).unwrap_or_default();
                (r.get(0), r.get(1), payload)
            })
            .collect())
    }

    /// The newest state of run `run_id`, as [`crate::runs::load_state`] gives it.
    pub fn run_state(&mut self, run_id: &str) -> Result<Option<RunBody>, postgres::Error> {
        let sql = format!(
            "SELECT run_id, {} FROM agent_runs WHERE run_id = $1",
            RUN_FIELDS.join(", ")
        );
        Ok(self
            .client
            .query_opt(&sql, &[&run_id])?
            .as_ref()
            .map(body_of))
    }

    /// At most `limit` run ids starting with `prefix`, sorted, as
    /// [`crate::runs::ids_starting_with`] gives them.
    pub fn run_ids_starting_with(
        &mut self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, postgres::Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.client.query(
            "SELECT run_id FROM agent_runs WHERE starts_with(run_id, $1)
             ORDER BY run_id COLLATE \"C\" LIMIT $2",
            &[&prefix, &limit],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The distinct values of column `field` of `agent_runs`, sorted, at most `limit`;
    /// `None` if `field` is not a column.
    pub fn distinct(
        &mut self,
        field: &str,
        limit: usize,
    ) -> Result<Option<Vec<Value>>, postgres::Error> {
        let Some(column) = RUN_FIELDS.iter().find(|f| **f == field) else {
            return Ok(None);
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Text sorted byte by byte, as SQLite sorts it.
        let value = match super::index::INTEGER_FIELDS.contains(column) {
            true => column.to_string(),
            false => format!("{column} COLLATE \"C\""),
        };
        let sql = format!(
            "SELECT DISTINCT {value} FROM agent_runs WHERE {column} IS NOT NULL
             ORDER BY 1 LIMIT $1"
        );
        let rows = self.client.query(&sql, &[&limit])?;
        Ok(Some(
            rows.iter()
                .map(|r| value_of(r, 0))
                .filter(|v| !v.is_null())
                .collect(),
        ))
    }
}

impl Reader {
    /// The names of the metrics stored, sorted.
    pub fn metric_names(&mut self) -> Result<Vec<String>, postgres::Error> {
        let rows = self.client.query(
            "SELECT DISTINCT name COLLATE \"C\" FROM telemetry_series ORDER BY 1",
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The series of metric `name` that have every label of `labels` with its value, in
    /// label order.
    pub fn series(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<StoredSeries>, postgres::Error> {
        let mut sql = String::from(
            "SELECT s.series_id, s.kind, s.labels FROM telemetry_series s WHERE s.name = $1",
        );
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&name];
        for (key, value) in labels {
            let n = params.len();
            sql.push_str(&format!(
                " AND s.series_id IN (SELECT series_id FROM telemetry_series_labels
                                      WHERE name = $1 AND key = ${} AND value = ${})",
                n + 1,
                n + 2
            ));
            params.extend([key as &(dyn postgres::types::ToSql + Sync), value]);
        }
        sql.push_str(" ORDER BY s.labels COLLATE \"C\"");
        let rows = self.client.query(&sql, &params)?;
        Ok(rows
            .iter()
            .map(|r| StoredSeries {
                series_id: r.get(0),
                kind: r.get(1),
                labels: serde_json::from_str(r.get(2)).unwrap_or_default(),
            })
            .collect())
    }

    /// The numeric points of the series `series_ids` in `[from, until)` (Unix ns): `f`
    /// gets `(series_id, time, value)`, each series' points together and in time order.
    pub fn for_each_point_of(
        &mut self,
        series_ids: &[i64],
        from: i64,
        until: i64,
        mut f: impl FnMut(i64, i64, f64),
    ) -> Result<(), postgres::Error> {
        let rows = self.client.query(
            "SELECT series_id, time_unix_nano, value FROM telemetry_points
             WHERE series_id = ANY($1) AND time_unix_nano >= $2 AND time_unix_nano < $3
               AND value IS NOT NULL
             ORDER BY series_id, time_unix_nano",
            &[&series_ids, &from, &until],
        )?;
        for row in &rows {
            f(row.get(0), row.get(1), row.get(2));
        }
        Ok(())
    }

    /// The time of the oldest point stored (of any series), Unix nanoseconds.
    pub fn oldest_point(&mut self) -> Result<Option<i64>, postgres::Error> {
        let row = self
            .client
            .query_one("SELECT MIN(time_unix_nano) FROM telemetry_points", &[])?;
        Ok(row.get(0))
    }

    /// The rollups of `width` seconds of the series `series_ids` whose buckets start in
    /// `[from, until)`: `f` gets `(series_id, rollup)`, each series' together and in time
    /// order; their sketches only `with_sketches`.
    pub fn for_each_rollup_of(
        &mut self,
        series_ids: &[i64],
        width: i64,
        (from, until): (i64, i64),
        with_sketches: bool,
        mut f: impl FnMut(i64, Rollup),
    ) -> Result<(), postgres::Error> {
        let sketch = if with_sketches {
            "sketch"
        } else {
            "NULL::bytea"
        };
        let rows = self.client.query(
            &format!(
                "SELECT count, sum, min, max, increase, {sketch}, series_id, start_unix_nano
                 FROM telemetry_rollups
                 WHERE series_id = ANY($1) AND width_seconds = $2
                   AND start_unix_nano >= $3 AND start_unix_nano < $4
                 ORDER BY series_id, start_unix_nano"
            ),
            &[&series_ids, &width, &from, &until],
        )?;
        for row in &rows {
            f(row.get(6), rollup_of(row, row.get(7)));
        }
        Ok(())
    }
}

/// A rollup from a row whose first columns are `count, sum, min, max, increase,
/// sketch`.
pub(super) fn rollup_of(row: &Row, start: i64) -> Rollup {
    let sketch: Option<Vec<u8>> = row.get(5);
    Rollup {
        start,
        count: row.get::<_, i64>(0).max(0) as u64,
        sum: row.get(1),
        min: row.get::<_, Option<f64>>(2).unwrap_or(f64::INFINITY),
        max: row.get::<_, Option<f64>>(3).unwrap_or(f64::NEG_INFINITY),
        increase: row.get(4),
        sketch: sketch.and_then(|b| sketches_ddsketch::DDSketch::from_java_bytes(&b).ok()),
    }
}

/// A row of `run_id` and [`RUN_FIELDS`] as a body: the columns that are set.
fn body_of(row: &Row) -> RunBody {
    let mut body = RunBody::new();
    for (i, name) in std::iter::once(&"run_id").chain(RUN_FIELDS).enumerate() {
        let value = value_of(row, i);
        if !value.is_null() {
            body.insert((*name).to_owned(), value);
        }
    }
    body
}

fn value_of(row: &Row, i: usize) -> Value {
    match *row.columns()[i].type_() {
        Type::INT8 => row
            .get::<_, Option<i64>>(i)
            .map_or(Value::Null, Value::from),
        Type::FLOAT8 => row
            .get::<_, Option<f64>>(i)
            .map_or(Value::Null, Value::from),
        _ => row
            .get::<_, Option<String>>(i)
            .map_or(Value::Null, Value::from),
    }
}

fn time(nanos: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos.max(0) as u64)
}

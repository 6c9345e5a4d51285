//! Rollups: each metric series' points folded per minute and per hour into their count,
//! sum, min, max, a counter's increase and a mergeable sketch of the values (DDSketch,
//! [`RELATIVE_ERROR`]), so that a query over whole minutes or hours reads one row per
//! series and bucket instead of its points, and still answers after the points' retention
//! (rollups are kept 90 days). They are kept in step as points are indexed, in the same
//! transaction: a rollup counts exactly the points the index holds, and a rebuild from
//! the log rebuilds them.
//!
//! A counter's increase is counted from the series' previous point when the point is
//! indexed (a lower value is a restart from zero, as PromQL counts a reset; a new
//! series' first point counts from zero, as a process's counters start; a known series'
//! first point after its earlier points were cleared counts nothing). Points arrive in
//! time order from the exporters; a late point (older than one already stored) is
//! counted against the one before it, and the one after keeps the increase it was given,
//! so a late point adds to the sum of increases until a rebuild recounts them.

use rusqlite::{Connection, OptionalExtension, params};
use sketches_ddsketch::{Config, DDSketch};
use std::collections::HashMap;

/// The rollup widths in seconds: a minute and an hour.
pub const WIDTHS: [i64; 2] = [60, 3600];

/// The relative error of a percentile from a rollup's sketch: it is within 1% of the
/// value at the rank below the one asked (`floor(q (n - 1))`).
pub const RELATIVE_ERROR: f64 = 0.01;

/// Whether series of `kind` count up (their rollups carry an increase, not a sketch).
pub fn is_counter(kind: &str) -> bool {
    matches!(kind, "counter" | "histogram_bucket")
}

fn sketch_config() -> Config {
    Config::new(RELATIVE_ERROR, 2048, 1e-9)
}

/// One series' points in one bucket of one width.
#[derive(Clone)]
#[non_exhaustive]
pub struct Rollup {
    /// The bucket's start, Unix nanoseconds.
    pub start: i64,
    /// How many points.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// A counter's increase over the bucket (0 for other kinds).
    pub increase: f64,
    /// The values' sketch (none for counters).
    pub sketch: Option<DDSketch>,
}

impl std::fmt::Debug for Rollup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollup")
            .field("start", &self.start)
            .field("count", &self.count)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("increase", &self.increase)
            .field("sketch", &self.sketch.as_ref().map(DDSketch::length))
            .finish()
    }
}

impl Rollup {
    /// An empty rollup of the bucket starting at `start`.
    pub fn new(start: i64) -> Rollup {
        Rollup {
            start,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            increase: 0.0,
            sketch: None,
        }
    }

    fn add(&mut self, value: f64, increase: Option<f64>) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        match increase {
            Some(increase) => self.increase += increase,
            // Infinities have no place in a log-scaled sketch; they still count above.
            None if value.is_finite() => self
                .sketch
                .get_or_insert_with(|| DDSketch::new(sketch_config()))
                .add(value),
            None => {}
        }
    }

    /// Counts `other` (of any bucket) in.
    pub fn merge(&mut self, other: &Rollup) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.increase += other.increase;
        if let Some(theirs) = &other.sketch {
            match &mut self.sketch {
                // One configuration everywhere: merging cannot fail.
                Some(mine) => {
                    let _ = mine.merge(theirs);
                }
                None => self.sketch = Some(theirs.clone()),
            }
        }
    }

    /// Quantile `q` (0 to 1) of the values, from the sketch (see [`RELATIVE_ERROR`]);
    /// `None` without a sketch or for `q` outside 0..=1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.as_ref()?.quantile(q).ok().flatten()
    }
}

/// The rollups a transaction's points change, written once at its end.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    rollups: HashMap<(i64, i64, i64), Rollup>,
}

impl Pending {
    /// Counts the point `(time, value)` of series `series_id` into its buckets; a
    /// counter's `previous` value (none for its first point) gives its increase.
    pub(crate) fn add(
        &mut self,
        series_id: i64,
        counter: bool,
        time: i64,
        value: f64,
        previous: Option<f64>,
    ) {
        let increase = counter.then_some(match previous {
            Some(before) if value >= before => value - before,
            _ => value,
        });
        for width in WIDTHS {
            let start = bucket_start(time, width);
            self.rollups
                .entry((series_id, width, start))
                .or_insert_with(|| Rollup::new(start))
                .add(value, increase);
        }
    }

    /// The pending rollups by (series, width, start), taken.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = ((i64, i64, i64), Rollup)> + '_ {
        self.rollups.drain()
    }

    /// Merges every pending rollup into its stored row.
    pub(crate) fn write(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut read = conn.prepare_cached(
            "SELECT count, sum, min, max, increase, sketch FROM telemetry_rollups
             WHERE series_id = ?1 AND width_seconds = ?2 AND start_unix_nano = ?3",
        )?;
        let mut write = conn.prepare_cached(
            "INSERT OR REPLACE INTO telemetry_rollups (series_id, width_seconds,
                start_unix_nano, count, sum, min, max, increase, sketch)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for ((series_id, width, start), pending) in self.drain() {
            let key = params![series_id, width, start];
            let r = match read.query_row(key, |r| row(r, start)).optional()? {
                Some(mut stored) => {
                    stored.merge(&pending);
                    stored
                }
                None => pending,
            };
            write.execute(params![
                series_id,
                width,
                start,
                r.count as i64,
                r.sum,
                r.min,
                r.max,
                r.increase,
                r.sketch.as_ref().map(DDSketch::to_java_bytes),
            ])?;
        }
        Ok(())
    }
}

/// A rollup from a row of `count, sum, min, max, increase, sketch`.
fn row(r: &rusqlite::Row<'_>, start: i64) -> rusqlite::Result<Rollup> {
    let sketch: Option<Vec<u8>> = r.get(5)?;
    Ok(Rollup {
        start,
        count: r.get::<_, i64>(0)? as u64,
        sum: r.get(1)?,
        min: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::INFINITY),
        max: r.get::<_, Option<f64>>(3)?.unwrap_or(f64::NEG_INFINITY),
        increase: r.get(4)?,
        sketch: sketch.and_then(|bytes| DDSketch::from_java_bytes(&bytes).ok()),
    })
}

/// The start (Unix nanoseconds) of the bucket of `width` seconds holding `time`.
pub fn bucket_start(time: i64, width: i64) -> i64 {
    let width = width * 1_000_000_000;
    time.div_euclid(width).saturating_mul(width)
}

/// The value of series `series_id`'s newest point before `time`.
pub(crate) fn previous_value(
    conn: &Connection,
    series_id: i64,
    time: i64,
) -> rusqlite::Result<Option<f64>> {
    conn.prepare_cached(
        "SELECT value FROM telemetry_points WHERE series_id = ?1 AND time_unix_nano < ?2
         ORDER BY time_unix_nano DESC LIMIT 1",
    )?
    .query_row(params![series_id, time], |r| r.get(0))
    .optional()
    .map(Option::flatten)
}

/// Migration 5: the rollups table, filled from the points already stored.
pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(include_str!("schema/005_rollups.sql"))?;
    rebuild(conn)
}

/// Computes every rollup again from the points the index holds (those past the points'
/// retention are lost); for a file whose points were written around the store.
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    rebuild_range(conn, i64::MIN, i64::MAX, false)
}

/// Computes the rollups of the hour starting at `hour` (Unix nanoseconds) again from its
/// points, after a clear removed those before them (a counter's first point left counts
/// nothing).
pub(crate) fn rebuild_hour(conn: &Connection, hour: i64) -> rusqlite::Result<()> {
    rebuild_range(
        conn,
        hour,
        hour.saturating_add(WIDTHS[1] * 1_000_000_000),
        true,
    )
}

/// Rollups of buckets starting in `[from, until)` (whole hours) from the points there; a
/// counter's first point there counts from the point before it, else from zero, or
/// (`cleared`) nothing.
fn rebuild_range(conn: &Connection, from: i64, until: i64, cleared: bool) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM telemetry_rollups WHERE start_unix_nano >= ?1 AND start_unix_nano < ?2",
        params![from, until],
    )?;
    let mut points = conn.prepare(
        "SELECT p.series_id, s.kind, p.time_unix_nano, p.value FROM telemetry_points p
         JOIN telemetry_series s USING (series_id)
         WHERE p.value IS NOT NULL AND p.time_unix_nano >= ?1 AND p.time_unix_nano < ?2
         ORDER BY p.series_id, p.time_unix_nano",
    )?;
    let mut rows = points.query(params![from, until])?;
    let mut pending = Pending::default();
    let mut last: Option<(i64, f64)> = None;
    while let Some(row) = rows.next()? {
        let (series_id, kind, time, value): (i64, String, i64, f64) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let counter = is_counter(&kind);
        let previous = match last {
            Some((id, before)) if id == series_id => Some(before),
            other => {
                if other.is_some() {
                    // One series at a time in memory.
                    pending.write(conn)?;
                }
                match counter {
                    true => previous_value(conn, series_id, from)?.or(cleared.then_some(value)),
                    false => None,
                }
            }
        };
        pending.add(series_id, counter, time, value, previous);
        last = Some((series_id, value));
    }
    pending.write(conn)
}

/// The rollups of `width` seconds of the series `series_ids` whose buckets start in
/// `[from, until)`: `f` gets `(series_id, rollup)`, each series' rollups together and in
/// time order, read in one statement; their sketches only `with_sketches` (percentiles
/// need them, nothing else does).
pub fn for_each_rollup_of(
    conn: &Connection,
    series_ids: &[i64],
    width: i64,
    (from, until): (i64, i64),
    with_sketches: bool,
    mut f: impl FnMut(i64, Rollup),
) -> rusqlite::Result<()> {
    let ids = serde_json::to_string(series_ids).unwrap_or_else(|_| "[]".into());
    let sketch = if with_sketches { "sketch" } else { "NULL" };
    let mut statement = conn.prepare_cached(&format!(
        "SELECT count, sum, min, max, increase, {sketch}, series_id, start_unix_nano
         FROM telemetry_rollups
         WHERE series_id IN (SELECT value FROM json_each(?1)) AND width_seconds = ?2
           AND start_unix_nano >= ?3 AND start_unix_nano < ?4
         ORDER BY series_id, start_unix_nano"
    ))?;
    let mut rows = statement.query(params![ids, width, from, until])?;
    while let Some(r) = rows.next()? {
        let rollup = row(r, r.get(7)?)?;
        f(r.get(6)?, rollup);
    }
    Ok(())
}

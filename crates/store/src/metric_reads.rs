//! The metric reads the query engine runs on, from either index: a SQLite connection,
//! or (feature `postgres`) a fleet's [`crate::postgres::Reader`].

use crate::metrics::{self, StoredSeries};
use crate::rollups::{self, Rollup};
use rusqlite::Connection;
use std::collections::BTreeMap;

/// Why a read of an index failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// SQLite's error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's, as its server said it.
    #[error("{0}")]
    Postgres(String),
}

/// The metric reads of an index: series by labels, their points and rollups.
pub trait MetricReads {
    /// [`metrics::series`].
    fn series(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<StoredSeries>, ReadError>;
    /// [`metrics::oldest_point`].
    fn oldest_point(&mut self) -> Result<Option<i64>, ReadError>;
    /// [`metrics::for_each_point_of`].
    fn for_each_point_of(
        &mut self,
        series_ids: &[i64],
        from: i64,
        until: i64,
        f: &mut dyn FnMut(i64, i64, f64),
    ) -> Result<(), ReadError>;
    /// [`rollups::for_each_rollup_of`].
    fn for_each_rollup_of(
        &mut self,
        series_ids: &[i64],
        width: i64,
        range: (i64, i64),
        with_sketches: bool,
        f: &mut dyn FnMut(i64, Rollup),
    ) -> Result<(), ReadError>;
}

impl MetricReads for &Connection {
    fn series(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<StoredSeries>, ReadError> {
        Ok(metrics::series(self, name, labels)?)
    }

    fn oldest_point(&mut self) -> Result<Option<i64>, ReadError> {
        Ok(metrics::oldest_point(self)?)
    }

    fn for_each_point_of(
        &mut self,
        series_ids: &[i64],
        from: i64,
        until: i64,
        f: &mut dyn FnMut(i64, i64, f64),
    ) -> Result<(), ReadError> {
        Ok(metrics::for_each_point_of(
            self, series_ids, from, until, f,
        )?)
    }

    fn for_each_rollup_of(
        &mut self,
        series_ids: &[i64],
        width: i64,
        range: (i64, i64),
        with_sketches: bool,
        f: &mut dyn FnMut(i64, Rollup),
    ) -> Result<(), ReadError> {
        Ok(rollups::for_each_rollup_of(
            self,
            series_ids,
            width,
            range,
            with_sketches,
            f,
        )?)
    }
}

impl<T: MetricReads + ?Sized> MetricReads for &mut T {
    fn series(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<StoredSeries>, ReadError> {
        (**self).series(name, labels)
    }

    fn oldest_point(&mut self) -> Result<Option<i64>, ReadError> {
        (**self).oldest_point()
    }

    fn for_each_point_of(
        &mut self,
        series_ids: &[i64],
        from: i64,
        until: i64,
        f: &mut dyn FnMut(i64, i64, f64),
    ) -> Result<(), ReadError> {
        (**self).for_each_point_of(series_ids, from, until, f)
    }

    fn for_each_rollup_of(
        &mut self,
        series_ids: &[i64],
        width: i64,
        range: (i64, i64),
        with_sketches: bool,
        f: &mut dyn FnMut(i64, Rollup),
    ) -> Result<(), ReadError> {
        (**self).for_each_rollup_of(series_ids, width, range, with_sketches, f)
    }
}

#[cfg(feature = "postgres")]
impl MetricReads for crate::postgres::Reader {
    fn series(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<StoredSeries>, ReadError> {
        crate::postgres::Reader::series(self, name, labels).map_err(postgres_error)
    }

    fn oldest_point(&mut self) -> Result<Option<i64>, ReadError> {
        crate::postgres::Reader::oldest_point(self).map_err(postgres_error)
    }

    fn for_each_point_of(
        &mut self,
        series_ids: &[i64],
        from: i64,
        until: i64,
        f: &mut dyn FnMut(i64, i64, f64),
    ) -> Result<(), ReadError> {
        crate::postgres::Reader::for_each_point_of(self, series_ids, from, until, f)
            .map_err(postgres_error)
    }

    fn for_each_rollup_of(
        &mut self,
        series_ids: &[i64],
        width: i64,
        range: (i64, i64),
        with_sketches: bool,
        f: &mut dyn FnMut(i64, Rollup),
    ) -> Result<(), ReadError> {
        crate::postgres::Reader::for_each_rollup_of(
            self,
            series_ids,
            width,
            range,
            with_sketches,
            f,
        )
        .map_err(postgres_error)
    }
}

#[cfg(feature = "postgres")]
fn postgres_error(error: postgres::Error) -> ReadError {
    ReadError::Postgres(crate::postgres::error_text(&error))
}

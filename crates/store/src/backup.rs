//! `lookout backup` and `lookout restore`: SQLite's online backup, consistent while
//! writers run, and a restore that takes only a file that passes `integrity_check`.
//!
//! A restored index is older than the log; the restore then indexes what the log recorded
//! since the backup, so it loses nothing the log still holds.

use crate::config::StoreConfig;
use crate::index::{SCHEMA_VERSION, open_reader};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Pages copied per step: small enough for a progress bar, large enough to be quick.
const PAGES_PER_STEP: i32 = 256;

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// There is no database to back up.
    #[error("no database at {0}")]
    Missing(PathBuf),
    /// The file offered for a restore is not a sound Lookout database.
    #[error("{path} cannot be restored: {problem}")]
    Unsound {
        /// The file.
        path: PathBuf,
        /// What `integrity_check` or the schema check said.
        problem: String,
    },
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A directory could not be made.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a backup or restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Copied {
    /// The file written.
    pub path: PathBuf,
    /// Its pages.
    pub pages: u64,
    /// Its bytes.
    pub bytes: u64,
}

/// Where a backup taken at `time` goes by default: `{base}/backups/telemetry-{UTC}.sqlite`.
pub fn default_backup_path(config: &StoreConfig, time: SystemTime) -> PathBuf {
    let stamp: String = lookout_exporter_json::rfc3339(time)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(15)
        .collect();
    config
        .backups_dir()
        .join(format!("telemetry-{stamp}Z.sqlite"))
}

/// Copies the store's database to `dest` page by page, calling `progress(done, total)`
/// after each step. The source stays readable and writable meanwhile: the copy is one
/// consistent snapshot (a read transaction holds it), and it is checked with
/// `integrity_check` before this returns.
pub fn backup(
    config: &StoreConfig,
    dest: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<Copied, BackupError> {
    if !config.db_path.exists() {
        return Err(BackupError::Missing(config.db_path.clone()));
    }
    let source = open_reader(&config.db_path)?;
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut target = Connection::open(dest)?;
    // One snapshot for the whole copy, whatever other processes commit meanwhile.
    source.execute_batch("BEGIN")?;
    source.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })?;
    let pages = copy(&source, &mut target, progress)?;
    source.execute_batch("COMMIT")?;
    target.execute_batch("PRAGMA journal_mode = DELETE")?;
    drop(target);
    check(dest)?;
    Ok(Copied {
        path: dest.to_owned(),
        pages,
        bytes: std::fs::metadata(dest)?.len(),
    })
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// The database written.
    pub copied: Copied,
    /// The backup of the database it replaced, if there was one.
    pub previous: Option<Copied>,
    /// Log lines indexed after the copy: what was recorded since the backup.
    pub replayed: u64,
}

/// Replaces the store's database with the backup at `from`, once `from` passes
/// `integrity_check` and holds a schema this build knows, then indexes what the log holds
/// and the backup lacks. The database it replaces is first backed up into
/// `{base}/backups/`, so nothing is lost. Stop the agents writing to the store first.
pub fn restore(
    config: &StoreConfig,
    from: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<Restored, BackupError> {
    check(from)?;
    let previous = if config.db_path.exists() {
        let aside =
            default_backup_path(config, SystemTime::now()).with_extension("before-restore.sqlite");
        Some(backup(config, &aside, |_, _| {})?)
    } else {
        None
    };
    if let Some(dir) = config.db_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut target = Connection::open(&config.db_path)?;
    target.busy_timeout(Duration::from_secs(30))?;
    let pages = copy(&source, &mut target, progress)?;
    drop(target);
    let store = crate::Store::open(config.clone());
    let _ = store.flush(Duration::from_secs(60));
    let replayed = store.stats().replayed;
    drop(store);
    Ok(Restored {
        copied: Copied {
            path: config.db_path.clone(),
            pages,
            bytes: std::fs::metadata(&config.db_path)?.len(),
        },
        previous,
        replayed,
    })
}

fn copy(
    source: &Connection,
    target: &mut Connection,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, BackupError> {
    let backup = rusqlite::backup::Backup::new(source, target)?;
    loop {
        let step = backup.step(PAGES_PER_STEP)?;
        let p = backup.progress();
        let total = p.pagecount.max(0) as u64;
        progress(total - p.remaining.max(0) as u64, total);
        match step {
            rusqlite::backup::StepResult::Done => return Ok(total),
            rusqlite::backup::StepResult::More => {}
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// `integrity_check` is `ok` and the schema is one this build knows.
fn check(path: &Path) -> Result<(), BackupError> {
    let unsound = |problem: String| BackupError::Unsound {
        path: path.to_owned(),
        problem,
    };
    if !path.exists() {
        return Err(BackupError::Missing(path.to_owned()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| unsound(e.to_string()))?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| unsound(e.to_string()))?;
    if result != "ok" {
        return Err(unsound(format!("integrity_check: {result}")));
    }
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| unsound(e.to_string()))?;
    if version == 0 || version > SCHEMA_VERSION {
        return Err(unsound(format!(
            "schema version {version}; this build reads 1 to {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}

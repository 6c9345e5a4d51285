//! Where the store lives and how it writes: seed 002's `TELEMETRY_*` variables, or code.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The base directory (seed 002's name).
pub const BASE_DIR_ENV: &str = "TELEMETRY_BASE_DIR";
/// The base directory, Lookout's name for it; `TELEMETRY_BASE_DIR` wins when both are set.
pub const LOOKOUT_BASE_DIR_ENV: &str = "LOOKOUT_BASE_DIR";
/// The database file, when it is not `{base}/db/telemetry.sqlite`.
pub const DB_PATH_ENV: &str = "TELEMETRY_DB_PATH";
/// `WAL` or `DELETE`.
pub const JOURNAL_MODE_ENV: &str = "TELEMETRY_DB_JOURNAL_MODE";
/// `NORMAL` or `FULL`.
pub const SYNCHRONOUS_ENV: &str = "TELEMETRY_DB_SYNCHRONOUS";

/// SQLite's journal mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JournalMode {
    /// A write-ahead log: readers never wait for writers and many processes write one
    /// file (the default).
    #[default]
    Wal,
    /// Seed 002's rollback journal, for file systems without shared memory (network
    /// mounts); readers and writers take turns.
    Delete,
}

impl JournalMode {
    /// Reads `WAL` or `DELETE`, in any case.
    pub fn parse(value: &str) -> Option<JournalMode> {
        match value.trim().to_ascii_uppercase().as_str() {
            "WAL" => Some(JournalMode::Wal),
            "DELETE" => Some(JournalMode::Delete),
            _ => None,
        }
    }
}

/// How often SQLite waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// At checkpoints only (the default): a commit survives the process being killed;
    /// what a power cut takes back, the NDJSON log (synced at every flush) replays.
    #[default]
    Normal,
    /// At every commit, as seed 002 does.
    Full,
}

impl Synchronous {
    /// Reads `NORMAL` or `FULL`, in any case.
    pub fn parse(value: &str) -> Option<Synchronous> {
        match value.trim().to_ascii_uppercase().as_str() {
            "NORMAL" => Some(Synchronous::Normal),
            "FULL" => Some(Synchronous::Full),
            _ => None,
        }
    }
}

/// How long each kind of data is kept (seed 003's retention defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Spans and their events (7 days).
    pub traces: Duration,
    /// Metric points (30 days).
    pub metrics: Duration,
    /// Aggregates (90 days).
    pub aggregates: Duration,
    /// Records: runs, sessions, skill entries, events (7 days).
    pub events: Duration,
}

const DAY: Duration = Duration::from_secs(86_400);

impl Default for Retention {
    fn default() -> Self {
        Retention {
            traces: DAY * 7,
            metrics: DAY * 30,
            aggregates: DAY * 90,
            events: DAY * 7,
        }
    }
}

impl Retention {
    /// How long an NDJSON day file is kept: as long as the longest-kept kind it holds.
    pub fn log(&self) -> Duration {
        self.traces.max(self.metrics).max(self.events)
    }
}

/// Everything the store needs to open.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `{base}`: holds `raw/`, `db/` and `backups/`.
    pub base_dir: PathBuf,
    /// The SQLite file (default `{base}/db/telemetry.sqlite`).
    pub db_path: PathBuf,
    /// SQLite's journal mode (default WAL).
    pub journal_mode: JournalMode,
    /// SQLite's synchronous level (default NORMAL).
    pub synchronous: Synchronous,
    /// What is kept how long.
    pub retention: Retention,
    /// Refuse new records once the data directory holds this many bytes (default none).
    pub max_bytes: Option<u64>,
    /// Refuse new records while the file system has less than this free (default 64 MiB).
    pub min_free_bytes: u64,
    /// Records waiting for the writer before new ones are dropped (default 65,536).
    pub queue_capacity: usize,
}

/// A variable the store cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}; {fix}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: &'static str,
}

impl StoreConfig {
    /// A store in `base_dir`, with every other setting at its default.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        let base_dir = base_dir.into();
        StoreConfig {
            db_path: base_dir.join("db").join("telemetry.sqlite"),
            base_dir,
            journal_mode: JournalMode::default(),
            synchronous: Synchronous::default(),
            retention: Retention::default(),
            max_bytes: None,
            min_free_bytes: 64 << 20,
            queue_capacity: 65_536,
        }
    }

    /// The per-user data directory: `$XDG_DATA_HOME/lookout` (`~/.local/share/lookout`)
    /// on Linux, `~/Library/Application Support/lookout` on macOS.
    pub fn default_base_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|dir| dir.join("lookout"))
    }

    /// The store the variables `lookup` finds name: `None` unless `TELEMETRY_BASE_DIR`,
    /// `LOOKOUT_BASE_DIR` or `TELEMETRY_DB_PATH` is set (the store is then on).
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<StoreConfig>, ConfigError> {
        first_problem(Self::from_lookup_lenient(lookup))
    }

    /// [`StoreConfig::from_lookup`], each variable on its own: those that cannot be used
    /// are returned as problems and leave their setting at its default.
    pub fn from_lookup_lenient(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> (Option<StoreConfig>, Vec<ConfigError>) {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = get(BASE_DIR_ENV).or_else(|| get(LOOKOUT_BASE_DIR_ENV));
        let base = match (base, get(DB_PATH_ENV)) {
            (None, None) => return (None, Vec::new()),
            (Some(base), _) => PathBuf::from(base),
            // Only the database named: the log lives beside its directory.
            (None, Some(db)) => Path::new(&db)
                .parent()
                .and_then(Path::parent)
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        };
        let (config, problems) = StoreConfig::new(base).with_lookup_lenient(lookup);
        (Some(config), problems)
    }

    /// This configuration with the variables `lookup` finds applied over it.
    pub fn with_lookup(
        self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StoreConfig, ConfigError> {
        first_problem(self.with_lookup_lenient(lookup))
    }

    /// [`StoreConfig::with_lookup`], each variable on its own: those that cannot be used
    /// are returned as problems and leave their setting as it was.
    pub fn with_lookup_lenient(
        mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> (StoreConfig, Vec<ConfigError>) {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        if let Some(db) = get(DB_PATH_ENV) {
            self.db_path = PathBuf::from(db);
        }
        if let Some(mode) = get(JOURNAL_MODE_ENV) {
            match journal_mode(JOURNAL_MODE_ENV, &mode) {
                Ok(mode) => self.journal_mode = mode,
                Err(problem) => problems.push(problem),
            }
        }
        if let Some(level) = get(SYNCHRONOUS_ENV) {
            match synchronous(SYNCHRONOUS_ENV, &level) {
                Ok(level) => self.synchronous = level,
                Err(problem) => problems.push(problem),
            }
        }
        (self, problems)
    }

    /// The `store` block of a config file; field names (`store.journalMode`) in errors.
    pub fn from_block(block: &StoreBlock) -> Result<Option<StoreConfig>, ConfigError> {
        if block.enabled == Some(false) {
            return Ok(None);
        }
        let base = match (&block.base_dir, Self::default_base_dir()) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(dir)) => dir,
            (None, None) => {
                return Err(ConfigError {
                    variable: "store.baseDir",
                    problem: "there is no per-user data directory here".into(),
                    fix: "name the directory",
                });
            }
        };
        let mut config = StoreConfig::new(base);
        if let Some(db) = &block.db_path {
            config.db_path = PathBuf::from(db);
        }
        if let Some(mode) = &block.journal_mode {
            config.journal_mode = journal_mode("store.journalMode", mode)?;
        }
        if let Some(level) = &block.synchronous {
            config.synchronous = synchronous("store.synchronous", level)?;
        }
        config.max_bytes = block.max_bytes;
        if let Some(free) = block.min_free_bytes {
            config.min_free_bytes = free;
        }
        Ok(Some(config))
    }

    /// `{base}/raw`: the NDJSON day files.
    pub fn raw_dir(&self) -> PathBuf {
        self.base_dir.join("raw")
    }

    /// `{base}/backups`.
    pub fn backups_dir(&self) -> PathBuf {
        self.base_dir.join("backups")
    }
}

/// The `store` block of Lookout's config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct StoreBlock {
    /// `false` turns the store off.
    pub enabled: Option<bool>,
    /// The base directory (default: the per-user data directory).
    pub base_dir: Option<String>,
    /// The database file.
    pub db_path: Option<String>,
    /// `WAL` or `DELETE`.
    pub journal_mode: Option<String>,
    /// `NORMAL` or `FULL`.
    pub synchronous: Option<String>,
    /// Refuse new records past this many bytes.
    pub max_bytes: Option<u64>,
    /// Refuse new records below this much free space.
    pub min_free_bytes: Option<u64>,
}

fn journal_mode(variable: &'static str, value: &str) -> Result<JournalMode, ConfigError> {
    JournalMode::parse(value).ok_or_else(|| ConfigError {
        variable,
        problem: format!("{value:?} is not a journal mode"),
        fix: "use WAL (the default) or DELETE",
    })
}

fn synchronous(variable: &'static str, value: &str) -> Result<Synchronous, ConfigError> {
    Synchronous::parse(value).ok_or_else(|| ConfigError {
        variable,
        problem: format!("{value:?} is not a synchronous level"),
        fix: "use NORMAL (the default) or FULL",
    })
}

/// A lenient result as a strict one: its first problem, if any.
fn first_problem<T>((value, mut problems): (T, Vec<ConfigError>)) -> Result<T, ConfigError> {
    match problems.is_empty() {
        true => Ok(value),
        false => Err(problems.swap_remove(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookout_testkit::env_map as lookup;

    #[test]
    fn seed_002_variables() {
        assert_eq!(StoreConfig::from_lookup(&lookup(&[])), Ok(None));
        let config = StoreConfig::from_lookup(&lookup(&[
            (BASE_DIR_ENV, "/data/t"),
            (JOURNAL_MODE_ENV, "delete"),
            (SYNCHRONOUS_ENV, "FULL"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.db_path, Path::new("/data/t/db/telemetry.sqlite"));
        assert_eq!(config.raw_dir(), Path::new("/data/t/raw"));
        assert_eq!(config.journal_mode, JournalMode::Delete);
        assert_eq!(config.synchronous, Synchronous::Full);

        let config = StoreConfig::from_lookup(&lookup(&[(DB_PATH_ENV, "/x/db/other.sqlite")]))
            .unwrap()
            .unwrap();
        assert_eq!(config.base_dir, Path::new("/x"));
        assert_eq!(config.db_path, Path::new("/x/db/other.sqlite"));

        let alias = StoreConfig::from_lookup(&lookup(&[(LOOKOUT_BASE_DIR_ENV, "/l")]))
            .unwrap()
            .unwrap();
        assert_eq!(alias.base_dir, Path::new("/l"));

        let error = StoreConfig::from_lookup(&lookup(&[
            (BASE_DIR_ENV, "/t"),
            (JOURNAL_MODE_ENV, "MEMORY"),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, JOURNAL_MODE_ENV);
    }
}

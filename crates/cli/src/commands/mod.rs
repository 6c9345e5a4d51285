//! One file per command; [`run`] resolves the settings and runs the one asked for on one
//! tokio runtime, which the command's exporters and server share.

pub(crate) mod analyze;
pub(crate) mod backup;
pub(crate) mod capture;
pub(crate) mod clear;
pub(crate) mod diff;
pub(crate) mod eval;
#[cfg(unix)]
pub(crate) mod exec;
pub(crate) mod export;
pub(crate) mod metrics;
pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod runs;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod telemetry_files;
pub(crate) mod traces;

use crate::args::{Args, Command};
use crate::error::CliError;
use crate::settings::Settings;
use lookout::pipeline::PipelineBuilder;

/// Runs the parsed command line; returns the process exit code.
pub(crate) fn run(args: Args) -> Result<u8, CliError> {
    let settings = Settings::resolve(args.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        match args.command {
            Command::Serve(args) => serve::run(args).await.map(|()| 0),
            Command::Metrics(args) => metrics::run(args, &settings).await.map(|()| 0),
            Command::Export => export::run(&settings).await.map(|()| 0),
            #[cfg(unix)]
            Command::Exec(args) => exec::run(args).await,
            Command::Traces(args) => traces::run(args, &settings).map(|()| 0),
            Command::Runs(args) => runs::run(args, &settings).map(|()| 0),
            Command::Status => status::run(&settings).await.map(|()| 0),
            Command::Query(args) => query::run_query(args, &settings).map(|()| 0),
            Command::Stats(args) => query::run_stats(args, &settings).map(|()| 0),
            Command::Capture(args) => Ok(capture::run(args)),
            Command::Analyze(args) => analyze::run(args, &settings).map(|()| 0),
            Command::Eval(args) => eval::run(args).map(|()| 0),
            Command::Record(args) => record::run(args, &settings).map(|()| 0),
            Command::Diff(args) => diff::run(args, &settings).map(|()| 0),
            Command::Clear(args) => clear::run(args, &settings),
            Command::Backup(args) => backup::backup(args, &settings).map(|()| 0),
            Command::Restore(args) => backup::restore(args, &settings).map(|()| 0),
        }
    })
}

/// The telemetry of a command that records (`exec`): the configured exporters and the
/// store (the per-user data directory unless `TELEMETRY_BASE_DIR` names one), on the
/// command's runtime. A variable that cannot be used is one warning naming it (seed
/// 002): the command runs with the rest.
fn recording_telemetry() -> lookout::Telemetry {
    lookout::Telemetry::builder()
        .exporters(exporters_on_this_runtime())
        .config(lookout::config::Config::from_env_or_warn().with_default_store())
        .build_or_warn()
}

/// The store the commands that read it (`traces`, `backup`, `restore`) open: the one
/// the environment names, else the per-user data directory.
fn store_config() -> Result<lookout::store::StoreConfig, CliError> {
    lookout::config::Config::from_env_or_warn()
        .with_default_store()
        .store
        .ok_or_else(|| {
            CliError::Store(
                "no store: set TELEMETRY_BASE_DIR (there is no per-user data directory here)"
                    .into(),
            )
        })
}

/// A reader of the store, for the commands that only read it; an error if it is missing.
fn open_store_reader(
    store: &lookout::store::StoreConfig,
) -> Result<lookout::store::rusqlite::Connection, CliError> {
    let db = &store.db_path;
    if !db.exists() {
        return Err(CliError::Store(format!(
            "no store at {} yet: record with `lookout exec` or `lookout serve`, or set \
             TELEMETRY_BASE_DIR",
            db.display()
        )));
    }
    lookout::store::open_reader(db).map_err(|e| read_error(db, e))
}

/// `read` on a fleet's PostgreSQL database at `url`, on a thread of its own (its client
/// blocks, and the command's thread may run async work); a URL that is not
/// PostgreSQL's is invalid input, a database that cannot be reached a store error.
fn on_fleet<T: Send>(
    url: &str,
    read: impl FnOnce(&mut lookout::store::postgres::Reader) -> Result<T, CliError> + Send,
) -> Result<T, CliError> {
    use lookout::store::postgres::{Reader, describe};
    let place = describe(url).map_err(CliError::InvalidInput)?;
    let unreadable = |e: String| CliError::Store(format!("cannot read {place}: {e}"));
    let run = || read(&mut Reader::connect(url).map_err(unreadable)?);
    std::thread::scope(|s| s.spawn(run).join())
        .unwrap_or_else(|_| Err(unreadable("the read did not finish".into())))
}

/// A fleet's database that could not be read, said with the server's message.
fn fleet_error(error: lookout::store::postgres::PostgresError) -> CliError {
    let error = lookout::store::postgres::error_text(&error);
    CliError::Store(format!("cannot read the fleet's database: {error}"))
}

/// A store that cannot be read, said with its file.
fn read_error(db: &std::path::Path, error: lookout::store::rusqlite::Error) -> CliError {
    CliError::Store(format!("cannot read {}: {error}", db.display()))
}

/// Exporter settings for a command's telemetry: its exporters run on the command's runtime
/// instead of starting threads of their own.
fn exporters_on_this_runtime() -> PipelineBuilder {
    PipelineBuilder::new().runtime(tokio::runtime::Handle::current())
}

/// `1.25 s`, `340 ms`, `12 µs`.
pub(crate) fn human(duration: std::time::Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

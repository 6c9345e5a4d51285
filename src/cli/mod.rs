//! The `lookout` command line: flags in, a command run, an exit code out.

mod error;
#[cfg(unix)]
mod exec;
mod export;
mod metrics;
mod serve;

pub use error::CliError;

use clap::{Parser, Subcommand};

/// Lookout: telemetry for AI-agent systems.
#[derive(Debug, Parser)]
#[command(name = "lookout", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve /metrics, /health, /version and POST /export, and run the configured
    /// exporters, until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Print a running endpoint's metrics, readable (or raw with --raw).
    Metrics(metrics::MetricsArgs),
    /// Make a running Lookout export now; print what went where.
    Export(export::ExportArgs),
    /// Run a program as a sub-agent under a child span; exit with its exit code.
    #[cfg(unix)]
    Exec(exec::ExecArgs),
}

impl Cli {
    /// Runs the parsed command; returns the process exit code.
    pub fn run(self) -> Result<u8, CliError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(CliError::Runtime)?;
        runtime.block_on(async {
            match self.command {
                Command::Serve(args) => serve::run(args).await.map(|()| 0),
                Command::Metrics(args) => metrics::run(args).await.map(|()| 0),
                Command::Export(args) => export::run(args).await.map(|()| 0),
                #[cfg(unix)]
                Command::Exec(args) => exec::run(args).await,
            }
        })
    }
}

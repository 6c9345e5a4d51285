//! The raw command line, as clap parses it: global flags once, then one subcommand with
//! its own flags (defined beside the command, in `commands/`).

use crate::commands::{exec, export, metrics, serve};
use clap::{Parser, Subcommand};

/// Lookout: telemetry for AI-agent systems.
#[derive(Debug, Parser)]
#[command(name = "lookout", version, about)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command accepts; [`crate::settings::Settings`] resolves them.
#[derive(Debug, clap::Args)]
pub(crate) struct GlobalArgs {
    /// The running Lookout to talk to (`lookout serve`); a URL with a path is used as
    /// given.
    #[arg(
        long,
        global = true,
        env = "LOOKOUT_URL",
        value_name = "URL",
        default_value_t = format!("http://{}", lookout::config::DEFAULT_LISTEN)
    )]
    pub(crate) url: String,
    /// Print results as JSON, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Seconds to wait for an answer [default: 10; 30 for export].
    #[arg(long, global = true, value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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

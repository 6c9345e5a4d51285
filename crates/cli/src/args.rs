//! The raw command line, as clap parses it: global flags once, then one subcommand with
//! its own flags. Settings resolve the global ones; each command reads its own.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    Serve(ServeArgs),
    /// Print a running endpoint's metrics, readable (or raw with --raw).
    Metrics(MetricsArgs),
    /// Make a running Lookout export now; print what went where.
    Export,
    /// Run a program as a sub-agent under a child span; exit with its exit code.
    #[cfg(unix)]
    Exec(ExecArgs),
    /// List recent traces from the store, or show one as a tree with a waterfall.
    Traces(TracesArgs),
    /// List runs from the store (seed 002), show one, associate a commit, close stale ones.
    Runs(RunsArgs),
    /// Copy the store's database, consistently while agents write to it.
    Backup(BackupArgs),
    /// Replace the store's database with a backup that passes integrity_check.
    Restore(RestoreArgs),
}

/// `lookout serve` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: the config's prometheus block, else 127.0.0.1:9464].
    #[arg(long, env = "LOOKOUT_LISTEN")]
    pub(crate) listen: Option<SocketAddr>,
    /// Path serving the Prometheus exposition [default: the config's, else /metrics].
    #[arg(long)]
    pub(crate) path: Option<String>,
    /// Config file (seed 003 shape: prometheus, json, opentelemetry blocks); environment
    /// variables override it.
    #[arg(long, env = "LOOKOUT_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

/// `lookout metrics` flags, beside the global `--url`, `--json`, `--timeout`.
#[derive(Debug, clap::Args)]
pub(crate) struct MetricsArgs {
    /// Print the exposition text as received.
    #[arg(long)]
    pub(crate) raw: bool,
}

/// `lookout exec` flags.
#[cfg(unix)]
#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// The sub-agent's name: span `invoke_agent {name}`, label `agent_type`
    /// (default: the program's file name).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The orchestration phase label.
    #[arg(long, default_value = "exec")]
    pub(crate) phase: String,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) command: Vec<OsString>,
}

/// `lookout traces` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct TracesArgs {
    /// A trace id (or its first 8+ hex digits): show that trace as a tree.
    pub(crate) id: Option<String>,
    /// Only traces that started within this long (`30s`, `15m`, `2h`, `7d`).
    #[arg(long, value_parser = parse_age, value_name = "AGE")]
    pub(crate) since: Option<std::time::Duration>,
    /// Only traces whose root span's name contains this.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Only traces with (`error`) or without (`ok`) a failed span.
    #[arg(long, value_parser = ["ok", "error"])]
    pub(crate) status: Option<String>,
    /// At most this many traces, newest first.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
}

/// `lookout runs`: a list (with its filters) unless an action is named.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct RunsArgs {
    #[command(subcommand)]
    pub(crate) action: Option<RunsAction>,
    #[command(flatten)]
    pub(crate) list: RunListArgs,
}

/// `lookout runs` filters.
#[derive(Debug, clap::Args)]
pub(crate) struct RunListArgs {
    /// Only this agent's runs.
    #[arg(long)]
    pub(crate) agent: Option<String>,
    /// Only runs of this job type.
    #[arg(long)]
    pub(crate) job: Option<String>,
    /// Only runs with this status.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
        lookout::runs::RunStatus::ALL.map(lookout::runs::RunStatus::as_str)
    ))]
    pub(crate) status: Option<String>,
    /// Only runs that started within this long (`30s`, `15m`, `2h`, `7d`).
    #[arg(long, value_parser = parse_age, value_name = "AGE")]
    pub(crate) since: Option<std::time::Duration>,
    /// At most this many runs, newest first.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
}

/// What `lookout runs` does besides listing.
#[derive(Debug, Subcommand)]
pub(crate) enum RunsAction {
    /// Show a run: its fields, events, commit and repository URLs, and trace id.
    Show {
        /// The run's id (or its first characters).
        id: String,
    },
    /// Associate a git commit with a run, as seed 002's associate_commit.
    AssociateCommit {
        /// The run's id (or its first characters).
        id: String,
        /// The commit's hash: 7 to 40 hexadecimal digits (64 for SHA-256).
        hash: String,
        /// Who says so: manual, llm or ci.
        #[arg(long, default_value = "manual")]
        source: String,
        /// The commit's author (`Name <email>`).
        #[arg(long)]
        author: Option<String>,
    },
    /// Close runs left `running` by processes of this host that died, as `abandoned`.
    Cleanup,
}

/// `lookout backup` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct BackupArgs {
    /// Where to write the copy [default: {base}/backups/telemetry-{UTC time}.sqlite].
    #[arg(long, value_name = "FILE")]
    pub(crate) to: Option<PathBuf>,
}

/// `lookout restore` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The backup to restore.
    pub(crate) from: PathBuf,
}

/// `30s`, `15m`, `2h`, `7d`: a number and a unit.
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: write 30s, 15m, 2h or 7d"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{unit:?} is not a unit: use s, m, h or d")),
    };
    Ok(std::time::Duration::from_secs(
        number.saturating_mul(seconds),
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_age;
    use std::time::Duration;

    #[test]
    fn ages_have_a_unit() {
        assert_eq!(parse_age("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_age("15").is_err());
        assert!(parse_age("m").is_err());
        assert!(parse_age("3w").is_err());
    }
}

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
    /// The store (where, how big, what it holds, the latest failures) and whether a
    /// `lookout serve` answers at --url.
    Status,
    /// A metric from the store, bucketed over time: a table and a sparkline per series.
    Query(QueryArgs),
    /// A metric's summary (count, min, max, avg, p50, p95, p99) and a histogram.
    Stats(StatsArgs),
    /// Capture one skill execution (seed 000): SKILL INPUTS_JSON STATUS DURATION_MS
    /// [AGENT] [WORKFLOW] [CALLER]; prints seed 000's JSON response.
    Capture(CaptureArgs),
    /// Seed 001's analysis (success rate, durations, tool calls; per skill) of session
    /// files, telemetry.json files, a directory of them, or the store.
    Analyze(AnalyzeArgs),
    /// Eval tasks from sessions: `eval convert` writes seed 001's task YAML, one per file.
    #[command(subcommand)]
    Eval(EvalArgs),
    /// Record into the store from a shell: `record metric NAME VALUE`.
    #[command(subcommand)]
    Record(RecordArgs),
    /// Did a commit (or a time window) make a skill, agent or tool slower, costlier or
    /// flakier than another: per span name, with the numbers and whether it is noise.
    Diff(DiffArgs),
    /// Remove metrics, traces, events or all of them recorded until now, from the
    /// store's index and its log; asks first unless --yes.
    Clear(ClearArgs),
    /// Copy the store's database, consistently while agents write to it.
    Backup(BackupArgs),
    /// Replace the store's database with a backup that passes integrity_check.
    Restore(RestoreArgs),
}

/// `lookout capture` arguments, in seed 000's order (`""` for an optional one skipped).
#[derive(Debug, clap::Args)]
pub(crate) struct CaptureArgs {
    /// The skill's name (`workflow.validate`).
    pub(crate) skill: String,
    /// Its inputs, a JSON object (`'{"path": "test.yaml"}'`); secrets are redacted.
    pub(crate) inputs: String,
    /// `success`, `failed`, `timeout`, ...
    pub(crate) status: String,
    /// How long it took, in whole milliseconds.
    #[arg(allow_hyphen_values = true)]
    pub(crate) duration_ms: String,
    /// The agent that invoked it.
    pub(crate) agent: Option<String>,
    /// The workflow it ran in.
    pub(crate) workflow: Option<String>,
    /// Who called it (`cli`, `api`, `workflow`, `agent`).
    pub(crate) caller: Option<String>,
    /// The directory of telemetry.json [default: LOOKOUT_SKILLS_DIR, else registry/ in
    /// the store's directory].
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

/// `lookout analyze` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct AnalyzeArgs {
    /// A session file, a telemetry.json, or a directory of them [default: the store].
    pub(crate) path: Option<PathBuf>,
    /// Only this skill's sessions and entries.
    #[arg(long)]
    pub(crate) skill: Option<String>,
    /// Also write the figures as JSON to this file.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `lookout eval` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EvalArgs {
    /// Turn chosen sessions into seed 001's eval tasks (id, name, inputs with prompt and
    /// context, captured output and tool calls), one YAML file per task.
    Convert(ConvertArgs),
}

/// `lookout eval convert` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ConvertArgs {
    /// A session file or a directory of them [default: the store].
    pub(crate) path: Option<PathBuf>,
    /// Only sessions of this skill.
    #[arg(long)]
    pub(crate) skill: Option<String>,
    /// Only sessions that succeeded.
    #[arg(long, conflicts_with = "failed")]
    pub(crate) succeeded: bool,
    /// Only sessions that failed.
    #[arg(long)]
    pub(crate) failed: bool,
    /// Only sessions started at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) since: Option<std::time::SystemTime>,
    /// Only sessions started before this time (RFC 3339).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) until: Option<std::time::SystemTime>,
    /// Where the task files go.
    #[arg(long = "out", value_name = "DIR", default_value = "tasks")]
    pub(crate) out: PathBuf,
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
    /// Requests must carry `Authorization: Bearer TOKEN` (all but GET /health); required
    /// to listen on an address other than loopback.
    #[arg(long, env = "LOOKOUT_API_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Listen on a non-loopback address without a token (anyone who reaches the port can
    /// write to the store).
    #[arg(long)]
    pub(crate) no_auth: bool,
    /// An origin a browser may call the API from (repeatable); none: CORS off.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub(crate) cors_origins: Vec<String>,
    /// Also serve the API (OTLP/HTTP `/v1/traces` and `/v1/metrics` among it) on this
    /// address, OTLP's conventional port being 127.0.0.1:4318.
    #[arg(long, value_name = "ADDR")]
    pub(crate) otlp_http: Option<SocketAddr>,
    /// Serve OTLP/gRPC traces and metrics on this address (conventionally 127.0.0.1:4317).
    #[arg(long, value_name = "ADDR")]
    pub(crate) otlp_grpc: Option<SocketAddr>,
    /// Also keep the store's tables in this PostgreSQL database, filled from the log: a
    /// fleet's shared index (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`).
    #[arg(
        long = "store",
        env = "LOOKOUT_POSTGRES_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) store_url: Option<String>,
    /// The largest request body accepted, decompressed, in bytes.
    #[arg(long, default_value_t = crate::api::DEFAULT_BODY_LIMIT, value_name = "BYTES")]
    pub(crate) max_body: usize,
    /// Connections served at once; more wait.
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_connections: usize,
    /// How long a client may take to send a request's head, and a whole request (body
    /// included), before it is cut off.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub(crate) request_timeout: std::time::Duration,
    /// Also run a simulated agent orchestrator (runs, sessions, skills, agent, model and
    /// tool spans) recording into this daemon, for the page at `/`: its store a new
    /// directory unless one is configured, its metrics exported every 5 s at least.
    #[arg(long)]
    pub(crate) demo: bool,
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
    #[command(flatten)]
    pub(crate) fleet: FleetArgs,
}

/// Where a read command reads: the local store, or a fleet's database.
#[derive(Debug, clap::Args)]
pub(crate) struct FleetArgs {
    /// Read a fleet's PostgreSQL database (what `lookout serve --store` fills) instead of
    /// the local store. (Not taken from `LOOKOUT_POSTGRES_URL`: a daemon's machine reads
    /// its own store unless asked.)
    #[arg(long = "store", value_name = "URL")]
    pub(crate) store_url: Option<String>,
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
    #[command(flatten)]
    pub(crate) fleet: FleetArgs,
}

/// What `lookout runs` does besides listing.
#[derive(Debug, Subcommand)]
pub(crate) enum RunsAction {
    /// Show a run: its fields, events, commit and repository URLs, and trace id.
    Show {
        /// The run's id (or its first characters).
        id: String,
        #[command(flatten)]
        fleet: FleetArgs,
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

/// Which series and when, for `query` and `stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct SeriesArgs {
    /// The metric, as stored: counters end in `_total`; histograms are `_count`, `_sum`
    /// and `_bucket`.
    pub(crate) name: String,
    /// Only series with these labels (`k=v,k2=v2`).
    #[arg(long, value_parser = parse_labels, value_name = "K=V,..")]
    pub(crate) labels: Option<LabelSet>,
    /// The last this long (`30s`, `15m`, `2h`, `7d`) [default: 1h].
    #[arg(long, value_parser = parse_age, value_name = "AGE", conflicts_with_all = ["from", "until"])]
    pub(crate) since: Option<std::time::Duration>,
    /// From this time (RFC 3339 in UTC, `2026-12-01T10:00:00Z`).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) from: Option<std::time::SystemTime>,
    /// Until this time (RFC 3339) [default: now].
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) until: Option<std::time::SystemTime>,
}

/// `lookout query` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) series: SeriesArgs,
    /// How a bucket's points become its value: avg, sum, min, max, count, p50, p95, p99
    /// (any pN).
    #[arg(long, default_value = "avg", value_name = "AGG")]
    pub(crate) agg: String,
    /// The bucket width.
    #[arg(long, value_parser = parse_age, default_value = "5m", value_name = "AGE")]
    pub(crate) interval: std::time::Duration,
    /// What to read: the per-minute and per-hour rollups when the range and interval
    /// are whole minutes (auto), the points themselves (exact percentiles, 30 days), or
    /// the rollups only (percentiles within 1%, 90 days).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) source: QuerySource,
    #[command(flatten)]
    pub(crate) fleet: FleetArgs,
}

/// `lookout query --source`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum QuerySource {
    /// Rollups where the range and interval are whole minutes, points otherwise.
    Auto,
    /// The points.
    Points,
    /// The rollups.
    Rollups,
}

/// `lookout diff` flags: two commits, or two windows.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("sides").required(true).args(["commit", "from"])))]
pub(crate) struct DiffArgs {
    /// The commit asked about (a hash or a prefix): the traces of its runs.
    #[arg(
        long,
        requires = "against",
        conflicts_with = "from",
        value_name = "HASH"
    )]
    pub(crate) commit: Option<String>,
    /// The baseline commit.
    #[arg(long, value_name = "HASH")]
    pub(crate) against: Option<String>,
    /// The window asked about, from (RFC 3339) ...
    #[arg(long, value_parser = parse_time, requires_all = ["until", "against_from", "against_until"], value_name = "TIME")]
    pub(crate) from: Option<std::time::SystemTime>,
    /// ... until.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) until: Option<std::time::SystemTime>,
    /// The baseline window, from ...
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) against_from: Option<std::time::SystemTime>,
    /// ... until.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(crate) against_until: Option<std::time::SystemTime>,
    /// Only span names containing this (`grep`, `invoke_agent coder`).
    #[arg(long)]
    pub(crate) name: Option<String>,
}

/// `lookout clear` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct ClearArgs {
    /// What to clear: metrics (points and rollups), traces (spans), events (runs,
    /// bridge events and every other record), or all.
    #[arg(value_parser = parse_clear)]
    pub(crate) what: lookout::store::clear::Clear,
    /// Clear without asking.
    #[arg(long, short)]
    pub(crate) yes: bool,
}

fn parse_clear(text: &str) -> Result<lookout::store::clear::Clear, String> {
    text.parse()
}

/// `lookout stats` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) series: SeriesArgs,
}

/// What `lookout record` records.
#[derive(Debug, Subcommand)]
pub(crate) enum RecordArgs {
    /// A metric point: NAME VALUE (a number or text), or `-` to read NDJSON lines
    /// `{"name", "value", "labels", "time"}` from stdin.
    Metric {
        /// The metric's name, or `-` for NDJSON on stdin.
        name: String,
        /// The value.
        value: Option<String>,
        /// A label (`k=v`), repeatable.
        #[arg(long = "label", value_parser = parse_label, value_name = "K=V")]
        labels: Vec<(String, String)>,
        /// When (RFC 3339) [default: now].
        #[arg(long, value_parser = parse_time, value_name = "TIME")]
        time: Option<std::time::SystemTime>,
    },
    /// A bridge event (seed 004's record_event): TYPE --source S [--data JSON], or `-` to
    /// read whole events as NDJSON lines from stdin.
    Event {
        /// The event type (COMMAND, OPERATION, METRIC, ...), or `-` for NDJSON on stdin.
        event_type: String,
        /// Where it comes from.
        #[arg(long)]
        source: Option<String>,
        /// Its data, a JSON object.
        #[arg(long, default_value = "{}")]
        data: String,
        /// When (RFC 3339) [default: now].
        #[arg(long, value_name = "TIME")]
        timestamp: Option<String>,
        /// Its id [default: a new UUIDv7].
        #[arg(long)]
        id: Option<String>,
    },
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

/// `k=v`.
pub(crate) fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not k=v"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("{text:?} has no label name"));
    }
    Ok((key.to_owned(), value.trim().to_owned()))
}

/// Label pairs given together (`--labels k=v,k2=v2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSet(pub(crate) Vec<(String, String)>);

/// `k=v,k2=v2`.
fn parse_labels(text: &str) -> Result<LabelSet, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(parse_label)
        .collect::<Result<_, _>>()
        .map(LabelSet)
}

/// An RFC 3339 time in UTC (`2026-12-01T10:00:00Z`, fractions allowed).
pub(crate) fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(text.trim())
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2026-12-01T10:00:00Z: {e}"))
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

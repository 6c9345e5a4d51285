//! Errors a command ends with, each with a stable code and exit status.

use crate::client::ClientError;
use lookout::pipeline::StartError;
use lookout::runs::RunError;
use lookout_query::bridge::{BridgeError, ErrorCode};

/// A refusal of seed 004's API: its message, then each validation error on a line when
/// there are several.
fn bridge_message(error: &BridgeError) -> String {
    let mut message = error.message.clone();
    let problems = error.details["validation_errors"].as_array();
    // A single problem is in the message already.
    for problem in problems.filter(|all| all.len() > 1).into_iter().flatten() {
        message.push_str(&format!("\n  - {}", problem.as_str().unwrap_or_default()));
    }
    message
}
use std::net::SocketAddr;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source} (choose another address with --listen)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The endpoint could not be reached or read.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The endpoint answered with an error status.
    #[error("{url} answered {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status received.
        status: http::StatusCode,
    },
    /// The endpoint's answer is not exposition text.
    #[error("{url} did not return Prometheus text: {reason}")]
    Exposition {
        /// The URL fetched.
        url: String,
        /// What could not be read.
        reason: String,
    },
    /// `lookout exec` could not start the program.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program asked for.
        program: String,
        /// Why it could not start.
        source: std::io::Error,
        /// The exit code reported, as a shell would: 127 not found, 126 not runnable.
        code: u8,
    },
    /// An exporter did not deliver everything (`lookout export`).
    #[error("not everything was exported (see the table above), from {url}")]
    Export {
        /// The endpoint asked.
        url: String,
    },
    /// The config file or environment is invalid.
    #[error("{0}")]
    Config(#[from] lookout::config::ConfigError),
    /// The exporters could not start.
    #[error("{0}")]
    Telemetry(#[from] lookout::BuildError),
    /// There is no store to read, or it cannot be read.
    #[error("{0}")]
    Store(String),
    /// The store has nothing with this id (`trace ID`, `run ID`).
    #[error("no {0} in the store")]
    NotFound(String),
    /// More than one trace or run starts with this.
    #[error("{prefix} names more than one {what} ({examples}, ...): give more characters")]
    Ambiguous {
        /// `trace` or `run`.
        what: &'static str,
        /// What was given.
        prefix: String,
        /// Two of those it names.
        examples: String,
    },
    /// Not an aggregation `query` knows.
    #[error(
        "{0:?} is not an aggregation: use avg, sum, min, max, count, p50, p95, p99 (or any pN)"
    )]
    InvalidAggregation(String),
    /// A query that cannot be answered.
    #[error("{0}")]
    Query(lookout_query::QueryError),
    /// Seed 004's record API refused (`record event`).
    #[error("{}", bridge_message(.0))]
    Bridge(lookout_query::bridge::BridgeError),
    /// Input that cannot be recorded (`record`).
    #[error("{0}")]
    InvalidInput(String),
    /// A commit cannot be associated with a run.
    #[error("{0}")]
    Run(#[from] lookout::runs::RunError),
    /// The async runtime or the server failed.
    #[error("runtime error: {0}")]
    Runtime(std::io::Error),
}

impl CliError {
    /// A stable code for scripts and docs.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            CliError::Bind { .. } => "E_BIND",
            CliError::Client(ClientError::InvalidUrl { .. }) => "E_URL",
            CliError::Client(_) => "E_CONNECT",
            CliError::Status { .. } => "E_STATUS",
            CliError::Exposition { .. } => "E_EXPOSITION",
            CliError::Spawn { .. } => "E_SPAWN",
            CliError::Export { .. } => "E_EXPORT",
            CliError::Config(error) => error.code(),
            CliError::Telemetry(lookout::BuildError::Config(error)) => error.code(),
            CliError::Telemetry(lookout::BuildError::Pipeline(StartError::Exporter { .. })) => {
                "E_EXPORTER"
            }
            CliError::Telemetry(_) => "E_TELEMETRY",
            CliError::Store(_) => "E_STORE",
            CliError::NotFound(_) => "E_NOT_FOUND",
            CliError::Ambiguous { .. } => "E_AMBIGUOUS",
            CliError::InvalidAggregation(_) => "INVALID_AGGREGATION",
            CliError::Query(lookout_query::QueryError::Store(_)) => "RETRIEVAL_FAILURE",
            CliError::Query(_) => "E_QUERY",
            CliError::InvalidInput(_) => "E_INVALID",
            CliError::Bridge(error) => error.code.as_str(),
            CliError::Run(RunError::Hash(_)) => "E_COMMIT_HASH",
            CliError::Run(RunError::Source(_)) => "E_COMMIT_SOURCE",
            CliError::Run(RunError::UnknownRun(_)) => "E_NOT_FOUND",
            CliError::Run(_) => "E_STORE",
            CliError::Runtime(_) => "E_RUNTIME",
        }
    }

    /// The process exit status: 2 for bad input, 126/127 when `exec` cannot start its
    /// program, 1 for everything else.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Client(ClientError::InvalidUrl { .. }) => 2,
            CliError::Config(_) | CliError::Telemetry(lookout::BuildError::Config(_)) => 2,
            CliError::Telemetry(lookout::BuildError::Pipeline(StartError::Exporter { .. })) => 2,
            CliError::Spawn { code, .. } => *code,
            CliError::Ambiguous { .. } => 2,
            CliError::Run(RunError::Hash(_) | RunError::Source(_)) => 2,
            CliError::InvalidAggregation(_) | CliError::InvalidInput(_) => 2,
            CliError::Bridge(error) if error.code == ErrorCode::InvalidEvent => 2,
            CliError::Query(lookout_query::QueryError::Store(_)) => 1,
            CliError::Query(_) => 2,
            _ => 1,
        }
    }
}

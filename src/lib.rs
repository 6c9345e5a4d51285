//! Lookout: the telemetry engine for AI-agent systems.
//!
//! Record what agents do (executions, tool calls, tokens, context usage, errors, tasks)
//! into labelled counters, gauges and HDR histograms whose hot path costs nanoseconds,
//! and serve them to Prometheus.
//!
//! ```
//! use lookout::agent::{AgentExecution, ToolCall};
//! use lookout::Telemetry;
//! use std::time::Duration;
//!
//! let telemetry = Telemetry::new();
//! let agents = telemetry.agents();
//! agents.track_agent_execution(&AgentExecution {
//!     agent_id: "coder-123",
//!     agent_type: "coder",
//!     phase: "code",
//!     model: "claude-sonnet",
//!     duration: Duration::from_millis(5000),
//!     tokens: 1500,
//!     success: true,
//! });
//! agents.track_tool_usage(&ToolCall { tool: "Read", duration: Duration::from_millis(250), error: None });
//!
//! // Custom families live in the same registry.
//! let retries = telemetry
//!     .registry()
//!     .counter(lookout::metrics::Descriptor::new("llm_retries_total", "LLM call retries.").labels(["model"]))
//!     .unwrap();
//! retries.inc(&["claude-sonnet"]);
//!
//! let text = telemetry.prometheus_text();
//! assert!(text.contains("agent_execution_total{agent_type=\"coder\",phase=\"code\",status=\"success\"} 1"));
//! assert!(text.contains("agent_tokens_used_total{agent_type=\"coder\",model=\"claude-sonnet\"} 1500"));
//! assert!(text.contains("llm_retries_total{model=\"claude-sonnet\"} 1"));
//! ```
//!
//! Serve it with [`server::ServerHandle::start`] (its own thread) or [`server::serve`]
//! (your tokio runtime); `lookout serve` does the same from the command line.
//!
//! Features (all default): `prometheus` (the exposition), `server` (the HTTP endpoint),
//! `otlp` (OTLP export); `store` adds the durable local store (NDJSON log + SQLite),
//! `tracing` a `tracing-subscriber` layer. The `lookout`
//! command is the `lookout-cli` package: an agent embedding this crate compiles none of it.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod agent;
pub mod config;
pub mod metrics;
pub mod pipeline;
pub mod redact;
#[cfg(feature = "store")]
pub mod runs;
#[cfg(feature = "server")]
pub mod server;
pub mod sessions;
pub mod skills;
mod telemetry;
pub mod trace;

pub use telemetry::{BuildError, Telemetry, TelemetryBuilder};

/// Times every call of a function as a skill execution (seed 000's decorator): its
/// duration, `success` or `failed` (an `Err` return or a panic) and its arguments' count
/// and names, never their values, into [`skills::Skills::global`].
///
/// ```
/// #[lookout::skill(name = "report.render", caller = "cli")]
/// fn render(title: &str, pages: u32) -> Result<String, String> {
///     if pages == 0 {
///         return Err("no pages".into());
///     }
///     Ok(format!("{title}: {pages} pages"))
/// }
///
/// let dir = tempfile::tempdir().unwrap();
/// lookout::skills::Skills::file_only(Some(dir.path())).install();
/// assert_eq!(render("Q3", 12).as_deref(), Ok("Q3: 12 pages"));
/// assert!(render("Q4", 0).is_err());
///
/// let entries = lookout::skills::Skills::global().file().unwrap().read_entries().unwrap();
/// assert_eq!(entries[0]["skill"], "report.render");
/// assert_eq!(entries[0]["inputs"], serde_json::json!({"arg_count": 2, "arg_names": ["title", "pages"]}));
/// assert_eq!((entries[0]["status"].as_str(), entries[1]["status"].as_str()), (Some("success"), Some("failed")));
/// ```
#[cfg(feature = "macros")]
pub use lookout_macros::skill;

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The durable local store (the `lookout-store` crate, feature `store`).
#[cfg(feature = "store")]
pub use lookout_store as store;

/// JSON exports: rotating files and the span log (the `lookout-exporter-json` crate).
pub use lookout_exporter_json as json;

/// Prometheus text and OpenMetrics exposition (the `lookout-exporter-prometheus` crate).
#[cfg(feature = "prometheus")]
pub use lookout_exporter_prometheus as prometheus;

//! Skill captures (seed 000): one entry per skill execution, with its inputs redacted
//! ([`crate::redact`]) before anything keeps them. An entry is a span (`skill {name}`),
//! counts in the skill families (`skill_executions_total`, `skill_duration_seconds`,
//! `skill_workflow_executions_total`), a `skill_entry` record in the store, and a line of
//! seed 000's `telemetry.json` ([`TelemetryFile`]) with its weekly archives.
//!
//! ```
//! use lookout::Telemetry;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = lookout::config::Config::default()
//!     .with_env(&lookout::config::env_map(&[("LOOKOUT_SKILLS_DIR", dir.path().to_str().unwrap())]))
//!     .unwrap();
//! let telemetry = Telemetry::builder().config(config).build().unwrap();
//! let skills = telemetry.skills();
//!
//! // After the fact, as seed 000's command line does.
//! let entry = skills
//!     .create_entry("workflow.validate", r#"{"path": "test.yaml", "token": "s3cr3t"}"#, "success", "150",
//!                   [None, None, Some("cli")])
//!     .unwrap();
//! let captured = skills.capture(&entry).unwrap();
//! assert_eq!(captured.total_entries, Some(1));
//! assert_eq!(captured.entry["inputs"]["token"], "[REDACTED]");
//!
//! // Timed: `failed` on `Err` or panic.
//! let parsed: Result<u32, std::num::ParseIntError> = skills.time("config.parse", || "42".parse());
//! assert_eq!(parsed, Ok(42));
//!
//! let file: serde_json::Value =
//!     serde_json::from_slice(&std::fs::read(dir.path().join("telemetry.json")).unwrap()).unwrap();
//! assert_eq!(file[1]["skill"], "config.parse");
//! assert!(telemetry.prometheus_text().contains(
//!     "skill_executions_total{skill=\"workflow.validate\",status=\"success\",caller=\"cli\"} 1"));
//! ```

mod archive;
mod call;
mod capture;
mod entry;
mod files;
mod lines;
mod metrics;
mod telemetry_file;

pub use archive::archive_path;
pub use call::{InCall, SkillCall};
pub use capture::{
    CaptureError, Captured, SKILL_CALLER, SKILL_INPUTS, SKILL_NAME, SKILL_STATUS, SKILL_WORKFLOW,
    Skills,
};
pub use entry::{EntryError, SkillEntry, create_entry, is_success};
pub use telemetry_file::{ARCHIVE_DIR, Appended, Clock, FILE_NAME, Rotation, TelemetryFile};

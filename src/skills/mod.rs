//! Skill captures (seed 000): one entry per skill execution, with its inputs redacted
//! ([`crate::redact`]) before anything keeps them, appended to seed 000's
//! `telemetry.json` ([`TelemetryFile`]) with its weekly archives.

mod archive;
mod entry;
mod telemetry_file;

pub use archive::archive_path;
pub use entry::{EntryError, SkillEntry, create_entry};
pub use telemetry_file::{ARCHIVE_DIR, Appended, Clock, FILE_NAME, Rotation, TelemetryFile};

//! Skill captures (seed 000): one entry per skill execution, with its inputs redacted
//! ([`crate::redact`]) before anything keeps them.

mod entry;

pub use entry::{EntryError, SkillEntry, create_entry};

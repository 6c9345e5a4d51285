//! Seed 000's telemetry entry: what one skill execution was, validated as the seed's
//! `create_telemetry_entry` does, in the seed's JSON shape.

use crate::redact::Redactor;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// One skill execution.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SkillEntry {
    /// When it ran.
    pub timestamp: SystemTime,
    /// The skill (`workflow.compose`).
    pub skill: String,
    /// Its inputs, redacted.
    pub inputs: Map<String, Value>,
    /// `success`, `failed`, `timeout`, ...
    pub status: String,
    /// How long it took.
    pub duration_ms: u64,
    /// The agent that invoked it.
    pub agent: Option<String>,
    /// The workflow it ran in.
    pub workflow: Option<String>,
    /// Who called it (`cli`, `api`, `workflow`, `agent`).
    pub caller: Option<String>,
}

/// Why an entry cannot be made; each its own message, as the seed words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The skill's name is empty.
    #[error("Skill name must not be empty")]
    EmptySkill,
    /// The inputs are not a JSON object.
    #[error("Invalid inputs JSON: {0}")]
    InvalidInputs(String),
    /// The status is empty.
    #[error("Status must not be empty")]
    EmptyStatus,
    /// The duration is negative (or not a whole number of milliseconds).
    #[error("Duration must be a non-negative integer of milliseconds, got {0}")]
    InvalidDuration(String),
}

/// Whether an entry's status means it succeeded (`success`, also `succeeded` and `ok`):
/// its span's status and the analysis' success rate read it so.
pub fn is_success(status: &str) -> bool {
    matches!(status, "success" | "succeeded" | "ok")
}

/// Seed 000's `create_telemetry_entry`: `inputs` is JSON text of an object (redacted by
/// `redactor`), `duration_ms` the text or number given; empty optional fields are none.
pub fn create_entry(
    skill: &str,
    inputs: &str,
    status: &str,
    duration_ms: &str,
    context: [Option<&str>; 3],
    redactor: &Redactor,
) -> Result<SkillEntry, EntryError> {
    let skill = skill.trim();
    if skill.is_empty() {
        return Err(EntryError::EmptySkill);
    }
    let mut inputs: Value =
        serde_json::from_str(inputs).map_err(|e| EntryError::InvalidInputs(format!("{e}")))?;
    redactor.redact(&mut inputs);
    let Value::Object(inputs) = inputs else {
        return Err(EntryError::InvalidInputs(
            "inputs must be a JSON object".into(),
        ));
    };
    let status = status.trim();
    if status.is_empty() {
        return Err(EntryError::EmptyStatus);
    }
    let duration_ms = duration_ms
        .trim()
        .parse::<u64>()
        .map_err(|_| EntryError::InvalidDuration(duration_ms.to_owned()))?;
    let given = |field: Option<&str>| {
        field
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let [agent, workflow, caller] = context;
    Ok(SkillEntry {
        timestamp: SystemTime::now(),
        skill: skill.to_owned(),
        inputs,
        status: status.to_owned(),
        duration_ms,
        agent: given(agent),
        workflow: given(workflow),
        caller: given(caller),
    })
}

impl SkillEntry {
    /// The seed's JSON: `timestamp` (RFC 3339, milliseconds, UTC), `skill`, `inputs`,
    /// `status`, `duration_ms`, then `agent`, `workflow` and `caller` when given.
    pub fn to_json(&self) -> Value {
        let mut entry = json!({
            "timestamp": lookout_exporter_json::rfc3339(self.timestamp),
            "skill": self.skill,
            "inputs": self.inputs,
            "status": self.status,
            "duration_ms": self.duration_ms,
        });
        for (key, value) in [
            ("agent", &self.agent),
            ("workflow", &self.workflow),
            ("caller", &self.caller),
        ] {
            if let Some(value) = value {
                entry[key] = json!(value);
            }
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(skill: &str, inputs: &str, status: &str, ms: &str) -> Result<SkillEntry, EntryError> {
        create_entry(
            skill,
            inputs,
            status,
            ms,
            [None, None, None],
            &Redactor::default(),
        )
    }

    #[test]
    fn the_seeds_examples_make_its_entries() {
        let e = create_entry(
            "agent.define",
            r#"{"name": "test-agent", "mode": "iterative"}"#,
            "success",
            "3200",
            [
                Some("meta-orchestrator"),
                Some("agent-creation-workflow"),
                Some("api"),
            ],
            &Redactor::default(),
        )
        .unwrap();
        let json = e.to_json();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "skill",
                "inputs",
                "status",
                "duration_ms",
                "agent",
                "workflow",
                "caller"
            ]
        );
        assert_eq!(json["duration_ms"], 3200);
        assert_eq!(json["inputs"]["mode"], "iterative");
        assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
        // Empty optional fields (the seed's "" placeholders) are left out.
        let e = create_entry(
            "skill.create",
            r#"{"name": "new.skill"}"#,
            "success",
            "2500",
            [Some("skill-generator"), Some(""), Some("cli")],
            &Redactor::default(),
        )
        .unwrap();
        assert!(e.to_json().get("workflow").is_none());
        assert_eq!(e.to_json()["caller"], "cli");
    }

    #[test]
    fn bad_input_is_each_its_own_error_and_inputs_are_redacted() {
        assert_eq!(
            entry(" ", "{}", "success", "1"),
            Err(EntryError::EmptySkill)
        );
        let invalid = entry("s", "not a valid json", "success", "1").unwrap_err();
        assert!(
            invalid.to_string().starts_with("Invalid inputs JSON: "),
            "{invalid}"
        );
        assert!(matches!(
            entry("s", "[1]", "success", "1"),
            Err(EntryError::InvalidInputs(_))
        ));
        assert_eq!(entry("s", "{}", "", "1"), Err(EntryError::EmptyStatus));
        assert!(matches!(
            entry("s", "{}", "ok", "-5"),
            Err(EntryError::InvalidDuration(_))
        ));
        assert!(matches!(
            entry("s", "{}", "ok", "1.5"),
            Err(EntryError::InvalidDuration(_))
        ));
        let e = entry(
            "db.connect",
            r#"{"host": "db", "password": "hunter2"}"#,
            "ok",
            "3",
        )
        .unwrap();
        assert_eq!(e.inputs["password"], crate::redact::REDACTED);
        assert_eq!(e.inputs["host"], "db");
    }
}

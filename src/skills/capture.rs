//! Where a skill entry goes once made: a span (`skill {name}`), the skill families, a
//! `skill_entry` record in the store (feature `store`), and seed 000's `telemetry.json`.

use super::entry::{EntryError, SkillEntry, create_entry, is_success};
use super::metrics::SkillFamilies;
use super::telemetry_file::TelemetryFile;
use crate::metrics::{MetricError, Registry};
use crate::redact::Redactor;
use crate::trace::{Span, Status, Tracer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Span attribute: the skill's name.
pub const SKILL_NAME: &str = "lookout.skill.name";
/// Span attribute: the entry's status (`success`, `failed`, `timeout`, ...).
pub const SKILL_STATUS: &str = "lookout.skill.status";
/// Span attribute: who called the skill.
pub const SKILL_CALLER: &str = "lookout.skill.caller";
/// Span attribute: the workflow the skill ran in.
pub const SKILL_WORKFLOW: &str = "lookout.skill.workflow";
/// Span attribute: the skill's redacted inputs, as JSON text.
pub const SKILL_INPUTS: &str = "lookout.skill.inputs";

/// Captures skill entries. Cloning is cheap and shares everything.
#[derive(Debug, Clone)]
pub struct Skills {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tracer: Tracer,
    families: SkillFamilies,
    redactor: Redactor,
    file: Option<TelemetryFile>,
    #[cfg(feature = "store")]
    store: Option<lookout_store::Store>,
}

/// What a capture kept: seed 000's `details`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Captured {
    /// The entry as stored (`telemetry_entry`).
    pub entry: Value,
    /// The `telemetry.json` it was appended to, if one is configured.
    pub path: Option<PathBuf>,
    /// Entries in that file now (`total_entries`).
    pub total_entries: Option<u64>,
}

/// Why a capture failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The entry is invalid (seed 000's `ValueError`).
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// `telemetry.json` could not be written (seed 000's `OSError`); the span, the metrics
    /// and the store record were kept.
    #[error("cannot write {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl CaptureError {
    /// The seed's error type: `ValueError` for a bad entry, `OSError` for the file.
    pub fn error_type(&self) -> &'static str {
        match self {
            CaptureError::Entry(_) => "ValueError",
            CaptureError::File { .. } => "OSError",
        }
    }
}

impl Skills {
    /// Skills recording into `registry` and `tracer`, inputs redacted by `redactor`,
    /// appending to `telemetry.json` in `dir` when given.
    pub(crate) fn new(
        registry: &Registry,
        tracer: Tracer,
        redactor: Redactor,
        dir: Option<&Path>,
        #[cfg(feature = "store")] store: Option<lookout_store::Store>,
    ) -> Result<Skills, MetricError> {
        Ok(Skills {
            inner: Arc::new(Inner {
                tracer,
                families: SkillFamilies::register(registry)?,
                redactor,
                file: dir.map(TelemetryFile::new),
                #[cfg(feature = "store")]
                store,
            }),
        })
    }

    /// Skills that only append to `telemetry.json` in `dir` (spans and metrics go
    /// nowhere): what `#[lookout::skill]` uses until [`Skills::install`] is called.
    pub fn file_only(dir: Option<&Path>) -> Skills {
        let registry = Registry::new();
        Skills::new(
            &registry,
            Tracer::builder().build(),
            Redactor::default(),
            dir,
            #[cfg(feature = "store")]
            None,
        )
        .expect("the skill families are constants, valid by construction (see tests)")
    }

    /// The `telemetry.json` entries are appended to, if any.
    pub fn file(&self) -> Option<&TelemetryFile> {
        self.inner.file.as_ref()
    }

    /// The tracer its spans go to.
    pub(super) fn tracer(&self) -> &Tracer {
        &self.inner.tracer
    }

    /// How inputs are redacted.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// Seed 000's `create_telemetry_entry` with this handle's redaction: `inputs` is JSON
    /// text of an object, `duration_ms` text of a whole number; empty context fields are
    /// none.
    pub fn create_entry(
        &self,
        skill: &str,
        inputs: &str,
        status: &str,
        duration_ms: &str,
        context: [Option<&str>; 3],
    ) -> Result<SkillEntry, EntryError> {
        create_entry(
            skill,
            inputs,
            status,
            duration_ms,
            context,
            &self.inner.redactor,
        )
    }

    /// Seed 000's `capture_telemetry`: records an entry that already happened (it ended
    /// at its timestamp and lasted its duration) as a span, in the families, in the
    /// store and in `telemetry.json`.
    pub fn capture(&self, entry: &SkillEntry) -> Result<Captured, CaptureError> {
        let duration = Duration::from_millis(entry.duration_ms);
        let start = entry
            .timestamp
            .checked_sub(duration)
            .unwrap_or(entry.timestamp);
        let span = self
            .inner
            .tracer
            .span(format!("skill {}", entry.skill))
            .start_time(start)
            .start();
        self.keep(entry, span)
    }

    /// Keeps `entry` everywhere it goes, ending `span` (already started) at its time.
    pub(super) fn keep(
        &self,
        entry: &SkillEntry,
        mut span: Span,
    ) -> Result<Captured, CaptureError> {
        let json = entry.to_json();
        let context = [
            entry.agent.as_deref(),
            entry.workflow.as_deref(),
            entry.caller.as_deref(),
        ];
        span.set_attribute(SKILL_NAME, entry.skill.clone());
        span.set_attribute(SKILL_STATUS, entry.status.clone());
        for (key, value) in [
            (crate::agent::semconv::AGENT_NAME, context[0]),
            (SKILL_WORKFLOW, context[1]),
            (SKILL_CALLER, context[2]),
        ] {
            if let Some(value) = value {
                span.set_attribute(key, value.to_owned());
            }
        }
        span.set_attribute(
            SKILL_INPUTS,
            Value::Object(entry.inputs.clone()).to_string(),
        );
        span.set_status(if is_success(&entry.status) {
            Status::Ok
        } else {
            Status::Error(entry.status.clone().into())
        });
        #[cfg(feature = "store")]
        self.store_record(entry, &json, span.context());
        span.end_at(entry.timestamp);
        self.inner.families.observe(
            &entry.skill,
            &entry.status,
            Duration::from_millis(entry.duration_ms),
            context,
        );
        let Some(file) = &self.inner.file else {
            return Ok(Captured {
                entry: json,
                path: None,
                total_entries: None,
            });
        };
        match file.append(&json) {
            Ok(appended) => Ok(Captured {
                entry: json,
                path: Some(file.path().to_owned()),
                total_entries: Some(appended.total_entries),
            }),
            Err(source) => {
                self.inner.families.capture_failures.inc(&["io"]);
                Err(CaptureError::File {
                    path: file.path().to_owned(),
                    source,
                })
            }
        }
    }

    /// The entry as a `skill_entry` record, under an id made of its span's (a replay of
    /// the log stores it once).
    #[cfg(feature = "store")]
    fn store_record(&self, entry: &SkillEntry, json: &Value, span: &crate::trace::SpanContext) {
        let Some(store) = &self.inner.store else {
            return;
        };
        let mut body = json.clone();
        body["trace_id"] = Value::String(span.trace_id.to_string());
        body["span_id"] = Value::String(span.span_id.to_string());
        store.record(lookout_store::Record {
            event_id: format!("skill-{}{}", span.trace_id, span.span_id),
            kind: lookout_store::RecordKind::SkillEntry,
            time: entry.timestamp,
            body,
        });
    }
}

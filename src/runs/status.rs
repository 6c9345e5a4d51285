//! How a run ended, and the fields a run carries (seed 002's table).

use serde_json::{Map, Value, json};

/// A run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunStatus {
    /// Started, not ended.
    Running,
    /// Ended well.
    Success,
    /// Ended with an error, a panic, or dropped before it ended.
    Failed,
    /// Ended with some items failed.
    Partial,
    /// Stopped on purpose before it was done.
    Cancelled,
    /// Its process died before it ended (found by cleanup).
    Abandoned,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failed,
        RunStatus::Partial,
        RunStatus::Cancelled,
        RunStatus::Abandoned,
    ];

    /// The `status` column and label: `running`, `success`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Failed => "failed",
            RunStatus::Partial => "partial",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Abandoned => "abandoned",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a run reports beside its status: seed 002's fields, every one optional.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RunFields {
    /// Items found.
    pub items_discovered: Option<u64>,
    /// Items processed well.
    pub items_succeeded: Option<u64>,
    /// Items that failed.
    pub items_failed: Option<u64>,
    /// What went in.
    pub input_summary: Option<String>,
    /// What came out.
    pub output_summary: Option<String>,
    /// What went wrong.
    pub error_summary: Option<String>,
    /// Custom metrics, any JSON.
    pub metrics_json: Option<Value>,
    /// The insight the run came from.
    pub insight_id: Option<String>,
    /// The product it worked on.
    pub product: Option<String>,
    /// The platform it ran for.
    pub platform: Option<String>,
    /// The repository's URL.
    pub git_repo: Option<String>,
    /// The branch.
    pub git_branch: Option<String>,
    /// The commit the run produced (or started from).
    pub git_commit_hash: Option<String>,
    /// Who associated the commit: `manual`, `llm` or `ci`.
    pub git_commit_source: Option<String>,
    /// The commit's author.
    pub git_commit_author: Option<String>,
}

impl RunFields {
    /// The counts of items.
    pub fn items(mut self, discovered: u64, succeeded: u64, failed: u64) -> Self {
        self.items_discovered = Some(discovered);
        self.items_succeeded = Some(succeeded);
        self.items_failed = Some(failed);
        self
    }

    /// A commit's fields (validate the hash with [`super::git::validate_commit`] first);
    /// merged into a run, no author keeps the one it has.
    pub fn commit(hash: &str, source: &str, author: Option<&str>) -> Self {
        RunFields {
            git_commit_hash: Some(hash.to_owned()),
            git_commit_source: Some(source.to_owned()),
            git_commit_author: author.map(str::to_owned),
            ..RunFields::default()
        }
    }

    /// The error summary.
    pub fn error(mut self, summary: impl Into<String>) -> Self {
        self.error_summary = Some(summary.into());
        self
    }

    /// Sets the fields `other` has over these.
    pub fn merge(&mut self, other: RunFields) {
        macro_rules! take {
            ($($field:ident),*) => { $(if other.$field.is_some() { self.$field = other.$field; })* };
        }
        take!(
            items_discovered,
            items_succeeded,
            items_failed,
            input_summary,
            output_summary,
            error_summary,
            metrics_json,
            insight_id,
            product,
            platform,
            git_repo,
            git_branch,
            git_commit_hash,
            git_commit_source,
            git_commit_author
        );
    }

    /// The fields that are set, under seed 002's names; `metrics_json` as JSON text.
    pub(crate) fn write_json(&self, out: &mut Map<String, Value>) {
        let mut put = |key: &str, value: Value| {
            if !value.is_null() {
                out.insert(key.to_owned(), value);
            }
        };
        put("items_discovered", json!(self.items_discovered));
        put("items_succeeded", json!(self.items_succeeded));
        put("items_failed", json!(self.items_failed));
        put("input_summary", json!(self.input_summary));
        put("output_summary", json!(self.output_summary));
        put("error_summary", json!(self.error_summary));
        put(
            "metrics_json",
            json!(self.metrics_json.as_ref().map(Value::to_string)),
        );
        put("insight_id", json!(self.insight_id));
        put("product", json!(self.product));
        put("platform", json!(self.platform));
        put("git_repo", json!(self.git_repo));
        put("git_branch", json!(self.git_branch));
        put("git_commit_hash", json!(self.git_commit_hash));
        put("git_commit_source", json!(self.git_commit_source));
        put("git_commit_author", json!(self.git_commit_author));
    }
}

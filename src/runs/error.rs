//! Why a run operation failed.

/// Why a run operation (associating a commit, closing stale runs) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Not 7 to 40 (or 64) hexadecimal digits.
    #[error("{0:?} is not a commit hash: give 7 to 40 hexadecimal digits (64 for SHA-256)")]
    Hash(String),
    /// Not `manual`, `llm` or `ci`.
    #[error("{0:?} is not a commit source: use manual, llm or ci")]
    Source(String),
    /// No run has this id.
    #[error("no run {0}")]
    UnknownRun(String),
    /// The store cannot be read or has no run records.
    #[error("{0}")]
    Store(String),
}

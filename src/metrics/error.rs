//! The registry's typed errors.

/// Why a family could not be registered or a series could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// The metric name breaks Prometheus rules (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    #[error("invalid metric name {0:?}: use [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName(String),
    /// A label name breaks Prometheus rules or is reserved.
    #[error("invalid label name {name:?}: {reason}")]
    InvalidLabelName {
        /// The offending label name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The unit is not lowercase `[a-z0-9_]`, or the metric name does not end with it.
    #[error(
        "invalid unit {unit:?} for {name:?}: the unit is [a-z0-9_]+ and the name must end with _{unit}"
    )]
    InvalidUnit {
        /// The metric name.
        name: String,
        /// The offending unit.
        unit: String,
    },
    /// The histogram options are unusable.
    #[error("invalid histogram options for {name:?}: {reason}")]
    InvalidHistogram {
        /// The metric name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A family with this name, or one whose sample names collide with it, already exists
    /// with a different type, labels or help.
    #[error("metric {0:?} conflicts with a family already registered")]
    Conflict(String),
    /// The number of label values does not match the family's label names.
    #[error("family {family:?} takes {expected} label values, got {got}")]
    LabelCount {
        /// The family name.
        family: String,
        /// How many label names the family has.
        expected: usize,
        /// How many values were passed.
        got: usize,
    },
}

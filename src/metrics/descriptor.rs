//! What a family is called and how it is labelled, before registration.

/// Name, help, unit, label names and cardinality limit of a family to register.
///
/// ```
/// use lookout::metrics::Descriptor;
/// let d = Descriptor::new("tool_call_duration_seconds", "Tool call duration")
///     .unit("seconds")
///     .labels(["tool"])
///     .cardinality_limit(500);
/// assert_eq!(d.name(), "tool_call_duration_seconds");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: String,
    pub(crate) labels: Vec<String>,
    pub(crate) cardinality_limit: Option<usize>,
}

impl Descriptor {
    /// A family called `name` (counters may end in `_total`) with help text.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Self {
        Descriptor {
            name: name.into(),
            help: help.into(),
            unit: String::new(),
            labels: Vec::new(),
            cardinality_limit: None,
        }
    }

    /// Sets the unit (`seconds`, `bytes`, `tokens`, ...); the name must end with `_{unit}`.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// Sets the label names, in the order values will be passed.
    pub fn labels<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = names.into_iter().map(Into::into).collect();
        self
    }

    /// Overrides the registry's per-family series limit for this family.
    pub fn cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        &self.name
    }
}

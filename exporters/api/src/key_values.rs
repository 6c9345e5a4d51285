//! `k=v,k2=v2` lists with percent-encoded parts: the form of `OTEL_RESOURCE_ATTRIBUTES`
//! and `OTEL_EXPORTER_OTLP_HEADERS`.

/// An item of a key-value list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyValueError {
    /// The item, as written.
    pub item: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl std::fmt::Display for KeyValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}", self.item, self.problem)
    }
}

impl std::error::Error for KeyValueError {}

/// Reads `k=v,k2=v2`, trimming and percent-decoding keys and values; empty items are
/// skipped.
///
/// ```
/// let pairs = lookout_export::parse_key_values("service.name=coder, team=a%20b").unwrap();
/// assert_eq!(pairs, [("service.name".into(), "coder".into()), ("team".into(), "a b".into())]);
/// assert!(lookout_export::parse_key_values("novalue").is_err());
/// ```
pub fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, KeyValueError> {
    text.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let error = |problem| KeyValueError {
                item: item.to_owned(),
                problem,
            };
            let (key, value) = item.split_once('=').ok_or_else(|| error("has no '='"))?;
            let key = percent_decode(key.trim());
            if key.is_empty() {
                return Err(error("has an empty key"));
            }
            Ok((key, percent_decode(value.trim())))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

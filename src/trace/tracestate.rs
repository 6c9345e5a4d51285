//! The W3C `tracestate` header: vendor `key=value` pairs, newest first.

use std::sync::Arc;

/// At most this many list members.
pub const MAX_MEMBERS: usize = 32;

/// A validated tracestate, kept in canonical form (`k1=v1,k2=v2`, no spaces or empty
/// members). Cloning shares the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceState(Option<Arc<str>>);

/// Why a tracestate member could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// The key breaks the W3C key grammar.
    #[error("invalid tracestate key")]
    Key,
    /// The value breaks the W3C value grammar.
    #[error("invalid tracestate value")]
    Value,
}

impl TraceState {
    /// The empty tracestate.
    pub const EMPTY: TraceState = TraceState(None);

    /// Parses one or more header values (several `tracestate` header lines combine as one
    /// comma-separated list). `None` when any member is invalid, a key repeats, or there
    /// are more than 32 members: the whole header is then discarded.
    pub fn parse<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<TraceState> {
        let mut canonical = String::new();
        let mut count = 0;
        for header in headers {
            for member in header.split(',') {
                let member = member.trim_matches([' ', '\t']);
                if member.is_empty() {
                    continue;
                }
                let (key, value) = member.split_once('=')?;
                if !valid_key(key) || !valid_value(value) {
                    return None;
                }
                count += 1;
                if count > MAX_MEMBERS || TraceState::lookup(&canonical, key).is_some() {
                    return None;
                }
                if !canonical.is_empty() {
                    canonical.push(',');
                }
                canonical.push_str(member);
            }
        }
        Some(TraceState(
            (!canonical.is_empty()).then(|| canonical.into()),
        ))
    }

    fn lookup<'s>(canonical: &'s str, key: &str) -> Option<&'s str> {
        canonical
            .split(',')
            .filter_map(|m| m.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The header value, or `""` when empty.
    pub fn header(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        TraceState::lookup(self.header(), key)
    }

    /// The members, newest first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.header().split(',').filter_map(|m| m.split_once('='))
    }

    /// This tracestate with `key=value` first and any older entry for `key` removed, as a
    /// vendor updating its own entry does; the oldest member falls off past 32.
    pub fn with(&self, key: &str, value: &str) -> Result<TraceState, TraceStateError> {
        if !valid_key(key) {
            return Err(TraceStateError::Key);
        }
        if !valid_value(value) {
            return Err(TraceStateError::Value);
        }
        let mut canonical = format!("{key}={value}");
        for (k, v) in self.iter().filter(|(k, _)| *k != key).take(MAX_MEMBERS - 1) {
            canonical.push(',');
            canonical.push_str(k);
            canonical.push('=');
            canonical.push_str(v);
        }
        Ok(TraceState(Some(canonical.into())))
    }

    /// This tracestate without `key`.
    pub fn without(&self, key: &str) -> TraceState {
        let kept: Vec<String> = self
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        TraceState((!kept.is_empty()).then(|| kept.join(",").into()))
    }

    /// The shared text, for exporters.
    pub fn shared(&self) -> Option<Arc<str>> {
        self.0.clone()
    }
}

fn key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `simple-key` (lcalpha, then up to 255 key chars) or `tenant@system` (tenant: lcalpha or
/// digit, then up to 240; system: lcalpha, then up to 13).
fn valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    match key.split_once('@') {
        None => {
            (1..=256).contains(&bytes.len())
                && bytes[0].is_ascii_lowercase()
                && bytes.iter().all(|&b| key_char(b))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            (1..=241).contains(&t.len())
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|&b| key_char(b))
                && (1..=14).contains(&s.len())
                && s[0].is_ascii_lowercase()
                && s.iter().all(|&b| key_char(b))
        }
    }
}

/// 1 to 256 printable ASCII characters other than `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=256).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && bytes[bytes.len() - 1] != b' '
}

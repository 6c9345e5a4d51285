//! A request's query string: each parameter named once, an unknown one refused, values
//! parsed with the parameter named in the refusal.

use super::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::time::SystemTime;

/// The query string's parameters, as sent.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Params).map_err(|e| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("the query string cannot be read: {e}"),
            )
        })
    }
}

impl Params {
    /// The parameters named `{prefix}NAME`, as (NAME, value), and the rest.
    pub(crate) fn split_prefixed(self, prefix: &str) -> (Vec<(String, String)>, Params) {
        let (prefixed, rest): (Vec<_>, Vec<_>) = self
            .0
            .into_iter()
            .partition(|(name, _)| name.starts_with(prefix));
        let prefixed = prefixed
            .into_iter()
            .map(|(name, value)| (name[prefix.len()..].to_owned(), value))
            .collect();
        (prefixed, Params(rest))
    }

    /// The parameters, if each is one of `known` and given once.
    pub(crate) fn known(self, known: &[&str]) -> Result<Known, ApiError> {
        let mut values = HashMap::new();
        for (name, value) in self.0 {
            if !known.contains(&name.as_str()) {
                return Err(ApiError::bad_request(
                    "unknown_parameter",
                    format!(
                        "{name:?} is not a parameter here (known: {})",
                        known.join(", ")
                    ),
                )
                .at(name));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("{name} is given twice"),
                )
                .at(name));
            }
        }
        Ok(Known(values))
    }
}

/// Checked parameters, taken one by one.
#[derive(Debug)]
pub(crate) struct Known(HashMap<String, String>);

impl Known {
    /// A text parameter.
    pub(crate) fn text(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// A whole-number parameter within `min..=max`.
    pub(crate) fn number(
        &mut self,
        name: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<usize>, ApiError> {
        let Some(text) = self.0.remove(name) else {
            return Ok(None);
        };
        match text.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} is a whole number from {min} to {max}, not {text:?}"),
            )
            .at(name)),
        }
    }

    /// A duration parameter (`90s`, `5m`, `1h`).
    pub(crate) fn duration(&mut self, name: &str) -> Result<Option<std::time::Duration>, ApiError> {
        let Some(text) = self.0.remove(name) else {
            return Ok(None);
        };
        match humantime::parse_duration(&text) {
            Ok(duration) => Ok(Some(duration)),
            Err(_) => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} is a duration (90s, 5m, 1h), not {text:?}"),
            )
            .at(name)),
        }
    }

    /// A time parameter (RFC 3339).
    pub(crate) fn time(&mut self, name: &str) -> Result<Option<SystemTime>, ApiError> {
        let Some(text) = self.0.remove(name) else {
            return Ok(None);
        };
        match lookout_export::calendar::parse_rfc3339(&text) {
            Some(time) => Ok(Some(time)),
            None => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} is an RFC 3339 time (2026-01-31T12:00:00Z), not {text:?}"),
            )
            .at(name)),
        }
    }
}

//! Cost from token usage: a span's `gen_ai.usage.input_tokens` and `output_tokens` priced
//! by its model (`gen_ai.response.model`, else `gen_ai.request.model`) from a price table,
//! unless the span gives its cost itself (`gen_ai.usage.cost`, US dollars). Every cost
//! says which it is and with which prices.
//!
//! The bundled table (`data/prices.json`: list prices per million tokens) is overridden
//! and extended by a file of the same shape named by `LOOKOUT_PRICES`. No maintained
//! crate carries such a table; providers change prices, so the file says when it was
//! written.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The variable naming a price file that overrides the bundled one.
pub const PRICES_ENV: &str = "LOOKOUT_PRICES";
/// The attribute a span gives its own cost in, US dollars.
pub const COST_ATTRIBUTE: &str = "gen_ai.usage.cost";

/// What one model costs per `per_tokens` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per input (prompt) tokens.
    pub input: f64,
    /// Per output (completion) tokens.
    pub output: f64,
}

#[derive(Debug, Deserialize)]
struct PriceFile {
    as_of: String,
    currency: String,
    per_tokens: f64,
    models: BTreeMap<String, Price>,
}

/// A price table: models by name prefix, and where the prices come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    /// `bundled 2025-06`, or that and `{file} {as_of}`.
    pub source: String,
    /// `USD`.
    pub currency: String,
    models: BTreeMap<String, Price>,
}

/// Why a price file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PriceError {
    /// It cannot be read.
    #[error("cannot read the price file {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// It is not a price table.
    #[error("the price file {path} is not a price table: {error}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
}

impl Prices {
    /// The bundled table.
    pub fn bundled() -> Prices {
        let file: PriceFile = serde_json::from_str(include_str!("../data/prices.json"))
            .expect("the bundled price table parses (a test reads it)");
        Prices::of(file, "bundled")
    }

    fn of(file: PriceFile, name: &str) -> Prices {
        let scale = 1.0 / file.per_tokens;
        Prices {
            source: format!("{name} {}", file.as_of),
            currency: file.currency,
            models: file
                .models
                .into_iter()
                .map(|(model, p)| {
                    let price = Price {
                        input: p.input * scale,
                        output: p.output * scale,
                    };
                    (model, price)
                })
                .collect(),
        }
    }

    /// The bundled table with the models of the file at `path` over it (a file in another
    /// currency replaces it).
    pub fn with_file(path: &Path) -> Result<Prices, PriceError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| PriceError::Read {
            path: shown.clone(),
            error,
        })?;
        let file: PriceFile = serde_json::from_str(&text).map_err(|e| PriceError::Parse {
            path: shown.clone(),
            error: e.to_string(),
        })?;
        if file.per_tokens.is_nan() || file.per_tokens <= 0.0 {
            return Err(PriceError::Parse {
                path: shown,
                error: "per_tokens must be positive".into(),
            });
        }
        let mut prices = Prices::bundled();
        let theirs = Prices::of(file, &shown);
        if theirs.currency != prices.currency {
            // Prices in another currency replace the bundled ones: none are mixed.
            return Ok(theirs);
        }
        prices.source = format!("{} over {}", theirs.source, prices.source);
        prices.models.extend(theirs.models);
        Ok(prices)
    }

    /// The table `LOOKOUT_PRICES` names over the bundled one, or the bundled one.
    pub fn from_env() -> Result<Prices, PriceError> {
        match std::env::var_os(PRICES_ENV) {
            Some(path) if !path.is_empty() => Prices::with_file(Path::new(&path)),
            _ => Ok(Prices::bundled()),
        }
    }

    /// The price of `model`: the longest model name of the table it starts with.
    pub fn price(&self, model: &str) -> Option<(&str, Price)> {
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(name, price)| (name.as_str(), *price))
    }
}

/// A cost, and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub enum Cost {
    /// The span gave it ([`COST_ATTRIBUTE`]).
    Given(f64),
    /// Computed from its tokens with the price of `model` (the table's name for it).
    Computed {
        /// The amount.
        amount: f64,
        /// The table's model name that priced it.
        model: String,
    },
}

impl Cost {
    /// The amount.
    pub fn amount(&self) -> f64 {
        match self {
            Cost::Given(amount) | Cost::Computed { amount, .. } => *amount,
        }
    }
}

/// The cost of a span with `attributes` (as stored: a JSON object); `None` when it has
/// neither a cost nor tokens of a model the table prices.
pub fn of_attributes(attributes: &Map<String, Value>, prices: &Prices) -> Option<Cost> {
    if let Some(given) = attributes.get(COST_ATTRIBUTE).and_then(Value::as_f64) {
        return Some(Cost::Given(given));
    }
    let tokens = |key: &str| attributes.get(key).and_then(Value::as_f64);
    let (input, output) = (
        tokens("gen_ai.usage.input_tokens"),
        tokens("gen_ai.usage.output_tokens"),
    );
    if input.is_none() && output.is_none() {
        return None;
    }
    let model = ["gen_ai.response.model", "gen_ai.request.model"]
        .iter()
        .find_map(|key| attributes.get(*key).and_then(Value::as_str))?;
    let (name, price) = prices.price(model)?;
    Some(Cost::Computed {
        amount: input.unwrap_or(0.0) * price.input + output.unwrap_or(0.0) * price.output,
        model: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_longest_prefix_prices_and_a_given_cost_wins() {
        let prices = Prices::bundled();
        assert!(prices.source.starts_with("bundled "));
        assert_eq!(
            prices.price("gpt-4o-mini-2024-07-18").unwrap().0,
            "gpt-4o-mini"
        );
        assert_eq!(prices.price("gpt-4o-2024-08-06").unwrap().0, "gpt-4o");
        assert_eq!(prices.price("llama-3"), None);
        let span = json!({"gen_ai.request.model": "claude-sonnet-4-20250514",
                          "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200});
        let cost = of_attributes(span.as_object().unwrap(), &prices).unwrap();
        // 1,000 x $3 / M + 200 x $15 / M.
        assert!((cost.amount() - 0.006).abs() < 1e-12, "{cost:?}");
        assert!(matches!(cost, Cost::Computed { model, .. } if model == "claude-sonnet-4"));
        let given = json!({"gen_ai.usage.cost": 0.5, "gen_ai.usage.input_tokens": 1});
        assert_eq!(
            of_attributes(given.as_object().unwrap(), &prices),
            Some(Cost::Given(0.5))
        );
        assert_eq!(of_attributes(json!({}).as_object().unwrap(), &prices), None);
    }

    #[test]
    fn a_users_file_overrides_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.json");
        std::fs::write(
            &path,
            r#"{"as_of": "2026-11", "currency": "USD", "per_tokens": 1000,
                "models": {"gpt-4o": {"input": 1.0, "output": 2.0}, "local-llm": {"input": 0, "output": 0}}}"#,
        )
        .unwrap();
        let prices = Prices::with_file(&path).unwrap();
        assert_eq!(
            prices.price("gpt-4o").unwrap().1,
            Price {
                input: 0.001,
                output: 0.002
            }
        );
        assert!(prices.price("local-llm-7b").is_some());
        assert!(
            prices.price("claude-opus-4").is_some(),
            "the bundled ones stay"
        );
        assert!(
            prices.source.contains("2026-11 over bundled"),
            "{}",
            prices.source
        );
        std::fs::write(&path, r#"{"models": 1}"#).unwrap();
        assert!(matches!(
            Prices::with_file(&path),
            Err(PriceError::Parse { .. })
        ));
    }
}

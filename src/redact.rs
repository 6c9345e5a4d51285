//! Redaction of what agents hand to telemetry (seed 000: "don't capture passwords,
//! tokens, or PII in the inputs field"), before it is stored or exported: the value of
//! every key that names a secret, and every string that looks like a credential, becomes
//! `"[REDACTED]"`, and so does every email address in a string, at any depth of a JSON
//! value.
//!
//! A key names a secret when one of its words (split at `_`, `-`, `.`, spaces and
//! camel-case humps, compared without case) is one of [`SECRET_WORDS`], or two of them in
//! a row are `api key`, `private key`, `access key` or `set cookie`: `password`,
//! `apiKey`, `X-Api-Key` and `access_token` are secrets; `max_tokens` and `input_tokens`
//! are not. A string looks like a credential when it is an `Authorization` value
//! (`Bearer ...`, `Basic ...`), a JWT, a PEM private key, a URL with a password, or
//! carries a well-known token prefix (`sk-`, `ghp_`, `github_pat_`, `xoxb-`, `AKIA`, ...).
//!
//! ```
//! use lookout::redact::Redactor;
//! use serde_json::json;
//!
//! let mut inputs = json!({"query": "weather", "api_key": "abc123", "max_tokens": 200,
//!                         "to": "ada@example.com"});
//! let redacted = Redactor::default().redact(&mut inputs);
//! assert_eq!(redacted, 2);
//! assert_eq!(inputs, json!({"query": "weather", "api_key": "[REDACTED]", "max_tokens": 200,
//!                           "to": "[REDACTED]"}));
//! ```

use serde_json::Value;

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Words of a key that make its value a secret.
pub const SECRET_WORDS: [&str; 13] = [
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "credential",
    "credentials",
    "otp",
];

/// Two words in a row that make a key's value a secret.
const SECRET_PAIRS: [(&str, &str); 5] = [
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("set", "cookie"),
];

/// Prefixes of well-known credentials.
const TOKEN_PREFIXES: [&str; 12] = [
    "sk-",
    "sk_live_",
    "rk_live_",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "glpat-",
    "AKIA",
];

/// Which keys and values are redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redactor {
    words: Vec<String>,
    emails: bool,
    credentials: bool,
}

impl Default for Redactor {
    /// [`SECRET_WORDS`], email addresses and credential-looking values.
    fn default() -> Self {
        Redactor {
            words: SECRET_WORDS.iter().map(|w| (*w).to_owned()).collect(),
            emails: true,
            credentials: true,
        }
    }
}

impl Redactor {
    /// Also redacts keys with the word `word` (`ssn`, `iban`).
    pub fn key_word(mut self, word: &str) -> Self {
        self.words.push(word.to_ascii_lowercase());
        self
    }

    /// Whether email addresses are redacted (default yes).
    pub fn emails(mut self, on: bool) -> Self {
        self.emails = on;
        self
    }

    /// Whether credential-looking values are redacted (default yes).
    pub fn credentials(mut self, on: bool) -> Self {
        self.credentials = on;
        self
    }

    /// Redacts `value` in place; returns how many values it replaced.
    pub fn redact(&self, value: &mut Value) -> usize {
        match value {
            Value::Object(map) => map
                .iter_mut()
                .map(|(key, value)| {
                    if self.is_secret_key(key) && !is_empty(value) {
                        *value = Value::String(REDACTED.to_owned());
                        1
                    } else {
                        self.redact(value)
                    }
                })
                .sum(),
            Value::Array(items) => items.iter_mut().map(|v| self.redact(v)).sum(),
            Value::String(text) if self.is_secret_value(text) => {
                *text = REDACTED.to_owned();
                1
            }
            Value::String(text) if self.emails => match without_emails(text) {
                Some(kept) => {
                    *text = kept;
                    1
                }
                None => 0,
            },
            _ => 0,
        }
    }

    /// Whether the value of `key` is a secret.
    pub fn is_secret_key(&self, key: &str) -> bool {
        let words = words(key);
        words.iter().any(|w| self.words.iter().any(|s| s == w))
            || words
                .windows(2)
                .any(|pair| SECRET_PAIRS.contains(&(pair[0].as_str(), pair[1].as_str())))
    }

    /// Whether `text` looks like a credential or an email address (as enabled), or is a
    /// header line naming a secret (`Authorization: Bearer …`, `X-Api-Key: …`).
    pub fn is_secret_value(&self, text: &str) -> bool {
        let text = text.trim();
        let secret_header = text.split_once(':').is_some_and(|(name, value)| {
            !name.is_empty()
                && !name.contains(char::is_whitespace)
                && !value.starts_with("//")
                && self.is_secret_key(name)
        });
        (self.emails && is_email(text))
            || (self.credentials && (is_credential(text) || secret_header))
    }
}

fn is_empty(value: &Value) -> bool {
    matches!(value, Value::Null) || value.as_str().is_some_and(str::is_empty)
}

/// The lower-case words of a key: split at non-alphanumerics and before an upper-case
/// letter that follows a lower-case one (`apiKey` -> `api`, `key`).
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            previous_lower = false;
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `text` with each email address in it replaced by [`REDACTED`]; `None` when it has none.
fn without_emails(text: &str) -> Option<String> {
    if !text.contains('@') {
        return None;
    }
    let separator = |c: char| c.is_whitespace() || ",;<>()[]{}\"'".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut found = false;
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(|c: char| !separator(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(separator).unwrap_or(rest.len());
        let word = &rest[..end];
        // A sentence's full stop after an address is not part of it.
        let (address, tail) = match word.strip_suffix('.') {
            Some(stripped) => (stripped, "."),
            None => (word, ""),
        };
        if is_email(address) {
            found = true;
            out.push_str(REDACTED);
            out.push_str(tail);
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    found.then_some(out)
}

/// `local@domain.tld`, nothing else in the string.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "._%+-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    local_ok
        && labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic))
}

fn is_credential(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let scheme = ["bearer ", "basic ", "token "]
        .iter()
        .any(|s| lower.starts_with(s) && text.len() > s.len() + 8);
    let pem = text.contains("-----BEGIN") && text.contains("PRIVATE KEY");
    let prefixed = TOKEN_PREFIXES
        .iter()
        .any(|p| text.starts_with(p) && text.len() >= p.len() + 16 && !text.contains(' '));
    scheme || pem || prefixed || is_jwt(text) || has_url_password(text)
}

/// Three base64url parts joined by dots, the first a JSON object (`eyJ`).
fn is_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && text.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 4
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
        })
}

/// `scheme://user:password@host...`.
fn has_url_password(text: &str) -> bool {
    let Some((_, rest)) = text.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.split_once(':').is_some_and(|(_, p)| !p.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_secret_by_their_words() {
        let r = Redactor::default();
        for key in [
            "password",
            "PASSWORD",
            "db_password",
            "userPassword",
            "passwd",
            "pwd",
            "secret",
            "client_secret",
            "token",
            "access_token",
            "refreshToken",
            "api_key",
            "apiKey",
            "X-Api-Key",
            "apikey",
            "authorization",
            "Authorization",
            "auth",
            "cookie",
            "Set-Cookie",
            "private_key",
            "privateKey",
            "aws.access_key",
            "credentials",
            "secret_key",
            "passphrase",
            "otp",
        ] {
            assert!(r.is_secret_key(key), "{key} is a secret");
        }
        for key in [
            "max_tokens",
            "input_tokens",
            "tokens",
            "author",
            "authority",
            "query",
            "keys",
            "key",
            "monkey",
            "session_id",
            "passed",
            "secretary",
            "path",
            "api",
            "cookies_enabled_count",
        ] {
            assert!(!r.is_secret_key(key), "{key} is not a secret");
        }
        let custom = Redactor::default().key_word("ssn");
        assert!(custom.is_secret_key("customer_ssn") && !r.is_secret_key("customer_ssn"));
    }

    #[test]
    fn values_that_look_like_credentials_or_emails() {
        let r = Redactor::default();
        for value in [
            "ada@example.com",
            " grace.hopper+navy@mail.example.org ",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlX2hlcmU",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "sk-proj-0123456789abcdefghij",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
            "github_pat_11ABCDEFG0123456789_abcdefghijkl",
            "xoxb-123456789012-abcdefghijklmn",
            "glpat-0123456789abcdefghij",
            "AKIAIOSFODNN7EXAMPLE",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----",
            "postgres://app:hunter2@db.internal:5432/prod",
            "Authorization: Bearer abc.def.ghi",
            "x-api-key: 12345",
            "Cookie: session=abc",
        ] {
            assert!(r.is_secret_value(value), "{value:?} is redacted");
        }
        for value in [
            "weather in Paris",
            "ada at example dot com",
            "a@b",
            "user@localhost",
            "sk-short",
            "skeleton-key",
            "https://example.com/path?q=1",
            "https://user@example.com/",
            "Bearer",
            "1.2.3",
            "src/main.rs",
            "risk-assessment-of-the-ghp_-prefix but with spaces",
            "Content-Type: application/json",
            "note: the token expired",
        ] {
            assert!(!r.is_secret_value(value), "{value:?} is kept");
        }
        assert!(
            !Redactor::default()
                .emails(false)
                .is_secret_value("ada@example.com")
        );
        assert!(
            !Redactor::default()
                .credentials(false)
                .is_secret_value("AKIAIOSFODNN7EXAMPLE")
        );
    }

    #[test]
    fn nested_values_are_redacted_and_counted() {
        let mut inputs = json!({
            "prompt": "summarise",
            "headers": {"Authorization": "Bearer abcdefghijklmnop", "Accept": "text/plain"},
            "accounts": [{"user": "ada", "password": "hunter2"}, {"user": "bob", "password": ""}],
            "notes": ["call grace@example.com.", "(cc: <ada@example.org>, bob)", "no address"],
            "env": {"OPENAI_API_KEY": "sk-0123456789abcdefghijklmn", "DATA": "/srv/app"},
            "max_tokens": 512,
            "token": null,
        });
        let n = Redactor::default().redact(&mut inputs);
        assert_eq!(inputs["headers"]["Authorization"], REDACTED);
        assert_eq!(inputs["headers"]["Accept"], "text/plain");
        assert_eq!(inputs["accounts"][0]["password"], REDACTED);
        assert_eq!(
            inputs["accounts"][1]["password"], "",
            "nothing to hide is left as it is"
        );
        assert_eq!(
            inputs["notes"],
            json!(["call [REDACTED].", "(cc: <[REDACTED]>, bob)", "no address"])
        );
        assert_eq!(inputs["env"]["OPENAI_API_KEY"], REDACTED);
        assert_eq!(inputs["env"]["DATA"], "/srv/app");
        assert_eq!(inputs["max_tokens"], 512);
        assert_eq!(inputs["token"], Value::Null);
        assert_eq!(n, 5);
    }
}

//! Removal of secret values from text and JSON that leave the sandbox.
//!
//! The redactor stores the secret values of every action in the flow, not only the running one,
//! because an earlier action can hand its secret to a later one through metadata.

use serde_json::{Map, Value};

/// The text that replaces a secret value.
pub const REDACTED: &str = "[redacted]";

/// Maximum length, in characters, of a deny reason or error message that leaves the sandbox.
/// Callers put these messages in redirect URLs, and 500 characters percent-encode to at most
/// 6,000 bytes, below the default 8 KB line limits of nginx (`large_client_header_buffers`) and
/// Apache httpd (`LimitRequestLine`, `LimitRequestFieldSize`).
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The character that ends a message cut to [`MAX_MESSAGE_CHARS`].
const ELLIPSIS: char = '…';

/// Object keys whose values are replaced whole in captured JSON: every value under `secrets`,
/// and upstream tokens an action may have been shown.
const SENSITIVE_KEYS: [&str; 4] = [
    "access_token",
    "refresh_token",
    "id_token",
    "access_token_secret",
];

/// Replaces known secret values with [`REDACTED`].
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// Non-empty secret values, longest first so that a secret containing another one is
    /// replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = &'a String>) -> Self {
        let mut secrets: Vec<String> = values
            .into_iter()
            .filter(|value| !value.is_empty())
            .cloned()
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self { secrets }
    }

    /// Returns `text` with every occurrence of a secret value replaced by [`REDACTED`].
    ///
    /// One left-to-right pass, so the replacement text itself is never searched again.
    pub(crate) fn redact_text(&self, text: &str) -> String {
        if !self
            .secrets
            .iter()
            .any(|secret| text.contains(secret.as_str()))
        {
            return text.to_owned();
        }

        let mut output = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(next) = rest.chars().next() {
            match self
                .secrets
                .iter()
                .find(|secret| rest.starts_with(secret.as_str()))
            {
                Some(secret) => {
                    output.push_str(REDACTED);
                    rest = &rest[secret.len()..];
                }
                None => {
                    output.push(next);
                    rest = &rest[next.len_utf8()..];
                }
            }
        }
        output
    }

    /// Returns `text` with secret values redacted and then cut to [`MAX_MESSAGE_CHARS`]
    /// characters. Redacting first means a cut never leaves part of a secret unrecognized.
    pub(crate) fn redact_message(&self, text: &str) -> String {
        shorten(&self.redact_text(text), MAX_MESSAGE_CHARS)
    }

    /// Returns a copy of `value` with secret values redacted in every string, every value of a
    /// `secrets` object replaced, and upstream token fields replaced.
    pub(crate) fn redact_json(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.redact_text(&text)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| self.redact_json(item))
                    .collect(),
            ),
            Value::Object(object) => Value::Object(self.redact_object(object)),
            other => other,
        }
    }

    fn redact_object(&self, object: Map<String, Value>) -> Map<String, Value> {
        object
            .into_iter()
            .map(|(key, value)| {
                let value = if key == "secrets" {
                    redact_every_value(value)
                } else if SENSITIVE_KEYS.contains(&key.as_str()) && !value.is_null() {
                    Value::String(REDACTED.to_owned())
                } else {
                    self.redact_json(value)
                };
                (key, value)
            })
            .collect()
    }
}

/// Replaces each value of a `secrets` object, keeping the names; anything else is replaced whole.
fn redact_every_value(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(key, _)| (key, Value::String(REDACTED.to_owned())))
                .collect(),
        ),
        Value::Null => Value::Null,
        _ => Value::String(REDACTED.to_owned()),
    }
}

/// Returns the first `max_chars` characters of `text`.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// Returns `text` unchanged if it has at most `max_chars` characters, and otherwise its first
/// `max_chars - 1` characters followed by `…`, so the result never exceeds `max_chars`.
pub(crate) fn shorten(text: &str, max_chars: usize) -> String {
    if text.char_indices().nth(max_chars).is_none() {
        return text.to_owned();
    }
    let Some(kept_chars) = max_chars.checked_sub(1) else {
        return String::new();
    };
    let mut shortened = truncate_chars(text, kept_chars);
    shortened.push(ELLIPSIS);
    shortened
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor(values: &[&str]) -> Redactor {
        let owned: Vec<String> = values.iter().map(|value| (*value).to_owned()).collect();
        Redactor::new(&owned)
    }

    #[test]
    fn text_redaction_replaces_every_occurrence() {
        let redactor = redactor(&["sk_123"]);
        assert_eq!(
            redactor.redact_text("a sk_123 b sk_123"),
            "a [redacted] b [redacted]"
        );
    }

    #[test]
    fn longer_secret_wins_over_its_prefix() {
        let redactor = redactor(&["abc", "abcdef"]);
        assert_eq!(redactor.redact_text("xabcdefx"), "x[redacted]x");
    }

    #[test]
    fn replacement_text_is_not_searched_again() {
        let redactor = redactor(&["red", "x"]);
        assert_eq!(redactor.redact_text("x"), "[redacted]");
    }

    #[test]
    fn empty_secret_is_ignored() {
        let redactor = redactor(&[""]);
        assert_eq!(redactor.redact_text("abc"), "abc");
    }

    #[test]
    fn json_redaction_covers_strings_secrets_and_tokens() {
        let redactor = redactor(&["s3cr3t"]);
        let redacted = redactor.redact_json(json!({
            "note": "key=s3cr3t",
            "list": ["s3cr3t", 1],
            "secrets": {"OTHER": "plain", "N": 5},
            "identity": {"access_token": "at", "refresh_token": null},
        }));
        assert_eq!(
            redacted,
            json!({
                "note": "key=[redacted]",
                "list": ["[redacted]", 1],
                "secrets": {"OTHER": "[redacted]", "N": "[redacted]"},
                "identity": {"access_token": "[redacted]", "refresh_token": null},
            })
        );
    }

    #[test]
    fn shorten_keeps_text_that_fits() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("", 0), "");
    }

    #[test]
    fn shorten_ends_cut_text_with_ellipsis() {
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("éééé", 3), "éé…");
        assert_eq!(shorten("abcd", 1), "…");
        assert_eq!(shorten("abcd", 0), "");
    }

    #[test]
    fn message_redaction_happens_before_the_cut() {
        let redactor = redactor(&["s3cr3t"]);
        let text = format!("{}s3cr3t", "x".repeat(MAX_MESSAGE_CHARS - 4));
        let message = redactor.redact_message(&text);

        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.ends_with("x[re…"), "message ends with {message:?}");
        assert!(!message.contains("s3c"), "message: {message:?}");
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("ééé", 2), "éé");
        assert_eq!(truncate_chars("ab", 5), "ab");
    }
}

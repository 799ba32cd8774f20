//! Authorization responses: the redirect (or form) that hands a code or an error back to the
//! client at its `redirect_uri`, with the client's `state` echoed byte for byte.

use authbridge_core::model::ResponseMode;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left unencoded in parameter values, as JavaScript's `encodeURIComponent` leaves
/// them; everything else is percent-encoded, so a space becomes `%20`, never `+`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The destination and delivery mode of an authorization response.
#[derive(Debug, Clone)]
pub(crate) struct ResponseTarget {
    pub(crate) redirect_uri: String,
    pub(crate) mode: ResponseMode,
    pub(crate) state: Option<String>,
}

impl ResponseTarget {
    /// Delivers `params` plus the client's state.
    pub(crate) fn deliver(&self, mut params: Vec<(String, String)>) -> Response {
        if let Some(state) = &self.state {
            params.push(("state".into(), state.clone()));
        }
        match self.mode {
            ResponseMode::FormPost => crate::pages::form_post(&self.redirect_uri, &params),
            ResponseMode::Query => redirect(&append(&self.redirect_uri, '?', &params)),
            ResponseMode::Fragment => redirect(&append(&self.redirect_uri, '#', &params)),
        }
    }

    /// Delivers an OAuth error with its description.
    pub(crate) fn error(&self, error: &str, description: &str) -> Response {
        self.deliver(vec![
            ("error".into(), error.into()),
            ("error_description".into(), description.into()),
        ])
    }
}

/// Returns a `302 Found` to `location`.
pub(crate) fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// Appends `params` to `base` after `separator` (`?` or `#`), joining an existing query with
/// `&`.
fn append(base: &str, separator: char, params: &[(String, String)]) -> String {
    let encoded = encode_pairs(params);
    let (base, existing_fragment) = match base.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (base, None),
    };
    match separator {
        '?' => {
            let joiner = if base.contains('?') { '&' } else { '?' };
            let fragment = existing_fragment
                .map(|fragment| format!("#{fragment}"))
                .unwrap_or_default();
            format!("{base}{joiner}{encoded}{fragment}")
        }
        _ => format!("{base}#{encoded}"),
    }
}

/// Encodes `params` as `name=value` pairs joined by `&`.
pub(crate) fn encode_pairs(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, COMPONENT),
                utf8_percent_encode(value, COMPONENT)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn values_are_encoded_like_encode_uri_component() {
        let encoded = encode_pairs(&pairs(&[
            (
                "error_description",
                "Please verify your email & try again (#42)",
            ),
            ("state", "xyz+1"),
        ]));
        assert_eq!(
            encoded,
            "error_description=Please%20verify%20your%20email%20%26%20try%20again%20(%2342)&state=xyz%2B1"
        );
    }

    #[test]
    fn query_is_joined_to_existing_query_before_fragment() {
        let params = pairs(&[("code", "c")]);
        assert_eq!(
            append("https://app.test/cb?x=1#top", '?', &params),
            "https://app.test/cb?x=1&code=c#top"
        );
        assert_eq!(
            append("https://app.test/cb", '#', &params),
            "https://app.test/cb#code=c"
        );
    }
}

//! Rules about which claims reach tokens.

use serde_json::{Map, Value};

/// Claims an action cannot set: the token's own registered and protocol claims.
const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "azp",
    "nonce",
    "auth_time",
    "at_hash",
    "c_hash",
    "acr",
    "amr",
    "sid",
    "scope",
    "gty",
    "org_id",
    "org_name",
    "permissions",
];

/// Hosts whose namespaces Auth0 reserves; claims under them are dropped without an error.
const RESERVED_NAMESPACE_HOSTS: &[&str] = &["auth0.com", "webtask.io", "webtask.run"];

/// Tells whether an action may set a custom claim called `name`.
///
/// Protected claims are refused, and so are namespaced claims (`http://` or `https://` URLs)
/// whose host is a reserved domain or one of its subdomains.
pub fn is_settable_custom_claim(name: &str) -> bool {
    if name.is_empty() || PROTECTED_CLAIMS.contains(&name) {
        return false;
    }

    let Some(rest) = name
        .strip_prefix("https://")
        .or_else(|| name.strip_prefix("http://"))
    else {
        return true;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.trim_end_matches('.');

    !RESERVED_NAMESPACE_HOSTS
        .iter()
        .any(|reserved| host == *reserved || host.ends_with(&format!(".{reserved}")))
}

/// Returns the claims of `custom` that an action may set.
pub fn settable_custom_claims(custom: &Map<String, Value>) -> Map<String, Value> {
    custom
        .iter()
        .filter(|(name, _)| is_settable_custom_claim(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Profile claims each standard OpenID Connect scope releases.
pub fn claims_for_scope(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "nickname",
            "given_name",
            "family_name",
            "picture",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        _ => &[],
    }
}

/// Splits a space-separated scope string into its distinct scopes, in order.
pub fn split_scopes(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for part in scope.split_ascii_whitespace() {
        if !scopes.iter().any(|existing| existing == part) {
            scopes.push(part.to_owned());
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_namespaces_are_refused() {
        assert!(!is_settable_custom_claim("https://tenant.auth0.com/isNew"));
        assert!(!is_settable_custom_claim("https://auth0.com/x"));
        assert!(!is_settable_custom_claim("https://x.webtask.io/a"));
        assert!(!is_settable_custom_claim("http://a.b.webtask.run/a"));
        assert!(!is_settable_custom_claim("https://AUTH0.COM./x"));
    }

    #[test]
    fn other_namespaces_and_plain_names_are_allowed() {
        assert!(is_settable_custom_claim("https://app.example.com/isNew"));
        assert!(is_settable_custom_claim("https://notauth0.com/x"));
        assert!(is_settable_custom_claim("cencora_user_id"));
    }

    #[test]
    fn protected_claims_are_refused() {
        for name in ["iss", "sub", "aud", "exp", "nonce", "sid"] {
            assert!(!is_settable_custom_claim(name), "{name}");
        }
    }

    #[test]
    fn scopes_are_split_and_deduplicated() {
        assert_eq!(
            split_scopes(" openid  profile openid "),
            vec!["openid", "profile"]
        );
    }
}

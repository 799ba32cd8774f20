//! Claims of ID tokens and userinfo responses.
//!
//! `sub` is always the Gigya UID. The other claims follow the granted scopes, in the ID token
//! and in userinfo alike:
//!
//! | scope | claims |
//! |---|---|
//! | `profile` | `name`, `given_name`, `family_name` (each only when the profile has it) |
//! | `email` | `email` (when the profile has it), `email_verified` (from `isVerified`) |
//! | `uid` | `uid`, equal to `sub` |

use serde_json::{Map, Value, json};

use crate::accounts::Account;
use crate::faults::Faults;

/// Scopes the provider grants; other requested scopes are dropped.
pub(crate) const SUPPORTED_SCOPES: [&str; 5] =
    ["openid", "profile", "email", "uid", "offline_access"];

/// Returns the supported scopes of a space-separated `scope` parameter, without repeats, in
/// request order.
pub(crate) fn granted_scopes(requested: &str) -> Vec<String> {
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|scope| !scope.is_empty()) {
        if SUPPORTED_SCOPES.contains(&scope) && !granted.iter().any(|seen| seen == scope) {
            granted.push(scope.to_owned());
        }
    }
    granted
}

/// Returns the user claims released for `scope`: `sub` and the scope-dependent claims.
pub(crate) fn user_claims(account: &Account, scope: &[String]) -> Map<String, Value> {
    let has = |name: &str| scope.iter().any(|granted| granted == name);
    let mut claims = Map::new();
    claims.insert("sub".to_owned(), json!(account.uid));

    if has("profile") {
        if let Some(name) = account.full_name() {
            claims.insert("name".to_owned(), json!(name));
        }
        if let Some(first_name) = &account.profile.first_name {
            claims.insert("given_name".to_owned(), json!(first_name));
        }
        if let Some(last_name) = &account.profile.last_name {
            claims.insert("family_name".to_owned(), json!(last_name));
        }
    }
    if has("email") {
        if let Some(email) = &account.profile.email {
            claims.insert("email".to_owned(), json!(email));
        }
        claims.insert("email_verified".to_owned(), json!(account.is_verified));
    }
    if has("uid") {
        claims.insert("uid".to_owned(), json!(account.uid));
    }
    claims
}

/// The facts an ID token states.
#[derive(Debug)]
pub(crate) struct IdTokenContent<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) account: &'a Account,
    pub(crate) client_id: &'a str,
    pub(crate) scope: &'a [String],
    pub(crate) nonce: Option<&'a str>,
    /// Time of the login, seconds since the Unix epoch.
    pub(crate) auth_time: i64,
    /// The access token issued alongside, bound through `at_hash`.
    pub(crate) access_token: &'a str,
    /// Issue time, seconds since the Unix epoch.
    pub(crate) now: i64,
    /// Lifetime in seconds.
    pub(crate) lifetime: i64,
}

/// Returns the ID token claims, with the claim faults of `faults` applied.
pub(crate) fn id_token_claims(content: &IdTokenContent<'_>, faults: &Faults) -> Value {
    let issuer = faults.id_token_issuer.as_deref().unwrap_or(content.issuer);
    let audience = faults
        .id_token_audience
        .as_deref()
        .unwrap_or(content.client_id);
    let nonce = faults.id_token_nonce.as_deref().or(content.nonce);

    let mut claims = Map::new();
    claims.insert("iss".to_owned(), json!(issuer));
    claims.insert("sub".to_owned(), json!(content.account.uid));
    claims.insert("aud".to_owned(), json!(audience));
    claims.insert("iat".to_owned(), json!(content.now));
    claims.insert("exp".to_owned(), json!(content.now + content.lifetime));
    claims.insert("auth_time".to_owned(), json!(content.auth_time));
    if let Some(nonce) = nonce {
        claims.insert("nonce".to_owned(), json!(nonce));
    }
    claims.insert(
        "at_hash".to_owned(),
        json!(authbridge_oidc::jwt::at_hash(content.access_token)),
    );
    for (name, value) in user_claims(content.account, content.scope) {
        claims.entry(name).or_insert(value);
    }
    Value::Object(claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::accounts::default_accounts;

    fn scopes(list: &str) -> Vec<String> {
        granted_scopes(list)
    }

    #[test]
    fn granted_scopes_drop_unknown_and_repeats() {
        assert_eq!(
            granted_scopes("openid  email roles email uid"),
            vec!["openid", "email", "uid"]
        );
    }

    #[test]
    fn user_claims_follow_scope() {
        let ada = &default_accounts()[0];
        let only_sub = user_claims(ada, &scopes("openid"));
        assert_eq!(only_sub.keys().collect::<Vec<_>>(), vec!["sub"]);

        let all = user_claims(ada, &scopes("openid profile email uid"));
        assert_eq!(all["sub"], "4a6f1d2e8b9c4f0a9e3d2c1b0a998877");
        assert_eq!(all["uid"], "4a6f1d2e8b9c4f0a9e3d2c1b0a998877");
        assert_eq!(all["name"], "Ada Lovelace");
        assert_eq!(all["given_name"], "Ada");
        assert_eq!(all["family_name"], "Lovelace");
        assert_eq!(all["email"], "ada@example.com");
        assert_eq!(all["email_verified"], true);
    }

    #[test]
    fn id_token_faults_replace_claims() {
        let ada = &default_accounts()[0];
        let scope = scopes("openid");
        let content = IdTokenContent {
            issuer: "https://op.test/oidc/op/v1.0/k",
            account: ada,
            client_id: "rp",
            scope: &scope,
            nonce: None,
            auth_time: 10,
            access_token: "token",
            now: 100,
            lifetime: 3600,
        };
        let honest = id_token_claims(&content, &Faults::default());
        assert_eq!(honest["iss"], "https://op.test/oidc/op/v1.0/k");
        assert_eq!(honest["aud"], "rp");
        assert_eq!(honest["exp"], 3700);
        assert!(honest.get("nonce").is_none());

        let faults = Faults {
            id_token_issuer: Some("https://op.test/oidc/op/v1.0/k/".to_owned()),
            id_token_audience: Some("other".to_owned()),
            id_token_nonce: Some("forged".to_owned()),
            ..Faults::default()
        };
        let faulty = id_token_claims(&content, &faults);
        assert_eq!(faulty["iss"], "https://op.test/oidc/op/v1.0/k/");
        assert_eq!(faulty["aud"], "other");
        assert_eq!(faulty["nonce"], "forged");
    }
}

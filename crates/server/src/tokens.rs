//! Minting of ID tokens and access tokens, with Auth0's claims.

use authbridge_core::claims::{claims_for_scope, split_scopes};
use authbridge_core::model::{AuthorizationCode, ResourceServer, User, UserinfoGrant};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::login::iso;
use crate::{Broker, ServerError};

// TODO-compat: no refresh tokens are issued yet, so `offline_access` is never granted.

/// Management API scopes a user's own access token may carry.
pub(crate) const CURRENT_USER_SCOPES: &[&str] = &[
    "read:current_user",
    "update:current_user_metadata",
    "create:current_user_metadata",
    "delete:current_user_metadata",
    "update:current_user_identities",
];

/// Scopes of OpenID Connect the broker grants to users.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email"];

/// A token response body, as `/oauth/token` returns it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    pub(crate) scope: String,
    pub(crate) expires_in: i64,
    pub(crate) token_type: &'static str,
}

/// Returns the hash under which `/userinfo` finds what an access token releases.
pub(crate) fn token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Returns the scopes granted for a user's request: OpenID Connect scopes and scopes the
/// requested API defines. Other requested scopes are dropped without an error.
fn granted_scopes(
    requested: &str,
    api: Option<&ResourceServer>,
    management_audience: &str,
) -> Vec<String> {
    split_scopes(requested)
        .into_iter()
        .filter(|scope| {
            OIDC_SCOPES.contains(&scope.as_str())
                || api.is_some_and(|api| grants_to_users(api, scope, management_audience))
        })
        .collect()
}

/// Tells whether a user's login may be granted `scope` of `api`: any scope the API defines,
/// except on the Management API, where users get only the scopes about themselves, as Auth0
/// does. Administration scopes come only from client grants.
fn grants_to_users(api: &ResourceServer, scope: &str, management_audience: &str) -> bool {
    let defined = api.scopes.iter().any(|defined| defined == scope);
    if api.identifier == management_audience {
        return defined && CURRENT_USER_SCOPES.contains(&scope);
    }
    defined
}

/// Issues the tokens an authorization code grants.
pub(crate) async fn issue_for_code(
    broker: &Broker,
    code: &AuthorizationCode,
    user: &User,
) -> Result<TokenResponse, ServerError> {
    let settings = broker.settings();
    let now = broker.inner.clock.now();
    let api = match &code.audience {
        Some(audience) => broker.store().resource_server(audience).await?,
        None => None,
    };
    let scopes = granted_scopes(&code.scope, api.as_ref(), &settings.management_audience());
    let scope = scopes.join(" ");
    let has_openid = scopes.iter().any(|scope| scope == "openid");
    let lifetime = api
        .as_ref()
        .map_or(settings.access_token_lifetime.num_seconds(), |api| {
            api.token_lifetime
        });

    let audience = match (&code.audience, has_openid) {
        (Some(audience), true) => json!([audience, settings.userinfo_audience()]),
        (Some(audience), false) => json!(audience),
        (None, _) => json!(settings.userinfo_audience()),
    };
    let mut access_claims = Map::new();
    access_claims.insert("iss".into(), json!(settings.issuer));
    access_claims.insert("sub".into(), json!(user.user_id));
    access_claims.insert("aud".into(), audience);
    access_claims.insert("iat".into(), json!(now.timestamp()));
    access_claims.insert("exp".into(), json!(now.timestamp() + lifetime));
    access_claims.insert("scope".into(), json!(scope));
    access_claims.insert("azp".into(), json!(code.client_id));
    // A unique id (RFC 9068) keeps two tokens minted in the same second for the same grant
    // distinct, so each has its own userinfo grant.
    access_claims.insert("jti".into(), json!(authbridge_core::random::token(16)));
    for (name, value) in &code.access_token_claims {
        access_claims
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }
    let access_token = broker
        .inner
        .keys
        .current()
        .sign(&Value::Object(access_claims))?;

    let id_token = if has_openid {
        let mut claims = profile_claims(user, &scopes);
        claims.insert("iss".into(), json!(settings.issuer));
        claims.insert("aud".into(), json!(code.client_id));
        claims.insert("iat".into(), json!(now.timestamp()));
        claims.insert(
            "exp".into(),
            json!(now.timestamp() + settings.id_token_lifetime.num_seconds()),
        );
        claims.insert("sub".into(), json!(user.user_id));
        claims.insert("sid".into(), json!(code.session_id));
        claims.insert("auth_time".into(), json!(code.auth_time.timestamp()));
        if let Some(nonce) = &code.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert(
            "at_hash".into(),
            json!(authbridge_oidc::jwt::at_hash(&access_token)),
        );
        for (name, value) in &code.id_token_claims {
            claims.entry(name.clone()).or_insert_with(|| value.clone());
        }
        Some(broker.inner.keys.current().sign(&Value::Object(claims))?)
    } else {
        None
    };

    broker
        .store()
        .insert_userinfo_grant(&UserinfoGrant {
            token_hash: token_hash(&access_token),
            user_id: user.user_id.clone(),
            scope: scope.clone(),
            custom_claims: code.id_token_claims.clone(),
            expires_at: now + chrono::Duration::seconds(lifetime),
        })
        .await?;

    Ok(TokenResponse {
        access_token,
        id_token,
        scope,
        expires_in: lifetime,
        token_type: "Bearer",
    })
}

/// Returns the standard profile claims of `user` that `scopes` release, in Auth0's order.
pub(crate) fn profile_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    for scope in scopes {
        for name in claims_for_scope(scope) {
            let value = match *name {
                "name" => user.name.clone().map(Value::String),
                "nickname" => user.nickname.clone().map(Value::String),
                "given_name" => user.given_name.clone().map(Value::String),
                "family_name" => user.family_name.clone().map(Value::String),
                "picture" => user.picture.clone().map(Value::String),
                "updated_at" => Some(Value::String(iso(user.updated_at))),
                "email" => user.email.clone().map(Value::String),
                "email_verified" => Some(Value::Bool(user.email_verified)),
                _ => None,
            };
            if let Some(value) = value {
                claims.insert((*name).to_owned(), value);
            }
        }
    }
    claims
}

/// Issues a client-credentials access token for `client_id` to `api` with `scope`.
pub(crate) fn issue_client_credentials(
    broker: &Broker,
    client_id: &str,
    api: &ResourceServer,
    scope: &str,
) -> Result<TokenResponse, ServerError> {
    let now = broker.inner.clock.now();
    let claims = json!({
        "iss": broker.settings().issuer,
        "sub": format!("{client_id}@clients"),
        "aud": api.identifier,
        "iat": now.timestamp(),
        "exp": now.timestamp() + api.token_lifetime,
        "scope": scope,
        "gty": "client-credentials",
        "azp": client_id,
    });
    let access_token = broker.inner.keys.current().sign(&claims)?;
    Ok(TokenResponse {
        access_token,
        id_token: None,
        scope: scope.to_owned(),
        expires_in: api.token_lifetime,
        token_type: "Bearer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scopes_are_not_granted() {
        let api = ResourceServer {
            identifier: "https://api.test/".into(),
            name: "api".into(),
            scopes: vec!["read:x".into()],
            token_lifetime: 60,
        };
        let granted = granted_scopes(
            "openid profile app_metadata roles read:x write:y",
            Some(&api),
            "https://tenant.test/api/v2/",
        );
        assert_eq!(granted, vec!["openid", "profile", "read:x"]);
    }

    #[test]
    fn users_get_only_current_user_scopes_of_management_api() {
        let management = ResourceServer {
            identifier: "https://tenant.test/api/v2/".into(),
            name: "Management API".into(),
            scopes: vec![
                "read:users".into(),
                "read:user_idp_tokens".into(),
                "read:current_user".into(),
            ],
            token_lifetime: 60,
        };
        let granted = granted_scopes(
            "openid read:users read:user_idp_tokens read:current_user",
            Some(&management),
            "https://tenant.test/api/v2/",
        );
        assert_eq!(granted, vec!["openid", "read:current_user"]);
    }
}

//! The token endpoint: `authorization_code` and `refresh_token` grants (RFC 6749 sections 4.1.3
//! and 6), client authentication by `client_secret_basic` or `client_secret_post`, and PKCE
//! (RFC 7636).
//!
//! A code is spent by the first request that presents it with valid client credentials, even
//! when another check of that request fails (another client's code, wrong `redirect_uri` or
//! `code_verifier`), so a code cannot be used to guess a verifier. Presenting a spent code
//! revokes the tokens issued from it.
//!
//! Every successful response carries a refresh token, whether or not `offline_access` was
//! requested, because CDC documents refresh tokens as part of the code flow without naming
//! that scope. A refresh returns the same refresh token again: CDC ties refresh tokens to the
//! login session, and no rotation is documented.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::accounts::Account;
use crate::config::RelyingParty;
use crate::error::OAuthError;
use crate::faults::Faults;
use crate::grants::{AccessGrant, CodeGrant, Redemption, RefreshGrant};
use crate::http::unique_params;
use crate::provider::Provider;
use crate::tokens::{IdTokenContent, id_token_claims};

/// `POST /token`.
pub(crate) async fn token(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    provider.count_token_request();
    let faults = provider.faults();
    if let Some(status) = faults.token_endpoint_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return OAuthError::injected(status).into_response();
    }

    match handle(&provider, &headers, form, &faults) {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => {
            tracing::info!(
                error = error.code(),
                description = error.description(),
                "token request rejected"
            );
            error.into_response()
        }
    }
}

fn handle(
    provider: &Provider,
    headers: &HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    faults: &Faults,
) -> Result<Value, OAuthError> {
    let Form(pairs) = form.map_err(|rejection| {
        OAuthError::invalid_request(format!(
            "The request body must be application/x-www-form-urlencoded: {rejection}"
        ))
    })?;
    let params = unique_params(pairs).map_err(|name| {
        OAuthError::invalid_request(format!("The parameter {name} appears more than once"))
    })?;

    let client = authenticate_client(provider, headers, &params)?;
    match params.get("grant_type").map(String::as_str) {
        None => Err(OAuthError::invalid_request(
            "The grant_type parameter is missing",
        )),
        Some("authorization_code") => exchange_code(provider, client, &params, faults),
        Some("refresh_token") => refresh(provider, client, &params, faults),
        Some(other) => Err(OAuthError::unsupported_grant_type(other)),
    }
}

/// Authenticates the client by HTTP Basic (`client_secret_basic`) or by `client_id` and
/// `client_secret` in the body (`client_secret_post`), never both (RFC 6749 section 2.3).
fn authenticate_client<'a>(
    provider: &'a Provider,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<&'a RelyingParty, OAuthError> {
    let body_client_id = params.get("client_id").map(String::as_str);
    let body_secret = params.get("client_secret").map(String::as_str);

    let (client_id, secret, used_basic) = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let (client_id, secret) =
                parse_basic(value).ok_or_else(|| OAuthError::invalid_client(true))?;
            if body_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "Use one client authentication method: HTTP Basic or client_secret in the body, not both",
                ));
            }
            if body_client_id.is_some_and(|body_id| body_id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            (client_id, secret, true)
        }
        None => match (body_client_id, body_secret) {
            (Some(client_id), Some(secret)) => (client_id.to_owned(), secret.to_owned(), false),
            _ => return Err(OAuthError::invalid_client(false)),
        },
    };

    let client = provider.client(&client_id);
    let secret_matches = client.is_some_and(|client| {
        let stored = Sha256::digest(client.client_secret.expose_secret().as_bytes());
        let given = Sha256::digest(secret.as_bytes());
        authbridge_oidc::pkce::constant_time_eq(&stored, &given)
    });
    match client {
        Some(client) if secret_matches => Ok(client),
        _ => {
            tracing::warn!(
                target: "authbridge::security",
                client_id = %client_id,
                "client authentication failed at the token endpoint"
            );
            Err(OAuthError::invalid_client(used_basic))
        }
    }
}

/// Decodes `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`
/// (RFC 6749 section 2.3.1).
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(credentials.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    Some((form_decode(client_id)?, form_decode(secret)?))
}

fn form_decode(value: &str) -> Option<String> {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

fn exchange_code(
    provider: &Provider,
    client: &RelyingParty,
    params: &HashMap<String, String>,
    faults: &Faults,
) -> Result<Value, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("The code parameter is missing"))?;
    let now = provider.clock().now();

    let grant = match provider.grants().redeem_code(code, now) {
        Redemption::Granted(grant) => grant,
        Redemption::Unknown => {
            return Err(OAuthError::invalid_grant(
                "The authorization code is invalid or has expired",
            ));
        }
        Redemption::Expired => {
            return Err(OAuthError::invalid_grant(
                "The authorization code has expired",
            ));
        }
        Redemption::Replayed { client_id } => {
            tracing::warn!(
                target: "authbridge::security",
                client_id = %client_id,
                "authorization code presented again; tokens issued from it are revoked"
            );
            return Err(OAuthError::invalid_grant(
                "The authorization code has already been used",
            ));
        }
    };
    check_code_binding(&grant, client, params)?;

    let account = account_of(provider, &grant.uid)?;
    let issue = Issue {
        account,
        client_id: &client.client_id,
        scope: &grant.scope,
        nonce: grant.nonce.as_deref(),
        auth_time: grant.auth_time,
    };
    issue_tokens(provider, &issue, RefreshToken::New { code }, faults)
}

/// Checks that the code was issued to this client for this redirect URI, and the PKCE
/// verifier.
fn check_code_binding(
    grant: &CodeGrant,
    client: &RelyingParty,
    params: &HashMap<String, String>,
) -> Result<(), OAuthError> {
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "The authorization code was issued to another client",
        ));
    }
    if params.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri is missing or differs from the one in the authorization request",
        ));
    }

    match (&grant.pkce, params.get("code_verifier")) {
        (None, None) => Ok(()),
        (Some(pkce), Some(verifier)) => {
            if authbridge_oidc::pkce::verify(&pkce.challenge, &pkce.method, verifier) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "code_verifier is missing; the authorization request had a code_challenge",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier was sent, but the authorization request had no code_challenge",
        )),
    }
}

fn refresh(
    provider: &Provider,
    client: &RelyingParty,
    params: &HashMap<String, String>,
    faults: &Faults,
) -> Result<Value, OAuthError> {
    let refresh_token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("The refresh_token parameter is missing"))?;
    let now = provider.clock().now();
    let grant = provider
        .grants()
        .refresh_token(refresh_token, now)
        .ok_or_else(|| OAuthError::invalid_grant("The refresh token is invalid or has expired"))?;
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "The refresh token was issued to another client",
        ));
    }

    let scope = match params.get("scope") {
        None => grant.scope.clone(),
        Some(requested) => narrow_scope(&grant.scope, requested)?,
    };

    let account = account_of(provider, &grant.uid)?;
    let issue = Issue {
        account,
        client_id: &client.client_id,
        scope: &scope,
        // A refreshed ID token keeps the original auth_time and carries no nonce, as
        // OpenID Connect Core 1.0 section 12.2 is read since its errata discussion.
        nonce: None,
        auth_time: grant.auth_time,
    };
    issue_tokens(provider, &issue, RefreshToken::Same(refresh_token), faults)
}

/// Returns the requested scopes, each of which must have been granted originally
/// (RFC 6749 section 6).
fn narrow_scope(granted: &[String], requested: &str) -> Result<Vec<String>, OAuthError> {
    let mut narrowed: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|scope| !scope.is_empty()) {
        if !granted.iter().any(|original| original == scope) {
            return Err(OAuthError::invalid_scope(format!(
                "The scope {scope} was not granted to this refresh token"
            )));
        }
        if !narrowed.iter().any(|seen| seen == scope) {
            narrowed.push(scope.to_owned());
        }
    }
    Ok(narrowed)
}

fn account_of<'a>(provider: &'a Provider, uid: &str) -> Result<&'a Account, OAuthError> {
    provider.accounts().by_uid(uid).ok_or_else(|| {
        tracing::error!(uid, "a grant refers to an account that does not exist");
        OAuthError::server_error("The account of this grant no longer exists")
    })
}

/// The account, client and scope that tokens are issued for.
struct Issue<'a> {
    account: &'a Account,
    client_id: &'a str,
    scope: &'a [String],
    nonce: Option<&'a str>,
    auth_time: i64,
}

/// The source of the refresh token in a token response.
enum RefreshToken<'a> {
    /// A new refresh token, recorded against the code it was issued from.
    New { code: &'a str },
    /// The refresh token the client presented.
    Same(&'a str),
}

fn issue_tokens(
    provider: &Provider,
    issue: &Issue<'_>,
    refresh_token: RefreshToken<'_>,
    faults: &Faults,
) -> Result<Value, OAuthError> {
    let now = provider.clock().now();
    let config = provider.config();
    let code = match refresh_token {
        RefreshToken::New { code } => Some(code),
        RefreshToken::Same(_) => None,
    };

    let access_grant = AccessGrant {
        uid: issue.account.uid.clone(),
        scope: issue.scope.to_vec(),
        expires_at: now + config.access_token_ttl,
    };
    let access_token = provider
        .grants()
        .insert_access_token(access_grant, code, now);

    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": config.access_token_ttl.num_seconds(),
    });

    if issue.scope.iter().any(|scope| scope == "openid") {
        let content = IdTokenContent {
            issuer: provider.issuer(),
            account: issue.account,
            client_id: issue.client_id,
            scope: issue.scope,
            nonce: issue.nonce,
            auth_time: issue.auth_time,
            access_token: &access_token,
            now: now.timestamp(),
            lifetime: config.access_token_ttl.num_seconds(),
        };
        let claims = id_token_claims(&content, faults);
        let id_token = provider.sign_id_token(&claims, faults).map_err(|error| {
            tracing::error!(%error, "signing an ID token failed");
            OAuthError::server_error("Signing the ID token failed")
        })?;
        body["id_token"] = json!(id_token);
    }

    if !faults.omit_refresh_token {
        let refresh_token = match refresh_token {
            RefreshToken::Same(token) => token.to_owned(),
            RefreshToken::New { code } => {
                let grant = RefreshGrant {
                    client_id: issue.client_id.to_owned(),
                    uid: issue.account.uid.clone(),
                    scope: issue.scope.to_vec(),
                    auth_time: issue.auth_time,
                    expires_at: now + config.refresh_token_ttl,
                };
                provider
                    .grants()
                    .insert_refresh_token(grant, Some(code), now)
            }
        };
        body["refresh_token"] = json!(refresh_token);
    }

    body["scope"] = json!(issue.scope.join(" "));
    tracing::info!(
        client_id = issue.client_id,
        uid = %issue.account.uid,
        "tokens issued"
    );
    Ok(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:s%3Acret+x");
        let header = HeaderValue::from_str(&format!("Basic {encoded}")).unwrap();
        assert_eq!(
            parse_basic(&header),
            Some(("my client".to_owned(), "s:cret x".to_owned()))
        );
    }

    #[test]
    fn non_basic_authorization_is_rejected() {
        let header = HeaderValue::from_static("Bearer abc");
        assert_eq!(parse_basic(&header), None);
    }

    #[test]
    fn narrowing_scope_rejects_new_scopes() {
        let granted = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(
            narrow_scope(&granted, "email").unwrap(),
            vec!["email".to_owned()]
        );
        assert!(narrow_scope(&granted, "openid profile").is_err());
    }
}

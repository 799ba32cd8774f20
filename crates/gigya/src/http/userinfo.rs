//! The userinfo endpoint (OpenID Connect Core 1.0 section 5.3).
//!
//! Only access tokens this provider issued are accepted, and only in the `Authorization:
//! Bearer` header. Anything else, an `st2.` authorization code included, gets `401` with
//! `WWW-Authenticate: Bearer error="invalid_token"`. CDC also returns `401` for a code used as
//! a bearer token.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::OAuthError;
use crate::provider::Provider;
use crate::tokens::user_claims;

/// `GET|POST /userinfo`.
pub(crate) async fn userinfo(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
) -> Response {
    match claims(&provider, &headers) {
        Ok(claims) => Json(claims).into_response(),
        Err(error) => error.into_response(),
    }
}

fn claims(provider: &Provider, headers: &HeaderMap) -> Result<Value, OAuthError> {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return Err(OAuthError::missing_bearer_token());
    };
    let token = authorization
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            OAuthError::invalid_token("The Authorization header is not a Bearer token")
        })?;

    let now = provider.clock().now();
    let Some(grant) = provider.grants().access_token(token, now) else {
        tracing::info!(
            looks_like_code = token.starts_with("st2."),
            "userinfo request with an unknown or expired access token"
        );
        return Err(OAuthError::invalid_token(
            "The access token is invalid or has expired",
        ));
    };

    let account = provider.accounts().by_uid(&grant.uid).ok_or_else(|| {
        tracing::error!(uid = %grant.uid, "an access token refers to an account that does not exist");
        OAuthError::invalid_token("The account of this access token no longer exists")
    })?;
    Ok(Value::Object(user_claims(account, &grant.scope)))
}

//! `GET|POST /userinfo`: the user's claims for an access token issued with `openid`.
//!
//! The response holds `sub`, the profile claims the granted scopes release, and the custom
//! claims actions set on the ID token, as Auth0 adds them here too.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Broker;
use crate::tokens::{profile_claims, token_hash};

pub(crate) async fn userinfo(State(broker): State<Broker>, headers: HeaderMap) -> Response {
    let Some(token) = bearer_token(&headers) else {
        return unauthorized("invalid_request", "Missing access token");
    };
    match claims_for(&broker, token).await {
        Ok(claims) => Json(claims).into_response(),
        Err(response) => response,
    }
}

async fn claims_for(broker: &Broker, token: &str) -> Result<Value, Response> {
    let settings = broker.settings();
    let audience = settings.userinfo_audience();
    crate::management::verify_access_token(broker, token, &audience)
        .map_err(|_| unauthorized("invalid_token", "The access token is invalid or expired"))?;

    let grant = match broker.store().userinfo_grant(&token_hash(token)).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            return Err(unauthorized(
                "invalid_token",
                "The access token is invalid or expired",
            ));
        }
        Err(error) => {
            tracing::error!(%error, "loading a userinfo grant failed");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    let scopes = authbridge_core::claims::split_scopes(&grant.scope);
    if !scopes.iter().any(|scope| scope == "openid") {
        return Err(unauthorized(
            "insufficient_scope",
            "The access token was not granted the openid scope",
        ));
    }
    let user = match broker.store().user(&grant.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(unauthorized("invalid_token", "The user no longer exists")),
        Err(error) => {
            tracing::error!(%error, "loading a user failed");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };

    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(user.user_id));
    claims.extend(profile_claims(&user, &scopes));
    for (name, value) in grant.custom_claims {
        claims.entry(name).or_insert(value);
    }
    Ok(Value::Object(claims))
}

pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

fn unauthorized(error: &str, description: &str) -> Response {
    let challenge = format!(
        "Bearer realm=\"authbridge\", error=\"{error}\", error_description=\"{description}\""
    );
    let mut response = (StatusCode::UNAUTHORIZED, description.to_owned()).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

//! `POST /oauth/token`: the `authorization_code` and `client_credentials` grants.
//!
//! Codes are removed from the store when they are presented, before any check, so a code
//! is redeemed at most once even when the request fails (RFC 6749, section 4.1.2).

use std::collections::HashMap;

use authbridge_core::claims::split_scopes;
use authbridge_core::model::Client;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Broker;
use crate::client_auth::authenticate;
use crate::error::OAuthError;
use crate::tokens::{self, TokenResponse};

pub(crate) async fn token(
    State(broker): State<Broker>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&broker, &headers, &body).await {
        Ok(response) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(response),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(
    broker: &Broker,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let form = parse_body(headers, body)?;
    let grant_type = form
        .get("grant_type")
        .filter(|grant_type| !grant_type.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: grant_type"))?
        .clone();
    let client = authenticate(broker, headers, &form).await?;

    match grant_type.as_str() {
        "authorization_code" => authorization_code(broker, &client, &form).await,
        "client_credentials" => client_credentials(broker, &client, &form).await,
        other => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Unsupported grant type: {other}"),
        )),
    }
}

/// Reads a form-encoded or JSON body into string parameters.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();

    if content_type.starts_with("application/json") {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|_| OAuthError::invalid_request("The request body is not a JSON object."))?;
        return Ok(value
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(text) => Some((name, text)),
                serde_json::Value::Number(number) => Some((name, number.to_string())),
                serde_json::Value::Bool(flag) => Some((name, flag.to_string())),
                _ => None,
            })
            .collect());
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut form = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if form.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter {name} is repeated."
                )));
            }
        }
        return Ok(form);
    }
    Err(OAuthError::invalid_request(
        "The request body must be application/x-www-form-urlencoded or application/json.",
    ))
}

async fn authorization_code(
    broker: &Broker,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    let code_value = form
        .get("code")
        .filter(|code| !code.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: code"))?;
    let Some(code) = broker.store().take_code(code_value).await? else {
        tracing::warn!(target: "authbridge::security", client_id = %client.client_id, "unknown or reused authorization code");
        return Err(OAuthError::invalid_grant("Invalid authorization code"));
    };

    if code.client_id != client.client_id {
        tracing::warn!(target: "authbridge::security", client_id = %client.client_id, "authorization code presented by another client");
        return Err(OAuthError::invalid_grant("Invalid authorization code"));
    }
    if broker.inner.clock.now() >= code.expires_at {
        return Err(OAuthError::invalid_grant("Invalid authorization code"));
    }
    match form.get("redirect_uri") {
        Some(redirect_uri) if *redirect_uri == code.redirect_uri => {}
        Some(_) => {
            return Err(OAuthError::invalid_grant(
                "The redirect_uri does not match the one of the authorization request.",
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: redirect_uri",
            ));
        }
    }
    let verifier = form.get("code_verifier");
    match (&code.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !authbridge_oidc::pkce::verify(&challenge.challenge, &challenge.method, verifier) {
                tracing::warn!(target: "authbridge::security", client_id = %client.client_id, "wrong PKCE code_verifier");
                return Err(OAuthError::invalid_grant("Failed to verify code verifier"));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "Missing code_verifier for a code issued with a code_challenge",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier sent for a code issued without a code_challenge",
            ));
        }
        (None, None) => {}
    }

    let user = broker
        .store()
        .user(&code.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The user of this code no longer exists."))?;
    if user.blocked {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "unauthorized",
            "user is blocked",
        ));
    }
    Ok(tokens::issue_for_code(broker, &code, &user).await?)
}

async fn client_credentials(
    broker: &Broker,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, OAuthError> {
    if !client.is_confidential() {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        ));
    }
    let audience = form
        .get("audience")
        .filter(|audience| !audience.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: audience"))?;
    let Some(api) = broker.store().resource_server(audience).await? else {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Service not found: {audience}"),
        ));
    };
    let Some(grant) = broker
        .store()
        .client_grant(&client.client_id, audience)
        .await?
    else {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!(
                "Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API."
            ),
        ));
    };

    let scopes: Vec<String> = match form.get("scope").filter(|scope| !scope.trim().is_empty()) {
        None => grant.scope.clone(),
        Some(requested) => {
            let requested = split_scopes(requested);
            if let Some(missing) = requested.iter().find(|scope| !grant.scope.contains(scope)) {
                return Err(OAuthError::new(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    format!("Client has not been granted scopes: {missing}"),
                ));
            }
            requested
        }
    };
    Ok(tokens::issue_client_credentials(
        broker,
        &client.client_id,
        &api,
        &scopes.join(" "),
    )?)
}

//! Client authentication at the token endpoint: `client_secret_basic`, `client_secret_post`,
//! or none for public clients, which prove possession with PKCE instead.

use std::collections::HashMap;

use authbridge_core::model::Client;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Broker;
use crate::error::OAuthError;

/// Authenticates the client of a token request and returns it.
pub(crate) async fn authenticate(
    broker: &Broker,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let form_id = form.get("client_id").filter(|id| !id.is_empty());
    let form_secret = form
        .get("client_secret")
        .filter(|secret| !secret.is_empty());
    if basic.is_some() && form_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "Use only one client authentication method.",
        ));
    }

    let (client_id, secret) = match (&basic, form_id) {
        (Some((id, secret)), form_id) => {
            if form_id.is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the authenticated client.",
                ));
            }
            (id.clone(), Some(secret.clone()))
        }
        (None, Some(id)) => (id.clone(), form_secret.cloned()),
        (None, None) => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: client_id",
            ));
        }
    };

    let Some(client) = broker.store().client(&client_id).await? else {
        tracing::warn!(target: "authbridge::security", %client_id, "token request from unknown client");
        return Err(OAuthError::unauthorized_client_credentials());
    };

    match (&client.client_secret, secret) {
        (Some(expected), Some(given)) if client.is_confidential() => {
            if authbridge_oidc::pkce::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
                Ok(client)
            } else {
                tracing::warn!(target: "authbridge::security", %client_id, "token request with wrong client secret");
                Err(OAuthError::unauthorized_client_credentials())
            }
        }
        (_, None) if !client.is_confidential() => Ok(client),
        (_, None) => {
            tracing::warn!(target: "authbridge::security", %client_id, "confidential client sent no secret");
            Err(OAuthError::unauthorized_client_credentials())
        }
        (_, Some(_)) => {
            tracing::warn!(target: "authbridge::security", %client_id, "public client sent a secret");
            Err(OAuthError::unauthorized_client_credentials())
        }
    }
}

/// Reads `Authorization: Basic` credentials, form-decoding both parts (RFC 6749, 2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid =
        || OAuthError::invalid_request("The Authorization header is not valid Basic credentials.");
    let value = value.to_str().map_err(|_| invalid())?;
    // The scheme name is case-insensitive (RFC 9110, section 11.1).
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    let decode = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((decode(id), decode(secret))))
}

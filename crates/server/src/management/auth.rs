//! The caller of the Management API and the scopes its token carries.
//!
//! Callers present a client-credentials access token the broker issued for the audience
//! `{issuer}api/v2/`. The rate-limit middleware verifies it once per request, before the
//! handler runs, and stores the outcome in the request's extensions. Handlers take a
//! [`Caller`] from there and check the scopes their endpoint needs.

use authbridge_oidc::jwt::{self, Expectations, JwtError};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use super::error::ManagementError;
use crate::Broker;
use crate::userinfo::bearer_token;

pub(super) const READ_USERS: &str = "read:users";
/// Lets a user's own access token read that user's profile, without upstream tokens.
pub(super) const READ_CURRENT_USER: &str = "read:current_user";
pub(super) const UPDATE_USERS: &str = "update:users";
pub(super) const UPDATE_USERS_APP_METADATA: &str = "update:users_app_metadata";
pub(super) const DELETE_USERS: &str = "delete:users";
/// Releases upstream tokens in the identities of returned users.
pub(super) const READ_USER_IDP_TOKENS: &str = "read:user_idp_tokens";

/// Verifies an access token the broker issued for `audience` and returns its claims.
pub(crate) fn verify_access_token(
    broker: &Broker,
    token: &str,
    audience: &str,
) -> Result<Map<String, Value>, JwtError> {
    let (kid, _) = jwt::peek_header(token)?;
    let keys = broker.inner.keys.verification_keys();
    let key = keys
        .iter()
        .find(|key| key.common.key_id.as_deref() == kid.as_deref())
        .ok_or(JwtError::UnknownKey(kid))?;
    let expectations = Expectations {
        issuer: &broker.settings().issuer,
        audience,
        now: broker.inner.clock.unix(),
        leeway: 0,
    };
    jwt::verify(token, key, &expectations)
}

/// The client behind a verified Management API token.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    client_id: String,
    /// The user a user access token was issued to; `None` for client-credentials tokens.
    user_id: Option<String>,
    scopes: Vec<String>,
}

impl Caller {
    pub(super) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Tells whether this is a user's own token, with `read:current_user`, for `user_id`.
    pub(super) fn is_current_user(&self, user_id: &str) -> bool {
        self.has(READ_CURRENT_USER) && self.user_id.as_deref() == Some(user_id)
    }

    pub(super) fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|held| held == scope)
    }

    /// Fails with `insufficient_scope` unless the token has one of `scopes`.
    pub(super) fn require_any(&self, scopes: &[&str]) -> Result<(), ManagementError> {
        if scopes.iter().any(|scope| self.has(scope)) {
            return Ok(());
        }
        tracing::info!(
            target: "authbridge::security",
            client_id = %self.client_id,
            expected = %scopes.join(","),
            "Management API request denied for insufficient scope"
        );
        Err(ManagementError::insufficient_scope(scopes))
    }
}

/// The outcome of verifying a request's token, kept in the request's extensions.
#[derive(Debug, Clone)]
pub(super) struct Authentication(pub(super) Result<Caller, ManagementError>);

/// Verifies the bearer token of a Management API request.
pub(super) fn authenticate(
    broker: &Broker,
    headers: &HeaderMap,
) -> Result<Caller, ManagementError> {
    let token = bearer_token(headers).ok_or_else(ManagementError::missing_authentication)?;
    let claims = verify_access_token(broker, token, &broker.settings().management_audience())
        .map_err(|error| {
            tracing::warn!(target: "authbridge::security", %error, "Management API token rejected");
            ManagementError::invalid_token(auth0_token_message(&error))
        })?;

    let scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(authbridge_core::claims::split_scopes)
        .unwrap_or_default();
    let client_id = claims
        .get("azp")
        .and_then(Value::as_str)
        .or_else(|| {
            claims
                .get("sub")
                .and_then(Value::as_str)
                .map(|sub| sub.strip_suffix("@clients").unwrap_or(sub))
        })
        .unwrap_or_default()
        .to_owned();
    let user_id = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.ends_with("@clients"))
        .map(str::to_owned);
    // A user's own token counts only for scopes about that user, whatever it carries, so no
    // token minted by a login can administer other users.
    let scopes = match user_id {
        Some(_) => scopes
            .into_iter()
            .filter(|scope| crate::tokens::CURRENT_USER_SCOPES.contains(&scope.as_str()))
            .collect(),
        None => scopes,
    };
    Ok(Caller {
        client_id,
        user_id,
        scopes,
    })
}

/// Returns Auth0's message for a rejected token.
fn auth0_token_message(error: &JwtError) -> &'static str {
    match error {
        JwtError::Expired { .. } => "Expired token",
        JwtError::AudienceMismatch { .. } => "Bad audience",
        _ => "Invalid token",
    }
}

impl FromRequestParts<Broker> for Caller {
    type Rejection = ManagementError;

    async fn from_request_parts(parts: &mut Parts, _: &Broker) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authentication>() {
            Some(Authentication(outcome)) => outcome.clone(),
            None => Err(ManagementError::internal(
                "reading the Management API caller",
                &"the authentication middleware did not run",
            )),
        }
    }
}

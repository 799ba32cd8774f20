//! Management API v2: the endpoints served so far.
//!
//! Callers present a client-credentials access token for the audience `{issuer}api/v2/`;
//! each endpoint checks the scopes it needs. Errors use the Management API's shape
//! `{statusCode, error, message, errorCode}`. Upstream tokens appear in a user's identities
//! only when the caller's token has the scope `read:user_idp_tokens`; otherwise the keys are absent.

use authbridge_core::model::User;
use authbridge_oidc::jwt::{self, Expectations};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::Broker;
use crate::login::iso;
use crate::userinfo::bearer_token;

/// Verifies an access token the broker issued for `audience` and returns its claims.
pub(crate) fn verify_access_token(
    broker: &Broker,
    token: &str,
    audience: &str,
) -> Result<Map<String, Value>, jwt::JwtError> {
    let (kid, _) = jwt::peek_header(token)?;
    let keys = broker.inner.keys.verification_keys();
    let key = keys
        .iter()
        .find(|key| key.common.key_id.as_deref() == kid.as_deref())
        .ok_or(jwt::JwtError::UnknownKey(kid))?;
    let expectations = Expectations {
        issuer: &broker.settings().issuer,
        audience,
        now: broker.inner.clock.unix(),
        leeway: 0,
    };
    jwt::verify(token, key, &expectations)
}

/// A Management API error.
pub(crate) struct ManagementError {
    status: StatusCode,
    message: String,
    error_code: &'static str,
}

impl ManagementError {
    fn new(status: StatusCode, message: impl Into<String>, error_code: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            error_code,
        }
    }
}

impl IntoResponse for ManagementError {
    fn into_response(self) -> Response {
        let body = json!({
            "statusCode": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
            "errorCode": self.error_code,
        });
        (self.status, Json(body)).into_response()
    }
}

/// The scopes of a verified Management API token.
struct Caller {
    scopes: Vec<String>,
}

impl Caller {
    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|held| held == scope)
    }

    fn require_any(&self, scopes: &[&str]) -> Result<(), ManagementError> {
        if scopes.iter().any(|scope| self.has(scope)) {
            return Ok(());
        }
        Err(ManagementError::new(
            StatusCode::FORBIDDEN,
            format!("Insufficient scope, expected any of: {}", scopes.join(",")),
            "insufficient_scope",
        ))
    }
}

fn authorize_caller(broker: &Broker, headers: &HeaderMap) -> Result<Caller, ManagementError> {
    let token = bearer_token(headers).ok_or_else(|| {
        ManagementError::new(
            StatusCode::UNAUTHORIZED,
            "Missing authentication",
            "missing_authentication",
        )
    })?;
    let claims = verify_access_token(broker, token, &broker.settings().management_audience())
        .map_err(|error| {
            tracing::warn!(target: "authbridge::security", %error, "Management API token rejected");
            ManagementError::new(StatusCode::UNAUTHORIZED, "Invalid token", "invalid_token")
        })?;
    let scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(authbridge_core::claims::split_scopes)
        .unwrap_or_default();
    Ok(Caller { scopes })
}

/// `GET /api/v2/users/{id}`.
pub(crate) async fn get_user(
    State(broker): State<Broker>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, ManagementError> {
    let caller = authorize_caller(&broker, &headers)?;
    caller.require_any(&["read:users", "read:user_idp_tokens"])?;

    let user = broker.store().user(&user_id).await.map_err(|error| {
        tracing::error!(%error, "loading a user failed");
        ManagementError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "internal_error",
        )
    })?;
    let user = user.ok_or_else(|| {
        ManagementError::new(
            StatusCode::NOT_FOUND,
            "The user does not exist.",
            "inexistent_user",
        )
    })?;
    let with_tokens = caller.has("read:user_idp_tokens");
    if with_tokens {
        tracing::info!(target: "authbridge::security", user_id = %user.user_id, "upstream tokens read through the Management API");
    }
    Ok(Json(user_json(
        &user,
        with_tokens,
        broker.inner.clock.now(),
    )))
}

/// Renders a user as the Management API returns it.
pub(crate) fn user_json(
    user: &User,
    with_tokens: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let identities: Vec<Value> = user
        .identities
        .iter()
        .map(|identity| {
            let mut value = json!({
                "provider": identity.provider,
                "user_id": identity.user_id,
                "connection": identity.connection,
                "isSocial": identity.is_social,
            });
            if with_tokens && let Some(object) = value.as_object_mut() {
                let tokens = &identity.tokens;
                if let Some(access_token) = &tokens.access_token {
                    object.insert("access_token".into(), json!(access_token));
                }
                if let Some(refresh_token) = &tokens.refresh_token {
                    object.insert("refresh_token".into(), json!(refresh_token));
                }
                if let Some(expires_at) = tokens.expires_at {
                    object.insert(
                        "expires_in".into(),
                        json!((expires_at - now).num_seconds().max(0)),
                    );
                }
            }
            value
        })
        .collect();

    let mut body = Map::new();
    body.insert("user_id".into(), json!(user.user_id));
    let optional = [
        ("email", &user.email),
        ("name", &user.name),
        ("given_name", &user.given_name),
        ("family_name", &user.family_name),
        ("nickname", &user.nickname),
        ("picture", &user.picture),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    body.insert("email_verified".into(), json!(user.email_verified));
    body.insert("identities".into(), Value::Array(identities));
    body.insert(
        "app_metadata".into(),
        Value::Object(user.app_metadata.clone()),
    );
    body.insert(
        "user_metadata".into(),
        Value::Object(user.user_metadata.clone()),
    );
    body.insert("created_at".into(), json!(iso(user.created_at)));
    body.insert("updated_at".into(), json!(iso(user.updated_at)));
    if let Some(last_login) = user.last_login {
        body.insert("last_login".into(), json!(iso(last_login)));
    }
    body.insert("logins_count".into(), json!(user.logins_count));
    if user.blocked {
        body.insert("blocked".into(), json!(true));
    }
    Value::Object(body)
}

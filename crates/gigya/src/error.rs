//! Errors of the provider and the wire shapes they are rendered in.
//!
//! Three shapes reach clients: OAuth errors `{"error", "error_description"}` from `token` and
//! `userinfo` (RFC 6749 section 5.2, RFC 6750 section 3), HTML error pages from `authorize`
//! and `login`, and the Gigya REST envelope for an unknown API key.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::accounts::AccountsError;

/// Failures to build or run a [`crate::Provider`].
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("invalid provider configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Key(#[from] authbridge_oidc::KeyError),
    #[error("signing a token without a key id failed: {0}")]
    SignWithoutKeyId(String),
}

/// An OAuth 2.0 error response with a JSON body.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    www_authenticate: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            www_authenticate: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Builds the error of a failed client authentication. `used_basic` adds the `WWW-Authenticate: Basic`
    /// challenge that RFC 6749 section 5.2 requires when the client sent an
    /// `Authorization` header.
    pub(crate) fn invalid_client(used_basic: bool) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: unknown client or wrong client secret",
        );
        if used_basic {
            error.www_authenticate = Some("Basic realm=\"token\"".to_owned());
        }
        error
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub(crate) fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type {grant_type:?} is not supported; use authorization_code or refresh_token"
            ),
        )
    }

    pub(crate) fn server_error(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    /// Builds a bearer token error (RFC 6750 section 3.1): `401` with the error repeated in
    /// the `WWW-Authenticate` header.
    pub(crate) fn invalid_token(description: &'static str) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description);
        error.www_authenticate = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{description}\""
        ));
        error
    }

    /// Builds the error for a request without credentials: `401` with a bare `Bearer`
    /// challenge, because RFC 6750 section 3.1 leaves out the error code in that case.
    pub(crate) fn missing_bearer_token() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "An access token is required in the Authorization header: Bearer <token>",
        );
        error.www_authenticate = Some("Bearer".to_owned());
        error
    }

    /// Builds the error for a status injected by a test. The OAuth error code follows the
    /// status.
    pub(crate) fn injected(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            401 => "invalid_client",
            400..=499 => "invalid_request",
            503 => "temporarily_unavailable",
            _ => "server_error",
        };
        Self::new(
            status,
            code,
            format!(
                "Injected token endpoint failure with status {}",
                status.as_u16()
            ),
        )
    }

    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    pub(crate) fn description(&self) -> &str {
        &self.description
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self.www_authenticate
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Returns the response to a request for an API key this provider does not serve: HTTP `404`
/// with the Gigya error envelope of error code 400093. The envelope's `statusCode` is `400`,
/// because that is the status Gigya assigns to 400093; the HTTP status is `404` because no
/// provider exists at the path.
pub(crate) fn unknown_api_key(now: DateTime<Utc>) -> Response {
    let body = json!({
        "callId": authbridge_core::random::hex(16),
        "errorCode": 400093,
        "errorMessage": "Invalid ApiKey parameter",
        "apiVersion": 2,
        "statusCode": 400,
        "statusReason": "Bad Request",
        "time": now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

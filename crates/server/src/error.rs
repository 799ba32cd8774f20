//! Errors and their wire shapes.
//!
//! A [`ServerError`] is an internal failure: it is logged with its detail and returned with
//! a generic message. An [`OAuthError`] is a protocol error the client caused or must handle,
//! returned as `{error, error_description}` with the HTTP status RFC 6749 gives it.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Internal failures of the broker.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] authbridge_store::StoreError),
    #[error(transparent)]
    Key(#[from] authbridge_oidc::KeyError),
    #[error("the store holds signing keys but none is marked current")]
    NoCurrentKey,
    #[error("writing captures failed: {0}")]
    Capture(#[from] std::io::Error),
}

/// An OAuth 2.0 error returned as JSON.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// Returns Auth0's error for an unknown client or a wrong client secret.
    pub(crate) fn unauthorized_client_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized")
    }

    pub(crate) fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The server failed to process the request.",
        )
    }
}

impl From<ServerError> for OAuthError {
    fn from(error: ServerError) -> Self {
        tracing::error!(%error, "request failed");
        Self::server_error()
    }
}

impl From<authbridge_store::StoreError> for OAuthError {
    fn from(error: authbridge_store::StoreError) -> Self {
        ServerError::from(error).into()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"authbridge\""),
            );
        }
        response
    }
}

//! Management API errors and their wire shape.
//!
//! Every error is sent as `{statusCode, error, message, errorCode}`, the shape Auth0's
//! Management API v2 uses; token errors also repeat the message under `attributes.error`, as
//! Auth0 does. The `errorCode` values are part of the API contract: clients branch on them.
//! Internal failures are logged with their detail and returned with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Maximum `page * per_page + per_page`: Auth0 serves only the first 1000 results of a search.
pub(super) const MAX_PAGED_RESULTS: usize = 1000;

/// A Management API error response.
#[derive(Debug, Clone)]
pub(crate) struct ManagementError {
    status: StatusCode,
    message: String,
    error_code: &'static str,
    /// Whether to repeat the message under `attributes.error`.
    with_attributes: bool,
}

impl ManagementError {
    fn new(status: StatusCode, message: impl Into<String>, error_code: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            error_code,
            with_attributes: false,
        }
    }

    /// Creates the `401` for a request without a bearer token.
    pub(super) fn missing_authentication() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Missing authentication",
            "missing_authentication",
        )
    }

    /// Creates the `401` for a bearer token that failed verification, with Auth0's `message`
    /// for the reason.
    pub(super) fn invalid_token(message: &'static str) -> Self {
        Self {
            with_attributes: true,
            ..Self::new(StatusCode::UNAUTHORIZED, message, "invalid_token")
        }
    }

    /// Creates the `403` for a token that has none of the `expected` scopes.
    pub(super) fn insufficient_scope(expected: &[&str]) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!(
                "Insufficient scope, expected any of: {}",
                expected.join(",")
            ),
            "insufficient_scope",
        )
    }

    /// Creates the `400` for a query string parameter that is missing, unknown or invalid.
    pub(super) fn invalid_query(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Query validation error: {detail}."),
            "invalid_query_string",
        )
    }

    /// Creates the `400` for a page past the results a search may page through.
    pub(super) fn invalid_paging() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!(
                "You can only page through the first {MAX_PAGED_RESULTS} records. \
                 See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
            ),
            "invalid_paging",
        )
    }

    /// Creates the `400` for a body that is not JSON or does not fit the endpoint's schema.
    pub(super) fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, "invalid_body")
    }

    /// Creates the error for a body rejected before it was read, for example as too large.
    pub(super) fn unreadable_body(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, message, "invalid_body")
    }

    /// Creates the `404` for a user id that no user has.
    pub(super) fn inexistent_user() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "The user does not exist.",
            "inexistent_user",
        )
    }

    /// Creates the `404` for a method and path under `/api/v2` that no endpoint serves.
    pub(super) fn unknown_endpoint(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("No Management API endpoint serves {method} {path}."),
            "not_found",
        )
    }

    /// Creates the `429` for a client that spent its rate limit.
    pub(super) fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Global limit has been reached",
            "too_many_requests",
        )
    }

    /// Logs an internal failure with `context` and returns the generic `500` response.
    pub(super) fn internal(context: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "{context} failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "internal_error",
        )
    }
}

impl From<authbridge_store::StoreError> for ManagementError {
    fn from(error: authbridge_store::StoreError) -> Self {
        Self::internal("a store operation of the Management API", &error)
    }
}

impl IntoResponse for ManagementError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("statusCode".into(), json!(self.status.as_u16()));
        body.insert(
            "error".into(),
            json!(self.status.canonical_reason().unwrap_or("Error")),
        );
        body.insert("message".into(), json!(self.message));
        body.insert("errorCode".into(), json!(self.error_code));
        if self.with_attributes {
            body.insert("attributes".into(), json!({ "error": self.message }));
        }
        (self.status, Json(Value::Object(body))).into_response()
    }
}

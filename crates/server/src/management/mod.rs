//! Management API v2: the users endpoints.
//!
//! Served under `/api/v2`, following Auth0's Management API v2 for users:
//!
//! - `GET /users` (`read:users`): search with a Lucene subset in `q`, paging, totals,
//!   sorting and field selection;
//! - `GET /users/{id}` (`read:users`), `PATCH /users/{id}` (`update:users`, or
//!   `update:users_app_metadata` for a body that changes only metadata) and
//!   `DELETE /users/{id}` (`delete:users`);
//! - `GET /users-by-email` (`read:users`).
//!
//! Every request passes [`rate_limit::guard`], which verifies the bearer token and charges the
//! client's rate-limit bucket, before the handler checks scopes. Errors have Auth0's shape
//! `{statusCode, error, message, errorCode}`, including `404` for paths and methods no
//! endpoint serves. Upstream tokens appear in identities only for tokens holding
//! `read:user_idp_tokens`.
//!
//! - `auth`: token verification, the [`auth::Caller`] and its scopes.
//! - `error`: the error shape and Auth0's error codes.
//! - `params`: query string parameters, paging and sorting.
//! - `render`: users as JSON, field selection and the upstream token release.
//! - `rate_limit`: the per-client token bucket and its headers.
//! - `users_read`, `users_write`: the handlers.

mod auth;
mod error;
mod params;
mod rate_limit;
mod render;
mod users_read;
mod users_write;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::Method;
use axum::middleware;
use axum::routing::{any, get};

pub(crate) use auth::verify_access_token;
pub(crate) use error::ManagementError;
pub use rate_limit::RateLimit;
pub(crate) use rate_limit::RateLimiter;
pub use render::user_json;

use crate::Broker;

/// Returns the router of every path under `/api/v2`, with the rate-limit middleware.
pub(crate) fn router(broker: &Broker) -> Router<Broker> {
    Router::new()
        .route("/api/v2/users", get(users_read::list_users))
        .route(
            "/api/v2/users/{id}",
            get(users_read::get_user)
                .patch(users_write::patch_user)
                .delete(users_write::delete_user),
        )
        .route("/api/v2/users-by-email", get(users_read::users_by_email))
        .route("/api/v2", any(unknown_endpoint))
        .route("/api/v2/", any(unknown_endpoint))
        .route("/api/v2/{*rest}", any(unknown_endpoint))
        .method_not_allowed_fallback(unknown_endpoint)
        .layer(middleware::from_fn_with_state(
            broker.clone(),
            rate_limit::guard,
        ))
}

/// Returns the `404` for a path or method that no Management API endpoint serves.
async fn unknown_endpoint(method: Method, OriginalUri(uri): OriginalUri) -> ManagementError {
    ManagementError::unknown_endpoint(method.as_str(), uri.path())
}

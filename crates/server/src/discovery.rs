//! The well-known documents.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::Broker;

pub(crate) async fn openid_configuration(State(broker): State<Broker>) -> impl IntoResponse {
    Json(authbridge_oidc::discovery::document(
        &broker.settings().issuer,
    ))
}

pub(crate) async fn jwks(State(broker): State<Broker>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=15")],
        Json(broker.inner.keys.jwks()),
    )
}

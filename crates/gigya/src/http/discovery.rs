//! Discovery document and JWKS (OpenID Connect Discovery 1.0).
//!
//! No public copy of a CDC discovery document was available, so the document lists what this
//! provider implements, with the endpoint paths, scopes and claims that CDC sites are known to
//! publish (`uid` among them).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::provider::Provider;
use crate::tokens::SUPPORTED_SCOPES;

/// `GET /.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(State(provider): State<Arc<Provider>>) -> Json<Value> {
    Json(document(provider.issuer()))
}

/// `GET /.well-known/jwks`.
pub(crate) async fn jwks(State(provider): State<Arc<Provider>>) -> Json<Value> {
    Json(provider.jwks())
}

/// Returns the discovery document of `issuer`, which has no trailing slash.
fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": SUPPORTED_SCOPES,
        "claims_supported": [
            "sub", "name", "given_name", "family_name", "email", "email_verified", "uid",
            "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

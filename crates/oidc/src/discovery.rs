//! The discovery document (OpenID Connect Discovery 1.0), in the shape Auth0 publishes.

use serde_json::{Value, json};

/// Returns the discovery document of the provider whose issuer is `issuer`.
///
/// `issuer` ends with a slash, as Auth0's does, and every endpoint is that issuer followed by
/// a path without a leading slash, so no URL contains `//`.
pub fn document(issuer: &str) -> Value {
    let endpoint = |path: &str| format!("{issuer}{path}");
    json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint("authorize"),
        "token_endpoint": endpoint("oauth/token"),
        "userinfo_endpoint": endpoint("userinfo"),
        "jwks_uri": endpoint(".well-known/jwks.json"),
        "scopes_supported": [
            "openid", "profile", "name", "given_name", "family_name",
            "nickname", "email", "email_verified", "picture", "created_at", "identities",
        ],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": [
            "aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name",
            "given_name", "iat", "identities", "iss", "name", "nickname", "picture", "sub",
        ],
        "request_uri_parameter_supported": false,
        "request_parameter_supported": false,
    })
}

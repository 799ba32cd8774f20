//! The HTTP surface: routes under `/oidc/op/v1.0/{apiKey}` and the checks they share.
//!
//! - [`discovery`]: `/.well-known/openid-configuration` and `/.well-known/jwks`.
//! - [`authorize`]: `/authorize` (GET and POST) and the login form target `/login`.
//! - [`token`]: `/token`, the `authorization_code` and `refresh_token` grants.
//! - [`userinfo`]: `/userinfo` (GET and POST) with a bearer access token.
//!
//! A request for another API key than the configured one gets `404` with the Gigya error
//! envelope of error code 400093.

mod authorize;
mod discovery;
mod token;
mod userinfo;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::config::OP_BASE_PATH;
use crate::provider::Provider;

/// Builds the router of `provider`.
pub(crate) fn router(provider: Arc<Provider>) -> Router {
    let base = format!("{OP_BASE_PATH}/{{apiKey}}");
    Router::new()
        .route(
            &format!("{base}/.well-known/openid-configuration"),
            get(discovery::openid_configuration),
        )
        .route(&format!("{base}/.well-known/jwks"), get(discovery::jwks))
        .route(
            &format!("{base}/authorize"),
            get(authorize::authorize).post(authorize::authorize),
        )
        .route(&format!("{base}/login"), post(authorize::login))
        .route(&format!("{base}/token"), post(token::token))
        .route(
            &format!("{base}/userinfo"),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&provider),
            require_known_api_key,
        ))
        .with_state(provider)
}

/// Rejects requests for an API key other than the configured one with the Gigya envelope.
async fn require_known_api_key(
    State(provider): State<Arc<Provider>>,
    Path(api_key): Path<String>,
    request: Request,
    next: Next,
) -> Response {
    if api_key != provider.api_key() {
        tracing::debug!(api_key = %api_key, "request for an unknown API key");
        return crate::error::unknown_api_key(provider.clock().now());
    }
    next.run(request).await
}

/// Collects form or query pairs into a map. Returns the name of the first repeated
/// parameter as the error, because RFC 6749 section 3.1 forbids repeating one.
pub(crate) fn unique_params(
    pairs: Vec<(String, String)>,
) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if params.contains_key(&name) {
            return Err(name);
        }
        params.insert(name, value);
    }
    Ok(params)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameter_is_named() {
        let pairs = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "3".to_owned()),
        ];
        assert_eq!(unique_params(pairs), Err("a".to_owned()));
    }
}

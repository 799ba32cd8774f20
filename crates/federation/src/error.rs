//! Why an upstream login failed.
//!
//! Messages name what went wrong and with which endpoint, never a token, code or secret, so
//! they are safe to log. The broker maps each kind to the OAuth error it returns to its own
//! client.

use authbridge_oidc::jwt::JwtError;

/// Failures of the upstream relying party.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("creating the upstream HTTP client failed: {0}")]
    Setup(String),
    #[error("upstream {endpoint} is unreachable: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("upstream discovery document at {url} is invalid: {reason}")]
    InvalidDiscovery { url: String, reason: String },
    #[error("upstream JWKS at {url} is invalid: {reason}")]
    InvalidJwks { url: String, reason: String },
    #[error("upstream token endpoint rejected the code exchange with HTTP {status}: {error}")]
    TokenRejected {
        status: u16,
        error: String,
        description: Option<String>,
    },
    #[error("upstream token response is invalid: {0}")]
    InvalidTokenResponse(String),
    #[error("upstream ID token is invalid: {0}")]
    InvalidIdToken(#[from] JwtError),
    #[error("upstream ID token nonce does not match the one sent with the authorization request")]
    NonceMismatch,
    #[error("upstream ID token at_hash does not match the access token")]
    AccessTokenHashMismatch,
}

impl FederationError {
    /// Tells whether the upstream could not be reached or responded with a server error, as
    /// opposed to rejecting the login.
    pub fn is_upstream_unavailable(&self) -> bool {
        match self {
            FederationError::Unreachable { .. } => true,
            FederationError::TokenRejected { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

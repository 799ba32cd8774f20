//! The broker as a relying party of upstream OpenID providers (connection strategy `oidc`).
//!
//! The broker runs its own authorization-code flow with each upstream: its own state, nonce
//! and PKCE verifier, a back-channel code exchange, and full ID token validation (signature
//! through the upstream JWKS, `iss`, `aud`, `exp`, `nonce`, and `at_hash` when present).
//!
//! This is written on `reqwest` and `jsonwebtoken` rather than the `openidconnect` crate.
//! The broker needs a JWKS cache that refetches on an unknown `kid`, rate-limited by an
//! injected clock, and an exact issuer comparison reported in its own errors.

mod discovery;
mod error;
mod exchange;
mod jwks;

use std::sync::Arc;
use std::time::Duration;

use authbridge_core::SharedClock;

pub use discovery::ProviderMetadata;
pub use error::FederationError;
pub use exchange::{AuthorizationParams, UpstreamLogin};

/// Tuning of the relying party; the defaults suit production.
#[derive(Debug, Clone)]
pub struct FederationConfig {
    /// Time allowed for one upstream HTTP request, connection included.
    pub request_timeout: Duration,
    /// How long discovery documents and JWKS are reused before being fetched again.
    pub cache_lifetime: chrono::Duration,
    /// Minimum time between two JWKS fetches caused by tokens with an unknown `kid`.
    pub min_jwks_refetch_interval: chrono::Duration,
    /// Clock difference tolerated on `exp` and `iat` of upstream ID tokens, in seconds.
    pub leeway_seconds: i64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            cache_lifetime: chrono::Duration::minutes(10),
            min_jwks_refetch_interval: chrono::Duration::seconds(30),
            leeway_seconds: 60,
        }
    }
}

/// The upstream relying party, shared by all logins of one broker.
#[derive(Debug, Clone)]
pub struct Federation {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    clock: SharedClock,
    config: FederationConfig,
    discovery: discovery::DiscoveryCache,
    jwks: jwks::JwksCache,
}

impl Federation {
    /// Creates a relying party whose upstream requests use their own HTTP client.
    pub fn new(config: FederationConfig, clock: SharedClock) -> Result<Self, FederationError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("authbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| FederationError::Setup(error.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                clock,
                config,
                discovery: discovery::DiscoveryCache::default(),
                jwks: jwks::JwksCache::default(),
            }),
        })
    }

    /// Returns how many times a JWKS was fetched from `jwks_uri`, for tests and metrics.
    pub fn jwks_fetches(&self, jwks_uri: &str) -> u64 {
        self.inner.jwks.fetch_count(jwks_uri)
    }
}

//! Upstream discovery documents, fetched on first use and cached for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{Federation, FederationError};

/// The parts of an upstream discovery document the broker uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

impl ProviderMetadata {
    /// Tells whether the upstream advertises S256 code challenges.
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|method| method == "S256")
    }
}

/// A discovery document and when it was fetched.
type CachedMetadata = (Arc<ProviderMetadata>, DateTime<Utc>);

#[derive(Debug, Default)]
pub(crate) struct DiscoveryCache {
    entries: Mutex<HashMap<String, CachedMetadata>>,
}

impl Federation {
    /// Returns the upstream's discovery document, from cache while it is fresh.
    pub async fn metadata(
        &self,
        discovery_url: &str,
    ) -> Result<Arc<ProviderMetadata>, FederationError> {
        let now = self.inner.clock.now();
        if let Some(metadata) = self.cached_metadata(discovery_url, now) {
            return Ok(metadata);
        }

        let response = self
            .inner
            .http
            .get(discovery_url)
            .send()
            .await
            .map_err(|error| FederationError::Unreachable {
                endpoint: discovery_url.to_owned(),
                reason: error.to_string(),
            })?;
        let invalid = |reason: String| FederationError::InvalidDiscovery {
            url: discovery_url.to_owned(),
            reason,
        };
        if !response.status().is_success() {
            return Err(invalid(format!("HTTP {}", response.status().as_u16())));
        }
        let metadata: ProviderMetadata = response
            .json()
            .await
            .map_err(|error| invalid(error.to_string()))?;
        let metadata = Arc::new(metadata);

        self.inner
            .discovery
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(discovery_url.to_owned(), (metadata.clone(), now));
        Ok(metadata)
    }

    fn cached_metadata(
        &self,
        discovery_url: &str,
        now: DateTime<Utc>,
    ) -> Option<Arc<ProviderMetadata>> {
        let entries = self
            .inner
            .discovery
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (metadata, fetched_at) = entries.get(discovery_url)?;
        (now - *fetched_at < self.inner.config.cache_lifetime).then(|| metadata.clone())
    }
}

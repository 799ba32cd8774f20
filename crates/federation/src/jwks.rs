//! Upstream signing keys.
//!
//! Keys are cached per JWKS URL. A token whose `kid` is not in the cache causes one refetch,
//! at most once per `min_jwks_refetch_interval`. So a provider's key rotation is picked up at
//! the next login, while a stream of forged `kid` values cannot make the broker flood the
//! upstream with JWKS requests.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};

use crate::{Federation, FederationError};

#[derive(Debug, Default)]
pub(crate) struct JwksCache {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    keys: Vec<Jwk>,
    fetched_at: Option<DateTime<Utc>>,
    last_refetch: Option<DateTime<Utc>>,
    fetches: u64,
}

impl JwksCache {
    pub(crate) fn fetch_count(&self, jwks_uri: &str) -> u64 {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(jwks_uri).map_or(0, |entry| entry.fetches)
    }

    fn snapshot(&self, jwks_uri: &str) -> Entry {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(jwks_uri).cloned().unwrap_or_default()
    }

    fn update(&self, jwks_uri: &str, change: impl FnOnce(&mut Entry)) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        change(entries.entry(jwks_uri.to_owned()).or_default());
    }
}

impl Federation {
    /// Returns the upstream keys that may have signed a token with key id `kid`, and whether
    /// they were fetched for this call rather than taken from the cache.
    ///
    /// Fetches the JWKS when the cache is empty or stale, or once more (rate-limited) when no
    /// cached key matches `kid`.
    pub(crate) async fn signing_keys_for(
        &self,
        jwks_uri: &str,
        kid: Option<&str>,
    ) -> Result<(Vec<Jwk>, bool), FederationError> {
        let now = self.inner.clock.now();
        let cached = self.inner.jwks.snapshot(jwks_uri);
        let stale = cached
            .fetched_at
            .is_none_or(|fetched_at| now - fetched_at >= self.inner.config.cache_lifetime);
        if stale {
            let keys = self.fetch_jwks(jwks_uri, now, false).await?;
            return Ok((matching_keys(&keys, kid), true));
        }

        let matching = matching_keys(&cached.keys, kid);
        if !matching.is_empty() {
            return Ok((matching, false));
        }
        tracing::info!(
            jwks_uri,
            kid,
            "unknown upstream key id, fetching the JWKS again"
        );
        let refetched = self.refetch_signing_keys(jwks_uri, kid).await?;
        Ok((refetched.unwrap_or_default(), true))
    }

    /// Fetches the JWKS again ahead of its cache lifetime and returns the keys matching `kid`.
    /// It fetches at most once per `min_jwks_refetch_interval` and returns `None` when that
    /// limit allows no fetch now.
    pub(crate) async fn refetch_signing_keys(
        &self,
        jwks_uri: &str,
        kid: Option<&str>,
    ) -> Result<Option<Vec<Jwk>>, FederationError> {
        let now = self.inner.clock.now();
        let cached = self.inner.jwks.snapshot(jwks_uri);
        let allowed = cached
            .last_refetch
            .is_none_or(|last| now - last >= self.inner.config.min_jwks_refetch_interval);
        if !allowed {
            return Ok(None);
        }
        let keys = self.fetch_jwks(jwks_uri, now, true).await?;
        Ok(Some(matching_keys(&keys, kid)))
    }

    async fn fetch_jwks(
        &self,
        jwks_uri: &str,
        now: DateTime<Utc>,
        refetch: bool,
    ) -> Result<Vec<Jwk>, FederationError> {
        self.inner.jwks.update(jwks_uri, |entry| {
            entry.fetches += 1;
            if refetch {
                entry.last_refetch = Some(now);
            }
        });

        let response = self
            .inner
            .http
            .get(jwks_uri)
            .send()
            .await
            .map_err(|error| FederationError::Unreachable {
                endpoint: jwks_uri.to_owned(),
                reason: error.to_string(),
            })?;
        let invalid = |reason: String| FederationError::InvalidJwks {
            url: jwks_uri.to_owned(),
            reason,
        };
        if !response.status().is_success() {
            return Err(invalid(format!("HTTP {}", response.status().as_u16())));
        }
        let set: JwkSet = response
            .json()
            .await
            .map_err(|error| invalid(error.to_string()))?;

        self.inner.jwks.update(jwks_uri, |entry| {
            entry.keys = set.keys.clone();
            entry.fetched_at = Some(now);
        });
        Ok(set.keys)
    }
}

fn matching_keys(keys: &[Jwk], kid: Option<&str>) -> Vec<Jwk> {
    authbridge_oidc::jwt::candidate_keys(keys, kid)
        .into_iter()
        .cloned()
        .collect()
}

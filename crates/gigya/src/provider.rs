//! The running provider: configuration, keys, records and the hooks tests use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use authbridge_core::SharedClock;
use authbridge_oidc::SigningKey;
use serde_json::Value;

use crate::accounts::AccountDirectory;
use crate::config::{ProviderConfig, RelyingParty};
use crate::error::ProviderError;
use crate::faults::Faults;
use crate::grants::GrantStore;
use crate::keys::{self, KeyRing};

/// A Gigya-compatible OpenID Connect provider for one site (API key).
///
/// Share it in an [`Arc`]: [`Provider::router`] serves it, and tests keep another handle to
/// rotate keys, inject [`Faults`] and read request counters while it runs.
#[derive(Debug)]
pub struct Provider {
    config: ProviderConfig,
    issuer_path: String,
    clients: HashMap<String, RelyingParty>,
    accounts: AccountDirectory,
    clock: SharedClock,
    keys: Mutex<KeyRing>,
    faults: Mutex<Faults>,
    grants: GrantStore,
    token_requests: AtomicUsize,
    jwks_requests: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Provider {
    /// Validates `config`, generates a signing key and builds the provider. All expiry checks
    /// read `clock`.
    pub fn new(config: ProviderConfig, clock: SharedClock) -> Result<Self, ProviderError> {
        let issuer_path = config.validate()?;
        let clients = config
            .clients
            .iter()
            .map(|client| (client.client_id.clone(), client.clone()))
            .collect();
        let accounts = AccountDirectory::new(config.accounts.clone());
        let keys = KeyRing::generate()?;

        tracing::info!(
            issuer = %config.issuer,
            clients = config.clients.len(),
            accounts = config.accounts.len(),
            "Gigya-compatible provider configured"
        );

        Ok(Self {
            config,
            issuer_path,
            clients,
            accounts,
            clock,
            keys: Mutex::new(keys),
            faults: Mutex::new(Faults::default()),
            grants: GrantStore::default(),
            token_requests: AtomicUsize::new(0),
            jwks_requests: AtomicUsize::new(0),
        })
    }

    /// Returns the axum router serving `/oidc/op/v1.0/{apiKey}/…`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        crate::http::router(Arc::clone(self))
    }

    /// Returns the issuer, the OP base URL without a trailing slash.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Returns the site's API key.
    pub fn api_key(&self) -> &str {
        &self.config.api_key
    }

    /// Returns the `kid` of the key that signs new ID tokens.
    pub fn current_kid(&self) -> String {
        lock(&self.keys).current().kid().to_owned()
    }

    /// Generates a new signing key and makes it current. The JWKS then lists the new key and
    /// the one it replaced. Returns the new key's `kid`.
    pub fn rotate_keys(&self) -> Result<String, ProviderError> {
        let next = SigningKey::generate()?;
        let kid = next.kid().to_owned();
        lock(&self.keys).rotate_to(next);
        tracing::info!(kid = %kid, "signing key rotated");
        Ok(kid)
    }

    /// Replaces the injected faults; [`Faults::default`] switches them all off.
    pub fn set_faults(&self, faults: Faults) {
        tracing::warn!(?faults, "fault injection changed");
        *lock(&self.faults) = faults;
    }

    /// Returns the number of requests to the token endpoint so far, failed ones included.
    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// Returns the number of requests to the JWKS endpoint so far.
    pub fn jwks_requests(&self) -> usize {
        self.jwks_requests.load(Ordering::Relaxed)
    }

    pub(crate) fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Returns the issuer's path, which prefixes the login form's action.
    pub(crate) fn issuer_path(&self) -> &str {
        &self.issuer_path
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&RelyingParty> {
        self.clients.get(client_id)
    }

    pub(crate) fn accounts(&self) -> &AccountDirectory {
        &self.accounts
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub(crate) fn grants(&self) -> &GrantStore {
        &self.grants
    }

    pub(crate) fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    pub(crate) fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a JWKS request and returns the JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        self.jwks_requests.fetch_add(1, Ordering::Relaxed);
        lock(&self.keys).jwks()
    }

    /// Signs ID token claims with the current key, or with the key and header that `faults`
    /// selects.
    pub(crate) fn sign_id_token(
        &self,
        claims: &Value,
        faults: &Faults,
    ) -> Result<String, ProviderError> {
        let key = if faults.sign_with_unpublished_key {
            self.unpublished_key()?
        } else {
            lock(&self.keys).current()
        };

        if faults.omit_kid {
            keys::sign_without_kid(&key, claims)
        } else {
            Ok(key.sign(claims)?)
        }
    }

    /// Returns the key that is never published, generating it on first use.
    fn unpublished_key(&self) -> Result<SigningKey, ProviderError> {
        if let Some(key) = lock(&self.keys).unpublished() {
            return Ok(key);
        }
        let key = SigningKey::generate()?;
        let mut keys = lock(&self.keys);
        if let Some(existing) = keys.unpublished() {
            return Ok(existing);
        }
        keys.set_unpublished(key.clone());
        Ok(key)
    }
}

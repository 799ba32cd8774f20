//! The broker's signing keys: the current key signs, the next one is published ahead of
//! rotation, as Auth0 publishes two keys.

use authbridge_oidc::SigningKey;
use authbridge_store::{KeyStatus, Store, StoredKey};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ServerError;

/// The keys loaded from the store, parsed once.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: SigningKey,
    published: Vec<SigningKey>,
}

impl KeyRing {
    /// Loads the keys from `store`, generating and storing a current and a next key when the
    /// store has none.
    pub async fn load_or_create(
        store: &dyn Store,
        now: DateTime<Utc>,
    ) -> Result<Self, ServerError> {
        let mut stored = store.signing_keys().await?;
        if stored.is_empty() {
            let fresh = [
                (KeyStatus::Current, SigningKey::generate()?),
                (KeyStatus::Next, SigningKey::generate()?),
            ]
            .into_iter()
            .map(|(status, key)| StoredKey {
                kid: key.kid().to_owned(),
                pkcs8: key.pkcs8_der().to_vec(),
                status,
                created_at: now,
            })
            .collect::<Vec<_>>();
            if store.insert_signing_keys_if_empty(&fresh).await? {
                tracing::info!(kids = ?fresh.iter().map(|key| &key.kid).collect::<Vec<_>>(), "generated signing keys");
            }
            stored = store.signing_keys().await?;
        }

        let mut current = None;
        let mut published = Vec::new();
        for key in &stored {
            let signing_key = SigningKey::from_pkcs8(&key.kid, &key.pkcs8)?;
            if key.status == KeyStatus::Current {
                current = Some(signing_key.clone());
            }
            published.push(signing_key);
        }
        let current = current.ok_or(ServerError::NoCurrentKey)?;
        Ok(Self { current, published })
    }

    /// Returns the key that signs new tokens.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Returns the JWKS document with every published key.
    pub fn jwks(&self) -> Value {
        authbridge_oidc::keys::jwks(&self.published)
    }

    /// Returns the published keys as JWKs for verification.
    pub fn verification_keys(&self) -> Vec<jsonwebtoken::jwk::Jwk> {
        self.published
            .iter()
            .filter_map(|key| serde_json::from_value(key.public_jwk()).ok())
            .collect()
    }
}

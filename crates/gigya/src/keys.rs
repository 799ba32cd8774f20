//! The provider's RS256 signing keys: the current key, the one it replaced, and a key that is
//! never published (for the `sign_with_unpublished_key` fault).
//!
//! After a rotation the JWKS lists the new key and the previous one, so tokens signed before
//! the rotation still verify. A second rotation drops the oldest key.

use authbridge_oidc::{KeyError, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

use crate::error::ProviderError;

/// The keys of one provider.
#[derive(Debug)]
pub(crate) struct KeyRing {
    current: SigningKey,
    previous: Option<SigningKey>,
    unpublished: Option<SigningKey>,
}

impl KeyRing {
    pub(crate) fn generate() -> Result<Self, KeyError> {
        Ok(Self {
            current: SigningKey::generate()?,
            previous: None,
            unpublished: None,
        })
    }

    /// Makes `next` the current key and keeps the replaced key published.
    pub(crate) fn rotate_to(&mut self, next: SigningKey) {
        let replaced = std::mem::replace(&mut self.current, next);
        self.previous = Some(replaced);
    }

    pub(crate) fn current(&self) -> SigningKey {
        self.current.clone()
    }

    /// Returns the unpublished key, if one was made.
    pub(crate) fn unpublished(&self) -> Option<SigningKey> {
        self.unpublished.clone()
    }

    pub(crate) fn set_unpublished(&mut self, key: SigningKey) {
        self.unpublished = Some(key);
    }

    /// Returns the JWKS document: the current key first, then the previous one.
    pub(crate) fn jwks(&self) -> Value {
        let published: Vec<SigningKey> = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .cloned()
            .collect();
        authbridge_oidc::keys::jwks(&published)
    }
}

/// Signs `claims` with `key` under the header `{"typ":"JWT","alg":"RS256"}`, which has no
/// `kid`.
///
/// [`SigningKey::sign`] always writes the `kid`, so this goes through `jsonwebtoken` with the
/// key's PKCS#8 encoding wrapped in PEM.
pub(crate) fn sign_without_kid(key: &SigningKey, claims: &Value) -> Result<String, ProviderError> {
    let encoded = STANDARD.encode(key.pkcs8_der());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");

    let encoding_key = EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|error| ProviderError::SignWithoutKeyId(error.to_string()))?;
    let header = Header::new(Algorithm::RS256);
    jsonwebtoken::encode(&header, claims, &encoding_key)
        .map_err(|error| ProviderError::SignWithoutKeyId(error.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::Jwk;
    use serde_json::json;

    #[test]
    fn rotation_publishes_new_and_previous_key() {
        let mut ring = KeyRing::generate().unwrap();
        let first = ring.current().kid().to_owned();
        ring.rotate_to(SigningKey::generate().unwrap());
        let second = ring.current().kid().to_owned();
        ring.rotate_to(SigningKey::generate().unwrap());
        let third = ring.current().kid().to_owned();

        let kids: Vec<String> = ring.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kids, vec![third, second]);
        assert!(!kids.contains(&first));
    }

    #[test]
    fn token_without_kid_verifies_with_same_key() {
        let key = SigningKey::generate().unwrap();
        let claims = json!({"iss": "https://op.test", "aud": "rp", "exp": 2000, "iat": 1000});
        let token = sign_without_kid(&key, &claims).unwrap();

        let (kid, alg) = authbridge_oidc::jwt::peek_header(&token).unwrap();
        assert_eq!(kid, None);
        assert_eq!(alg, "RS256");

        let jwk: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let expected = authbridge_oidc::jwt::Expectations {
            issuer: "https://op.test",
            audience: "rp",
            now: 1500,
            leeway: 0,
        };
        authbridge_oidc::jwt::verify(&token, &jwk, &expected).unwrap();
    }
}

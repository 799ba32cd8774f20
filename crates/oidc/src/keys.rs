//! RS256 signing keys.
//!
//! Signing goes through an `aws-lc-rs` key pair parsed once when the key is loaded: building
//! the JWT by hand on that key signs about three times faster than `jsonwebtoken::encode`,
//! which parses the PEM key again on every call. Verification and JWK export use the public
//! components only.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Failures to create, load or use a signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating an RSA key failed")]
    Generate,
    #[error("the stored key {kid} is not a valid PKCS#8 RSA private key")]
    InvalidKey { kid: String },
    #[error("signing with key {kid} failed")]
    Sign { kid: String },
    #[error("encoding JWT claims failed: {0}")]
    Encode(#[from] serde_json::Error),
}

/// An RSA private key used to sign tokens with RS256, with its key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key_pair: Arc<KeyPair>,
    pkcs8: Arc<Vec<u8>>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new 2048-bit RSA key with a random 21-character key id, as Auth0's are.
    pub fn generate() -> Result<Self, KeyError> {
        let key_pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let pkcs8 = key_pair
            .as_der()
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec();
        Ok(Self {
            kid: authbridge_core::random::nanoid(21),
            key_pair: Arc::new(key_pair),
            pkcs8: Arc::new(pkcs8),
        })
    }

    /// Loads a key from its PKCS#8 DER encoding.
    pub fn from_pkcs8(kid: &str, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let key_pair = KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::InvalidKey {
            kid: kid.to_owned(),
        })?;
        Ok(Self {
            kid: kid.to_owned(),
            key_pair: Arc::new(key_pair),
            pkcs8: Arc::new(pkcs8.to_vec()),
        })
    }

    /// Returns the key id published in the JWKS and in each token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the PKCS#8 DER encoding of the private key, for storage.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Signs `claims` as a compact JWT with header `{"alg":"RS256","typ":"JWT","kid":…}`.
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let signing_input = format!("{header}.{payload}");

        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign {
                kid: self.kid.clone(),
            })?;

        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Returns the public key as a JWK with fields in Auth0's order: kty, use, n, e, kid, alg.
    pub fn public_jwk(&self) -> Value {
        let public = self.key_pair.public_key();
        let modulus = public.modulus();
        let exponent = public.exponent();
        json!({
            "kty": "RSA",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(modulus.big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(exponent.big_endian_without_leading_zero()),
            "kid": self.kid,
            "alg": "RS256",
        })
    }
}

/// Returns a JWKS document listing the public keys of `keys`.
pub fn jwks(keys: &[SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
}

//! Encryption at rest of upstream tokens: AES-256-GCM under a key ring.
//!
//! A stored value reads `v1.{key id}.{base64url(nonce ‖ ciphertext ‖ tag)}`. The key id
//! picks the key to decrypt with, so keys can be rotated: new values use the current key
//! while older ones still decrypt. The associated data binds each value to its row and field,
//! so a ciphertext copied to another user or another column fails to decrypt.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of a token encryption key in bytes.
pub const KEY_LEN: usize = 32;

const FORMAT_PREFIX: &str = "v1";

/// Failures to set up the key ring or to decrypt a stored value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("token encryption key {kid} must be {KEY_LEN} bytes")]
    InvalidKey { kid: String },
    #[error("the current token encryption key {kid} is not in the key ring")]
    MissingCurrentKey { kid: String },
    #[error("a stored token is encrypted with key {kid}, which is not configured")]
    UnknownKey { kid: String },
    #[error("a stored token is not in the v1 ciphertext format")]
    Malformed,
    #[error("a stored token failed authentication; it was altered or moved")]
    Authentication,
    #[error("encrypting a token failed")]
    Encrypt,
}

/// The keys that encrypt upstream tokens, and which of them encrypts new values.
pub struct TokenCipher {
    current: String,
    keys: HashMap<String, LessSafeKey>,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("TokenCipher")
            .field("current", &self.current)
            .field("kids", &kids)
            .finish()
    }
}

impl TokenCipher {
    /// Creates a key ring from `(key id, key bytes)` pairs; `current` encrypts new values.
    pub fn new(keys: &[(String, Vec<u8>)], current: &str) -> Result<Self, CipherError> {
        let mut ring = HashMap::new();
        for (kid, bytes) in keys {
            if kid.is_empty() || kid.contains('.') || bytes.len() != KEY_LEN {
                return Err(CipherError::InvalidKey { kid: kid.clone() });
            }
            let key = UnboundKey::new(&AES_256_GCM, bytes)
                .map_err(|_| CipherError::InvalidKey { kid: kid.clone() })?;
            ring.insert(kid.clone(), LessSafeKey::new(key));
        }
        if !ring.contains_key(current) {
            return Err(CipherError::MissingCurrentKey {
                kid: current.to_owned(),
            });
        }
        Ok(Self {
            current: current.to_owned(),
            keys: ring,
        })
    }

    /// Creates a key ring with one random key, for stores that live only as long as the process.
    pub fn ephemeral() -> Self {
        let key = authbridge_core::random::random_bytes(KEY_LEN);
        let keys = [("ephemeral".to_owned(), key)];
        match Self::new(&keys, "ephemeral") {
            Ok(cipher) => cipher,
            // A fresh key of the right length always builds a key ring.
            Err(_) => Self {
                current: String::new(),
                keys: HashMap::new(),
            },
        }
    }

    /// Encrypts `plaintext`, bound to `context` (for example the row and column it goes to).
    pub fn encrypt(&self, plaintext: &str, context: &str) -> Result<String, CipherError> {
        let key = self.keys.get(&self.current).ok_or(CipherError::Encrypt)?;
        let nonce_bytes = authbridge_core::random::random_bytes(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(&nonce_bytes).map_err(|_| CipherError::Encrypt)?;

        let mut sealed = plaintext.as_bytes().to_vec();
        key.seal_in_place_append_tag(nonce, Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| CipherError::Encrypt)?;

        let mut payload = nonce_bytes;
        payload.extend_from_slice(&sealed);
        Ok(format!(
            "{FORMAT_PREFIX}.{}.{}",
            self.current,
            URL_SAFE_NO_PAD.encode(payload)
        ))
    }

    /// Decrypts a value [`TokenCipher::encrypt`] produced with the same `context`.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, CipherError> {
        let mut parts = stored.splitn(3, '.');
        let (Some(FORMAT_PREFIX), Some(kid), Some(encoded)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(CipherError::Malformed);
        };
        let key = self.keys.get(kid).ok_or_else(|| CipherError::UnknownKey {
            kid: kid.to_owned(),
        })?;
        let payload = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CipherError::Malformed)?;
        if payload.len() < NONCE_LEN {
            return Err(CipherError::Malformed);
        }

        let (nonce_bytes, sealed) = payload.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| CipherError::Malformed)?;
        let mut buffer = sealed.to_vec();
        let plaintext = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| CipherError::Authentication)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| CipherError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: &str) -> TokenCipher {
        let keys = [
            ("k1".to_owned(), vec![1u8; KEY_LEN]),
            ("k2".to_owned(), vec![2u8; KEY_LEN]),
        ];
        TokenCipher::new(&keys, current).unwrap()
    }

    #[test]
    fn value_round_trips_and_hides_plaintext() {
        let cipher = ring("k1");
        let stored = cipher
            .encrypt("st2.secret-token", "user|Cencora|access_token")
            .unwrap();
        assert!(stored.starts_with("v1.k1."));
        assert!(!stored.contains("secret-token"));
        assert_eq!(
            cipher
                .decrypt(&stored, "user|Cencora|access_token")
                .unwrap(),
            "st2.secret-token"
        );
    }

    #[test]
    fn value_moved_to_another_context_fails() {
        let cipher = ring("k1");
        let stored = cipher.encrypt("token", "alice|access_token").unwrap();
        assert_eq!(
            cipher.decrypt(&stored, "bob|access_token"),
            Err(CipherError::Authentication)
        );
    }

    #[test]
    fn older_key_still_decrypts_after_rotation() {
        let stored = ring("k1").encrypt("token", "ctx").unwrap();
        assert_eq!(ring("k2").decrypt(&stored, "ctx").unwrap(), "token");
    }

    #[test]
    fn unknown_key_and_garbage_are_rejected() {
        let stored = ring("k1").encrypt("token", "ctx").unwrap();
        let only_k3 = TokenCipher::new(&[("k3".to_owned(), vec![3u8; KEY_LEN])], "k3").unwrap();
        assert_eq!(
            only_k3.decrypt(&stored, "ctx"),
            Err(CipherError::UnknownKey { kid: "k1".into() })
        );
        assert_eq!(
            ring("k1").decrypt("plain-token", "ctx"),
            Err(CipherError::Malformed)
        );
    }

    #[test]
    fn short_key_is_rejected() {
        let result = TokenCipher::new(&[("k".to_owned(), vec![0u8; 16])], "k");
        assert_eq!(
            result.err(),
            Some(CipherError::InvalidKey { kid: "k".into() })
        );
    }
}

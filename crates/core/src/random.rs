//! Identifiers and opaque tokens drawn from the operating system's random source.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

/// Returns `bytes` random bytes.
pub fn random_bytes(bytes: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    buffer
}

/// Returns an unguessable URL-safe token carrying `bytes` bytes of entropy.
pub fn token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// Returns a random string of `length` characters from `[A-Za-z0-9_-]`, the shape Auth0 uses
/// for key ids and client ids.
pub fn nanoid(length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    random_bytes(length)
        .into_iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte & 63)]))
        .collect()
}

/// Returns `bytes` random bytes as lowercase hexadecimal.
pub fn hex(bytes: usize) -> String {
    random_bytes(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

//! Proof Key for Code Exchange (RFC 7636).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// Returns the S256 challenge for `verifier`: base64url(SHA-256(verifier)) without padding.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Tells whether `value` is a well-formed verifier or challenge: 43 to 128 characters from
/// the unreserved set `[A-Za-z0-9-._~]`.
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

/// Checks `verifier` against the challenge a client sent with `method` (`S256` or `plain`).
///
/// The comparison runs in constant time over the derived challenge.
pub fn verify(challenge: &str, method: &str, verifier: &str) -> bool {
    if !is_well_formed(verifier) {
        return false;
    }
    let derived = match method {
        "S256" => s256_challenge(verifier),
        "plain" => verifier.to_owned(),
        _ => return false,
    };
    constant_time_eq(derived.as_bytes(), challenge.as_bytes())
}

/// Compares two byte strings without returning early on the first difference.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify(CHALLENGE, "S256", VERIFIER));
    }

    #[test]
    fn wrong_verifier_or_method_fails() {
        assert!(!verify(CHALLENGE, "S256", &VERIFIER.replace('d', "e")));
        assert!(!verify(CHALLENGE, "plain", VERIFIER));
        assert!(!verify(CHALLENGE, "S512", VERIFIER));
    }

    #[test]
    fn plain_compares_verbatim() {
        assert!(verify(CHALLENGE, "plain", CHALLENGE));
    }
}

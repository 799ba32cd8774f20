//! JWT verification against a JWKS, with time read from an injected clock.
//!
//! Signature checks go through `jsonwebtoken`; the time and audience checks are done here so
//! that they read the caller's clock instead of the system time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Reasons a token fails verification. Messages name claims, never token contents.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token is signed with {0}, expected RS256")]
    UnsupportedAlgorithm(String),
    #[error("no key in the JWKS matches the token's key id {0:?}")]
    UnknownKey(Option<String>),
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("issuer mismatch: expected {expected}, got {actual}")]
    IssuerMismatch { expected: String, actual: String },
    #[error("audience mismatch: the token is not issued to {expected}")]
    AudienceMismatch { expected: String },
    #[error("the token expired at {exp}, now is {now}")]
    Expired { exp: i64, now: i64 },
    #[error("the token is issued in the future (iat {iat}, now {now})")]
    IssuedInFuture { iat: i64, now: i64 },
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
}

/// Conditions a verified token must satisfy.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// The exact `iss` value; no trailing-slash normalisation.
    pub issuer: &'a str,
    /// A value `aud` must equal or contain.
    pub audience: &'a str,
    /// Current time, seconds since the Unix epoch.
    pub now: i64,
    /// Seconds of clock difference tolerated on `exp` and `iat`.
    pub leeway: i64,
}

/// Returns the `kid` and `alg` of a token's header without verifying anything.
pub fn peek_header(token: &str) -> Result<(Option<String>, String), JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    Ok((header.kid, format!("{:?}", header.alg)))
}

/// Picks the keys of `jwks` that may have signed a token with key id `kid`.
///
/// With a `kid`, only the key with that id qualifies. Without one, every RSA signing key does,
/// and the caller tries each in turn.
pub fn candidate_keys<'a>(jwks: &'a [Jwk], kid: Option<&str>) -> Vec<&'a Jwk> {
    jwks.iter()
        .filter(|jwk| match kid {
            Some(kid) => jwk.common.key_id.as_deref() == Some(kid),
            None => matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
            ),
        })
        .collect()
}

/// Verifies an RS256 token's signature with `key` and its claims against `expected`, and
/// returns the claims.
pub fn verify(
    token: &str,
    key: &Jwk,
    expected: &Expectations<'_>,
) -> Result<Map<String, Value>, JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(JwtError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }

    let decoding_key = DecodingKey::from_jwk(key).map_err(|_| JwtError::UnknownKey(header.kid))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding_key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => JwtError::BadSignature,
            _ => JwtError::Malformed,
        })?;

    check_claims(&data.claims, expected)?;
    Ok(data.claims)
}

/// Checks `iss`, `aud`, `exp` and `iat` of already signature-checked claims.
pub fn check_claims(
    claims: &Map<String, Value>,
    expected: &Expectations<'_>,
) -> Result<(), JwtError> {
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(JwtError::MissingClaim("iss"))?;
    if issuer != expected.issuer {
        return Err(JwtError::IssuerMismatch {
            expected: expected.issuer.to_owned(),
            actual: issuer.to_owned(),
        });
    }

    let audience_matches = match claims.get("aud") {
        Some(Value::String(audience)) => audience == expected.audience,
        Some(Value::Array(audiences)) => audiences
            .iter()
            .any(|audience| audience.as_str() == Some(expected.audience)),
        _ => return Err(JwtError::MissingClaim("aud")),
    };
    if !audience_matches {
        return Err(JwtError::AudienceMismatch {
            expected: expected.audience.to_owned(),
        });
    }

    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(JwtError::MissingClaim("exp"))?;
    if exp + expected.leeway <= expected.now {
        return Err(JwtError::Expired {
            exp,
            now: expected.now,
        });
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_i64)
        && iat > expected.now + expected.leeway
    {
        return Err(JwtError::IssuedInFuture {
            iat,
            now: expected.now,
        });
    }
    Ok(())
}

/// Returns the `at_hash` of an access token for an RS256 ID token: base64url of the left half
/// of SHA-256 over the token's ASCII bytes (OpenID Connect Core 3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

/// Decodes a token's claims without checking anything, for display and tests only.
pub fn decode_claims_unverified(token: &str) -> Result<Map<String, Value>, JwtError> {
    let payload = token.split('.').nth(1).ok_or(JwtError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;
    use serde_json::json;

    fn jwk_of(key: &SigningKey) -> Jwk {
        serde_json::from_value(key.public_jwk()).unwrap()
    }

    fn expectations(now: i64) -> Expectations<'static> {
        Expectations {
            issuer: "https://issuer.test/",
            audience: "client-1",
            now,
            leeway: 60,
        }
    }

    #[test]
    fn signed_token_verifies_and_returns_claims() {
        let key = SigningKey::generate().unwrap();
        let token = key
            .sign(&json!({"iss": "https://issuer.test/", "aud": "client-1", "exp": 2000, "iat": 1000, "sub": "u"}))
            .unwrap();
        let claims = verify(&token, &jwk_of(&key), &expectations(1500)).unwrap();
        assert_eq!(claims["sub"], "u");
        assert_eq!(peek_header(&token).unwrap().0.as_deref(), Some(key.kid()));
    }

    #[test]
    fn other_key_issuer_audience_and_expiry_are_rejected() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let claims = json!({"iss": "https://issuer.test/", "aud": ["x", "client-1"], "exp": 2000, "iat": 1000});
        let token = key.sign(&claims).unwrap();

        assert_eq!(
            verify(&token, &jwk_of(&other), &expectations(1500)),
            Err(JwtError::BadSignature)
        );
        assert!(matches!(
            verify(&token, &jwk_of(&key), &expectations(2100)),
            Err(JwtError::Expired { .. })
        ));
        let wrong_issuer = Expectations {
            issuer: "https://issuer.test",
            ..expectations(1500)
        };
        assert!(matches!(
            verify(&token, &jwk_of(&key), &wrong_issuer),
            Err(JwtError::IssuerMismatch { .. })
        ));
        let wrong_audience = Expectations {
            audience: "client-2",
            ..expectations(1500)
        };
        assert!(matches!(
            verify(&token, &jwk_of(&key), &wrong_audience),
            Err(JwtError::AudienceMismatch { .. })
        ));
    }

    #[test]
    fn at_hash_is_left_half_of_sha256() {
        // OpenID Connect Core, Appendix A.3 example access token and at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}

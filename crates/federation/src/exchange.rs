//! The authorization request sent upstream and the code exchange that ends it.

use authbridge_core::model::{OidcConnectionOptions, UpstreamProfile, UpstreamTokens};
use authbridge_oidc::jwt::{self, Expectations, JwtError};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::{Federation, FederationError, ProviderMetadata};

/// The parameters the broker sends upstream to start a login.
#[derive(Debug, Clone)]
pub struct AuthorizationParams<'a> {
    /// The broker's callback, `{issuer}login/callback`.
    pub redirect_uri: &'a str,
    /// The broker's own state for this login, never the client's.
    pub state: &'a str,
    pub nonce: &'a str,
    /// S256 challenge of the broker's verifier, sent when the upstream supports it.
    pub code_challenge: Option<&'a str>,
}

/// The result of a successful upstream login.
#[derive(Debug, Clone)]
pub struct UpstreamLogin {
    pub profile: UpstreamProfile,
    pub tokens: UpstreamTokens,
    /// The verified ID token claims.
    pub id_token_claims: Map<String, Value>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    id_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

impl Federation {
    /// Builds the upstream authorization URL for a login through `options`.
    pub fn authorization_url(
        &self,
        metadata: &ProviderMetadata,
        options: &OidcConnectionOptions,
        params: &AuthorizationParams<'_>,
    ) -> Result<Url, FederationError> {
        let mut url = Url::parse(&metadata.authorization_endpoint).map_err(|error| {
            FederationError::InvalidDiscovery {
                url: options.discovery_url.clone(),
                reason: format!("authorization_endpoint is not a URL: {error}"),
            }
        })?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &options.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", params.redirect_uri)
                .append_pair("scope", &upstream_scope(&options.scope))
                .append_pair("state", params.state)
                .append_pair("nonce", params.nonce);
            if let Some(challenge) = params.code_challenge {
                query
                    .append_pair("code_challenge", challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        Ok(url)
    }

    /// Redeems an upstream authorization code and validates the ID token that comes back.
    ///
    /// The code is sent verbatim: upstream codes are opaque (Gigya's are long `st2.` strings
    /// with dots) and must not be parsed or shortened.
    pub async fn exchange_code(
        &self,
        metadata: &ProviderMetadata,
        options: &OidcConnectionOptions,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        expected_nonce: &str,
    ) -> Result<UpstreamLogin, FederationError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", options.client_id.as_str()),
            ("client_secret", options.client_secret.as_str()),
        ];
        if let Some(verifier) = code_verifier {
            form.push(("code_verifier", verifier));
        }

        let unreachable = |error: reqwest::Error| FederationError::Unreachable {
            endpoint: metadata.token_endpoint.clone(),
            reason: error.to_string(),
        };
        let response = self
            .inner
            .http
            .post(&metadata.token_endpoint)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;

        if !status.is_success() {
            let parsed: Option<TokenErrorResponse> = serde_json::from_slice(&body).ok();
            return Err(FederationError::TokenRejected {
                status: status.as_u16(),
                error: parsed
                    .as_ref()
                    .and_then(|e| e.error.clone())
                    .unwrap_or_else(|| "unknown".into()),
                description: parsed.and_then(|e| e.error_description),
            });
        }
        let tokens: TokenResponse = serde_json::from_slice(&body)
            .map_err(|error| FederationError::InvalidTokenResponse(error.to_string()))?;
        let id_token = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| FederationError::InvalidTokenResponse("no id_token".into()))?;

        let claims = self.validate_id_token(metadata, options, id_token).await?;
        check_nonce(&claims, expected_nonce)?;
        if let (Some(expected_hash), Some(access_token)) = (
            claims.get("at_hash").and_then(Value::as_str),
            tokens.access_token.as_deref(),
        ) && !authbridge_oidc::pkce::constant_time_eq(
            jwt::at_hash(access_token).as_bytes(),
            expected_hash.as_bytes(),
        ) {
            return Err(FederationError::AccessTokenHashMismatch);
        }

        let now = self.inner.clock.now();
        Ok(UpstreamLogin {
            profile: profile_from_claims(&claims)?,
            tokens: UpstreamTokens {
                access_token: tokens.access_token,
                refresh_token: tokens.refresh_token,
                expires_at: tokens
                    .expires_in
                    .map(|seconds| now + chrono::Duration::seconds(seconds)),
            },
            id_token_claims: claims,
        })
    }

    async fn validate_id_token(
        &self,
        metadata: &ProviderMetadata,
        options: &OidcConnectionOptions,
        id_token: &str,
    ) -> Result<Map<String, Value>, FederationError> {
        let (kid, algorithm) = jwt::peek_header(id_token)?;
        if algorithm != "RS256" {
            return Err(JwtError::UnsupportedAlgorithm(algorithm).into());
        }
        let (keys, fetched) = self
            .signing_keys_for(&metadata.jwks_uri, kid.as_deref())
            .await?;
        let expectations = Expectations {
            issuer: &metadata.issuer,
            audience: &options.client_id,
            now: self.inner.clock.unix(),
            leeway: self.inner.config.leeway_seconds,
        };
        let result = verify_with_any(id_token, &keys, &expectations, kid.as_deref());
        if fetched || !matches!(result, Err(JwtError::BadSignature)) {
            return Ok(result?);
        }

        // No cached key verified the signature: the provider may have rotated to a key with
        // the same kid, or to a new key on a token without kid. One rate-limited refetch
        // settles it.
        match self
            .refetch_signing_keys(&metadata.jwks_uri, kid.as_deref())
            .await?
        {
            Some(keys) => Ok(verify_with_any(
                id_token,
                &keys,
                &expectations,
                kid.as_deref(),
            )?),
            None => Ok(result?),
        }
    }
}

/// Verifies `token` with each of `keys` in turn and returns the first success. Without a kid
/// every RSA key is tried, so the signature decides, never the key order.
fn verify_with_any(
    token: &str,
    keys: &[jsonwebtoken::jwk::Jwk],
    expectations: &Expectations<'_>,
    kid: Option<&str>,
) -> Result<Map<String, Value>, JwtError> {
    let mut error = JwtError::UnknownKey(kid.map(str::to_owned));
    for key in keys {
        match jwt::verify(token, key, expectations) {
            Ok(claims) => return Ok(claims),
            // A claim error means this key verified the signature, so it explains the
            // failure better than another key's bad signature.
            Err(JwtError::BadSignature) if !matches!(error, JwtError::UnknownKey(_)) => {}
            Err(failure) => error = failure,
        }
    }
    Err(error)
}

/// Returns the scope sent upstream: the connection's scopes with `openid` first, deduplicated.
fn upstream_scope(configured: &str) -> String {
    let mut scopes = vec!["openid".to_owned()];
    for scope in authbridge_core::claims::split_scopes(configured) {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.join(" ")
}

fn check_nonce(claims: &Map<String, Value>, expected: &str) -> Result<(), FederationError> {
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if authbridge_oidc::pkce::constant_time_eq(nonce.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(FederationError::NonceMismatch)
    }
}

fn profile_from_claims(claims: &Map<String, Value>) -> Result<UpstreamProfile, FederationError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let sub = text("sub")
        .filter(|sub| !sub.is_empty())
        .ok_or(JwtError::MissingClaim("sub"))?;
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(verified)) => *verified,
        Some(Value::String(verified)) => verified == "true",
        _ => false,
    };
    let nickname = text("nickname")
        .or_else(|| text("email").and_then(|email| email.split('@').next().map(str::to_owned)));
    Ok(UpstreamProfile {
        sub,
        email: text("email"),
        email_verified,
        name: text("name"),
        given_name: text("given_name"),
        family_name: text("family_name"),
        nickname,
        picture: text("picture"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_scope_puts_openid_first_once() {
        assert_eq!(
            upstream_scope("profile openid email profile"),
            "openid profile email"
        );
        assert_eq!(upstream_scope(""), "openid");
    }
}

//! The demo tenant's web application as an OpenID Connect relying party, shared by the demo
//! application's `/callback` and `authbridge login --demo`.
//!
//! It redeems the code with `client_secret_post`, verifies the ID token against the broker's
//! JWKS (issuer, audience, expiry, nonce) and verifies the access token for the demo API.
//! Then it reads the user's app_metadata through the Management API with the demo
//! machine-to-machine client, as an application backend would.

use anyhow::{Context as _, anyhow, bail};
use authbridge_oidc::jwt::{self, Expectations};
use jsonwebtoken::jwk::JwkSet;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::tenant::{DEMO_API, DEMO_M2M_ID, DEMO_M2M_SECRET, DEMO_WEB_ID, DEMO_WEB_SECRET};

/// The claims and metadata a finished demo login shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoginResult {
    pub(crate) id_token_claims: Map<String, Value>,
    pub(crate) access_token_claims: Map<String, Value>,
    pub(crate) app_metadata: Map<String, Value>,
}

/// The demo web client talking to one broker.
#[derive(Debug, Clone)]
pub(crate) struct DemoRelyingParty {
    http: reqwest::Client,
    /// The broker's issuer, with a trailing slash.
    issuer: String,
    redirect_uri: String,
}

impl DemoRelyingParty {
    pub(crate) fn new(http: reqwest::Client, issuer: &str, redirect_uri: &str) -> Self {
        Self {
            http,
            issuer: issuer.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    /// Returns the authorization URL of a login requesting the demo API as audience.
    pub(crate) fn authorize_url(
        &self,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> anyhow::Result<url::Url> {
        let mut url = url::Url::parse(&format!("{}authorize", self.issuer))?;
        url.query_pairs_mut()
            .append_pair("client_id", DEMO_WEB_ID)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email")
            .append_pair("audience", DEMO_API)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair(
                "code_challenge",
                &authbridge_oidc::pkce::s256_challenge(verifier),
            )
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Redeems `code`, verifies both tokens and fetches the user's app_metadata.
    pub(crate) async fn redeem(
        &self,
        code: &str,
        verifier: &str,
        nonce: &str,
    ) -> anyhow::Result<LoginResult> {
        let tokens: Value = self
            .post_form(
                "oauth/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", DEMO_WEB_ID),
                    ("client_secret", DEMO_WEB_SECRET),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await
            .context("redeeming the authorization code failed")?;
        let id_token = tokens["id_token"]
            .as_str()
            .ok_or_else(|| anyhow!("the token response has no id_token"))?;
        let access_token = tokens["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("the token response has no access_token"))?;

        let keys = self.jwks().await?;
        let id_token_claims = self
            .verify(&keys, id_token, DEMO_WEB_ID)
            .context("the ID token failed verification")?;
        if id_token_claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            bail!("the ID token nonce does not match the one sent");
        }
        let access_token_claims = self
            .verify(&keys, access_token, DEMO_API)
            .context("the access token failed verification")?;

        let user_id = id_token_claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let app_metadata = self
            .app_metadata(user_id)
            .await
            .context("reading app_metadata failed")?;
        Ok(LoginResult {
            id_token_claims,
            access_token_claims,
            app_metadata,
        })
    }

    async fn jwks(&self) -> anyhow::Result<JwkSet> {
        let url = format!("{}.well-known/jwks.json", self.issuer);
        Ok(self
            .http
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    fn verify(
        &self,
        keys: &JwkSet,
        token: &str,
        audience: &str,
    ) -> anyhow::Result<Map<String, Value>> {
        let (kid, _) = jwt::peek_header(token)?;
        let key = keys
            .find(kid.as_deref().unwrap_or_default())
            .ok_or_else(|| anyhow!("no JWKS key has kid {kid:?}"))?;
        let expectations = Expectations {
            issuer: &self.issuer,
            audience,
            now: chrono::Utc::now().timestamp(),
            leeway: 60,
        };
        Ok(jwt::verify(token, key, &expectations)?)
    }

    async fn app_metadata(&self, user_id: &str) -> anyhow::Result<Map<String, Value>> {
        let management_audience = format!("{}api/v2/", self.issuer);
        let grant: Value = self
            .post_form(
                "oauth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DEMO_M2M_ID),
                    ("client_secret", DEMO_M2M_SECRET),
                    ("audience", &management_audience),
                    ("scope", "read:users"),
                ],
            )
            .await?;
        let token = grant["access_token"]
            .as_str()
            .ok_or_else(|| anyhow!("no Management API token"))?;

        let mut url = url::Url::parse(&management_audience)?;
        url.path_segments_mut()
            .map_err(|()| anyhow!("the issuer cannot be a base URL"))?
            .pop_if_empty()
            .extend(["users", user_id]);
        let user: Value = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(user
            .get("app_metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default())
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.issuer))
            .form(form)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "the broker returned HTTP {}: {} {}",
                status.as_u16(),
                body["error"].as_str().unwrap_or("unknown_error"),
                body["error_description"].as_str().unwrap_or_default()
            );
        }
        Ok(body)
    }
}

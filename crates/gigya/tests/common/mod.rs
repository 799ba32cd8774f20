//! A provider served on a loopback port with a manual clock, and the HTTP steps of a login.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use authbridge_core::ManualClock;
use authbridge_gigya::{Faults, Provider, ProviderConfig, RelyingParty};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Map, Value};
use url::Url;

pub const CLIENT_ID: &str = "test-client-0123456789ab";
pub const CLIENT_SECRET: &str = "test-secret";
pub const REDIRECT_URI: &str = "https://rp.test/login/callback";
pub const OTHER_CLIENT_ID: &str = "other-client";
pub const OTHER_CLIENT_SECRET: &str = "other-secret";
pub const ADA_UID: &str = "4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const STATE: &str = "st&te/with?odd=chars+and spaces";
pub const NONCE: &str = "n-0S6_WzA2Mj";

/// A running provider and what a test needs to talk to it.
pub struct TestProvider {
    pub provider: Arc<Provider>,
    pub clock: ManualClock,
    pub base_url: String,
    pub http: reqwest::Client,
}

/// What the login page carried.
pub struct LoginPage {
    pub html: String,
    pub action: Url,
    pub context: String,
}

pub async fn start() -> TestProvider {
    start_with(|config| config).await
}

/// Starts a provider whose config `adjust` may change; the issuer is set afterwards from the
/// bound port.
pub async fn start_with(adjust: impl FnOnce(ProviderConfig) -> ProviderConfig) -> TestProvider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());

    let clients = vec![
        RelyingParty {
            client_id: CLIENT_ID.to_owned(),
            client_secret: SecretString::from(CLIENT_SECRET),
            redirect_uris: vec![REDIRECT_URI.to_owned()],
        },
        RelyingParty {
            client_id: OTHER_CLIENT_ID.to_owned(),
            client_secret: SecretString::from(OTHER_CLIENT_SECRET),
            redirect_uris: vec![REDIRECT_URI.to_owned()],
        },
    ];
    let config = adjust(ProviderConfig {
        clients,
        ..ProviderConfig::default()
    })
    .with_base_url(&base_url);

    let clock = ManualClock::starting_now();
    let provider = Arc::new(Provider::new(config, Arc::new(clock.clone())).unwrap());
    let router = provider.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestProvider {
        provider,
        clock,
        base_url,
        http,
    }
}

/// Returns the value of attribute `attribute` in the first tag containing `marker`.
pub fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let start = html.find(marker)?;
    let tag_start = html[..start].rfind('<')?;
    let tag_end = start + html[start..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let needle = format!("{attribute}=\"");
    let value_start = tag.find(&needle)? + needle.len();
    let value_end = value_start + tag[value_start..].find('"')?;
    Some(tag[value_start..value_end].to_owned())
}

/// Returns the query parameters of a URL.
pub fn query_map(url: &Url) -> Map<String, Value> {
    url.query_pairs()
        .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
        .collect()
}

/// Returns the `Location` header of a redirect as a URL.
pub fn location(response: &reqwest::Response) -> Url {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("redirect has a Location header")
        .to_str()
        .unwrap();
    Url::parse(location).unwrap()
}

impl TestProvider {
    pub fn issuer(&self) -> String {
        self.provider.issuer().to_owned()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }

    /// Parameters of a valid authorization request with PKCE S256, state and nonce.
    pub fn authorize_params(&self) -> Vec<(String, String)> {
        let challenge = authbridge_oidc::pkce::s256_challenge(VERIFIER);
        [
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid profile email uid offline_access"),
            ("state", STATE),
            ("nonce", NONCE),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// Sends `GET /authorize` with `params`.
    pub async fn authorize(&self, params: &[(String, String)]) -> reqwest::Response {
        self.http
            .get(self.endpoint("/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Opens the login page for `params` and reads its form.
    pub async fn open_login(&self, params: &[(String, String)]) -> LoginPage {
        let response = self.authorize(params).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page_url = response.url().clone();
        let html = response.text().await.unwrap();
        let action = attribute_after(&html, "<form", "action").expect("form has an action");
        let context =
            attribute_after(&html, "name=\"context\"", "value").expect("form has a context");
        LoginPage {
            action: page_url.join(&action).unwrap(),
            html,
            context,
        }
    }

    /// Posts the login form.
    pub async fn submit_login(
        &self,
        page: &LoginPage,
        login_id: &str,
        password: &str,
    ) -> reqwest::Response {
        self.http
            .post(page.action.clone())
            .form(&[
                ("context", page.context.as_str()),
                ("loginID", login_id),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Logs in as `login_id` for `params` and returns the redirect URL carrying the code.
    pub async fn login_redirect(&self, params: &[(String, String)], login_id: &str) -> Url {
        let page = self.open_login(params).await;
        let response = self.submit_login(&page, login_id, "Passw0rd!").await;
        assert_eq!(response.status(), StatusCode::FOUND);
        location(&response)
    }

    /// Logs in as Ada with the default parameters and returns the code.
    pub async fn code(&self) -> String {
        let redirect = self
            .login_redirect(&self.authorize_params(), "ada@example.com")
            .await;
        query_map(&redirect)["code"].as_str().unwrap().to_owned()
    }

    /// Posts `form` to the token endpoint with HTTP Basic client authentication.
    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.endpoint("/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Redeems `code` with the right redirect URI and verifier.
    pub async fn redeem(&self, code: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    /// Logs in as Ada and redeems the code; returns the token response body.
    pub async fn tokens(&self) -> Value {
        let code = self.code().await;
        let response = self.redeem(&code).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn jwks(&self) -> JwkSet {
        self.http
            .get(self.endpoint("/.well-known/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Returns the JWKS key with `kid`, if listed.
    pub async fn jwk(&self, kid: &str) -> Option<Jwk> {
        self.jwks().await.find(kid).cloned()
    }

    /// Verifies `id_token` against the JWKS, issuer and test client, and returns its claims.
    pub async fn verify_id_token(&self, id_token: &str) -> Map<String, Value> {
        let (kid, _) = authbridge_oidc::jwt::peek_header(id_token).unwrap();
        let jwk = self.jwk(&kid.expect("ID token has a kid")).await.unwrap();
        let issuer = self.issuer();
        let expected = authbridge_oidc::jwt::Expectations {
            issuer: &issuer,
            audience: CLIENT_ID,
            now: self.clock_unix(),
            leeway: 0,
        };
        authbridge_oidc::jwt::verify(id_token, &jwk, &expected).unwrap()
    }

    pub fn clock_unix(&self) -> i64 {
        use authbridge_core::Clock as _;
        self.clock.unix()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.provider.set_faults(faults);
    }
}

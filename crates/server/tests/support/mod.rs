//! A broker and a Gigya-compatible provider on loopback ports, sharing one manual clock, with
//! a tenant shaped like the demo one, and the HTTP steps of a login.
//!
//! Each test starts its own [`TestTenant`], so tests share no state and run in parallel. The
//! HTTP client never follows redirects: every step reads the `Location` header itself, and the
//! client callbacks (`https://app.test/cb`, `https://spa.test/cb`) are never requested.

#![allow(dead_code, unreachable_pub)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use authbridge_actions::{ActionRunner, HostModule, RunnerConfig};
use authbridge_core::model::{
    Action, Client, ClientGrant, Connection, OidcConnectionOptions, ResourceServer,
    TokenEndpointAuthMethod,
};
use authbridge_core::{Clock as _, ManualClock, SharedClock};
use authbridge_federation::{Federation, FederationConfig};
use authbridge_gigya::{Provider, ProviderConfig, RelyingParty};
use authbridge_oidc::jwt::{self, Expectations};
use authbridge_server::{Broker, BrokerSettings};
use authbridge_store::{SqliteStore, Store};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use reqwest::StatusCode;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

/// The confidential web application.
pub const WEB_CLIENT_ID: &str = "web-app";
pub const WEB_CLIENT_SECRET: &str = "web-app-secret";
pub const WEB_CALLBACK: &str = "https://app.test/cb";

/// The public single-page application, which authenticates with PKCE only.
pub const SPA_CLIENT_ID: &str = "spa-app";
pub const SPA_CALLBACK: &str = "https://spa.test/cb";

/// The machine-to-machine client allowed to call the Management API.
pub const M2M_CLIENT_ID: &str = "m2m-app";
pub const M2M_CLIENT_SECRET: &str = "m2m-app-secret";

/// The application's own API and the scopes it defines.
pub const API_AUDIENCE: &str = "https://api.test/";
pub const API_SCOPES: &[&str] = &["read:reports", "write:reports"];

/// Scopes of the Management API, and the subset granted to the machine-to-machine client.
pub const MANAGEMENT_SCOPES: &[&str] = &[
    "read:users",
    "read:current_user",
    "update:users",
    "delete:users",
    "create:users",
    "update:users_app_metadata",
    "read:user_idp_tokens",
];
pub const M2M_GRANTED_SCOPES: &[&str] = &["read:users", "update:users", "read:user_idp_tokens"];

pub const CONNECTION: &str = "Cencora";
pub const GIGYA_API_KEY: &str = "3_authbridge-demo";
pub const BROKER_AT_GIGYA_ID: &str = "authbridge-broker";
pub const BROKER_AT_GIGYA_SECRET: &str = "authbridge-broker-secret";

/// The tenant name actions see as `event.tenant.id`.
pub const TENANT_NAME: &str = "test-tenant";

/// Ada, one of the provider's built-in accounts.
pub const ADA_UID: &str = "4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
pub const ADA_LOGIN_ID: &str = "ada@example.com";
pub const ADA_USER_ID: &str = "oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
/// Grace, another built-in account, for tests that need a second user.
pub const GRACE_UID: &str = "0e8c8b922c37abfbdbd2060ac270276d";
pub const GRACE_LOGIN_ID: &str = "grace@example.com";
pub const PASSWORD: &str = "Passw0rd!";

/// A PKCE verifier and its S256 challenge (RFC 7636, appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const S256_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub const CLIENT_STATE: &str = "client-state-1";
pub const CLIENT_NONCE: &str = "client-nonce-1";

/// Upper bound for any single HTTP exchange, so a hung server fails the test instead of
/// stalling it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Query parameters of an authorization request, in order, with replace and remove helpers.
#[derive(Debug, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Returns a request of the web application for a code with `openid profile email`, the
    /// client's state and nonce, through the Cencora connection.
    pub fn web() -> Self {
        Self::from_pairs(&[
            ("client_id", WEB_CLIENT_ID),
            ("redirect_uri", WEB_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("state", CLIENT_STATE),
            ("nonce", CLIENT_NONCE),
            ("connection", CONNECTION),
        ])
    }

    /// Returns a request of the single-page application with an S256 code challenge.
    pub fn spa() -> Self {
        Self::from_pairs(&[
            ("client_id", SPA_CLIENT_ID),
            ("redirect_uri", SPA_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("state", CLIENT_STATE),
            ("nonce", CLIENT_NONCE),
            ("code_challenge", S256_CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    }

    fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    /// Sets `name` to `value`, replacing an earlier value.
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.retain(|(existing, _)| existing != name);
        self.0.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes `name`.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.0.retain(|(existing, _)| existing != name);
        self
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub struct TokenClient {
    pub client_id: &'static str,
    /// `None` for a public client.
    pub secret: Option<&'static str>,
    pub redirect_uri: &'static str,
}

pub const WEB: TokenClient = TokenClient {
    client_id: WEB_CLIENT_ID,
    secret: Some(WEB_CLIENT_SECRET),
    redirect_uri: WEB_CALLBACK,
};

pub const SPA: TokenClient = TokenClient {
    client_id: SPA_CLIENT_ID,
    secret: None,
    redirect_uri: SPA_CALLBACK,
};

pub const M2M: TokenClient = TokenClient {
    client_id: M2M_CLIENT_ID,
    secret: Some(M2M_CLIENT_SECRET),
    redirect_uri: WEB_CALLBACK,
};

/// Options of a [`TestTenant`] that a test may change before it starts.
pub struct TenantBuilder {
    actions: Vec<Action>,
    action_timeout: Duration,
    captures_dir: Option<PathBuf>,
    modules: Vec<HostModule>,
    discovery_url: Option<String>,
}

impl Default for TenantBuilder {
    fn default() -> Self {
        Self {
            actions: Vec::new(),
            action_timeout: Duration::from_secs(20),
            captures_dir: None,
            modules: Vec::new(),
            discovery_url: None,
        }
    }
}

impl TenantBuilder {
    /// Deploys a post-login action after the ones added before.
    #[must_use]
    pub fn action(self, name: &str, code: &str) -> Self {
        self.action_with_secrets(name, code, &[])
    }

    /// Deploys a post-login action with secrets, after the ones added before.
    #[must_use]
    pub fn action_with_secrets(mut self, name: &str, code: &str, secrets: &[(&str, &str)]) -> Self {
        let position = i64::try_from(self.actions.len()).unwrap();
        self.actions.push(Action {
            id: format!("act_{name}"),
            name: name.to_owned(),
            trigger: "post-login".to_owned(),
            code: code.to_owned(),
            position,
            secrets: secrets
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        });
        self
    }

    /// Sets the wall-clock limit of the post-login flow.
    #[must_use]
    pub fn action_timeout(mut self, timeout: Duration) -> Self {
        self.action_timeout = timeout;
        self
    }

    /// Sets the folder where the broker appends `post-login.jsonl`.
    #[must_use]
    pub fn captures_dir(mut self, dir: PathBuf) -> Self {
        self.captures_dir = Some(dir);
        self
    }

    /// Registers a host module that actions can `require`.
    #[must_use]
    pub fn host_module(mut self, module: HostModule) -> Self {
        self.modules.push(module);
        self
    }

    /// Points the Cencora connection at another discovery URL than the provider's.
    #[must_use]
    pub fn discovery_url(mut self, url: &str) -> Self {
        self.discovery_url = Some(url.to_owned());
        self
    }

    /// Binds both ports, provisions the tenant and starts serving.
    pub async fn start(self) -> TestTenant {
        let broker_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gigya_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", broker_listener.local_addr().unwrap());
        let gigya_base = format!("http://{}", gigya_listener.local_addr().unwrap());
        let gigya_issuer = authbridge_gigya::issuer_for(&gigya_base, GIGYA_API_KEY);

        let clock = ManualClock::starting_now();
        let shared_clock: SharedClock = Arc::new(clock.clone());

        let gigya = Arc::new(
            Provider::new(
                ProviderConfig {
                    api_key: GIGYA_API_KEY.to_owned(),
                    issuer: gigya_issuer.clone(),
                    clients: vec![RelyingParty {
                        client_id: BROKER_AT_GIGYA_ID.to_owned(),
                        client_secret: BROKER_AT_GIGYA_SECRET.into(),
                        redirect_uris: vec![format!("{issuer}login/callback")],
                    }],
                    ..ProviderConfig::default()
                },
                shared_clock.clone(),
            )
            .unwrap(),
        );
        let (gigya_shutdown, gigya_stopped) = oneshot::channel::<()>();
        let gigya_router = gigya.router();
        let gigya_task = tokio::spawn(async move {
            axum::serve(gigya_listener, gigya_router)
                .with_graceful_shutdown(async move {
                    let _ = gigya_stopped.await;
                })
                .await
                .unwrap();
        });

        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let discovery_url = self
            .discovery_url
            .clone()
            .unwrap_or_else(|| format!("{gigya_issuer}/.well-known/openid-configuration"));
        provision(store.as_ref(), &issuer, &discovery_url, &self.actions).await;

        let mut settings = BrokerSettings::new(issuer.clone());
        settings.tenant = TENANT_NAME.to_owned();
        settings.captures_dir = self.captures_dir.clone();
        let federation = Federation::new(
            FederationConfig {
                request_timeout: Duration::from_secs(5),
                ..FederationConfig::default()
            },
            shared_clock.clone(),
        )
        .unwrap();
        let mut runner = ActionRunner::new(RunnerConfig {
            timeout: self.action_timeout,
            ..RunnerConfig::default()
        })
        .unwrap();
        for module in self.modules {
            runner = runner.with_module(module).unwrap();
        }
        let broker = Broker::new(settings, store, shared_clock, federation.clone(), runner)
            .await
            .unwrap();
        let (broker_shutdown, broker_stopped) = oneshot::channel::<()>();
        tokio::spawn(broker.clone().serve(broker_listener, async move {
            let _ = broker_stopped.await;
        }));

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();

        TestTenant {
            issuer,
            gigya_base,
            gigya_issuer,
            gigya,
            clock,
            federation,
            broker,
            http,
            gigya_shutdown: Some(gigya_shutdown),
            gigya_task: Some(gigya_task),
            _broker_shutdown: broker_shutdown,
        }
    }
}

/// Writes the clients, APIs, grant, connection and actions of the test tenant, as the demo
/// tenant is provisioned.
async fn provision(store: &dyn Store, issuer: &str, discovery_url: &str, actions: &[Action]) {
    let client = |client_id: &str,
                  secret: Option<&str>,
                  app_type: &str,
                  method: TokenEndpointAuthMethod,
                  callbacks: &[&str]| Client {
        client_id: client_id.to_owned(),
        name: format!("{client_id} application"),
        client_secret: secret.map(str::to_owned),
        app_type: app_type.to_owned(),
        token_endpoint_auth_method: method,
        callbacks: callbacks.iter().map(|uri| (*uri).to_owned()).collect(),
        client_metadata: Map::new(),
    };
    let clients = [
        client(
            WEB_CLIENT_ID,
            Some(WEB_CLIENT_SECRET),
            "regular_web",
            TokenEndpointAuthMethod::ClientSecretPost,
            &[WEB_CALLBACK],
        ),
        client(
            SPA_CLIENT_ID,
            None,
            "spa",
            TokenEndpointAuthMethod::None,
            &[SPA_CALLBACK],
        ),
        client(
            M2M_CLIENT_ID,
            Some(M2M_CLIENT_SECRET),
            "non_interactive",
            TokenEndpointAuthMethod::ClientSecretPost,
            &[],
        ),
    ];
    for client in &clients {
        store.upsert_client(client).await.unwrap();
    }

    let strings = |scopes: &[&str]| scopes.iter().map(|scope| (*scope).to_owned()).collect();
    store
        .upsert_resource_server(&ResourceServer {
            identifier: API_AUDIENCE.to_owned(),
            name: "Test API".to_owned(),
            scopes: strings(API_SCOPES),
            token_lifetime: 86_400,
        })
        .await
        .unwrap();
    let management_audience = format!("{issuer}api/v2/");
    store
        .upsert_resource_server(&ResourceServer {
            identifier: management_audience.clone(),
            name: "Management API".to_owned(),
            scopes: strings(MANAGEMENT_SCOPES),
            token_lifetime: 86_400,
        })
        .await
        .unwrap();
    store
        .upsert_client_grant(&ClientGrant {
            id: "cgr_m2m_management".to_owned(),
            client_id: M2M_CLIENT_ID.to_owned(),
            audience: management_audience,
            scope: strings(M2M_GRANTED_SCOPES),
        })
        .await
        .unwrap();

    store
        .upsert_connection(&Connection {
            id: "con_cencora".to_owned(),
            name: CONNECTION.to_owned(),
            strategy: "oidc".to_owned(),
            options: OidcConnectionOptions {
                discovery_url: discovery_url.to_owned(),
                client_id: BROKER_AT_GIGYA_ID.to_owned(),
                client_secret: BROKER_AT_GIGYA_SECRET.to_owned(),
                scope: "openid profile email".to_owned(),
            },
            enabled_clients: vec![WEB_CLIENT_ID.to_owned(), SPA_CLIENT_ID.to_owned()],
            metadata: Map::new(),
        })
        .await
        .unwrap();

    store.replace_actions("post-login", actions).await.unwrap();
}

/// A running broker and provider.
pub struct TestTenant {
    /// The broker's issuer, `http://127.0.0.1:{port}/`.
    pub issuer: String,
    /// Scheme, host and port of the provider.
    pub gigya_base: String,
    /// The provider's issuer, without a trailing slash.
    pub gigya_issuer: String,
    pub gigya: Arc<Provider>,
    /// The clock shared by broker, relying party and provider.
    pub clock: ManualClock,
    /// The broker's relying party, for its JWKS fetch counter.
    pub federation: Federation,
    pub broker: Broker,
    /// An HTTP client that does not follow redirects.
    pub http: reqwest::Client,
    gigya_shutdown: Option<oneshot::Sender<()>>,
    gigya_task: Option<JoinHandle<()>>,
    _broker_shutdown: oneshot::Sender<()>,
}

impl TestTenant {
    pub fn builder() -> TenantBuilder {
        TenantBuilder::default()
    }

    /// Starts a tenant without actions.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Returns the broker URL of `path`, which has no leading slash.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Returns the broker's port.
    pub fn broker_port(&self) -> u16 {
        url::Url::parse(&self.issuer).unwrap().port().unwrap()
    }

    /// Returns the shared clock's time in seconds since the Unix epoch.
    pub fn unix_now(&self) -> i64 {
        self.clock.unix()
    }

    pub fn callback_url(&self) -> String {
        self.url("login/callback")
    }

    pub fn management_audience(&self) -> String {
        self.url("api/v2/")
    }

    pub fn userinfo_audience(&self) -> String {
        self.url("userinfo")
    }

    pub fn gigya_jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks", self.gigya_issuer)
    }

    /// Stops the provider and waits until its port is closed and its connections are gone.
    pub async fn stop_provider(&mut self) {
        if let Some(shutdown) = self.gigya_shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.gigya_task.take() {
            tokio::time::timeout(REQUEST_TIMEOUT, task)
                .await
                .expect("the provider stops")
                .unwrap();
        }
    }

    /// Sends `GET /authorize` with `params`.
    pub async fn authorize(&self, params: &Params) -> reqwest::Response {
        self.http
            .get(self.url("authorize"))
            .query(params.pairs())
            .send()
            .await
            .unwrap()
    }

    /// Sends `GET /authorize` and returns the `Location` it redirects to: the provider's
    /// authorization endpoint, or the client's callback when the request is rejected.
    pub async fn start_login(&self, params: &Params) -> Url {
        let response = self.authorize(params).await;
        expect_redirect(response, "/authorize").await
    }

    /// Logs in at the provider's login page behind `location` and returns the broker
    /// callback URL the provider redirects to.
    pub async fn login_at_provider(&self, location: &Url, login_id: &str, password: &str) -> Url {
        assert!(
            location.as_str().starts_with(&self.gigya_issuer),
            "the login was sent to {location}, not to the provider"
        );
        let page = self.http.get(location.clone()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "provider login page status");
        let html = page.text().await.unwrap();
        let action = tag_attribute(&html, "<form", "action").expect("login page has a form");
        let context = input_value(&html, "context").expect("login page has a hidden context field");

        let response = self
            .http
            .post(format!("{}{action}", self.gigya_base))
            .form(&[
                ("context", context.as_str()),
                ("loginID", login_id),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let callback = expect_redirect(response, "the provider's login form").await;
        assert!(
            callback.as_str().starts_with(&self.callback_url()),
            "the provider redirected to {callback}, not to the broker"
        );
        callback
    }

    /// Sends the browser back to the broker at `callback`.
    pub async fn callback(&self, callback: &Url) -> reqwest::Response {
        self.http.get(callback.clone()).send().await.unwrap()
    }

    /// Delivers `callback` to the broker and returns where it redirects: the client's
    /// callback with a code or an error.
    pub async fn finish(&self, callback: &Url) -> Url {
        let response = self.callback(callback).await;
        expect_redirect(response, "/login/callback").await
    }

    /// Runs a whole login as Ada and returns the client redirect.
    pub async fn login(&self, params: &Params) -> Url {
        self.login_as(params, ADA_LOGIN_ID).await
    }

    /// Runs a whole login as the account `login_id` and returns the client redirect.
    pub async fn login_as(&self, params: &Params, login_id: &str) -> Url {
        let location = self.start_login(params).await;
        let callback = self.login_at_provider(&location, login_id, PASSWORD).await;
        self.finish(&callback).await
    }

    /// Runs a whole login as Ada and returns the authorization code of the client redirect.
    pub async fn login_for_code(&self, params: &Params) -> String {
        let redirect = self.login(params).await;
        query_param(&redirect, "code")
            .unwrap_or_else(|| panic!("the login ended without a code: {redirect}"))
    }

    /// Sends a form to `/oauth/token`.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Redeems `code` as `client` with its registered redirect URI.
    pub async fn redeem(
        &self,
        client: TokenClient,
        code: &str,
        verifier: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri),
            ("client_id", client.client_id),
        ];
        if let Some(secret) = client.secret {
            form.push(("client_secret", secret));
        }
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.token_request(&form).await
    }

    /// Redeems `code` as the web application and returns the token response body.
    pub async fn redeem_ok(&self, code: &str) -> Value {
        let (status, body) = json_body(self.redeem(WEB, code, None).await).await;
        assert_eq!(status, StatusCode::OK, "token response: {body}");
        body
    }

    /// Returns the broker's published signing keys.
    pub async fn jwks(&self) -> Vec<Jwk> {
        let response = self
            .http
            .get(self.url(".well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<JwkSet>().await.unwrap().keys
    }

    /// Verifies a token the broker issued for `audience` against its JWKS and returns the
    /// claims.
    pub async fn verified_claims(&self, token: &str, audience: &str) -> Map<String, Value> {
        let (kid, _) = jwt::peek_header(token).unwrap();
        let keys = self.jwks().await;
        let key = keys
            .iter()
            .find(|key| key.common.key_id == kid)
            .unwrap_or_else(|| panic!("no published key has kid {kid:?}"));
        let expectations = Expectations {
            issuer: &self.issuer,
            audience,
            now: self.clock.unix(),
            leeway: 0,
        };
        jwt::verify(token, key, &expectations).unwrap()
    }

    /// Returns a Management API access token holding `scope`, or every granted scope when
    /// `scope` is `None`.
    pub async fn management_token(&self, scope: Option<&str>) -> String {
        let audience = self.management_audience();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", M2M_CLIENT_ID),
            ("client_secret", M2M_CLIENT_SECRET),
            ("audience", audience.as_str()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let (status, body) = json_body(self.token_request(&form).await).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "client credentials response: {body}"
        );
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Sends `GET /api/v2/users/{encoded_id}` with the id put into the path as given.
    pub async fn get_user_raw(&self, token: &str, encoded_id: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("api/v2/users/{encoded_id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Returns the user `user_id` through the Management API with every granted scope.
    pub async fn get_user(&self, user_id: &str) -> (StatusCode, Value) {
        let token = self.management_token(None).await;
        let encoded = user_id.replace('|', "%7C");
        json_body(self.get_user_raw(&token, &encoded).await).await
    }

    /// Sends `GET /userinfo`, with `access_token` as bearer token when given.
    pub async fn userinfo(&self, access_token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url("userinfo"));
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Returns the broker's discovery document.
    pub async fn discovery(&self) -> Value {
        let response = self
            .http
            .get(self.url(".well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

/// Returns the `Location` of a `302 Found`, failing with the status and body otherwise.
pub async fn expect_redirect(response: reqwest::Response, step: &str) -> Url {
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|value| value.to_str().unwrap().to_owned());
    match location {
        Some(location) if status == StatusCode::FOUND => Url::parse(&location).unwrap(),
        _ => {
            let body = response.text().await.unwrap_or_default();
            panic!("{step} answered {status} without a redirect: {body}")
        }
    }
}

/// Returns the status and JSON body of a response.
pub async fn json_body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"));
    (status, body)
}

/// Returns the decoded value of query parameter `name`.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Returns the decoded value of parameter `name` in the fragment.
pub fn fragment_param(url: &Url, name: &str) -> Option<String> {
    url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Returns the raw, still encoded value of query parameter `name`.
pub fn raw_query_param<'a>(url: &'a Url, name: &str) -> Option<&'a str> {
    url.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Returns the value of `attribute` in the first tag that starts with `tag_start`, such as
/// `<form`.
pub fn tag_attribute(html: &str, tag_start: &str, attribute: &str) -> Option<String> {
    let start = html.find(tag_start)?;
    let end = start + html[start..].find('>')?;
    attribute_in(&html[start..end], attribute)
}

/// Returns the `value` of the `<input>` named `name`, with HTML entities of quotes and
/// ampersands decoded.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let mut rest = html;
    while let Some(start) = rest.find("<input") {
        let tag_end = start + rest[start..].find('>')?;
        let tag = &rest[start..tag_end];
        if tag.contains(&marker) {
            return attribute_in(tag, "value").map(|value| unescape_html(&value));
        }
        rest = &rest[tag_end..];
    }
    None
}

fn attribute_in(tag: &str, attribute: &str) -> Option<String> {
    let needle = format!(" {attribute}=\"");
    let value_start = tag.find(&needle)? + needle.len();
    let value_end = value_start + tag[value_start..].find('"')?;
    Some(tag[value_start..value_end].to_owned())
}

fn unescape_html(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#43;", "+")
        .replace("&amp;", "&")
}

/// Returns a loopback URL on a port that nothing listens on.
pub async fn closed_port_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}{path}")
}

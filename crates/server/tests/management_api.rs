//! The Management API v2 users endpoints over real sockets.
//!
//! The first tests log Ada in through the Gigya-compatible provider (the shared `support`
//! tenant) and read her through `GET /api/v2/users/{id}`. The rest run on a smaller tenant of
//! their own, the `harness` module below, with users written straight into the store, a
//! configurable rate limit and a clock at a whole second. They cover search, paging, sorting,
//! field selection, PATCH, DELETE, users-by-email, scopes, token errors, the release of
//! upstream tokens and rate limiting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

const ADA_ENCODED_ID: &str = "oidc%7CCencora%7C4a6f1d2e8b9c4f0a9e3d2c1b0a998877";

/// Logs Ada in once, so the user and her upstream tokens exist.
async fn tenant_with_ada() -> TestTenant {
    let tenant = TestTenant::start().await;
    tenant.login_for_code(&Params::web()).await;
    tenant
}

fn first_identity(user: &Value) -> &serde_json::Map<String, Value> {
    user["identities"][0].as_object().unwrap()
}

#[tokio::test]
async fn idp_token_scope_shows_upstream_tokens() {
    let tenant = tenant_with_ada().await;
    let token = tenant
        .management_token(Some("read:users read:user_idp_tokens"))
        .await;

    let (status, user) = json_body(tenant.get_user_raw(&token, ADA_ENCODED_ID).await).await;

    assert_eq!(status, StatusCode::OK, "user: {user}");
    let identity = first_identity(&user);
    assert!(
        identity
            .get("access_token")
            .and_then(Value::as_str)
            .is_some_and(|token| !token.is_empty()),
        "identity: {identity:?}"
    );
    assert!(identity.contains_key("refresh_token"), "{identity:?}");
    assert!(identity.contains_key("expires_in"), "{identity:?}");
}

#[tokio::test]
async fn read_users_scope_hides_upstream_tokens() {
    let tenant = tenant_with_ada().await;
    let token = tenant.management_token(Some("read:users")).await;

    let (status, user) = json_body(tenant.get_user_raw(&token, ADA_ENCODED_ID).await).await;

    assert_eq!(status, StatusCode::OK, "user: {user}");
    let identity = first_identity(&user);
    assert!(!identity.contains_key("access_token"), "{identity:?}");
    assert!(!identity.contains_key("refresh_token"), "{identity:?}");
    assert!(!identity.contains_key("expires_in"), "{identity:?}");
    assert_eq!(identity["connection"], json!(CONNECTION));
}

#[tokio::test]
async fn user_lookup_without_relevant_scope_is_forbidden() {
    let tenant = tenant_with_ada().await;
    let token = tenant.management_token(Some("update:users")).await;

    let (status, body) = json_body(tenant.get_user_raw(&token, ADA_ENCODED_ID).await).await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["statusCode"], json!(403));
    assert_eq!(body["error"], json!("Forbidden"));
    assert_eq!(body["errorCode"], json!("insufficient_scope"));
    assert_eq!(
        body["message"],
        json!(
            "Insufficient scope, expected any of: read:users,read:current_user,read:user_idp_tokens"
        )
    );
}

#[tokio::test]
async fn user_lookup_without_token_is_unauthorized() {
    let tenant = tenant_with_ada().await;

    let response = tenant
        .http
        .get(tenant.url(&format!("api/v2/users/{ADA_ENCODED_ID}")))
        .send()
        .await
        .unwrap();
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["statusCode"], json!(401));
}

#[tokio::test]
async fn login_access_token_is_unauthorized() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;
    let tokens = tenant.redeem_ok(&code).await;
    let access_token = tokens["access_token"].as_str().unwrap();

    let (status, body) = json_body(tenant.get_user_raw(access_token, ADA_ENCODED_ID).await).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn user_token_reads_own_profile_without_upstream_tokens() {
    let tenant = TestTenant::start().await;
    let audience = tenant.url("api/v2/").to_string();
    let params = Params::web()
        .with("audience", &audience)
        .with("scope", "openid read:current_user");
    let code = tenant.login_for_code(&params).await;
    let tokens = tenant.redeem_ok(&code).await;
    let access_token = tokens["access_token"].as_str().unwrap();

    let (status, user) = json_body(tenant.get_user_raw(access_token, ADA_ENCODED_ID).await).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(
        user["user_id"],
        json!("oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877")
    );
    assert!(
        !first_identity(&user).contains_key("access_token"),
        "{user}"
    );

    let someone_else = "oidc%7CCencora%7Cffffffffffffffffffffffffffffffff";
    let (status, body) = json_body(tenant.get_user_raw(access_token, someone_else).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn expired_management_token_is_unauthorized() {
    let tenant = tenant_with_ada().await;
    let token = tenant.management_token(Some("read:users")).await;

    tenant
        .clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    let (status, body) = json_body(tenant.get_user_raw(&token, ADA_ENCODED_ID).await).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errorCode"], json!("invalid_token"));
}

#[tokio::test]
async fn user_id_with_encoded_pipe_is_found() {
    let tenant = tenant_with_ada().await;
    let token = tenant.management_token(Some("read:users")).await;

    let (status, user) = json_body(tenant.get_user_raw(&token, ADA_ENCODED_ID).await).await;

    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["user_id"], json!(ADA_USER_ID));
}

#[tokio::test]
async fn user_id_with_raw_pipe_is_found() {
    let tenant = tenant_with_ada().await;
    let token = tenant.management_token(Some("read:users")).await;

    let response = tenant.get_user_raw(&token, ADA_USER_ID).await;
    let path = response.url().path().to_owned();
    let (status, user) = json_body(response).await;

    assert!(path.contains('|'), "the request path was encoded: {path}");
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["user_id"], json!(ADA_USER_ID));
}

#[tokio::test]
async fn double_encoded_user_id_is_not_found() {
    let tenant = tenant_with_ada().await;
    let token = tenant.management_token(Some("read:users")).await;
    let double_encoded = ADA_ENCODED_ID.replace("%7C", "%257C");

    let (status, body) = json_body(tenant.get_user_raw(&token, &double_encoded).await).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["statusCode"], json!(404));
    assert_eq!(body["errorCode"], json!("inexistent_user"));
}

#[tokio::test]
async fn client_credentials_token_holds_granted_scopes() {
    let tenant = TestTenant::start().await;

    let token = tenant.management_token(None).await;

    let claims = tenant
        .verified_claims(&token, &tenant.management_audience())
        .await;
    assert_eq!(claims["scope"], json!(M2M_GRANTED_SCOPES.join(" ")));
    assert_eq!(claims["sub"], json!(format!("{M2M_CLIENT_ID}@clients")));
    assert_eq!(claims["gty"], json!("client-credentials"));
}

#[tokio::test]
async fn ungranted_scope_is_denied() {
    let tenant = TestTenant::start().await;
    let audience = tenant.management_audience();

    let response = tenant
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", M2M_CLIENT_ID),
            ("client_secret", M2M_CLIENT_SECRET),
            ("audience", audience.as_str()),
            ("scope", "read:users delete:users"),
        ])
        .await;
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], json!("access_denied"));
}

/// A broker on a loopback port with an in-memory store, a manual clock standing at a whole
/// second, machine-to-machine clients and three users written straight into the store. No
/// upstream provider runs: the users' upstream tokens are recorded as a login would.
mod harness {
    use std::sync::Arc;

    use authbridge_actions::{ActionRunner, RunnerConfig};
    use authbridge_core::model::{
        Client, ClientGrant, FederatedLogin, LoginCompletion, ResourceServer,
        TokenEndpointAuthMethod, UpstreamProfile, UpstreamTokens,
    };
    use authbridge_core::{Clock as _, ManualClock, SharedClock};
    use authbridge_federation::{Federation, FederationConfig};
    use authbridge_server::{Broker, BrokerSettings, RateLimit};
    use authbridge_store::{SqliteStore, Store};
    use chrono::{DateTime, Duration};
    use reqwest::header::HeaderMap;
    use reqwest::{Method, StatusCode};
    use serde_json::{Map, Value, json};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    pub(super) const ADMIN_CLIENT: &str = "m2m-admin";
    pub(super) const OTHER_CLIENT: &str = "m2m-other";
    const CLIENT_SECRET: &str = "m2m-secret";

    /// Every Management API scope the broker checks, all granted to both clients.
    pub(super) const ALL_SCOPES: &str = "read:users update:users update:users_app_metadata \
                                  delete:users read:user_idp_tokens";
    /// An API other than the Management API, to obtain tokens with the wrong audience.
    pub(super) const OTHER_API: &str = "https://api.test/";

    pub(super) const ADA: &str = "oidc|Cencora|ada";
    pub(super) const GRACE: &str = "oidc|Cencora|grace";
    pub(super) const ALAN: &str = "oidc|Cencora|alan";
    pub(super) const ADA_ACCESS_TOKEN: &str = "upstream-access-ada";
    pub(super) const ADA_REFRESH_TOKEN: &str = "upstream-refresh-ada";

    /// A limit no test reaches unless it sets its own.
    pub(super) const GENEROUS: RateLimit = RateLimit {
        per_second: 10_000,
        burst: 10_000,
    };

    pub(super) struct Tenant {
        pub(super) issuer: String,
        pub(super) clock: ManualClock,
        pub(super) store: Arc<dyn Store>,
        http: reqwest::Client,
        _shutdown: oneshot::Sender<()>,
    }

    /// A response's status, headers and body, the body parsed as JSON when there is one.
    pub(super) struct Reply {
        pub(super) status: StatusCode,
        pub(super) headers: HeaderMap,
        pub(super) body: Value,
    }

    impl Reply {
        /// Returns a header's value as text, or an empty string when it is absent.
        pub(super) fn header(&self, name: &str) -> &str {
            self.headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
        }
    }

    impl Tenant {
        /// Starts a broker with `limit` and provisions the clients and users.
        pub(super) async fn start(limit: RateLimit) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let issuer = format!("http://{}/", listener.local_addr().unwrap());
            let clock = ManualClock::new(DateTime::from_timestamp(1_900_000_000, 0).unwrap());
            let shared_clock: SharedClock = Arc::new(clock.clone());
            let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
            provision_clients(store.as_ref(), &issuer).await;

            let mut settings = BrokerSettings::new(issuer.clone());
            settings.management_rate_limit = limit;
            let federation =
                Federation::new(FederationConfig::default(), shared_clock.clone()).unwrap();
            let runner = ActionRunner::new(RunnerConfig::default()).unwrap();
            let broker = Broker::new(settings, store.clone(), shared_clock, federation, runner)
                .await
                .unwrap();
            let (shutdown, stopped) = oneshot::channel::<()>();
            tokio::spawn(broker.serve(listener, async move {
                let _ = stopped.await;
            }));

            let tenant = Self {
                issuer,
                clock,
                store,
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(30))
                    .build()
                    .unwrap(),
                _shutdown: shutdown,
            };
            tenant.add_users().await;
            tenant
        }

        /// Writes Ada, Grace and Alan, one second apart, Ada first. Only Ada has upstream
        /// tokens.
        async fn add_users(&self) {
            self.add_user(
                "ada",
                "ada@example.com",
                "Ada Lovelace",
                Some((ADA_ACCESS_TOKEN, ADA_REFRESH_TOKEN)),
                json!({"plan": "pro", "roles": ["admin", "billing"], "seats": 12}),
                json!({"prefs": {"newsletter": true, "theme": "dark"}}),
            )
            .await;
            self.add_user(
                "grace",
                "Grace@Example.com",
                "Grace Hopper",
                None,
                json!({"plan": "free", "seats": 3}),
                json!({"prefs": {"newsletter": false}}),
            )
            .await;
            self.add_user(
                "alan",
                "alan@sample.org",
                "Alan Turing",
                None,
                json!({}),
                json!({}),
            )
            .await;
        }

        async fn add_user(
            &self,
            sub: &str,
            email: &str,
            name: &str,
            tokens: Option<(&str, &str)>,
            app_metadata: Value,
            user_metadata: Value,
        ) {
            let now = self.clock.now();
            let login = FederatedLogin {
                connection: "Cencora".into(),
                profile: UpstreamProfile {
                    sub: sub.into(),
                    email: Some(email.into()),
                    email_verified: true,
                    name: Some(name.into()),
                    nickname: Some(sub.into()),
                    ..UpstreamProfile::default()
                },
                tokens: UpstreamTokens {
                    access_token: tokens.map(|(access, _)| access.to_owned()),
                    refresh_token: tokens.map(|(_, refresh)| refresh.to_owned()),
                    expires_at: tokens.map(|_| now + Duration::hours(1)),
                },
            };
            let user = self
                .store
                .record_federated_login(&login, now)
                .await
                .unwrap();
            let completion = LoginCompletion {
                app_metadata: object(app_metadata),
                user_metadata: object(user_metadata),
                count_login: true,
                at: Some(now),
            };
            self.store
                .complete_login(&user.user_id, &completion)
                .await
                .unwrap();
            self.clock.advance(Duration::seconds(1));
        }

        /// Returns a Management API token of the admin client holding `scope`.
        pub(super) async fn token(&self, scope: &str) -> String {
            self.token_for(ADMIN_CLIENT, &self.management_audience(), scope)
                .await
        }

        pub(super) async fn token_for(
            &self,
            client_id: &str,
            audience: &str,
            scope: &str,
        ) -> String {
            let response = self
                .http
                .post(format!("{}oauth/token", self.issuer))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", CLIENT_SECRET),
                    ("audience", audience),
                    ("scope", scope),
                ])
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::OK, "token response: {body}");
            body["access_token"].as_str().unwrap().to_owned()
        }

        pub(super) fn management_audience(&self) -> String {
            format!("{}api/v2/", self.issuer)
        }

        /// Sends `method` to `path` (relative to the issuer, query string included as
        /// given), with a bearer token and a raw body when given.
        pub(super) async fn send(
            &self,
            method: Method,
            path: &str,
            token: Option<&str>,
            body: Option<&str>,
        ) -> Reply {
            let mut request = self.http.request(method, format!("{}{path}", self.issuer));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_owned());
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap();
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text)
                    .unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"))
            };
            Reply {
                status,
                headers,
                body,
            }
        }

        pub(super) async fn get(&self, path: &str, token: &str) -> Reply {
            self.send(Method::GET, path, Some(token), None).await
        }

        /// Sends `GET /api/v2/users` with `params` URL-encoded.
        pub(super) async fn list(&self, token: &str, params: &[(&str, &str)]) -> Reply {
            let query = serde_urlencoded::to_string(params).unwrap();
            self.get(&format!("api/v2/users?{query}"), token).await
        }

        pub(super) async fn patch(&self, user_id: &str, token: &str, body: &str) -> Reply {
            let path = format!("api/v2/users/{}", encoded(user_id));
            self.send(Method::PATCH, &path, Some(token), Some(body))
                .await
        }

        /// Returns the user as stored, bypassing the API.
        pub(super) async fn stored_user(
            &self,
            user_id: &str,
        ) -> Option<authbridge_core::model::User> {
            self.store.user(user_id).await.unwrap()
        }
    }

    /// Percent-encodes the `|` of a user id, as clients do.
    pub(super) fn encoded(user_id: &str) -> String {
        user_id.replace('|', "%7C")
    }

    /// Returns the `user_id` of each user in a JSON array.
    pub(super) fn ids(users: &Value) -> Vec<String> {
        users
            .as_array()
            .unwrap_or_else(|| panic!("not an array: {users}"))
            .iter()
            .map(|user| user["user_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub(super) fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    async fn provision_clients(store: &dyn Store, issuer: &str) {
        let scopes: Vec<String> = ALL_SCOPES.split_whitespace().map(str::to_owned).collect();
        let management = format!("{issuer}api/v2/");
        store
            .upsert_resource_server(&ResourceServer {
                identifier: management.clone(),
                name: "Management API".into(),
                scopes: scopes.clone(),
                token_lifetime: 86_400,
            })
            .await
            .unwrap();
        store
            .upsert_resource_server(&ResourceServer {
                identifier: OTHER_API.into(),
                name: "Other API".into(),
                scopes: vec!["read:users".into()],
                token_lifetime: 86_400,
            })
            .await
            .unwrap();

        for client_id in [ADMIN_CLIENT, OTHER_CLIENT] {
            store
                .upsert_client(&Client {
                    client_id: client_id.into(),
                    name: client_id.into(),
                    client_secret: Some(CLIENT_SECRET.into()),
                    app_type: "non_interactive".into(),
                    token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
                    callbacks: Vec::new(),
                    client_metadata: Map::new(),
                })
                .await
                .unwrap();
            for (audience, scope) in [
                (management.clone(), scopes.clone()),
                (OTHER_API.to_owned(), vec!["read:users".to_owned()]),
            ] {
                store
                    .upsert_client_grant(&ClientGrant {
                        id: format!("cgr_{client_id}_{audience}"),
                        client_id: client_id.into(),
                        audience,
                        scope,
                    })
                    .await
                    .unwrap();
            }
        }
    }
}

use authbridge_core::Clock as _;
use authbridge_server::RateLimit;
use harness::{
    ADA, ADA_ACCESS_TOKEN, ADA_REFRESH_TOKEN, ADMIN_CLIENT, ALAN, ALL_SCOPES, GENEROUS, GRACE,
    OTHER_API, OTHER_CLIENT, Reply, Tenant, encoded, ids,
};
use reqwest::Method;

async fn tenant() -> Tenant {
    Tenant::start(GENEROUS).await
}

/// Asserts a Management API error body field by field.
fn assert_error(reply: &Reply, status: u16, error: &str, error_code: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.body["statusCode"], json!(status), "{}", reply.body);
    assert_eq!(reply.body["error"], json!(error), "{}", reply.body);
    assert_eq!(reply.body["errorCode"], json!(error_code), "{}", reply.body);
    assert!(reply.body["message"].is_string(), "{}", reply.body);
}

async fn search(tenant: &Tenant, q: &str) -> Vec<String> {
    let token = tenant.token("read:users").await;
    let reply = tenant
        .list(&token, &[("q", q), ("search_engine", "v3")])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "q={q}: {}", reply.body);
    ids(&reply.body)
}

#[tokio::test]
async fn list_without_q_returns_bare_array() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant.list(&token, &[]).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(ids(&reply.body), [ADA, GRACE, ALAN]);
}

#[tokio::test]
async fn list_filters_by_field_value() {
    let tenant = tenant().await;

    assert_eq!(search(&tenant, "email:grace@example.com").await, [GRACE]);
    assert_eq!(search(&tenant, "nickname:ALAN").await, [ALAN]);
    assert_eq!(
        search(&tenant, "email_verified:true").await,
        [ADA, GRACE, ALAN]
    );
    assert_eq!(search(&tenant, "logins_count:1").await, [ADA, GRACE, ALAN]);
    assert_eq!(
        search(&tenant, "identities.connection:Cencora").await,
        [ADA, GRACE, ALAN]
    );
    assert!(search(&tenant, "email:nobody@example.com").await.is_empty());
}

#[tokio::test]
async fn list_matches_quoted_phrase() {
    let tenant = tenant().await;

    assert_eq!(search(&tenant, r#"name:"Ada Lovelace""#).await, [ADA]);
    assert_eq!(search(&tenant, r#"name:"grace hopper""#).await, [GRACE]);
    assert!(search(&tenant, r#"name:"Ada""#).await.is_empty());
}

#[tokio::test]
async fn list_matches_trailing_wildcard() {
    let tenant = tenant().await;

    assert_eq!(search(&tenant, "email:a*").await, [ADA, ALAN]);
    assert_eq!(search(&tenant, "email:*").await, [ADA, GRACE, ALAN]);
    assert_eq!(search(&tenant, "name:grace*").await, [GRACE]);
}

#[tokio::test]
async fn list_combines_and_or_not() {
    let tenant = tenant().await;

    assert_eq!(search(&tenant, "email:a* AND nickname:alan").await, [ALAN]);
    assert_eq!(search(&tenant, "email:a* nickname:alan").await, [ALAN]);
    assert_eq!(
        search(&tenant, "nickname:ada OR nickname:grace").await,
        [ADA, GRACE]
    );
    assert_eq!(search(&tenant, "NOT nickname:ada").await, [GRACE, ALAN]);
    assert_eq!(
        search(
            &tenant,
            "(nickname:ada OR nickname:alan) AND NOT email:alan*"
        )
        .await,
        [ADA]
    );
    assert_eq!(
        search(&tenant, "nickname:(ada OR grace) -app_metadata.plan:free").await,
        [ADA]
    );
}

#[tokio::test]
async fn list_matches_field_existence() {
    let tenant = tenant().await;

    assert_eq!(
        search(&tenant, "_exists_:app_metadata.plan").await,
        [ADA, GRACE]
    );
    assert_eq!(
        search(&tenant, "NOT _exists_:app_metadata.plan").await,
        [ALAN]
    );
    assert!(search(&tenant, "_exists_:given_name").await.is_empty());
}

#[tokio::test]
async fn list_matches_nested_metadata() {
    let tenant = tenant().await;

    assert_eq!(search(&tenant, "app_metadata.plan:pro").await, [ADA]);
    assert_eq!(search(&tenant, "app_metadata.roles:billing").await, [ADA]);
    assert_eq!(
        search(&tenant, "user_metadata.prefs.newsletter:true").await,
        [ADA]
    );
    assert_eq!(
        search(&tenant, "user_metadata.prefs.newsletter:false").await,
        [GRACE]
    );
    assert_eq!(
        search(&tenant, "app_metadata.seats:[3 TO 10]").await,
        [GRACE]
    );
}

#[tokio::test]
async fn list_matches_bare_terms_in_profile_fields() {
    let tenant = tenant().await;

    assert_eq!(search(&tenant, "hopper").await, [GRACE]);
    assert_eq!(search(&tenant, "alan@sample.org").await, [ALAN]);
    assert!(
        search(&tenant, "pro").await.is_empty(),
        "bare terms skip metadata"
    );
}

#[tokio::test]
async fn list_never_searches_upstream_tokens() {
    let tenant = tenant().await;
    let token = tenant.token(ALL_SCOPES).await;

    let by_value = format!("identities.access_token:{ADA_ACCESS_TOKEN}");
    for q in [
        "_exists_:identities.access_token",
        by_value.as_str(),
        "identities.refresh_token:upstream*",
    ] {
        let reply = tenant.list(&token, &[("q", q)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(ids(&reply.body).is_empty(), "q={q} found {}", reply.body);
    }
}

#[tokio::test]
async fn list_with_malformed_q_is_rejected() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    for q in ["name:", "(email:a*", "email:a*b", "AND x", "name:\"open"] {
        let reply = tenant.list(&token, &[("q", q)]).await;

        assert_error(&reply, 400, "Bad Request", "invalid_query_string");
        let message = reply.body["message"].as_str().unwrap();
        assert!(
            message.starts_with("Query validation error: invalid q: "),
            "q={q}: {message}"
        );
    }
    let reply = tenant.list(&token, &[("q", "name:")]).await;
    assert_eq!(
        reply.body,
        json!({
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Query validation error: invalid q: expected a value after 'name:' \
                        at character 6.",
            "errorCode": "invalid_query_string",
        })
    );
}

#[tokio::test]
async fn list_accepts_search_engine_v3_only() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let v3 = tenant.list(&token, &[("search_engine", "v3")]).await;
    assert_eq!(v3.status, StatusCode::OK);
    for engine in ["v1", "v2", "v4"] {
        let reply = tenant.list(&token, &[("search_engine", engine)]).await;
        assert_error(&reply, 400, "Bad Request", "invalid_query_string");
    }
}

#[tokio::test]
async fn list_pages_with_totals() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let second_page = tenant
        .list(
            &token,
            &[("per_page", "2"), ("page", "1"), ("include_totals", "true")],
        )
        .await;
    let first_page = tenant.list(&token, &[("per_page", "2")]).await;
    let without_totals = tenant
        .list(&token, &[("per_page", "2"), ("include_totals", "false")])
        .await;

    assert_eq!(second_page.status, StatusCode::OK);
    assert_eq!(second_page.body["start"], json!(2));
    assert_eq!(second_page.body["limit"], json!(2));
    assert_eq!(second_page.body["length"], json!(1));
    assert_eq!(second_page.body["total"], json!(3));
    assert_eq!(ids(&second_page.body["users"]), [ALAN]);
    assert_eq!(ids(&first_page.body), [ADA, GRACE]);
    assert_eq!(ids(&without_totals.body), [ADA, GRACE]);
}

#[tokio::test]
async fn list_totals_count_matches_beyond_page() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant
        .list(
            &token,
            &[
                ("q", "email:a*"),
                ("per_page", "1"),
                ("include_totals", "true"),
            ],
        )
        .await;

    assert_eq!(reply.body["total"], json!(2));
    assert_eq!(reply.body["length"], json!(1));
    assert_eq!(ids(&reply.body["users"]), [ADA]);
}

#[tokio::test]
async fn list_rejects_invalid_paging_parameters() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    for params in [
        [("per_page", "101"), ("page", "0")],
        [("per_page", "-1"), ("page", "0")],
        [("per_page", "10"), ("page", "first")],
    ] {
        let reply = tenant.list(&token, &params).await;
        assert_error(&reply, 400, "Bad Request", "invalid_query_string");
    }
    let include_totals = tenant.list(&token, &[("include_totals", "yes")]).await;
    assert_error(&include_totals, 400, "Bad Request", "invalid_query_string");
    let max_page = tenant
        .list(&token, &[("per_page", "100"), ("page", "9")])
        .await;
    assert_eq!(max_page.status, StatusCode::OK);
}

#[tokio::test]
async fn list_past_first_thousand_results_is_rejected() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant
        .list(&token, &[("per_page", "100"), ("page", "10")])
        .await;

    assert_error(&reply, 400, "Bad Request", "invalid_paging");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .starts_with("You can only page through the first 1000 records."),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn list_sorts_by_field_in_either_direction() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let by_email = tenant.list(&token, &[("sort", "email:1")]).await;
    let newest_first = tenant.list(&token, &[("sort", "created_at:-1")]).await;
    let by_nickname_descending = tenant.list(&token, &[("sort", "nickname:-1")]).await;

    assert_eq!(ids(&by_email.body), [ADA, ALAN, GRACE]);
    assert_eq!(ids(&newest_first.body), [ALAN, GRACE, ADA]);
    assert_eq!(ids(&by_nickname_descending.body), [GRACE, ALAN, ADA]);
    for sort in ["email", "email:2", ":1", "email:up"] {
        let reply = tenant.list(&token, &[("sort", sort)]).await;
        assert_error(&reply, 400, "Bad Request", "invalid_query_string");
    }
}

#[tokio::test]
async fn list_returns_only_selected_fields() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let included = tenant
        .list(
            &token,
            &[("fields", "user_id,email"), ("q", "nickname:ada")],
        )
        .await;
    let excluded = tenant
        .list(
            &token,
            &[
                ("fields", "identities,app_metadata"),
                ("include_fields", "false"),
                ("q", "nickname:ada"),
            ],
        )
        .await;

    assert_eq!(
        included.body,
        json!([{"user_id": ADA, "email": "ada@example.com"}])
    );
    let user = excluded.body[0].as_object().unwrap();
    assert!(!user.contains_key("identities"), "{user:?}");
    assert!(!user.contains_key("app_metadata"), "{user:?}");
    assert!(user.contains_key("user_metadata"), "{user:?}");
    assert!(user.contains_key("email"), "{user:?}");
}

#[tokio::test]
async fn list_rejects_unknown_parameter() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant.list(&token, &[("connection", "Cencora")]).await;

    assert_error(&reply, 400, "Bad Request", "invalid_query_string");
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("connection"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn get_user_accepts_raw_and_encoded_pipes() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let raw = tenant.get(&format!("api/v2/users/{ADA}"), &token).await;
    let encoded_pipes = tenant
        .get(&format!("api/v2/users/{}", encoded(ADA)), &token)
        .await;
    let lower_case_escape = tenant
        .get(&format!("api/v2/users/{}", ADA.replace('|', "%7c")), &token)
        .await;

    for reply in [&raw, &encoded_pipes, &lower_case_escape] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["user_id"], json!(ADA));
    }
}

#[tokio::test]
async fn get_user_does_not_decode_twice() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant
        .get(
            &format!("api/v2/users/{}", ADA.replace('|', "%257C")),
            &token,
        )
        .await;

    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.body,
        json!({
            "statusCode": 404,
            "error": "Not Found",
            "message": "The user does not exist.",
            "errorCode": "inexistent_user",
        })
    );
}

#[tokio::test]
async fn get_user_returns_selected_fields() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;
    let path = format!("api/v2/users/{}", encoded(GRACE));

    let included = tenant
        .get(&format!("{path}?fields=email,app_metadata"), &token)
        .await;
    let excluded = tenant
        .get(
            &format!("{path}?fields=identities&include_fields=false"),
            &token,
        )
        .await;
    let unknown = tenant.get(&format!("{path}?q=x"), &token).await;

    assert_eq!(
        included.body,
        json!({"email": "Grace@Example.com", "app_metadata": {"plan": "free", "seats": 3}})
    );
    assert_eq!(excluded.body["user_id"], json!(GRACE));
    assert!(
        excluded.body.get("identities").is_none(),
        "{}",
        excluded.body
    );
    assert_error(&unknown, 400, "Bad Request", "invalid_query_string");
}

#[tokio::test]
async fn get_unknown_user_is_not_found() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant
        .get("api/v2/users/oidc%7CCencora%7Cnobody", &token)
        .await;

    assert_error(&reply, 404, "Not Found", "inexistent_user");
}

#[tokio::test]
async fn patch_merges_metadata_one_level_and_null_deletes() {
    let tenant = tenant().await;
    let token = tenant.token("update:users").await;

    let reply = tenant
        .patch(
            ADA,
            &token,
            r#"{"app_metadata": {"plan": "enterprise", "seats": null, "region": {"eu": true}},
                "user_metadata": {"prefs": {"theme": "light"}}}"#,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["app_metadata"],
        json!({"plan": "enterprise", "roles": ["admin", "billing"], "region": {"eu": true}})
    );
    assert_eq!(
        reply.body["user_metadata"],
        json!({"prefs": {"theme": "light"}}),
        "nested objects are replaced, not merged"
    );
    let stored = tenant.stored_user(ADA).await.unwrap();
    assert_eq!(json!(stored.app_metadata), reply.body["app_metadata"]);
}

#[tokio::test]
async fn patch_with_empty_metadata_object_clears_it() {
    let tenant = tenant().await;
    let token = tenant.token("update:users").await;

    let reply = tenant.patch(ADA, &token, r#"{"user_metadata": {}}"#).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["user_metadata"], json!({}));
    assert_eq!(reply.body["app_metadata"]["plan"], json!("pro"));
}

#[tokio::test]
async fn patch_replaces_and_clears_root_fields() {
    let tenant = tenant().await;
    let token = tenant.token("update:users").await;
    tenant.clock.advance(chrono::Duration::seconds(60));

    let reply = tenant
        .patch(
            GRACE,
            &token,
            r#"{"name": "Grace Brewster Hopper", "given_name": "Grace", "family_name": "Hopper",
                "nickname": null, "picture": "https://example.com/grace.png",
                "email": "grace@navy.example", "email_verified": false, "blocked": true}"#,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let user = &reply.body;
    assert_eq!(user["name"], json!("Grace Brewster Hopper"));
    assert_eq!(user["given_name"], json!("Grace"));
    assert_eq!(user["family_name"], json!("Hopper"));
    assert!(user.get("nickname").is_none(), "{user}");
    assert_eq!(user["picture"], json!("https://example.com/grace.png"));
    assert_eq!(user["email"], json!("grace@navy.example"));
    assert_eq!(user["email_verified"], json!(false));
    assert_eq!(user["blocked"], json!(true));
    let expected_updated_at = tenant
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(user["updated_at"], json!(expected_updated_at));
    assert_eq!(tenant.stored_user(GRACE).await.unwrap().nickname, None);
}

#[tokio::test]
async fn patch_unknown_field_writes_nothing() {
    let tenant = tenant().await;
    let token = tenant.token("update:users").await;
    let before = tenant.stored_user(ADA).await.unwrap();

    let reply = tenant
        .patch(
            ADA,
            &token,
            r#"{"app_metadata": {"plan": "free"}, "name": "Changed", "username": "ada"}"#,
        )
        .await;

    assert_eq!(
        reply.body,
        json!({
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Payload validation error: 'Additional properties not allowed: username'.",
            "errorCode": "invalid_body",
        })
    );
    assert_eq!(tenant.stored_user(ADA).await.unwrap(), before);
}

#[tokio::test]
async fn patch_invalid_body_writes_nothing() {
    let tenant = tenant().await;
    let token = tenant.token("update:users").await;
    let before = tenant.stored_user(ADA).await.unwrap();

    let cases = [
        (r#"{"blocked": "yes"}"#, "on property blocked"),
        (r#"{"email_verified": null}"#, "on property email_verified"),
        (r#"{"name": 42}"#, "on property name"),
        (r#"{"name": ""}"#, "on property name"),
        (r#"{"email": "not-an-email"}"#, "on property email"),
        (r#"{"app_metadata": ["x"]}"#, "on property app_metadata"),
        (
            r#"{"app_metadata": {"plan": "free"}, "user_metadata": 1}"#,
            "user_metadata",
        ),
        ("[]", "Expected type object"),
        ("{}", "Too few properties"),
        ("not json", "Invalid request payload JSON format"),
        ("", "Invalid request payload JSON format"),
    ];
    for (body, expected) in cases {
        let reply = tenant.patch(ADA, &token, body).await;

        assert_error(&reply, 400, "Bad Request", "invalid_body");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains(expected), "body {body}: {message}");
    }
    assert_eq!(tenant.stored_user(ADA).await.unwrap(), before);
}

#[tokio::test]
async fn patch_of_unknown_user_is_not_found() {
    let tenant = tenant().await;
    let token = tenant.token("update:users").await;

    let reply = tenant
        .patch(
            "oidc|Cencora|nobody",
            &token,
            r#"{"app_metadata": {"a": 1}}"#,
        )
        .await;

    assert_error(&reply, 404, "Not Found", "inexistent_user");
    assert!(tenant.stored_user("oidc|Cencora|nobody").await.is_none());
}

#[tokio::test]
async fn patch_with_app_metadata_scope_changes_metadata_only() {
    let tenant = tenant().await;
    let token = tenant.token("update:users_app_metadata").await;

    let metadata = tenant
        .patch(
            ADA,
            &token,
            r#"{"app_metadata": {"plan": "free"}, "user_metadata": {"theme": "x"}}"#,
        )
        .await;
    let root_field = tenant
        .patch(
            ADA,
            &token,
            r#"{"app_metadata": {"plan": "pro"}, "name": "X"}"#,
        )
        .await;

    assert_eq!(metadata.status, StatusCode::OK, "{}", metadata.body);
    assert_eq!(metadata.body["app_metadata"]["plan"], json!("free"));
    assert_eq!(
        root_field.body,
        json!({
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: update:users",
            "errorCode": "insufficient_scope",
        })
    );
    let stored = tenant.stored_user(ADA).await.unwrap();
    assert_eq!(stored.app_metadata["plan"], json!("free"));
    assert_eq!(stored.name.as_deref(), Some("Ada Lovelace"));
}

#[tokio::test]
async fn delete_removes_user_with_identities() {
    let tenant = tenant().await;
    let token = tenant.token("delete:users read:users").await;

    let reply = tenant
        .send(
            Method::DELETE,
            &format!("api/v2/users/{}", encoded(ADA)),
            Some(&token),
            None,
        )
        .await;
    let after = tenant
        .get(&format!("api/v2/users/{}", encoded(ADA)), &token)
        .await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.body, Value::Null);
    assert_error(&after, 404, "Not Found", "inexistent_user");
    assert_eq!(ids(&tenant.list(&token, &[]).await.body), [GRACE, ALAN]);
}

#[tokio::test]
async fn delete_of_unknown_user_returns_no_content() {
    let tenant = tenant().await;
    let token = tenant.token("delete:users").await;

    let reply = tenant
        .send(
            Method::DELETE,
            "api/v2/users/oidc%7CCencora%7Cnobody",
            Some(&token),
            None,
        )
        .await;

    assert_eq!(reply.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn users_by_email_matches_ignoring_case() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let reply = tenant
        .get("api/v2/users-by-email?email=GRACE%40example.COM", &token)
        .await;
    let nobody = tenant
        .get("api/v2/users-by-email?email=nobody%40example.com", &token)
        .await;
    let selected = tenant
        .get(
            "api/v2/users-by-email?email=ada%40example.com&fields=user_id",
            &token,
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(ids(&reply.body), [GRACE]);
    assert_eq!(nobody.body, json!([]));
    assert_eq!(selected.body, json!([{"user_id": ADA}]));
}

#[tokio::test]
async fn users_by_email_without_email_is_rejected() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let missing = tenant.get("api/v2/users-by-email", &token).await;
    let empty = tenant.get("api/v2/users-by-email?email=", &token).await;

    assert_error(&missing, 400, "Bad Request", "invalid_query_string");
    assert_error(&empty, 400, "Bad Request", "invalid_query_string");
}

/// Fetches Ada through every endpoint that returns users and returns her first identity from
/// each, by endpoint name.
async fn ada_identity_everywhere(tenant: &Tenant, token: &str) -> Vec<(&'static str, Value)> {
    let path = format!("api/v2/users/{}", encoded(ADA));
    let list = tenant.list(token, &[("q", "nickname:ada")]).await;
    let by_email = tenant
        .get("api/v2/users-by-email?email=ada%40example.com", token)
        .await;
    let single = tenant.get(&path, token).await;
    let patched = tenant
        .patch(ADA, token, r#"{"app_metadata": {"touched": true}}"#)
        .await;

    vec![
        ("list", list.body[0]["identities"][0].clone()),
        ("users-by-email", by_email.body[0]["identities"][0].clone()),
        ("get", single.body["identities"][0].clone()),
        ("patch", patched.body["identities"][0].clone()),
    ]
}

#[tokio::test]
async fn idp_token_scope_releases_tokens_everywhere() {
    let tenant = tenant().await;
    let token = tenant.token(ALL_SCOPES).await;

    for (endpoint, identity) in ada_identity_everywhere(&tenant, &token).await {
        assert_eq!(
            identity["access_token"],
            json!(ADA_ACCESS_TOKEN),
            "{endpoint}"
        );
        assert_eq!(
            identity["refresh_token"],
            json!(ADA_REFRESH_TOKEN),
            "{endpoint}"
        );
        assert_eq!(identity["expires_in"], json!(3600 - 3), "{endpoint}");
        assert_eq!(identity["connection"], json!("Cencora"), "{endpoint}");
    }
}

#[tokio::test]
async fn token_keys_absent_without_idp_scope() {
    let tenant = tenant().await;
    let token = tenant.token("read:users update:users").await;

    for (endpoint, identity) in ada_identity_everywhere(&tenant, &token).await {
        let identity = identity
            .as_object()
            .unwrap_or_else(|| panic!("{endpoint}: no identity"));
        for key in ["access_token", "refresh_token", "expires_in"] {
            assert!(!identity.contains_key(key), "{endpoint} returned {key}");
        }
        assert_eq!(identity["user_id"], json!("Cencora|ada"), "{endpoint}");
    }
}

#[tokio::test]
async fn request_without_token_is_unauthorized() {
    let tenant = tenant().await;

    let reply = tenant.send(Method::GET, "api/v2/users", None, None).await;

    assert_eq!(
        reply.body,
        json!({
            "statusCode": 401,
            "error": "Unauthorized",
            "message": "Missing authentication",
            "errorCode": "missing_authentication",
        })
    );
}

#[tokio::test]
async fn request_with_bad_token_is_unauthorized() {
    let tenant = tenant().await;
    let other_audience = tenant
        .token_for(ADMIN_CLIENT, OTHER_API, "read:users")
        .await;
    let expired = tenant.token("read:users").await;
    tenant.clock.advance(chrono::Duration::seconds(86_401));

    let cases = [
        ("not-a-jwt", "Invalid token"),
        (other_audience.as_str(), "Bad audience"),
        (expired.as_str(), "Expired token"),
    ];
    for (token, message) in cases {
        let reply = tenant.get("api/v2/users", token).await;

        assert_eq!(
            reply.body,
            json!({
                "statusCode": 401,
                "error": "Unauthorized",
                "message": message,
                "errorCode": "invalid_token",
                "attributes": {"error": message},
            })
        );
    }
}

#[tokio::test]
async fn each_endpoint_requires_its_scopes() {
    let tenant = tenant().await;
    let wrong_for_reads = tenant.token("update:users delete:users").await;
    let wrong_for_writes = tenant.token("read:users read:user_idp_tokens").await;
    let ada_path = format!("api/v2/users/{}", encoded(ADA));
    let metadata_body = r#"{"app_metadata": {"a": 1}}"#;

    let cases = [
        (
            Method::GET,
            "api/v2/users",
            &wrong_for_reads,
            None,
            "read:users,read:user_idp_tokens",
        ),
        (
            Method::GET,
            ada_path.as_str(),
            &wrong_for_reads,
            None,
            "read:users,read:current_user,read:user_idp_tokens",
        ),
        (
            Method::GET,
            "api/v2/users-by-email?email=ada%40example.com",
            &wrong_for_reads,
            None,
            "read:users",
        ),
        (
            Method::PATCH,
            ada_path.as_str(),
            &wrong_for_writes,
            Some(metadata_body),
            "update:users,update:users_app_metadata",
        ),
        (
            Method::DELETE,
            ada_path.as_str(),
            &wrong_for_writes,
            None,
            "delete:users",
        ),
    ];
    for (method, path, token, body, expected) in cases {
        let reply = tenant.send(method.clone(), path, Some(token), body).await;

        assert_eq!(
            reply.body,
            json!({
                "statusCode": 403,
                "error": "Forbidden",
                "message": format!("Insufficient scope, expected any of: {expected}"),
                "errorCode": "insufficient_scope",
            }),
            "{method} {path}"
        );
    }
    assert!(tenant.stored_user(ADA).await.is_some());
    assert!(
        tenant
            .stored_user(ADA)
            .await
            .unwrap()
            .app_metadata
            .get("a")
            .is_none()
    );
}

#[tokio::test]
async fn unknown_route_is_not_found_in_management_shape() {
    let tenant = tenant().await;
    let token = tenant.token("read:users").await;

    let cases = [
        (Method::GET, "api/v2/clients"),
        (Method::GET, "api/v2/"),
        (Method::GET, "api/v2"),
        (Method::POST, "api/v2/users"),
        (Method::PUT, "api/v2/users/oidc%7CCencora%7Cada"),
    ];
    for (method, path) in cases {
        let reply = tenant.send(method.clone(), path, Some(&token), None).await;

        assert_error(&reply, 404, "Not Found", "not_found");
        assert!(
            !reply.header("x-ratelimit-limit").is_empty(),
            "{method} {path}"
        );
    }
}

fn tight_limit() -> RateLimit {
    RateLimit {
        per_second: 1,
        burst: 3,
    }
}

/// Returns the `x-ratelimit-*` headers of a reply as numbers: limit, remaining, reset.
fn rate_headers(reply: &Reply) -> (i64, i64, i64) {
    let number = |name: &str| {
        reply
            .header(name)
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("{name} is missing or not a number"))
    };
    (
        number("x-ratelimit-limit"),
        number("x-ratelimit-remaining"),
        number("x-ratelimit-reset"),
    )
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let tenant = Tenant::start(tight_limit()).await;
    let token = tenant.token("read:users").await;
    let now = tenant.clock.now().timestamp();

    let first = tenant.get("api/v2/users", &token).await;
    let second = tenant
        .get("api/v2/users/oidc%7CCencora%7Cnobody", &token)
        .await;
    let unauthorized = tenant.send(Method::GET, "api/v2/users", None, None).await;

    assert_eq!(rate_headers(&first), (3, 2, now + 1));
    assert_eq!(second.status, StatusCode::NOT_FOUND);
    assert_eq!(rate_headers(&second), (3, 1, now + 2));
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    assert_eq!(rate_headers(&unauthorized), (3, 2, now + 1));
}

#[tokio::test]
async fn client_over_limit_gets_too_many_requests() {
    let tenant = Tenant::start(tight_limit()).await;
    let token = tenant.token("read:users").await;
    let now = tenant.clock.now().timestamp();

    for _ in 0..3 {
        let reply = tenant.get("api/v2/users", &token).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let limited = tenant.get("api/v2/users", &token).await;

    assert_eq!(
        limited.body,
        json!({
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Global limit has been reached",
            "errorCode": "too_many_requests",
        })
    );
    assert_eq!(limited.header("retry-after"), "1");
    assert_eq!(rate_headers(&limited), (3, 0, now + 3));
}

#[tokio::test]
async fn rate_limit_recovers_as_clock_advances() {
    let tenant = Tenant::start(tight_limit()).await;
    let token = tenant.token("read:users").await;
    for _ in 0..3 {
        tenant.get("api/v2/users", &token).await;
    }
    assert_eq!(
        tenant.get("api/v2/users", &token).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    tenant.clock.advance(chrono::Duration::seconds(1));
    let one_refilled = tenant.get("api/v2/users", &token).await;
    let empty_again = tenant.get("api/v2/users", &token).await;
    tenant.clock.advance(chrono::Duration::seconds(10));
    let full = tenant.get("api/v2/users", &token).await;

    assert_eq!(one_refilled.status, StatusCode::OK);
    assert_eq!(empty_again.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(rate_headers(&full).1, 2);
}

#[tokio::test]
async fn rate_limits_are_kept_per_client() {
    let tenant = Tenant::start(tight_limit()).await;
    let admin = tenant.token("read:users").await;
    let other = tenant
        .token_for(OTHER_CLIENT, &tenant.management_audience(), "read:users")
        .await;
    for _ in 0..3 {
        tenant.get("api/v2/users", &admin).await;
    }

    let admin_reply = tenant.get("api/v2/users", &admin).await;
    let other_reply = tenant.get("api/v2/users", &other).await;

    assert_eq!(admin_reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(other_reply.status, StatusCode::OK);
    assert_eq!(rate_headers(&other_reply).1, 2);
}

#[tokio::test]
async fn login_cannot_obtain_management_administration_scopes() {
    let tenant = tenant_with_ada().await;
    let audience = tenant.url("api/v2/").to_string();
    let params = Params::web().with("audience", &audience).with(
        "scope",
        "openid read:users read:user_idp_tokens update:users delete:users",
    );
    let code = tenant.login_for_code(&params).await;
    let tokens = tenant.redeem_ok(&code).await;
    let access_token = tokens["access_token"].as_str().unwrap();

    assert_eq!(tokens["scope"], json!("openid"));
    let (status, body) = json_body(tenant.get_user_raw(access_token, ADA_ENCODED_ID).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let response = tenant
        .http
        .get(tenant.url("api/v2/users"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

//! `require('auth0')` in actions against a running broker: a `ManagementClient` that gets a
//! client-credentials token and calls the Management API over loopback HTTP.
//!
//! Each test starts a broker on 127.0.0.1 with an in-memory store, a machine-to-machine client
//! and a user with upstream tokens, and runs actions directly on an [`ActionRunner`] that has the
//! `auth0` module. A middleware records the method and raw path of every request the broker
//! receives, so tests can count token requests and see how ids were encoded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authbridge_actions::{ActionError, ActionRunner, ActionScript, PostLoginOutcome, RunnerConfig};
use authbridge_core::model::{
    Client, ClientGrant, FederatedLogin, ResourceServer, TokenEndpointAuthMethod, UpstreamProfile,
    UpstreamTokens,
};
use authbridge_core::{SharedClock, SystemClock};
use authbridge_federation::{Federation, FederationConfig};
use authbridge_server::action_modules::{Auth0ModuleSettings, auth0_module};
use authbridge_server::{Broker, BrokerSettings};
use authbridge_store::{SqliteStore, Store};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const M2M_CLIENT_ID: &str = "m2m-app";
const M2M_CLIENT_SECRET: &str = "m2m-secret-5f1c9a";
const GRANTED_SCOPES: &[&str] = &["read:users", "update:users", "read:user_idp_tokens"];

const CONNECTION: &str = "Cencora";
const ADA_SUB: &str = "4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
const ADA_USER_ID: &str = "oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
const ADA_ENCODED_PATH: &str = "/api/v2/users/oidc%7CCencora%7C4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
const UPSTREAM_ACCESS_TOKEN: &str = "upstream-access-token-1";
const UPSTREAM_REFRESH_TOKEN: &str = "upstream-refresh-token-1";

/// A broker on a loopback port and a runner whose actions can `require('auth0')`.
struct Harness {
    /// The broker's issuer, `http://127.0.0.1:{port}/`.
    issuer: String,
    store: Arc<dyn Store>,
    runner: ActionRunner,
    /// `METHOD /raw/path?query` of every request the broker received, in order, with the body
    /// of PATCH requests.
    requests: Arc<Mutex<Vec<String>>>,
    _shutdown: oneshot::Sender<()>,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with_token_lifetime(86_400).await
    }

    /// Starts a broker whose Management API tokens live `token_lifetime` seconds.
    async fn start_with_token_lifetime(token_lifetime: i64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}/", listener.local_addr().unwrap());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
        provision(store.as_ref(), &issuer, token_lifetime).await;

        let clock: SharedClock = Arc::new(SystemClock);
        let federation = Federation::new(FederationConfig::default(), clock.clone()).unwrap();
        let broker_runner = ActionRunner::new(RunnerConfig::default()).unwrap();
        let broker = Broker::new(
            BrokerSettings::new(issuer.clone()),
            store.clone(),
            clock,
            federation,
            broker_runner,
        )
        .await
        .unwrap();

        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let router = broker.router().layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let recorded = recorded.clone();
                async move { record_request(&recorded, request, next).await }
            },
        ));
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });

        let runner = ActionRunner::new(RunnerConfig {
            timeout: Duration::from_secs(15),
            ..RunnerConfig::default()
        })
        .unwrap()
        .with_module(auth0_module(Auth0ModuleSettings::new(&issuer).unwrap()).unwrap())
        .unwrap();

        Self {
            issuer,
            store,
            runner,
            requests,
            _shutdown: shutdown,
        }
    }

    /// Starts a runner whose `auth0` module has `settings` changed by `adjust`.
    fn runner_with(
        &self,
        adjust: impl FnOnce(Auth0ModuleSettings) -> Auth0ModuleSettings,
    ) -> ActionRunner {
        let settings = adjust(Auth0ModuleSettings::new(&self.issuer).unwrap());
        ActionRunner::new(RunnerConfig::default())
            .unwrap()
            .with_module(auth0_module(settings).unwrap())
            .unwrap()
    }

    /// Returns the broker's domain as an action names it, `127.0.0.1:{port}`.
    fn domain(&self) -> String {
        self.issuer
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// Runs one action with the broker's domain and the M2M client's credentials in its secrets.
    async fn run(&self, code: &str) -> Result<PostLoginOutcome, ActionError> {
        self.run_with_secret(code, M2M_CLIENT_SECRET).await
    }

    async fn run_with_secret(
        &self,
        code: &str,
        client_secret: &str,
    ) -> Result<PostLoginOutcome, ActionError> {
        self.run_on(&self.runner, code, client_secret).await
    }

    async fn run_on(
        &self,
        runner: &ActionRunner,
        code: &str,
        client_secret: &str,
    ) -> Result<PostLoginOutcome, ActionError> {
        let secrets = BTreeMap::from([
            ("AUTH0_DOMAIN".to_owned(), self.domain()),
            ("AUTH0_CLIENT_ID".to_owned(), M2M_CLIENT_ID.to_owned()),
            ("AUTH0_CLIENT_SECRET".to_owned(), client_secret.to_owned()),
        ]);
        let action = ActionScript {
            id: "act_management".to_owned(),
            name: "management".to_owned(),
            code: code.to_owned(),
            secrets,
        };
        let event = json!({
            "user": {"user_id": ADA_USER_ID, "app_metadata": {}, "user_metadata": {}},
            "connection": {"name": CONNECTION, "strategy": "oidc"},
        });
        runner.run_post_login(vec![action], event).await
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn token_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|request| request.as_str() == "POST /oauth/token")
            .count()
    }

    async fn stored_user(&self, user_id: &str) -> authbridge_core::model::User {
        self.store.user(user_id).await.unwrap().unwrap()
    }
}

/// Records `METHOD /raw/path?query` of `request`, followed by ` BODY` for PATCH requests.
async fn record_request(recorded: &Mutex<Vec<String>>, request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let mut line = format!("{} {target}", request.method());
    let request = if request.method() == axum::http::Method::PATCH {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        line.push(' ');
        line.push_str(&String::from_utf8_lossy(&bytes));
        Request::from_parts(parts, axum::body::Body::from(bytes))
    } else {
        request
    };
    recorded.lock().unwrap().push(line);
    next.run(request).await
}

async fn provision(store: &dyn Store, issuer: &str, token_lifetime: i64) {
    store
        .upsert_client(&Client {
            client_id: M2M_CLIENT_ID.to_owned(),
            name: "Management client".to_owned(),
            client_secret: Some(M2M_CLIENT_SECRET.to_owned()),
            app_type: "non_interactive".to_owned(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
            callbacks: Vec::new(),
            client_metadata: Map::new(),
        })
        .await
        .unwrap();
    let audience = format!("{issuer}api/v2/");
    let strings = |scopes: &[&str]| scopes.iter().map(|scope| (*scope).to_owned()).collect();
    store
        .upsert_resource_server(&ResourceServer {
            identifier: audience.clone(),
            name: "Management API".to_owned(),
            scopes: strings(GRANTED_SCOPES),
            token_lifetime,
        })
        .await
        .unwrap();
    store
        .upsert_client_grant(&ClientGrant {
            id: "cgr_management".to_owned(),
            client_id: M2M_CLIENT_ID.to_owned(),
            audience,
            scope: strings(GRANTED_SCOPES),
        })
        .await
        .unwrap();
    add_user(store, ADA_SUB).await;
}

/// Stores a user of the Cencora connection with upstream tokens and returns its id.
async fn add_user(store: &dyn Store, sub: &str) -> String {
    let login = FederatedLogin {
        connection: CONNECTION.to_owned(),
        profile: UpstreamProfile {
            sub: sub.to_owned(),
            email: Some("ada@example.com".to_owned()),
            email_verified: true,
            name: Some("Ada Lovelace".to_owned()),
            given_name: None,
            family_name: None,
            nickname: None,
            picture: None,
        },
        tokens: UpstreamTokens {
            access_token: Some(UPSTREAM_ACCESS_TOKEN.to_owned()),
            refresh_token: Some(UPSTREAM_REFRESH_TOKEN.to_owned()),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        },
    };
    store
        .record_federated_login(&login, chrono::Utc::now())
        .await
        .unwrap()
        .user_id
}

/// Returns the opening of an action: `clientFor(event)` builds a client from the secrets, with
/// `scope` when given.
fn client_code(scope: Option<&str>) -> String {
    let scope = scope.map_or("undefined".to_owned(), |scope| format!("'{scope}'"));
    format!(
        "const {{ ManagementClient }} = require('auth0');
         const clientFor = (event) => new ManagementClient({{
           domain: event.secrets.AUTH0_DOMAIN,
           clientId: event.secrets.AUTH0_CLIENT_ID,
           clientSecret: event.secrets.AUTH0_CLIENT_SECRET,
           scope: {scope},
         }});
        "
    )
}

fn claim<'a>(outcome: &'a PostLoginOutcome, name: &str) -> &'a Value {
    outcome
        .id_token_claims
        .get(name)
        .unwrap_or_else(|| panic!("the action set no claim {name}: {outcome:?}"))
}

/// Reads the user with both call styles and records the Cencora identity of each.
const READ_BOTH_STYLES: &str = "
    exports.onExecutePostLogin = async (event, api) => {
      const management = clientFor(event);
      const legacy = await management.getUser({ id: event.user.user_id });
      const modern = await management.users.get({ id: event.user.user_id });
      const cencora = (user) => user.identities.find((identity) => identity.connection === 'Cencora');
      api.idToken.setCustomClaim('legacy_user_id', legacy.user_id);
      api.idToken.setCustomClaim('legacy_identity', cencora(legacy));
      api.idToken.setCustomClaim('modern_status', modern.status);
      api.idToken.setCustomClaim('modern_status_text', modern.statusText);
      api.idToken.setCustomClaim('modern_user_id', modern.data.user_id);
      api.idToken.setCustomClaim('modern_identity', cencora(modern.data));
      api.idToken.setCustomClaim('modern_content_type', modern.headers['content-type']);
    };
";

#[tokio::test]
async fn both_styles_read_upstream_tokens() {
    let harness = Harness::start().await;
    let code = client_code(Some("read:users read:user_idp_tokens")) + READ_BOTH_STYLES;

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(claim(&outcome, "legacy_user_id"), &json!(ADA_USER_ID));
    assert_eq!(claim(&outcome, "modern_user_id"), &json!(ADA_USER_ID));
    assert_eq!(claim(&outcome, "modern_status"), &json!(200));
    assert_eq!(claim(&outcome, "modern_status_text"), &json!("OK"));
    assert!(
        claim(&outcome, "modern_content_type")
            .as_str()
            .unwrap()
            .starts_with("application/json")
    );
    for name in ["legacy_identity", "modern_identity"] {
        let identity = claim(&outcome, name);
        assert_eq!(
            identity["access_token"],
            json!(UPSTREAM_ACCESS_TOKEN),
            "{name}"
        );
        assert_eq!(
            identity["refresh_token"],
            json!(UPSTREAM_REFRESH_TOKEN),
            "{name}"
        );
        assert!(identity["expires_in"].is_number(), "{name}: {identity}");
    }
}

#[tokio::test]
async fn tokens_absent_without_idp_scope() {
    let harness = Harness::start().await;
    let code = client_code(Some("read:users")) + READ_BOTH_STYLES;

    let outcome = harness.run(&code).await.unwrap();

    for name in ["legacy_identity", "modern_identity"] {
        let identity = claim(&outcome, name).as_object().unwrap();
        assert_eq!(identity["connection"], json!(CONNECTION), "{name}");
        assert!(
            !identity.contains_key("access_token"),
            "{name}: {identity:?}"
        );
        assert!(
            !identity.contains_key("refresh_token"),
            "{name}: {identity:?}"
        );
        assert!(!identity.contains_key("expires_in"), "{name}: {identity:?}");
    }
}

#[tokio::test]
async fn sdk_default_audience_reaches_broker() {
    let harness = Harness::start().await;
    // A client for the tenant's domain with the SDK's default audience spelled out, which
    // names https:// although the broker serves http://.
    let code = format!(
        "const {{ ManagementClient }} = require('auth0');
         exports.onExecutePostLogin = async (event, api) => {{
           const management = new ManagementClient({{
             domain: event.secrets.AUTH0_DOMAIN,
             clientId: event.secrets.AUTH0_CLIENT_ID,
             clientSecret: event.secrets.AUTH0_CLIENT_SECRET,
             audience: 'https://{}/api/v2/',
           }});
           const user = await management.getUser({{ id: event.user.user_id }});
           api.idToken.setCustomClaim('user_id', user.user_id);
         }};",
        harness.domain()
    );

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(claim(&outcome, "user_id"), &json!(ADA_USER_ID));
    assert_eq!(
        harness.requests(),
        vec![
            "POST /oauth/token".to_owned(),
            format!("GET {ADA_ENCODED_PATH}"),
        ]
    );
}

#[tokio::test]
async fn token_is_requested_once_per_client() {
    let harness = Harness::start().await;
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event, api) => {
          const management = clientFor(event);
          const first = await management.getUser({ id: event.user.user_id });
          const second = await management.users.get({ id: event.user.user_id });
          const parallel = await Promise.all([
            management.getUser({ id: event.user.user_id }),
            management.users.get(event.user.user_id),
          ]);
          api.idToken.setCustomClaim('ids', [first.user_id, second.data.user_id, parallel[0].user_id, parallel[1].user_id]);
        };";

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(
        claim(&outcome, "ids"),
        &json!([ADA_USER_ID, ADA_USER_ID, ADA_USER_ID, ADA_USER_ID])
    );
    assert_eq!(harness.token_requests(), 1, "{:?}", harness.requests());
    let user_reads = harness
        .requests()
        .iter()
        .filter(|request| request.starts_with("GET /api/v2/users/"))
        .count();
    assert_eq!(user_reads, 4, "{:?}", harness.requests());

    harness.run(&code).await.unwrap();
    assert_eq!(
        harness.token_requests(),
        2,
        "a new client in a new action requests its own token"
    );
}

#[tokio::test]
async fn token_close_to_expiry_is_renewed() {
    // Tokens that expire within the module's renewal margin are never reused.
    let harness = Harness::start_with_token_lifetime(5).await;
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event) => {
          const management = clientFor(event);
          await management.getUser({ id: event.user.user_id });
          await management.users.get({ id: event.user.user_id });
        };";

    harness.run(&code).await.unwrap();

    assert_eq!(harness.token_requests(), 2, "{:?}", harness.requests());
}

#[tokio::test]
async fn legacy_methods_accept_callbacks() {
    let harness = Harness::start().await;
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event, api) => {
          const management = clientFor(event);
          const returned = management.getUser({ id: event.user.user_id }, (error, user) => {
            api.idToken.setCustomClaim('callback_error', error);
            api.idToken.setCustomClaim('callback_user_id', user.user_id);
          });
          api.idToken.setCustomClaim('returned', returned === undefined ? 'undefined' : typeof returned);
          await new Promise((resolve) => setTimeout(resolve, 50));
          management.getUser({ id: 'oidc|Cencora|nobody' }, (error) => {
            api.idToken.setCustomClaim('missing_status', error.statusCode);
          });
          await new Promise((resolve) => setTimeout(resolve, 50));
        };";

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(claim(&outcome, "returned"), &json!("undefined"));
    assert_eq!(claim(&outcome, "callback_error"), &json!(null));
    assert_eq!(claim(&outcome, "callback_user_id"), &json!(ADA_USER_ID));
    assert_eq!(claim(&outcome, "missing_status"), &json!(404));
}

#[tokio::test]
async fn static_token_skips_token_request() {
    let harness = Harness::start().await;
    let code = "
        const { ManagementClient } = require('auth0');
        exports.onExecutePostLogin = async (event, api) => {
          const management = new ManagementClient({ domain: event.secrets.AUTH0_DOMAIN, token: 'not-a-valid-token' });
          try {
            await management.getUser({ id: event.user.user_id });
          } catch (error) {
            api.idToken.setCustomClaim('status', error.statusCode);
            api.idToken.setCustomClaim('message', error.message);
          }
        };";

    let outcome = harness.run(code).await.unwrap();

    assert_eq!(claim(&outcome, "status"), &json!(401));
    assert_eq!(claim(&outcome, "message"), &json!("Invalid token"));
    assert_eq!(
        harness.requests(),
        vec![format!("GET {ADA_ENCODED_PATH}")],
        "the given token is sent and none is requested"
    );
}

#[tokio::test]
async fn ids_are_percent_encoded() {
    let harness = Harness::start().await;
    let odd_id = add_user(harness.store.as_ref(), "a/b c+d?e#f").await;
    assert_eq!(odd_id, "oidc|Cencora|a/b c+d?e#f");
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event, api) => {
          const management = clientFor(event);
          const ada = await management.getUser({ id: event.user.user_id });
          const odd = await management.users.get({ id: 'oidc|Cencora|a/b c+d?e#f' });
          api.idToken.setCustomClaim('ids', [ada.user_id, odd.data.user_id]);
        };";

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(claim(&outcome, "ids"), &json!([ADA_USER_ID, odd_id]));
    let requests = harness.requests();
    assert!(
        requests.contains(&format!("GET {ADA_ENCODED_PATH}")),
        "{requests:?}"
    );
    assert!(
        requests.contains(&"GET /api/v2/users/oidc%7CCencora%7Ca%2Fb%20c%2Bd%3Fe%23f".to_owned()),
        "{requests:?}"
    );
}

#[tokio::test]
async fn other_domain_is_rejected() {
    let harness = Harness::start().await;
    let code = "
        const { ManagementClient } = require('auth0');
        exports.onExecutePostLogin = async (event) => {
          const management = new ManagementClient({
            domain: 'tenant.example.com',
            clientId: event.secrets.AUTH0_CLIENT_ID,
            clientSecret: event.secrets.AUTH0_CLIENT_SECRET,
          });
          await management.getUser({ id: event.user.user_id });
        };";

    let error = harness.run(code).await.unwrap_err();

    let ActionError::Thrown { action, message } = &error else {
        panic!("expected a thrown error, got {error:?}");
    };
    assert_eq!(action, "management");
    assert!(message.contains("tenant.example.com"), "{message}");
    assert!(
        message.contains("only the tenant's own domain"),
        "{message}"
    );
    assert!(harness.requests().is_empty(), "{:?}", harness.requests());
}

#[tokio::test]
async fn other_port_on_loopback_is_rejected() {
    let harness = Harness::start().await;
    let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_domain = other.local_addr().unwrap().to_string();
    let code = format!(
        "const {{ ManagementClient }} = require('auth0');
         exports.onExecutePostLogin = async (event, api) => {{
           const management = new ManagementClient({{ domain: '{other_domain}', token: 'x' }});
           try {{
             await management.users.get({{ id: event.user.user_id }});
           }} catch (error) {{
             api.idToken.setCustomClaim('message', error.message);
           }}
         }};"
    );

    let outcome = harness.run(&code).await.unwrap();

    let message = claim(&outcome, "message").as_str().unwrap();
    assert!(
        message.contains("only the tenant's own domain"),
        "{message}"
    );
}

#[tokio::test]
async fn wrong_secret_rejects_with_401() {
    let harness = Harness::start().await;
    let wrong_secret = "wrong-secret-7d2e4b";
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event, api) => {
          try {
            await clientFor(event).getUser({ id: event.user.user_id });
          } catch (error) {
            api.idToken.setCustomClaim('name', error.name);
            api.idToken.setCustomClaim('status', error.statusCode);
            api.idToken.setCustomClaim('message', error.message);
            api.idToken.setCustomClaim('error', error.error);
            api.idToken.setCustomClaim('body', error.body);
            api.idToken.setCustomClaim('is_error', error instanceof Error);
            api.idToken.setCustomClaim('stack', String(error.stack));
          }
        };";

    let outcome = harness.run_with_secret(&code, wrong_secret).await.unwrap();

    assert_eq!(claim(&outcome, "status"), &json!(401));
    assert_eq!(claim(&outcome, "name"), &json!("ManagementApiError"));
    assert_eq!(claim(&outcome, "error"), &json!("access_denied"));
    assert_eq!(claim(&outcome, "is_error"), &json!(true));
    for name in ["message", "body", "stack"] {
        let text = claim(&outcome, name).as_str().unwrap();
        assert!(!text.contains(wrong_secret), "{name}: {text}");
    }
    assert_eq!(
        harness
            .requests()
            .iter()
            .filter(|request| request.starts_with("GET "))
            .count(),
        0,
        "no Management API call without a token"
    );
}

#[tokio::test]
async fn wrong_secret_fails_the_action() {
    let harness = Harness::start().await;
    let wrong_secret = "wrong-secret-7d2e4b";
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event) => {
          await clientFor(event).users.get({ id: event.user.user_id });
        };";

    let error = harness
        .run_with_secret(&code, wrong_secret)
        .await
        .unwrap_err();

    let ActionError::Thrown { message, .. } = &error else {
        panic!("expected a thrown error, got {error:?}");
    };
    assert_eq!(message, "Unauthorized");
}

#[tokio::test]
async fn missing_user_rejects_with_404() {
    let harness = Harness::start().await;
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event, api) => {
          try {
            await clientFor(event).users.get({ id: 'oidc|Cencora|nobody' });
          } catch (error) {
            api.idToken.setCustomClaim('status', error.statusCode);
            api.idToken.setCustomClaim('message', error.message);
            api.idToken.setCustomClaim('error_code', error.errorCode);
            api.idToken.setCustomClaim('body', JSON.parse(error.body));
          }
        };";

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(claim(&outcome, "status"), &json!(404));
    assert_eq!(
        claim(&outcome, "message"),
        &json!("The user does not exist.")
    );
    assert_eq!(claim(&outcome, "error_code"), &json!("inexistent_user"));
    assert_eq!(claim(&outcome, "body")["statusCode"], json!(404));
}

#[tokio::test]
async fn oversized_response_fails_request() {
    let harness = Harness::start().await;
    let runner = harness.runner_with(|settings| settings.with_max_response_bytes(64));
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event) => {
          await clientFor(event).getUser({ id: event.user.user_id });
        };";

    let error = harness
        .run_on(&runner, &code, M2M_CLIENT_SECRET)
        .await
        .unwrap_err();

    let ActionError::Thrown { message, .. } = &error else {
        panic!("expected a thrown error, got {error:?}");
    };
    assert_eq!(
        message,
        "POST /oauth/token: the response body is larger than 64 bytes"
    );
}

#[tokio::test]
async fn constructor_rejects_missing_options() {
    let harness = Harness::start().await;
    let code = "
        const { ManagementClient } = require('auth0');
        exports.onExecutePostLogin = async (event, api) => {
          const attempts = {
            no_options: () => new ManagementClient(),
            no_domain: () => new ManagementClient({ clientId: 'a', clientSecret: 'b' }),
            no_secret: () => new ManagementClient({ domain: event.secrets.AUTH0_DOMAIN, clientId: 'a' }),
          };
          for (const [name, attempt] of Object.entries(attempts)) {
            try { attempt(); api.idToken.setCustomClaim(name, 'built'); }
            catch (error) { api.idToken.setCustomClaim(name, error.message); }
          }
        };";

    let outcome = harness.run(code).await.unwrap();

    assert_eq!(
        claim(&outcome, "no_options"),
        &json!("ManagementClient options must be an object")
    );
    assert_eq!(
        claim(&outcome, "no_domain"),
        &json!("ManagementClient needs a domain")
    );
    assert_eq!(
        claim(&outcome, "no_secret"),
        &json!("ManagementClient needs a clientSecret, or a token")
    );
}

#[tokio::test]
async fn update_app_metadata_patches_the_user() {
    let harness = Harness::start().await;
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event, api) => {
          const management = clientFor(event);
          const legacy = await management.updateAppMetadata({ id: event.user.user_id }, { plan: 'pro', region: 'eu' });
          const user = await management.updateUserMetadata({ id: event.user.user_id }, { theme: 'dark' });
          const modern = await management.users.update({ id: event.user.user_id }, { app_metadata: { region: null } });
          api.idToken.setCustomClaim('legacy_app_metadata', legacy.app_metadata);
          api.idToken.setCustomClaim('user_metadata', user.user_metadata);
          api.idToken.setCustomClaim('modern_status', modern.status);
          api.idToken.setCustomClaim('modern_app_metadata', modern.data.app_metadata);
        };";

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(
        claim(&outcome, "legacy_app_metadata"),
        &json!({"plan": "pro", "region": "eu"})
    );
    assert_eq!(claim(&outcome, "user_metadata"), &json!({"theme": "dark"}));
    assert_eq!(claim(&outcome, "modern_status"), &json!(200));
    assert_eq!(
        claim(&outcome, "modern_app_metadata"),
        &json!({"plan": "pro"})
    );
    let stored = harness.stored_user(ADA_USER_ID).await;
    assert_eq!(Value::Object(stored.app_metadata), json!({"plan": "pro"}));
    assert_eq!(
        Value::Object(stored.user_metadata),
        json!({"theme": "dark"})
    );
    assert_eq!(harness.token_requests(), 1);
}

#[tokio::test]
async fn updates_send_patch_bodies() {
    let harness = Harness::start().await;
    let code = client_code(None)
        + "
        exports.onExecutePostLogin = async (event) => {
          const management = clientFor(event);
          const id = event.user.user_id;
          const calls = [
            () => management.updateAppMetadata({ id }, { plan: 'pro' }),
            () => management.updateUserMetadata({ id }, { theme: 'dark' }),
            () => management.updateUser({ id }, { blocked: false }),
            () => management.users.update({ id }, { app_metadata: { region: null } }),
            () => management.users.update(id, { user_metadata: {} }),
          ];
          for (const call of calls) {
            await call();
          }
        };";

    harness.run(&code).await.unwrap();

    let patches: Vec<String> = harness
        .requests()
        .into_iter()
        .filter(|request| request.starts_with("PATCH "))
        .collect();
    let expected_bodies = [
        r#"{"app_metadata":{"plan":"pro"}}"#,
        r#"{"user_metadata":{"theme":"dark"}}"#,
        r#"{"blocked":false}"#,
        r#"{"app_metadata":{"region":null}}"#,
        r#"{"user_metadata":{}}"#,
    ];
    let expected: Vec<String> = expected_bodies
        .iter()
        .map(|body| format!("PATCH {ADA_ENCODED_PATH} {body}"))
        .collect();
    assert_eq!(patches, expected);
}

#[tokio::test]
async fn user_lists_and_email_lookups() {
    let harness = Harness::start().await;
    let code = client_code(None)
        + r#"
        exports.onExecutePostLogin = async (event, api) => {
          const management = clientFor(event);
          const ids = (users) => users.map((user) => user.user_id);
          const search = await management.getUsers({ q: 'email:"ada@example.com"', per_page: 10, include_totals: true, skipped: undefined });
          api.idToken.setCustomClaim('search_total', search.total);
          api.idToken.setCustomClaim('search_ids', ids(search.users));
          api.idToken.setCustomClaim('all_ids', ids(await management.getUsers()));
          const page = await management.users.getAll({ page: 0, fields: ['user_id', 'email'] });
          api.idToken.setCustomClaim('page_status', page.status);
          api.idToken.setCustomClaim('page_users', page.data);
          api.idToken.setCustomClaim('other_email_ids', ids(await management.getUsersByEmail('ada+1@example.com')));
          const byEmail = await management.usersByEmail.getByEmail({ email: 'ada@example.com' });
          api.idToken.setCustomClaim('by_email_ids', ids(byEmail.data));
        };"#;

    let outcome = harness.run(&code).await.unwrap();

    assert_eq!(claim(&outcome, "search_total"), &json!(1));
    assert_eq!(claim(&outcome, "search_ids"), &json!([ADA_USER_ID]));
    assert_eq!(claim(&outcome, "all_ids"), &json!([ADA_USER_ID]));
    assert_eq!(claim(&outcome, "page_status"), &json!(200));
    assert_eq!(
        claim(&outcome, "page_users"),
        &json!([{"user_id": ADA_USER_ID, "email": "ada@example.com"}])
    );
    assert_eq!(claim(&outcome, "other_email_ids"), &json!([]));
    assert_eq!(claim(&outcome, "by_email_ids"), &json!([ADA_USER_ID]));

    let reads: Vec<String> = harness
        .requests()
        .into_iter()
        .filter(|request| request.starts_with("GET "))
        .collect();
    assert_eq!(
        reads,
        [
            "GET /api/v2/users?q=email%3A%22ada%40example.com%22&per_page=10&include_totals=true",
            "GET /api/v2/users",
            "GET /api/v2/users?page=0&fields=user_id%2Cemail",
            "GET /api/v2/users-by-email?email=ada%2B1%40example.com",
            "GET /api/v2/users-by-email?email=ada%40example.com",
        ]
    );
}

//! The authbridge broker over HTTP.
//!
//! - [`Broker`]: the shared state of one broker replica and [`Broker::router`].
//! - `discovery`: `/.well-known/openid-configuration` and `/.well-known/jwks.json`.
//! - `authorize`: `/authorize`, which validates the client's request and sends the user to
//!   the upstream connection.
//! - `callback`: `/login/callback`, where the upstream returns; it runs the post-login flow.
//! - `login`: the post-login flow itself: user record, actions, one write of their effects.
//! - `token`: `/oauth/token`; `userinfo`: `/userinfo`.
//! - `management`: the Management API v2 users endpoints under `/api/v2`, with per-client
//!   rate limits.
//! - `error`, `respond`, `pages`: OAuth error bodies, authorization responses, HTML pages.

pub mod action_modules;
mod authorize;
mod callback;
mod client_auth;
mod discovery;
mod error;
mod keys;
mod login;
mod management;
mod pages;
mod respond;
mod token;
mod tokens;
mod userinfo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use authbridge_actions::ActionRunner;
use authbridge_core::SharedClock;
use authbridge_federation::Federation;
use authbridge_store::Store;
use axum::Router;
use axum::routing::{get, post};

pub use error::ServerError;
pub use keys::KeyRing;
pub use management::{RateLimit, user_json};

/// Returns the span of one HTTP request. It records the path without the query string,
/// which carries authorization codes and states.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = authbridge_core::random::hex(8);
    tracing::info_span!(
        "request",
        %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// Lifetimes and limits of one broker.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// The public base URL with a trailing slash, e.g. `http://localhost:3000/`.
    pub issuer: String,
    /// The tenant's name, shown to actions as `event.tenant.id`; the store's `tenant_name`
    /// setting replaces it when present.
    pub tenant: String,
    pub id_token_lifetime: chrono::Duration,
    /// Access token lifetime when the request names no API.
    pub access_token_lifetime: chrono::Duration,
    pub code_lifetime: chrono::Duration,
    /// Time a user has to finish logging in upstream.
    pub transaction_lifetime: chrono::Duration,
    /// Folder where the capture module's records are appended, `post-login.jsonl` inside.
    pub captures_dir: Option<PathBuf>,
    /// Requests each client may send to the Management API of this replica.
    pub management_rate_limit: RateLimit,
}

impl BrokerSettings {
    /// Returns settings with Auth0's default lifetimes for the given issuer.
    pub fn new(issuer: impl Into<String>) -> Self {
        let mut issuer = issuer.into();
        if !issuer.ends_with('/') {
            issuer.push('/');
        }
        Self {
            issuer,
            tenant: "authbridge".into(),
            id_token_lifetime: chrono::Duration::hours(10),
            access_token_lifetime: chrono::Duration::hours(24),
            code_lifetime: chrono::Duration::minutes(5),
            transaction_lifetime: chrono::Duration::minutes(15),
            captures_dir: None,
            management_rate_limit: RateLimit::default(),
        }
    }

    /// Returns the broker's upstream callback URL.
    pub fn callback_url(&self) -> String {
        format!("{}login/callback", self.issuer)
    }

    /// Returns the audience of the Management API.
    pub fn management_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }

    /// Returns the audience access tokens carry for `/userinfo`.
    pub fn userinfo_audience(&self) -> String {
        format!("{}userinfo", self.issuer)
    }
}

/// The state one broker replica shares between requests.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

struct BrokerInner {
    settings: BrokerSettings,
    store: Arc<dyn Store>,
    clock: SharedClock,
    keys: KeyRing,
    federation: Federation,
    actions: ActionRunner,
    management_limiter: management::RateLimiter,
}

impl Broker {
    /// Creates a broker on `store`, loading its signing keys (generated on first start).
    pub async fn new(
        settings: BrokerSettings,
        store: Arc<dyn Store>,
        clock: SharedClock,
        federation: Federation,
        actions: ActionRunner,
    ) -> Result<Self, ServerError> {
        let mut settings = settings;
        if let Some(tenant) = store
            .tenant_setting("tenant_name")
            .await?
            .as_ref()
            .and_then(|value| value.as_str())
        {
            settings.tenant = tenant.to_owned();
        }
        let keys = KeyRing::load_or_create(store.as_ref(), clock.now()).await?;
        let management_limiter = management::RateLimiter::new(settings.management_rate_limit);
        Ok(Self {
            inner: Arc::new(BrokerInner {
                management_limiter,
                settings,
                store,
                clock,
                keys,
                federation,
                actions,
            }),
        })
    }

    /// Returns the broker's settings.
    pub fn settings(&self) -> &BrokerSettings {
        &self.inner.settings
    }

    /// Returns the broker's store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Returns the router serving every broker endpoint.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(discovery::openid_configuration),
            )
            .route("/.well-known/jwks.json", get(discovery::jwks))
            .route("/authorize", get(authorize::authorize))
            .route(
                "/login/callback",
                get(callback::callback).post(callback::callback_form),
            )
            .route("/oauth/token", post(token::token))
            .route(
                "/userinfo",
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .merge(management::router(self))
            .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
            .with_state(self.clone())
    }

    /// Serves the broker on `listener` until `shutdown` resolves, deleting expired logins,
    /// codes and grants from the store once a minute meanwhile.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let purger = tokio::spawn(self.clone().purge_expired_periodically());
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        purger.abort();
        result
    }

    /// Serves the broker over HTTPS on `listener` with the certificate in `tls` until
    /// `shutdown` resolves.
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        tls: axum_server::tls_rustls::RustlsConfig,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let purger = tokio::spawn(self.clone().purge_expired_periodically());
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        });
        let server = axum_server::from_tcp_rustls(listener.into_std()?, tls)?;
        let result = server.handle(handle).serve(app).await;
        purger.abort();
        result
    }

    async fn purge_expired_periodically(self) {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            interval.tick().await;
            match self.inner.store.purge_expired(self.inner.clock.now()).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "purged expired login records"),
                Err(error) => tracing::warn!(%error, "purging expired login records failed"),
            }
        }
    }
}

//! The local stack `authbridge up` runs: the broker, the Gigya-compatible provider and the
//! demo application, each on its own port, sharing one SQLite store in the data directory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use authbridge_actions::{ActionRunner, RunnerConfig};
use authbridge_core::{SharedClock, SystemClock};
use authbridge_federation::{Federation, FederationConfig};
use authbridge_gigya::{Provider, ProviderConfig, RelyingParty};
use authbridge_server::action_modules::{Auth0ModuleSettings, auth0_module};
use authbridge_server::{Broker, BrokerSettings};
use authbridge_store::{SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::relying_party::DemoRelyingParty;
use crate::tenant::{self, BROKER_AT_GIGYA_ID, BROKER_AT_GIGYA_SECRET, DemoEndpoints};

/// A running stack.
pub(crate) struct Stack {
    pub(crate) broker_addr: SocketAddr,
    pub(crate) gigya_addr: SocketAddr,
    pub(crate) app_addr: SocketAddr,
    pub(crate) endpoints: DemoEndpoints,
    pub(crate) app_url: String,
    /// The CA certificate to trust when the broker serves HTTPS.
    pub(crate) ca_path: Option<std::path::PathBuf>,
    /// Held while the stack runs, so a second `up` on the same data directory is refused.
    _data_dir_lock: std::fs::File,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<std::io::Result<()>>,
}

impl Stack {
    /// Binds the three ports, provisions the demo tenant and starts serving.
    pub(crate) async fn start(config: &Config) -> anyhow::Result<Self> {
        let bind = config.broker.bind;
        let listen = |port: u16, what: &'static str| async move {
            TcpListener::bind((bind, port))
                .await
                .with_context(|| format!("listening for the {what} on {bind}:{port} failed"))
        };
        let broker_listener = listen(config.broker.port, "broker").await?;
        let gigya_listener = listen(config.gigya.port, "Gigya-compatible provider").await?;
        let app_listener = listen(config.app.port, "demo application").await?;
        let broker_addr = broker_listener.local_addr()?;
        let gigya_addr = gigya_listener.local_addr()?;
        let app_addr = app_listener.local_addr()?;

        let issuer = match &config.broker.public_url {
            Some(url) => BrokerSettings::new(url.clone()).issuer,
            None if config.broker.tls => format!("https://localhost:{}/", broker_addr.port()),
            None => format!("http://localhost:{}/", broker_addr.port()),
        };
        let gigya_base = format!("http://localhost:{}", gigya_addr.port());
        let gigya_issuer =
            authbridge_gigya::issuer_for(&gigya_base, authbridge_gigya::DEFAULT_API_KEY);
        let app_url = format!("http://localhost:{}/", app_addr.port());
        let endpoints = DemoEndpoints {
            issuer: issuer.clone(),
            gigya_issuer: gigya_issuer.clone(),
            app_callback: format!("{app_url}callback"),
        };

        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "creating the data directory {} failed",
                config.data_dir.display()
            )
        })?;
        restrict_to_owner(&config.data_dir)?;
        let data_dir_lock = lock_data_dir(&config.data_dir)?;
        let clock: SharedClock = Arc::new(SystemClock);

        let tls = match config.broker.tls {
            true => Some(crate::tls::prepare(
                &config.data_dir,
                &certificate_hosts(&issuer),
            )?),
            false => None,
        };
        // Clients of the broker inside this process (the demo application, action modules)
        // trust the local CA, so they work with and without TLS.
        let http = broker_http_client(tls.as_ref())?;

        let accounts = match &config.gigya.accounts_file {
            Some(path) => authbridge_gigya::load_accounts(path)?,
            None => authbridge_gigya::default_accounts(),
        };
        let provider = Arc::new(Provider::new(
            ProviderConfig {
                issuer: gigya_issuer,
                clients: vec![RelyingParty {
                    client_id: BROKER_AT_GIGYA_ID.into(),
                    client_secret: BROKER_AT_GIGYA_SECRET.into(),
                    redirect_uris: vec![format!("{issuer}login/callback")],
                }],
                accounts,
                ..ProviderConfig::default()
            },
            clock.clone(),
        )?);

        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(
                &config.data_dir.join("tenant.db"),
                crate::token_keys::load_or_create(&config.data_dir)?,
            )
            .await?,
        );
        let actions_dir = config.actions_dir();
        if config.actions.dir.is_none() {
            tenant::seed_actions_dir(&actions_dir)?;
        }
        let actions = tenant::load_actions(&actions_dir, &issuer)?;
        tenant::provision(store.as_ref(), &endpoints, actions).await?;

        let mut settings = BrokerSettings::new(issuer.clone());
        settings.captures_dir = Some(config.data_dir.join("captures"));
        let runner = ActionRunner::new(RunnerConfig {
            timeout: Duration::from_millis(config.actions.timeout_ms),
            ..RunnerConfig::default()
        })?
        .with_module(auth0_module(auth0_settings(&issuer, tls.as_ref())?)?)?;
        let federation = Federation::new(FederationConfig::default(), clock.clone())?;
        let broker = Broker::new(settings, store, clock, federation, runner).await?;

        let relying_party = DemoRelyingParty::new(http.clone(), &issuer, &endpoints.app_callback);
        let app = crate::demo_app::router(relying_party, &issuer);

        let (shutdown, receiver) = watch::channel(false);
        let stopped = move || {
            let mut receiver = receiver.clone();
            async move {
                let _ = receiver.wait_for(|stop| *stop).await;
            }
        };
        let mut tasks = JoinSet::new();
        match &tls {
            Some(files) => {
                let rustls = axum_server::tls_rustls::RustlsConfig::from_pem(
                    files.cert_pem.clone().into_bytes(),
                    files.key_pem.clone().into_bytes(),
                )
                .await
                .context("loading the TLS certificate failed")?;
                tasks.spawn(broker.serve_tls(broker_listener, rustls, stopped()));
            }
            None => {
                tasks.spawn(broker.serve(broker_listener, stopped()));
            }
        }
        let provider_app = provider.router().into_make_service();
        let provider_stop = stopped();
        tasks.spawn(async move {
            axum::serve(gigya_listener, provider_app)
                .with_graceful_shutdown(provider_stop)
                .await
        });
        let app_stop = stopped();
        tasks.spawn(async move {
            axum::serve(app_listener, app)
                .with_graceful_shutdown(app_stop)
                .await
        });

        Ok(Self {
            broker_addr,
            gigya_addr,
            app_addr,
            endpoints,
            app_url,
            ca_path: tls.map(|files| files.ca_path),
            _data_dir_lock: data_dir_lock,
            shutdown,
            tasks,
        })
    }

    /// Waits until a server stops, which happens only on an error or after [`Stack::stop`].
    pub(crate) async fn wait(&mut self) -> anyhow::Result<()> {
        if let Some(result) = self.tasks.join_next().await {
            result
                .context("a server task failed")?
                .context("a server stopped")?;
        }
        Ok(())
    }

    /// Stops all servers gracefully.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        while let Some(result) = self.tasks.join_next().await {
            result.context("a server task failed")??;
        }
        Ok(())
    }
}

/// Returns the names the broker's certificate covers: loopback names and the issuer's host.
fn certificate_hosts(issuer: &str) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = url::Url::parse(issuer)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
    {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !hosts.contains(&host) {
            hosts.insert(0, host);
        }
    }
    hosts
}

/// Returns the settings of the actions' `auth0` module: the broker's issuer, and the local CA
/// when the broker serves HTTPS.
fn auth0_settings(
    issuer: &str,
    tls: Option<&crate::tls::TlsFiles>,
) -> anyhow::Result<Auth0ModuleSettings> {
    let mut settings = Auth0ModuleSettings::new(issuer)?;
    if let Some(files) = tls {
        let ca = reqwest::Certificate::from_pem(files.ca_pem.as_bytes())
            .context("the local CA certificate is invalid")?;
        settings = settings.with_root_certificate(ca);
    }
    Ok(settings)
}

/// Builds the HTTP client that calls the broker from inside this process: no redirects
/// followed, and the local CA trusted when there is one.
fn broker_http_client(tls: Option<&crate::tls::TlsFiles>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some(files) = tls {
        let ca = reqwest::Certificate::from_pem(files.ca_pem.as_bytes())
            .context("the local CA certificate is invalid")?;
        builder = builder.add_root_certificate(ca);
    }
    Ok(builder.build()?)
}

/// Makes the data directory accessible to its owner only: the store contains the signing keys
/// and the encrypted upstream tokens, and the key files are beside it.
#[cfg(unix)]
fn restrict_to_owner(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).with_context(|| {
        format!(
            "restricting the data directory {} to its owner failed",
            dir.display()
        )
    })
}

#[cfg(not(unix))]
fn restrict_to_owner(_dir: &std::path::Path) -> anyhow::Result<()> {
    Ok(())
}

/// Takes an exclusive lock on `up.lock` in the data directory, so two stacks never provision
/// the same tenant with different ports under each other.
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("up.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {} failed", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another authbridge up is running on the data directory {}; stop it or pass another --data-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {} failed", path.display()))
        }
    }
}

//! The `authbridge` command.
//!
//! - `authbridge up`: the broker, the Gigya-compatible provider and the demo application on
//!   one machine, on an embedded SQLite store.
//! - `authbridge login --demo`: a headless login against a running stack.

mod config;
mod demo_app;
mod login;
mod relying_party;
mod stack;
mod tenant;
mod tls;
mod token_keys;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "authbridge",
    version,
    about = "A self-hostable, Auth0-compatible identity broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker, the Gigya-compatible provider and the demo application.
    Up(UpArgs),
    /// Log in headlessly through a running stack and print the resulting claims.
    Login(LoginArgs),
    /// Read users from the store and print them as JSON.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Print one user, e.g. `authbridge users get 'oidc|Cencora|4a6f...'`.
    Get {
        /// The user id.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the users matching a query, oldest first.
    List {
        /// A query in the Management API's Lucene syntax, e.g. `app_metadata.needs_gigya_sync:true`.
        #[arg(long)]
        q: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// Configuration file (default: ./authbridge.toml when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of the store (default: ./.authbridge).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref())?;
        if let Some(data_dir) = &self.data_dir {
            config.data_dir = data_dir.clone();
        }
        Ok(config)
    }
}

#[derive(Debug, Args)]
struct UpArgs {
    /// Configuration file (default: ./authbridge.toml when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of the store, the actions and the captures (default: ./.authbridge).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Port of the broker (default: 3000).
    #[arg(long)]
    port: Option<u16>,
    /// Port of the Gigya-compatible provider (default: 3100).
    #[arg(long)]
    gigya_port: Option<u16>,
    /// Port of the demo application (default: 8080).
    #[arg(long)]
    app_port: Option<u16>,
    /// Public base URL of the broker; the issuer is this URL with a trailing slash
    /// (default: http://localhost:PORT/).
    #[arg(long)]
    public_url: Option<String>,
    /// Serve the broker over HTTPS with a certificate from a local CA kept in the data
    /// directory; the issuer becomes https://localhost:PORT/.
    #[arg(long)]
    tls: bool,
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// Log in as the demo account of the built-in provider.
    #[arg(long, required = true)]
    demo: bool,
    /// Print one JSON object with the claims and app_metadata.
    #[arg(long)]
    json: bool,
    /// Port of the broker (default: 3000).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Port of the Gigya-compatible provider (default: 3100).
    #[arg(long, default_value_t = 3100)]
    gigya_port: u16,
    /// Port of the demo application, whose callback URL the login uses (default: 8080).
    #[arg(long, default_value_t = 8080)]
    app_port: u16,
    /// Public base URL of the broker, when `up` was given one.
    #[arg(long)]
    public_url: Option<String>,
    /// The broker serves HTTPS (`up --tls`): use https://localhost:PORT/ and trust this CA
    /// certificate (default: .authbridge/tls/ca.pem).
    #[arg(long)]
    tls: bool,
    /// CA certificate to trust for the broker's HTTPS.
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rustls needs one process-wide crypto provider; aws-lc-rs is the only one compiled in.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn")
            }),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => up(args).await,
            Command::Login(args) => login(args).await,
            Command::Users { command } => users_command(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(data_dir) = args.data_dir {
        config.data_dir = data_dir;
    }
    if let Some(port) = args.port {
        config.broker.port = port;
    }
    if let Some(port) = args.gigya_port {
        config.gigya.port = port;
    }
    if let Some(port) = args.app_port {
        config.app.port = port;
    }
    if let Some(public_url) = args.public_url {
        config.broker.public_url = Some(public_url);
    }
    if args.tls {
        config.broker.tls = true;
    }

    let mut stack = stack::Stack::start(&config).await?;
    print_banner(&stack, &config);

    tokio::select! {
        result = stack.wait() => result,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("stopping");
            stack.stop().await
        }
    }
}

fn print_banner(stack: &stack::Stack, config: &Config) {
    let endpoints = &stack.endpoints;
    println!("authbridge is running");
    println!();

    println!("  Broker (issuer)       {}", endpoints.issuer);
    println!(
        "    discovery           {}.well-known/openid-configuration",
        endpoints.issuer
    );
    println!("  Gigya-compatible OP   {}", endpoints.gigya_issuer);
    println!("  Demo application      {}", stack.app_url);
    println!();
    println!(
        "  Demo login            {} / {}",
        login::DEMO_LOGIN_ID,
        login::DEMO_PASSWORD
    );
    println!(
        "  Web client            {} / {}",
        tenant::DEMO_WEB_ID,
        tenant::DEMO_WEB_SECRET
    );
    println!(
        "  M2M client            {} / {}",
        tenant::DEMO_M2M_ID,
        tenant::DEMO_M2M_SECRET
    );
    println!("  API audience          {}", tenant::DEMO_API);
    println!("  Data directory        {}", config.data_dir.display());
    if let Some(ca_path) = &stack.ca_path {
        let ca = std::fs::canonicalize(ca_path).unwrap_or_else(|_| ca_path.clone());
        println!("  TLS CA certificate    {}", ca.display());
        println!();
        println!("Trust the CA in clients of the broker:");
        println!("  export NODE_EXTRA_CA_CERTS={}", ca.display());
        println!("  export REQUESTS_CA_BUNDLE={}", ca.display());
        println!("  export SSL_CERT_FILE={}", ca.display());
    }
    println!();
    println!(
        "Open {} in a browser, or run: authbridge login --demo --json --port {} --gigya-port {} --app-port {}{}",
        stack.app_url,
        stack.broker_addr.port(),
        stack.gigya_addr.port(),
        stack.app_addr.port(),
        login_extra_flags(stack, config),
    );
}

/// Returns the `login` flags beyond the ports that reach this stack.
fn login_extra_flags(stack: &stack::Stack, config: &Config) -> String {
    let mut flags = String::new();
    if let Some(public_url) = &config.broker.public_url {
        flags.push_str(&format!(" --public-url {public_url}"));
    }
    if let Some(ca_path) = &stack.ca_path {
        flags.push_str(&format!(" --ca-file {}", ca_path.display()));
    }
    flags
}

async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let scheme = if args.tls || args.ca_file.is_some() {
        "https"
    } else {
        "http"
    };
    let issuer = match args.public_url {
        Some(url) => authbridge_server::BrokerSettings::new(url).issuer,
        None => format!("{scheme}://localhost:{}/", args.port),
    };
    let ca_file = match (&args.ca_file, issuer.starts_with("https://")) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(PathBuf::from(".authbridge/tls/ca.pem")),
        (None, false) => None,
    };
    let target = login::Target {
        ca_file,
        issuer,
        gigya_port: args.gigya_port,
        app_callback: format!("http://localhost:{}/callback", args.app_port),
    };
    debug_assert!(args.demo);
    let result = login::run(&target, login::DEMO_LOGIN_ID, login::DEMO_PASSWORD).await?;

    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "ID token claims:\n{}",
            serde_json::to_string_pretty(&result.id_token_claims)?
        );
        println!(
            "Access token claims:\n{}",
            serde_json::to_string_pretty(&result.access_token_claims)?
        );
        println!(
            "app_metadata:\n{}",
            serde_json::to_string_pretty(&result.app_metadata)?
        );
    }
    Ok(())
}

async fn users_command(command: UsersCommand) -> anyhow::Result<()> {
    let output = match command {
        UsersCommand::Get { id, store } => users::get(&store.load()?, &id).await?,
        UsersCommand::List { q, store } => users::list(&store.load()?, q.as_deref()).await?,
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

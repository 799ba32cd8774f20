//! Configuration of `authbridge up`, layered: built-in defaults, then `authbridge.toml`, then
//! `AUTHBRIDGE_*` environment variables (nested keys joined by `__`, e.g.
//! `AUTHBRIDGE_BROKER__PORT=3001`), then command-line flags.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The configuration file format this build reads.
pub(crate) const CONFIG_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Format version of the file; must be 1.
    pub(crate) version: u32,
    /// Folder of the SQLite store, the actions and the captures.
    pub(crate) data_dir: PathBuf,
    pub(crate) broker: BrokerConfig,
    pub(crate) gigya: GigyaConfig,
    pub(crate) app: AppConfig,
    pub(crate) actions: ActionsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BrokerConfig {
    /// Address the servers listen on.
    pub(crate) bind: IpAddr,
    pub(crate) port: u16,
    /// Public base URL; the issuer is this URL with a trailing slash. Defaults to
    /// `http://localhost:{port}/`, or `https://` with `tls`.
    pub(crate) public_url: Option<String>,
    /// Serve the broker over HTTPS with a certificate from a local CA in the data directory.
    #[serde(default)]
    pub(crate) tls: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GigyaConfig {
    pub(crate) port: u16,
    /// JSON file of accounts; the built-in demo accounts when absent.
    pub(crate) accounts_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppConfig {
    pub(crate) port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionsConfig {
    /// Folder with `actions.toml` and the action sources; `{data_dir}/actions` when absent,
    /// filled with the demo actions on first start.
    pub(crate) dir: Option<PathBuf>,
    /// Time limit of one post-login flow, in milliseconds.
    pub(crate) timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: CONFIG_VERSION,
            data_dir: PathBuf::from(".authbridge"),
            broker: BrokerConfig {
                bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 3000,
                public_url: None,
                tls: false,
            },
            gigya: GigyaConfig {
                port: 3100,
                accounts_file: None,
            },
            app: AppConfig { port: 8080 },
            actions: ActionsConfig {
                dir: None,
                timeout_ms: 20_000,
            },
        }
    }
}

impl Config {
    /// Loads the layered configuration; `file` defaults to `authbridge.toml` when it exists.
    pub(crate) fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    bail!("the configuration file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("authbridge.toml")),
        }
        // The token key variables configure the key ring, not this file's settings.
        figment = figment.merge(
            Env::prefixed("AUTHBRIDGE_")
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("token_key"))
                .split("__"),
        );

        let config: Config = figment.extract().context("the configuration is invalid")?;
        if config.actions.timeout_ms == 0 {
            bail!("actions.timeout_ms must be at least 1");
        }
        if config.version != CONFIG_VERSION {
            bail!(
                "configuration version {} is not supported; this build reads version {CONFIG_VERSION}",
                config.version
            );
        }
        Ok(config)
    }

    /// Returns the folder of the actions manifest.
    pub(crate) fn actions_dir(&self) -> PathBuf {
        self.actions
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("actions"))
    }
}

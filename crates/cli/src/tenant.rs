//! The demo tenant `authbridge up` provisions, and the actions directory it deploys.
//!
//! Provisioning is idempotent: every start writes the same clients, APIs, connection and
//! actions, so a restarted stack keeps its users and keys but picks up edited actions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use authbridge_core::model::{
    Action, Client, ClientGrant, Connection, OidcConnectionOptions, ResourceServer,
    TokenEndpointAuthMethod,
};
use authbridge_store::Store;
use figment::Figment;
use figment::providers::{Format as _, Toml};
use serde::Deserialize;

pub(crate) const DEMO_WEB_ID: &str = "demo-web";
pub(crate) const DEMO_WEB_SECRET: &str = "demo-web-secret";
pub(crate) const DEMO_M2M_ID: &str = "demo-m2m";
pub(crate) const DEMO_M2M_SECRET: &str = "demo-m2m-secret";
pub(crate) const DEMO_API: &str = "https://api.authbridge.test/";
pub(crate) const CONNECTION: &str = "Cencora";
pub(crate) const BROKER_AT_GIGYA_ID: &str = "authbridge-broker";
pub(crate) const BROKER_AT_GIGYA_SECRET: &str = "authbridge-broker-secret";

/// Scopes of the Management API the broker defines.
const MANAGEMENT_SCOPES: &[&str] = &[
    "read:users",
    "read:current_user",
    "update:users",
    "delete:users",
    "create:users",
    "update:users_app_metadata",
    "read:user_idp_tokens",
];

/// The demo actions, written to the actions directory on first start so they can be edited.
const DEMO_ACTIONS: &[(&str, &str)] = &[
    ("actions.toml", include_str!("../demo/actions/actions.toml")),
    (
        "gigya-integration.js",
        include_str!("../demo/actions/gigya-integration.js"),
    ),
    (
        "capture-event.js",
        include_str!("../demo/actions/capture-event.js"),
    ),
    (
        "upstream-token-check.js",
        include_str!("../demo/actions/upstream-token-check.js"),
    ),
];

/// Text in an inline secret value of the actions manifest that is replaced by the tenant's
/// domain, since the manifest cannot know the port the broker binds.
const TENANT_DOMAIN_PLACEHOLDER: &str = "{tenant_domain}";

/// Addresses of the parts of the demo stack.
#[derive(Debug, Clone)]
pub(crate) struct DemoEndpoints {
    /// The broker's issuer, with a trailing slash.
    pub(crate) issuer: String,
    /// The Gigya-compatible provider's issuer, without a trailing slash.
    pub(crate) gigya_issuer: String,
    /// The demo application's callback URL.
    pub(crate) app_callback: String,
}

/// Writes the demo tenant into `store`.
pub(crate) async fn provision(
    store: &dyn Store,
    endpoints: &DemoEndpoints,
    actions: Vec<Action>,
) -> anyhow::Result<()> {
    store
        .put_tenant_setting("tenant_name", &serde_json::json!("authbridge-demo"))
        .await?;
    store
        .upsert_client(&Client {
            client_id: DEMO_WEB_ID.into(),
            name: "Demo web application".into(),
            client_secret: Some(DEMO_WEB_SECRET.into()),
            app_type: "regular_web".into(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
            callbacks: vec![endpoints.app_callback.clone()],
            client_metadata: Default::default(),
        })
        .await?;
    store
        .upsert_client(&Client {
            client_id: DEMO_M2M_ID.into(),
            name: "Demo machine-to-machine client".into(),
            client_secret: Some(DEMO_M2M_SECRET.into()),
            app_type: "non_interactive".into(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
            callbacks: Vec::new(),
            client_metadata: Default::default(),
        })
        .await?;

    store
        .upsert_resource_server(&ResourceServer {
            identifier: DEMO_API.into(),
            name: "Demo API".into(),
            scopes: vec!["read:profile".into()],
            token_lifetime: 86_400,
        })
        .await?;
    let management_audience = format!("{}api/v2/", endpoints.issuer);
    store
        .upsert_resource_server(&ResourceServer {
            identifier: management_audience.clone(),
            name: "Management API".into(),
            scopes: MANAGEMENT_SCOPES
                .iter()
                .map(|scope| (*scope).to_owned())
                .collect(),
            token_lifetime: 86_400,
        })
        .await?;
    store
        .upsert_client_grant(&ClientGrant {
            id: "cgr_demo_m2m_management".into(),
            client_id: DEMO_M2M_ID.into(),
            audience: management_audience,
            scope: ["read:users", "update:users", "read:user_idp_tokens"]
                .map(str::to_owned)
                .to_vec(),
        })
        .await?;

    store
        .upsert_connection(&Connection {
            id: "con_cencora".into(),
            name: CONNECTION.into(),
            strategy: "oidc".into(),
            options: OidcConnectionOptions {
                discovery_url: format!(
                    "{}/.well-known/openid-configuration",
                    endpoints.gigya_issuer
                ),
                client_id: BROKER_AT_GIGYA_ID.into(),
                client_secret: BROKER_AT_GIGYA_SECRET.into(),
                scope: "openid profile email".into(),
            },
            enabled_clients: vec![DEMO_WEB_ID.into()],
            metadata: Default::default(),
        })
        .await?;

    store.replace_actions("post-login", &actions).await?;
    Ok(())
}

/// Writes the demo actions into `dir` unless it already has a manifest.
pub(crate) fn seed_actions_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.join("actions.toml").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {} failed", dir.display()))?;
    for (name, content) in DEMO_ACTIONS {
        std::fs::write(dir.join(name), content)
            .with_context(|| format!("writing {name} failed"))?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u32,
    #[serde(default, rename = "action")]
    actions: Vec<ManifestAction>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestAction {
    name: String,
    #[serde(default = "post_login")]
    trigger: String,
    file: PathBuf,
    /// Secret values given inline. `{tenant_domain}` in a value becomes the tenant's domain.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// Secret values taken from environment variables: secret name to variable name.
    #[serde(default)]
    secret_env: BTreeMap<String, String>,
}

fn post_login() -> String {
    "post-login".into()
}

/// Returns the tenant's domain as actions name it: the issuer's host, and its port when the
/// issuer gives one (`localhost:3000` for `http://localhost:3000/`).
fn tenant_domain(issuer: &str) -> anyhow::Result<String> {
    let url =
        url::Url::parse(issuer).with_context(|| format!("the issuer {issuer} is not a URL"))?;
    let host = url
        .host_str()
        .with_context(|| format!("the issuer {issuer} has no host"))?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Reads `actions.toml` in `dir` and the sources it names, in manifest order. `issuer` is the
/// broker's issuer, whose domain replaces `{tenant_domain}` in inline secret values.
pub(crate) fn load_actions(dir: &Path, issuer: &str) -> anyhow::Result<Vec<Action>> {
    let domain = tenant_domain(issuer)?;
    let manifest_path = dir.join("actions.toml");
    let manifest: Manifest = Figment::from(Toml::file(&manifest_path))
        .extract()
        .with_context(|| {
            format!(
                "reading the actions manifest {} failed",
                manifest_path.display()
            )
        })?;
    if manifest.version != 1 {
        bail!(
            "actions manifest version {} is not supported; use version = 1",
            manifest.version
        );
    }

    let mut actions = Vec::new();
    let mut names = std::collections::HashSet::new();
    for entry in &manifest.actions {
        if !names.insert(entry.name.as_str()) {
            bail!(
                "the actions manifest lists the action {} twice; give each action its own name",
                entry.name
            );
        }
    }
    for (position, entry) in manifest.actions.into_iter().enumerate() {
        if entry.trigger != "post-login" {
            bail!(
                "action {}: trigger {} is not supported; use post-login",
                entry.name,
                entry.trigger
            );
        }
        let source_path = dir.join(&entry.file);
        let code = std::fs::read_to_string(&source_path).with_context(|| {
            format!(
                "action {}: reading {} failed",
                entry.name,
                source_path.display()
            )
        })?;
        let mut secrets: BTreeMap<String, String> = entry
            .secrets
            .into_iter()
            .map(|(name, value)| (name, value.replace(TENANT_DOMAIN_PLACEHOLDER, &domain)))
            .collect();
        for (secret, variable) in entry.secret_env {
            let value = std::env::var(&variable).with_context(|| {
                format!(
                    "action {}: secret {secret} needs the environment variable {variable}",
                    entry.name
                )
            })?;
            secrets.insert(secret, value);
        }
        actions.push(Action {
            id: format!("act_{}", entry.name),
            name: entry.name,
            trigger: entry.trigger,
            code,
            position: i64::try_from(position).unwrap_or(i64::MAX),
            secrets,
        });
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_actions_load_in_manifest_order() {
        let dir = tempfile::tempdir().unwrap();
        seed_actions_dir(dir.path()).unwrap();
        let actions = load_actions(dir.path(), "http://localhost:3000/").unwrap();
        let names: Vec<_> = actions.iter().map(|action| action.name.as_str()).collect();
        assert_eq!(
            names,
            ["gigya-integration", "capture-event", "upstream-token-check"]
        );
        assert_eq!(actions[1].secrets.len(), 1);
        let check = &actions[2].secrets;
        assert_eq!(check["AUTH0_CLIENT_ID"], DEMO_M2M_ID);
        assert_eq!(check["AUTH0_CLIENT_SECRET"], DEMO_M2M_SECRET);
    }

    #[test]
    fn tenant_domain_placeholder_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.js"),
            "exports.onExecutePostLogin = async () => {};",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("actions.toml"),
            "version = 1\n[[action]]\nname = \"a\"\nfile = \"a.js\"\nsecrets = { DOMAIN = \"{tenant_domain}\" }\n",
        )
        .unwrap();
        let actions = load_actions(dir.path(), "http://localhost:3000/").unwrap();
        assert_eq!(actions[0].secrets["DOMAIN"], "localhost:3000");
    }

    #[test]
    fn tenant_domain_keeps_explicit_port_only() {
        assert_eq!(
            tenant_domain("http://localhost:3000/").unwrap(),
            "localhost:3000"
        );
        assert_eq!(
            tenant_domain("https://auth.example.com/").unwrap(),
            "auth.example.com"
        );
        assert!(tenant_domain("not a url").is_err());
    }

    #[test]
    fn missing_secret_variable_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.js"),
            "exports.onExecutePostLogin = async () => {};",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("actions.toml"),
            "version = 1\n[[action]]\nname = \"a\"\nfile = \"a.js\"\nsecret_env = { KEY = \"AUTHBRIDGE_TEST_UNSET_VARIABLE\" }\n",
        )
        .unwrap();
        let error = load_actions(dir.path(), "http://localhost:3000/").unwrap_err();
        assert!(format!("{error:#}").contains("AUTHBRIDGE_TEST_UNSET_VARIABLE"));
    }
}

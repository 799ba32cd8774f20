//! Configuration of the provider: one site (API key), its issuer, its registered relying
//! parties and the lifetimes of what it issues.
//!
//! The issuer is the OP base URL without a trailing slash, as CDC publishes it
//! (`https://fidm.eu1.gigya.com/oidc/op/v1.0/4_…`). Every endpoint in the discovery document is
//! the issuer followed by `/authorize`, `/token` and so on, so the issuer path must end with
//! `/oidc/op/v1.0/{apiKey}`, where the router serves them. A proxy in front may add a path
//! prefix before that.

use chrono::Duration;
use secrecy::SecretString;
use url::Url;

use crate::accounts::{self, Account};
use crate::error::ProviderError;

/// API key of the built-in demo site.
pub const DEFAULT_API_KEY: &str = "3_authbridge-demo";

/// Scheme, host and port the default issuer uses.
pub const DEFAULT_BASE_URL: &str = "http://localhost:3100";

/// Path under which CDC serves its OpenID Connect provider, followed by `/{apiKey}`.
pub const OP_BASE_PATH: &str = "/oidc/op/v1.0";

/// Client id of the built-in demo relying party, in the 24-character shape of CDC client ids.
pub const DEMO_CLIENT_ID: &str = "V2XwuORG8SzTaVhfQ9RK5lr_";

/// Client secret of the built-in demo relying party. It is public, so use it only locally.
pub const DEMO_CLIENT_SECRET: &str =
    "dbQnRLG5VWcUjj6YTsfgq-GNA3_TEsIx9e-qqSkeKPacghqJoG83fZqR3ECxq51Z6Y7ncw_NAufQVJ18mER25A";

/// Returns the issuer of the site `api_key` served at `base_url`, for example
/// `http://127.0.0.1:3100/oidc/op/v1.0/3_authbridge-demo`. A trailing slash on `base_url` is
/// dropped.
pub fn issuer_for(base_url: &str, api_key: &str) -> String {
    format!("{}{OP_BASE_PATH}/{api_key}", base_url.trim_end_matches('/'))
}

/// A relying party registered with the provider (an "OIDC RP" in the CDC console).
#[derive(Debug, Clone)]
pub struct RelyingParty {
    /// The client id, compared byte for byte.
    pub client_id: String,
    /// The client secret, accepted with `client_secret_basic` or `client_secret_post`.
    pub client_secret: SecretString,
    /// Redirect URIs; a request's `redirect_uri` must equal one of them exactly.
    pub redirect_uris: Vec<String>,
}

/// Everything a [`crate::Provider`] is built from.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The site's API key, the `{apiKey}` path segment. Requests for another key get `404`.
    pub api_key: String,
    /// The issuer: an absolute http(s) URL without a trailing slash whose path ends with
    /// `/oidc/op/v1.0/{api_key}`.
    pub issuer: String,
    /// Name of the site shown on the login page.
    pub site_name: String,
    /// Registered relying parties.
    pub clients: Vec<RelyingParty>,
    /// Accounts that can log in.
    pub accounts: Vec<Account>,
    /// Lifetime of access tokens and ID tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes.
    pub code_ttl: Duration,
    /// Lifetime of a pending authorization, from `authorize` until the login form is posted.
    pub context_ttl: Duration,
    /// Lifetime of refresh tokens. CDC ties it to the login session; this provider has no
    /// sessions, so it is fixed here.
    pub refresh_token_ttl: Duration,
}

impl Default for ProviderConfig {
    /// Returns the demo site: API key [`DEFAULT_API_KEY`] at [`DEFAULT_BASE_URL`], the demo relying
    /// party with redirect URIs `http://localhost:3000/login/callback` and
    /// `http://127.0.0.1:3000/login/callback`, and the built-in accounts.
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            issuer: issuer_for(DEFAULT_BASE_URL, DEFAULT_API_KEY),
            site_name: "authbridge demo site".to_owned(),
            clients: vec![RelyingParty {
                client_id: DEMO_CLIENT_ID.to_owned(),
                client_secret: SecretString::from(DEMO_CLIENT_SECRET),
                redirect_uris: vec![
                    "http://localhost:3000/login/callback".to_owned(),
                    "http://127.0.0.1:3000/login/callback".to_owned(),
                ],
            }],
            accounts: accounts::default_accounts(),
            access_token_ttl: Duration::hours(1),
            code_ttl: Duration::minutes(5),
            context_ttl: Duration::minutes(10),
            refresh_token_ttl: Duration::days(30),
        }
    }
}

impl ProviderConfig {
    /// Sets the issuer to the one of this API key served at `base_url`, see [`issuer_for`].
    #[must_use]
    pub fn with_base_url(mut self, base_url: &str) -> Self {
        self.issuer = issuer_for(base_url, &self.api_key);
        self
    }

    /// Checks the configuration and returns the path of the issuer, which prefixes the login
    /// form's action.
    pub(crate) fn validate(&self) -> Result<String, ProviderError> {
        let invalid = |message: String| Err(ProviderError::InvalidConfig(message));

        let api_key_is_safe = !self.api_key.is_empty()
            && self
                .api_key
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(&byte));
        if !api_key_is_safe {
            return invalid(format!(
                "api_key {:?} must be non-empty and contain only letters, digits, '_', '-' and '.'",
                self.api_key
            ));
        }

        let issuer_path = validate_issuer(&self.issuer, &self.api_key)?;

        for (index, client) in self.clients.iter().enumerate() {
            if client.client_id.is_empty() {
                return invalid(format!("clients[{index}] has an empty client_id"));
            }
            let repeated = self
                .clients
                .iter()
                .take(index)
                .any(|other| other.client_id == client.client_id);
            if repeated {
                return invalid(format!(
                    "client_id {:?} is registered twice",
                    client.client_id
                ));
            }
            for redirect_uri in &client.redirect_uris {
                validate_redirect_uri(&client.client_id, redirect_uri)?;
            }
        }

        accounts::validate_accounts(&self.accounts)?;

        let lifetimes = [
            ("access_token_ttl", self.access_token_ttl),
            ("code_ttl", self.code_ttl),
            ("context_ttl", self.context_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
        ];
        for (name, ttl) in lifetimes {
            if ttl <= Duration::zero() {
                return invalid(format!("{name} must be positive, got {ttl}"));
            }
        }

        Ok(issuer_path)
    }
}

/// Checks the issuer's shape and returns its path.
fn validate_issuer(issuer: &str, api_key: &str) -> Result<String, ProviderError> {
    let invalid = |reason: &str| {
        Err(ProviderError::InvalidConfig(format!(
            "issuer {issuer:?} {reason}; expected a URL such as {}",
            issuer_for(DEFAULT_BASE_URL, api_key)
        )))
    };

    let Ok(url) = Url::parse(issuer) else {
        return invalid("is not an absolute URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return invalid("must use http or https");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return invalid("must not have a query or fragment");
    }
    if issuer.ends_with('/') {
        return invalid("must not end with a slash");
    }
    let expected_suffix = format!("{OP_BASE_PATH}/{api_key}");
    if !url.path().ends_with(&expected_suffix) {
        return invalid(&format!("must have a path ending with {expected_suffix}"));
    }
    Ok(url.path().to_owned())
}

/// Checks that a registered redirect URI is absolute and has no fragment (RFC 6749, 3.1.2).
fn validate_redirect_uri(client_id: &str, redirect_uri: &str) -> Result<(), ProviderError> {
    let url = Url::parse(redirect_uri).map_err(|error| {
        ProviderError::InvalidConfig(format!(
            "redirect URI {redirect_uri:?} of client {client_id:?} is not an absolute URL: {error}"
        ))
    })?;
    if url.fragment().is_some() {
        return Err(ProviderError::InvalidConfig(format!(
            "redirect URI {redirect_uri:?} of client {client_id:?} must not have a fragment"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        let config = ProviderConfig::default();
        assert_eq!(
            config.issuer,
            "http://localhost:3100/oidc/op/v1.0/3_authbridge-demo"
        );
        assert_eq!(
            config.validate().unwrap(),
            "/oidc/op/v1.0/3_authbridge-demo"
        );
    }

    #[test]
    fn with_base_url_drops_trailing_slash() {
        let config = ProviderConfig::default().with_base_url("http://127.0.0.1:4000/");
        assert_eq!(
            config.issuer,
            "http://127.0.0.1:4000/oidc/op/v1.0/3_authbridge-demo"
        );
    }

    #[test]
    fn issuer_mismatches_are_rejected() {
        let cases = [
            "http://localhost:3100/oidc/op/v1.0/3_authbridge-demo/",
            "http://localhost:3100/oidc/op/v1.0/other-key",
            "ftp://localhost/oidc/op/v1.0/3_authbridge-demo",
            "http://localhost:3100/oidc/op/v1.0/3_authbridge-demo?x=1",
            "not a url",
        ];
        for issuer in cases {
            let config = ProviderConfig {
                issuer: issuer.to_owned(),
                ..ProviderConfig::default()
            };
            assert!(config.validate().is_err(), "{issuer} was accepted");
        }
    }

    #[test]
    fn issuer_behind_path_prefix_is_accepted() {
        let config = ProviderConfig {
            issuer: "https://idp.test/gigya/oidc/op/v1.0/3_authbridge-demo".to_owned(),
            ..ProviderConfig::default()
        };
        assert_eq!(
            config.validate().unwrap(),
            "/gigya/oidc/op/v1.0/3_authbridge-demo"
        );
    }

    #[test]
    fn duplicate_client_and_bad_redirect_are_rejected() {
        let mut duplicate = ProviderConfig::default();
        duplicate.clients.push(duplicate.clients[0].clone());
        assert!(duplicate.validate().is_err());

        let mut fragment = ProviderConfig::default();
        fragment.clients[0].redirect_uris = vec!["https://rp.test/cb#x".to_owned()];
        assert!(fragment.validate().is_err());

        let mut relative = ProviderConfig::default();
        relative.clients[0].redirect_uris = vec!["/cb".to_owned()];
        assert!(relative.validate().is_err());
    }

    #[test]
    fn unsafe_api_key_and_zero_ttl_are_rejected() {
        let slash = ProviderConfig {
            api_key: "a/b".to_owned(),
            ..ProviderConfig::default()
        };
        assert!(slash.validate().is_err());

        let zero = ProviderConfig {
            code_ttl: Duration::zero(),
            ..ProviderConfig::default()
        };
        assert!(zero.validate().is_err());
    }
}

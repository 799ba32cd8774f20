//! `authbridge login --demo`: a complete headless login against a running stack.
//!
//! It starts a login as the demo web application, follows the redirects to the provider's
//! login page, posts the demo account's credentials there, follows the redirects back, and
//! stops at the application's callback to redeem the code itself. The password is posted only
//! to the provider on the expected port.

use anyhow::{Context as _, anyhow, bail};
use reqwest::StatusCode;
use url::Url;

use crate::relying_party::{DemoRelyingParty, LoginResult};

/// The demo account of the built-in provider.
pub(crate) const DEMO_LOGIN_ID: &str = "ada@example.com";
pub(crate) const DEMO_PASSWORD: &str = "Passw0rd!";

/// The address of the stack to log in to, and the CA to trust for it.
pub(crate) struct Target {
    pub(crate) issuer: String,
    /// CA certificate to trust for an HTTPS broker.
    pub(crate) ca_file: Option<std::path::PathBuf>,
    pub(crate) gigya_port: u16,
    pub(crate) app_callback: String,
}

/// Runs a full login and returns what the application would show.
pub(crate) async fn run(
    target: &Target,
    login_id: &str,
    password: &str,
) -> anyhow::Result<LoginResult> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30));
    if let Some(path) = &target.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading the CA certificate {} failed", path.display()))?;
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
    }
    let http = builder.build()?;
    let relying_party = DemoRelyingParty::new(http.clone(), &target.issuer, &target.app_callback);
    let state = authbridge_core::random::token(16);
    let nonce = authbridge_core::random::token(16);
    let verifier = authbridge_core::random::token(32);

    let authorize = relying_party.authorize_url(&state, &nonce, &verifier)?;
    let upstream = expect_redirect(&http, authorize, "the broker's /authorize")
        .await
        .with_context(|| {
            format!(
                "is the stack running? (authbridge up, broker at {})",
                target.issuer
            )
        })?;
    if upstream.port_or_known_default() != Some(target.gigya_port) {
        bail!(
            "the broker sent the login to {upstream}, not to the provider on port {}",
            target.gigya_port
        );
    }

    let page = http.get(upstream.clone()).send().await?;
    if page.status() != StatusCode::OK {
        bail!(
            "the provider's login page returned HTTP {}",
            page.status().as_u16()
        );
    }
    let html = page.text().await?;
    let form = LoginForm::parse(&html)
        .ok_or_else(|| anyhow!("the provider's login page has no login form"))?;
    let action = upstream.join(&form.action)?;
    if action.origin() != upstream.origin() {
        bail!("the login form posts to another origin: {action}");
    }

    let response = http
        .post(action)
        .form(&[
            ("context", form.context.as_str()),
            ("loginID", login_id),
            ("password", password),
        ])
        .send()
        .await?;
    if response.status() != StatusCode::FOUND {
        bail!(
            "the provider rejected the login for {login_id} (HTTP {})",
            response.status().as_u16()
        );
    }
    let broker_callback = location(&response)?;
    let app_callback =
        expect_redirect(&http, broker_callback, "the broker's /login/callback").await?;

    let params: std::collections::HashMap<String, String> =
        app_callback.query_pairs().into_owned().collect();
    if let Some(error) = params.get("error") {
        bail!(
            "the login failed: {error}: {}",
            params.get("error_description").map_or("", String::as_str)
        );
    }
    if params.get("state") != Some(&state) {
        bail!("the callback state does not match the one sent");
    }
    let code = params
        .get("code")
        .ok_or_else(|| anyhow!("the callback carries no code"))?;
    relying_party.redeem(code, &verifier, &nonce).await
}

async fn expect_redirect(http: &reqwest::Client, url: Url, what: &str) -> anyhow::Result<Url> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("requesting {what} failed"))?;
    if response.status() != StatusCode::FOUND {
        bail!(
            "{what} returned HTTP {} instead of a redirect",
            response.status().as_u16()
        );
    }
    location(&response)
}

fn location(response: &reqwest::Response) -> anyhow::Result<Url> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| anyhow!("the redirect has no Location header"))?;
    Ok(response.url().join(location)?)
}

/// The provider's login form: where it posts and its hidden login context.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LoginForm {
    pub(crate) action: String,
    pub(crate) context: String,
}

impl LoginForm {
    /// Extracts the form's `action` and the `context` input's value from the page.
    pub(crate) fn parse(html: &str) -> Option<Self> {
        let form_start = html.find("<form")?;
        let form_tag = &html[form_start..form_start + html[form_start..].find('>')?];
        let action = attribute(form_tag, "action")?;

        let context = html.match_indices("<input").find_map(|(start, _)| {
            let tag = &html[start..start + html[start..].find('>')?];
            (attribute(tag, "name")? == "context")
                .then(|| attribute(tag, "value"))
                .flatten()
        })?;
        Some(Self { action, context })
    }
}

/// Returns the unescaped value of a double-quoted attribute in one tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_form_fields_are_extracted() {
        let html = r#"<main><form method="post" action="/oidc/op/v1.0/3_x/login?a=1&amp;b=2">
            <input type="hidden" name="context" value="ctx-123">
            <input name="loginID"></form></main>"#;
        assert_eq!(
            LoginForm::parse(html),
            Some(LoginForm {
                action: "/oidc/op/v1.0/3_x/login?a=1&b=2".into(),
                context: "ctx-123".into()
            })
        );
    }

    #[test]
    fn page_without_form_yields_none() {
        assert_eq!(LoginForm::parse("<p>no form</p>"), None);
    }
}

//! Host modules the broker registers on its action runner.
//!
//! `auth0` ([`auth0_module`]) gives actions `require('auth0').ManagementClient`, a client for the
//! broker's own Management API modelled on the npm package `auth0` (node-auth0). It gets a
//! `client_credentials` token from `/oauth/token`, caches it per client instance, and calls the
//! Management API with `Authorization: Bearer`. The JavaScript side in `action_modules/auth0.js`
//! has the SDK's method names of versions 2 to 5. It reaches the network only through one host
//! function, `request`, which sends a request to the tenant's own origin and rejects every other
//! URL.
//!
//! Actions name the tenant by `domain`, as they would with Auth0. `TenantOrigin` maps a domain
//! whose host and port match the issuer to the issuer's base URL, so that `localhost:3000`
//! reaches `http://localhost:3000/` and not `https://`. Request and response bodies, headers and
//! tokens are never logged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use authbridge_actions::{HostCall, HostModule, HostResult};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

/// Name actions pass to `require` for the Management API client.
pub const AUTH0_MODULE: &str = "auth0";

const AUTH0_JS: &str = include_str!("action_modules/auth0.js");

/// Default time limit of one HTTP request an action sends through the `auth0` module.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Default size limit of one response body the `auth0` module hands to an action.
// NOTE: an estimate, not measured. It is meant to fit a page of 100 users with metadata and to
// stay far below the action's default memory limit of 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A failure to build an action module.
#[derive(Debug, thiserror::Error)]
pub enum ActionModuleError {
    /// The issuer is not an absolute `http` or `https` URL with a host.
    #[error("the issuer {issuer:?} is not an absolute http or https URL with a host")]
    InvalidIssuer { issuer: String },
    /// The HTTP client could not be built.
    #[error("building the HTTP client of the auth0 module failed: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// Settings of the `auth0` module.
#[derive(Clone)]
pub struct Auth0ModuleSettings {
    issuer: Url,
    request_timeout: Duration,
    max_response_bytes: usize,
    root_certificates: Vec<reqwest::Certificate>,
}

impl Auth0ModuleSettings {
    /// Returns settings for the broker whose issuer is `issuer`, e.g. `http://localhost:3000/`.
    pub fn new(issuer: &str) -> Result<Self, ActionModuleError> {
        let invalid = || ActionModuleError::InvalidIssuer {
            issuer: issuer.to_owned(),
        };
        let mut url = Url::parse(issuer).map_err(|_| invalid())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid());
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url.set_query(None);
        url.set_fragment(None);
        Ok(Self {
            issuer: url,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            root_certificates: Vec::new(),
        })
    }

    /// Sets the time limit of one request, response body included. The action flow's own
    /// deadline applies as well.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the size limit of one response body. A larger response fails the request.
    #[must_use]
    pub fn with_max_response_bytes(mut self, max_response_bytes: usize) -> Self {
        self.max_response_bytes = max_response_bytes;
        self
    }

    /// Adds a certificate authority to trust, e.g. the local CA of a broker that serves HTTPS
    /// with its own certificate.
    #[must_use]
    pub fn with_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }
}

/// Builds the `auth0` host module for the broker described by `settings`.
///
/// The module's HTTP client follows no redirects, so a response cannot send a request to
/// another origin.
pub fn auth0_module(settings: Auth0ModuleSettings) -> Result<HostModule, ActionModuleError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.request_timeout);
    for certificate in settings.root_certificates {
        builder = builder.add_root_certificate(certificate);
    }
    let tenant = Arc::new(TenantOrigin::new(settings.issuer));
    let sender = Arc::new(RequestSender {
        client: builder.build()?,
        tenant: Arc::clone(&tenant),
        timeout: settings.request_timeout,
        max_response_bytes: settings.max_response_bytes,
    });

    Ok(HostModule::new(AUTH0_MODULE)
        .with_function("resolveDomain", move |call| tenant.resolve_call(&call))
        .with_async_function("request", move |call| {
            let sender = Arc::clone(&sender);
            async move { sender.send(call).await }
        })
        .with_source(AUTH0_JS))
}

/// The broker's own origin, the only one the `auth0` module reaches.
#[derive(Debug)]
struct TenantOrigin {
    /// The issuer: scheme, host, port and a path ending in `/`.
    base: Url,
}

impl TenantOrigin {
    fn new(base: Url) -> Self {
        Self { base }
    }

    /// Returns the tenant's domain as actions name it: host, and the port when the issuer
    /// gives one.
    fn domain(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// Handles `resolveDomain(domain, audience)` from JavaScript.
    fn resolve_call(&self, call: &HostCall) -> HostResult {
        let domain = call
            .args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default();
        let audience = call.args.get(1).and_then(Value::as_str);
        if !self.matches_domain(domain) {
            tracing::warn!(
                target: "authbridge::security",
                action = %call.action_name,
                domain = %domain,
                "an action's ManagementClient named another domain than the tenant's"
            );
            return Err(self.other_domain_message(domain));
        }
        Ok(json!({
            "baseUrl": self.base.as_str(),
            "audience": self.management_audience(audience),
        }))
    }

    /// Returns whether `domain` (`host[:port]`, with or without a scheme, which is ignored)
    /// names this tenant. A domain without a port means the default port of the issuer's
    /// scheme.
    fn matches_domain(&self, domain: &str) -> bool {
        let Some(url) = self.url_for_domain(domain) else {
            return false;
        };
        let same_host = url.host_str() == self.base.host_str()
            || (is_loopback(&url) && is_loopback(&self.base));
        same_host && url.port_or_known_default() == self.base.port_or_known_default()
    }

    /// Parses `domain` as the authority of a URL with the issuer's scheme. Returns `None` for
    /// anything more than an authority with an optional scheme and trailing `/`.
    fn url_for_domain(&self, domain: &str) -> Option<Url> {
        let domain = domain.trim();
        let authority = domain
            .split_once("://")
            .map_or(domain, |(_, rest)| rest)
            .trim_end_matches('/');
        if authority.is_empty()
            || authority
                .chars()
                .any(|c| matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace())
        {
            return None;
        }
        Url::parse(&format!("{}://{authority}/", self.base.scheme())).ok()
    }

    /// Returns the audience a token request should name. No audience, and the SDK's default
    /// `{scheme}://{domain}/api/v2/` for this tenant's domain, both become the broker's
    /// Management API audience. Any other audience is returned unchanged.
    fn management_audience(&self, requested: Option<&str>) -> String {
        let own = format!("{}api/v2/", self.base);
        let Some(requested) = requested.filter(|audience| !audience.is_empty()) else {
            return own;
        };
        let names_own_api = requested
            .split_once("://")
            .and_then(|(_, rest)| rest.strip_suffix("/api/v2/"))
            .is_some_and(|domain| self.matches_domain(domain));
        if names_own_api {
            own
        } else {
            requested.to_owned()
        }
    }

    /// Parses `url` and checks that it points into the issuer: same scheme, host and port, no
    /// credentials, and a path under the issuer's path.
    fn check_url(&self, url: &str) -> Result<Url, String> {
        let parsed = Url::parse(url).map_err(|error| format!("invalid request URL: {error}"))?;
        let same_origin = parsed.scheme() == self.base.scheme()
            && parsed.host_str() == self.base.host_str()
            && parsed.port_or_known_default() == self.base.port_or_known_default();
        if !same_origin {
            let host = parsed.host_str().unwrap_or_default().to_owned();
            return Err(self.other_domain_message(&host));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("request URLs must not contain credentials".to_owned());
        }
        if !parsed.path().starts_with(self.base.path()) {
            return Err(format!(
                "request path {} is outside the tenant's base path {}",
                parsed.path(),
                self.base.path()
            ));
        }
        Ok(parsed)
    }

    fn other_domain_message(&self, domain: &str) -> String {
        format!(
            "the domain {domain:?} is not this tenant's: actions can reach only the tenant's \
             own domain {}",
            self.domain()
        )
    }
}

/// One request as the JavaScript side hands it to `request`.
#[derive(Deserialize)]
struct OutgoingRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

/// Tells whether `url` names this machine: `localhost` or a loopback address. Requests are
/// still sent to the issuer's own URL, so the alias only decides whether a domain matches.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

/// Sends the `request` calls of actions to the tenant's origin.
struct RequestSender {
    client: reqwest::Client,
    tenant: Arc<TenantOrigin>,
    timeout: Duration,
    max_response_bytes: usize,
}

impl RequestSender {
    /// Handles `request({method, url, headers, body})` and returns
    /// `{status, statusText, headers, body}` with the body as text.
    async fn send(&self, call: HostCall) -> HostResult {
        let argument = call.args.into_iter().next().unwrap_or(Value::Null);
        let request: OutgoingRequest = serde_json::from_value(argument)
            .map_err(|error| format!("invalid request: {error}"))?;
        let url = self.tenant.check_url(&request.url).inspect_err(|_| {
            tracing::warn!(
                target: "authbridge::security",
                action = %call.action_name,
                "an action's request to another origin was rejected"
            );
        })?;
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("invalid HTTP method {:?}", request.method))?;
        let path = url.path().to_owned();

        let mut builder = self.client.request(method.clone(), url);
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("host") {
                return Err("the Host header cannot be set".to_owned());
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }

        let response = builder
            .send()
            .await
            .map_err(|error| self.failure_message(&method, &path, error))?;
        let status = response.status().as_u16();
        let status_text = response.status().canonical_reason().unwrap_or_default();
        let headers = response_headers(response.headers());
        let body = self
            .read_body(response)
            .await
            .map_err(|error| format!("{method} {path}: {error}"))?;
        tracing::debug!(
            action = %call.action_name,
            %method,
            %path,
            status,
            "action request to the broker answered"
        );
        Ok(json!({
            "status": status,
            "statusText": status_text,
            "headers": headers,
            "body": body,
        }))
    }

    /// Reads the body as text, failing once it passes the size limit.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<String, String> {
        let too_large = || {
            format!(
                "the response body is larger than {} bytes",
                self.max_response_bytes
            )
        };
        if response
            .content_length()
            .is_some_and(|length| length > self.max_response_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.error_text(error))?
        {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn failure_message(
        &self,
        method: &reqwest::Method,
        path: &str,
        error: reqwest::Error,
    ) -> String {
        format!(
            "{method} {}{} failed: {}",
            self.tenant.domain(),
            path,
            self.error_text(error)
        )
    }

    /// Describes a transport error without its URL, which the caller adds where needed.
    fn error_text(&self, error: reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("timed out after {} ms", self.timeout.as_millis());
        }
        error.without_url().to_string()
    }
}

/// Returns response headers as an object of lowercase names; repeated headers are joined with
/// `, `.
fn response_headers(headers: &reqwest::header::HeaderMap) -> Map<String, Value> {
    let mut object = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match object.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                object.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(issuer: &str) -> TenantOrigin {
        match Auth0ModuleSettings::new(issuer) {
            Ok(settings) => TenantOrigin::new(settings.issuer),
            Err(error) => unreachable!("test issuer {issuer} is invalid: {error}"),
        }
    }

    #[test]
    fn domain_matches_host_and_port_of_issuer() {
        let local = tenant("http://localhost:3000/");
        for domain in [
            "localhost:3000",
            "LOCALHOST:3000",
            "https://localhost:3000",
            "http://localhost:3000/",
            " localhost:3000 ",
        ] {
            assert!(local.matches_domain(domain), "{domain}");
        }
        for domain in [
            "localhost",
            "localhost:3001",
            "evil.example.com",
            "localhost:3000/api",
            "user@localhost:3000",
            "localhost:3000?x=1",
            "",
        ] {
            assert!(!local.matches_domain(domain), "{domain}");
        }
    }

    #[test]
    fn loopback_aliases_match_a_loopback_issuer() {
        let origin = tenant("http://localhost:3000/");
        assert!(origin.matches_domain("127.0.0.1:3000"));
        assert!(origin.matches_domain("[::1]:3000"));
        assert!(!origin.matches_domain("127.0.0.1:3001"));
        assert!(!tenant("https://auth.example.com/").matches_domain("127.0.0.1:443"));
    }

    #[test]
    fn domain_without_port_means_issuer_default_port() {
        let public = tenant("https://auth.example.com");
        assert!(public.matches_domain("auth.example.com"));
        assert!(public.matches_domain("auth.example.com:443"));
        assert!(!public.matches_domain("auth.example.com:80"));
        assert_eq!(public.domain(), "auth.example.com");
    }

    #[test]
    fn sdk_default_audience_maps_to_issuer() {
        let local = tenant("http://localhost:3000/");
        let own = "http://localhost:3000/api/v2/";
        assert_eq!(local.management_audience(None), own);
        assert_eq!(local.management_audience(Some("")), own);
        assert_eq!(
            local.management_audience(Some("https://localhost:3000/api/v2/")),
            own
        );
        assert_eq!(
            local.management_audience(Some("https://api.example.com/")),
            "https://api.example.com/"
        );
    }

    #[test]
    fn request_urls_stay_under_issuer() {
        let based = tenant("http://localhost:3000/tenant/");
        assert!(
            based
                .check_url("http://localhost:3000/tenant/oauth/token")
                .is_ok()
        );
        for url in [
            "http://localhost:3000/other/oauth/token",
            "https://localhost:3000/tenant/oauth/token",
            "http://localhost:3001/tenant/oauth/token",
            "http://evil.example.com/tenant/",
            "http://user:pass@localhost:3000/tenant/",
            "not a url",
        ] {
            assert!(based.check_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn other_domain_error_names_tenant_domain() {
        let local = tenant("http://127.0.0.1:8080/");
        let message = local.other_domain_message("evil.example.com");
        assert!(
            message.contains("only the tenant's own domain 127.0.0.1:8080"),
            "{message}"
        );
    }
}

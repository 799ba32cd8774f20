//! The authorization endpoint and the login form behind it.
//!
//! `authorize` accepts its parameters as a query (GET) or a form body (POST), as CDC does.
//! Errors that make the redirect URI untrustworthy (unknown client, unregistered or missing
//! `redirect_uri`, unreadable or repeated parameters) get a `400` HTML page and never a
//! redirect (RFC 6749 section 4.1.2.1). Every other error is redirected to the client with
//! `error`, `error_description` and the original `state`.
//!
//! A valid request is stored as a pending authorization for `context_ttl`, and the response is
//! the login page. Posting that page's form to `login` with the right credentials redirects
//! to the client with a code.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use url::Url;

use crate::grants::{CodeGrant, PendingAuthorization, PkceChallenge};
use crate::http::unique_params;
use crate::pages::{self, LoginForm};
use crate::provider::Provider;
use crate::tokens::granted_scopes;

/// Message shown on the login page after a failed attempt, Gigya's wording of error 403043.
const INVALID_LOGIN: &str = "Invalid login or password";

/// `GET|POST /authorize`.
pub(crate) async fn authorize(
    State(provider): State<Arc<Provider>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let bad_request = |message: &str| {
        tracing::info!(
            reason = message,
            "authorization request rejected with an error page"
        );
        pages::error_page(
            StatusCode::BAD_REQUEST,
            &provider.config().site_name,
            "Invalid authorization request",
            message,
        )
    };

    let pairs = match form {
        Ok(Form(pairs)) => pairs,
        Err(rejection) => {
            return bad_request(&format!(
                "The request parameters could not be read: {rejection}"
            ));
        }
    };
    let params = match unique_params(pairs) {
        Ok(params) => params,
        Err(name) => {
            return bad_request(&format!("The parameter {name} appears more than once."));
        }
    };
    let param = |name: &str| params.get(name).map(String::as_str);

    let Some(client_id) = param("client_id") else {
        return bad_request("The client_id parameter is missing.");
    };
    let Some(client) = provider.client(client_id) else {
        tracing::warn!(client_id, "authorization request for an unknown client");
        return bad_request(&format!("The client {client_id} is not registered."));
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return bad_request("The redirect_uri parameter is missing.");
    };
    if !client.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        tracing::warn!(client_id, redirect_uri, "unregistered redirect URI");
        return bad_request(&format!(
            "The redirect URI in the request: {redirect_uri} did not match a registered redirect URI."
        ));
    }

    let state = param("state");
    let request = match validate(&params) {
        Ok(request) => request,
        Err((error, description)) => {
            tracing::info!(client_id, error, "authorization request rejected");
            return redirect_with_error(redirect_uri, error, &description, state);
        }
    };
    if request.prompt_none {
        return redirect_with_error(
            redirect_uri,
            "login_required",
            "The user is not logged in; this provider keeps no sessions",
            state,
        );
    }

    let now = provider.clock().now();
    let pending = PendingAuthorization {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: request.scope,
        state: state.map(str::to_owned),
        nonce: param("nonce").map(str::to_owned),
        pkce: request.pkce,
        expires_at: now + provider.config().context_ttl,
    };
    let context = provider.grants().insert_pending(pending, now);

    let action = format!("{}/login", provider.issuer_path());
    pages::login_page(&LoginForm {
        site_name: &provider.config().site_name,
        action: &action,
        context: &context,
        login_id: param("login_hint").unwrap_or_default(),
        error: None,
    })
}

/// The parts of an authorization request that outlive validation.
struct ValidRequest {
    scope: Vec<String>,
    pkce: Option<PkceChallenge>,
    prompt_none: bool,
}

/// Checks the parameters after client and redirect URI are known to be good. An error is an
/// OAuth error code with a description, to be redirected to the client.
fn validate(params: &HashMap<String, String>) -> Result<ValidRequest, (&'static str, String)> {
    let param = |name: &str| params.get(name).map(String::as_str);

    match param("response_type") {
        None => {
            return Err((
                "invalid_request",
                "The response_type parameter is missing".to_owned(),
            ));
        }
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
    }

    if param("request").is_some() {
        return Err((
            "request_not_supported",
            "Request objects are not supported; send the parameters directly".to_owned(),
        ));
    }
    if param("request_uri").is_some() {
        return Err((
            "request_uri_not_supported",
            "request_uri is not supported; send the parameters directly".to_owned(),
        ));
    }
    if let Some(mode) = param("response_mode")
        && mode != "query"
    {
        return Err((
            "invalid_request",
            format!("response_mode {mode:?} is not supported; use query"),
        ));
    }

    let scope = granted_scopes(param("scope").unwrap_or_default());
    if !scope.iter().any(|granted| granted == "openid") {
        return Err(("invalid_scope", "The scope must include openid".to_owned()));
    }

    let pkce = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err((
                "invalid_request",
                "code_challenge_method was sent without code_challenge".to_owned(),
            ));
        }
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if !matches!(method, "S256" | "plain") {
                return Err((
                    "invalid_request",
                    format!("code_challenge_method {method:?} is not supported; use S256 or plain"),
                ));
            }
            if !authbridge_oidc::pkce::is_well_formed(challenge) {
                return Err((
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters from [A-Za-z0-9-._~]".to_owned(),
                ));
            }
            Some(PkceChallenge {
                challenge: challenge.to_owned(),
                method: method.to_owned(),
            })
        }
    };

    let prompts: Vec<&str> = param("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|prompt| !prompt.is_empty())
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err((
            "invalid_request",
            "prompt=none cannot be combined with other prompt values".to_owned(),
        ));
    }

    Ok(ValidRequest {
        scope,
        pkce,
        prompt_none,
    })
}

/// Fields of the login form.
#[derive(Deserialize)]
pub(crate) struct LoginFields {
    context: Option<String>,
    #[serde(rename = "loginID")]
    login_id: Option<String>,
    password: Option<String>,
}

/// `POST /login`: checks the credentials of a pending authorization.
pub(crate) async fn login(
    State(provider): State<Arc<Provider>>,
    form: Result<Form<LoginFields>, FormRejection>,
) -> Response {
    let site_name = &provider.config().site_name;
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => {
            tracing::info!(%rejection, "unreadable login form");
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                site_name,
                "Invalid login request",
                &format!("The login form could not be read: {rejection}"),
            );
        }
    };

    let now = provider.clock().now();
    let context = fields.context.unwrap_or_default();
    let Some(pending) = provider.grants().pending(&context, now) else {
        tracing::info!("login form posted with an unknown or expired context");
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            site_name,
            "Sign-in expired",
            "This sign-in is unknown or has expired. Start again from the application.",
        );
    };

    let login_id = fields.login_id.unwrap_or_default();
    let password = fields.password.unwrap_or_default();
    let action = format!("{}/login", provider.issuer_path());
    let retry = |error: &str| {
        pages::login_page(&LoginForm {
            site_name,
            action: &action,
            context: &context,
            login_id: &login_id,
            error: Some(error),
        })
    };

    if login_id.trim().is_empty() || password.is_empty() {
        return retry("Enter your login ID and password.");
    }
    let Some(account) = provider.accounts().authenticate(&login_id, &password) else {
        tracing::warn!(
            target: "authbridge::security",
            client_id = %pending.client_id,
            login_id = %login_id,
            "login failed: invalid login or password"
        );
        return retry(INVALID_LOGIN);
    };

    provider.grants().remove_pending(&context);
    let grant = CodeGrant {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        uid: account.uid.clone(),
        scope: pending.scope,
        nonce: pending.nonce,
        pkce: pending.pkce,
        auth_time: now.timestamp(),
        expires_at: now + provider.config().code_ttl,
    };
    let code = provider.grants().insert_code(grant, now);
    tracing::info!(
        target: "authbridge::security",
        client_id = %pending.client_id,
        uid = %account.uid,
        "login succeeded; authorization code issued"
    );

    redirect_with_params(
        &pending.redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", pending.state.as_deref()),
        ],
    )
}

/// Redirects to the client with an OAuth error.
fn redirect_with_error(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> Response {
    redirect_with_params(
        redirect_uri,
        &[
            ("error", Some(error)),
            ("error_description", Some(description)),
            ("state", state),
        ],
    )
}

/// Redirects with `302 Found` to `redirect_uri` with `params` added to its query; parameters
/// whose value is `None` are left out.
fn redirect_with_params(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    let mut url = match Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(error) => {
            // Registered redirect URIs are checked when the provider is built.
            tracing::error!(redirect_uri, %error, "registered redirect URI does not parse");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }

    let Ok(location) = HeaderValue::from_str(url.as_str()) else {
        tracing::error!("redirect URL is not a valid header value");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

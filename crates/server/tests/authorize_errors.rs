//! `GET /authorize` errors: a page when the client or its redirect URI cannot be trusted, and
//! an error redirect with the client's `state` for everything else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use support::*;
use url::Url;

async fn assert_error_page(response: reqwest::Response, expected_text: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers().get("location").is_none(),
        "an untrusted redirect URI was used"
    );
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains(expected_text), "{body}");
}

/// Checks that `redirect` goes to the web application with `error`, the client's state and no
/// code, and returns the error description.
fn assert_error_redirect(redirect: &Url, error: &str) -> String {
    assert!(
        redirect.as_str().starts_with(WEB_CALLBACK),
        "redirected to {redirect}"
    );
    assert_eq!(query_param(redirect, "error").as_deref(), Some(error));
    assert_eq!(
        query_param(redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
    assert_eq!(query_param(redirect, "code"), None);
    query_param(redirect, "error_description").unwrap_or_default()
}

#[tokio::test]
async fn unknown_client_gets_error_page() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .authorize(&Params::web().with("client_id", "no-such-client"))
        .await;

    assert_error_page(response, "no-such-client").await;
}

#[tokio::test]
async fn unregistered_redirect_uri_gets_error_page() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .authorize(&Params::web().with("redirect_uri", "https://evil.test/cb"))
        .await;

    assert_error_page(response, "https://evil.test/cb").await;
}

#[tokio::test]
async fn redirect_uri_with_extra_slash_is_rejected() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .authorize(&Params::web().with("redirect_uri", "https://app.test/cb/"))
        .await;

    assert_error_page(response, "https://app.test/cb/").await;
}

#[tokio::test]
async fn missing_redirect_uri_gets_error_page() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .authorize(&Params::web().without("redirect_uri"))
        .await;

    assert_error_page(response, "redirect_uri").await;
}

#[tokio::test]
async fn unsupported_response_type_is_redirected() {
    let tenant = TestTenant::start().await;

    let redirect = tenant
        .start_login(&Params::web().with("response_type", "token"))
        .await;

    assert_error_redirect(&redirect, "unsupported_response_type");
}

#[tokio::test]
async fn unknown_audience_is_service_not_found() {
    let tenant = TestTenant::start().await;

    let redirect = tenant
        .start_login(&Params::web().with("audience", "https://unknown.test/"))
        .await;

    let description = assert_error_redirect(&redirect, "access_denied");
    assert_eq!(description, "Service not found: https://unknown.test/");
}

#[tokio::test]
async fn prompt_none_requires_login() {
    let tenant = TestTenant::start().await;

    let redirect = tenant
        .start_login(&Params::web().with("prompt", "none"))
        .await;

    assert_error_redirect(&redirect, "login_required");
}

#[tokio::test]
async fn disabled_connection_is_invalid_request() {
    let tenant = TestTenant::start().await;

    let redirect = tenant
        .start_login(&Params::web().with("connection", "NotThere"))
        .await;

    let description = assert_error_redirect(&redirect, "invalid_request");
    assert!(description.contains("NotThere"), "{description}");
}

#[tokio::test]
async fn unsupported_response_mode_is_invalid_request() {
    let tenant = TestTenant::start().await;

    let redirect = tenant
        .start_login(&Params::web().with("response_mode", "web_message"))
        .await;

    assert_error_redirect(&redirect, "invalid_request");
}

#[tokio::test]
async fn repeated_parameter_is_invalid_request() {
    let tenant = TestTenant::start().await;
    let mut params = Params::web().pairs().to_vec();
    params.push(("scope".to_owned(), "openid".to_owned()));

    let response = tenant
        .http
        .get(tenant.url("authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    let redirect = expect_redirect(response, "/authorize").await;

    assert_error_redirect(&redirect, "invalid_request");
}

#[tokio::test]
async fn unknown_challenge_method_is_invalid_request() {
    let tenant = TestTenant::start().await;
    let params = Params::web()
        .with("code_challenge", S256_CHALLENGE)
        .with("code_challenge_method", "S512");

    let redirect = tenant.start_login(&params).await;

    assert_error_redirect(&redirect, "invalid_request");
}

#[tokio::test]
async fn short_code_challenge_is_invalid_request() {
    let tenant = TestTenant::start().await;
    let params = Params::web()
        .with("code_challenge", "too-short")
        .with("code_challenge_method", "S256");

    let redirect = tenant.start_login(&params).await;

    assert_error_redirect(&redirect, "invalid_request");
}

#[tokio::test]
async fn oversized_authorize_request_is_refused_without_storing() {
    let tenant = TestTenant::start().await;
    let huge_state = "s".repeat(20_000);
    let url = format!(
        "{}authorize?client_id={WEB_CLIENT_ID}&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid&state={huge_state}",
        tenant.issuer
    );

    let response = tenant.http.get(url).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    assert!(response.headers().get(reqwest::header::LOCATION).is_none());
}

//! Discovery, JWKS, the authorization endpoint and the login form, over a loopback socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn discovery_matches_golden_document() {
    let server = start().await;
    let response = server
        .http
        .get(server.endpoint("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();

    let golden = include_str!("golden/discovery.json").replace("{issuer}", &server.issuer());
    let golden: Value = serde_json::from_str(&golden).unwrap();
    assert_eq!(document, golden);
}

#[tokio::test]
async fn discovery_issuer_has_no_trailing_slash() {
    let server = start().await;
    let document: Value = server
        .http
        .get(server.endpoint("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = document["issuer"].as_str().unwrap();
    assert_eq!(
        issuer,
        format!("{}/oidc/op/v1.0/3_authbridge-demo", server.base_url)
    );
    assert!(!issuer.ends_with('/'));
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ] {
        let url = document[endpoint].as_str().unwrap();
        assert!(
            !url.replace("://", "").contains("//"),
            "{endpoint} is {url}"
        );
    }
}

#[tokio::test]
async fn jwks_lists_current_key() {
    let server = start().await;
    let jwks = server.jwks().await;
    assert_eq!(jwks.keys.len(), 1);
    let key = &jwks.keys[0];
    assert_eq!(
        key.common.key_id.as_deref(),
        Some(server.provider.current_kid().as_str())
    );
    assert_eq!(server.provider.jwks_requests(), 1);
}

#[tokio::test]
async fn unknown_api_key_returns_gigya_envelope() {
    let server = start().await;
    let url = format!(
        "{}/oidc/op/v1.0/4_unknownKey/.well-known/openid-configuration",
        server.base_url
    );
    let response = server.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], 400093);
    assert_eq!(body["errorMessage"], "Invalid ApiKey parameter");
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["statusReason"], "Bad Request");
    assert_eq!(body["apiVersion"], 2);
    assert_eq!(body["callId"].as_str().unwrap().len(), 32);
    assert!(body["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn authorize_renders_login_page() {
    let server = start().await;
    let page = server.open_login(&server.authorize_params()).await;

    assert!(page.html.contains("<form method=\"post\""));
    assert!(page.html.contains("name=\"loginID\""));
    assert!(page.html.contains("name=\"password\""));
    assert!(page.html.contains("authbridge demo site"));
    assert_eq!(page.action.path(), "/oidc/op/v1.0/3_authbridge-demo/login");
    assert!(!page.context.is_empty());
}

#[tokio::test]
async fn authorize_accepts_post_form() {
    let server = start().await;
    let response = server
        .http
        .post(server.endpoint("/authorize"))
        .form(&server.authorize_params())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(attribute_after(&html, "name=\"context\"", "value").is_some());
}

#[tokio::test]
async fn login_hint_prefills_login_id() {
    let server = start().await;
    let mut params = server.authorize_params();
    params.push(("login_hint".to_owned(), "grace@example.com".to_owned()));
    let page = server.open_login(&params).await;
    assert_eq!(
        attribute_after(&page.html, "name=\"loginID\"", "value").as_deref(),
        Some("grace@example.com")
    );
}

/// Sends `params` with one parameter replaced and expects a 400 page, not a redirect.
async fn expect_error_page(server: &TestProvider, name: &str, value: Option<&str>) {
    let mut params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(param, _)| param != name)
        .collect();
    if let Some(value) = value {
        params.push((name.to_owned(), value.to_owned()));
    }
    let response = server.authorize(&params).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "{name}={value:?}"
    );
    assert!(response.headers().get("location").is_none());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
}

#[tokio::test]
async fn unknown_client_gets_error_page() {
    let server = start().await;
    expect_error_page(&server, "client_id", Some("no-such-client")).await;
    expect_error_page(&server, "client_id", None).await;
}

#[tokio::test]
async fn unregistered_redirect_uri_gets_error_page() {
    let server = start().await;
    expect_error_page(&server, "redirect_uri", Some("https://evil.test/callback")).await;
    expect_error_page(
        &server,
        "redirect_uri",
        Some("https://rp.test/login/callback/"),
    )
    .await;
    expect_error_page(&server, "redirect_uri", None).await;
}

#[tokio::test]
async fn repeated_parameter_gets_error_page() {
    let server = start().await;
    let mut params = server.authorize_params();
    params.push(("state".to_owned(), "second".to_owned()));
    let response = server.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

/// Sends `params` with `name` set to `value` (or removed) and returns the error redirect's
/// query.
async fn error_redirect(
    server: &TestProvider,
    name: &str,
    value: Option<&str>,
) -> serde_json::Map<String, Value> {
    let mut params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(param, _)| param != name)
        .collect();
    if let Some(value) = value {
        params.push((name.to_owned(), value.to_owned()));
    }
    let response = server.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::FOUND, "{name}={value:?}");
    let redirect = location(&response);
    assert_eq!(
        format!(
            "{}://{}{}",
            redirect.scheme(),
            redirect.host_str().unwrap(),
            redirect.path()
        ),
        REDIRECT_URI
    );
    query_map(&redirect)
}

#[tokio::test]
async fn unsupported_response_type_redirects_with_error() {
    let server = start().await;
    let query = error_redirect(&server, "response_type", Some("token")).await;
    assert_eq!(query["error"], "unsupported_response_type");
    assert_eq!(query["state"], STATE);
    assert!(
        query["error_description"]
            .as_str()
            .unwrap()
            .contains("token")
    );

    let missing = error_redirect(&server, "response_type", None).await;
    assert_eq!(missing["error"], "invalid_request");
}

#[tokio::test]
async fn missing_openid_scope_redirects_with_error() {
    let server = start().await;
    let query = error_redirect(&server, "scope", Some("profile email")).await;
    assert_eq!(query["error"], "invalid_scope");
    assert_eq!(query["state"], STATE);
}

#[tokio::test]
async fn bad_pkce_parameters_redirect_with_error() {
    let server = start().await;
    let method = error_redirect(&server, "code_challenge_method", Some("S512")).await;
    assert_eq!(method["error"], "invalid_request");

    let short = error_redirect(&server, "code_challenge", Some("too-short")).await;
    assert_eq!(short["error"], "invalid_request");

    let orphan_method = error_redirect(&server, "code_challenge", None).await;
    assert_eq!(orphan_method["error"], "invalid_request");
}

#[tokio::test]
async fn unsupported_request_features_redirect_with_error() {
    let server = start().await;
    let request = error_redirect(&server, "request", Some("eyJhbGciOiJub25lIn0.e30.")).await;
    assert_eq!(request["error"], "request_not_supported");

    let request_uri = error_redirect(&server, "request_uri", Some("https://rp.test/r")).await;
    assert_eq!(request_uri["error"], "request_uri_not_supported");

    let form_post = error_redirect(&server, "response_mode", Some("form_post")).await;
    assert_eq!(form_post["error"], "invalid_request");
    assert_eq!(form_post["state"], STATE);
}

#[tokio::test]
async fn prompt_none_redirects_login_required() {
    let server = start().await;
    let query = error_redirect(&server, "prompt", Some("none")).await;
    assert_eq!(query["error"], "login_required");
    assert_eq!(query["state"], STATE);

    let mixed = error_redirect(&server, "prompt", Some("none login")).await;
    assert_eq!(mixed["error"], "invalid_request");
}

#[tokio::test]
async fn error_redirect_without_state_omits_state() {
    let server = start().await;
    let mut params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(name, _)| name != "state")
        .collect();
    params.push(("prompt".to_owned(), "none".to_owned()));
    let response = server.authorize(&params).await;
    let query = query_map(&location(&response));
    assert_eq!(query["error"], "login_required");
    assert!(!query.contains_key("state"));
}

#[tokio::test]
async fn wrong_password_rerenders_with_error() {
    let server = start().await;
    let page = server.open_login(&server.authorize_params()).await;

    let response = server.submit_login(&page, "ada@example.com", "wrong").await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Invalid login or password"));
    assert_eq!(
        attribute_after(&html, "name=\"context\"", "value").as_deref(),
        Some(page.context.as_str())
    );
    assert_eq!(
        attribute_after(&html, "name=\"loginID\"", "value").as_deref(),
        Some("ada@example.com")
    );

    let retry = server
        .submit_login(&page, "ada@example.com", "Passw0rd!")
        .await;
    assert_eq!(retry.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn unknown_login_id_rerenders_with_error() {
    let server = start().await;
    let page = server.open_login(&server.authorize_params()).await;
    let response = server
        .submit_login(&page, "nobody@example.com", "Passw0rd!")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Invalid login or password")
    );
}

#[tokio::test]
async fn login_redirects_with_code_and_exact_state() {
    let server = start().await;
    let redirect = server
        .login_redirect(&server.authorize_params(), "ada@example.com")
        .await;
    let query = query_map(&redirect);
    assert_eq!(query["state"], STATE);
    assert!(query["code"].as_str().unwrap().starts_with("st2.s."));
    assert_eq!(redirect.path(), "/login/callback");
}

#[tokio::test]
async fn login_without_state_omits_state() {
    let server = start().await;
    let params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(name, _)| name != "state")
        .collect();
    let redirect = server.login_redirect(&params, "ada@example.com").await;
    let query = query_map(&redirect);
    assert!(query.contains_key("code"));
    assert!(!query.contains_key("state"));
}

#[tokio::test]
async fn context_cannot_be_used_twice() {
    let server = start().await;
    let page = server.open_login(&server.authorize_params()).await;
    let first = server
        .submit_login(&page, "ada@example.com", "Passw0rd!")
        .await;
    assert_eq!(first.status(), StatusCode::FOUND);

    let second = server
        .submit_login(&page, "ada@example.com", "Passw0rd!")
        .await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_context_gets_error_page() {
    let server = start().await;
    let response = server
        .http
        .post(server.endpoint("/login"))
        .form(&[
            ("context", "made-up"),
            ("loginID", "ada@example.com"),
            ("password", "Passw0rd!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn expired_context_gets_error_page() {
    let server = start().await;
    let page = server.open_login(&server.authorize_params()).await;
    server.clock.advance(Duration::minutes(10));

    let response = server
        .submit_login(&page, "ada@example.com", "Passw0rd!")
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("expired"));
}

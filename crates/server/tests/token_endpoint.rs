//! `POST /oauth/token` with the authorization code grant: single use, client binding, expiry,
//! redirect URI, PKCE, client authentication and malformed requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::*;

/// Another well-formed verifier than [`VERIFIER`].
const OTHER_VERIFIER: &str = "a-different-verifier-of-well-formed-shape-0123456789";

async fn assert_invalid_grant(response: reqwest::Response) {
    let (status, body) = json_body(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], json!("invalid_grant"), "{body}");
}

#[tokio::test]
async fn code_is_rejected_after_first_use() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let first = tenant.redeem(WEB, &code, None).await;
    let second = tenant.redeem(WEB, &code, None).await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_invalid_grant(second).await;
}

#[tokio::test]
async fn code_is_bound_to_its_client() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let stolen = tenant.redeem(M2M, &code, None).await;
    let owner_afterwards = tenant.redeem(WEB, &code, None).await;

    assert_invalid_grant(stolen).await;
    assert_invalid_grant(owner_afterwards).await;
}

#[tokio::test]
async fn expired_code_is_rejected() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    tenant
        .clock
        .advance(chrono::Duration::minutes(5) + chrono::Duration::seconds(1));
    let response = tenant.redeem(WEB, &code, None).await;

    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn code_is_accepted_before_expiry() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    tenant
        .clock
        .advance(chrono::Duration::minutes(5) - chrono::Duration::seconds(1));
    let response = tenant.redeem(WEB, &code, None).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn redirect_uri_mismatch_is_rejected() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let response = tenant
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.test/other"),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
        ])
        .await;

    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn s256_verifier_redeems_code() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::spa()).await;

    let (status, body) = json_body(tenant.redeem(SPA, &code, Some(VERIFIER)).await).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn missing_verifier_is_rejected() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::spa()).await;

    let response = tenant.redeem(SPA, &code, None).await;

    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn wrong_verifier_is_rejected() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::spa()).await;

    let response = tenant.redeem(SPA, &code, Some(OTHER_VERIFIER)).await;

    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn unexpected_verifier_is_rejected() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let response = tenant.redeem(WEB, &code, Some(VERIFIER)).await;

    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn challenge_without_method_is_plain() {
    let tenant = TestTenant::start().await;
    let params = Params::spa().without("code_challenge_method");

    let first_code = tenant.login_for_code(&params).await;
    let s256_attempt = tenant.redeem(SPA, &first_code, Some(VERIFIER)).await;
    let second_code = tenant.login_for_code(&params).await;
    let plain_attempt = tenant.redeem(SPA, &second_code, Some(S256_CHALLENGE)).await;

    assert_invalid_grant(s256_attempt).await;
    assert_eq!(plain_attempt.status(), StatusCode::OK);
}

#[tokio::test]
async fn public_client_requires_code_challenge() {
    let tenant = TestTenant::start().await;
    let params = Params::spa()
        .without("code_challenge")
        .without("code_challenge_method");

    let redirect = tenant.start_login(&params).await;

    assert!(
        redirect.as_str().starts_with(SPA_CALLBACK),
        "redirected to {redirect}"
    );
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
    assert_eq!(query_param(&redirect, "code"), None);
}

#[tokio::test]
async fn wrong_client_secret_is_unauthorized() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let response = tenant
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_CALLBACK),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", "not-the-secret"),
        ])
        .await;
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "access_denied", "error_description": "Unauthorized"})
    );
}

#[tokio::test]
async fn wrong_secret_leaves_code_unspent() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    tenant
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_CALLBACK),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", "not-the-secret"),
        ])
        .await;
    let response = tenant.redeem(WEB, &code, None).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_secret_basic_is_accepted() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let response = tenant
        .http
        .post(tenant.url("oauth/token"))
        .basic_auth(WEB_CLIENT_ID, Some(WEB_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CALLBACK),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .token_request(&[
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
            ("code", "some-code"),
        ])
        .await;
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("invalid_request"));
}

#[tokio::test]
async fn unsupported_grant_type_is_rejected() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", WEB_CLIENT_ID),
            ("client_secret", WEB_CLIENT_SECRET),
            ("username", ADA_LOGIN_ID),
            ("password", PASSWORD),
        ])
        .await;
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("unsupported_grant_type"));
}

#[tokio::test]
async fn same_second_logins_get_distinct_tokens() {
    let tenant = TestTenant::start().await;
    let first_code = tenant.login_for_code(&Params::web()).await;
    let second_code = tenant.login_for_code(&Params::web()).await;

    let (first_status, first) = json_body(tenant.redeem(WEB, &first_code, None).await).await;
    let (second_status, second) = json_body(tenant.redeem(WEB, &second_code, None).await).await;

    assert_eq!(first_status, StatusCode::OK, "{first}");
    assert_eq!(second_status, StatusCode::OK, "{second}");
    assert_ne!(first["access_token"], second["access_token"]);
}

#[tokio::test]
async fn concurrent_redemptions_succeed_once() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let (first, second) = tokio::join!(
        tenant.redeem(WEB, &code, None),
        tenant.redeem(WEB, &code, None)
    );

    let mut statuses = vec![first.status(), second.status()];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::BAD_REQUEST]);
}

#[tokio::test]
async fn unknown_code_is_rejected() {
    let tenant = TestTenant::start().await;

    let response = tenant.redeem(WEB, "never-issued", None).await;

    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn token_response_is_not_cached() {
    let tenant = TestTenant::start().await;
    let code = tenant.login_for_code(&Params::web()).await;

    let response = tenant.redeem(WEB, &code, None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
}

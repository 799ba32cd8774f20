//! The whole login through the Cencora connection: what the client gets back, what its tokens
//! contain, and how the client's `state` and the broker's own login state are handled.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;

use authbridge_oidc::jwt;
use percent_encoding::percent_decode_str;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn discovery_issuer_has_trailing_slash() {
    let tenant = TestTenant::start().await;
    let port = tenant.broker_port();

    let discovery = tenant.discovery().await;

    assert_eq!(
        discovery["issuer"],
        json!(format!("http://127.0.0.1:{port}/"))
    );
    assert_eq!(discovery["issuer"], json!(tenant.issuer));
    assert_eq!(
        discovery["jwks_uri"],
        json!(tenant.url(".well-known/jwks.json"))
    );
}

#[tokio::test]
async fn jwks_publishes_two_rs256_keys() {
    let tenant = TestTenant::start().await;

    let response = tenant
        .http
        .get(tenant.url(".well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::OK);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let kids: HashSet<&str> = keys
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "kids are distinct");
    for key in keys {
        assert_eq!(key["kty"], json!("RSA"));
        assert_eq!(key["use"], json!("sig"));
        assert_eq!(key["alg"], json!("RS256"));
    }
}

#[tokio::test]
async fn id_token_carries_login_claims() {
    let tenant = TestTenant::start().await;
    let login_time = tenant.unix_now();

    let code = tenant.login_for_code(&Params::web()).await;
    let tokens = tenant.redeem_ok(&code).await;

    assert_eq!(tokens["token_type"], json!("Bearer"));
    let access_token = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = tenant.verified_claims(id_token, WEB_CLIENT_ID).await;
    assert_eq!(claims["iss"], json!(tenant.issuer));
    assert_eq!(claims["iss"], tenant.discovery().await["issuer"]);
    assert_eq!(claims["aud"], json!(WEB_CLIENT_ID));
    assert_eq!(claims["sub"], json!(ADA_USER_ID));
    assert_eq!(claims["nonce"], json!(CLIENT_NONCE));
    assert!(
        claims["sid"].as_str().is_some_and(|sid| !sid.is_empty()),
        "sid: {}",
        claims["sid"]
    );
    assert_eq!(claims["auth_time"], json!(login_time));
    assert_eq!(claims["at_hash"], json!(jwt::at_hash(access_token)));
    assert_eq!(claims["email"], json!(ADA_LOGIN_ID));
    assert_eq!(claims["name"], json!("Ada Lovelace"));
}

#[tokio::test]
async fn access_token_names_both_audiences() {
    let tenant = TestTenant::start().await;
    let params = Params::web()
        .with("audience", API_AUDIENCE)
        .with("scope", "openid profile read:reports");

    let code = tenant.login_for_code(&params).await;
    let tokens = tenant.redeem_ok(&code).await;

    assert_eq!(tokens["scope"], json!("openid profile read:reports"));
    let access_token = tokens["access_token"].as_str().unwrap();
    let claims = tenant.verified_claims(access_token, API_AUDIENCE).await;
    assert_eq!(claims["iss"], json!(tenant.issuer));
    assert_eq!(claims["sub"], json!(ADA_USER_ID));
    assert_eq!(
        claims["aud"],
        json!([API_AUDIENCE, tenant.userinfo_audience()])
    );
    assert_eq!(claims["azp"], json!(WEB_CLIENT_ID));
    assert_eq!(claims["scope"], json!("openid profile read:reports"));
}

#[tokio::test]
async fn login_creates_user_with_cencora_identity() {
    let tenant = TestTenant::start().await;

    tenant.login_for_code(&Params::web()).await;
    let (status, user) = tenant.get_user(ADA_USER_ID).await;

    assert_eq!(status, StatusCode::OK, "user: {user}");
    assert_eq!(user["user_id"], json!(ADA_USER_ID));
    assert_eq!(user["email"], json!(ADA_LOGIN_ID));
    assert_eq!(user["logins_count"], json!(1));
    let identities = user["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["provider"], json!("oidc"));
    assert_eq!(identities[0]["connection"], json!(CONNECTION));
    assert_eq!(
        identities[0]["user_id"],
        json!(format!("{CONNECTION}|{ADA_UID}"))
    );
    assert_eq!(identities[0]["isSocial"], json!(false));
}

#[tokio::test]
async fn public_client_logs_in_with_s256_pkce() {
    let tenant = TestTenant::start().await;

    let redirect = tenant.login(&Params::spa()).await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, tokens) = json_body(tenant.redeem(SPA, &code, Some(VERIFIER)).await).await;

    assert!(redirect.as_str().starts_with(SPA_CALLBACK));
    assert_eq!(status, StatusCode::OK, "token response: {tokens}");
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = tenant.verified_claims(id_token, SPA_CLIENT_ID).await;
    assert_eq!(claims["sub"], json!(ADA_USER_ID));
}

#[tokio::test]
async fn client_state_returns_byte_identical() {
    let tenant = TestTenant::start().await;
    let state = "a+b c&d=";

    let redirect = tenant.login(&Params::web().with("state", state)).await;

    let raw = raw_query_param(&redirect, "state").unwrap();
    let decoded = percent_decode_str(raw).decode_utf8().unwrap();
    assert_eq!(decoded, state);
    assert_eq!(query_param(&redirect, "state").as_deref(), Some(state));
    assert!(query_param(&redirect, "code").is_some());
}

#[tokio::test]
async fn non_ascii_client_state_returns_unchanged() {
    let tenant = TestTenant::start().await;
    let state = "é✓ /?#%";

    let redirect = tenant.login(&Params::web().with("state", state)).await;

    let raw = raw_query_param(&redirect, "state").unwrap();
    let decoded = percent_decode_str(raw).decode_utf8().unwrap();
    assert_eq!(decoded, state);
}

#[tokio::test]
async fn login_without_state_returns_none() {
    let tenant = TestTenant::start().await;

    let redirect = tenant.login(&Params::web().without("state")).await;

    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(query_param(&redirect, "state"), None);
}

#[tokio::test]
async fn upstream_state_is_the_brokers_own() {
    let tenant = TestTenant::start().await;

    let location = tenant.start_login(&Params::web()).await;

    let upstream_state = query_param(&location, "state").unwrap();
    assert_ne!(upstream_state, CLIENT_STATE);
    assert_eq!(
        query_param(&location, "redirect_uri"),
        Some(tenant.callback_url())
    );
    assert_eq!(
        query_param(&location, "client_id").as_deref(),
        Some(BROKER_AT_GIGYA_ID)
    );
    assert_eq!(
        query_param(&location, "code_challenge_method").as_deref(),
        Some("S256")
    );
}

/// Returns the callback URL with only the listed query parameters, values changed by
/// `replace`.
fn callback_with(callback: &url::Url, keep: &[&str], replace: &[(&str, &str)]) -> url::Url {
    let mut url = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .filter(|(name, _)| keep.contains(&name.as_ref()))
        .map(|(name, value)| {
            let value = replace
                .iter()
                .find(|(replaced, _)| *replaced == name)
                .map_or(value.into_owned(), |(_, new)| (*new).to_owned());
            (name.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

async fn assert_html_error_page(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.contains("Invalid login state"), "{body}");
}

#[tokio::test]
async fn callback_without_state_is_rejected() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let token_requests = tenant.gigya.token_requests();

    let response = tenant
        .callback(&callback_with(&callback, &["code"], &[]))
        .await;

    assert_html_error_page(response).await;
    assert_eq!(tenant.gigya.token_requests(), token_requests);
}

#[tokio::test]
async fn callback_with_unknown_state_is_rejected() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let token_requests = tenant.gigya.token_requests();

    let forged = callback_with(&callback, &["code", "state"], &[("state", "forged-state")]);
    let response = tenant.callback(&forged).await;

    assert_html_error_page(response).await;
    assert_eq!(tenant.gigya.token_requests(), token_requests);
}

#[tokio::test]
async fn replayed_callback_shows_error_page() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let first = tenant.finish(&callback).await;
    let token_requests = tenant.gigya.token_requests();

    let replay = tenant.callback(&callback).await;

    assert!(query_param(&first, "code").is_some());
    assert_html_error_page(replay).await;
    assert_eq!(tenant.gigya.token_requests(), token_requests);
}

#[tokio::test]
async fn form_post_mode_returns_html_form() {
    let tenant = TestTenant::start().await;
    let params = Params::web().with("response_mode", "form_post");
    let location = tenant.start_login(&params).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;

    let response = tenant.callback(&callback).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("location").is_none());
    let html = response.text().await.unwrap();
    assert_eq!(
        tag_attribute(&html, "<form", "action").as_deref(),
        Some(WEB_CALLBACK)
    );
    assert_eq!(
        tag_attribute(&html, "<form", "method").as_deref(),
        Some("post")
    );
    assert_eq!(input_value(&html, "state").as_deref(), Some(CLIENT_STATE));
    let code = input_value(&html, "code").expect("form has a code field");
    let (status, _) = json_body(tenant.redeem(WEB, &code, None).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn fragment_mode_puts_code_and_state_after_hash() {
    let tenant = TestTenant::start().await;

    let redirect = tenant
        .login(&Params::web().with("response_mode", "fragment"))
        .await;

    assert_eq!(redirect.query(), None);
    assert_eq!(
        fragment_param(&redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
    let code = fragment_param(&redirect, "code").expect("fragment has a code");
    let (status, _) = json_body(tenant.redeem(WEB, &code, None).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn second_login_keeps_one_identity() {
    let tenant = TestTenant::start().await;

    tenant.login_for_code(&Params::web()).await;
    tenant.login_for_code(&Params::web()).await;
    let (_, user) = tenant.get_user(ADA_USER_ID).await;

    assert_eq!(user["logins_count"], json!(2));
    assert_eq!(user["identities"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn id_token_carries_no_upstream_tokens() {
    let tenant = TestTenant::start().await;

    let code = tenant.login_for_code(&Params::web()).await;
    let tokens = tenant.redeem_ok(&code).await;

    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = tenant.verified_claims(id_token, WEB_CLIENT_ID).await;
    for name in ["access_token", "refresh_token", "identities"] {
        assert_eq!(claims.get(name), None::<&Value>, "{name}");
    }
}

#[tokio::test]
async fn auth_time_is_login_time() {
    let tenant = TestTenant::start().await;
    let login_time = tenant.unix_now();
    let code = tenant.login_for_code(&Params::web()).await;

    tenant.clock.advance(chrono::Duration::minutes(2));
    let tokens = tenant.redeem_ok(&code).await;

    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = tenant.verified_claims(id_token, WEB_CLIENT_ID).await;
    assert_eq!(claims["auth_time"], json!(login_time));
    assert_eq!(claims["iat"], json!(login_time + 120));
}

#[tokio::test]
async fn login_expires_after_fifteen_minutes() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;

    tenant.clock.advance(chrono::Duration::minutes(15));
    let redirect = tenant.finish(&callback).await;

    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
    assert_eq!(query_param(&redirect, "code"), None);
    assert_eq!(tenant.gigya.token_requests(), 0);
}

#[tokio::test]
async fn callback_accepts_form_post() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let fields: Vec<(String, String)> = callback.query_pairs().into_owned().collect();

    let response = tenant
        .http
        .post(tenant.callback_url())
        .form(&fields)
        .send()
        .await
        .unwrap();
    let redirect = expect_redirect(response, "POST /login/callback").await;

    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
}

#[tokio::test]
async fn concurrent_callbacks_complete_one_login() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;

    let (first, second) = tokio::join!(tenant.callback(&callback), tenant.callback(&callback));

    let mut statuses = vec![first.status(), second.status()];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![StatusCode::FOUND, StatusCode::BAD_REQUEST]);
    assert_eq!(tenant.gigya.token_requests(), 1);
}

#[tokio::test]
async fn blocked_user_cannot_log_in() {
    let tenant = TestTenant::start().await;
    tenant.login_for_code(&Params::web()).await;
    let token = tenant.management_token(Some("update:users")).await;
    let response = tenant
        .http
        .patch(tenant.url("api/v2/users/oidc%7CCencora%7C4a6f1d2e8b9c4f0a9e3d2c1b0a998877"))
        .bearer_auth(&token)
        .json(&json!({"blocked": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let redirect = tenant.login(&Params::web()).await;

    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&redirect, "error_description").as_deref(),
        Some("user is blocked")
    );
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
    assert_eq!(query_param(&redirect, "code"), None);
}

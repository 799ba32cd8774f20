//! What the client sees when the upstream provider misbehaves, fails or is down, and how the
//! broker fetches the provider's signing keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use authbridge_gigya::Faults;
use reqwest::StatusCode;
use serde_json::Value;
use support::*;
use url::Url;

/// Upper bound for a login against a provider that is down. The broker's own upstream timeout
/// is 5 seconds.
const DOWN_BOUND: Duration = Duration::from_secs(15);

/// Checks that `redirect` carries `error` and the client's state but no code, and returns the
/// error description.
fn assert_client_error(redirect: &Url, error: &str) -> String {
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

async fn assert_no_user_created(tenant: &TestTenant) {
    let (status, body) = tenant.get_user(ADA_USER_ID).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "user: {body}");
}

/// Logs in with `faults` switched on at the provider and returns the client redirect.
async fn login_with_faults(tenant: &TestTenant, faults: Faults) -> Url {
    tenant.gigya.set_faults(faults);
    tenant.login(&Params::web()).await
}

async fn gigya_jwks(tenant: &TestTenant) -> Vec<Value> {
    let response = tenant
        .http
        .get(tenant.gigya_jwks_uri())
        .send()
        .await
        .unwrap();
    let (_, body) = json_body(response).await;
    body["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn unpublished_signing_key_is_rejected() {
    let tenant = TestTenant::start().await;

    let redirect = login_with_faults(
        &tenant,
        Faults {
            sign_with_unpublished_key: true,
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "server_error");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn foreign_issuer_is_rejected() {
    let tenant = TestTenant::start().await;

    let redirect = login_with_faults(
        &tenant,
        Faults {
            id_token_issuer: Some("https://evil.test/oidc/op/v1.0/3_authbridge-demo".to_owned()),
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "server_error");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn issuer_with_trailing_slash_is_rejected() {
    let tenant = TestTenant::start().await;
    let issuer_with_slash = format!("{}/", tenant.gigya_issuer);

    let redirect = login_with_faults(
        &tenant,
        Faults {
            id_token_issuer: Some(issuer_with_slash),
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "server_error");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn wrong_nonce_is_rejected() {
    let tenant = TestTenant::start().await;

    let redirect = login_with_faults(
        &tenant,
        Faults {
            id_token_nonce: Some("another-nonce".to_owned()),
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "server_error");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let tenant = TestTenant::start().await;

    let redirect = login_with_faults(
        &tenant,
        Faults {
            id_token_audience: Some("another-relying-party".to_owned()),
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "server_error");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn token_endpoint_error_is_temporarily_unavailable() {
    let tenant = TestTenant::start().await;

    let redirect = login_with_faults(
        &tenant,
        Faults {
            token_endpoint_status: Some(500),
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "temporarily_unavailable");
    assert_eq!(tenant.gigya.token_requests(), 1);
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn rejected_upstream_code_is_access_denied() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let mut altered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "code" {
                format!("{value}x")
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    altered.query_pairs_mut().clear().extend_pairs(pairs);

    let redirect = tenant.finish(&altered).await;

    assert_client_error(&redirect, "access_denied");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn unreachable_discovery_fails_fast() {
    let discovery_url = closed_port_url("/.well-known/openid-configuration").await;
    let tenant = TestTenant::builder()
        .discovery_url(&discovery_url)
        .start()
        .await;

    let redirect = tokio::time::timeout(DOWN_BOUND, tenant.start_login(&Params::web()))
        .await
        .expect("the broker answers while the provider is down");

    assert_client_error(&redirect, "temporarily_unavailable");
}

#[tokio::test]
async fn provider_down_at_exchange_fails_fast() {
    let mut tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;

    tenant.stop_provider().await;
    let redirect = tokio::time::timeout(DOWN_BOUND, tenant.finish(&callback))
        .await
        .expect("the broker answers while the provider is down");

    assert_client_error(&redirect, "temporarily_unavailable");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn upstream_error_keeps_client_state() {
    let tenant = TestTenant::start().await;

    let redirect = upstream_error(&tenant, "access_denied", "User cancelled").await;

    let description = assert_client_error(&redirect, "access_denied");
    assert_eq!(description, "User cancelled");
    assert_eq!(tenant.gigya.token_requests(), 0);
    assert_no_user_created(&tenant).await;
}

/// Sends the upstream error `error` to the broker's callback for a login in progress and
/// returns the client redirect.
async fn upstream_error(tenant: &TestTenant, error: &str, description: &str) -> Url {
    let location = tenant.start_login(&Params::web()).await;
    let broker_state = query_param(&location, "state").unwrap();
    let mut callback = Url::parse(&tenant.callback_url()).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("error", error)
        .append_pair("error_description", description)
        .append_pair("state", &broker_state);
    tenant.finish(&callback).await
}

#[tokio::test]
async fn upstream_login_required_passes_through() {
    let tenant = TestTenant::start().await;

    let redirect = upstream_error(&tenant, "login_required", "No session").await;

    let description = assert_client_error(&redirect, "login_required");
    assert_eq!(description, "No session");
}

#[tokio::test]
async fn unknown_upstream_error_becomes_access_denied() {
    let tenant = TestTenant::start().await;

    let redirect = upstream_error(&tenant, "invalid_scope", "Bad scope").await;

    assert_client_error(&redirect, "access_denied");
}

#[tokio::test]
async fn upstream_refresh_token_is_kept() {
    let tenant = TestTenant::start().await;
    tenant.login_for_code(&Params::web()).await;
    let (_, first) = tenant.get_user(ADA_USER_ID).await;

    tenant.gigya.set_faults(Faults {
        omit_refresh_token: true,
        ..Faults::default()
    });
    tenant.login_for_code(&Params::web()).await;
    let (_, second) = tenant.get_user(ADA_USER_ID).await;

    let first_identity = &first["identities"][0];
    let second_identity = &second["identities"][0];
    assert!(first_identity["refresh_token"].is_string(), "{first}");
    assert_eq!(
        second_identity["refresh_token"],
        first_identity["refresh_token"]
    );
    assert_ne!(
        second_identity["access_token"],
        first_identity["access_token"]
    );
}

#[tokio::test]
async fn provider_key_rotation_costs_one_jwks_fetch() {
    let tenant = TestTenant::start().await;
    let jwks_uri = tenant.gigya_jwks_uri();
    tenant.login_for_code(&Params::web()).await;
    let broker_fetches = tenant.federation.jwks_fetches(&jwks_uri);
    let provider_requests = tenant.gigya.jwks_requests();

    tenant.gigya.rotate_keys().unwrap();
    let redirect = tenant.login(&Params::web()).await;

    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    assert_eq!(
        tenant.federation.jwks_fetches(&jwks_uri),
        broker_fetches + 1
    );
    assert_eq!(tenant.gigya.jwks_requests(), provider_requests + 1);
}

#[tokio::test]
async fn known_key_id_needs_no_jwks_fetch() {
    let tenant = TestTenant::start().await;
    let jwks_uri = tenant.gigya_jwks_uri();
    tenant.login_for_code(&Params::web()).await;
    let broker_fetches = tenant.federation.jwks_fetches(&jwks_uri);

    tenant.login_for_code(&Params::web()).await;

    assert_eq!(tenant.federation.jwks_fetches(&jwks_uri), broker_fetches);
}

#[tokio::test]
async fn jwks_is_refetched_after_cache_lifetime() {
    let tenant = TestTenant::start().await;
    let jwks_uri = tenant.gigya_jwks_uri();
    tenant.login_for_code(&Params::web()).await;
    let broker_fetches = tenant.federation.jwks_fetches(&jwks_uri);

    tenant.clock.advance(chrono::Duration::minutes(11));
    tenant.login_for_code(&Params::web()).await;

    assert_eq!(
        tenant.federation.jwks_fetches(&jwks_uri),
        broker_fetches + 1
    );
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let tenant = TestTenant::start().await;
    let jwks_uri = tenant.gigya_jwks_uri();
    tenant.login_for_code(&Params::web()).await;
    let before = tenant.federation.jwks_fetches(&jwks_uri);
    let provider_before = tenant.gigya.jwks_requests();
    tenant.gigya.set_faults(Faults {
        sign_with_unpublished_key: true,
        ..Faults::default()
    });

    for _ in 0..5 {
        let redirect = tenant.login(&Params::web()).await;
        assert_client_error(&redirect, "server_error");
    }
    let after_burst = tenant.federation.jwks_fetches(&jwks_uri);
    let provider_after_burst = tenant.gigya.jwks_requests();
    tenant.clock.advance(chrono::Duration::seconds(31));
    for _ in 0..3 {
        let redirect = tenant.login(&Params::web()).await;
        assert_client_error(&redirect, "server_error");
    }

    assert_eq!(after_burst, before + 1);
    assert_eq!(provider_after_burst, provider_before + 1);
    assert_eq!(tenant.federation.jwks_fetches(&jwks_uri), before + 2);
    assert_eq!(tenant.gigya.jwks_requests(), provider_before + 2);
}

#[tokio::test]
async fn missing_kid_is_verified_by_signature() {
    let tenant = TestTenant::start().await;
    tenant.gigya.rotate_keys().unwrap();
    assert_eq!(gigya_jwks(&tenant).await.len(), 2);

    let redirect = login_with_faults(
        &tenant,
        Faults {
            omit_kid: true,
            ..Faults::default()
        },
    )
    .await;

    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    let (status, _) = tenant.get_user(ADA_USER_ID).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn missing_kid_after_rotation_is_accepted() {
    let tenant = TestTenant::start().await;
    tenant.login_for_code(&Params::web()).await;

    tenant.gigya.rotate_keys().unwrap();
    let redirect = login_with_faults(
        &tenant,
        Faults {
            omit_kid: true,
            ..Faults::default()
        },
    )
    .await;

    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
}

#[tokio::test]
async fn missing_kid_with_unknown_key_is_rejected() {
    let tenant = TestTenant::start().await;
    tenant.gigya.rotate_keys().unwrap();

    let redirect = login_with_faults(
        &tenant,
        Faults {
            omit_kid: true,
            sign_with_unpublished_key: true,
            ..Faults::default()
        },
    )
    .await;

    assert_client_error(&redirect, "server_error");
    assert_no_user_created(&tenant).await;
}

#[tokio::test]
async fn gigya_code_reaches_provider_verbatim() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let upstream_code = query_param(&callback, "code").unwrap();

    let redirect = tenant.finish(&callback).await;

    assert!(upstream_code.starts_with("st2."), "{upstream_code}");
    assert!(upstream_code.len() > 200, "{upstream_code}");
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    assert_eq!(tenant.gigya.token_requests(), 1);
}

#[tokio::test]
async fn replayed_upstream_callback_fails_cleanly() {
    let tenant = TestTenant::start().await;
    let location = tenant.start_login(&Params::web()).await;
    let callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    tenant.finish(&callback).await;

    let replay = tenant.callback(&callback).await;

    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.headers().get("location").is_none());
    assert_eq!(tenant.gigya.token_requests(), 1);
    let (_, user) = tenant.get_user(ADA_USER_ID).await;
    assert_eq!(user["logins_count"], serde_json::json!(1));
}

//! Post-login actions inside a real login: custom claims, metadata carried between actions and
//! persisted, denials, thrown errors, time limits, and the capture module.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use authbridge_actions::HostModule;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;
use tokio::sync::Notify;
use url::Url;

const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

/// Checks that `redirect` denies the login with the client's state and no code, and returns
/// the error description.
fn assert_denied(redirect: &Url) -> String {
    assert!(
        redirect.as_str().starts_with(WEB_CALLBACK),
        "redirected to {redirect}"
    );
    assert_eq!(
        query_param(redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(redirect, "state").as_deref(),
        Some(CLIENT_STATE)
    );
    assert_eq!(query_param(redirect, "code"), None);
    query_param(redirect, "error_description").unwrap_or_default()
}

/// Logs in as Ada and returns the verified ID token claims.
async fn id_token_claims(tenant: &TestTenant) -> serde_json::Map<String, Value> {
    let code = tenant.login_for_code(&Params::web()).await;
    let tokens = tenant.redeem_ok(&code).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    tenant.verified_claims(id_token, WEB_CLIENT_ID).await
}

async fn ada(tenant: &TestTenant) -> Value {
    let (status, user) = tenant.get_user(ADA_USER_ID).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    user
}

#[tokio::test]
async fn claims_in_reserved_namespaces_are_dropped() {
    let tenant = TestTenant::builder()
        .action(
            "claims",
            "exports.onExecutePostLogin = async (event, api) => {
                for (const token of [api.idToken, api.accessToken]) {
                    token.setCustomClaim('https://tenant.auth0.com/isNew', true);
                    token.setCustomClaim('https://x.webtask.io/isNew', true);
                    token.setCustomClaim('https://app.example.com/isNew', true);
                }
            };",
        )
        .start()
        .await;
    let params = Params::web().with("audience", API_AUDIENCE);

    let code = tenant.login_for_code(&params).await;
    let tokens = tenant.redeem_ok(&code).await;

    let id_claims = tenant
        .verified_claims(tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID)
        .await;
    let access_claims = tenant
        .verified_claims(tokens["access_token"].as_str().unwrap(), API_AUDIENCE)
        .await;
    for claims in [&id_claims, &access_claims] {
        assert_eq!(claims.get("https://tenant.auth0.com/isNew"), None);
        assert_eq!(claims.get("https://x.webtask.io/isNew"), None);
        assert_eq!(claims["https://app.example.com/isNew"], json!(true));
    }
}

#[tokio::test]
async fn metadata_reaches_next_action_on_first_login() {
    let tenant = TestTenant::builder()
        .action(
            "assign-ext-id",
            "exports.onExecutePostLogin = async (event, api) => {
                if (!event.user.app_metadata.ext_id) {
                    api.user.setAppMetadata('ext_id', 'ext-' + Math.random().toString(36).slice(2));
                }
            };",
        )
        .action(
            "expose-ext-id",
            "exports.onExecutePostLogin = async (event, api) => {
                api.idToken.setCustomClaim('https://app.example.com/ext_id', event.user.app_metadata.ext_id);
            };",
        )
        .start()
        .await;

    let first = id_token_claims(&tenant).await;
    let stored_after_first = ada(&tenant).await["app_metadata"]["ext_id"].clone();
    tenant.clock.advance(chrono::Duration::minutes(1));
    let second = id_token_claims(&tenant).await;
    let stored_after_second = ada(&tenant).await["app_metadata"]["ext_id"].clone();

    let first_ext_id = &first["https://app.example.com/ext_id"];
    assert!(
        first_ext_id
            .as_str()
            .is_some_and(|id| id.starts_with("ext-")),
        "first login's claim: {first_ext_id}"
    );
    assert_eq!(&stored_after_first, first_ext_id);
    assert_eq!(&second["https://app.example.com/ext_id"], first_ext_id);
    assert_eq!(&stored_after_second, first_ext_id);
}

#[tokio::test]
async fn deny_returns_reason_and_keeps_metadata() {
    let tenant = TestTenant::builder()
        .action(
            "require-verified-email",
            "exports.onExecutePostLogin = async (event, api) => {
                api.user.setAppMetadata('verification_requested', true);
                api.access.deny('Please verify your email & try again (#42)');
            };",
        )
        .start()
        .await;

    let redirect = tenant.login(&Params::web()).await;

    let description = assert_denied(&redirect);
    assert_eq!(description, "Please verify your email & try again (#42)");
    assert!(
        redirect.as_str().contains(
            "error=access_denied&error_description=Please%20verify%20your%20email%20%26%20try%20again%20(%2342)"
        ),
        "{redirect}"
    );
    let user = ada(&tenant).await;
    assert_eq!(user["app_metadata"]["verification_requested"], json!(true));
    assert_eq!(user["logins_count"], json!(0));
}

#[tokio::test]
async fn thrown_error_is_redacted_and_not_persisted() {
    let secret = "sk_live_4f9a2b7c1d8e";
    let tenant = TestTenant::builder()
        .action_with_secrets(
            "call-crm",
            "exports.onExecutePostLogin = async (event, api) => {
                api.user.setAppMetadata('crm_synced', true);
                throw new Error('CRM rejected key ' + event.secrets.CRM_KEY);
            };",
            &[("CRM_KEY", secret)],
        )
        .start()
        .await;

    let redirect = tenant.login(&Params::web()).await;

    let description = assert_denied(&redirect);
    assert!(!description.contains(secret), "{description}");
    assert!(!redirect.as_str().contains(secret), "{redirect}");
    assert!(description.contains("CRM rejected key"), "{description}");
    let user = ada(&tenant).await;
    assert_eq!(user["app_metadata"].get("crm_synced"), None);
    assert_eq!(user["logins_count"], json!(0));
}

#[tokio::test]
async fn pending_promise_times_out_without_effects() {
    let tenant = TestTenant::builder()
        .action_timeout(SHORT_TIMEOUT)
        .action(
            "never-settles",
            "exports.onExecutePostLogin = async (event, api) => {
                api.user.setAppMetadata('should_not_persist', true);
                await new Promise(() => {});
            };",
        )
        .start()
        .await;

    let redirect = tenant.login(&Params::web()).await;

    let description = assert_denied(&redirect);
    assert!(description.contains("timed out"), "{description}");
    let user = ada(&tenant).await;
    assert_eq!(user["app_metadata"], json!({}));
    assert_eq!(user["logins_count"], json!(0));
}

#[tokio::test]
async fn busy_loop_times_out_without_effects() {
    let tenant = TestTenant::builder()
        .action_timeout(SHORT_TIMEOUT)
        .action(
            "spins",
            "exports.onExecutePostLogin = async (event, api) => {
                api.user.setAppMetadata('should_not_persist', true);
                while (true) {}
            };",
        )
        .start()
        .await;

    let redirect = tenant.login(&Params::web()).await;

    let description = assert_denied(&redirect);
    assert!(description.contains("timed out"), "{description}");
    let user = ada(&tenant).await;
    assert_eq!(user["app_metadata"], json!({}));
    assert_eq!(user["logins_count"], json!(0));
}

#[tokio::test]
async fn other_logins_complete_during_busy_action() {
    // A long limit, so Grace's whole login can finish while Ada's action spins even on a busy
    // machine. The test checks that Ada's login was still running afterwards.
    let hang_limit = Duration::from_secs(5);
    let ada_started = Arc::new(Notify::new());
    let signal = Arc::clone(&ada_started);
    let tenant = TestTenant::builder()
        .action_timeout(hang_limit)
        .host_module(
            HostModule::new("test-signal").with_function("started", move |_call| {
                signal.notify_one();
                Ok(Value::Null)
            }),
        )
        .action(
            "spins-for-ada",
            "exports.onExecutePostLogin = async (event, api) => {
                if (event.user.email === 'ada@example.com') {
                    require('test-signal').started();
                    while (true) {}
                }
                api.idToken.setCustomClaim('https://app.example.com/finished', true);
            };",
        )
        .start()
        .await;
    let location = tenant.start_login(&Params::web()).await;
    let ada_callback = tenant
        .login_at_provider(&location, ADA_LOGIN_ID, PASSWORD)
        .await;
    let http = tenant.http.clone();
    let ada_login = tokio::spawn(async move { http.get(ada_callback).send().await.unwrap() });
    tokio::time::timeout(REQUEST_TIMEOUT, ada_started.notified())
        .await
        .expect("Ada's action starts");

    let discovery = tenant.discovery().await;
    let grace_redirect = tenant.login_as(&Params::spa(), GRACE_LOGIN_ID).await;
    let grace_code = query_param(&grace_redirect, "code").expect("Grace gets a code");
    let (grace_status, grace_tokens) =
        json_body(tenant.redeem(SPA, &grace_code, Some(VERIFIER)).await).await;
    let ada_still_running = !ada_login.is_finished();
    let ada_redirect = expect_redirect(ada_login.await.unwrap(), "Ada's callback").await;

    assert_eq!(discovery["issuer"], json!(tenant.issuer));
    assert_eq!(grace_status, StatusCode::OK, "{grace_tokens}");
    let grace_claims = tenant
        .verified_claims(grace_tokens["id_token"].as_str().unwrap(), SPA_CLIENT_ID)
        .await;
    assert_eq!(
        grace_claims["https://app.example.com/finished"],
        json!(true)
    );
    assert!(
        ada_still_running,
        "Grace's login finished only after Ada's action ended"
    );
    let description = assert_denied(&ada_redirect);
    assert!(description.contains("timed out"), "{description}");
}

#[tokio::test]
async fn capture_module_appends_redacted_event_line() {
    let captures = tempfile::tempdir().unwrap();
    let secret = "capture-secret-7d2f";
    let tenant = TestTenant::builder()
        .captures_dir(captures.path().to_path_buf())
        .action_with_secrets(
            "capture-event",
            "const capture = require('@authbridge/capture');
            exports.onExecutePostLogin = async (event) => {
                capture.record({ note: 'token ' + event.secrets.CAPTURE_TOKEN, event });
            };",
            &[("CAPTURE_TOKEN", secret)],
        )
        .start()
        .await;

    tenant.login_for_code(&Params::web()).await;

    let text = std::fs::read_to_string(captures.path().join("post-login.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(!text.contains(secret), "{text}");
    let record: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(record["note"], json!("token [redacted]"));
    assert_eq!(
        record["event"]["secrets"]["CAPTURE_TOKEN"],
        json!("[redacted]")
    );
}

#[tokio::test]
async fn captured_event_has_auth0_fields() {
    let captures = tempfile::tempdir().unwrap();
    let tenant = TestTenant::builder()
        .captures_dir(captures.path().to_path_buf())
        .action(
            "capture-event",
            "const capture = require('@authbridge/capture');
            exports.onExecutePostLogin = async (event) => { capture.record(event); };",
        )
        .start()
        .await;

    tenant.login_for_code(&Params::web()).await;
    let idp_token = tenant.management_token(Some("read:user_idp_tokens")).await;
    let (_, user) = json_body(
        tenant
            .get_user_raw(&idp_token, &ADA_USER_ID.replace('|', "%7C"))
            .await,
    )
    .await;

    let text = std::fs::read_to_string(captures.path().join("post-login.jsonl")).unwrap();
    let event: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let upstream_access_token = user["identities"][0]["access_token"].as_str().unwrap();
    assert!(!text.contains(upstream_access_token), "{text}");
    let identity = event["user"]["identities"][0].as_object().unwrap();
    assert_eq!(identity["connection"], json!(CONNECTION));
    assert_eq!(identity["provider"], json!("oidc"));
    assert!(!identity.contains_key("access_token"), "{identity:?}");
    assert!(!identity.contains_key("refresh_token"), "{identity:?}");
    assert_eq!(event["user"]["user_id"], json!(ADA_USER_ID));
    assert_eq!(event["connection"]["name"], json!(CONNECTION));
    assert_eq!(event["connection"]["strategy"], json!("oidc"));
    assert_eq!(event["client"]["client_id"], json!(WEB_CLIENT_ID));
    assert_eq!(
        event["transaction"]["requested_scopes"],
        json!(["openid", "profile", "email"])
    );
    assert_eq!(event["request"]["ip"], json!("127.0.0.1"));
    assert_eq!(event["tenant"]["id"], json!(TENANT_NAME));
    assert_eq!(event["stats"]["logins_count"], json!(1));
}

#[tokio::test]
async fn stats_count_the_login_in_progress() {
    let captures = tempfile::tempdir().unwrap();
    let tenant = TestTenant::builder()
        .captures_dir(captures.path().to_path_buf())
        .action(
            "capture-count",
            "const capture = require('@authbridge/capture');
            exports.onExecutePostLogin = async (event) => { capture.record(event.stats.logins_count); };",
        )
        .start()
        .await;

    tenant.login_for_code(&Params::web()).await;
    tenant.login_for_code(&Params::web()).await;

    let text = std::fs::read_to_string(captures.path().join("post-login.jsonl")).unwrap();
    let counts: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(counts, vec![json!(1), json!(2)]);
}

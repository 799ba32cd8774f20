//! Granted scopes and `/userinfo`: which claims the ID token and `/userinfo` release for the
//! requested scopes, custom claims from actions, and rejected access tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use support::*;

const ROLES_CLAIM: &str = "https://a.example/roles";

/// Starts a tenant whose action puts `["admin"]` under [`ROLES_CLAIM`] in the ID token.
async fn tenant_with_roles_action() -> TestTenant {
    TestTenant::builder()
        .action(
            "roles",
            "exports.onExecutePostLogin = async (event, api) => {
                api.idToken.setCustomClaim('https://a.example/roles', ['admin']);
            };",
        )
        .start()
        .await
}

/// Logs in as Ada with `scope` and returns the token response.
async fn tokens_for_scope(tenant: &TestTenant, scope: &str) -> Value {
    let code = tenant
        .login_for_code(&Params::web().with("scope", scope))
        .await;
    tenant.redeem_ok(&code).await
}

async fn id_claims(tenant: &TestTenant, tokens: &Value) -> Map<String, Value> {
    tenant
        .verified_claims(tokens["id_token"].as_str().unwrap(), WEB_CLIENT_ID)
        .await
}

async fn userinfo_ok(tenant: &TestTenant, tokens: &Value) -> Map<String, Value> {
    let response = tenant
        .userinfo(Some(tokens["access_token"].as_str().unwrap()))
        .await;
    let (status, body) = json_body(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_object().unwrap().clone()
}

fn assert_bearer_challenge(response: &reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("401 carries WWW-Authenticate")
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

#[tokio::test]
async fn unknown_scopes_are_not_granted() {
    let tenant = TestTenant::start().await;

    let tokens = tokens_for_scope(&tenant, "openid profile app_metadata roles").await;

    assert_eq!(tokens["scope"], json!("openid profile"));
    let claims = id_claims(&tenant, &tokens).await;
    assert_eq!(claims.get("app_metadata"), None);
    assert_eq!(claims.get("roles"), None);
    assert_eq!(claims["name"], json!("Ada Lovelace"));
}

#[tokio::test]
async fn action_claim_reaches_userinfo() {
    let tenant = tenant_with_roles_action().await;

    let tokens = tokens_for_scope(&tenant, "openid profile email").await;

    let claims = id_claims(&tenant, &tokens).await;
    assert_eq!(claims[ROLES_CLAIM], json!(["admin"]));
    let userinfo = userinfo_ok(&tenant, &tokens).await;
    assert_eq!(userinfo[ROLES_CLAIM], json!(["admin"]));
    assert_eq!(userinfo["sub"], json!(ADA_USER_ID));
    assert_eq!(userinfo["email"], json!(ADA_LOGIN_ID));
    assert_eq!(userinfo["name"], json!("Ada Lovelace"));
}

#[tokio::test]
async fn openid_scope_releases_only_custom_claims() {
    let tenant = tenant_with_roles_action().await;

    let tokens = tokens_for_scope(&tenant, "openid").await;

    assert_eq!(tokens["scope"], json!("openid"));
    let claims = id_claims(&tenant, &tokens).await;
    for name in ["name", "nickname", "email", "email_verified", "given_name"] {
        assert_eq!(claims.get(name), None, "ID token claim {name}");
    }
    assert_eq!(claims[ROLES_CLAIM], json!(["admin"]));
    let userinfo = userinfo_ok(&tenant, &tokens).await;
    let mut names: Vec<&str> = userinfo.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, vec![ROLES_CLAIM, "sub"]);
    assert_eq!(userinfo["sub"], json!(ADA_USER_ID));
}

#[tokio::test]
async fn userinfo_without_token_is_unauthorized() {
    let tenant = TestTenant::start().await;

    let response = tenant.userinfo(None).await;

    assert_bearer_challenge(&response);
}

#[tokio::test]
async fn userinfo_with_management_token_is_unauthorized() {
    let tenant = TestTenant::start().await;
    let management_token = tenant.management_token(None).await;

    let response = tenant.userinfo(Some(&management_token)).await;

    assert_bearer_challenge(&response);
}

#[tokio::test]
async fn tampered_access_token_is_unauthorized() {
    let tenant = TestTenant::start().await;
    let tokens = tokens_for_scope(&tenant, "openid profile").await;
    let access_token = tokens["access_token"].as_str().unwrap();
    let (without_signature, _) = access_token.rsplit_once('.').unwrap();
    let tampered = format!("{without_signature}.AAAA");

    let response = tenant.userinfo(Some(&tampered)).await;

    assert_bearer_challenge(&response);
}

#[tokio::test]
async fn expired_access_token_is_unauthorized() {
    let tenant = TestTenant::start().await;
    let tokens = tokens_for_scope(&tenant, "openid profile").await;
    let lifetime = tokens["expires_in"].as_i64().unwrap();

    tenant
        .clock
        .advance(chrono::Duration::seconds(lifetime + 1));
    let response = tenant
        .userinfo(Some(tokens["access_token"].as_str().unwrap()))
        .await;

    assert_bearer_challenge(&response);
}

#[tokio::test]
async fn userinfo_accepts_post() {
    let tenant = TestTenant::start().await;
    let tokens = tokens_for_scope(&tenant, "openid email").await;

    let response = tenant
        .http
        .post(tenant.url("userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (status, body) = json_body(response).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], json!(ADA_LOGIN_ID));
    assert_eq!(body.get("name"), None);
}

//! The token and userinfo endpoints over a loopback socket: code exchange with PKCE, ID token
//! verification, code reuse and expiry, refresh, and bearer checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const CODE_PATTERN_ALPHABET: &str =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// Checks `^st2\.s\.[A-Za-z0-9_-]{10}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.sc3$`.
fn has_gigya_code_shape(code: &str) -> bool {
    let parts: Vec<&str> = code.split('.').collect();
    let is_base64url =
        |part: &str| !part.is_empty() && part.chars().all(|c| CODE_PATTERN_ALPHABET.contains(c));
    parts.len() == 6
        && parts[0] == "st2"
        && parts[1] == "s"
        && parts[2].len() == 10
        && is_base64url(parts[2])
        && is_base64url(parts[3])
        && is_base64url(parts[4])
        && parts[5] == "sc3"
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn code_has_gigya_shape() {
    let server = start().await;
    let code = server.code().await;
    assert!(has_gigya_code_shape(&code), "{code}");
    assert!(code.len() > 200, "code is {} characters", code.len());
}

#[tokio::test]
async fn code_flow_with_pkce_issues_verifiable_id_token() {
    let server = start().await;
    let code = server.code().await;
    let response = server.redeem(&code).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email uid offline_access");
    assert!(body["refresh_token"].is_string());
    let access_token = body["access_token"].as_str().unwrap();

    let claims = server
        .verify_id_token(body["id_token"].as_str().unwrap())
        .await;
    let now = server.clock_unix();
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["sub"], ADA_UID);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 3600);
    assert_eq!(claims["auth_time"], now);
    assert_eq!(
        claims["at_hash"],
        authbridge_oidc::jwt::at_hash(access_token)
    );
    assert_eq!(claims["uid"], ADA_UID);
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["family_name"], "Lovelace");
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .http
        .post(server.endpoint("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .http
        .post(server.endpoint("/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(
        error_of(response).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".to_owned())
    );

    // The failed attempt did not spend the code.
    assert_eq!(server.redeem(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn missing_client_credentials_are_invalid_client() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .http
        .post(server.endpoint("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(response).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".to_owned())
    );
}

#[tokio::test]
async fn code_replay_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    let first = server.redeem(&code).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tokens: Value = first.json().await.unwrap();

    let replay = server.redeem(&code).await;
    assert_eq!(
        error_of(replay).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );

    // Tokens issued from a replayed code are revoked.
    let userinfo = server
        .http
        .get(server.endpoint("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    let refresh = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(error_of(refresh).await.1, "invalid_grant");
}

#[tokio::test]
async fn altered_code_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    let truncated = &code[..code.len() - 4];
    let response = server.redeem(truncated).await;
    assert_eq!(error_of(response).await.1, "invalid_grant");

    let upper = code.to_ascii_uppercase();
    assert_eq!(
        error_of(server.redeem(&upper).await).await.1,
        "invalid_grant"
    );

    assert_eq!(server.redeem(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    server.clock.advance(Duration::minutes(5));
    let response = server.redeem(&code).await;
    assert_eq!(
        error_of(response).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
}

#[tokio::test]
async fn code_just_before_expiry_is_accepted() {
    let server = start().await;
    let code = server.code().await;
    server.clock.advance(Duration::seconds(299));
    assert_eq!(server.redeem(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &VERIFIER.replace('d', "e")),
        ])
        .await;
    assert_eq!(
        error_of(response).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );

    // The failed attempt spent the code, so the right verifier comes too late.
    let retry = server.redeem(&code).await;
    assert_eq!(error_of(retry).await.1, "invalid_grant");
}

#[tokio::test]
async fn missing_verifier_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;
    assert_eq!(error_of(response).await.1, "invalid_grant");
}

#[tokio::test]
async fn verifier_without_challenge_is_invalid_grant() {
    let server = start().await;
    let params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("code_challenge"))
        .collect();
    let redirect = server.login_redirect(&params, "ada@example.com").await;
    let code = query_map(&redirect)["code"].as_str().unwrap().to_owned();
    assert_eq!(
        error_of(server.redeem(&code).await).await.1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn plain_challenge_is_accepted() {
    let server = start().await;
    let mut params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("code_challenge"))
        .collect();
    params.push(("code_challenge".to_owned(), VERIFIER.to_owned()));
    params.push(("code_challenge_method".to_owned(), "plain".to_owned()));
    let redirect = server.login_redirect(&params, "ada@example.com").await;
    let code = query_map(&redirect)["code"].as_str().unwrap().to_owned();
    assert_eq!(server.redeem(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_redirect_uri_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.test/other"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(error_of(response).await.1, "invalid_grant");
}

#[tokio::test]
async fn code_of_other_client_is_invalid_grant() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .http
        .post(server.endpoint("/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1, "invalid_grant");
}

#[tokio::test]
async fn unsupported_grant_type_is_rejected() {
    let server = start().await;
    let response = server
        .token(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", "Passw0rd!"),
        ])
        .await;
    assert_eq!(
        error_of(response).await,
        (StatusCode::BAD_REQUEST, "unsupported_grant_type".to_owned())
    );
}

#[tokio::test]
async fn code_used_as_bearer_is_rejected() {
    let server = start().await;
    let code = server.code().await;
    let response = server
        .http
        .get(server.endpoint("/userinfo"))
        .bearer_auth(&code)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn userinfo_without_token_is_unauthorized() {
    let server = start().await;
    let response = server
        .http
        .get(server.endpoint("/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn userinfo_returns_profile() {
    let server = start().await;
    let tokens = server.tokens().await;
    let access_token = tokens["access_token"].as_str().unwrap();

    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = server
            .http
            .request(method.clone(), server.endpoint("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let profile: Value = response.json().await.unwrap();
        assert_eq!(profile["sub"], ADA_UID);
        assert_eq!(profile["uid"], ADA_UID);
        assert_eq!(profile["name"], "Ada Lovelace");
        assert_eq!(profile["given_name"], "Ada");
        assert_eq!(profile["family_name"], "Lovelace");
        assert_eq!(profile["email"], "ada@example.com");
        assert_eq!(profile["email_verified"], true);
    }
}

#[tokio::test]
async fn userinfo_follows_granted_scope() {
    let server = start().await;
    let mut params: Vec<(String, String)> = server
        .authorize_params()
        .into_iter()
        .filter(|(name, _)| name != "scope")
        .collect();
    params.push(("scope".to_owned(), "openid email".to_owned()));
    let redirect = server.login_redirect(&params, "grace@example.com").await;
    let code = query_map(&redirect)["code"].as_str().unwrap().to_owned();
    let tokens: Value = server.redeem(&code).await.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid email");

    let profile: Value = server
        .http
        .get(server.endpoint("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["email"], "grace@example.com");
    assert_eq!(profile["email_verified"], false);
    assert!(profile.get("name").is_none());
    assert!(profile.get("uid").is_none());
}

#[tokio::test]
async fn expired_access_token_is_rejected() {
    let server = start().await;
    let tokens = server.tokens().await;
    server.clock.advance(Duration::hours(1));
    let response = server
        .http
        .get(server.endpoint("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_token_grant_issues_new_tokens() {
    let server = start().await;
    let tokens = server.tokens().await;
    let first_claims = server
        .verify_id_token(tokens["id_token"].as_str().unwrap())
        .await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    server.clock.advance(Duration::minutes(90));
    let response = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();

    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    assert_eq!(refreshed["refresh_token"], refresh_token);
    let claims = server
        .verify_id_token(refreshed["id_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["sub"], ADA_UID);
    assert_eq!(claims["auth_time"], first_claims["auth_time"]);
    assert_eq!(claims["iat"], server.clock_unix());
    assert!(claims.get("nonce").is_none());

    let userinfo = server
        .http
        .get(server.endpoint("/userinfo"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_can_narrow_but_not_widen_scope() {
    let server = start().await;
    let tokens = server.tokens().await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let narrowed: Value = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", "openid email"),
        ])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrowed["scope"], "openid email");

    let widened = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", "openid roles"),
        ])
        .await;
    assert_eq!(error_of(widened).await.1, "invalid_scope");
}

#[tokio::test]
async fn refresh_token_of_other_client_is_invalid_grant() {
    let server = start().await;
    let tokens = server.tokens().await;
    let response = server
        .http
        .post(server.endpoint("/token"))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1, "invalid_grant");
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let server = start().await;
    let response = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "made-up"),
        ])
        .await;
    assert_eq!(error_of(response).await.1, "invalid_grant");
}

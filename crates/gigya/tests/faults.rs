//! Test hooks over a loopback socket: key rotation, injected faults, request counters, and
//! accounts loaded from a file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;

use authbridge_gigya::{AccountsError, Faults, load_accounts};
use authbridge_oidc::jwt::{Expectations, JwtError};
use common::*;
use reqwest::StatusCode;
use serde_json::{Map, Value};

/// Logs in as Ada and returns the ID token.
async fn id_token(server: &TestProvider) -> String {
    server.tokens().await["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn unverified_claims(token: &str) -> Map<String, Value> {
    authbridge_oidc::jwt::decode_claims_unverified(token).unwrap()
}

#[tokio::test]
async fn rotate_keys_publishes_both_and_signs_with_new() {
    let server = start().await;
    let old_kid = server.provider.current_kid();
    let old_token = id_token(&server).await;

    let new_kid = server.provider.rotate_keys().unwrap();
    assert_ne!(new_kid, old_kid);
    assert_eq!(server.provider.current_kid(), new_kid);

    let jwks = server.jwks().await;
    let kids: Vec<&str> = jwks
        .keys
        .iter()
        .map(|key| key.common.key_id.as_deref().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid.as_str()));
    assert!(kids.contains(&new_kid.as_str()));

    let new_token = id_token(&server).await;
    let (header_kid, _) = authbridge_oidc::jwt::peek_header(&new_token).unwrap();
    assert_eq!(header_kid.as_deref(), Some(new_kid.as_str()));
    server.verify_id_token(&new_token).await;
    server.verify_id_token(&old_token).await;
}

#[tokio::test]
async fn issuer_fault_changes_iss_only() {
    let server = start().await;
    let wrong_issuer = format!("{}/", server.issuer());
    server.set_faults(Faults {
        id_token_issuer: Some(wrong_issuer.clone()),
        ..Faults::default()
    });
    let token = id_token(&server).await;
    let claims = unverified_claims(&token);
    assert_eq!(claims["iss"], wrong_issuer.as_str());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], NONCE);

    let (kid, _) = authbridge_oidc::jwt::peek_header(&token).unwrap();
    let jwk = server.jwk(&kid.unwrap()).await.unwrap();
    let issuer = server.issuer();
    let expected = Expectations {
        issuer: &issuer,
        audience: CLIENT_ID,
        now: server.clock_unix(),
        leeway: 0,
    };
    assert!(matches!(
        authbridge_oidc::jwt::verify(&token, &jwk, &expected),
        Err(JwtError::IssuerMismatch { .. })
    ));
}

#[tokio::test]
async fn nonce_fault_changes_nonce() {
    let server = start().await;
    server.set_faults(Faults {
        id_token_nonce: Some("forged-nonce".to_owned()),
        ..Faults::default()
    });
    let claims = server.verify_id_token(&id_token(&server).await).await;
    assert_eq!(claims["nonce"], "forged-nonce");
}

#[tokio::test]
async fn audience_fault_changes_aud() {
    let server = start().await;
    server.set_faults(Faults {
        id_token_audience: Some("someone-else".to_owned()),
        ..Faults::default()
    });
    let claims = unverified_claims(&id_token(&server).await);
    assert_eq!(claims["aud"], "someone-else");
    assert_eq!(claims["iss"], server.issuer().as_str());
}

#[tokio::test]
async fn unpublished_key_fault_fails_verification() {
    let server = start().await;
    server.set_faults(Faults {
        sign_with_unpublished_key: true,
        ..Faults::default()
    });
    let token = id_token(&server).await;
    let (kid, _) = authbridge_oidc::jwt::peek_header(&token).unwrap();
    let kid = kid.unwrap();
    assert_ne!(kid, server.provider.current_kid());
    assert!(server.jwk(&kid).await.is_none());

    // The published current key does not verify the token either.
    let published = server.jwk(&server.provider.current_kid()).await.unwrap();
    let issuer = server.issuer();
    let expected = Expectations {
        issuer: &issuer,
        audience: CLIENT_ID,
        now: server.clock_unix(),
        leeway: 0,
    };
    assert_eq!(
        authbridge_oidc::jwt::verify(&token, &published, &expected),
        Err(JwtError::BadSignature)
    );
}

#[tokio::test]
async fn omit_kid_fault_leaves_kid_out() {
    let server = start().await;
    server.set_faults(Faults {
        omit_kid: true,
        ..Faults::default()
    });
    let token = id_token(&server).await;
    let (kid, alg) = authbridge_oidc::jwt::peek_header(&token).unwrap();
    assert_eq!(kid, None);
    assert_eq!(alg, "RS256");

    // Still signed with the published current key.
    let published = server.jwk(&server.provider.current_kid()).await.unwrap();
    let issuer = server.issuer();
    let expected = Expectations {
        issuer: &issuer,
        audience: CLIENT_ID,
        now: server.clock_unix(),
        leeway: 0,
    };
    authbridge_oidc::jwt::verify(&token, &published, &expected).unwrap();
}

#[tokio::test]
async fn token_status_fault_answers_with_status() {
    let server = start().await;
    let code = server.code().await;
    for (status, error) in [
        (503, "temporarily_unavailable"),
        (500, "server_error"),
        (400, "invalid_request"),
    ] {
        server.set_faults(Faults {
            token_endpoint_status: Some(status),
            ..Faults::default()
        });
        let response = server.redeem(&code).await;
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error);
    }

    // The code was not spent by the failed requests.
    server.set_faults(Faults::default());
    assert_eq!(server.redeem(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn omit_refresh_token_fault_leaves_it_out() {
    let server = start().await;
    server.set_faults(Faults {
        omit_refresh_token: true,
        ..Faults::default()
    });
    let tokens = server.tokens().await;
    assert!(tokens.get("refresh_token").is_none());
    assert!(tokens["access_token"].is_string());
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn counters_count_requests() {
    let server = start().await;
    assert_eq!(server.provider.token_requests(), 0);
    assert_eq!(server.provider.jwks_requests(), 0);

    let code = server.code().await;
    server.redeem(&code).await;
    server.redeem(&code).await;
    server.jwks().await;

    assert_eq!(server.provider.token_requests(), 2);
    assert_eq!(server.provider.jwks_requests(), 1);
}

#[tokio::test]
async fn accounts_from_file_can_log_in() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let accounts = r#"{"accounts": [{
        "UID": "0123456789abcdef0123456789abcdef",
        "loginID": "marie@example.com",
        "password": "Radium-88",
        "isVerified": true,
        "profile": {"firstName": "Marie", "lastName": "Curie", "email": "marie@example.com"},
        "data": {"plan": "gold"},
        "created": "2024-01-01T00:00:00Z"
    }]}"#;
    file.write_all(accounts.as_bytes()).unwrap();
    let accounts = load_accounts(file.path()).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].data["plan"], "gold");

    let server = start_with(|config| authbridge_gigya::ProviderConfig { accounts, ..config }).await;
    let page = server.open_login(&server.authorize_params()).await;
    let response = server
        .submit_login(&page, "marie@example.com", "Radium-88")
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = query_map(&location(&response))["code"]
        .as_str()
        .unwrap()
        .to_owned();

    let tokens: Value = server.redeem(&code).await.json().await.unwrap();
    let claims = server
        .verify_id_token(tokens["id_token"].as_str().unwrap())
        .await;
    assert_eq!(claims["sub"], "0123456789abcdef0123456789abcdef");
    assert_eq!(claims["name"], "Marie Curie");

    // The built-in accounts are not there.
    let page = server.open_login(&server.authorize_params()).await;
    let response = server
        .submit_login(&page, "ada@example.com", "Passw0rd!")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn invalid_accounts_file_is_rejected() {
    let write = |text: &str| {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    };

    let bad_uid = write(r#"{"accounts": [{"UID": "not-hex", "loginID": "a", "password": "p"}]}"#);
    let error = load_accounts(bad_uid.path()).unwrap_err();
    assert!(matches!(error, AccountsError::InvalidUid { .. }), "{error}");

    let no_login_id =
        write(r#"{"accounts": [{"UID": "0123456789abcdef0123456789abcdef", "password": "p"}]}"#);
    let error = load_accounts(no_login_id.path()).unwrap_err();
    assert!(matches!(error, AccountsError::Parse { .. }), "{error}");

    let bare_array = write("[]");
    let error = load_accounts(bare_array.path()).unwrap_err();
    assert!(matches!(error, AccountsError::Parse { .. }), "{error}");

    let missing = load_accounts(std::path::Path::new("/nonexistent/accounts.json"));
    assert!(matches!(missing, Err(AccountsError::Read { .. })));
}

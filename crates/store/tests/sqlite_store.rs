//! Behaviour of the SQLite store on a temporary database file.

// The setup helpers below run outside `#[test]` functions, where clippy's test exemption
// for `unwrap` does not reach.
#![allow(clippy::unwrap_used)]

use authbridge_core::model::{
    AuthorizationCode, FederatedLogin, LoginCompletion, UpstreamProfile, UpstreamTokens,
};
use authbridge_store::{SqliteStore, Store, TokenCipher};
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn login(access: &str, refresh: Option<&str>) -> FederatedLogin {
    FederatedLogin {
        connection: "Cencora".into(),
        profile: UpstreamProfile {
            sub: "4a6f1d2e8b9c4f0a9e3d2c1b0a998877".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            ..UpstreamProfile::default()
        },
        tokens: UpstreamTokens {
            access_token: Some(access.into()),
            refresh_token: refresh.map(str::to_owned),
            expires_at: Some(Utc::now()),
        },
    }
}

async fn file_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("tenant.db"), TokenCipher::ephemeral())
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn federated_login_creates_user_with_enterprise_identity() {
    let (_dir, store) = file_store().await;
    let user = store
        .record_federated_login(&login("A1", Some("R1")), Utc::now())
        .await
        .unwrap();

    assert_eq!(
        user.user_id,
        "oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877"
    );
    assert_eq!(user.identities.len(), 1);
    assert_eq!(
        user.identities[0].user_id,
        "Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877"
    );
    assert_eq!(user.identities[0].provider, "oidc");
    assert!(!user.identities[0].is_social);
    assert_eq!(
        user.identities[0].tokens.access_token.as_deref(),
        Some("A1")
    );
}

#[tokio::test]
async fn later_login_without_refresh_token_keeps_the_stored_one() {
    let (_dir, store) = file_store().await;
    store
        .record_federated_login(&login("A1", Some("R1")), Utc::now())
        .await
        .unwrap();
    let user = store
        .record_federated_login(&login("A2", None), Utc::now())
        .await
        .unwrap();

    assert_eq!(user.identities.len(), 1);
    assert_eq!(
        user.identities[0].tokens.access_token.as_deref(),
        Some("A2")
    );
    assert_eq!(
        user.identities[0].tokens.refresh_token.as_deref(),
        Some("R1")
    );
}

#[tokio::test]
async fn completion_merges_metadata_and_counts_login() {
    let (_dir, store) = file_store().await;
    let user = store
        .record_federated_login(&login("A1", None), Utc::now())
        .await
        .unwrap();
    let first = LoginCompletion {
        app_metadata: object(json!({"a": 1, "b": {"x": 1}})),
        user_metadata: object(json!({"tz": "UTC"})),
        count_login: true,
        at: Some(Utc::now()),
    };
    store.complete_login(&user.user_id, &first).await.unwrap();
    let second = LoginCompletion {
        app_metadata: object(json!({"a": null, "b": {"y": 2}})),
        count_login: true,
        at: Some(Utc::now()),
        ..LoginCompletion::default()
    };
    let user = store.complete_login(&user.user_id, &second).await.unwrap();

    assert_eq!(Value::Object(user.app_metadata), json!({"b": {"y": 2}}));
    assert_eq!(Value::Object(user.user_metadata), json!({"tz": "UTC"}));
    assert_eq!(user.logins_count, 2);
    assert!(user.last_login.is_some());
}

#[tokio::test]
async fn code_is_taken_only_once() {
    let store = SqliteStore::in_memory().await.unwrap();
    let now = Utc::now();
    let code = AuthorizationCode {
        code: "c1".into(),
        client_id: "client".into(),
        redirect_uri: "http://localhost/cb".into(),
        code_challenge: None,
        user_id: "u".into(),
        scope: "openid".into(),
        audience: None,
        nonce: None,
        session_id: "s".into(),
        auth_time: now,
        id_token_claims: Map::new(),
        access_token_claims: Map::new(),
        created_at: now,
        expires_at: now + Duration::minutes(5),
    };
    store.insert_code(&code).await.unwrap();

    assert!(store.take_code("c1").await.unwrap().is_some());
    assert!(store.take_code("c1").await.unwrap().is_none());
}

#[tokio::test]
async fn completion_for_unknown_user_fails_without_writing() {
    let store = SqliteStore::in_memory().await.unwrap();
    let result = store
        .complete_login("oidc|x|missing", &LoginCompletion::default())
        .await;
    assert!(result.is_err());
    assert!(store.user("oidc|x|missing").await.unwrap().is_none());
}

#[tokio::test]
async fn tenant_setting_is_replaced_on_second_put() {
    let store = SqliteStore::in_memory().await.unwrap();
    assert_eq!(store.tenant_setting("tenant_name").await.unwrap(), None);

    store
        .put_tenant_setting("tenant_name", &json!("first"))
        .await
        .unwrap();
    store
        .put_tenant_setting("tenant_name", &json!("second"))
        .await
        .unwrap();

    assert_eq!(
        store.tenant_setting("tenant_name").await.unwrap(),
        Some(json!("second"))
    );
}

#[tokio::test]
async fn upstream_tokens_are_encrypted_in_the_database_file() {
    let (dir, store) = file_store().await;
    store
        .record_federated_login(
            &login("st2.plain-access-token", Some("plain-refresh-token")),
            Utc::now(),
        )
        .await
        .unwrap();
    drop(store);

    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        raw.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("ada@example.com"));
    assert!(!raw.contains("plain-access-token"));
    assert!(!raw.contains("plain-refresh-token"));
}

#[tokio::test]
async fn token_sealed_under_another_key_reads_as_absent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.db");
    let first = TokenCipher::new(&[("k1".to_owned(), vec![1u8; 32])], "k1").unwrap();
    let store = SqliteStore::open(&path, first).await.unwrap();
    store
        .record_federated_login(&login("A1", Some("R1")), Utc::now())
        .await
        .unwrap();
    drop(store);

    let second = TokenCipher::new(&[("k2".to_owned(), vec![2u8; 32])], "k2").unwrap();
    let store = SqliteStore::open(&path, second).await.unwrap();
    let user = store
        .user("oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(user.identities.len(), 1);
    assert_eq!(user.identities[0].tokens.access_token, None);
    assert_eq!(user.identities[0].tokens.refresh_token, None);
}

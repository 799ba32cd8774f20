//! The store methods behind the Management API's users endpoints: list, lookup by email,
//! update and delete.

use authbridge_core::model::{FederatedLogin, LoginCompletion, UpstreamProfile, UpstreamTokens};
use authbridge_store::{SqliteStore, Store, UserUpdate};
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn login(sub: &str, email: &str, refresh: Option<&str>) -> FederatedLogin {
    FederatedLogin {
        connection: "Cencora".into(),
        profile: UpstreamProfile {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: true,
            name: Some(format!("User {sub}")),
            nickname: Some(sub.into()),
            ..UpstreamProfile::default()
        },
        tokens: UpstreamTokens {
            access_token: Some(format!("access-{sub}")),
            refresh_token: refresh.map(str::to_owned),
            expires_at: None,
        },
    }
}

#[tokio::test]
async fn users_are_listed_oldest_first_with_identities() {
    let store = SqliteStore::in_memory().await.unwrap();
    let start = Utc::now();
    store
        .record_federated_login(&login("b", "b@example.com", None), start)
        .await
        .unwrap();
    store
        .record_federated_login(
            &login("a", "a@example.com", None),
            start + Duration::seconds(1),
        )
        .await
        .unwrap();

    let users = store.list_users().await.unwrap();

    let ids: Vec<&str> = users.iter().map(|user| user.user_id.as_str()).collect();
    assert_eq!(ids, ["oidc|Cencora|b", "oidc|Cencora|a"]);
    assert_eq!(users[0].identities.len(), 1);
    assert_eq!(
        users[1].identities[0].tokens.access_token.as_deref(),
        Some("access-a")
    );
}

#[tokio::test]
async fn users_by_email_ignores_ascii_case() {
    let store = SqliteStore::in_memory().await.unwrap();
    store
        .record_federated_login(&login("a", "Ada@Example.com", None), Utc::now())
        .await
        .unwrap();
    store
        .record_federated_login(&login("g", "grace@example.com", None), Utc::now())
        .await
        .unwrap();

    let found = store.users_by_email("ada@EXAMPLE.com").await.unwrap();

    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user_id, "oidc|Cencora|a");
    assert_eq!(found[0].identities.len(), 1);
    assert!(
        store
            .users_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn update_merges_metadata_and_replaces_profile_fields() {
    let store = SqliteStore::in_memory().await.unwrap();
    let created = Utc::now();
    let user = store
        .record_federated_login(&login("a", "a@example.com", None), created)
        .await
        .unwrap();
    let completion = LoginCompletion {
        app_metadata: object(json!({"plan": "free", "keep": 1, "drop": true})),
        user_metadata: object(json!({"theme": "dark"})),
        ..LoginCompletion::default()
    };
    store
        .complete_login(&user.user_id, &completion)
        .await
        .unwrap();

    let later = created + Duration::seconds(30);
    let update = UserUpdate {
        name: Some(Some("Ada Lovelace".into())),
        nickname: Some(None),
        blocked: Some(true),
        app_metadata: Some(object(json!({"plan": "pro", "drop": null}))),
        user_metadata: Some(Map::new()),
        ..UserUpdate::new(later)
    };
    let updated = store
        .update_user(&user.user_id, &update)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(updated.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(updated.nickname, None);
    assert!(updated.blocked);
    assert_eq!(updated.email.as_deref(), Some("a@example.com"));
    assert_eq!(
        Value::Object(updated.app_metadata.clone()),
        json!({"plan": "pro", "keep": 1})
    );
    assert!(
        updated.user_metadata.is_empty(),
        "an empty object clears the metadata"
    );
    assert_eq!(
        updated.updated_at.timestamp_millis(),
        later.timestamp_millis()
    );

    let stored = store.user(&user.user_id).await.unwrap().unwrap();
    assert_eq!(stored, updated);
}

#[tokio::test]
async fn update_of_unknown_user_returns_none() {
    let store = SqliteStore::in_memory().await.unwrap();

    let result = store
        .update_user("oidc|Cencora|missing", &UserUpdate::new(Utc::now()))
        .await
        .unwrap();

    assert!(result.is_none());
    assert!(store.user("oidc|Cencora|missing").await.unwrap().is_none());
}

#[tokio::test]
async fn delete_removes_user_and_identities() {
    let store = SqliteStore::in_memory().await.unwrap();
    let user = store
        .record_federated_login(&login("a", "a@example.com", Some("refresh-a")), Utc::now())
        .await
        .unwrap();

    assert!(store.delete_user(&user.user_id).await.unwrap());
    assert!(store.user(&user.user_id).await.unwrap().is_none());

    // A login without a refresh token keeps a stored one, so none here means the old
    // identity row went with the user.
    let again = store
        .record_federated_login(&login("a", "a@example.com", None), Utc::now())
        .await
        .unwrap();
    assert_eq!(again.identities.len(), 1);
    assert_eq!(again.identities[0].tokens.refresh_token, None);
}

#[tokio::test]
async fn delete_of_unknown_user_returns_false() {
    let store = SqliteStore::in_memory().await.unwrap();

    assert!(!store.delete_user("oidc|Cencora|missing").await.unwrap());
}

//! `authbridge users`: reading users straight from the store, for operators.
//!
//! The output is the Management API's JSON without upstream tokens, so it can be compared
//! with what the API returns. The store is opened read-mostly next to a running broker, which
//! SQLite's write-ahead log allows.

use anyhow::{Context as _, bail};
use authbridge_store::{SqliteStore, Store};
use serde_json::Value;

use crate::config::Config;

async fn open_store(config: &Config) -> anyhow::Result<SqliteStore> {
    let path = config.data_dir.join("tenant.db");
    if !path.exists() {
        bail!(
            "no tenant store at {}; start the stack once with `authbridge up` or pass --data-dir",
            path.display()
        );
    }
    let cipher = crate::token_keys::load_or_create(&config.data_dir)?;
    Ok(SqliteStore::open(&path, cipher).await?)
}

/// Returns the user `user_id` as the Management API renders it, without upstream tokens.
pub(crate) async fn get(config: &Config, user_id: &str) -> anyhow::Result<Value> {
    let store = open_store(config).await?;
    let user = store
        .user(user_id)
        .await?
        .with_context(|| format!("user {user_id} does not exist"))?;
    Ok(authbridge_server::user_json(
        &user,
        false,
        chrono::Utc::now(),
    ))
}

/// Returns the users matching `query` (the Management API's Lucene subset), oldest first.
pub(crate) async fn list(config: &Config, query: Option<&str>) -> anyhow::Result<Value> {
    let query = query
        .map(authbridge_core::query::parse)
        .transpose()
        .map_err(|error| anyhow::anyhow!("the query is invalid: {error}"))?;
    let store = open_store(config).await?;
    let now = chrono::Utc::now();

    let users = store
        .list_users()
        .await?
        .iter()
        .map(|user| authbridge_server::user_json(user, false, now))
        .filter(|rendered| query.as_ref().is_none_or(|query| query.matches(rendered)))
        .collect();
    Ok(Value::Array(users))
}

//! The SQLite backend: one database file with write-ahead logging, or an in-memory database.

mod flows;
mod users;

use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use authbridge_core::model::{
    Action, AuthorizationCode, Client, ClientGrant, Connection, FederatedLogin, LoginCompletion,
    LoginTransaction, ResourceServer, User, UserinfoGrant,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::{KeyStatus, Store, StoreError, StoreResult, StoredKey, TokenCipher, UserUpdate};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`Store`] on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    cipher: Arc<TokenCipher>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    /// Upstream tokens are encrypted with `cipher`.
    pub async fn open(path: &Path, cipher: TokenCipher) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Self::migrated(pool, cipher).await
    }

    /// Opens a private in-memory database with a random token key, for tests.
    pub async fn in_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // Every connection to `:memory:` is a separate database, so the pool keeps exactly one.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::migrated(pool, TokenCipher::ephemeral()).await
    }

    async fn migrated(pool: SqlitePool, cipher: TokenCipher) -> StoreResult<Self> {
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            cipher: Arc::new(cipher),
        })
    }

    /// Returns the connection pool, for the backend's own modules.
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Converts a time to the stored form: milliseconds since the Unix epoch.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Converts a stored time back; values out of range read as the epoch.
pub(crate) fn from_millis(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(value).unwrap_or_default()
}

pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode { what, source })
}

pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    id: &str,
    body: &str,
) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|source| StoreError::Corrupt {
        what,
        id: id.to_owned(),
        source,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn tenant_setting(&self, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM tenant_settings WHERE key = $1")
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
        value
            .map(|value| decode("tenant setting", key, &value))
            .transpose()
    }

    async fn put_tenant_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenant_settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(encode("tenant setting", value)?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT kid, pkcs8, status, created_at FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                let kid: String = row.try_get("kid")?;
                let status: String = row.try_get("status")?;
                let sealed: Vec<u8> = row.try_get("pkcs8")?;
                let sealed =
                    String::from_utf8(sealed).map_err(|_| crate::CipherError::Malformed)?;
                let pkcs8 = self.cipher.decrypt(&sealed, &signing_key_context(&kid))?;
                let pkcs8 =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pkcs8)
                        .map_err(|_| crate::CipherError::Malformed)?;
                Ok(StoredKey {
                    status: KeyStatus::parse(&status).unwrap_or(KeyStatus::Previous),
                    pkcs8,
                    created_at: from_millis(row.try_get("created_at")?),
                    kid,
                })
            })
            .collect()
    }

    async fn insert_signing_keys_if_empty(&self, keys: &[StoredKey]) -> StoreResult<bool> {
        let mut transaction = self.pool.begin().await?;
        // Taking the write lock first keeps two replicas starting together from both inserting.
        sqlx::query("DELETE FROM signing_keys WHERE 0")
            .execute(&mut *transaction)
            .await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
            .fetch_one(&mut *transaction)
            .await?;
        if existing > 0 {
            return Ok(false);
        }
        for key in keys {
            sqlx::query(
                "INSERT INTO signing_keys (kid, pkcs8, status, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&key.kid)
            .bind(self.sealed_signing_key(key)?.into_bytes())
            .bind(key.status.as_str())
            .bind(millis(key.created_at))
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    async fn upsert_client(&self, client: &Client) -> StoreResult<()> {
        self.put_body(
            "clients",
            "client_id",
            &client.client_id,
            &encode("client", client)?,
        )
        .await
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        self.get_body("clients", "client_id", client_id, "client")
            .await
    }

    async fn upsert_client_grant(&self, grant: &ClientGrant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO client_grants (id, client_id, audience, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, \
             audience = excluded.audience, body = excluded.body",
        )
        .bind(&grant.id)
        .bind(&grant.client_id)
        .bind(&grant.audience)
        .bind(encode("client grant", grant)?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn client_grant(
        &self,
        client_id: &str,
        audience: &str,
    ) -> StoreResult<Option<ClientGrant>> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM client_grants WHERE client_id = $1 AND audience = $2",
        )
        .bind(client_id)
        .bind(audience)
        .fetch_optional(self.pool())
        .await?;
        body.map(|body| decode("client grant", client_id, &body))
            .transpose()
    }

    async fn upsert_resource_server(&self, api: &ResourceServer) -> StoreResult<()> {
        let body = encode("resource server", api)?;
        self.put_body("resource_servers", "identifier", &api.identifier, &body)
            .await
    }

    async fn resource_server(&self, identifier: &str) -> StoreResult<Option<ResourceServer>> {
        self.get_body(
            "resource_servers",
            "identifier",
            identifier,
            "resource server",
        )
        .await
    }

    async fn upsert_connection(&self, connection: &Connection) -> StoreResult<()> {
        let body = encode("connection", connection)?;
        self.put_body("connections", "name", &connection.name, &body)
            .await
    }

    async fn connection(&self, name: &str) -> StoreResult<Option<Connection>> {
        self.get_body("connections", "name", name, "connection")
            .await
    }

    async fn connections_for_client(&self, client_id: &str) -> StoreResult<Vec<Connection>> {
        let rows = sqlx::query("SELECT name, body FROM connections ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        let mut connections = Vec::new();
        for row in rows {
            let name: String = row.try_get("name")?;
            let connection: Connection = decode("connection", &name, row.try_get("body")?)?;
            if connection
                .enabled_clients
                .iter()
                .any(|enabled| enabled == client_id)
            {
                connections.push(connection);
            }
        }
        Ok(connections)
    }

    async fn replace_actions(&self, trigger: &str, actions: &[Action]) -> StoreResult<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("DELETE FROM actions WHERE trigger_id = $1")
            .bind(trigger)
            .execute(&mut *transaction)
            .await?;
        for action in actions {
            let body = encode("action", &StoredAction::from(action))?;
            sqlx::query(
                "INSERT INTO actions (id, trigger_id, position, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(&action.id)
            .bind(trigger)
            .bind(action.position)
            .bind(body)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn actions(&self, trigger: &str) -> StoreResult<Vec<Action>> {
        let rows =
            sqlx::query("SELECT id, body FROM actions WHERE trigger_id = $1 ORDER BY position, id")
                .bind(trigger)
                .fetch_all(self.pool())
                .await?;
        let mut actions = Vec::new();
        for row in rows {
            let id: String = row.try_get("id")?;
            let stored: StoredAction = decode("action", &id, row.try_get("body")?)?;
            actions.push(stored.into());
        }
        Ok(actions)
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        users::load_user(self.pool(), &self.cipher, user_id).await
    }

    async fn record_federated_login(
        &self,
        login: &FederatedLogin,
        at: DateTime<Utc>,
    ) -> StoreResult<User> {
        users::record_federated_login(self.pool(), &self.cipher, login, at).await
    }

    async fn complete_login(
        &self,
        user_id: &str,
        completion: &LoginCompletion,
    ) -> StoreResult<User> {
        users::complete_login(self.pool(), &self.cipher, user_id, completion).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        users::list_users(self.pool(), &self.cipher).await
    }

    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>> {
        users::users_by_email(self.pool(), &self.cipher, email).await
    }

    async fn update_user(&self, user_id: &str, update: &UserUpdate) -> StoreResult<Option<User>> {
        users::update_user(self.pool(), &self.cipher, user_id, update).await
    }

    async fn delete_user(&self, user_id: &str) -> StoreResult<bool> {
        users::delete_user(self.pool(), user_id).await
    }

    async fn insert_transaction(&self, transaction: &LoginTransaction) -> StoreResult<()> {
        flows::insert_expiring(
            self.pool(),
            flows::TRANSACTIONS,
            &transaction.state,
            &encode("login transaction", transaction)?,
            transaction.expires_at,
        )
        .await
    }

    async fn take_transaction(&self, state: &str) -> StoreResult<Option<LoginTransaction>> {
        flows::take(self.pool(), flows::TRANSACTIONS, state, "login transaction").await
    }

    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        flows::insert_expiring(
            self.pool(),
            flows::CODES,
            &code.code,
            &encode("authorization code", code)?,
            code.expires_at,
        )
        .await
    }

    async fn take_code(&self, code: &str) -> StoreResult<Option<AuthorizationCode>> {
        flows::take(self.pool(), flows::CODES, code, "authorization code").await
    }

    async fn insert_userinfo_grant(&self, grant: &UserinfoGrant) -> StoreResult<()> {
        flows::insert_expiring(
            self.pool(),
            flows::GRANTS,
            &grant.token_hash,
            &encode("userinfo grant", grant)?,
            grant.expires_at,
        )
        .await
    }

    async fn userinfo_grant(&self, token_hash: &str) -> StoreResult<Option<UserinfoGrant>> {
        flows::get(self.pool(), flows::GRANTS, token_hash, "userinfo grant").await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        flows::purge_expired(self.pool(), now).await
    }
}

/// The stored form of an action. Unlike the model's public form it includes the secrets.
#[derive(Serialize, serde::Deserialize)]
struct StoredAction {
    id: String,
    name: String,
    trigger: String,
    code: String,
    position: i64,
    #[serde(default)]
    secrets: std::collections::BTreeMap<String, String>,
}

impl From<&Action> for StoredAction {
    fn from(action: &Action) -> Self {
        Self {
            id: action.id.clone(),
            name: action.name.clone(),
            trigger: action.trigger.clone(),
            code: action.code.clone(),
            position: action.position,
            secrets: action.secrets.clone(),
        }
    }
}

impl From<StoredAction> for Action {
    fn from(stored: StoredAction) -> Self {
        Self {
            id: stored.id,
            name: stored.name,
            trigger: stored.trigger,
            code: stored.code,
            position: stored.position,
            secrets: stored.secrets,
        }
    }
}

/// Returns the associated data binding an encrypted signing key to its key id.
fn signing_key_context(kid: &str) -> String {
    format!("signing_keys|{kid}|pkcs8")
}

impl SqliteStore {
    /// Encrypts a signing key's PKCS#8 bytes with the token key ring, as base64 text.
    fn sealed_signing_key(&self, key: &StoredKey) -> StoreResult<String> {
        let encoded =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &key.pkcs8);
        Ok(self
            .cipher
            .encrypt(&encoded, &signing_key_context(&key.kid))?)
    }

    async fn put_body(
        &self,
        table: &'static str,
        key: &'static str,
        id: &str,
        body: &str,
    ) -> StoreResult<()> {
        let statement = format!(
            "INSERT INTO {table} ({key}, body) VALUES ($1, $2) \
             ON CONFLICT ({key}) DO UPDATE SET body = excluded.body"
        );
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(id)
            .bind(body)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn get_body<T: DeserializeOwned>(
        &self,
        table: &'static str,
        key: &'static str,
        id: &str,
        what: &'static str,
    ) -> StoreResult<Option<T>> {
        let statement = format!("SELECT body FROM {table} WHERE {key} = $1");
        let body: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        body.map(|body| decode(what, id, &body)).transpose()
    }
}

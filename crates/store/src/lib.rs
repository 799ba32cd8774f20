//! Persistence for authbridge.
//!
//! Everything a broker replica needs lives behind the [`Store`] trait, so replicas keep no
//! state of their own: tenant configuration, signing keys, users with their identities, logins
//! in progress, authorization codes and what `/userinfo` releases. [`SqliteStore`] keeps it in
//! one SQLite file (or in memory for tests); a PostgreSQL backend implements the same trait.
//!
//! Upstream tokens and the private signing keys are encrypted at rest with a [`TokenCipher`].
//!
//! Records read by key only (clients, connections, actions, codes) are stored as JSON text.
//! Users and identities have columns of their own because they are searched.

mod cipher;
mod sqlite;
mod user_update;

use async_trait::async_trait;
use authbridge_core::model::{
    Action, AuthorizationCode, Client, ClientGrant, Connection, FederatedLogin, LoginCompletion,
    LoginTransaction, ResourceServer, User, UserinfoGrant,
};
use chrono::{DateTime, Utc};

pub use cipher::{CipherError, KEY_LEN as TOKEN_KEY_LEN, TokenCipher};
pub use sqlite::SqliteStore;
pub use user_update::UserUpdate;

/// Failures of the store. Messages name records by id, never by secret content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // The causes are part of the message and not also exposed as sources, so a report that
    // walks the source chain does not print them twice.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("applying database migrations failed: {0}")]
    Migration(sqlx::migrate::MigrateError),
    #[error("stored record {what} {id} is corrupt: {source}")]
    Corrupt {
        what: &'static str,
        id: String,
        source: serde_json::Error,
    },
    #[error("encoding record {what} failed: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("user {0} does not exist")]
    UserNotFound(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(error)
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Lifecycle of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Signs new tokens.
    Current,
    /// Published in the JWKS ahead of the next rotation.
    Next,
    /// Retired from signing, still published so older tokens verify.
    Previous,
}

impl KeyStatus {
    fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Current => "current",
            KeyStatus::Next => "next",
            KeyStatus::Previous => "previous",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "current" => Some(KeyStatus::Current),
            "next" => Some(KeyStatus::Next),
            "previous" => Some(KeyStatus::Previous),
            _ => None,
        }
    }
}

/// A signing key as stored: PKCS#8 DER of the private key and its status.
#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub pkcs8: Vec<u8>,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The tenant's persistent state.
#[async_trait]
pub trait Store: Send + Sync {
    /// Returns the tenant setting `key`, a JSON value.
    async fn tenant_setting(&self, key: &str) -> StoreResult<Option<serde_json::Value>>;
    /// Creates or replaces the tenant setting `key`.
    async fn put_tenant_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<()>;

    /// Returns every stored signing key, oldest first.
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Stores `keys` when the store contains no signing key yet, and returns whether it stored them.
    async fn insert_signing_keys_if_empty(&self, keys: &[StoredKey]) -> StoreResult<bool>;

    /// Creates or replaces a client.
    async fn upsert_client(&self, client: &Client) -> StoreResult<()>;
    /// Returns the client with id `client_id`.
    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>>;

    /// Creates or replaces the grant of a client for an API.
    async fn upsert_client_grant(&self, grant: &ClientGrant) -> StoreResult<()>;
    /// Returns the grant of `client_id` for the API `audience`.
    async fn client_grant(
        &self,
        client_id: &str,
        audience: &str,
    ) -> StoreResult<Option<ClientGrant>>;

    /// Creates or replaces an API.
    async fn upsert_resource_server(&self, api: &ResourceServer) -> StoreResult<()>;
    /// Returns the API whose audience is `identifier`.
    async fn resource_server(&self, identifier: &str) -> StoreResult<Option<ResourceServer>>;

    /// Creates or replaces a connection.
    async fn upsert_connection(&self, connection: &Connection) -> StoreResult<()>;
    /// Returns the connection named `name`.
    async fn connection(&self, name: &str) -> StoreResult<Option<Connection>>;
    /// Returns the connections `client_id` may log in through, by name.
    async fn connections_for_client(&self, client_id: &str) -> StoreResult<Vec<Connection>>;

    /// Replaces the actions bound to `trigger` with `actions`, in their `position` order.
    async fn replace_actions(&self, trigger: &str, actions: &[Action]) -> StoreResult<()>;
    /// Returns the actions bound to `trigger`, in execution order.
    async fn actions(&self, trigger: &str) -> StoreResult<Vec<Action>>;

    /// Returns the user with id `user_id`, with identities and their upstream tokens.
    async fn user(&self, user_id: &str) -> StoreResult<Option<User>>;
    /// Creates the user of an upstream login or refreshes its profile and identity tokens.
    ///
    /// An upstream refresh token is kept when the new login brings none, since many
    /// providers issue one only on first consent. Metadata and login counts are untouched.
    async fn record_federated_login(
        &self,
        login: &FederatedLogin,
        at: DateTime<Utc>,
    ) -> StoreResult<User>;
    /// Applies the effects of a finished login in one transaction and returns the user.
    async fn complete_login(
        &self,
        user_id: &str,
        completion: &LoginCompletion,
    ) -> StoreResult<User>;
    /// Returns every user with identities and upstream tokens, oldest first.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Returns the users whose email equals `email` ignoring ASCII case, oldest first.
    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>>;
    /// Applies `update` to the user in one transaction and returns the user as stored, or
    /// `None` when no user has the id.
    async fn update_user(&self, user_id: &str, update: &UserUpdate) -> StoreResult<Option<User>>;
    /// Deletes the user with its identities and returns whether it existed.
    async fn delete_user(&self, user_id: &str) -> StoreResult<bool>;

    /// Stores a login in progress.
    async fn insert_transaction(&self, transaction: &LoginTransaction) -> StoreResult<()>;
    /// Removes and returns the login in progress keyed by `state`: each state is used once.
    async fn take_transaction(&self, state: &str) -> StoreResult<Option<LoginTransaction>>;

    /// Stores an authorization code.
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Removes and returns an authorization code: each code is redeemed at most once.
    async fn take_code(&self, code: &str) -> StoreResult<Option<AuthorizationCode>>;

    /// Stores what `/userinfo` releases for an access token.
    async fn insert_userinfo_grant(&self, grant: &UserinfoGrant) -> StoreResult<()>;
    /// Returns what `/userinfo` releases for the access token hashing to `token_hash`.
    async fn userinfo_grant(&self, token_hash: &str) -> StoreResult<Option<UserinfoGrant>>;

    /// Deletes logins in progress, codes and grants that expired before `now`.
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

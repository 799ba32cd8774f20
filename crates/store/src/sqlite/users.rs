//! Users and their identities.
//!
//! Upstream tokens are encrypted before they are written and decrypted when read, each bound
//! to its user, connection and column.

use std::collections::HashMap;

use authbridge_core::metadata::merge_top_level;
use authbridge_core::model::{FederatedLogin, Identity, LoginCompletion, UpstreamTokens, User};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::Row as _;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use super::{decode, encode, from_millis, millis};
use crate::{StoreError, StoreResult, TokenCipher, UserUpdate};

/// Returns the associated data binding an encrypted token to its row and column.
fn token_context(user_id: &str, connection: &str, column: &str) -> String {
    format!("identities|{user_id}|{connection}|{column}")
}

fn seal(
    cipher: &TokenCipher,
    value: Option<&String>,
    user_id: &str,
    connection: &str,
    column: &str,
) -> StoreResult<Option<String>> {
    value
        .map(|value| cipher.encrypt(value, &token_context(user_id, connection, column)))
        .transpose()
        .map_err(Into::into)
}

fn open(
    cipher: &TokenCipher,
    value: Option<String>,
    user_id: &str,
    connection: &str,
    column: &str,
) -> StoreResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    match cipher.decrypt(&value, &token_context(user_id, connection, column)) {
        Ok(token) => Ok(Some(token)),
        // An unreadable token reads as absent, so one user sealed under a lost key does not
        // make every user unreadable. The next upstream login stores a fresh token.
        Err(error) => {
            tracing::warn!(%error, user_id, connection, column, "an upstream token cannot be decrypted");
            Ok(None)
        }
    }
}

pub(super) async fn load_user(
    pool: &SqlitePool,
    cipher: &TokenCipher,
    user_id: &str,
) -> StoreResult<Option<User>> {
    let mut connection = pool.acquire().await?;
    load_user_on(&mut connection, cipher, user_id).await
}

async fn load_user_on(
    connection: &mut sqlx::SqliteConnection,
    cipher: &TokenCipher,
    user_id: &str,
) -> StoreResult<Option<User>> {
    let Some(row) = sqlx::query("SELECT * FROM users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut *connection)
        .await?
    else {
        return Ok(None);
    };

    let identities = sqlx::query("SELECT * FROM identities WHERE user_id = $1 ORDER BY rowid")
        .bind(user_id)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|row| identity_from_row(row, cipher, user_id))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Some(user_from_row(&row, identities)?))
}

fn user_from_row(row: &SqliteRow, identities: Vec<Identity>) -> StoreResult<User> {
    let user_id: String = row.try_get("user_id")?;
    let app_metadata: Map<String, Value> = decode(
        "app_metadata of user",
        &user_id,
        row.try_get("app_metadata")?,
    )?;
    let user_metadata: Map<String, Value> = decode(
        "user_metadata of user",
        &user_id,
        row.try_get("user_metadata")?,
    )?;
    Ok(User {
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        name: row.try_get("name")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        nickname: row.try_get("nickname")?,
        picture: row.try_get("picture")?,
        identities,
        app_metadata,
        user_metadata,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        last_login: row
            .try_get::<Option<i64>, _>("last_login")?
            .map(from_millis),
        logins_count: row.try_get("logins_count")?,
        blocked: row.try_get("blocked")?,
        user_id,
    })
}

fn identity_from_row(
    row: &SqliteRow,
    cipher: &TokenCipher,
    user_id: &str,
) -> StoreResult<Identity> {
    let connection: String = row.try_get("connection")?;
    let access_token = open(
        cipher,
        row.try_get("access_token")?,
        user_id,
        &connection,
        "access_token",
    )?;
    let refresh_token = open(
        cipher,
        row.try_get("refresh_token")?,
        user_id,
        &connection,
        "refresh_token",
    )?;
    Ok(Identity {
        provider: row.try_get("provider")?,
        user_id: row.try_get("identity_user_id")?,
        is_social: row.try_get("is_social")?,
        tokens: UpstreamTokens {
            access_token,
            refresh_token,
            expires_at: row
                .try_get::<Option<i64>, _>("expires_at")?
                .map(from_millis),
        },
        connection,
    })
}

pub(super) async fn record_federated_login(
    pool: &SqlitePool,
    cipher: &TokenCipher,
    login: &FederatedLogin,
    at: DateTime<Utc>,
) -> StoreResult<User> {
    let user_id = login.user_id();
    let profile = &login.profile;
    let mut transaction = pool.begin().await?;

    sqlx::query(
        "INSERT INTO users (user_id, email, email_verified, name, given_name, family_name, \
         nickname, picture, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, \
         email_verified = excluded.email_verified, name = excluded.name, \
         given_name = excluded.given_name, family_name = excluded.family_name, \
         nickname = excluded.nickname, picture = excluded.picture, updated_at = excluded.updated_at",
    )
    .bind(&user_id)
    .bind(&profile.email)
    .bind(profile.email_verified)
    .bind(&profile.name)
    .bind(&profile.given_name)
    .bind(&profile.family_name)
    .bind(&profile.nickname)
    .bind(&profile.picture)
    .bind(millis(at))
    .execute(&mut *transaction)
    .await?;

    sqlx::query(
        "INSERT INTO identities (user_id, connection, provider, identity_user_id, is_social, \
         access_token, refresh_token, expires_at) VALUES ($1, $2, 'oidc', $3, 0, $4, $5, $6) \
         ON CONFLICT (user_id, connection) DO UPDATE SET access_token = excluded.access_token, \
         refresh_token = COALESCE(excluded.refresh_token, identities.refresh_token), \
         expires_at = excluded.expires_at",
    )
    .bind(&user_id)
    .bind(&login.connection)
    .bind(login.identity_user_id())
    .bind(seal(
        cipher,
        login.tokens.access_token.as_ref(),
        &user_id,
        &login.connection,
        "access_token",
    )?)
    .bind(seal(
        cipher,
        login.tokens.refresh_token.as_ref(),
        &user_id,
        &login.connection,
        "refresh_token",
    )?)
    .bind(login.tokens.expires_at.map(millis))
    .execute(&mut *transaction)
    .await?;

    let user = load_user_on(&mut transaction, cipher, &user_id)
        .await?
        .ok_or_else(|| StoreError::UserNotFound(user_id.clone()))?;
    transaction.commit().await?;
    Ok(user)
}

pub(super) async fn complete_login(
    pool: &SqlitePool,
    cipher: &TokenCipher,
    user_id: &str,
    completion: &LoginCompletion,
) -> StoreResult<User> {
    let mut transaction = pool.begin().await?;

    // Writing first takes SQLite's write lock before the read, so a concurrent completion for
    // the same user waits instead of failing to upgrade its read lock.
    let touched = sqlx::query("UPDATE users SET user_id = user_id WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    if touched.rows_affected() == 0 {
        return Err(StoreError::UserNotFound(user_id.to_owned()));
    }

    let mut user = load_user_on(&mut transaction, cipher, user_id)
        .await?
        .ok_or_else(|| StoreError::UserNotFound(user_id.to_owned()))?;
    merge_top_level(&mut user.app_metadata, &completion.app_metadata);
    merge_top_level(&mut user.user_metadata, &completion.user_metadata);
    let metadata_changed =
        !completion.app_metadata.is_empty() || !completion.user_metadata.is_empty();

    if let Some(at) = completion.at {
        if metadata_changed {
            user.updated_at = at;
        }
        if completion.count_login {
            user.last_login = Some(at);
            user.logins_count += 1;
        }
    }

    sqlx::query(
        "UPDATE users SET app_metadata = $2, user_metadata = $3, updated_at = $4, \
         last_login = $5, logins_count = $6 WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(encode("app_metadata", &user.app_metadata)?)
    .bind(encode("user_metadata", &user.user_metadata)?)
    .bind(millis(user.updated_at))
    .bind(user.last_login.map(millis))
    .bind(user.logins_count)
    .execute(&mut *transaction)
    .await?;

    transaction.commit().await?;
    Ok(user)
}

pub(super) async fn list_users(pool: &SqlitePool, cipher: &TokenCipher) -> StoreResult<Vec<User>> {
    let mut connection = pool.acquire().await?;
    let rows = sqlx::query("SELECT * FROM users ORDER BY created_at, user_id")
        .fetch_all(&mut *connection)
        .await?;

    let mut identities: HashMap<String, Vec<Identity>> = HashMap::new();
    let identity_rows = sqlx::query("SELECT * FROM identities ORDER BY rowid")
        .fetch_all(&mut *connection)
        .await?;
    for row in &identity_rows {
        let user_id: String = row.try_get("user_id")?;
        let identity = identity_from_row(row, cipher, &user_id)?;
        identities.entry(user_id).or_default().push(identity);
    }

    rows.iter()
        .map(|row| {
            let user_id: String = row.try_get("user_id")?;
            user_from_row(row, identities.remove(&user_id).unwrap_or_default())
        })
        .collect()
}

pub(super) async fn users_by_email(
    pool: &SqlitePool,
    cipher: &TokenCipher,
    email: &str,
) -> StoreResult<Vec<User>> {
    let mut connection = pool.acquire().await?;
    // NOTE: SQLite's lower() folds ASCII letters only, so emails that differ in the case of
    // other letters do not match each other.
    let user_ids: Vec<String> = sqlx::query_scalar(
        "SELECT user_id FROM users WHERE lower(email) = lower($1) ORDER BY created_at, user_id",
    )
    .bind(email)
    .fetch_all(&mut *connection)
    .await?;

    let mut users = Vec::with_capacity(user_ids.len());
    for user_id in user_ids {
        if let Some(user) = load_user_on(&mut connection, cipher, &user_id).await? {
            users.push(user);
        }
    }
    Ok(users)
}

pub(super) async fn update_user(
    pool: &SqlitePool,
    cipher: &TokenCipher,
    user_id: &str,
    update: &UserUpdate,
) -> StoreResult<Option<User>> {
    let mut transaction = pool.begin().await?;

    // As in `complete_login`, writing first takes the write lock before the read.
    let touched = sqlx::query("UPDATE users SET user_id = user_id WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    if touched.rows_affected() == 0 {
        return Ok(None);
    }
    let Some(mut user) = load_user_on(&mut transaction, cipher, user_id).await? else {
        return Ok(None);
    };

    update.apply(&mut user);
    sqlx::query(
        "UPDATE users SET email = $2, email_verified = $3, name = $4, given_name = $5, \
         family_name = $6, nickname = $7, picture = $8, blocked = $9, app_metadata = $10, \
         user_metadata = $11, updated_at = $12 WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(&user.email)
    .bind(user.email_verified)
    .bind(&user.name)
    .bind(&user.given_name)
    .bind(&user.family_name)
    .bind(&user.nickname)
    .bind(&user.picture)
    .bind(user.blocked)
    .bind(encode("app_metadata", &user.app_metadata)?)
    .bind(encode("user_metadata", &user.user_metadata)?)
    .bind(millis(user.updated_at))
    .execute(&mut *transaction)
    .await?;

    // Reading back returns times at the stored millisecond precision.
    let stored = load_user_on(&mut transaction, cipher, user_id).await?;
    transaction.commit().await?;
    Ok(stored)
}

pub(super) async fn delete_user(pool: &SqlitePool, user_id: &str) -> StoreResult<bool> {
    // Identities go with the user through `ON DELETE CASCADE`; the pools enable foreign keys.
    let deleted = sqlx::query("DELETE FROM users WHERE user_id = $1")
        .bind(user_id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

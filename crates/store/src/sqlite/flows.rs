//! Short-lived records: logins in progress, authorization codes and userinfo grants.
//!
//! Each is a JSON body under a unique key with an expiry. Taking a record deletes it in the
//! same statement, so two requests racing with the same code or state cannot both win.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::sqlite::SqlitePool;

use super::{decode, millis};
use crate::StoreResult;

/// A table of short-lived records and its key column.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    name: &'static str,
    key: &'static str,
}

pub(super) const TRANSACTIONS: Table = Table {
    name: "login_transactions",
    key: "state",
};
pub(super) const CODES: Table = Table {
    name: "authorization_codes",
    key: "code",
};
pub(super) const GRANTS: Table = Table {
    name: "userinfo_grants",
    key: "token_hash",
};

pub(super) async fn insert_expiring(
    pool: &SqlitePool,
    table: Table,
    id: &str,
    body: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    let statement = format!(
        "INSERT INTO {} ({}, body, expires_at) VALUES ($1, $2, $3)",
        table.name, table.key
    );
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .bind(body)
        .bind(millis(expires_at))
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn take<T: DeserializeOwned>(
    pool: &SqlitePool,
    table: Table,
    id: &str,
    what: &'static str,
) -> StoreResult<Option<T>> {
    let statement = format!(
        "DELETE FROM {} WHERE {} = $1 RETURNING body",
        table.name, table.key
    );
    let body: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    body.map(|body| decode(what, id, &body)).transpose()
}

pub(super) async fn get<T: DeserializeOwned>(
    pool: &SqlitePool,
    table: Table,
    id: &str,
    what: &'static str,
) -> StoreResult<Option<T>> {
    let statement = format!("SELECT body FROM {} WHERE {} = $1", table.name, table.key);
    let body: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    body.map(|body| decode(what, id, &body)).transpose()
}

pub(super) async fn purge_expired(pool: &SqlitePool, now: DateTime<Utc>) -> StoreResult<u64> {
    let mut removed = 0;
    for table in [TRANSACTIONS, CODES, GRANTS] {
        let statement = format!("DELETE FROM {} WHERE expires_at < $1", table.name);
        let result = sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(millis(now))
            .execute(pool)
            .await?;
        removed += result.rows_affected();
    }
    Ok(removed)
}

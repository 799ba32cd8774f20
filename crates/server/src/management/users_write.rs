//! `PATCH /api/v2/users/{id}` and `DELETE /api/v2/users/{id}`.
//!
//! A PATCH body is validated whole before anything is written, and the store applies it in
//! one transaction, so a rejected body changes nothing. `app_metadata` and `user_metadata`
//! merge one level deep: a null value deletes its key and an empty object clears the
//! metadata. Root fields are replaced, and null clears the optional ones.

use authbridge_store::UserUpdate;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::auth::{Caller, DELETE_USERS, UPDATE_USERS, UPDATE_USERS_APP_METADATA};
use super::error::ManagementError;
use super::render::{FieldSelection, Renderer};
use crate::Broker;

/// Body fields a client may update.
const UPDATABLE_FIELDS: &[&str] = &[
    "app_metadata",
    "user_metadata",
    "blocked",
    "email",
    "email_verified",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
];

/// `PATCH /api/v2/users/{id}`: updates the user and returns it.
pub(super) async fn patch_user(
    State(broker): State<Broker>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ManagementError> {
    caller.require_any(&[UPDATE_USERS, UPDATE_USERS_APP_METADATA])?;
    let body = body.map_err(|rejection| {
        ManagementError::unreadable_body(rejection.status(), rejection.body_text())
    })?;
    let now = broker.inner.clock.now();
    let (update, touches_root_fields) = parse_update(&body, now)?;
    if touches_root_fields {
        caller.require_any(&[UPDATE_USERS])?;
    }
    let Ok(Path(user_id)) = path else {
        return Err(ManagementError::inexistent_user());
    };

    let user = broker
        .store()
        .update_user(&user_id, &update)
        .await?
        .ok_or_else(ManagementError::inexistent_user)?;
    tracing::info!(
        user_id = %user.user_id,
        client_id = %caller.client_id(),
        "user updated through the Management API"
    );
    let fields = FieldSelection::default();
    Ok(Json(Renderer::new(&caller, &fields, now).render(&user)))
}

/// `DELETE /api/v2/users/{id}`: deletes the user and its identities.
///
/// Like Auth0, it returns `204` whether or not the user existed, so a retried delete
/// succeeds.
pub(super) async fn delete_user(
    State(broker): State<Broker>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ManagementError> {
    caller.require_any(&[DELETE_USERS])?;
    let Ok(Path(user_id)) = path else {
        return Ok(StatusCode::NO_CONTENT);
    };

    let existed = broker.store().delete_user(&user_id).await?;
    if existed {
        tracing::info!(
            %user_id,
            client_id = %caller.client_id(),
            "user deleted through the Management API"
        );
    } else {
        tracing::debug!(%user_id, "delete of a user that does not exist");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Parses a PATCH body into an update at `now`, and returns whether it changes fields other
/// than the metadata.
fn parse_update(body: &[u8], now: DateTime<Utc>) -> Result<(UserUpdate, bool), ManagementError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ManagementError::invalid_body("Invalid request payload JSON format"))?;
    let Value::Object(fields) = value else {
        return Err(payload_error(&format!(
            "'Expected type object but found type {}'",
            type_name(&value)
        )));
    };

    let unknown: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|name| !UPDATABLE_FIELDS.contains(name))
        .collect();
    if !unknown.is_empty() {
        return Err(payload_error(&format!(
            "'Additional properties not allowed: {}'",
            unknown.join(",")
        )));
    }
    if fields.is_empty() {
        return Err(payload_error("'Too few properties defined (0), minimum 1'"));
    }

    let mut update = UserUpdate::new(now);
    update.app_metadata = metadata(&fields, "app_metadata")?;
    update.user_metadata = metadata(&fields, "user_metadata")?;
    update.blocked = boolean(&fields, "blocked")?;
    update.email_verified = boolean(&fields, "email_verified")?;
    update.email = optional_string(&fields, "email")?;
    update.name = optional_string(&fields, "name")?;
    update.given_name = optional_string(&fields, "given_name")?;
    update.family_name = optional_string(&fields, "family_name")?;
    update.nickname = optional_string(&fields, "nickname")?;
    update.picture = optional_string(&fields, "picture")?;

    if let Some(Some(email)) = &update.email
        && !looks_like_email(email)
    {
        return Err(payload_error(&format!(
            "'Object didn't pass validation for format email: {email}' on property email"
        )));
    }

    let touches_root_fields = fields
        .keys()
        .any(|name| name != "app_metadata" && name != "user_metadata");
    Ok((update, touches_root_fields))
}

fn metadata(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, ManagementError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object.clone())),
        Some(other) => Err(type_error(name, "object", other)),
    }
}

fn boolean(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, ManagementError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(type_error(name, "boolean", other)),
    }
}

/// Reads a string field that null clears. An empty string is rejected.
fn optional_string(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<Option<String>>, ManagementError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) if text.is_empty() => Err(payload_error(&format!(
            "'String is too short (0 chars), minimum 1' on property {name}"
        ))),
        Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
        Some(other) => Err(type_error(name, "string", other)),
    }
}

/// Checks the shape `local@domain` without whitespace; the upstream provider or a
/// verification email decides whether the address exists.
fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
}

fn type_error(name: &str, expected: &str, found: &Value) -> ManagementError {
    payload_error(&format!(
        "'Expected type {expected} but found type {}' on property {name}",
        type_name(found)
    ))
}

fn payload_error(detail: &str) -> ManagementError {
    ManagementError::invalid_body(format!("Payload validation error: {detail}."))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

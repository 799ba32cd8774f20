//! `GET /api/v2/users`, `GET /api/v2/users/{id}` and `GET /api/v2/users-by-email`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::auth::{Caller, READ_CURRENT_USER, READ_USER_IDP_TOKENS, READ_USERS};
use super::error::ManagementError;
use super::params::{ListParams, QueryParams};
use super::render::{Renderer, user_json};
use crate::Broker;

/// `GET /api/v2/users`: searches users with `q` and returns one page of them.
pub(super) async fn list_users(
    State(broker): State<Broker>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ManagementError> {
    caller.require_any(&[READ_USERS, READ_USER_IDP_TOKENS])?;
    let params = ListParams::parse(raw.as_deref())?;
    let now = broker.inner.clock.now();

    // TODO-perf: every search loads, decrypts and renders all users of the tenant and filters
    // them in memory, so its cost grows with the number of users. A search index or a
    // translation of `q` to SQL would avoid the scan.
    let users = broker.store().list_users().await?;
    // The query runs on users rendered without upstream tokens, so no query can search them.
    let mut matched: Vec<(Value, &authbridge_core::model::User)> = users
        .iter()
        .map(|user| (user_json(user, false, now), user))
        .filter(|(document, _)| {
            params
                .query
                .as_ref()
                .is_none_or(|query| query.matches(document))
        })
        .collect();
    if let Some(sort) = &params.sort {
        matched.sort_by(|(left, _), (right, _)| sort.compare(left, right));
    }

    let total = matched.len();
    let renderer = Renderer::new(&caller, &params.fields, now);
    let page: Vec<Value> = matched
        .iter()
        .skip(params.start())
        .take(params.per_page)
        .map(|(_, user)| renderer.render(user))
        .collect();

    if !params.include_totals {
        return Ok(Json(Value::Array(page)));
    }
    Ok(Json(json!({
        "start": params.start(),
        "limit": params.per_page,
        "length": page.len(),
        "total": total,
        "users": page,
    })))
}

/// `GET /api/v2/users/{id}`. The id is percent-decoded once, so `%7C` is a `|` and a
/// double-encoded `%257C` stays `%7C` and names no user.
pub(super) async fn get_user(
    State(broker): State<Broker>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ManagementError> {
    let user_id = path.ok().map(|Path(user_id)| user_id);
    let own_profile = user_id
        .as_deref()
        .is_some_and(|id| caller.is_current_user(id));
    if !own_profile {
        // Auth0 names read:current_user among the accepted scopes, but that scope reads only
        // the caller's own profile, so other users need one of the other two.
        caller.require_any(&[READ_USERS, READ_CURRENT_USER, READ_USER_IDP_TOKENS])?;
        caller.require_any(&[READ_USERS, READ_USER_IDP_TOKENS])?;
    }
    let params = QueryParams::parse(raw.as_deref(), &["fields", "include_fields"])?;
    let fields = params.field_selection()?;
    let Some(user_id) = user_id else {
        return Err(ManagementError::inexistent_user());
    };

    let user = broker
        .store()
        .user(&user_id)
        .await?
        .ok_or_else(ManagementError::inexistent_user)?;
    let renderer = Renderer::new(&caller, &fields, broker.inner.clock.now());
    Ok(Json(renderer.render(&user)))
}

/// `GET /api/v2/users-by-email?email=`: the users with that email, ignoring case.
pub(super) async fn users_by_email(
    State(broker): State<Broker>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ManagementError> {
    caller.require_any(&[READ_USERS])?;
    let params = QueryParams::parse(raw.as_deref(), &["email", "fields", "include_fields"])?;
    let fields = params.field_selection()?;
    let email = params
        .get("email")
        .filter(|email| !email.is_empty())
        .ok_or_else(|| ManagementError::invalid_query("missing required property email"))?;

    let users = broker.store().users_by_email(email).await?;
    let renderer = Renderer::new(&caller, &fields, broker.inner.clock.now());
    Ok(Json(Value::Array(
        users.iter().map(|user| renderer.render(user)).collect(),
    )))
}

//! Users as the Management API returns them, and the `fields` selection.
//!
//! Upstream tokens appear in a user's identities only when the caller's token has
//! `read:user_idp_tokens`; otherwise the keys are absent, not null. Each time tokens are
//! returned, a security event names the user and the client, never the tokens.

use authbridge_core::model::User;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::{Caller, READ_USER_IDP_TOKENS};
use crate::login::iso;

/// The top-level fields of a user to return, chosen by `fields` and `include_fields`.
#[derive(Debug, Clone, Default)]
pub(super) struct FieldSelection {
    /// The listed field names; empty when `fields` is absent, which returns every field.
    names: Vec<String>,
    /// Whether the listed fields are the ones returned (`true`) or the ones left out.
    include: bool,
}

impl FieldSelection {
    /// Creates a selection from the comma-separated `fields` value.
    pub(super) fn new(fields: Option<&str>, include: bool) -> Self {
        let names = fields
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        Self { names, include }
    }

    /// Tells whether the field `name` is returned.
    pub(super) fn includes(&self, name: &str) -> bool {
        if self.names.is_empty() {
            return true;
        }
        self.names.iter().any(|listed| listed == name) == self.include
    }

    /// Removes the fields the selection leaves out from a rendered user.
    fn apply(&self, user: &mut Value) {
        if let Some(object) = user.as_object_mut() {
            object.retain(|name, _| self.includes(name));
        }
    }
}

/// Renders users for one caller and logs each release of upstream tokens.
pub(super) struct Renderer<'a> {
    caller: &'a Caller,
    fields: &'a FieldSelection,
    now: DateTime<Utc>,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(caller: &'a Caller, fields: &'a FieldSelection, now: DateTime<Utc>) -> Self {
        Self {
            caller,
            fields,
            now,
        }
    }

    /// Renders `user` with the caller's field selection, and with upstream tokens when the
    /// caller may read them and asked for identities.
    pub(super) fn render(&self, user: &User) -> Value {
        let with_tokens =
            self.caller.has(READ_USER_IDP_TOKENS) && self.fields.includes("identities");
        let mut rendered = user_json(user, with_tokens, self.now);
        self.fields.apply(&mut rendered);

        if with_tokens && holds_tokens(user) {
            tracing::info!(
                target: "authbridge::security",
                user_id = %user.user_id,
                client_id = %self.caller.client_id(),
                "upstream tokens read through the Management API"
            );
        }
        rendered
    }
}

fn holds_tokens(user: &User) -> bool {
    user.identities.iter().any(|identity| {
        identity.tokens.access_token.is_some() || identity.tokens.refresh_token.is_some()
    })
}

/// Renders a user as the Management API returns it, with upstream tokens in the identities
/// when `with_tokens`.
pub fn user_json(user: &User, with_tokens: bool, now: DateTime<Utc>) -> Value {
    let identities: Vec<Value> = user
        .identities
        .iter()
        .map(|identity| {
            let mut value = Map::new();
            value.insert("provider".into(), json!(identity.provider));
            value.insert("user_id".into(), json!(identity.user_id));
            value.insert("connection".into(), json!(identity.connection));
            value.insert("isSocial".into(), json!(identity.is_social));
            if with_tokens {
                let tokens = &identity.tokens;
                if let Some(access_token) = &tokens.access_token {
                    value.insert("access_token".into(), json!(access_token));
                }
                if let Some(refresh_token) = &tokens.refresh_token {
                    value.insert("refresh_token".into(), json!(refresh_token));
                }
                if let Some(expires_at) = tokens.expires_at {
                    let expires_in = (expires_at - now).num_seconds().max(0);
                    value.insert("expires_in".into(), json!(expires_in));
                }
            }
            Value::Object(value)
        })
        .collect();

    let mut body = Map::new();
    body.insert("user_id".into(), json!(user.user_id));
    let optional = [
        ("email", &user.email),
        ("name", &user.name),
        ("given_name", &user.given_name),
        ("family_name", &user.family_name),
        ("nickname", &user.nickname),
        ("picture", &user.picture),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            body.insert(name.into(), json!(value));
        }
    }
    body.insert("email_verified".into(), json!(user.email_verified));
    body.insert("identities".into(), Value::Array(identities));
    body.insert(
        "app_metadata".into(),
        Value::Object(user.app_metadata.clone()),
    );
    body.insert(
        "user_metadata".into(),
        Value::Object(user.user_metadata.clone()),
    );
    body.insert("created_at".into(), json!(iso(user.created_at)));
    body.insert("updated_at".into(), json!(iso(user.updated_at)));
    if let Some(last_login) = user.last_login {
        body.insert("last_login".into(), json!(iso(last_login)));
    }
    body.insert("logins_count".into(), json!(user.logins_count));
    if user.blocked {
        body.insert("blocked".into(), json!(true));
    }
    Value::Object(body)
}

//! The changes `PATCH /api/v2/users/{id}` makes to a user, validated before they reach the
//! store and applied by it in one transaction.

use authbridge_core::metadata::merge_top_level;
use authbridge_core::model::User;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Changes to one user. `None` leaves a field as it is. For the optional profile fields,
/// `Some(None)` clears the value.
#[derive(Debug, Clone, PartialEq)]
pub struct UserUpdate {
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub name: Option<Option<String>>,
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub picture: Option<Option<String>>,
    pub blocked: Option<bool>,
    /// Top-level `app_metadata` keys to set, a null value deleting its key; an empty object
    /// clears the whole `app_metadata`, as Auth0 does.
    pub app_metadata: Option<Map<String, Value>>,
    /// Top-level `user_metadata` keys, with the same rules as `app_metadata`.
    pub user_metadata: Option<Map<String, Value>>,
    /// The time recorded as the user's `updated_at`.
    pub at: DateTime<Utc>,
}

impl UserUpdate {
    /// Creates an update that changes nothing but `updated_at`, set to `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            email: None,
            email_verified: None,
            name: None,
            given_name: None,
            family_name: None,
            nickname: None,
            picture: None,
            blocked: None,
            app_metadata: None,
            user_metadata: None,
            at,
        }
    }

    /// Applies the changes to `user` in memory.
    pub fn apply(&self, user: &mut User) {
        let optional = [
            (&self.email, &mut user.email),
            (&self.name, &mut user.name),
            (&self.given_name, &mut user.given_name),
            (&self.family_name, &mut user.family_name),
            (&self.nickname, &mut user.nickname),
            (&self.picture, &mut user.picture),
        ];
        for (change, field) in optional {
            if let Some(value) = change {
                field.clone_from(value);
            }
        }
        if let Some(email_verified) = self.email_verified {
            user.email_verified = email_verified;
        }
        if let Some(blocked) = self.blocked {
            user.blocked = blocked;
        }

        apply_metadata(&mut user.app_metadata, self.app_metadata.as_ref());
        apply_metadata(&mut user.user_metadata, self.user_metadata.as_ref());
        user.updated_at = self.at;
    }
}

fn apply_metadata(stored: &mut Map<String, Value>, update: Option<&Map<String, Value>>) {
    match update {
        None => {}
        Some(update) if update.is_empty() => stored.clear(),
        Some(update) => merge_top_level(stored, update),
    }
}

//! The post-login flow: actions in order, one shared deadline, metadata carried forward.
//!
//! Auth0 does not apply `api.user.setAppMetadata`/`setUserMetadata` while an action runs: the
//! calling action's `event.user` stays as it was, and the changes are persisted once, after the
//! flow. Later actions in the same flow do see them, merged key by key into their
//! `event.user.app_metadata` and `user_metadata`, with keys set to null removed. `api.access.deny`
//! ends the flow after the denying action returns.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::error::ActionError;
use crate::modules::ModuleRegistry;
use crate::outcome::{ActionScript, PostLoginOutcome};
use crate::redact::Redactor;
use crate::sandbox::{self, ActionRun};

/// Settings that hold for every action of one flow.
pub(crate) struct FlowSettings {
    pub(crate) deadline: Instant,
    pub(crate) memory_limit_bytes: usize,
    pub(crate) modules: Arc<ModuleRegistry>,
}

/// Runs `actions` in order on `event` and returns their combined effects.
pub(crate) async fn run_post_login(
    actions: Vec<ActionScript>,
    event: Value,
    settings: FlowSettings,
) -> Result<PostLoginOutcome, ActionError> {
    let Value::Object(mut event) = event else {
        return Err(ActionError::InvalidEvent(format!(
            "expected a JSON object, got {}",
            json_type_name(&event)
        )));
    };
    // The runner supplies `event.secrets` per action; a caller's value would only be hidden.
    event.remove("secrets");
    add_missing_metadata(&mut event);

    let redactor = Arc::new(Redactor::new(
        actions.iter().flat_map(|action| action.secrets.values()),
    ));
    let mut outcome = PostLoginOutcome::default();

    for script in &actions {
        if Instant::now() >= settings.deadline {
            return Err(ActionError::Timeout { action: None });
        }

        let started = Instant::now();
        tracing::debug!(action_id = %script.id, action = %script.name, "running post-login action");
        outcome = sandbox::run_action(ActionRun {
            script,
            event: Value::Object(event_with_changes(&event, &outcome)),
            outcome,
            deadline: settings.deadline,
            memory_limit_bytes: settings.memory_limit_bytes,
            modules: &settings.modules,
            redactor: Arc::clone(&redactor),
        })
        .await?;
        tracing::debug!(
            action_id = %script.id,
            action = %script.name,
            elapsed_ms = started.elapsed().as_millis(),
            "post-login action finished"
        );

        if outcome.denied.is_some() {
            tracing::debug!(action_id = %script.id, action = %script.name, "flow stopped by deny");
            break;
        }
    }
    Ok(outcome)
}

/// Gives `event.user` empty `app_metadata` and `user_metadata` objects where they are missing,
/// as Auth0 always provides both.
fn add_missing_metadata(event: &mut Map<String, Value>) {
    let Some(Value::Object(user)) = event.get_mut("user") else {
        return;
    };
    for key in ["app_metadata", "user_metadata"] {
        let entry = user.entry(key).or_insert(Value::Null);
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
    }
}

/// Returns the event with the metadata changes requested so far merged into `event.user`.
fn event_with_changes(
    event: &Map<String, Value>,
    outcome: &PostLoginOutcome,
) -> Map<String, Value> {
    let mut event = event.clone();
    let Some(Value::Object(user)) = event.get_mut("user") else {
        return event;
    };
    merge_changes(user, "app_metadata", &outcome.app_metadata);
    merge_changes(user, "user_metadata", &outcome.user_metadata);
    event
}

fn merge_changes(user: &mut Map<String, Value>, key: &str, changes: &Map<String, Value>) {
    if changes.is_empty() {
        return;
    }
    let Some(Value::Object(metadata)) = user.get_mut(key) else {
        return;
    };
    for (name, value) in changes {
        if value.is_null() {
            metadata.remove(name);
        } else {
            metadata.insert(name.clone(), value.clone());
        }
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_metadata_becomes_empty_objects() {
        let Value::Object(mut event) = json!({"user": {"user_id": "u1", "app_metadata": null}})
        else {
            unreachable!("literal is an object");
        };
        add_missing_metadata(&mut event);
        assert_eq!(event["user"]["app_metadata"], json!({}));
        assert_eq!(event["user"]["user_metadata"], json!({}));
    }

    #[test]
    fn changes_merge_per_key_and_null_deletes() {
        let Value::Object(event) =
            json!({"user": {"app_metadata": {"a": 1, "b": 2}, "user_metadata": {}}})
        else {
            unreachable!("literal is an object");
        };
        let mut outcome = PostLoginOutcome::default();
        outcome.app_metadata.insert("a".to_owned(), Value::Null);
        outcome.app_metadata.insert("c".to_owned(), json!(3));
        let merged = event_with_changes(&event, &outcome);
        assert_eq!(merged["user"]["app_metadata"], json!({"b": 2, "c": 3}));
    }
}

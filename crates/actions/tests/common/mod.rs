//! Helpers shared by the integration tests.

#![allow(dead_code, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use authbridge_actions::{ActionError, ActionRunner, ActionScript, PostLoginOutcome, RunnerConfig};
use serde_json::{Value, json};

/// Starts a runner with the given flow timeout; timeout tests pass a short one.
pub(crate) fn runner_with_timeout(timeout: Duration) -> ActionRunner {
    ActionRunner::new(RunnerConfig {
        timeout,
        ..RunnerConfig::default()
    })
    .expect("runner starts")
}

/// Starts a runner whose timeout no test should reach.
pub(crate) fn runner() -> ActionRunner {
    runner_with_timeout(Duration::from_secs(10))
}

pub(crate) fn action(name: &str, code: &str) -> ActionScript {
    action_with_secrets(name, code, &[])
}

pub(crate) fn action_with_secrets(
    name: &str,
    code: &str,
    secrets: &[(&str, &str)],
) -> ActionScript {
    ActionScript {
        id: format!("id-{name}"),
        name: name.to_owned(),
        code: code.to_owned(),
        secrets: secrets
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Builds a post-login event for a user with some metadata.
pub(crate) fn event() -> Value {
    json!({
        "user": {
            "user_id": "oidc|Cencora|42",
            "email": "jane@example.com",
            "email_verified": false,
            "app_metadata": {"plan": "free", "region": "eu"},
            "user_metadata": {"theme": "dark"}
        },
        "client": {"client_id": "C", "name": "Demo"},
        "connection": {"name": "Cencora", "strategy": "oidc"},
        "transaction": {"state": "xyz"}
    })
}

/// Runs one action on the default event.
pub(crate) async fn run_one(code: &str) -> Result<PostLoginOutcome, ActionError> {
    runner()
        .run_post_login(vec![action("test-action", code)], event())
        .await
}

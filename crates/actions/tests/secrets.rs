//! `event.secrets`: per action, read-only, and never echoed in errors, logs or captures.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use authbridge_actions::{ActionError, MAX_MESSAGE_CHARS};
use common::{action, action_with_secrets, event, runner};
use serde_json::json;

const API_KEY: &str = "sk_live_TESTONLY_123";

#[tokio::test]
async fn action_reads_its_own_secret() {
    let actions = vec![action_with_secrets(
        "reader",
        "exports.onExecutePostLogin = async (event, api) => {
           api.idToken.setCustomClaim('key_matches', event.secrets.API_KEY === 'sk_live_TESTONLY_123');
         };",
        &[("API_KEY", API_KEY)],
    )];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("key_matches"),
        Some(&json!(true))
    );
}

#[tokio::test]
async fn missing_secret_is_undefined() {
    let actions = vec![action_with_secrets(
        "reader",
        "exports.onExecutePostLogin = async (event, api) => {
           api.idToken.setCustomClaim('missing_type', typeof event.secrets.MISSING);
           if (!event.secrets.MISSING) api.idToken.setCustomClaim('https://a.example/has_missing', false);
         };",
        &[("API_KEY", API_KEY)],
    )];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("missing_type"),
        Some(&json!("undefined"))
    );
    assert_eq!(
        outcome.id_token_claims.get("https://a.example/has_missing"),
        Some(&json!(false))
    );
}

#[tokio::test]
async fn secrets_are_frozen() {
    let actions = vec![action_with_secrets(
        "mutator",
        "exports.onExecutePostLogin = async (event, api) => {
           event.secrets.API_KEY = 'overwritten';
           event.secrets.ADDED = 'added';
           delete event.secrets.API_KEY;
           event.secrets = { API_KEY: 'replaced' };
           api.idToken.setCustomClaim('frozen', Object.isFrozen(event.secrets));
           api.idToken.setCustomClaim('key_kept', event.secrets.API_KEY === 'sk_live_TESTONLY_123');
           api.idToken.setCustomClaim('added_type', typeof event.secrets.ADDED);
         };",
        &[("API_KEY", API_KEY)],
    )];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("frozen"), Some(&json!(true)));
    assert_eq!(outcome.id_token_claims.get("key_kept"), Some(&json!(true)));
    assert_eq!(
        outcome.id_token_claims.get("added_type"),
        Some(&json!("undefined"))
    );
}

#[tokio::test]
async fn each_action_sees_only_its_own_secrets() {
    let actions = vec![
        action_with_secrets(
            "first",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('first_names', Object.keys(event.secrets));
             };",
            &[("FIRST", "one-value")],
        ),
        action_with_secrets(
            "second",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('second_names', Object.keys(event.secrets));
             };",
            &[("SECOND", "two-value")],
        ),
        action(
            "third",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('third_names', Object.keys(event.secrets));
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("first_names"),
        Some(&json!(["FIRST"]))
    );
    assert_eq!(
        outcome.id_token_claims.get("second_names"),
        Some(&json!(["SECOND"]))
    );
    assert_eq!(outcome.id_token_claims.get("third_names"), Some(&json!([])));
}

#[tokio::test]
async fn secrets_in_caller_event_are_replaced() {
    let mut event = event();
    event["secrets"] = json!({"LEAKED": "from-caller"});
    let actions = vec![action(
        "reader",
        "exports.onExecutePostLogin = async (event, api) => {
           api.idToken.setCustomClaim('names', Object.keys(event.secrets));
         };",
    )];
    let outcome = runner()
        .run_post_login(actions, event)
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("names"), Some(&json!([])));
}

#[tokio::test]
async fn thrown_error_message_redacts_secrets() {
    let actions = vec![action_with_secrets(
        "leaky",
        "exports.onExecutePostLogin = async (event, api) => {
           console.log('key is', event.secrets.API_KEY);
           throw new Error('boom ' + event.secrets.API_KEY);
         };",
        &[("API_KEY", API_KEY)],
    )];
    let error = runner()
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "leaky".to_owned(),
            message: "boom [redacted]".to_owned(),
        }
    );
    assert!(!error.to_string().contains(API_KEY), "display: {error}");
}

#[tokio::test]
async fn compile_error_message_redacts_secrets() {
    let actions = vec![action_with_secrets(
        "hardcoded",
        "exports.onExecutePostLogin = async () => { const sk_live_TESTONLY_123 sk_live_TESTONLY_123; };",
        &[("API_KEY", API_KEY)],
    )];
    let error = runner()
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    assert!(
        matches!(error, ActionError::Compile { .. }),
        "got {error:?}"
    );
    assert!(!format!("{error:?}").contains(API_KEY), "debug: {error:?}");
}

#[tokio::test]
async fn deny_reason_redacts_secrets() {
    let secret = "s3cr3t-value-xyz";
    let actions = vec![action_with_secrets(
        "gate",
        "exports.onExecutePostLogin = async (event, api) => {
           api.access.deny('denied ' + event.secrets.SECRET_ONE);
         };",
        &[("SECRET_ONE", secret)],
    )];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("deny is not an error");

    assert_eq!(outcome.denied.as_deref(), Some("denied [redacted]"));
}

#[tokio::test]
async fn deny_reason_redacts_secrets_of_earlier_actions() {
    let actions = vec![
        action_with_secrets(
            "handover",
            "exports.onExecutePostLogin = async (event, api) => {
               api.user.setAppMetadata('copied', event.secrets.API_KEY);
             };",
            &[("API_KEY", API_KEY)],
        ),
        action(
            "gate",
            "exports.onExecutePostLogin = async (event, api) => {
               api.access.deny('key ' + event.user.app_metadata.copied);
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("deny is not an error");

    assert_eq!(outcome.denied.as_deref(), Some("key [redacted]"));
}

#[tokio::test]
async fn secret_at_message_cut_is_redacted_whole() {
    let code = format!(
        "exports.onExecutePostLogin = async (event, api) => {{
           api.access.deny('x'.repeat({prefix}) + event.secrets.API_KEY);
         }};",
        prefix = MAX_MESSAGE_CHARS - 4,
    );
    let actions = vec![action_with_secrets("gate", &code, &[("API_KEY", API_KEY)])];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("deny is not an error");
    let reason = outcome.denied.expect("action denied");

    assert_eq!(reason.chars().count(), MAX_MESSAGE_CHARS);
    assert!(reason.ends_with("x[re…"), "reason ends with {reason:?}");
    assert!(
        !reason.contains("sk_"),
        "reason contains part of the secret"
    );
}

#[tokio::test]
async fn console_output_redacts_secrets() {
    let actions = vec![action_with_secrets(
        "logger",
        "exports.onExecutePostLogin = async (event) => {
           console.log('key is', event.secrets.API_KEY);
           console.error({ nested: 'Bearer ' + event.secrets.API_KEY });
         };",
        &[("API_KEY", API_KEY)],
    )];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    let messages: Vec<&str> = outcome
        .logs
        .iter()
        .map(|log| log.message.as_str())
        .collect();
    assert_eq!(
        messages,
        vec!["key is [redacted]", r#"{"nested":"Bearer [redacted]"}"#]
    );
}

#[tokio::test]
async fn secret_passed_to_later_action_is_still_redacted() {
    let actions = vec![
        action_with_secrets(
            "handover",
            "exports.onExecutePostLogin = async (event, api) => {
               api.user.setAppMetadata('copied', event.secrets.API_KEY);
             };",
            &[("API_KEY", API_KEY)],
        ),
        action(
            "logger",
            "exports.onExecutePostLogin = async (event) => {
               console.log(event.user.app_metadata.copied);
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.logs.len(), 1);
    assert_eq!(outcome.logs[0].message, "[redacted]");
}

#[test]
fn action_script_debug_hides_secret_values() {
    let script = action_with_secrets("a", "", &[("API_KEY", API_KEY)]);
    let debug = format!("{script:?}");

    assert!(debug.contains("API_KEY"), "debug: {debug}");
    assert!(!debug.contains(API_KEY), "debug: {debug}");
}

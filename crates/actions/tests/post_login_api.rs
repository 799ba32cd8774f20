//! The post-login `api` object, the order of actions and how their effects combine.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use authbridge_actions::{ActionError, MAX_MESSAGE_CHARS};
use common::{action, event, run_one, runner};
use serde_json::json;

#[tokio::test]
async fn custom_claims_are_collected_per_token() {
    let outcome = run_one(
        r#"
        exports.onExecutePostLogin = async (event, api) => {
          api.idToken.setCustomClaim('https://app.example.com/email', event.user.email);
          api.idToken.setCustomClaim('https://app.example.com/roles', ['admin', 'dev']);
          api.accessToken.setCustomClaim('https://api.example.com/tier', { level: 3 });
        };
        "#,
    )
    .await
    .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("https://app.example.com/email"),
        Some(&json!("jane@example.com"))
    );
    assert_eq!(
        outcome.id_token_claims.get("https://app.example.com/roles"),
        Some(&json!(["admin", "dev"]))
    );
    assert_eq!(outcome.id_token_claims.len(), 2);
    assert_eq!(
        outcome
            .access_token_claims
            .get("https://api.example.com/tier"),
        Some(&json!({"level": 3}))
    );
    assert_eq!(outcome.access_token_claims.len(), 1);
    assert_eq!(outcome.denied, None);
}

#[tokio::test]
async fn setters_return_api_for_chaining() {
    let outcome = run_one(
        r#"
        exports.onExecutePostLogin = async (event, api) => {
          const returned = api.idToken.setCustomClaim('a', 1).accessToken.setCustomClaim('b', 2);
          api.idToken.setCustomClaim('chained', returned === api);
          api.user.setAppMetadata('x', 1).user.setUserMetadata('y', 2);
        };
        "#,
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("a"), Some(&json!(1)));
    assert_eq!(outcome.id_token_claims.get("chained"), Some(&json!(true)));
    assert_eq!(outcome.access_token_claims.get("b"), Some(&json!(2)));
    assert_eq!(outcome.app_metadata.get("x"), Some(&json!(1)));
    assert_eq!(outcome.user_metadata.get("y"), Some(&json!(2)));
}

#[tokio::test]
async fn later_claim_overwrites_earlier_one() {
    let actions = vec![
        action(
            "first",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('level', 1);
               api.idToken.setCustomClaim('level', 2);
               api.idToken.setCustomClaim('kept', 'first');
             };",
        ),
        action(
            "second",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('level', 3);
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("level"), Some(&json!(3)));
    assert_eq!(outcome.id_token_claims.get("kept"), Some(&json!("first")));
}

#[tokio::test]
async fn reserved_claims_are_dropped_silently() {
    let outcome = run_one(
        r#"
        exports.onExecutePostLogin = async (event, api) => {
          api.idToken.setCustomClaim('https://tenant.auth0.com/isNew', true);
          api.idToken.setCustomClaim('https://x.webtask.io/a', 1);
          api.idToken.setCustomClaim('sub', 'someone-else');
          api.accessToken.setCustomClaim('aud', 'https://evil.example');
          api.idToken.setCustomClaim('https://app.example.com/isNew', true);
        };
        "#,
    )
    .await
    .expect("reserved claims do not fail the flow");

    assert_eq!(
        outcome.id_token_claims.get("https://app.example.com/isNew"),
        Some(&json!(true))
    );
    assert_eq!(outcome.id_token_claims.len(), 1);
    assert!(outcome.access_token_claims.is_empty());
}

#[tokio::test]
async fn later_action_sees_metadata_set_by_earlier_one() {
    let actions = vec![
        action(
            "assign-id",
            "exports.onExecutePostLogin = async (event, api) => {
               if (!event.user.app_metadata.ext_id) api.user.setAppMetadata('ext_id', 'X-123');
               api.user.setUserMetadata('locale', 'de');
               api.idToken.setCustomClaim('same_action_sees', event.user.app_metadata.ext_id ?? null);
             };",
        ),
        action(
            "claim-id",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('https://app.example.com/ext_id', event.user.app_metadata.ext_id ?? null);
               api.idToken.setCustomClaim('locale', event.user.user_metadata.locale ?? null);
               api.idToken.setCustomClaim('plan', event.user.app_metadata.plan);
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("same_action_sees"),
        Some(&json!(null))
    );
    assert_eq!(
        outcome
            .id_token_claims
            .get("https://app.example.com/ext_id"),
        Some(&json!("X-123"))
    );
    assert_eq!(outcome.id_token_claims.get("locale"), Some(&json!("de")));
    assert_eq!(outcome.id_token_claims.get("plan"), Some(&json!("free")));
    assert_eq!(outcome.app_metadata.get("ext_id"), Some(&json!("X-123")));
    assert_eq!(outcome.user_metadata.get("locale"), Some(&json!("de")));
}

#[tokio::test]
async fn null_or_undefined_metadata_deletes_key() {
    let actions = vec![
        action(
            "delete",
            "exports.onExecutePostLogin = async (event, api) => {
               api.user.setAppMetadata('plan', null);
               api.user.setAppMetadata('region', undefined);
               api.user.setUserMetadata('theme', null);
               api.idToken.setCustomClaim('plan_in_same_action', event.user.app_metadata.plan);
             };",
        ),
        action(
            "observe",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('app_keys', Object.keys(event.user.app_metadata));
               api.idToken.setCustomClaim('user_keys', Object.keys(event.user.user_metadata));
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.app_metadata.get("plan"), Some(&json!(null)));
    assert_eq!(outcome.app_metadata.get("region"), Some(&json!(null)));
    assert_eq!(outcome.user_metadata.get("theme"), Some(&json!(null)));
    assert_eq!(
        outcome.id_token_claims.get("plan_in_same_action"),
        Some(&json!("free"))
    );
    assert_eq!(outcome.id_token_claims.get("app_keys"), Some(&json!([])));
    assert_eq!(outcome.id_token_claims.get("user_keys"), Some(&json!([])));
}

#[tokio::test]
async fn metadata_set_again_after_delete_is_restored() {
    let actions = vec![
        action(
            "delete",
            "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('plan', null); };",
        ),
        action(
            "restore",
            "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('plan', 'pro'); };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.app_metadata.get("plan"), Some(&json!("pro")));
}

#[tokio::test]
async fn deny_stops_later_actions_and_keeps_earlier_effects() {
    let actions = vec![
        action(
            "enrich",
            "exports.onExecutePostLogin = async (event, api) => {
               api.user.setAppMetadata('seen', true);
               api.idToken.setCustomClaim('enriched', true);
             };",
        ),
        action(
            "gate",
            "exports.onExecutePostLogin = async (event, api) => {
               if (!event.user.email_verified) {
                 api.user.setUserMetadata('denied_once', true);
                 api.access.deny('Please verify your email & try again (#42)');
               }
               api.idToken.setCustomClaim('after_deny_in_same_action', true);
             };",
        ),
        action(
            "never-runs",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('third', true);
               api.user.setAppMetadata('third', true);
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("deny is not an error");

    assert_eq!(
        outcome.denied.as_deref(),
        Some("Please verify your email & try again (#42)")
    );
    assert_eq!(outcome.app_metadata.get("seen"), Some(&json!(true)));
    assert_eq!(outcome.user_metadata.get("denied_once"), Some(&json!(true)));
    assert_eq!(outcome.id_token_claims.get("enriched"), Some(&json!(true)));
    assert_eq!(
        outcome.id_token_claims.get("after_deny_in_same_action"),
        Some(&json!(true))
    );
    assert_eq!(outcome.id_token_claims.get("third"), None);
    assert_eq!(outcome.app_metadata.get("third"), None);
}

/// Returns the reason the single action `code` denied the login with.
async fn deny_reason(code: &str) -> String {
    run_one(code)
        .await
        .expect("deny is not an error")
        .denied
        .expect("action denied")
}

/// Asserts that `message` is `MAX_MESSAGE_CHARS` characters of `repeated`, the last one `…`.
fn assert_cut(message: &str, repeated: char) {
    assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    assert!(
        message.ends_with('…'),
        "message ends with {:?}",
        message.chars().last()
    );
    let prefix = message.trim_end_matches('…');
    assert!(
        prefix.chars().all(|c| c == repeated),
        "message starts with {:?}",
        prefix.chars().take(20).collect::<String>()
    );
}

#[tokio::test]
async fn long_deny_reason_is_cut() {
    let reason = deny_reason(
        "exports.onExecutePostLogin = async (event, api) => { api.access.deny('a'.repeat(1000000)); };",
    )
    .await;

    assert_cut(&reason, 'a');
}

#[tokio::test]
async fn long_deny_reason_is_cut_between_characters() {
    let reason = deny_reason(
        "exports.onExecutePostLogin = async (event, api) => { api.access.deny('é'.repeat(1000)); };",
    )
    .await;

    assert_cut(&reason, 'é');
}

#[tokio::test]
async fn deny_reason_at_the_limit_is_kept() {
    let code = format!(
        "exports.onExecutePostLogin = async (event, api) => {{ api.access.deny('b'.repeat({MAX_MESSAGE_CHARS})); }};"
    );
    let reason = deny_reason(&code).await;

    assert_eq!(reason, "b".repeat(MAX_MESSAGE_CHARS));
}

#[tokio::test]
async fn non_string_deny_reasons_become_strings() {
    let cases = [
        ("42", "42"),
        ("true", "true"),
        ("undefined", ""),
        ("null", ""),
        ("{ code: 7 }", "[object Object]"),
        ("{ toString() { return 'custom'; } }", "custom"),
        ("['a', 'b']", "a,b"),
        ("new Error('bad')", "Error: bad"),
        ("Symbol('tag')", "Symbol(tag)"),
        ("Object.create(null)", "[object Object]"),
        (
            "{ toString() { throw new Error('no'); } }",
            "[object Object]",
        ),
    ];
    for (reason, expected) in cases {
        let code = format!(
            "exports.onExecutePostLogin = async (event, api) => {{ api.access.deny({reason}); }};"
        );
        let outcome = run_one(&code).await;

        assert_eq!(
            outcome.map(|outcome| outcome.denied),
            Ok(Some(expected.to_owned())),
            "deny({reason})"
        );
    }
}

#[tokio::test]
async fn deny_without_reason_is_empty() {
    let reason =
        deny_reason("exports.onExecutePostLogin = async (event, api) => { api.access.deny(); };")
            .await;

    assert_eq!(reason, "");
}

#[tokio::test]
async fn module_exports_object_form_is_supported() {
    let outcome = run_one(
        "async function onExecutePostLogin(event, api) { api.idToken.setCustomClaim('form', 'module.exports'); }
         module.exports = { onExecutePostLogin };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("form"),
        Some(&json!("module.exports"))
    );
}

#[tokio::test]
async fn synchronous_handler_is_supported() {
    let outcome = run_one(
        "exports.onExecutePostLogin = (event, api) => { api.idToken.setCustomClaim('sync', true); };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("sync"), Some(&json!(true)));
}

#[tokio::test]
async fn missing_handler_is_compile_error() {
    let error = run_one("exports.onExecutePreUserRegistration = async () => {};")
        .await
        .expect_err("flow fails");

    match error {
        ActionError::Compile { action, message } => {
            assert_eq!(action, "test-action");
            assert!(message.contains("onExecutePostLogin"), "message: {message}");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[tokio::test]
async fn syntax_error_is_compile_error_naming_action() {
    let actions = vec![
        action("fine", "exports.onExecutePostLogin = async () => {};"),
        action(
            "broken",
            "exports.onExecutePostLogin = async (event, api) => {\n  const = 5;\n};",
        ),
    ];
    let error = runner()
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    match &error {
        ActionError::Compile { action, message } => {
            assert_eq!(action, "broken");
            assert!(
                message.contains("broken:2"),
                "message should give the line: {message}"
            );
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
    assert!(error.to_string().contains("broken"), "display: {error}");
}

#[tokio::test]
async fn error_thrown_by_module_body_is_thrown_error() {
    let error =
        run_one("throw new Error('bad module'); exports.onExecutePostLogin = async () => {};")
            .await
            .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "test-action".to_owned(),
            message: "bad module".to_owned(),
        }
    );
}

#[tokio::test]
async fn rejected_promise_is_thrown_error() {
    let error = run_one(
        "exports.onExecutePostLogin = async () => { await null; return Promise.reject(new TypeError('nope')); };",
    )
    .await
    .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "test-action".to_owned(),
            message: "nope".to_owned(),
        }
    );
}

#[tokio::test]
async fn thrown_string_is_reported_as_is() {
    let error = run_one("exports.onExecutePostLogin = async () => { throw 'plain string'; };")
        .await
        .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "test-action".to_owned(),
            message: "plain string".to_owned(),
        }
    );
}

#[tokio::test]
async fn long_thrown_message_is_cut() {
    let error = run_one(
        "exports.onExecutePostLogin = async () => { throw new Error('m'.repeat(1000000)); };",
    )
    .await
    .expect_err("flow fails");

    let ActionError::Thrown { action, message } = &error else {
        panic!("expected a thrown error, got a different variant: {error}");
    };
    assert_eq!(action, "test-action");
    assert_cut(message, 'm');
}

#[tokio::test]
async fn long_thrown_string_is_cut() {
    let error = run_one("exports.onExecutePostLogin = async () => { throw 's'.repeat(1000000); };")
        .await
        .expect_err("flow fails");

    let ActionError::Thrown { message, .. } = &error else {
        panic!("expected a thrown error, got a different variant: {error}");
    };
    assert_cut(message, 's');
}

#[tokio::test]
async fn long_compile_error_message_is_cut() {
    // QuickJS cuts identifiers in its syntax errors to about 64 bytes, but the location it
    // appends contains the whole action name.
    let name = "n".repeat(2000);
    let actions = vec![action(
        &name,
        "exports.onExecutePostLogin = async () => { const a a; };",
    )];
    let error = runner()
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    let ActionError::Compile { message, .. } = &error else {
        panic!("expected a compile error, got a different variant: {error}");
    };
    assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    assert!(message.contains("(at nnnn"), "message: {message}");
    assert!(message.ends_with("nnn…"), "message: {message}");
}

#[tokio::test]
async fn error_in_later_action_discards_the_flow() {
    let actions = vec![
        action(
            "ok",
            "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('a', 1); };",
        ),
        action(
            "fails",
            "exports.onExecutePostLogin = async () => { throw new Error('second'); };",
        ),
    ];
    let error = runner()
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "fails".to_owned(),
            message: "second".to_owned(),
        }
    );
}

#[tokio::test]
async fn actions_cannot_see_each_others_globals_or_event_changes() {
    let actions = vec![
        action(
            "writer",
            "globalThis.shared = 'leak';
             exports.onExecutePostLogin = async (event) => { event.user.email = 'changed@example.com'; };",
        ),
        action(
            "reader",
            "exports.onExecutePostLogin = async (event, api) => {
               api.idToken.setCustomClaim('shared', typeof shared);
               api.idToken.setCustomClaim('email', event.user.email);
             };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("shared"),
        Some(&json!("undefined"))
    );
    assert_eq!(
        outcome.id_token_claims.get("email"),
        Some(&json!("jane@example.com"))
    );
}

#[tokio::test]
async fn empty_action_list_returns_empty_outcome() {
    let outcome = runner()
        .run_post_login(Vec::new(), event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome, authbridge_actions::PostLoginOutcome::default());
}

#[tokio::test]
async fn event_that_is_not_an_object_is_rejected() {
    let error = runner()
        .run_post_login(Vec::new(), json!([1, 2]))
        .await
        .expect_err("flow fails");

    assert!(
        matches!(error, ActionError::InvalidEvent(_)),
        "got {error:?}"
    );
}

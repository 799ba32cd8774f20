//! The JavaScript environment: console, timers and the standard built-ins actions rely on.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use authbridge_actions::{ActionError, LogLevel, MAX_MESSAGE_CHARS, PostLoginOutcome};
use common::{action, event, run_one, runner};
use serde_json::json;

#[tokio::test]
async fn console_output_is_captured_with_level_and_action() {
    let actions = vec![
        action(
            "first",
            "exports.onExecutePostLogin = async (event) => {
               console.log('user', event.user.user_id, { n: 1 }, [1, 2], undefined, null, 3);
               console.info('info');
               console.warn('warn');
               console.error(new Error('bad thing'));
               console.debug('debug');
             };",
        ),
        action(
            "second",
            "exports.onExecutePostLogin = async () => { console.log('from second'); };",
        ),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    let lines: Vec<(LogLevel, &str, &str)> = outcome
        .logs
        .iter()
        .map(|log| (log.level, log.action.as_str(), log.message.as_str()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                LogLevel::Log,
                "first",
                r#"user oidc|Cencora|42 {"n":1} [1,2] undefined null 3"#
            ),
            (LogLevel::Info, "first", "info"),
            (LogLevel::Warn, "first", "warn"),
            (LogLevel::Error, "first", "Error: bad thing"),
            (LogLevel::Debug, "first", "debug"),
            (LogLevel::Log, "second", "from second"),
        ]
    );
}

#[tokio::test]
async fn console_output_is_truncated() {
    let outcome = run_one(
        "exports.onExecutePostLogin = async () => {
           console.log('a'.repeat(300));
           console.log('é'.repeat(300));
           console.log('short');
         };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.logs.len(), 3);
    assert_eq!(
        outcome.logs[0].message,
        "a".repeat(PostLoginOutcome::MAX_LOG_CHARS)
    );
    assert_eq!(
        outcome.logs[1].message,
        "é".repeat(PostLoginOutcome::MAX_LOG_CHARS)
    );
    assert_eq!(outcome.logs[2].message, "short");
}

#[tokio::test]
async fn console_output_is_limited_per_flow() {
    let outcome = run_one(
        "exports.onExecutePostLogin = async () => { for (let i = 0; i < 5000; i++) console.log(i); };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.logs.len(), 1001);
    assert_eq!(outcome.logs[999].message, "999");
    assert_eq!(outcome.logs[1000].level, LogLevel::Warn);
    assert!(
        outcome.logs[1000].message.contains("limit"),
        "{:?}",
        outcome.logs[1000]
    );
}

#[tokio::test]
async fn set_timeout_runs_callbacks_in_order() {
    let outcome = run_one(
        "exports.onExecutePostLogin = async (event, api) => {
           const order = [];
           await new Promise((resolve) => {
             setTimeout(() => order.push('late'), 40);
             setTimeout((label) => order.push(label), 5, 'early');
             const cancelled = setTimeout(() => order.push('cancelled'), 10);
             clearTimeout(cancelled);
             setTimeout(resolve, 80);
           });
           api.idToken.setCustomClaim('order', order);
         };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("order"),
        Some(&json!(["early", "late"]))
    );
}

#[tokio::test]
async fn error_in_timer_callback_fails_the_action() {
    let error = run_one(
        "exports.onExecutePostLogin = async () => {
           setTimeout(() => { throw new Error('timer broke'); }, 1);
           await new Promise((resolve) => setTimeout(resolve, 30));
         };",
    )
    .await
    .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "test-action".to_owned(),
            message: "timer broke".to_owned(),
        }
    );
}

#[tokio::test]
async fn long_error_in_timer_callback_is_cut() {
    let error = run_one(
        "exports.onExecutePostLogin = async () => {
           setTimeout(() => { throw new Error('t'.repeat(1000000)); }, 1);
           await new Promise((resolve) => setTimeout(resolve, 30));
         };",
    )
    .await
    .expect_err("flow fails");

    let ActionError::Thrown { message, .. } = &error else {
        panic!("expected a thrown error, got a different variant: {error}");
    };
    assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
    assert_eq!(
        message.as_str(),
        format!("{}…", "t".repeat(MAX_MESSAGE_CHARS - 1))
    );
}

#[tokio::test]
async fn standard_built_ins_are_available() {
    let outcome = run_one(
        r#"
        exports.onExecutePostLogin = async (event, api) => {
          const now = new Date().toISOString();
          api.idToken.setCustomClaim('iso', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(now));
          api.idToken.setCustomClaim('fixed', new Date(Date.UTC(2024, 0, 2)).toISOString());
          api.idToken.setCustomClaim('json', JSON.parse(JSON.stringify({ a: [1] })));
          const settled = await Promise.allSettled([Promise.resolve(1), Promise.reject(new Error('x'))]);
          api.idToken.setCustomClaim('settled', settled.map((result) => result.status));
          api.idToken.setCustomClaim('math', Math.max(1, 2));
          api.idToken.setCustomClaim('url_encode', encodeURIComponent('a b&c'));
        };
        "#,
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("iso"), Some(&json!(true)));
    assert_eq!(
        outcome.id_token_claims.get("fixed"),
        Some(&json!("2024-01-02T00:00:00.000Z"))
    );
    assert_eq!(
        outcome.id_token_claims.get("json"),
        Some(&json!({"a": [1]}))
    );
    assert_eq!(
        outcome.id_token_claims.get("settled"),
        Some(&json!(["fulfilled", "rejected"]))
    );
    assert_eq!(outcome.id_token_claims.get("math"), Some(&json!(2)));
    assert_eq!(
        outcome.id_token_claims.get("url_encode"),
        Some(&json!("a%20b%26c"))
    );
}

#[tokio::test]
async fn undefined_claim_value_removes_the_claim() {
    let outcome = run_one(
        "exports.onExecutePostLogin = async (event, api) => {
           api.idToken.setCustomClaim('temp', 1);
           api.idToken.setCustomClaim('temp', undefined);
           api.idToken.setCustomClaim('null_kept', null);
         };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("temp"), None);
    assert_eq!(outcome.id_token_claims.get("null_kept"), Some(&json!(null)));
}

#[tokio::test]
async fn oversized_custom_claims_throw() {
    let outcome = run_one(
        "exports.onExecutePostLogin = async (event, api) => {
           try {
             api.idToken.setCustomClaim('big', 'x'.repeat(200000));
           } catch (error) {
             api.idToken.setCustomClaim('error', error.name);
           }
         };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("big"), None);
    assert_eq!(
        outcome.id_token_claims.get("error"),
        Some(&json!("RangeError"))
    );
}

#[tokio::test]
async fn claim_value_that_is_not_json_throws() {
    let error = run_one(
        "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('n', 10n); };",
    )
    .await
    .expect_err("flow fails");

    assert!(
        matches!(&error, ActionError::Thrown { action, .. } if action == "test-action"),
        "got {error:?}"
    );
}

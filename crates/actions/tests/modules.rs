//! `require`, the capture module, host modules and what the sandbox leaves out.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use authbridge_actions::{ActionError, ActionRunner, CAPTURE_MODULE, HostModule, RunnerConfig};
use common::{action, action_with_secrets, event, run_one, runner};
use serde_json::json;

#[tokio::test]
async fn require_of_unknown_module_fails() {
    let outcome = run_one(
        r#"
        exports.onExecutePostLogin = async (event, api) => {
          for (const name of ['fs', 'child_process', 'axios', 'toString', '__proto__']) {
            try {
              require(name);
              api.idToken.setCustomClaim(name, 'loaded');
            } catch (error) {
              api.idToken.setCustomClaim(name, `${error.message} [${error.code}]`);
            }
          }
        };
        "#,
    )
    .await
    .expect("flow succeeds");

    for name in ["fs", "child_process", "axios", "toString", "__proto__"] {
        assert_eq!(
            outcome.id_token_claims.get(name),
            Some(&json!(format!(
                "Cannot find module '{name}' [MODULE_NOT_FOUND]"
            ))),
            "require({name})"
        );
    }
}

#[tokio::test]
async fn uncaught_require_failure_is_thrown_error() {
    let error = run_one("const fs = require('fs');\nexports.onExecutePostLogin = async () => {};")
        .await
        .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "test-action".to_owned(),
            message: "Cannot find module 'fs'".to_owned(),
        }
    );
}

#[tokio::test]
async fn sandbox_has_no_process_filesystem_or_network() {
    let outcome = run_one(
        r#"
        exports.onExecutePostLogin = async (event, api) => {
          for (const name of ['process', 'fetch', 'XMLHttpRequest', 'std', 'os', 'Deno', 'Bun']) {
            api.idToken.setCustomClaim(name, typeof globalThis[name]);
          }
        };
        "#,
    )
    .await
    .expect("flow succeeds");

    for name in [
        "process",
        "fetch",
        "XMLHttpRequest",
        "std",
        "os",
        "Deno",
        "Bun",
    ] {
        assert_eq!(
            outcome.id_token_claims.get(name),
            Some(&json!("undefined")),
            "{name}"
        );
    }
}

#[tokio::test]
async fn capture_module_records_deep_copies() {
    let outcome = run_one(
        r#"
        const { record } = require('@authbridge/capture');
        exports.onExecutePostLogin = async (event, api) => {
          const value = { user: event.user.user_id, list: [1, 'two', { three: 3 }] };
          record(value);
          value.user = 'mutated after record';
          record('plain');
          record(undefined);
        };
        "#,
    )
    .await
    .expect("flow succeeds");

    assert_eq!(
        outcome.captures,
        vec![
            json!({"user": "oidc|Cencora|42", "list": [1, "two", {"three": 3}]}),
            json!("plain"),
            json!(null),
        ]
    );
}

#[tokio::test]
async fn capture_module_redacts() {
    let actions = vec![action_with_secrets(
        "recorder",
        r#"
        const capture = require('@authbridge/capture');
        exports.onExecutePostLogin = async (event) => {
          capture.record({
            key: event.secrets.API_KEY,
            header: 'Bearer ' + event.secrets.API_KEY,
            secrets: event.secrets,
            other: { secrets: { NOT_A_SECRET_VALUE: 'visible elsewhere' } },
            identity: { access_token: 'upstream-at', refresh_token: 'upstream-rt' },
            plain: 'kept',
          });
        };
        "#,
        &[
            ("API_KEY", "sk_live_TESTONLY_123"),
            ("OTHER", "other-secret"),
        ],
    )];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.captures,
        vec![json!({
            "key": "[redacted]",
            "header": "Bearer [redacted]",
            "secrets": {"API_KEY": "[redacted]", "OTHER": "[redacted]"},
            "other": {"secrets": {"NOT_A_SECRET_VALUE": "[redacted]"}},
            "identity": {"access_token": "[redacted]", "refresh_token": "[redacted]"},
            "plain": "kept",
        })]
    );
}

#[tokio::test]
async fn captures_of_all_actions_are_kept_in_order() {
    let recorder = |label: &str| {
        format!(
            "const {{ record }} = require('@authbridge/capture');
             exports.onExecutePostLogin = async () => {{ record('{label}'); }};"
        )
    };
    let actions = vec![
        action("a", &recorder("first")),
        action("b", &recorder("second")),
    ];
    let outcome = runner()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.captures, vec![json!("first"), json!("second")]);
}

#[tokio::test]
async fn require_returns_the_same_module_twice() {
    let outcome = run_one(
        "exports.onExecutePostLogin = async (event, api) => {
           api.idToken.setCustomClaim('same', require('@authbridge/capture') === require('@authbridge/capture'));
         };",
    )
    .await
    .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("same"), Some(&json!(true)));
}

fn directory_module() -> HostModule {
    HostModule::new("@test/directory")
        .with_function("whoami", |call| Ok(json!({"id": call.action_id, "name": call.action_name})))
        .with_function("fail", |call| Err(format!("lookup failed for {}", call.args[0])))
        .with_async_function("lookup", |call| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let email = call.args.first().cloned().unwrap_or_default();
            Ok(json!({"email": email, "groups": ["staff"]}))
        })
        .with_async_function("lookupFails", |_call| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Err("directory unavailable".to_owned())
        })
        .with_source(
            r#"
            class Directory {
              constructor(options) { this.tenant = options.tenant; }
              async groupsOf(email) {
                const entry = await host.lookup(email);
                return entry.groups.map((group) => `${this.tenant}:${group}`);
              }
            }
            module.exports = { Directory, whoami: host.whoami, fail: host.fail, lookupFails: host.lookupFails };
            "#,
        )
}

fn runner_with_directory() -> ActionRunner {
    ActionRunner::new(RunnerConfig::default())
        .and_then(|runner| runner.with_module(directory_module()))
        .expect("runner starts")
}

#[tokio::test]
async fn host_module_with_async_function_and_source_works() {
    let actions = vec![action(
        "uses-directory",
        r#"
        const { Directory, whoami } = require('@test/directory');
        exports.onExecutePostLogin = async (event, api) => {
          const directory = new Directory({ tenant: 'acme' });
          api.idToken.setCustomClaim('https://app.example.com/groups', await directory.groupsOf(event.user.email));
          api.idToken.setCustomClaim('caller', whoami());
        };
        "#,
    )];
    let outcome = runner_with_directory()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome
            .id_token_claims
            .get("https://app.example.com/groups"),
        Some(&json!(["acme:staff"]))
    );
    assert_eq!(
        outcome.id_token_claims.get("caller"),
        Some(&json!({"id": "id-uses-directory", "name": "uses-directory"}))
    );
}

#[tokio::test]
async fn host_function_errors_become_javascript_errors() {
    let actions = vec![action(
        "handles-errors",
        r#"
        const directory = require('@test/directory');
        exports.onExecutePostLogin = async (event, api) => {
          try { directory.fail('x'); } catch (error) {
            api.idToken.setCustomClaim('sync_error', `${error instanceof Error}:${error.message}`);
          }
          try { await directory.lookupFails(); } catch (error) {
            api.idToken.setCustomClaim('async_error', `${error instanceof Error}:${error.message}`);
          }
        };
        "#,
    )];
    let outcome = runner_with_directory()
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(
        outcome.id_token_claims.get("sync_error"),
        Some(&json!("true:lookup failed for \"x\""))
    );
    assert_eq!(
        outcome.id_token_claims.get("async_error"),
        Some(&json!("true:directory unavailable"))
    );
}

#[tokio::test]
async fn unhandled_host_function_error_fails_the_action() {
    let actions = vec![action(
        "unhandled",
        "const directory = require('@test/directory');
         exports.onExecutePostLogin = async () => { await directory.lookupFails(); };",
    )];
    let error = runner_with_directory()
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::Thrown {
            action: "unhandled".to_owned(),
            message: "directory unavailable".to_owned(),
        }
    );
}

#[tokio::test]
async fn host_module_without_source_exports_its_functions() {
    let runner = ActionRunner::new(RunnerConfig::default())
        .and_then(|runner| {
            runner.with_module(HostModule::new("math").with_function("sum", |call| {
                Ok(json!(
                    call.args.iter().filter_map(|arg| arg.as_f64()).sum::<f64>()
                ))
            }))
        })
        .expect("runner starts");
    let actions = vec![action(
        "adds",
        "const math = require('math');
         exports.onExecutePostLogin = async (event, api) => {
           api.idToken.setCustomClaim('sum', math.sum(1, 2, 3.5));
           api.idToken.setCustomClaim('name', math.sum.name);
         };",
    )];
    let outcome = runner
        .run_post_login(actions, event())
        .await
        .expect("flow succeeds");

    assert_eq!(outcome.id_token_claims.get("sum"), Some(&json!(6.5)));
    assert_eq!(outcome.id_token_claims.get("name"), Some(&json!("sum")));
}

#[test]
fn module_registration_rejects_bad_names() {
    let registered = |names: &[&str]| {
        names.iter().try_fold(
            ActionRunner::new(RunnerConfig::default()).expect("runner starts"),
            |runner, name| runner.with_module(HostModule::new(*name)),
        )
    };

    assert!(registered(&["a", "b"]).is_ok());
    assert!(matches!(
        registered(&["a", "a"]),
        Err(ActionError::InvalidConfig(_))
    ));
    assert!(matches!(
        registered(&[CAPTURE_MODULE]),
        Err(ActionError::InvalidConfig(_))
    ));
    assert!(matches!(
        registered(&[" "]),
        Err(ActionError::InvalidConfig(_))
    ));
}

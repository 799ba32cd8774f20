//! The flow deadline, the memory limit and the worker pool.
//!
//! Timing bounds are loose on purpose: the tests share two cores with parallel builds.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use authbridge_actions::{ActionError, ActionRunner, HostModule, RunnerConfig};
use common::{action, event, runner_with_timeout};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_millis(300);

/// How late a timeout may be reported on a busy machine.
const SLACK: Duration = Duration::from_millis(2500);

async fn run_until_timeout(code: &str) -> (ActionError, Duration) {
    let runner = runner_with_timeout(TIMEOUT);
    let started = Instant::now();
    let error = runner
        .run_post_login(vec![action("slow", code)], event())
        .await
        .expect_err("flow times out");
    (error, started.elapsed())
}

fn assert_timed_out(error: &ActionError, elapsed: Duration) {
    assert_eq!(
        *error,
        ActionError::Timeout {
            action: Some("slow".to_owned()),
        }
    );
    assert!(elapsed >= TIMEOUT, "ended early, after {elapsed:?}");
    assert!(elapsed < TIMEOUT + SLACK, "ended late, after {elapsed:?}");
}

#[tokio::test]
async fn pending_promise_times_out() {
    let (error, elapsed) = run_until_timeout(
        "exports.onExecutePostLogin = async () => { await new Promise(() => {}); };",
    )
    .await;

    assert_timed_out(&error, elapsed);
}

#[tokio::test]
async fn cpu_loop_times_out() {
    let (error, elapsed) =
        run_until_timeout("exports.onExecutePostLogin = async () => { while (true) {} };").await;

    assert_timed_out(&error, elapsed);
}

#[tokio::test]
async fn cpu_loop_cannot_catch_the_interrupt() {
    let (error, elapsed) = run_until_timeout(
        "exports.onExecutePostLogin = async () => {
           for (;;) { try { while (true) {} } catch (e) { } }
         };",
    )
    .await;

    assert_timed_out(&error, elapsed);
}

#[tokio::test]
async fn cpu_loop_after_await_times_out() {
    let (error, elapsed) = run_until_timeout(
        "exports.onExecutePostLogin = async () => { await new Promise((r) => setTimeout(r, 10)); while (true) {} };",
    )
    .await;

    assert_timed_out(&error, elapsed);
}

#[tokio::test]
async fn cpu_loop_in_module_body_times_out() {
    let (error, elapsed) =
        run_until_timeout("while (true) {}\nexports.onExecutePostLogin = async () => {};").await;

    assert_timed_out(&error, elapsed);
}

#[tokio::test]
async fn long_timer_times_out() {
    let (error, elapsed) = run_until_timeout(
        "exports.onExecutePostLogin = async () => { await new Promise((r) => setTimeout(r, 60000)); };",
    )
    .await;

    assert_timed_out(&error, elapsed);
}

#[tokio::test]
async fn deadline_covers_the_whole_flow() {
    let runner = runner_with_timeout(Duration::from_millis(1000));
    let sleeper = "exports.onExecutePostLogin = async () => { await new Promise((r) => setTimeout(r, 400)); };";
    let actions = vec![
        action("one", sleeper),
        action("two", sleeper),
        action("three", sleeper),
        action("four", sleeper),
    ];
    let started = Instant::now();
    let error = runner
        .run_post_login(actions, event())
        .await
        .expect_err("four 400 ms actions exceed a 1 s flow");

    assert_eq!(
        error,
        ActionError::Timeout {
            action: Some("three".to_owned()),
        }
    );
    assert!(started.elapsed() < Duration::from_millis(1000) + SLACK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_keeps_serving_during_a_busy_loop() {
    let runner = Arc::new(
        ActionRunner::new(RunnerConfig {
            timeout: Duration::from_millis(1500),
            workers: 2,
            ..RunnerConfig::default()
        })
        .expect("runner starts"),
    );

    let busy_runner = Arc::clone(&runner);
    let busy = tokio::spawn(async move {
        busy_runner
            .run_post_login(
                vec![action(
                    "busy",
                    "exports.onExecutePostLogin = async () => { while (true) {} };",
                )],
                event(),
            )
            .await
    });
    // Give the busy flow time to occupy a worker.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let outcome = runner
        .run_post_login(
            vec![action(
                "quick",
                "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('quick', true); };",
            )],
            event(),
        )
        .await
        .expect("quick flow succeeds");
    let quick_elapsed = started.elapsed();

    assert_eq!(outcome.id_token_claims.get("quick"), Some(&json!(true)));
    assert!(
        quick_elapsed < Duration::from_millis(1000),
        "quick flow waited for the busy one: {quick_elapsed:?}"
    );

    let busy_result = busy.await.expect("busy task joins");
    assert_eq!(
        busy_result.expect_err("busy flow times out"),
        ActionError::Timeout {
            action: Some("busy".to_owned()),
        }
    );
}

#[tokio::test]
async fn caller_runtime_stays_responsive_during_a_busy_loop() {
    // A current-thread caller runtime: if the action ran on it, the ticker could not tick.
    let runner = runner_with_timeout(Duration::from_millis(600));
    let ticker = async {
        let mut ticks = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ticks += 1;
        }
        ticks
    };
    let flow = runner.run_post_login(
        vec![action(
            "busy",
            "exports.onExecutePostLogin = async () => { while (true) {} };",
        )],
        event(),
    );

    let started = Instant::now();
    let (ticks, result) = tokio::join!(
        async {
            let ticks = ticker.await;
            (ticks, started.elapsed())
        },
        flow
    );

    assert_eq!(ticks.0, 5);
    assert!(
        ticks.1 < Duration::from_millis(500),
        "ticker was blocked: {:?}",
        ticks.1
    );
    assert!(
        matches!(result, Err(ActionError::Timeout { .. })),
        "got {result:?}"
    );
}

#[tokio::test]
async fn slow_host_function_times_out() {
    let runner = runner_with_timeout(TIMEOUT)
        .with_module(
            HostModule::new("slow").with_async_function("call", |_call| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(json!(null))
            }),
        )
        .expect("module registers");
    let started = Instant::now();
    let error = runner
        .run_post_login(
            vec![action(
                "slow",
                "exports.onExecutePostLogin = async () => { await require('slow').call(); };",
            )],
            event(),
        )
        .await
        .expect_err("flow times out");

    assert_timed_out(&error, started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_flows_do_not_block_other_flows() {
    let runner = Arc::new(runner_with_timeout(Duration::from_millis(1500)));
    let hanging: Vec<_> = (0..5)
        .map(|_| {
            let runner = Arc::clone(&runner);
            tokio::spawn(async move {
                runner
                    .run_post_login(
                        vec![action(
                            "hangs",
                            "exports.onExecutePostLogin = async () => { await new Promise(() => {}); };",
                        )],
                        event(),
                    )
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let outcome = runner
        .run_post_login(
            vec![action(
                "quick",
                "exports.onExecutePostLogin = async () => {};",
            )],
            event(),
        )
        .await;
    let quick_elapsed = started.elapsed();

    assert!(outcome.is_ok(), "got {outcome:?}");
    assert!(
        quick_elapsed < Duration::from_millis(1000),
        "quick flow waited: {quick_elapsed:?}"
    );
    for task in hanging {
        let result = task.await.expect("task joins");
        assert!(
            matches!(result, Err(ActionError::Timeout { .. })),
            "got {result:?}"
        );
    }
}

#[tokio::test]
async fn deep_recursion_is_thrown_error() {
    let error = common::run_one(
        "function down(n) { return down(n + 1) + 1; }
         exports.onExecutePostLogin = async () => { down(0); };",
    )
    .await
    .expect_err("flow fails");

    assert!(
        matches!(&error, ActionError::Thrown { message, .. } if message.contains("stack")),
        "got {error:?}"
    );
}

#[tokio::test]
async fn memory_limit_is_enforced() {
    let runner = ActionRunner::new(RunnerConfig {
        memory_limit_bytes: 8 * 1024 * 1024,
        ..RunnerConfig::default()
    })
    .expect("runner starts");
    let actions = vec![action(
        "hungry",
        "exports.onExecutePostLogin = async () => {
           const chunks = [];
           for (;;) chunks.push('x'.repeat(1024 * 1024) + chunks.length);
         };",
    )];
    let error = runner
        .run_post_login(actions, event())
        .await
        .expect_err("flow fails");

    assert_eq!(
        error,
        ActionError::MemoryLimit {
            action: "hungry".to_owned(),
        }
    );
}

#[tokio::test]
async fn runner_serves_more_flows_after_a_failure() {
    let runner = runner_with_timeout(TIMEOUT);
    let failed = runner
        .run_post_login(
            vec![action(
                "slow",
                "exports.onExecutePostLogin = async () => { while (true) {} };",
            )],
            event(),
        )
        .await;
    assert!(
        matches!(failed, Err(ActionError::Timeout { .. })),
        "got {failed:?}"
    );

    let outcome = runner
        .run_post_login(
            vec![action(
                "after",
                "exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim('after', 1); };",
            )],
            event(),
        )
        .await
        .expect("next flow succeeds");
    assert_eq!(outcome.id_token_claims.get("after"), Some(&json!(1)));
}

#[test]
fn run_post_login_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}

    let runner = runner_with_timeout(TIMEOUT);
    let future = runner.run_post_login(Vec::new(), event());
    assert_send(&future);
}

#[tokio::test]
async fn huge_timeout_does_not_overflow() {
    let runner = runner_with_timeout(Duration::MAX);
    let outcome = runner
        .run_post_login(
            vec![action(
                "quick",
                "exports.onExecutePostLogin = async () => {};",
            )],
            event(),
        )
        .await;

    assert!(outcome.is_ok(), "got {outcome:?}");
}

#[test]
fn zero_workers_is_rejected() {
    let result = ActionRunner::new(RunnerConfig {
        workers: 0,
        ..RunnerConfig::default()
    });

    assert!(
        matches!(result, Err(ActionError::InvalidConfig(_))),
        "got {result:?}"
    );
}

#[test]
fn zero_memory_limit_is_rejected() {
    let result = ActionRunner::new(RunnerConfig {
        memory_limit_bytes: 0,
        ..RunnerConfig::default()
    });

    assert!(
        matches!(result, Err(ActionError::InvalidConfig(_))),
        "got {result:?}"
    );
}

#[test]
fn default_config_values() {
    let config = RunnerConfig::default();

    assert_eq!(config.timeout, Duration::from_secs(20));
    assert_eq!(config.memory_limit_bytes, 64 * 1024 * 1024);
    assert_eq!(config.workers, 2);
}

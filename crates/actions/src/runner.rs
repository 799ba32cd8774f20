//! The action worker pool and the public entry point.
//!
//! The runner owns a multi-thread tokio runtime with [`RunnerConfig::workers`] threads and runs
//! every flow as a task there, so JavaScript never runs on the caller's async workers. A flow
//! that waits on a promise occupies no thread. A flow stuck in a busy loop occupies one worker
//! until the interrupt handler stops it at the deadline, and the other workers keep serving.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::ActionError;
use crate::flow::{self, FlowSettings};
use crate::modules::{HostModule, ModuleRegistry};
use crate::outcome::{ActionScript, PostLoginOutcome};

/// Limits and pool size of an [`ActionRunner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Wall-clock limit for a whole flow, all actions together, counted from the call to
    /// [`ActionRunner::run_post_login`]. Auth0 allows 20 seconds.
    pub timeout: Duration,
    /// Memory limit of each action's QuickJS runtime, in bytes.
    pub memory_limit_bytes: usize,
    /// Threads in the action pool; at least 1.
    pub workers: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            memory_limit_bytes: 64 * 1024 * 1024,
            workers: 2,
        }
    }
}

/// Runs post-login flows on its own worker pool.
///
/// ```
/// use authbridge_actions::{ActionRunner, ActionScript, HostModule, RunnerConfig};
/// use serde_json::json;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runner = ActionRunner::new(RunnerConfig::default())?
///     .with_module(HostModule::new("tenant").with_function("name", |_call| Ok(json!("acme"))))?;
/// let action = ActionScript {
///     id: "act_1".to_owned(),
///     name: "add-tenant".to_owned(),
///     code: "exports.onExecutePostLogin = async (event, api) => {
///         api.idToken.setCustomClaim('https://example.com/tenant', require('tenant').name());
///     };"
///     .to_owned(),
///     secrets: Default::default(),
/// };
///
/// let caller = tokio::runtime::Runtime::new()?;
/// let outcome = caller.block_on(runner.run_post_login(vec![action], json!({"user": {}})))?;
/// assert_eq!(outcome.id_token_claims["https://example.com/tenant"], json!("acme"));
/// # Ok(())
/// # }
/// ```
///
/// Dropping the runner stops its pool without waiting; flows still running are abandoned and
/// their callers get [`ActionError::Internal`].
#[derive(Debug)]
pub struct ActionRunner {
    config: RunnerConfig,
    modules: Arc<ModuleRegistry>,
    /// Always `Some` until `Drop` takes it.
    pool: Option<Runtime>,
}

impl ActionRunner {
    /// Starts the worker pool.
    pub fn new(config: RunnerConfig) -> Result<Self, ActionError> {
        if config.workers == 0 {
            return Err(ActionError::InvalidConfig(
                "workers must be at least 1".to_owned(),
            ));
        }
        if config.memory_limit_bytes == 0 {
            // QuickJS reads 0 as "no limit", which is never what a caller means here.
            return Err(ActionError::InvalidConfig(
                "memory_limit_bytes must be greater than 0".to_owned(),
            ));
        }

        let pool = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.workers)
            .thread_name("authbridge-action")
            .enable_all()
            .build()
            .map_err(|error| {
                ActionError::Internal(format!("could not start the action pool: {error}"))
            })?;

        Ok(Self {
            config,
            modules: Arc::new(ModuleRegistry::default()),
            pool: Some(pool),
        })
    }

    /// Returns the configuration the runner was started with.
    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Registers a host module that actions can `require`.
    ///
    /// Fails with [`ActionError::InvalidConfig`] when the name is empty, taken by another
    /// module, or the name of the built-in capture module.
    pub fn with_module(mut self, module: HostModule) -> Result<Self, ActionError> {
        let mut modules = ModuleRegistry::clone(&self.modules);
        modules.register(module)?;
        self.modules = Arc::new(modules);
        Ok(self)
    }

    /// Runs the post-login `actions` in order on `event` (Auth0's post-login event object,
    /// without `secrets`; each action gets its own secrets there) and returns their effects.
    ///
    /// Dropping the returned future cancels the flow.
    pub async fn run_post_login(
        &self,
        actions: Vec<ActionScript>,
        event: Value,
    ) -> Result<PostLoginOutcome, ActionError> {
        let now = Instant::now();
        // A timeout too large to add to the clock means no practical limit.
        let deadline = now
            .checked_add(self.config.timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 60 * 60));
        let settings = FlowSettings {
            deadline,
            memory_limit_bytes: self.config.memory_limit_bytes,
            modules: Arc::clone(&self.modules),
        };
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| ActionError::Internal("the action pool has stopped".to_owned()))?;

        let task = AbortOnDrop(pool.spawn(flow::run_post_login(actions, event, settings)));
        task.await.map_err(|error| {
            ActionError::Internal(format!("the action task ended abnormally: {error}"))
        })?
    }
}

impl Drop for ActionRunner {
    fn drop(&mut self) {
        // Dropping a tokio runtime from async code panics; shutting it down in the background
        // works from any context.
        if let Some(pool) = self.pool.take() {
            pool.shutdown_background();
        }
    }
}

/// A task handle that aborts its task when dropped, so an abandoned flow stops at its next
/// await instead of running to its deadline.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

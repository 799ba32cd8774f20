//! Post-login Actions: Auth0-style JavaScript hooks run in an embedded QuickJS runtime.
//!
//! An [`ActionRunner`] owns a small pool of worker threads. Each call to
//! [`ActionRunner::run_post_login`] runs a list of [`ActionScript`]s in order on that pool and
//! returns their effects as a [`PostLoginOutcome`]: custom claims for the ID and access tokens,
//! metadata changes, a deny reason, captured values and console output. The caller mints the
//! tokens and persists the metadata; this crate does no I/O of its own.
//!
//! Each action gets a fresh QuickJS runtime and context, so actions cannot see each other's
//! globals. The sandbox has no filesystem, process or network access. `require` resolves only
//! host modules: the built-in `@authbridge/capture` module and whatever the embedding program
//! registers with [`ActionRunner::with_module`] (see [`HostModule`]).
//!
//! Limits: the whole flow shares one wall-clock deadline ([`RunnerConfig::timeout`]). The QuickJS
//! interrupt handler enforces it on busy JavaScript and a tokio timeout on pending promises.
//! Each action's runtime also has a memory limit ([`RunnerConfig::memory_limit_bytes`]).
//!
//! Secret values (`event.secrets`) are replaced by `[redacted]` in error messages, deny reasons,
//! console output and captures. Error messages and deny reasons are then cut to
//! [`MAX_MESSAGE_CHARS`] characters.
//!
//! Module map:
//! - `runner`: the worker pool and the public entry point.
//! - `flow`: runs the actions of one login in order and carries metadata between them.
//! - `sandbox`: one action in one QuickJS runtime, with its limits and error classification.
//! - `api`: the post-login `api` object, `console` and the collector of effects.
//! - `modules`: `require`, host modules and the capture module.
//! - `redact`, `claims`, `json`: secret redaction, reserved claim names, JSON conversion.

mod api;
mod claims;
mod error;
mod flow;
mod json;
mod modules;
mod outcome;
mod redact;
mod runner;
mod sandbox;

pub use error::ActionError;
pub use modules::{CAPTURE_MODULE, HostCall, HostFuture, HostModule, HostResult};
pub use outcome::{ActionLog, ActionScript, LogLevel, PostLoginOutcome};
pub use redact::{MAX_MESSAGE_CHARS, REDACTED};
pub use runner::{ActionRunner, RunnerConfig};

//! Rust side of the objects an action talks to: the post-login `api`, `console`, timers and the
//! capture module. Each builds a `host` object of Rust functions that the JavaScript glue in
//! `js/runtime.js` and `js/post_login.js` wraps.
//!
//! Every call writes into one [`Collector`] per action, which starts from the effects of the
//! actions before it, so size limits apply to the whole flow.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rquickjs::prelude::Async;
use rquickjs::{Ctx, Exception, Function, Object, Value};
use serde_json::Map;

use crate::claims::is_reserved_claim;
use crate::json::to_json;
use crate::modules::ActionIdentity;
use crate::outcome::{ActionLog, LogLevel, PostLoginOutcome};
use crate::redact::{Redactor, truncate_chars};
use crate::sandbox::describe_thrown;

/// Console lines kept per flow. One more line reports that later lines were dropped.
const MAX_LOG_LINES: usize = 1000;

/// Captured values kept per flow.
const MAX_CAPTURES: usize = 100;

/// Largest captured value, serialized.
const MAX_CAPTURE_BYTES: usize = 64 * 1024;

/// Largest serialized set of custom claims per token (Auth0 fails the login above 100 KB).
const MAX_CUSTOM_CLAIMS_BYTES: usize = 100 * 1000;

/// Largest serialized set of changes to app_metadata, and separately to user_metadata.
// NOTE: Auth0 documents a 32 KB limit on metadata written per login. It does not say whether
// the limit counts the changes or the merged result, so this counts the changes.
const MAX_METADATA_CHANGES_BYTES: usize = 32 * 1024;

/// Effects collected while one action runs.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    /// Effects of this action and every action before it in the flow.
    pub(crate) outcome: PostLoginOutcome,
    /// The first error thrown by a timer callback; it fails the action like a thrown error.
    pub(crate) uncaught_error: Option<String>,
}

/// State shared by the host functions of one action.
#[derive(Clone)]
pub(crate) struct ActionScope {
    pub(crate) action: Arc<ActionIdentity>,
    pub(crate) redactor: Arc<Redactor>,
    pub(crate) collector: Arc<Mutex<Collector>>,
}

impl ActionScope {
    pub(crate) fn collector(&self) -> MutexGuard<'_, Collector> {
        // A host function that panicked cannot leave the collector half-written, so the data
        // behind a poisoned lock is still sound.
        self.collector
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Builds the `host` object of `js/runtime.js`: `log`, `sleep` and `reportUncaught`.
pub(crate) fn runtime_host<'js>(
    ctx: &Ctx<'js>,
    scope: &ActionScope,
) -> rquickjs::Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;

    let log_scope = scope.clone();
    let log = Function::new(ctx.clone(), move |method: String, message: String| {
        record_log(&log_scope, LogLevel::from_console_method(&method), &message);
    })?;
    host.set("log", log)?;

    // Delays are capped at 2^31 - 1 ms, the largest delay browsers and Node accept.
    let sleep = Function::new(
        ctx.clone(),
        Async(|milliseconds: f64| async move {
            let milliseconds = milliseconds.clamp(0.0, f64::from(i32::MAX));
            tokio::time::sleep(Duration::from_millis(milliseconds as u64)).await;
            rquickjs::Result::Ok(())
        }),
    )?;
    host.set("sleep", sleep)?;

    let uncaught_scope = scope.clone();
    let report_uncaught = Function::new(ctx.clone(), move |error: Value<'js>| {
        let message = uncaught_scope
            .redactor
            .redact_message(&describe_thrown(&error));
        tracing::debug!(
            action = %uncaught_scope.action.name,
            %message,
            "action timer callback threw"
        );
        uncaught_scope
            .collector()
            .uncaught_error
            .get_or_insert(message);
    })?;
    host.set("reportUncaught", report_uncaught)?;

    Ok(host)
}

fn record_log(scope: &ActionScope, level: LogLevel, message: &str) {
    let message = truncate_chars(
        &scope.redactor.redact_text(message),
        PostLoginOutcome::MAX_LOG_CHARS,
    );
    let mut collector = scope.collector();
    let logs = &mut collector.outcome.logs;
    if logs.len() < MAX_LOG_LINES {
        tracing::debug!(action = %scope.action.name, level = level.as_str(), %message, "action console");
        logs.push(ActionLog {
            level,
            action: scope.action.name.clone(),
            message,
        });
    } else if logs.len() == MAX_LOG_LINES {
        logs.push(ActionLog {
            level: LogLevel::Warn,
            action: scope.action.name.clone(),
            message: format!(
                "console output limit of {MAX_LOG_LINES} lines reached, later lines were dropped"
            ),
        });
    }
}

/// Builds the `host` object of `js/post_login.js`: `deny`, `setCustomClaim` and `setMetadata`.
/// The glue passes `deny` its reason already converted to a string.
pub(crate) fn post_login_host<'js>(
    ctx: &Ctx<'js>,
    scope: &ActionScope,
) -> rquickjs::Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;

    let deny_scope = scope.clone();
    let deny = Function::new(ctx.clone(), move |reason: String| {
        let mut collector = deny_scope.collector();
        if collector.outcome.denied.is_none() {
            tracing::debug!(action = %deny_scope.action.name, "action denied access");
            collector.outcome.denied = Some(deny_scope.redactor.redact_message(&reason));
        }
    })?;
    host.set("deny", deny)?;

    let claim_scope = scope.clone();
    let set_custom_claim = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, token: String, name: String, value: Value<'js>| {
            set_custom_claim(&ctx, &claim_scope, &token, name, value)
        },
    )?;
    host.set("setCustomClaim", set_custom_claim)?;

    let metadata_scope = scope.clone();
    let set_metadata = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, kind: String, name: String, value: Value<'js>| {
            set_metadata(&ctx, &metadata_scope, &kind, name, value)
        },
    )?;
    host.set("setMetadata", set_metadata)?;

    Ok(host)
}

/// Stores a claim for `token` (`id_token` or `access_token`). `undefined` removes a claim set
/// earlier in the flow; reserved names are dropped without an error, as Auth0 does.
fn set_custom_claim<'js>(
    ctx: &Ctx<'js>,
    scope: &ActionScope,
    token: &str,
    name: String,
    value: Value<'js>,
) -> rquickjs::Result<()> {
    let value = to_json(ctx, value)?;
    if is_reserved_claim(&name) {
        tracing::debug!(action = %scope.action.name, claim = %name, "dropped reserved custom claim");
        return Ok(());
    }

    let mut collector = scope.collector();
    let claims = match token {
        "access_token" => &mut collector.outcome.access_token_claims,
        _ => &mut collector.outcome.id_token_claims,
    };
    let Some(value) = value else {
        claims.remove(&name);
        return Ok(());
    };

    let previous = claims.insert(name.clone(), value);
    if serialized_len(claims) > MAX_CUSTOM_CLAIMS_BYTES {
        restore(claims, name, previous);
        return Err(Exception::throw_range(
            ctx,
            &format!("custom claims for the {token} exceed {MAX_CUSTOM_CLAIMS_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Records a metadata change; `undefined` and `null` record a deletion (JSON null).
fn set_metadata<'js>(
    ctx: &Ctx<'js>,
    scope: &ActionScope,
    kind: &str,
    name: String,
    value: Value<'js>,
) -> rquickjs::Result<()> {
    let value = to_json(ctx, value)?.unwrap_or(serde_json::Value::Null);

    let mut collector = scope.collector();
    let changes = match kind {
        "user_metadata" => &mut collector.outcome.user_metadata,
        _ => &mut collector.outcome.app_metadata,
    };
    let previous = changes.insert(name.clone(), value);
    if serialized_len(changes) > MAX_METADATA_CHANGES_BYTES {
        restore(changes, name, previous);
        return Err(Exception::throw_range(
            ctx,
            &format!("{kind} changes exceed {MAX_METADATA_CHANGES_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Builds the `host` object of the capture module: `record(value)`.
pub(crate) fn capture_host<'js>(
    ctx: &Ctx<'js>,
    scope: &ActionScope,
) -> rquickjs::Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;
    let record_scope = scope.clone();
    let record = Function::new(ctx.clone(), move |ctx: Ctx<'js>, value: Value<'js>| {
        record_capture(&ctx, &record_scope, value)
    })?;
    host.set("record", record)?;
    Ok(host)
}

fn record_capture<'js>(
    ctx: &Ctx<'js>,
    scope: &ActionScope,
    value: Value<'js>,
) -> rquickjs::Result<()> {
    let value = to_json(ctx, value)?.unwrap_or(serde_json::Value::Null);
    let value = scope.redactor.redact_json(value);

    let size = serde_json::to_string(&value).map_or(0, |text| text.len());
    if size > MAX_CAPTURE_BYTES {
        return Err(Exception::throw_range(
            ctx,
            &format!("captured value is {size} bytes, more than the limit of {MAX_CAPTURE_BYTES}"),
        ));
    }

    let mut collector = scope.collector();
    if collector.outcome.captures.len() >= MAX_CAPTURES {
        return Err(Exception::throw_range(
            ctx,
            &format!("a flow can capture at most {MAX_CAPTURES} values"),
        ));
    }
    collector.outcome.captures.push(value);
    Ok(())
}

fn serialized_len(map: &Map<String, serde_json::Value>) -> usize {
    serde_json::to_string(map).map_or(usize::MAX, |text| text.len())
}

fn restore(
    map: &mut Map<String, serde_json::Value>,
    name: String,
    previous: Option<serde_json::Value>,
) {
    match previous {
        Some(previous) => {
            map.insert(name, previous);
        }
        None => {
            map.remove(&name);
        }
    }
}

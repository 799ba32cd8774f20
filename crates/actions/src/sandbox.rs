//! One action in one fresh QuickJS runtime.
//!
//! The runtime gets the flow deadline as an interrupt handler, which stops busy JavaScript, and
//! a memory limit. The whole execution runs under a tokio timeout for the same deadline, which
//! stops an action waiting on a promise that never settles. Dropping the runtime afterwards
//! discards anything the action left running, such as pending timers.
//!
//! The action's code is wrapped the way Node wraps a CommonJS module, in
//! `(function (exports, require, module, __filename, __dirname) { ... })`, in sloppy mode as in
//! Node. Failures are sorted by stage: a syntax error or a missing handler is a compile error,
//! anything thrown while the module body or the handler runs is a thrown error.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rquickjs::context::EvalOptions;
use rquickjs::prelude::This;
use rquickjs::{
    AsyncContext, AsyncRuntime, CatchResultExt, CaughtError, Ctx, Function, Object, Value,
};

use crate::api::{self, ActionScope, Collector};
use crate::error::ActionError;
use crate::json::from_json;
use crate::modules::{ActionIdentity, CAPTURE_MODULE, ModuleRegistry, module_entry};
use crate::outcome::{ActionScript, PostLoginOutcome};
use crate::redact::Redactor;

const RUNTIME_JS: &str = include_str!("js/runtime.js");
const POST_LOGIN_JS: &str = include_str!("js/post_login.js");

/// The exported function Auth0 calls for the post-login trigger.
const HANDLER_NAME: &str = "onExecutePostLogin";

/// Everything one action execution needs.
pub(crate) struct ActionRun<'a> {
    pub(crate) script: &'a ActionScript,
    /// The event for this action, with earlier metadata changes merged and without `secrets`.
    pub(crate) event: serde_json::Value,
    /// Effects of the actions before this one.
    pub(crate) outcome: PostLoginOutcome,
    pub(crate) deadline: Instant,
    pub(crate) memory_limit_bytes: usize,
    pub(crate) modules: &'a ModuleRegistry,
    pub(crate) redactor: Arc<Redactor>,
}

/// The stage an error happened in, which decides its [`ActionError`] variant.
#[derive(Clone, Copy)]
enum Stage {
    Setup,
    Compile,
    Run,
}

/// Runs one action and returns the flow's effects including this action's.
pub(crate) async fn run_action(mut run: ActionRun<'_>) -> Result<PostLoginOutcome, ActionError> {
    let action_name = run.script.name.clone();
    let deadline = run.deadline;

    let runtime = AsyncRuntime::new().map_err(|error| {
        ActionError::Internal(format!("could not create a QuickJS runtime: {error}"))
    })?;
    runtime.set_memory_limit(run.memory_limit_bytes).await;
    runtime
        .set_interrupt_handler(Some(Box::new(move || Instant::now() >= deadline)))
        .await;

    let context = match AsyncContext::full(&runtime).await {
        Ok(context) => context,
        Err(rquickjs::Error::Allocation) => {
            return Err(ActionError::MemoryLimit {
                action: action_name,
            });
        }
        Err(error) => {
            return Err(ActionError::Internal(format!(
                "could not create a QuickJS context: {error}"
            )));
        }
    };

    let scope = ActionScope {
        action: Arc::new(ActionIdentity {
            id: run.script.id.clone(),
            name: action_name.clone(),
        }),
        redactor: Arc::clone(&run.redactor),
        collector: Arc::new(Mutex::new(Collector {
            outcome: std::mem::take(&mut run.outcome),
            uncaught_error: None,
        })),
    };

    let execution = context.async_with(async |ctx| execute(ctx, &run, &scope).await);
    let result = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), execution)
        .await
        .unwrap_or_else(|_elapsed| {
            Err(ActionError::Timeout {
                action: Some(action_name.clone()),
            })
        });

    // Free the action's JavaScript heap now rather than when this function returns.
    drop(context);
    drop(runtime);
    result?;

    let collector = std::mem::take(&mut *scope.collector());
    if let Some(message) = collector.uncaught_error {
        return Err(ActionError::Thrown {
            action: action_name,
            message,
        });
    }
    Ok(collector.outcome)
}

async fn execute<'js>(
    ctx: Ctx<'js>,
    run: &ActionRun<'_>,
    scope: &ActionScope,
) -> Result<(), ActionError> {
    let fail = |stage: Stage, caught: CaughtError<'js>| classify(run, stage, caught);

    let (require, post_login) = install_globals(&ctx, run, scope)
        .catch(&ctx)
        .map_err(|caught| fail(Stage::Setup, caught))?;

    let factory = compile_action(&ctx, run.script)
        .catch(&ctx)
        .map_err(|caught| fail(Stage::Compile, caught))?;

    let handler = load_handler(&ctx, &factory, require, &run.script.name)
        .catch(&ctx)
        .map_err(|caught| fail(Stage::Run, caught))?;
    let Some(handler) = handler else {
        return Err(ActionError::Compile {
            action: run.script.name.clone(),
            message: format!("the action does not export an {HANDLER_NAME} function"),
        });
    };

    let returned = call_handler(&ctx, run, &post_login, &handler)
        .catch(&ctx)
        .map_err(|caught| fail(Stage::Run, caught))?;
    if let Some(promise) = returned.as_promise() {
        promise
            .clone()
            .into_future::<Value<'js>>()
            .await
            .catch(&ctx)
            .map_err(|caught| fail(Stage::Run, caught))?;
    }
    Ok(())
}

/// Installs `console` and timers, and returns `require` and the post-login glue object.
fn install_globals<'js>(
    ctx: &Ctx<'js>,
    run: &ActionRun<'_>,
    scope: &ActionScope,
) -> rquickjs::Result<(Function<'js>, Object<'js>)> {
    let modules = run.modules.build_table(ctx, &scope.action)?;
    let capture = module_entry(ctx, None, api::capture_host(ctx, scope)?)?;
    modules.set(CAPTURE_MODULE, capture)?;

    let install_runtime: Function = eval_internal(ctx, RUNTIME_JS, "authbridge:runtime")?;
    let require: Function = install_runtime.call((api::runtime_host(ctx, scope)?, modules))?;

    let post_login_factory: Function = eval_internal(ctx, POST_LOGIN_JS, "authbridge:post-login")?;
    let post_login: Object = post_login_factory.call((api::post_login_host(ctx, scope)?,))?;
    Ok((require, post_login))
}

fn eval_internal<'js, T: rquickjs::FromJs<'js>>(
    ctx: &Ctx<'js>,
    source: &str,
    filename: &str,
) -> rquickjs::Result<T> {
    let mut options = EvalOptions::default();
    options.filename = Some(filename.to_owned());
    ctx.eval_with_options(source, options)
}

/// Compiles the action into its CommonJS wrapper function without running its body. The
/// wrapper starts on the code's first line, so line numbers in errors match the source.
fn compile_action<'js>(ctx: &Ctx<'js>, script: &ActionScript) -> rquickjs::Result<Function<'js>> {
    let wrapped = format!(
        "(function (exports, require, module, __filename, __dirname) {{{}\n}})",
        script.code
    );
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(script.name.clone());
    ctx.eval_with_options(wrapped, options)
}

/// Runs the module body and returns its `onExecutePostLogin` export, if it is a function.
fn load_handler<'js>(
    ctx: &Ctx<'js>,
    factory: &Function<'js>,
    require: Function<'js>,
    filename: &str,
) -> rquickjs::Result<Option<Function<'js>>> {
    let exports = Object::new(ctx.clone())?;
    let module = Object::new(ctx.clone())?;
    module.set("exports", exports.clone())?;
    module.set("id", filename)?;

    factory.call::<_, ()>((
        This(exports.clone()),
        exports,
        require,
        module.clone(),
        filename,
        "/",
    ))?;

    let exports: Value = module.get("exports")?;
    let Some(exports) = exports.as_object() else {
        return Ok(None);
    };
    let handler: Value = exports.get(HANDLER_NAME)?;
    Ok(handler.into_function())
}

/// Builds `event` and `api` and calls the handler; returns what it returned.
fn call_handler<'js>(
    ctx: &Ctx<'js>,
    run: &ActionRun<'_>,
    post_login: &Object<'js>,
    handler: &Function<'js>,
) -> rquickjs::Result<Value<'js>> {
    let secrets: serde_json::Map<String, serde_json::Value> = run
        .script
        .secrets
        .iter()
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect();
    let secrets = from_json(ctx, &serde_json::Value::Object(secrets))?;
    let event = from_json(ctx, &run.event)?;

    let prepare_event: Function = post_login.get("prepareEvent")?;
    let event: Value = prepare_event.call((event, secrets))?;
    let create_api: Function = post_login.get("createApi")?;
    let api: Value = create_api.call(())?;

    handler.call((event, api))
}

/// Turns a JavaScript failure into the flow's error.
fn classify(run: &ActionRun<'_>, stage: Stage, caught: CaughtError<'_>) -> ActionError {
    let action = run.script.name.clone();

    // Past the deadline every failure is the interrupt handler's doing, or a consequence of it.
    if Instant::now() >= run.deadline {
        return ActionError::Timeout {
            action: Some(action),
        };
    }
    if is_out_of_memory(&caught) {
        return ActionError::MemoryLimit { action };
    }

    let message = run
        .redactor
        .redact_message(&describe_caught(&caught, stage));
    match stage {
        Stage::Setup => ActionError::Internal(format!(
            "could not set up the sandbox for action {action:?}: {message}"
        )),
        Stage::Compile => ActionError::Compile { action, message },
        Stage::Run => ActionError::Thrown { action, message },
    }
}

/// QuickJS reports an exceeded memory limit as `InternalError: out of memory`, or as an
/// allocation failure when it cannot even build that error.
fn is_out_of_memory(caught: &CaughtError<'_>) -> bool {
    match caught {
        CaughtError::Error(rquickjs::Error::Allocation) => true,
        CaughtError::Exception(exception) => {
            let name: Option<String> = exception.get("name").ok();
            name.as_deref() == Some("InternalError")
                && exception.message().as_deref() == Some("out of memory")
        }
        _ => false,
    }
}

fn describe_caught(caught: &CaughtError<'_>, stage: Stage) -> String {
    match caught {
        CaughtError::Exception(exception) => {
            let message = exception.message().unwrap_or_default();
            let location = exception.stack().as_deref().and_then(first_stack_location);
            match (stage, location) {
                // A syntax error's message does not say where it is.
                (Stage::Compile, Some(location)) => format!("{message} (at {location})"),
                _ => message,
            }
        }
        CaughtError::Value(value) => describe_thrown(value),
        CaughtError::Error(error) => error.to_string(),
    }
}

/// Returns `name:line:column` from the first frame of a QuickJS stack trace.
fn first_stack_location(stack: &str) -> Option<String> {
    let frame = stack
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("at "))?;
    let location = frame.trim_start_matches("at ");
    let location = match (location.rfind('('), location.ends_with(')')) {
        (Some(open), true) => &location[open + 1..location.len() - 1],
        _ => location,
    };
    Some(location.to_owned())
}

/// Returns the message of a thrown value: an `Error`'s `message`, a thrown string as is, any
/// other value as JSON (or its string form when it has no JSON form).
pub(crate) fn describe_thrown(value: &Value<'_>) -> String {
    if let Some(object) = value.as_object()
        && value.is_error()
    {
        return object.get::<_, String>("message").unwrap_or_default();
    }
    if let Some(text) = value.as_string() {
        return text.to_string().unwrap_or_default();
    }
    let json = value
        .ctx()
        .json_stringify(value.clone())
        .ok()
        .flatten()
        .and_then(|text| text.to_string().ok());
    json.unwrap_or_else(|| {
        value
            .get::<rquickjs::prelude::Coerced<String>>()
            .map(|coerced| coerced.0)
            .unwrap_or_else(|_| value.type_name().to_owned())
    })
}

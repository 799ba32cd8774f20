//! `require` and the modules it can load.
//!
//! Actions cannot load files or npm packages. `require(name)` returns only host modules: the
//! built-in [`CAPTURE_MODULE`] and the [`HostModule`]s registered with
//! [`crate::ActionRunner::with_module`]. Any other name throws
//! `Error("Cannot find module 'NAME'")` with `code` `MODULE_NOT_FOUND`, as Node does.
//!
//! A host module is a set of Rust functions, synchronous or async, that exchange JSON with
//! JavaScript, plus optional CommonJS glue code that wraps them in a friendlier API. An async
//! function returns a JavaScript promise, and its future runs on the runner's pool until it
//! settles or the flow deadline drops it. The JavaScript glue and the `require` function itself
//! live in `js/runtime.js`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rquickjs::prelude::{Async, Rest};
use rquickjs::{CatchResultExt, Ctx, Exception, Function, Object, Value};

use crate::ActionError;
use crate::json::{from_json, to_json};

/// Name of the built-in module whose `record(value)` appends a redacted deep copy of `value` to
/// [`crate::PostLoginOutcome::captures`].
pub const CAPTURE_MODULE: &str = "@authbridge/capture";

/// Result of a host function: a JSON value for JavaScript, or a message that JavaScript
/// receives as a thrown `Error`.
pub type HostResult = Result<serde_json::Value, String>;

/// The future an async host function returns.
pub type HostFuture = Pin<Box<dyn Future<Output = HostResult> + Send>>;

/// One call from JavaScript into a host function.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCall {
    /// [`crate::ActionScript::id`] of the calling action.
    pub action_id: String,
    /// [`crate::ActionScript::name`] of the calling action.
    pub action_name: String,
    /// The JavaScript arguments as JSON; `undefined` and functions become `null`.
    pub args: Vec<serde_json::Value>,
}

type SyncHostFn = dyn Fn(HostCall) -> HostResult + Send + Sync;
type AsyncHostFn = dyn Fn(HostCall) -> HostFuture + Send + Sync;

#[derive(Clone)]
enum HostFunction {
    Sync(Arc<SyncHostFn>),
    Async(Arc<AsyncHostFn>),
}

/// A module that actions load with `require(name)`.
///
/// Without source code, `require` returns an object holding the host functions. With source
/// code, the source runs once per action as a CommonJS module whose wrapper receives
/// `(exports, require, module, host)`, where `host` is that object, and `require` returns its
/// `module.exports`.
///
/// ```
/// use authbridge_actions::{HostModule, HostResult};
///
/// let module = HostModule::new("greeter")
///     .with_function("greet", |call| -> HostResult {
///         Ok(serde_json::json!(format!("hello from {}", call.action_name)))
///     })
///     .with_async_function("later", |call| async move { Ok(call.args.into()) })
///     .with_source("exports.greet = (name) => host.greet(name);\nexports.later = host.later;");
/// assert_eq!(module.name(), "greeter");
/// ```
#[derive(Clone)]
pub struct HostModule {
    name: String,
    source: Option<String>,
    functions: Vec<(String, HostFunction)>,
}

impl HostModule {
    /// Starts a module that `require(name)` returns.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            source: None,
            functions: Vec::new(),
        }
    }

    /// Returns the name actions pass to `require`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets CommonJS glue code; see the type documentation for what it receives.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Adds a synchronous host function. A function of the same name is replaced.
    pub fn with_function<F>(self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(HostCall) -> HostResult + Send + Sync + 'static,
    {
        self.with(name.into(), HostFunction::Sync(Arc::new(function)))
    }

    /// Adds an async host function, which returns a promise to JavaScript. A function of the
    /// same name is replaced.
    pub fn with_async_function<F, Fut>(self, name: impl Into<String>, function: F) -> Self
    where
        F: Fn(HostCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HostResult> + Send + 'static,
    {
        let boxed = move |call: HostCall| -> HostFuture { Box::pin(function(call)) };
        self.with(name.into(), HostFunction::Async(Arc::new(boxed)))
    }

    fn with(mut self, name: String, function: HostFunction) -> Self {
        self.functions.retain(|(existing, _)| *existing != name);
        self.functions.push((name, function));
        self
    }
}

impl fmt::Debug for HostModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let function_names: Vec<&str> = self
            .functions
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        f.debug_struct("HostModule")
            .field("name", &self.name)
            .field("has_source", &self.source.is_some())
            .field("functions", &function_names)
            .finish()
    }
}

/// The running action, as host functions see it.
#[derive(Debug, Clone)]
pub(crate) struct ActionIdentity {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// The host modules registered on a runner, in registration order.
#[derive(Clone, Default, Debug)]
pub(crate) struct ModuleRegistry {
    modules: Vec<HostModule>,
}

impl ModuleRegistry {
    /// Adds a module, rejecting empty, built-in and duplicate names.
    pub(crate) fn register(&mut self, module: HostModule) -> Result<(), ActionError> {
        if module.name.trim().is_empty() {
            return Err(ActionError::InvalidConfig(
                "host module name must not be empty".to_owned(),
            ));
        }
        if module.name == CAPTURE_MODULE {
            return Err(ActionError::InvalidConfig(format!(
                "host module name {CAPTURE_MODULE:?} is reserved for the built-in capture module"
            )));
        }
        if self
            .modules
            .iter()
            .any(|existing| existing.name == module.name)
        {
            return Err(ActionError::InvalidConfig(format!(
                "host module {:?} is already registered",
                module.name
            )));
        }
        self.modules.push(module);
        Ok(())
    }

    /// Builds the table that `require` reads: module name to `{ factory?, host }`.
    pub(crate) fn build_table<'js>(
        &self,
        ctx: &Ctx<'js>,
        action: &Arc<ActionIdentity>,
    ) -> rquickjs::Result<Object<'js>> {
        let table = Object::new(ctx.clone())?;
        for module in &self.modules {
            let host = Object::new(ctx.clone())?;
            for (name, function) in &module.functions {
                let js_function = host_function(ctx, function, action)?.with_name(name)?;
                host.set(name.as_str(), js_function)?;
            }
            let factory = match &module.source {
                Some(source) => Some(compile_module_source(ctx, &module.name, source)?),
                None => None,
            };
            table.set(module.name.as_str(), module_entry(ctx, factory, host)?)?;
        }
        Ok(table)
    }
}

/// Builds one entry of the `require` table.
pub(crate) fn module_entry<'js>(
    ctx: &Ctx<'js>,
    factory: Option<Function<'js>>,
    host: Object<'js>,
) -> rquickjs::Result<Object<'js>> {
    let entry = Object::new(ctx.clone())?;
    if let Some(factory) = factory {
        entry.set("factory", factory)?;
    }
    entry.set("host", host)?;
    Ok(entry)
}

fn compile_module_source<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    source: &str,
) -> rquickjs::Result<Function<'js>> {
    let wrapped = format!("(function (exports, require, module, host) {{{source}\n}})");
    let mut options = rquickjs::context::EvalOptions::default();
    options.strict = false;
    options.filename = Some(name.to_owned());
    ctx.eval_with_options(wrapped, options)
}

fn host_function<'js>(
    ctx: &Ctx<'js>,
    function: &HostFunction,
    action: &Arc<ActionIdentity>,
) -> rquickjs::Result<Function<'js>> {
    let action = Arc::clone(action);
    match function {
        HostFunction::Sync(function) => {
            let function = Arc::clone(function);
            Function::new(
                ctx.clone(),
                move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> rquickjs::Result<Value<'js>> {
                    let call = host_call(&ctx, &action, args)?;
                    settle(&ctx, function(call))
                },
            )
        }
        HostFunction::Async(function) => {
            let function = Arc::clone(function);
            Function::new(
                ctx.clone(),
                Async(move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
                    // A conversion error is caught here and thrown again inside the promise, so
                    // the caller sees a rejected promise, as with any other failure.
                    let future = host_call(&ctx, &action, args)
                        .catch(&ctx)
                        .map(|call| function(call));
                    async move {
                        match future {
                            Ok(future) => settle(&ctx, future.await),
                            Err(caught) => Err(caught.throw(&ctx)),
                        }
                    }
                }),
            )
        }
    }
}

fn host_call<'js>(
    ctx: &Ctx<'js>,
    action: &ActionIdentity,
    args: Rest<Value<'js>>,
) -> rquickjs::Result<HostCall> {
    let mut json_args = Vec::with_capacity(args.0.len());
    for arg in args.0 {
        json_args.push(to_json(ctx, arg)?.unwrap_or(serde_json::Value::Null));
    }
    Ok(HostCall {
        action_id: action.id.clone(),
        action_name: action.name.clone(),
        args: json_args,
    })
}

/// Turns a host function's result into a JavaScript return value or a thrown `Error`.
fn settle<'js>(ctx: &Ctx<'js>, result: HostResult) -> rquickjs::Result<Value<'js>> {
    match result {
        Ok(value) => from_json(ctx, &value),
        Err(message) => Err(Exception::throw_message(ctx, &message)),
    }
}

//! The data that goes into a flow ([`ActionScript`]) and comes out of it ([`PostLoginOutcome`]).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One deployed action: its code and its secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionScript {
    /// Stable identifier of the action, passed to host modules in [`crate::HostCall`].
    pub id: String,
    /// Display name, used in errors and logs.
    pub name: String,
    /// CommonJS source that exports `onExecutePostLogin(event, api)`.
    pub code: String,
    /// Secrets exposed to this action only, as `event.secrets`.
    pub secrets: BTreeMap<String, String>,
}

/// Prints secret names but never their values.
impl fmt::Debug for ActionScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionScript")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("code_len", &self.code.len())
            .field("secret_names", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The console method an action called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Debug,
    Info,
    Log,
    Warn,
    Error,
}

impl LogLevel {
    /// Parses the console method name (`log`, `info`, `warn`, `error`, `debug`).
    pub(crate) fn from_console_method(method: &str) -> Self {
        match method {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "warn" => Self::Warn,
            "error" => Self::Error,
            _ => Self::Log,
        }
    }

    /// The console method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Log => "log",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// One line of console output from an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLog {
    pub level: LogLevel,
    /// Name of the action that wrote the line.
    pub action: String,
    /// The formatted arguments, with secret values redacted, cut to
    /// [`PostLoginOutcome::MAX_LOG_CHARS`] characters.
    pub message: String,
}

/// The effects of a post-login flow, for the caller to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostLoginOutcome {
    /// Custom claims for the ID token. Claims with reserved names or under the `auth0.com`,
    /// `webtask.io` and `webtask.run` namespaces are dropped, as Auth0 drops them.
    pub id_token_claims: Map<String, Value>,
    /// Custom claims for the access token, filtered like `id_token_claims`.
    pub access_token_claims: Map<String, Value>,
    /// Top-level keys to merge into app_metadata; a JSON null value means delete the key.
    pub app_metadata: Map<String, Value>,
    /// Top-level keys to merge into user_metadata; a JSON null value means delete the key.
    pub user_metadata: Map<String, Value>,
    /// Set when an action called `api.access.deny(reason)`. The flow stopped after that action,
    /// and the claims and metadata above are still what the actions up to it requested: Auth0
    /// persists metadata changes even when the login is denied.
    ///
    /// The reason is converted with JavaScript's `String(reason)`, and is empty for `undefined`
    /// or `null`. Secret values are redacted, and the result is cut to
    /// [`crate::MAX_MESSAGE_CHARS`] characters.
    pub denied: Option<String>,
    /// Values an action recorded through the built-in capture module, secrets already redacted.
    pub captures: Vec<Value>,
    /// console.log/info/warn/error/debug lines, each truncated to
    /// [`Self::MAX_LOG_CHARS`] characters, secret values redacted.
    pub logs: Vec<ActionLog>,
}

impl PostLoginOutcome {
    /// Characters kept of each console line (Auth0 keeps 256).
    pub const MAX_LOG_CHARS: usize = 256;
}

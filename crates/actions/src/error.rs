//! The error type of the crate.
//!
//! Messages that carry text produced by an action (compile errors, thrown errors) have the secret
//! values of the flow replaced by `[redacted]` and are then cut to [`crate::MAX_MESSAGE_CHARS`]
//! characters before they are stored here. The caller may therefore log these errors and show
//! their messages to the end user.

/// A failure that ended an Action flow. The flow produced no outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The action's code does not parse, or it does not export `onExecutePostLogin`.
    #[error("action {action:?} failed to compile: {message}")]
    Compile { action: String, message: String },

    /// The action threw an error or its handler's promise was rejected.
    #[error("action {action:?} failed: {message}")]
    Thrown { action: String, message: String },

    /// The flow ran past its deadline. `action` is the action that was running, or `None` when
    /// none was: the flow waited in the pool's queue, or the deadline fell between two actions.
    #[error("{}", timeout_message(.action.as_deref()))]
    Timeout { action: Option<String> },

    /// The action's QuickJS runtime ran out of its memory limit.
    #[error("action {action:?} exceeded its memory limit")]
    MemoryLimit { action: String },

    /// The runner configuration or a registered host module is invalid.
    #[error("invalid action runner configuration: {0}")]
    InvalidConfig(String),

    /// The event given to the flow is not a JSON object.
    #[error("invalid action event: {0}")]
    InvalidEvent(String),

    /// A failure inside the runner itself, not caused by the action's code.
    #[error("action runner failed: {0}")]
    Internal(String),
}

fn timeout_message(action: Option<&str>) -> String {
    match action {
        Some(action) => format!("action {action:?} timed out: the flow exceeded its time limit"),
        None => "action flow timed out while no action was running".to_owned(),
    }
}

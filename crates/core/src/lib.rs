//! The tenant model of authbridge and the rules that need no I/O.
//!
//! - [`clock`]: the source of time every expiry check reads, so tests move time instead of
//!   sleeping.
//! - [`model`]: clients, APIs, connections, users and their identities.
//! - [`claims`]: which custom claims an action may set, and which scopes release which
//!   profile claims.
//! - [`metadata`]: how `app_metadata` and `user_metadata` updates merge.
//! - [`query`]: the Lucene subset of the Management API's user search.
//! - [`random`]: identifiers and opaque tokens.

pub mod claims;
pub mod clock;
pub mod metadata;
pub mod model;
pub mod query;
pub mod random;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};

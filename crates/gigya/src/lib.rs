//! A Gigya-compatible (SAP Customer Data Cloud) OpenID Connect provider.
//!
//! The provider serves the endpoints a CDC data center serves under
//! `/oidc/op/v1.0/{apiKey}`: discovery, JWKS, `authorize`, `token` and `userinfo`, plus the
//! `login` form target of its own login page. It is an axum router of its own, so a relying
//! party reaches it only over HTTP, as it would reach a real data center. State (signing keys,
//! pending logins, codes and tokens) lives in memory: this is an emulator for development and
//! tests, not an identity store.
//!
//! - [`config`]: the API key, issuer, registered clients and token lifetimes.
//! - [`accounts`]: Gigya accounts (`UID`, `loginID`, profile), loaded from a JSON file or the
//!   built-in demo set.
//! - [`Faults`]: switches that make the provider misbehave on purpose, for testing relying
//!   parties.
//! - [`Provider`]: the running provider, its router and the hooks tests use.
//!
//! # Where it differs from a real data center
//!
//! A real CDC OP redirects `authorize` to a proxy page hosted by the site, which loads the
//! Gigya Web SDK and a screen-set. This provider renders a plain HTML login form itself, so a
//! test can log in with two HTTP requests:
//!
//! 1. `GET {issuer}/authorize?…` returns `200` with a page containing exactly one
//!    `<form method="post" action="{issuer path}/login">` and, inside it,
//!    `<input type="hidden" name="context" value="…">` plus the text inputs `loginID` and
//!    `password`.
//! 2. `POST {issuer path}/login` with the form fields `context`, `loginID` and `password`
//!    returns `302` to `redirect_uri?code=st2.s.….sc3&state=…`.
//!
//! There are no browser sessions, so `prompt=none` always ends in `error=login_required`.
//! The codes have the shape of real CDC codes (`st2.s.<id>.<blob>.<blob>.sc3`, 288
//! characters); access and refresh tokens are opaque random strings.
//!
//! A request for an API key other than the configured one gets HTTP `404` with the Gigya
//! REST error envelope: `errorCode` 400093, `errorMessage` "Invalid ApiKey parameter",
//! `statusCode` 400. The response of a real data center to an unknown API key is not
//! documented.

pub mod accounts;
pub mod config;
mod error;
mod faults;
mod grants;
mod http;
mod keys;
mod pages;
mod provider;
mod tokens;

pub use accounts::{Account, AccountsError, Profile, default_accounts, load_accounts};
pub use config::{
    DEFAULT_API_KEY, DEFAULT_BASE_URL, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, OP_BASE_PATH,
    ProviderConfig, RelyingParty, issuer_for,
};
pub use error::ProviderError;
pub use faults::Faults;
pub use provider::Provider;

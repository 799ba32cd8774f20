//! The OpenID Connect building blocks authbridge signs and checks tokens with.
//!
//! - [`keys`]: RS256 signing keys, parsed once and kept for signing, and their JWKS form.
//! - [`jwt`]: compact JWT encoding and verification against a JWKS with an injected clock.
//! - [`pkce`]: code challenges (RFC 7636).
//! - [`discovery`]: the provider's `/.well-known/openid-configuration` document.

pub mod discovery;
pub mod jwt;
pub mod keys;
pub mod pkce;

pub use keys::{KeyError, SigningKey};

//! Deliberate misbehavior, switched on by tests of relying parties.
//!
//! Each field changes one thing and leaves the rest of the provider correct, so a test can
//! check that the relying party rejects exactly that defect.

/// Faults the provider injects into what it issues. The default injects none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Puts this value in the ID token's `iss` claim in place of the issuer.
    pub id_token_issuer: Option<String>,
    /// Puts this value in the ID token's `nonce` claim, whether or not a nonce was sent.
    pub id_token_nonce: Option<String>,
    /// Signs ID tokens with a key that the JWKS does not list, under that key's own `kid`.
    pub sign_with_unpublished_key: bool,
    /// Puts this value in the ID token's `aud` claim in place of the client id.
    pub id_token_audience: Option<String>,
    /// Leaves the `kid` out of the ID token header.
    pub omit_kid: bool,
    /// Makes every `token` request fail with this HTTP status and an OAuth error body, before
    /// looking at the request, so the code stays unused.
    pub token_endpoint_status: Option<u16>,
    /// Leaves `refresh_token` out of token responses.
    pub omit_refresh_token: bool,
}

//! In-memory records of what the provider has handed out: pending authorizations (login
//! contexts), authorization codes, access tokens and refresh tokens.
//!
//! Every record carries its expiry, checked against the caller's clock on lookup. Expired
//! records of a kind are dropped whenever a new record of that kind is inserted, so memory
//! stays bounded by the issue rate times the lifetime.
//!
//! Codes follow RFC 6749 section 4.1.2: single use, and a second redemption revokes the tokens
//! issued from the first. A redeemed code is remembered until its expiry, so replays within
//! that window are detected; later ones are rejected as unknown.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use authbridge_core::random;
use chrono::{DateTime, Utc};

/// A PKCE code challenge from the authorization request (RFC 7636).
#[derive(Debug, Clone)]
pub(crate) struct PkceChallenge {
    pub(crate) challenge: String,
    /// `S256` or `plain`.
    pub(crate) method: String,
}

/// An authorization request waiting for the login form.
#[derive(Debug, Clone)]
pub(crate) struct PendingAuthorization {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) pkce: Option<PkceChallenge>,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The authorization an authorization code represents.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) uid: String,
    pub(crate) scope: Vec<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) pkce: Option<PkceChallenge>,
    /// Time of the login, seconds since the Unix epoch.
    pub(crate) auth_time: i64,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The authorization an access token represents.
#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub(crate) uid: String,
    pub(crate) scope: Vec<String>,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The authorization a refresh token represents.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) uid: String,
    pub(crate) scope: Vec<String>,
    /// Time of the original login, seconds since the Unix epoch.
    pub(crate) auth_time: i64,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Outcome of presenting an authorization code.
#[derive(Debug)]
pub(crate) enum Redemption {
    /// First use: the code is now spent.
    Granted(CodeGrant),
    /// The code was never issued, or expired and was dropped.
    Unknown,
    /// The code expired.
    Expired,
    /// The code was used before; the tokens issued from it are now revoked.
    Replayed { client_id: String },
}

#[derive(Debug)]
struct CodeRecord {
    grant: CodeGrant,
    redeemed: bool,
    /// Access and refresh tokens issued from this code, revoked on replay.
    issued_tokens: Vec<String>,
}

#[derive(Debug, Default)]
struct Records {
    pending: HashMap<String, PendingAuthorization>,
    codes: HashMap<String, CodeRecord>,
    access_tokens: HashMap<String, AccessGrant>,
    refresh_tokens: HashMap<String, RefreshGrant>,
}

/// All records, behind one lock so that redeeming a code and revoking its tokens is atomic.
#[derive(Debug, Default)]
pub(crate) struct GrantStore {
    records: Mutex<Records>,
}

/// Returns a new authorization code in the CDC shape
/// `st2.s.<10 characters>.<180 characters>.<86 characters>.sc3`, all base64url, 288
/// characters in total.
fn new_code() -> String {
    format!(
        "st2.s.{}.{}.{}.sc3",
        random::nanoid(10),
        random::token(135),
        random::token(64)
    )
}

impl GrantStore {
    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a pending authorization and returns its opaque context id.
    pub(crate) fn insert_pending(
        &self,
        pending: PendingAuthorization,
        now: DateTime<Utc>,
    ) -> String {
        let context = random::token(24);
        let mut records = self.lock();
        records.pending.retain(|_, entry| entry.expires_at > now);
        records.pending.insert(context.clone(), pending);
        context
    }

    /// Returns the pending authorization of `context` unless it is unknown or expired.
    pub(crate) fn pending(
        &self,
        context: &str,
        now: DateTime<Utc>,
    ) -> Option<PendingAuthorization> {
        let mut records = self.lock();
        let pending = records.pending.get(context)?.clone();
        if pending.expires_at <= now {
            records.pending.remove(context);
            return None;
        }
        Some(pending)
    }

    /// Removes the pending authorization of `context`, so the login form cannot be posted
    /// twice.
    pub(crate) fn remove_pending(&self, context: &str) {
        self.lock().pending.remove(context);
    }

    /// Stores a code grant and returns the new code.
    pub(crate) fn insert_code(&self, grant: CodeGrant, now: DateTime<Utc>) -> String {
        let code = new_code();
        let mut records = self.lock();
        records
            .codes
            .retain(|_, record| record.grant.expires_at > now);
        let record = CodeRecord {
            grant,
            redeemed: false,
            issued_tokens: Vec::new(),
        };
        records.codes.insert(code.clone(), record);
        code
    }

    /// Spends `code`, matched byte for byte.
    pub(crate) fn redeem_code(&self, code: &str, now: DateTime<Utc>) -> Redemption {
        let mut records = self.lock();
        let Some(record) = records.codes.get_mut(code) else {
            return Redemption::Unknown;
        };

        if record.redeemed {
            let client_id = record.grant.client_id.clone();
            let revoked = std::mem::take(&mut record.issued_tokens);
            for token in &revoked {
                records.access_tokens.remove(token);
                records.refresh_tokens.remove(token);
            }
            return Redemption::Replayed { client_id };
        }

        if record.grant.expires_at <= now {
            records.codes.remove(code);
            return Redemption::Expired;
        }

        record.redeemed = true;
        Redemption::Granted(record.grant.clone())
    }

    /// Stores an access token issued from `code` (if any) and returns the token.
    pub(crate) fn insert_access_token(
        &self,
        grant: AccessGrant,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> String {
        let token = random::token(32);
        let mut records = self.lock();
        records
            .access_tokens
            .retain(|_, entry| entry.expires_at > now);
        records.access_tokens.insert(token.clone(), grant);
        record_issued(&mut records, code, &token);
        token
    }

    /// Stores a refresh token issued from `code` (if any) and returns the token.
    pub(crate) fn insert_refresh_token(
        &self,
        grant: RefreshGrant,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> String {
        let token = random::token(48);
        let mut records = self.lock();
        records
            .refresh_tokens
            .retain(|_, entry| entry.expires_at > now);
        records.refresh_tokens.insert(token.clone(), grant);
        record_issued(&mut records, code, &token);
        token
    }

    /// Returns the grant of an unexpired access token.
    pub(crate) fn access_token(&self, token: &str, now: DateTime<Utc>) -> Option<AccessGrant> {
        let records = self.lock();
        records
            .access_tokens
            .get(token)
            .filter(|grant| grant.expires_at > now)
            .cloned()
    }

    /// Returns the grant of an unexpired refresh token.
    pub(crate) fn refresh_token(&self, token: &str, now: DateTime<Utc>) -> Option<RefreshGrant> {
        let records = self.lock();
        records
            .refresh_tokens
            .get(token)
            .filter(|grant| grant.expires_at > now)
            .cloned()
    }
}

fn record_issued(records: &mut Records, code: Option<&str>, token: &str) {
    if let Some(record) = code.and_then(|code| records.codes.get_mut(code)) {
        record.issued_tokens.push(token.to_owned());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn grant(expires_at: DateTime<Utc>) -> CodeGrant {
        CodeGrant {
            client_id: "rp".to_owned(),
            redirect_uri: "https://rp.test/cb".to_owned(),
            uid: "4a6f1d2e8b9c4f0a9e3d2c1b0a998877".to_owned(),
            scope: vec!["openid".to_owned()],
            nonce: None,
            pkce: None,
            auth_time: 0,
            expires_at,
        }
    }

    #[test]
    fn code_has_gigya_shape() {
        let code = new_code();
        let parts: Vec<&str> = code.split('.').collect();
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[0], "st2");
        assert_eq!(parts[1], "s");
        assert_eq!(parts[2].len(), 10);
        assert_eq!(parts[3].len(), 180);
        assert_eq!(parts[4].len(), 86);
        assert_eq!(parts[5], "sc3");
        assert_eq!(code.len(), 288);
    }

    #[test]
    fn replay_revokes_issued_tokens() {
        let store = GrantStore::default();
        let now = Utc::now();
        let code = store.insert_code(grant(now + Duration::minutes(5)), now);
        assert!(matches!(
            store.redeem_code(&code, now),
            Redemption::Granted(_)
        ));

        let access = AccessGrant {
            uid: "u".to_owned(),
            scope: Vec::new(),
            expires_at: now + Duration::hours(1),
        };
        let token = store.insert_access_token(access, Some(&code), now);
        assert!(store.access_token(&token, now).is_some());

        assert!(matches!(
            store.redeem_code(&code, now),
            Redemption::Replayed { .. }
        ));
        assert!(store.access_token(&token, now).is_none());
    }

    #[test]
    fn expired_code_and_context_are_rejected() {
        let store = GrantStore::default();
        let now = Utc::now();
        let code = store.insert_code(grant(now + Duration::minutes(5)), now);
        let later = now + Duration::minutes(5);
        assert!(matches!(
            store.redeem_code(&code, later),
            Redemption::Expired
        ));
        assert!(matches!(
            store.redeem_code(&code, later),
            Redemption::Unknown
        ));

        let pending = PendingAuthorization {
            client_id: "rp".to_owned(),
            redirect_uri: "https://rp.test/cb".to_owned(),
            scope: Vec::new(),
            state: None,
            nonce: None,
            pkce: None,
            expires_at: now + Duration::minutes(10),
        };
        let context = store.insert_pending(pending, now);
        assert!(store.pending(&context, now).is_some());
        assert!(
            store
                .pending(&context, now + Duration::minutes(10))
                .is_none()
        );
    }
}

//! Gigya accounts that can log in to the provider.
//!
//! Accounts come from a JSON file in the shape of Gigya account records, or from the built-in
//! demo set ([`default_accounts`]). The file is an object with one key, `accounts`:
//!
//! ```json
//! {"accounts": [{
//!   "UID": "4a6f1d2e8b9c4f0a9e3d2c1b0a998877",
//!   "loginID": "ada@example.com",
//!   "password": "Passw0rd!",
//!   "isVerified": true,
//!   "profile": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
//!   "data": {}
//! }]}
//! ```
//!
//! - `UID` (required): 32 lowercase hexadecimal characters, unique. It becomes `sub`.
//! - `loginID` (required): what the user types on the login page; unique, matched without
//!   regard to ASCII case.
//! - `password` (required): plain text, compared in constant time and never logged.
//! - `isVerified` (default `false`): released as `email_verified`.
//! - `profile` (default empty): `firstName`, `lastName` and `email`, all optional.
//! - `data` (default `{}`): kept but not released in any claim.
//!
//! Other keys, such as those of a real account export, are ignored.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use authbridge_oidc::pkce::constant_time_eq;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Failures to load or accept a set of accounts.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("reading the accounts file {path} failed: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the accounts file {path} is not valid JSON of the form {{\"accounts\": [...]}}: {source}"
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("account UID {uid:?} is invalid: a UID is 32 lowercase hexadecimal characters")]
    InvalidUid { uid: String },
    #[error("account UID {uid} appears more than once")]
    DuplicateUid { uid: String },
    #[error("account {uid} has an empty loginID")]
    EmptyLoginId { uid: String },
    #[error("loginID {login_id:?} belongs to more than one account")]
    DuplicateLoginId { login_id: String },
}

/// A Gigya account, deserializable from the file shape in the module documentation.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// The Gigya UID, 32 lowercase hexadecimal characters.
    #[serde(rename = "UID")]
    pub uid: String,
    /// The identifier typed on the login page, usually an email address.
    #[serde(rename = "loginID")]
    pub login_id: String,
    /// The password.
    pub password: SecretString,
    /// Whether the email address is verified.
    #[serde(rename = "isVerified", default)]
    pub is_verified: bool,
    /// Profile fields released as claims.
    #[serde(default)]
    pub profile: Profile,
    /// Site-specific data; stored, not released.
    #[serde(default)]
    pub data: Map<String, Value>,
}

/// The profile fields of an account that the provider releases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Profile {
    /// Released as `given_name`.
    #[serde(rename = "firstName", default)]
    pub first_name: Option<String>,
    /// Released as `family_name`.
    #[serde(rename = "lastName", default)]
    pub last_name: Option<String>,
    /// Released as `email`.
    #[serde(default)]
    pub email: Option<String>,
}

impl Account {
    /// Returns first and last name joined by a space, or `None` when both are missing.
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.profile.first_name, &self.profile.last_name]
            .into_iter()
            .flatten()
            .map(|part| part.trim())
            .filter(|part| !part.is_empty())
            .collect();
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(" "))
        }
    }

    /// Compares `password` with the account's password in constant time.
    ///
    /// Both sides are hashed first, so the comparison time does not depend on where they
    /// differ or on the stored password's length.
    pub(crate) fn password_matches(&self, password: &str) -> bool {
        let stored = Sha256::digest(self.password.expose_secret().as_bytes());
        let given = Sha256::digest(password.as_bytes());
        constant_time_eq(&stored, &given)
    }
}

#[derive(Deserialize)]
struct AccountsFile {
    accounts: Vec<Account>,
}

/// Loads and validates accounts from the JSON file at `path`.
pub fn load_accounts(path: &Path) -> Result<Vec<Account>, AccountsError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccountsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: AccountsFile =
        serde_json::from_str(&text).map_err(|source| AccountsError::Parse {
            path: path.to_owned(),
            source,
        })?;
    validate_accounts(&file.accounts)?;
    Ok(file.accounts)
}

/// Returns the built-in demo accounts, all with the password `Passw0rd!`:
///
/// | loginID | UID | verified |
/// |---|---|---|
/// | `ada@example.com` (Ada Lovelace) | `4a6f1d2e8b9c4f0a9e3d2c1b0a998877` | yes |
/// | `grace@example.com` (Grace Hopper) | `0e8c8b922c37abfbdbd2060ac270276d` | no |
/// | `alan@example.com` (Alan Turing) | `7ebd9a7a9d48efe8bcbe4e61b7dce365` | yes |
pub fn default_accounts() -> Vec<Account> {
    let account = |uid: &str, first: &str, last: &str, email: &str, is_verified: bool| Account {
        uid: uid.to_owned(),
        login_id: email.to_owned(),
        password: SecretString::from("Passw0rd!"),
        is_verified,
        profile: Profile {
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            email: Some(email.to_owned()),
        },
        data: Map::new(),
    };
    vec![
        account(
            "4a6f1d2e8b9c4f0a9e3d2c1b0a998877",
            "Ada",
            "Lovelace",
            "ada@example.com",
            true,
        ),
        account(
            "0e8c8b922c37abfbdbd2060ac270276d",
            "Grace",
            "Hopper",
            "grace@example.com",
            false,
        ),
        account(
            "7ebd9a7a9d48efe8bcbe4e61b7dce365",
            "Alan",
            "Turing",
            "alan@example.com",
            true,
        ),
    ]
}

/// Checks UID shape and uniqueness of UIDs and loginIDs.
pub(crate) fn validate_accounts(accounts: &[Account]) -> Result<(), AccountsError> {
    let mut uids = HashSet::new();
    let mut login_ids = HashSet::new();
    for account in accounts {
        let uid_is_valid = account.uid.len() == 32
            && account
                .uid
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        if !uid_is_valid {
            return Err(AccountsError::InvalidUid {
                uid: account.uid.clone(),
            });
        }
        if !uids.insert(account.uid.as_str()) {
            return Err(AccountsError::DuplicateUid {
                uid: account.uid.clone(),
            });
        }
        if account.login_id.trim().is_empty() {
            return Err(AccountsError::EmptyLoginId {
                uid: account.uid.clone(),
            });
        }
        if !login_ids.insert(account.login_id.to_ascii_lowercase()) {
            return Err(AccountsError::DuplicateLoginId {
                login_id: account.login_id.clone(),
            });
        }
    }
    Ok(())
}

/// Accounts indexed by loginID and UID.
#[derive(Debug)]
pub(crate) struct AccountDirectory {
    accounts: Vec<Account>,
    by_login_id: HashMap<String, usize>,
    by_uid: HashMap<String, usize>,
}

impl AccountDirectory {
    /// Indexes already validated accounts.
    pub(crate) fn new(accounts: Vec<Account>) -> Self {
        let by_login_id = accounts
            .iter()
            .enumerate()
            .map(|(index, account)| (account.login_id.to_ascii_lowercase(), index))
            .collect();
        let by_uid = accounts
            .iter()
            .enumerate()
            .map(|(index, account)| (account.uid.clone(), index))
            .collect();
        Self {
            accounts,
            by_login_id,
            by_uid,
        }
    }

    /// Returns the account whose loginID and password match, or `None`.
    ///
    /// An unknown loginID still costs one password comparison, so response time does not tell
    /// which loginIDs exist.
    pub(crate) fn authenticate(&self, login_id: &str, password: &str) -> Option<&Account> {
        let account = self
            .by_login_id
            .get(&login_id.trim().to_ascii_lowercase())
            .and_then(|&index| self.accounts.get(index));
        match account {
            Some(account) if account.password_matches(password) => Some(account),
            Some(_) => None,
            None => {
                let decoy = Sha256::digest(b"no such account");
                let given = Sha256::digest(password.as_bytes());
                let _ = constant_time_eq(&decoy, &given);
                None
            }
        }
    }

    /// Returns the account with `uid`.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<&Account> {
        self.by_uid
            .get(uid)
            .and_then(|&index| self.accounts.get(index))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_accounts_contain_ada() {
        let accounts = default_accounts();
        validate_accounts(&accounts).unwrap();
        let ada = &accounts[0];
        assert_eq!(ada.uid, "4a6f1d2e8b9c4f0a9e3d2c1b0a998877");
        assert_eq!(ada.login_id, "ada@example.com");
        assert!(ada.password_matches("Passw0rd!"));
        assert!(ada.is_verified);
        assert_eq!(ada.full_name().as_deref(), Some("Ada Lovelace"));
        assert!(accounts.iter().any(|account| !account.is_verified));
    }

    #[test]
    fn authenticate_matches_login_id_without_case() {
        let directory = AccountDirectory::new(default_accounts());
        let found = directory.authenticate("ADA@example.com", "Passw0rd!");
        assert_eq!(
            found.map(|account| account.uid.as_str()),
            Some("4a6f1d2e8b9c4f0a9e3d2c1b0a998877")
        );
        assert!(
            directory
                .authenticate("ada@example.com", "passw0rd!")
                .is_none()
        );
        assert!(
            directory
                .authenticate("nobody@example.com", "Passw0rd!")
                .is_none()
        );
    }

    #[test]
    fn debug_output_hides_password() {
        let printed = format!("{:?}", default_accounts());
        assert!(!printed.contains("Passw0rd!"));
    }

    #[test]
    fn invalid_and_duplicate_accounts_are_rejected() {
        let mut upper = default_accounts();
        upper[0].uid = upper[0].uid.to_ascii_uppercase();
        assert!(matches!(
            validate_accounts(&upper),
            Err(AccountsError::InvalidUid { .. })
        ));

        let mut same_uid = default_accounts();
        same_uid[1].uid = same_uid[0].uid.clone();
        assert!(matches!(
            validate_accounts(&same_uid),
            Err(AccountsError::DuplicateUid { .. })
        ));

        let mut same_login = default_accounts();
        same_login[1].login_id = "Ada@Example.com".to_owned();
        assert!(matches!(
            validate_accounts(&same_login),
            Err(AccountsError::DuplicateLoginId { .. })
        ));
    }

    #[test]
    fn full_name_skips_missing_parts() {
        let mut account = default_accounts().remove(0);
        account.profile.last_name = None;
        assert_eq!(account.full_name().as_deref(), Some("Ada"));
        account.profile.first_name = None;
        assert_eq!(account.full_name(), None);
    }
}

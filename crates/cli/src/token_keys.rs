//! The key ring that encrypts upstream tokens in the store.
//!
//! The key comes from `AUTHBRIDGE_TOKEN_KEY` (base64 of 32 bytes), or from the file named by
//! `AUTHBRIDGE_TOKEN_KEY_FILE`, or else from `token-keys.json` in the data directory, which
//! is generated on first start with permissions for its owner only. That file lists every key
//! by id and names the current one, so older tokens still decrypt after a new key is added.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use authbridge_store::{TOKEN_KEY_LEN, TokenCipher};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

const KEY_FILE: &str = "token-keys.json";

#[derive(Serialize, Deserialize)]
struct KeyFile {
    current: String,
    /// Key ids to base64-encoded keys.
    keys: BTreeMap<String, String>,
}

/// Loads the token key ring: the keys of `token-keys.json` in the data directory, plus the
/// configured key when one is set, which then encrypts new values.
///
/// Keeping the file's keys when a key is configured lets values sealed before the switch
/// still decrypt. The file is generated only when neither exists.
pub(crate) fn load_or_create(data_dir: &Path) -> anyhow::Result<TokenCipher> {
    load_with(data_dir, configured_key()?)
}

fn load_with(data_dir: &Path, configured: Option<Vec<u8>>) -> anyhow::Result<TokenCipher> {
    let path = data_dir.join(KEY_FILE);
    let mut keys = Vec::new();
    let mut current = None;

    if path.exists() {
        let file: KeyFile = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {} failed", path.display()))?,
        )
        .with_context(|| format!("{} is not a valid key file", path.display()))?;
        for (kid, encoded) in &file.keys {
            let bytes = STANDARD
                .decode(encoded)
                .with_context(|| format!("key {kid} in {} is not base64", path.display()))?;
            keys.push((kid.clone(), bytes));
        }
        current = Some(file.current);
    }

    match configured {
        Some(bytes) => {
            let kid = match keys.iter().find(|(_, existing)| *existing == bytes) {
                Some((kid, _)) => kid.clone(),
                None => configured_key_id(&bytes),
            };
            if !keys.iter().any(|(existing, _)| *existing == kid) {
                keys.push((kid.clone(), bytes));
            }
            current = Some(kid);
        }
        None if current.is_none() => {
            if data_dir.join("tenant.db").exists() {
                tracing::warn!(
                    path = %path.display(),
                    "the store exists but its token key file does not; values sealed under the \
                     missing key cannot be decrypted until it is restored"
                );
            }
            let kid = format!("k{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
            let key = authbridge_core::random::random_bytes(TOKEN_KEY_LEN);
            let file = KeyFile {
                current: kid.clone(),
                keys: BTreeMap::from([(kid.clone(), STANDARD.encode(&key))]),
            };
            write_private(&path, &serde_json::to_vec_pretty(&file)?)?;
            tracing::info!(path = %path.display(), "generated the token encryption key");
            keys.push((kid.clone(), key));
            current = Some(kid);
        }
        None => {}
    }

    let current = current.unwrap_or_default();
    Ok(TokenCipher::new(&keys, &current)?)
}

/// Reads the key from `AUTHBRIDGE_TOKEN_KEY` or from the file `AUTHBRIDGE_TOKEN_KEY_FILE`
/// names, base64 of 32 bytes in both.
fn configured_key() -> anyhow::Result<Option<Vec<u8>>> {
    let (encoded, source) = match (
        std::env::var("AUTHBRIDGE_TOKEN_KEY"),
        std::env::var("AUTHBRIDGE_TOKEN_KEY_FILE"),
    ) {
        (Ok(encoded), _) => (encoded, "AUTHBRIDGE_TOKEN_KEY".to_owned()),
        (Err(_), Ok(path)) => {
            let encoded = std::fs::read_to_string(&path)
                .with_context(|| format!("reading AUTHBRIDGE_TOKEN_KEY_FILE {path} failed"))?;
            (encoded, format!("the key file {path}"))
        }
        (Err(_), Err(_)) => return Ok(None),
    };
    let bytes = STANDARD
        .decode(encoded.trim())
        .with_context(|| format!("the key in {source} is not base64"))?;
    if bytes.len() != TOKEN_KEY_LEN {
        bail!(
            "the key in {source} must be {TOKEN_KEY_LEN} bytes, got {}",
            bytes.len()
        );
    }
    Ok(Some(bytes))
}

/// Returns a stable id for a configured key that reveals nothing of it: a SHA-256 prefix.
fn configured_key_id(key: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key);
    let prefix: String = digest
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("c{prefix}")
}

#[cfg(unix)]
fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} failed", path.display()))?;
    file.write_all(content)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, content).with_context(|| format!("creating {} failed", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let sealed = first.encrypt("token", "ctx").unwrap();

        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(second.decrypt(&sealed, "ctx").unwrap(), "token");
    }

    #[test]
    fn configured_key_joins_the_key_file_ring() {
        let dir = tempfile::tempdir().unwrap();
        let before = load_with(dir.path(), None).unwrap();
        let sealed_before = before.encrypt("old", "ctx").unwrap();

        let configured = vec![7u8; TOKEN_KEY_LEN];
        let after = load_with(dir.path(), Some(configured.clone())).unwrap();
        let sealed_after = after.encrypt("new", "ctx").unwrap();

        assert_eq!(after.decrypt(&sealed_before, "ctx").unwrap(), "old");
        assert!(sealed_after.starts_with(&format!("v1.{}.", configured_key_id(&configured))));
        let again = load_with(dir.path(), Some(configured)).unwrap();
        assert_eq!(again.decrypt(&sealed_after, "ctx").unwrap(), "new");
    }

    #[test]
    fn configured_key_alone_needs_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let cipher = load_with(dir.path(), Some(vec![9u8; TOKEN_KEY_LEN])).unwrap();
        assert_eq!(
            cipher
                .decrypt(&cipher.encrypt("x", "c").unwrap(), "c")
                .unwrap(),
            "x"
        );
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[cfg(unix)]
    #[test]
    fn generated_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

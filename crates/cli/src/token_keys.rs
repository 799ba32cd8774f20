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

/// Loads the token key ring from the environment or the data directory.
pub(crate) fn load_or_create(data_dir: &Path) -> anyhow::Result<TokenCipher> {
    if let Ok(encoded) = std::env::var("AUTHBRIDGE_TOKEN_KEY") {
        return single_key(&encoded).context("AUTHBRIDGE_TOKEN_KEY is invalid");
    }
    if let Ok(path) = std::env::var("AUTHBRIDGE_TOKEN_KEY_FILE") {
        let encoded = std::fs::read_to_string(&path)
            .with_context(|| format!("reading AUTHBRIDGE_TOKEN_KEY_FILE {path} failed"))?;
        return single_key(encoded.trim()).with_context(|| format!("the key in {path} is invalid"));
    }

    let path = data_dir.join(KEY_FILE);
    if !path.exists() {
        let kid = format!("k{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
        let key = STANDARD.encode(authbridge_core::random::random_bytes(TOKEN_KEY_LEN));
        let file = KeyFile {
            current: kid.clone(),
            keys: BTreeMap::from([(kid, key)]),
        };
        write_private(&path, &serde_json::to_vec_pretty(&file)?)?;
        tracing::info!(path = %path.display(), "generated the token encryption key");
    }
    let file: KeyFile = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {} failed", path.display()))?,
    )
    .with_context(|| format!("{} is not a valid key file", path.display()))?;
    let mut keys = Vec::new();
    for (kid, encoded) in &file.keys {
        let bytes = STANDARD
            .decode(encoded)
            .with_context(|| format!("key {kid} in {} is not base64", path.display()))?;
        keys.push((kid.clone(), bytes));
    }
    Ok(TokenCipher::new(&keys, &file.current)?)
}

fn single_key(encoded: &str) -> anyhow::Result<TokenCipher> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .context("the key is not base64")?;
    if bytes.len() != TOKEN_KEY_LEN {
        bail!("the key must be {TOKEN_KEY_LEN} bytes, got {}", bytes.len());
    }
    Ok(TokenCipher::new(
        &[("configured".to_owned(), bytes)],
        "configured",
    )?)
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

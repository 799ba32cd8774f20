//! Local HTTPS for `authbridge up --tls`: a certificate authority kept in the data directory
//! and a server certificate it signs at every start.
//!
//! The official Auth0 SDKs build `https://{domain}` URLs, so they need the broker on HTTPS.
//! Trusting the CA file (`NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`) makes
//! them accept the broker without disabling verification. The CA's private key stays in the
//! data directory, readable by its owner only.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// The PEM files of a started TLS setup.
pub(crate) struct TlsFiles {
    /// The CA certificate clients should trust.
    pub(crate) ca_path: PathBuf,
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// Returns the CA (created on first use) and a fresh server certificate for `hosts`.
pub(crate) fn prepare(data_dir: &Path, hosts: &[String]) -> anyhow::Result<TlsFiles> {
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {} failed", dir.display()))?;
    let ca_path = dir.join("ca.pem");
    let ca_key_path = dir.join("ca-key.pem");

    if !ca_path.exists() || !ca_key_path.exists() {
        let key = KeyPair::generate().context("generating the CA key failed")?;
        let certificate = ca_params()
            .self_signed(&key)
            .context("creating the CA certificate failed")?;
        write_private(&ca_key_path, &key.serialize_pem())?;
        std::fs::write(&ca_path, certificate.pem())
            .with_context(|| format!("writing {} failed", ca_path.display()))?;
    }
    let ca_pem = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("reading {} failed", ca_path.display()))?;
    let ca_key_pem = std::fs::read_to_string(&ca_key_path)
        .with_context(|| format!("reading {} failed", ca_key_path.display()))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)
        .with_context(|| format!("{} is not a valid key", ca_key_path.display()))?;
    // The CA's parameters are fixed, so an issuer rebuilt from them and the stored key signs
    // certificates that chain to the stored CA certificate.
    let issuer = Issuer::new(ca_params(), ca_key);

    let server_key = KeyPair::generate().context("generating the server key failed")?;
    let mut params = CertificateParams::new(hosts.to_vec())
        .context("a host name is invalid for a certificate")?;
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    params.distinguished_name = name;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2034, 1, 1);
    let certificate = params
        .signed_by(&server_key, &issuer)
        .context("signing the server certificate failed")?;

    Ok(TlsFiles {
        ca_path,
        ca_pem,
        cert_pem: certificate.pem(),
        key_pem: server_key.serialize_pem(),
    })
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "authbridge local CA");
    name.push(DnType::OrganizationName, "authbridge");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2044, 1, 1);
    params
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {} failed", path.display()))?;
    file.write_all(content.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    std::fs::write(path, content).with_context(|| format!("creating {} failed", path.display()))
}

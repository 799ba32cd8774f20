//! Compatibility tests of the Management API with Auth0's official SDKs: the `auth0` npm
//! package (`tests/compat/sdk-node.mjs`) and `auth0-python` (`tests/compat/sdk_python.py`).
//!
//! Each test starts `authbridge up --tls` on ports the OS picks in a temporary directory. It
//! logs in once with `authbridge login --demo`, so the demo user exists with upstream tokens.
//! Then it runs one script against the broker's HTTPS endpoint with the stack's CA trusted, and
//! asserts on the findings the script prints.
//!
//! The tests need `node` and `python3` on PATH with the packages installed:
//! `npm ci --prefix tests/compat` and `python3 -m pip install -r tests/compat/requirements.txt`
//! (scripts/test.sh runs both on first use). A test fails, never skips, when a requirement is
//! missing, and the failure message names the install command.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const DEMO_USER_ID: &str = "oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
const CONNECTION: &str = "Cencora";
const NARROWED_SCOPE: &str = "read:users";
const UPSTREAM_TOKEN_KEYS: [&str; 3] = ["access_token", "refresh_token", "expires_in"];

/// Maximum time from spawning `authbridge up` to its complete banner.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Maximum run time of `authbridge login`, of one script or of one prerequisite check.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

const NPM_INSTALL: &str = "npm ci --prefix tests/compat";
const PIP_INSTALL: &str = "python3 -m pip install -r tests/compat/requirements.txt";

/// A running `authbridge up --tls`, killed when dropped.
struct Stack {
    broker_port: u16,
    gigya_port: u16,
    app_port: u16,
    /// The CA certificate that signed the broker's certificate.
    ca_path: PathBuf,
    workdir: PathBuf,
    log_path: PathBuf,
    child: Child,
    /// The read end of the stack's stdout, kept open so a late write does not fail with EPIPE.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Stack {
    /// Starts `authbridge up --tls` in `workdir` on ports the OS picks, with `workdir/data` as
    /// data directory, and waits for its banner.
    async fn start(workdir: &Path) -> anyhow::Result<Self> {
        let log_path = workdir.join("authbridge-up.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {} failed", log_path.display()))?;
        let mut command = authbridge_command(workdir);
        command
            .args(["up", "--tls", "--port", "0"])
            .args(["--gigya-port", "0", "--app-port", "0"])
            .arg("--data-dir")
            .arg(workdir.join("data"));
        let mut child = command
            .kill_on_drop(true)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {AUTHBRIDGE} up failed"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the child has no stdout pipe"))?;
        let mut stdout = BufReader::new(stdout).lines();

        let banner = match tokio::time::timeout(STARTUP_TIMEOUT, read_banner(&mut stdout)).await {
            Ok(Ok(banner)) => banner,
            Ok(Err(error)) => {
                let _ = child.kill().await;
                bail!("{error:#}\nlog of authbridge up:\n{}", read_log(&log_path));
            }
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "authbridge up printed no complete banner within {STARTUP_TIMEOUT:?}\n\
                     log of authbridge up:\n{}",
                    read_log(&log_path)
                );
            }
        };
        if !banner.issuer.starts_with("https://localhost:") {
            bail!(
                "authbridge up --tls printed the issuer {}, expected https://localhost:PORT/",
                banner.issuer
            );
        }

        Ok(Self {
            broker_port: port_of(&banner.issuer)?,
            gigya_port: port_of(&banner.gigya_issuer)?,
            app_port: port_of(&banner.app_url)?,
            ca_path: banner
                .ca_path
                .ok_or_else(|| anyhow!("the banner has no TLS CA certificate line"))?,
            workdir: workdir.to_owned(),
            log_path,
            child,
            _stdout: stdout,
        })
    }

    /// Returns the broker's host and port the way the SDKs take their `domain`.
    fn domain(&self) -> String {
        format!("localhost:{}", self.broker_port)
    }

    fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Runs `authbridge login --demo --json --tls` against this stack and requires success.
    async fn login(&self) -> anyhow::Result<()> {
        let mut command = authbridge_command(&self.workdir);
        command
            .args(["login", "--demo", "--json", "--tls"])
            .args(["--port", &self.broker_port.to_string()])
            .args(["--gigya-port", &self.gigya_port.to_string()])
            .args(["--app-port", &self.app_port.to_string()])
            .arg("--ca-file")
            .arg(&self.ca_path);
        let output = output_within(
            &mut command,
            COMMAND_TIMEOUT,
            "authbridge login --demo --json --tls",
        )
        .await?;
        if !output.status.success() {
            bail!(
                "authbridge login failed\n{}\nlog of authbridge up:\n{}",
                describe(&output),
                self.log()
            );
        }
        Ok(())
    }

    /// Runs a script of `tests/compat`, requires exit status 0 and parses the last line of
    /// its stdout as JSON.
    async fn run_script(&self, mut command: Command, label: &str) -> anyhow::Result<Value> {
        let output = output_within(&mut command, COMMAND_TIMEOUT, label).await?;
        if !output.status.success() {
            bail!(
                "{label} failed\n{}\nlog of authbridge up:\n{}",
                describe(&output),
                self.log()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last_line = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last_line)
            .with_context(|| format!("{label} printed no JSON\n{}", describe(&output)))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Sends SIGKILL. Tokio reaps the exited process in the background.
        let _ = self.child.start_kill();
    }
}

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compat")
}

/// Checks that `node` runs and that the `auth0` package of `tests/compat` is installed.
async fn require_node_sdk() -> anyhow::Result<()> {
    let mut version = Command::new("node");
    version.arg("--version").stdin(Stdio::null());
    output_within(&mut version, COMMAND_TIMEOUT, "node --version")
        .await
        .context("Node.js must be on PATH as `node`")?;

    let manifest = compat_dir().join("node_modules/auth0/package.json");
    if !manifest.is_file() {
        bail!(
            "the npm package `auth0` is not installed ({} is missing). Run `{NPM_INSTALL}` in \
             the repository root (scripts/test.sh does this on first use).",
            manifest.display()
        );
    }
    Ok(())
}

/// Checks that `python3` runs and imports the modules `sdk_python.py` uses.
async fn require_python_sdk() -> anyhow::Result<()> {
    let mut import = Command::new("python3");
    import
        .args([
            "-c",
            "from auth0.authentication import GetToken; \
             from auth0.management import ManagementClient; \
             import httpx, requests",
        ])
        .stdin(Stdio::null());
    let output = output_within(
        &mut import,
        COMMAND_TIMEOUT,
        "python3 -c 'from auth0.management import ...'",
    )
    .await
    .context("Python 3 must be on PATH as `python3`")?;
    if !output.status.success() {
        bail!(
            "the Python package auth0-python is not installed for python3. Run `{PIP_INSTALL}` \
             in the repository root (scripts/test.sh does this on first use).\n{}",
            describe(&output)
        );
    }
    Ok(())
}

/// Starts a stack in `workdir` and logs the demo user in once, so the user has a Cencora
/// identity with upstream tokens.
async fn stack_with_demo_user(workdir: &Path) -> anyhow::Result<Stack> {
    let stack = Stack::start(workdir).await?;
    stack.login().await?;
    Ok(stack)
}

/// Returns `value` at a JSON pointer such as `/full_grant/user_id`, or null when absent.
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

/// Returns the strings of a JSON array, or an empty list when `value` is no array.
fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Asserts on the findings both scripts print. With the full grant, the identity has the
/// upstream tokens, both searches find only the demo user, and the app_metadata update is
/// merged into the stored root keys. With a `read:users` token, the identity has no token keys.
fn assert_common_findings(findings: &Value, metadata_key: &str) {
    assert_eq!(
        at(findings, "/full_grant/user_id"),
        DEMO_USER_ID,
        "findings: {findings}"
    );
    assert_eq!(
        at(findings, "/full_grant/identity_connection"),
        CONNECTION,
        "findings: {findings}"
    );
    for (key, json_type) in [
        ("access_token", "string"),
        ("refresh_token", "string"),
        ("expires_in", "number"),
    ] {
        let finding = at(findings, &format!("/full_grant/upstream_token_keys/{key}"));
        assert_eq!(
            finding["present"], true,
            "identity.{key} is missing with read:user_idp_tokens: {findings}"
        );
        assert_eq!(
            finding["type"], json_type,
            "identity.{key} is no {json_type}: {findings}"
        );
    }

    for search in ["list_by_connection", "list_by_email"] {
        let result = at(findings, &format!("/full_grant/{search}"));
        assert_eq!(
            strings(&result["user_ids"]),
            [DEMO_USER_ID],
            "users.list(q={}) returned other users: {findings}",
            result["q"]
        );
        // auth0-python types `total` as a float, so 1 and 1.0 both pass.
        assert_eq!(
            result["total"].as_f64(),
            Some(1.0),
            "users.list(q={}) returned a wrong total: {findings}",
            result["q"]
        );
    }

    let updated = at(findings, "/full_grant/update_response_app_metadata");
    assert_eq!(
        updated[metadata_key], true,
        "the users.update response lacks app_metadata.{metadata_key}: {findings}"
    );
    let reread = at(findings, "/full_grant/reread_app_metadata");
    assert_eq!(
        reread[metadata_key], true,
        "users.get after users.update lacks app_metadata.{metadata_key}: {findings}"
    );
    assert_eq!(
        reread["needs_gigya_sync"], true,
        "users.update replaced app_metadata instead of merging its root keys: {findings}"
    );
    assert!(
        reread["gigya_integration"].is_object(),
        "users.update dropped app_metadata.gigya_integration: {findings}"
    );

    assert_eq!(
        at(findings, "/narrowed/granted_scope"),
        NARROWED_SCOPE,
        "findings: {findings}"
    );
    assert_eq!(
        at(findings, "/narrowed/user_id"),
        DEMO_USER_ID,
        "findings: {findings}"
    );
    let identity_keys = strings(at(findings, "/narrowed/identity_keys"));
    for key in UPSTREAM_TOKEN_KEYS {
        assert!(
            !identity_keys.contains(&key),
            "identity.{key} is present without read:user_idp_tokens: {findings}"
        );
        assert_eq!(
            at(
                findings,
                &format!("/narrowed/upstream_token_keys/{key}/present")
            ),
            false,
            "identity.{key} is present without read:user_idp_tokens: {findings}"
        );
    }
}

#[tokio::test]
async fn node_sdk_reads_and_updates_user() -> anyhow::Result<()> {
    require_node_sdk().await?;
    let dir = tempfile::tempdir()?;
    let stack = stack_with_demo_user(dir.path()).await?;

    let compat = compat_dir();
    let mut command = Command::new("node");
    command
        .current_dir(&compat)
        .arg(compat.join("sdk-node.mjs"))
        .arg(stack.domain())
        .arg(DEMO_USER_ID)
        .env("NODE_EXTRA_CA_CERTS", &stack.ca_path)
        .stdin(Stdio::null());
    with_loopback_no_proxy(&mut command);
    let findings = stack.run_script(command, "sdk-node.mjs").await?;

    assert_eq!(findings["sdk"]["name"], "auth0", "findings: {findings}");
    assert_common_findings(&findings, "sdk_checked");
    Ok(())
}

#[tokio::test]
async fn python_sdk_reads_and_updates_user() -> anyhow::Result<()> {
    require_python_sdk().await?;
    let dir = tempfile::tempdir()?;
    let stack = stack_with_demo_user(dir.path()).await?;

    let compat = compat_dir();
    let mut command = Command::new("python3");
    command
        .current_dir(&compat)
        .arg(compat.join("sdk_python.py"))
        .arg(stack.domain())
        .arg(DEMO_USER_ID)
        .env("REQUESTS_CA_BUNDLE", &stack.ca_path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null());
    with_loopback_no_proxy(&mut command);
    let findings = stack.run_script(command, "sdk_python.py").await?;

    assert_eq!(
        findings["sdk"]["name"], "auth0-python",
        "findings: {findings}"
    );
    let full_scope = at(&findings, "/full_grant/granted_scope")
        .as_str()
        .unwrap_or_default();
    assert!(
        full_scope
            .split(' ')
            .any(|scope| scope == "read:user_idp_tokens"),
        "GetToken.client_credentials without a scope did not get the full grant: {findings}"
    );
    assert_common_findings(&findings, "sdk_python_checked");
    Ok(())
}

//! End-to-end tests of the `authbridge` binary. Each test starts its own stack with
//! `authbridge up` on ports the OS picks and a temporary data directory, then logs in through
//! it with `authbridge login --demo`, with openid-client (Node.js) or with headless Chromium.
//!
//! The Node.js tests need the packages of `tests/compat` (`npm ci --prefix tests/compat`), and
//! the browser test needs Chromium at /usr/bin/chromium (or at `$CHROMIUM`). Those tests fail,
//! never skip, when a requirement is missing, and the failure message names the install command.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const DEMO_UID: &str = "4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
const DEMO_USER_ID: &str = "oidc|Cencora|4a6f1d2e8b9c4f0a9e3d2c1b0a998877";
const DEMO_LOGIN_ID: &str = "ada@example.com";
const DEMO_WEB_ID: &str = "demo-web";
const DEMO_M2M_ID: &str = "demo-m2m";
const DEMO_M2M_SECRET: &str = "demo-m2m-secret";
const DEMO_API: &str = "https://api.authbridge.test/";

/// Maximum time from spawning `authbridge up` to its complete banner.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Maximum run time of one `authbridge login` or Node.js script.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// Maximum time of one HTTP request the tests send themselves.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `authbridge up`, killed when dropped.
struct Stack {
    /// The broker's issuer, with a trailing slash.
    issuer: String,
    broker_port: u16,
    gigya_port: u16,
    app_port: u16,
    /// The demo application's home page, with a trailing slash.
    app_url: String,
    /// The working directory of `up`. Its `data` folder is the data directory.
    workdir: PathBuf,
    /// The file that receives the stack's log (its stderr).
    log_path: PathBuf,
    child: Child,
    /// The read end of the stack's stdout, kept open so a late write does not fail with EPIPE.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Stack {
    /// Starts `authbridge up` in `workdir` on ports the OS picks and waits for its banner.
    async fn start(workdir: &Path) -> anyhow::Result<Self> {
        Self::start_on(workdir, 0).await
    }

    /// Starts `authbridge up` in `workdir` with the broker on `broker_port` (0: the OS picks
    /// one) and waits for its banner.
    async fn start_on(workdir: &Path, broker_port: u16) -> anyhow::Result<Self> {
        let log_path = workdir.join(format!("authbridge-up-{}.log", unique_suffix()));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {} failed", log_path.display()))?;
        let mut child = up_command(workdir, broker_port)
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

        Ok(Self {
            broker_port: port_of(&banner.issuer)?,
            gigya_port: port_of(&banner.gigya_issuer)?,
            app_port: port_of(&banner.app_url)?,
            issuer: banner.issuer,
            app_url: banner.app_url,
            workdir: workdir.to_owned(),
            log_path,
            child,
            _stdout: stdout,
        })
    }

    /// Kills the stack and waits until it has exited, so its ports and files are released.
    async fn stop(mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .context("killing authbridge up failed")
    }

    fn app_callback(&self) -> String {
        format!("{}callback", self.app_url)
    }

    fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Runs `authbridge login --demo --json` against this stack.
    async fn login(&self) -> anyhow::Result<Output> {
        let mut command = login_command(
            &self.workdir,
            self.broker_port,
            self.gigya_port,
            self.app_port,
        );
        output_within(
            &mut command,
            COMMAND_TIMEOUT,
            "authbridge login --demo --json",
        )
        .await
    }

    /// Runs `authbridge login --demo --json`, requires success and returns its JSON output.
    async fn login_json(&self) -> anyhow::Result<Value> {
        let output = self.login().await?;
        if !output.status.success() {
            bail!(
                "authbridge login failed\n{}\nlog of authbridge up:\n{}",
                describe(&output),
                self.log()
            );
        }
        serde_json::from_slice(&output.stdout)
            .with_context(|| format!("authbridge login printed no JSON\n{}", describe(&output)))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Sends SIGKILL. Tokio reaps the exited process in the background.
        let _ = self.child.start_kill();
    }
}

/// Returns a suffix that differs between the stacks one test starts in the same directory.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Returns `authbridge up` on `broker_port` (0: the OS picks one) with the provider and the
/// demo application on ports the OS picks, and `workdir/data` as data directory.
fn up_command(workdir: &Path, broker_port: u16) -> Command {
    let mut command = authbridge_command(workdir);
    // Debug logs make every test a check that nothing secret reaches the log.
    command
        .env("RUST_LOG", "debug")
        .arg("up")
        .args(["--port", &broker_port.to_string()])
        .args(["--gigya-port", "0", "--app-port", "0"])
        .arg("--data-dir")
        .arg(workdir.join("data"));
    command
}

fn login_command(workdir: &Path, broker_port: u16, gigya_port: u16, app_port: u16) -> Command {
    let mut command = authbridge_command(workdir);
    command
        .args(["login", "--demo", "--json"])
        .args(["--port", &broker_port.to_string()])
        .args(["--gigya-port", &gigya_port.to_string()])
        .args(["--app-port", &app_port.to_string()]);
    command
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url} failed"))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("GET {url} returned HTTP {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("GET {url} returned no JSON: {body}"))
}

/// Returns the sorted key ids of the broker's JWKS.
async fn jwks_kids(http: &reqwest::Client, issuer: &str) -> anyhow::Result<Vec<String>> {
    let jwks = get_json(http, &format!("{issuer}.well-known/jwks.json")).await?;
    let keys = jwks["keys"]
        .as_array()
        .ok_or_else(|| anyhow!("the JWKS has no keys array: {jwks}"))?;
    let mut kids = keys
        .iter()
        .map(|key| {
            key["kid"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("a JWKS key has no kid: {key}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    kids.sort();
    Ok(kids)
}

/// Reads the demo user through the Management API with the demo machine-to-machine client.
async fn management_user(http: &reqwest::Client, issuer: &str) -> anyhow::Result<Value> {
    management_user_with_scope(http, issuer, "read:users").await
}

async fn management_user_with_scope(
    http: &reqwest::Client,
    issuer: &str,
    scope: &str,
) -> anyhow::Result<Value> {
    let audience = format!("{issuer}api/v2/");
    let response = http
        .post(format!("{issuer}oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_M2M_ID),
            ("client_secret", DEMO_M2M_SECRET),
            ("audience", audience.as_str()),
            ("scope", scope),
        ])
        .send()
        .await?;
    let status = response.status();
    let grant: Value = response.json().await?;
    let token = grant["access_token"].as_str().ok_or_else(|| {
        anyhow!("client_credentials returned HTTP {status} without a token: {grant}")
    })?;

    let mut url = url::Url::parse(&audience)?;
    url.path_segments_mut()
        .map_err(|()| anyhow!("{audience} cannot be a base URL"))?
        .pop_if_empty()
        .extend(["users", DEMO_USER_ID]);
    let response = http.get(url.clone()).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("GET {url} returned HTTP {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// Returns whether `aud`, a string or an array of strings, contains `audience`.
fn audience_contains(aud: &Value, audience: &str) -> bool {
    match aud {
        Value::String(value) => value == audience,
        Value::Array(values) => values.iter().any(|value| value == audience),
        _ => false,
    }
}

/// Minimum major version of Node.js the scripts of `tests/compat` run on.
const NODE_MIN_MAJOR: u32 = 20;

/// Returns the folder of the Node.js compatibility tests after checking that `node` is on PATH
/// in a supported version and that the folder's packages are installed.
async fn compat_dir() -> anyhow::Result<PathBuf> {
    let mut version = Command::new("node");
    version.arg("--version").stdin(Stdio::null());
    let output = output_within(&mut version, COMMAND_TIMEOUT, "node --version")
        .await
        .with_context(|| format!("Node.js {NODE_MIN_MAJOR} or later must be on PATH as `node`"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version
        .strip_prefix('v')
        .and_then(|rest| rest.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    if major.is_none_or(|major| major < NODE_MIN_MAJOR) {
        bail!(
            "Node.js {NODE_MIN_MAJOR} or later is required, but `node --version` printed {version:?}"
        );
    }

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compat");
    if !dir.join("node_modules").is_dir() {
        bail!(
            "the Node.js packages of {} are not installed. Run `npm ci --prefix tests/compat` \
             in the repository root (scripts/test.sh does this on first use).",
            dir.display()
        );
    }
    Ok(dir)
}

/// Returns a `node` command for a script of `tests/compat`.
fn node_command(compat_dir: &Path, script: &str) -> Command {
    let mut command = Command::new("node");
    command
        .current_dir(compat_dir)
        .arg(compat_dir.join(script))
        .stdin(Stdio::null());
    with_loopback_no_proxy(&mut command);
    command
}

/// Runs a Node.js script, requires exit status 0 and parses the last line of its stdout.
async fn run_node_json(mut command: Command, label: &str, stack: &Stack) -> anyhow::Result<Value> {
    let output = output_within(&mut command, COMMAND_TIMEOUT, label).await?;
    if !output.status.success() {
        bail!(
            "{label} failed\n{}\nlog of authbridge up:\n{}",
            describe(&output),
            stack.log()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last_line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last_line)
        .with_context(|| format!("{label} printed no JSON\n{}", describe(&output)))
}

#[tokio::test]
async fn login_demo_json_prints_verified_claims() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;

    let result = stack.login_json().await?;

    let id_token = &result["id_token_claims"];
    assert_eq!(
        id_token["cencora_user_id"], DEMO_UID,
        "ID token: {id_token}"
    );
    assert_eq!(id_token["sub"], DEMO_USER_ID, "ID token: {id_token}");
    assert_eq!(
        id_token["iss"],
        stack.issuer.as_str(),
        "ID token: {id_token}"
    );
    assert!(stack.issuer.ends_with('/'), "issuer {}", stack.issuer);
    assert_eq!(id_token["aud"], DEMO_WEB_ID, "ID token: {id_token}");
    assert_eq!(id_token["email"], DEMO_LOGIN_ID, "ID token: {id_token}");

    let access_token = &result["access_token_claims"];
    assert_eq!(
        access_token["cencora_user_id"], DEMO_UID,
        "access token: {access_token}"
    );
    assert_eq!(
        access_token["sub"], DEMO_USER_ID,
        "access token: {access_token}"
    );
    assert!(
        audience_contains(&access_token["aud"], DEMO_API),
        "access token aud lacks {DEMO_API}: {access_token}"
    );

    let app_metadata = &result["app_metadata"];
    assert_eq!(
        app_metadata["needs_gigya_sync"], true,
        "app_metadata: {app_metadata}"
    );
    let integration = &app_metadata["gigya_integration"];
    assert_eq!(
        integration["cencora_user_id"], DEMO_UID,
        "app_metadata: {app_metadata}"
    );
    let last_login = integration["last_login"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(last_login).is_ok(),
        "last_login is not an RFC 3339 time: {app_metadata}"
    );
    Ok(())
}

#[tokio::test]
async fn openid_client_completes_login() -> anyhow::Result<()> {
    let compat = compat_dir().await?;
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;

    let mut command = node_command(&compat, "openid-client-login.mjs");
    command.arg(&stack.issuer).arg(stack.app_callback());
    let result = run_node_json(command, "openid-client-login.mjs", &stack).await?;

    let claims = &result["claims"];
    assert_eq!(claims["sub"], DEMO_USER_ID, "claims: {claims}");
    assert_eq!(claims["cencora_user_id"], DEMO_UID, "claims: {claims}");
    assert_eq!(claims["iss"], stack.issuer.as_str(), "claims: {claims}");
    assert_eq!(claims["aud"], DEMO_WEB_ID, "claims: {claims}");
    assert!(claims["nonce"].is_string(), "claims: {claims}");

    let userinfo = &result["userinfo"];
    assert_eq!(userinfo["sub"], DEMO_USER_ID, "userinfo: {userinfo}");
    assert_eq!(userinfo["email"], DEMO_LOGIN_ID, "userinfo: {userinfo}");

    let token_type = result["token_type"].as_str().unwrap_or_default();
    assert!(
        token_type.eq_ignore_ascii_case("bearer"),
        "token_type: {token_type}"
    );
    let scope = result["scope"].as_str().unwrap_or_default();
    assert!(
        scope.split(' ').any(|scope| scope == "openid"),
        "scope: {scope}"
    );
    Ok(())
}

#[tokio::test]
async fn browser_shows_claims_after_login() -> anyhow::Result<()> {
    let compat = compat_dir().await?;
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        bail!(
            "Chromium was not found at {}. Install Debian's package (`apt-get install chromium`) \
             or set CHROMIUM to a Chromium binary.",
            chromium.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;
    // Kept under target/tmp when the test fails, removed when it passes.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("browser-login-{}.png", std::process::id()));

    let mut command = node_command(&compat, "browser-login.mjs");
    command
        .arg(&stack.app_url)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT", &screenshot);
    let result = run_node_json(command, "browser-login.mjs", &stack)
        .await
        .with_context(|| format!("screenshot of the last page: {}", screenshot.display()))?;

    assert_eq!(result["subject"], DEMO_USER_ID, "page: {result}");
    let id_token = &result["id_token_claims"];
    assert_eq!(
        id_token["cencora_user_id"], DEMO_UID,
        "ID token: {id_token}"
    );
    assert_eq!(id_token["sub"], DEMO_USER_ID, "ID token: {id_token}");
    let access_token = &result["access_token_claims"];
    assert_eq!(
        access_token["cencora_user_id"], DEMO_UID,
        "access token: {access_token}"
    );
    let app_metadata = &result["app_metadata"];
    assert_eq!(
        app_metadata["needs_gigya_sync"], true,
        "app_metadata: {app_metadata}"
    );
    assert_eq!(
        app_metadata["gigya_integration"]["cencora_user_id"], DEMO_UID,
        "app_metadata: {app_metadata}"
    );
    let page_url = result["url"].as_str().unwrap_or_default();
    assert!(
        page_url.starts_with(&stack.app_callback()),
        "the result page {page_url} is not the demo application's callback"
    );
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
    std::fs::remove_file(&screenshot)?;
    Ok(())
}

#[tokio::test]
async fn second_login_updates_same_user() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;
    let http = http_client()?;

    let first = stack.login_json().await?;
    let user_after_first = management_user(&http, &stack.issuer).await?;
    let second = stack.login_json().await?;
    let user_after_second = management_user(&http, &stack.issuer).await?;

    assert_eq!(
        first["id_token_claims"]["sub"], DEMO_USER_ID,
        "first: {first}"
    );
    assert_eq!(
        second["id_token_claims"]["sub"], DEMO_USER_ID,
        "second: {second}"
    );
    assert_eq!(
        second["id_token_claims"]["cencora_user_id"], DEMO_UID,
        "second: {second}"
    );

    let first_login = &first["app_metadata"]["gigya_integration"]["last_login"];
    let second_login = &second["app_metadata"]["gigya_integration"]["last_login"];
    assert!(
        second_login.as_str() > first_login.as_str(),
        "gigya_integration.last_login did not advance: {first_login} then {second_login}"
    );

    assert_eq!(
        user_after_first["logins_count"], 1,
        "user: {user_after_first}"
    );
    assert_eq!(
        user_after_second["logins_count"], 2,
        "user: {user_after_second}"
    );
    assert_eq!(
        user_after_first["created_at"], user_after_second["created_at"],
        "the second login created the user again"
    );
    let identities = user_after_second["identities"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(identities, 1, "user: {user_after_second}");
    Ok(())
}

#[tokio::test]
async fn restart_keeps_signing_keys() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let http = http_client()?;

    let first = Stack::start(dir.path()).await?;
    let broker_port = first.broker_port;
    let kids_before = jwks_kids(&http, &first.issuer).await?;
    first.stop().await?;

    // The same broker port keeps the issuer, as a restart with the default ports does.
    let second = Stack::start_on(dir.path(), broker_port).await?;
    let kids_after = jwks_kids(&http, &second.issuer).await?;

    assert!(!kids_before.is_empty(), "the first JWKS has no keys");
    assert_eq!(
        kids_before, kids_after,
        "the signing keys changed on restart"
    );
    let result = second.login_json().await?;
    assert_eq!(
        result["id_token_claims"]["sub"], DEMO_USER_ID,
        "login after restart: {result}"
    );
    Ok(())
}

#[tokio::test]
async fn restart_on_another_port_keeps_tenant() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let http = http_client()?;

    let first = Stack::start(dir.path()).await?;
    let kids_before = jwks_kids(&http, &first.issuer).await?;
    first.login_json().await?;
    first.stop().await?;

    let second = Stack::start(dir.path()).await?;
    let kids_after = jwks_kids(&http, &second.issuer).await?;
    let result = second.login_json().await?;
    let user = management_user(&http, &second.issuer).await?;

    assert_eq!(
        kids_before, kids_after,
        "the signing keys changed on restart"
    );
    assert_eq!(
        result["id_token_claims"]["iss"],
        second.issuer.as_str(),
        "login after restart: {result}"
    );
    assert_eq!(user["logins_count"], 2, "user: {user}");
    Ok(())
}

#[tokio::test]
async fn up_reports_busy_port() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;
    let other_dir = tempfile::tempdir()?;

    let mut command = up_command(other_dir.path(), stack.broker_port);
    let output = output_within(
        &mut command,
        STARTUP_TIMEOUT,
        "authbridge up on a busy port",
    )
    .await?;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        stderr.contains(&format!(":{}", stack.broker_port)),
        "the error does not name port {}\n{}",
        stack.broker_port,
        describe(&output)
    );
    assert!(
        stderr.contains("broker"),
        "the error does not name the broker\n{}",
        describe(&output)
    );
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
    Ok(())
}

#[tokio::test]
async fn login_fails_cleanly_when_stack_is_down() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Sockets bound without listening: connections to their ports are refused, and no other
    // test can take those ports while they are held.
    let mut reserved = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.1:0".parse()?)?;
        ports.push(socket.local_addr()?.port());
        reserved.push(socket);
    }

    let mut command = login_command(dir.path(), ports[0], ports[1], ports[2]);
    let output = output_within(
        &mut command,
        COMMAND_TIMEOUT,
        "authbridge login with no stack",
    )
    .await?;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        stderr.contains("authbridge up"),
        "no hint to start the stack\n{}",
        describe(&output)
    );
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "{}", describe(&output));
    drop(reserved);
    Ok(())
}

/// Runs `authbridge users ARGS --data-dir <stack data>` and returns its output.
async fn users_command(stack: &Stack, args: &[&str]) -> anyhow::Result<Output> {
    let mut command = authbridge_command(&stack.workdir);
    command
        .arg("users")
        .args(args)
        .arg("--data-dir")
        .arg(stack.workdir.join("data"));
    output_within(&mut command, COMMAND_TIMEOUT, "authbridge users").await
}

#[tokio::test]
async fn users_commands_print_logged_in_user() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;
    stack.login_json().await?;

    let output = users_command(&stack, &["get", DEMO_USER_ID]).await?;
    assert!(output.status.success(), "{}", describe(&output));
    let user: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(user["user_id"], DEMO_USER_ID, "{user}");
    assert_eq!(user["app_metadata"]["needs_gigya_sync"], true, "{user}");
    assert_eq!(user["identities"][0]["connection"], "Cencora", "{user}");
    assert!(
        user["identities"][0].get("access_token").is_none(),
        "{user}"
    );

    let output = users_command(
        &stack,
        &["list", "--q", "app_metadata.needs_gigya_sync:true"],
    )
    .await?;
    assert!(output.status.success(), "{}", describe(&output));
    let users: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");

    let output = users_command(&stack, &["list", "--q", "email:nobody@example.com"]).await?;
    let users: Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(users, Value::Array(Vec::new()));
    Ok(())
}

#[tokio::test]
async fn users_commands_report_bad_input() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;

    let output = users_command(&stack, &["get", "oidc|Cencora|missing"]).await?;
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not exist"),
        "{}",
        describe(&output)
    );

    let output = users_command(&stack, &["list", "--q", "name:("]).await?;
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("query is invalid"),
        "{}",
        describe(&output)
    );

    let mut command = authbridge_command(dir.path());
    command
        .args(["users", "list", "--data-dir"])
        .arg(dir.path().join("no-such-dir"));
    let output = output_within(&mut command, COMMAND_TIMEOUT, "authbridge users").await?;
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("authbridge up"),
        "{}",
        describe(&output)
    );
    Ok(())
}

#[tokio::test]
async fn logs_never_contain_upstream_tokens_or_secrets() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;
    stack.login_json().await?;
    stack.login_json().await?;

    let http = http_client()?;
    let user =
        management_user_with_scope(&http, &stack.issuer, "read:users read:user_idp_tokens").await?;
    let identity = &user["identities"][0];
    let access_token = identity["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no upstream access token: {user}"))?;
    let refresh_token = identity["refresh_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no upstream refresh token: {user}"))?;

    let log = read_log(&stack.log_path);
    assert!(
        log.contains("login completed"),
        "the log has no login lines:\n{log}"
    );
    let secrets = [
        ("upstream access token", access_token),
        ("upstream refresh token", refresh_token),
        ("demo password", "Passw0rd!"),
        (
            "broker client secret at the provider",
            "authbridge-broker-secret",
        ),
        ("web client secret", "demo-web-secret"),
        ("machine-to-machine client secret", DEMO_M2M_SECRET),
        (
            "action secret",
            "demo secret: shown as [redacted] in captures",
        ),
    ];
    for (what, value) in secrets {
        assert!(!log.contains(value), "the log contains the {what}");
    }
    Ok(())
}

#[tokio::test]
async fn second_up_on_same_data_dir_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let stack = Stack::start(dir.path()).await?;

    let mut second = up_command(dir.path(), 0);
    let output = output_within(&mut second, COMMAND_TIMEOUT, "a second authbridge up").await?;

    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("another authbridge up"),
        "{}",
        describe(&output)
    );
    stack.login_json().await?;
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn data_dir_is_private_to_its_owner() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir()?;
    let _stack = Stack::start(dir.path()).await?;

    let mode = std::fs::metadata(dir.path().join("data"))?
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    Ok(())
}

//! Helpers shared by the tests that run the `authbridge` binary: building its commands,
//! reading the banner of `authbridge up`, and running a command with a time limit.

// Each test crate includes this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use tokio::io::{BufReader, Lines};
use tokio::process::{ChildStdout, Command};

pub(crate) const AUTHBRIDGE: &str = env!("CARGO_BIN_EXE_authbridge");

/// The addresses `authbridge up` prints in its banner, and its CA certificate with `--tls`.
pub(crate) struct Banner {
    pub(crate) issuer: String,
    pub(crate) gigya_issuer: String,
    pub(crate) app_url: String,
    pub(crate) ca_path: Option<PathBuf>,
}

/// Reads stdout up to the banner's last line, which starts with "Open ".
pub(crate) async fn read_banner(
    stdout: &mut Lines<BufReader<ChildStdout>>,
) -> anyhow::Result<Banner> {
    let mut issuer = None;
    let mut gigya_issuer = None;
    let mut app_url = None;
    let mut ca_path = None;
    loop {
        let Some(line) = stdout
            .next_line()
            .await
            .context("reading stdout of authbridge up failed")?
        else {
            bail!("authbridge up exited before printing its banner");
        };
        let line = line.trim();
        let value = line.split_whitespace().last().map(str::to_owned);
        if line.starts_with("Broker (issuer)") {
            issuer = value;
        } else if line.starts_with("Gigya-compatible OP") {
            gigya_issuer = value;
        } else if line.starts_with("Demo application") {
            app_url = value;
        } else if let Some(path) = line.strip_prefix("TLS CA certificate") {
            ca_path = Some(PathBuf::from(path.trim()));
        } else if line.starts_with("Open ") {
            break;
        }
    }
    Ok(Banner {
        issuer: issuer.ok_or_else(|| anyhow!("the banner has no broker line"))?,
        gigya_issuer: gigya_issuer.ok_or_else(|| anyhow!("the banner has no provider line"))?,
        app_url: app_url.ok_or_else(|| anyhow!("the banner has no demo application line"))?,
        ca_path,
    })
}

pub(crate) fn port_of(url: &str) -> anyhow::Result<u16> {
    url::Url::parse(url)
        .with_context(|| format!("the banner URL {url} is invalid"))?
        .port()
        .ok_or_else(|| anyhow!("the banner URL {url} has no port"))
}

pub(crate) fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| format!("(reading {} failed: {error})", path.display()))
}

/// Sets NO_PROXY for the loopback hosts, so a proxy of the test's environment is never used.
pub(crate) fn with_loopback_no_proxy(command: &mut Command) {
    command
        .env("NO_PROXY", "localhost,127.0.0.1,::1")
        .env("no_proxy", "localhost,127.0.0.1,::1");
}

/// Returns a command for the `authbridge` binary that runs in `workdir`, with no
/// `AUTHBRIDGE_*` variable of the test's environment, no proxy for loopback hosts and logs
/// without ANSI colors.
pub(crate) fn authbridge_command(workdir: &Path) -> Command {
    let mut command = Command::new(AUTHBRIDGE);
    command
        .current_dir(workdir)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AUTHBRIDGE_") {
            command.env_remove(name);
        }
    }
    with_loopback_no_proxy(&mut command);
    command
}

/// Runs `command` to completion within `limit`, capturing stdout and stderr.
pub(crate) async fn output_within(
    command: &mut Command,
    limit: Duration,
    label: &str,
) -> anyhow::Result<Output> {
    // kill_on_drop: when the time limit drops the future, the child is killed.
    let child = command
        .kill_on_drop(true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning {label} failed"))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => output.with_context(|| format!("waiting for {label} failed")),
        Err(_) => bail!("{label} did not finish within {limit:?}"),
    }
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

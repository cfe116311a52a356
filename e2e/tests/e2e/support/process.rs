//! Processes of a test's own: a control plane or moto beside the shared ones, free loopback
//! ports, and plain HTTP GETs to an operator's admin ports.

use std::path::{Path, PathBuf};

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A control plane or moto started for one test only (`controlplane.sh`/`moto.sh start DIR
/// --owner-pid`), for tests that restart or stop it, which would break every other test on the
/// shared one. Stopped when dropped, and by the script when the test process exits.
#[derive(Debug)]
pub(crate) struct PrivateService {
    script: &'static str,
    dir: PathBuf,
}

impl PrivateService {
    /// Starts what `script` starts, with its state in `dir`.
    pub(crate) fn start(script: &'static str, dir: &Path) -> Result<Self> {
        kro_e2e::start_in(script, dir)?;
        Ok(Self {
            script,
            dir: dir.to_owned(),
        })
    }

    /// A private control plane, in a fresh temporary directory.
    pub(crate) fn control_plane() -> Result<Self> {
        let dir = std::env::temp_dir().join(kro_e2e::unique_name("kro-private-cp"));
        Self::start("controlplane.sh", &dir)
    }

    /// Where its state (kubeconfig, moto.env, pids) is.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `script COMMAND DIR` (`restart-apiserver`, `stop`).
    pub(crate) fn run(&self, command: &str) -> Result<()> {
        let dir = self.dir.to_string_lossy();
        kro_e2e::run_script(self.script, &[command, &dir])?;
        Ok(())
    }

    /// Stops it (stopping a stopped one is fine).
    pub(crate) fn stop(&self) -> Result<()> {
        self.run("stop")
    }
}

impl Drop for PrivateService {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET path` on a loopback port: the status line (`HTTP/1.1 200 OK`) and the body.
pub(crate) async fn http_get(port: u16, path: &str) -> Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut out = String::new();
    stream.read_to_string(&mut out).await?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Ok((
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    ))
}

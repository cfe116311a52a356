//! `kro` as a process of its own, as a pod runs it: the workspace's binary (built with cargo
//! next to this test binary if needed), a clean environment, its output in a log file, and the
//! process killed when dropped. For the tests that need what an in-process operator cannot give:
//! the command line itself, a SIGKILL or SIGSTOP, two operators competing for one Lease.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

use super::DEADLINE;

/// The `kro` binary of this workspace, built with cargo if needed, in this test binary's
/// profile (target/<profile>/kro).
pub(crate) fn kro_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // This test runs from target/<profile>/deps/; the binary goes to target/<profile>/.
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace root")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // The same build as `make test`'s "cargo build (tests)" stage, so the binary is already
        // there: `cargo build -p kro-rs` resolves features differently from a workspace test
        // build and recompiled the AWS SDKs in the middle of the e2e run (minutes of both
        // cores, which also slowed every process the tests had started).
        cmd.args(["test", "--workspace", "--locked", "--no-run"])
            .current_dir(root);
        // Cargo runs this test with the package's CARGO_PKG_*, CARGO_MANIFEST_DIR, OUT_DIR...;
        // build scripts (ring's, for one) list those as rerun-if-env-changed, so a cargo that
        // inherits them rebuilds ring and everything above it, the AWS SDKs included. Without
        // them it sees the environment the "cargo build (tests)" stage had.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let set_by_cargo_for_tests = key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_BIN_EXE_")
                || matches!(
                    key.as_ref(),
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_MANIFEST_LINKS"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "CARGO_RUSTC_CURRENT_DIR"
                        | "OUT_DIR"
                );
            if set_by_cargo_for_tests {
                cmd.env_remove(key.as_ref());
            }
        }
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .expect("running cargo test --workspace --no-run");
        assert!(status.success(), "cargo test --workspace --no-run failed");
        let bin = profile_dir.join("kro");
        assert!(
            bin.exists(),
            "{} is missing after cargo test --workspace --no-run",
            bin.display()
        );
        bin
    })
}

/// Leader-election flags for a test: a 4 s Lease, a 3 s renew deadline, a 1 s retry period
/// (client-go's order: lease > deadline > retry), so a lost leader is replaced in seconds.
pub(crate) const SHORT_LEASE: [&str; 6] = [
    "--leader-election-lease-duration",
    "4s",
    "--leader-election-renew-deadline",
    "3s",
    "--leader-election-retry-period",
    "1s",
];

/// A running `kro`; killed (SIGKILL) and reaped when dropped.
pub(crate) struct KroProcess {
    child: Child,
    log: PathBuf,
}

impl KroProcess {
    /// Starts `kro args...` with nothing of this test's environment but `PATH`, `KUBECONFIG`
    /// (the test cluster's) and `env` (which may override `KUBECONFIG`); stdout and stderr go to
    /// a log file named after `name`.
    pub(crate) fn start<A, S>(name: &str, args: A, env: &[(&str, &OsStr)]) -> Result<Self>
    where
        A: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let log = std::env::temp_dir().join(format!("{name}.log"));
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(kro_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", kro_e2e::kubeconfig());
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = cmd.spawn().context("starting kro")?;
        Ok(KroProcess { child, log })
    }

    /// Everything the process wrote so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has ended (and how), without waiting.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, then waits for the process to be gone.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (a name `kill(1)` takes: `STOP`, `CONT`, `TERM`).
    pub(crate) fn signal(&self, signal: &str) -> Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill -{signal} {} failed: {status}", self.pid());
        }
        Ok(())
    }

    /// Waits until the log holds `needle`; fails at once, with the log, if the process ends
    /// first, and with the log after [`DEADLINE`].
    pub(crate) async fn wait_log(&mut self, needle: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if self.log().contains(needle) {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                bail!(
                    "kro ended ({status}) before logging {needle:?}; its log:\n{}",
                    self.log()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "kro did not log {needle:?} within {}s; its log:\n{}",
                    DEADLINE.as_secs(),
                    self.log()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Lines of a process's log shown when it is dropped.
const LOG_TAIL: usize = 40;

impl Drop for KroProcess {
    /// Kills the process and prints the end of its log to the test's stderr, which the test
    /// harness shows only when the test fails: a failure that was the operator's (a crash, a
    /// start that hung) can then be read without running it again.
    fn drop(&mut self) {
        self.kill();
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
        eprintln!(
            "--- the last {} lines of {} (pid {}) ---\n{}",
            tail.len(),
            self.log.display(),
            self.child.id(),
            tail.join("\n")
        );
        let _ = std::fs::remove_file(&self.log);
    }
}

//! The control-plane and moto scripts end cleanly: a clear message on bad input, and never a
//! process left behind.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kro_e2e::scripts_dir;

fn script(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(scripts_dir().join(name))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the e2e scripts are executable")
}

/// Whether a process runs (a zombie not yet reaped by its new parent has stopped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(") ")?.1.chars().next()? != 'Z'))
        .unwrap_or(false)
}

/// PIDs recorded in a state file that still run.
fn live_pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .filter(|pid| running(*pid))
        .collect()
}

#[test]
fn apiserver_port_in_use_is_a_clear_error_and_starts_nothing() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile_dir("port-in-use");
    let out = script(
        "controlplane.sh",
        &["start", dir.to_str().unwrap()],
        &[("KRO_APISERVER_PORT", &port)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is in use")),
        "stderr should name the busy port: {stderr}"
    );
    assert!(
        live_pids(&dir.join("pids")).is_empty(),
        "nothing may be left running"
    );
}

#[test]
fn moto_port_in_use_is_a_clear_error_and_starts_nothing() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile_dir("moto-port-in-use");
    let out = script(
        "moto.sh",
        &["start", dir.to_str().unwrap()],
        &[("KRO_MOTO_PORT", &port)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is in use"),
        "stderr should name the busy port: {stderr}"
    );
    assert!(live_pids(&dir.join("moto.pids")).is_empty());
}

#[test]
fn missing_binaries_tell_the_user_how_to_build_them() {
    let cache = tempfile_dir("empty-cache");
    let dir = tempfile_dir("no-binaries");
    let out = script(
        "controlplane.sh",
        &["start", dir.to_str().unwrap()],
        &[("KRO_CACHE_DIR", cache.to_str().unwrap())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("make controlplane"),
        "stderr should say how to build: {stderr}"
    );
}

#[test]
fn stop_ends_exactly_the_processes_start_began() {
    let dir = tempfile_dir("start-stop");
    let d = dir.to_str().unwrap();
    let out = script("controlplane.sh", &["start", d], &[]);
    assert!(
        out.status.success(),
        "start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pids = live_pids(&dir.join("pids"));
    assert_eq!(pids.len(), 2, "etcd and kube-apiserver should run");
    assert!(dir.join("kubeconfig").exists());

    let out = script("controlplane.sh", &["stop", d], &[]);
    assert!(out.status.success());
    for pid in pids {
        assert!(!running(pid), "process {pid} should have been stopped");
    }
}

/// A start interrupted half-way (SIGTERM once etcd runs, while kube-apiserver comes up) stops
/// what it had started: the EXIT trap fires however the script ends.
#[test]
fn interrupted_start_leaves_nothing_running() {
    let dir = tempfile_dir("interrupted");
    let mut start = Command::new(scripts_dir().join("controlplane.sh"))
        .args(["start", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the e2e scripts are executable");
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = loop {
        let pids = live_pids(&dir.join("pids"));
        if !pids.is_empty() {
            break pids;
        }
        assert!(
            Instant::now() < deadline,
            "etcd was not started within 120 s"
        );
        assert!(
            start.try_wait().unwrap().is_none(),
            "start ended before etcd was recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // std has no signal API: kill(1) sends the TERM a CI runner or `timeout` would.
    let killed = Command::new("kill")
        .args(["-TERM", &start.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        !start.wait().unwrap().success(),
        "an interrupted start must fail"
    );
    for pid in started {
        assert!(
            !running(pid),
            "process {pid} outlived the interrupted start"
        );
    }
    assert!(live_pids(&dir.join("pids")).is_empty());
}

/// With `--owner-pid`, the control plane stops by itself once its owner has exited (here
/// killed, as a test process that panics or is killed would be).
#[test]
fn owner_pid_guard_stops_the_control_plane_after_its_owner() {
    let dir = tempfile_dir("owner-pid");
    let d = dir.to_str().unwrap();
    let mut owner = Command::new("sleep").arg("600").spawn().unwrap();
    let out = script(
        "controlplane.sh",
        &["start", d, "--owner-pid", &owner.id().to_string()],
        &[],
    );
    assert!(
        out.status.success(),
        "start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pids = live_pids(&dir.join("pids"));
    assert_eq!(pids.len(), 2, "etcd and kube-apiserver should run");
    owner.kill().unwrap();
    owner.wait().unwrap();
    // The guard looks once a second, then stops them (TERM, KILL after 10 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|pid| running(*pid)) {
        assert!(
            Instant::now() < deadline,
            "the control plane outlived its owner by 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(kro_e2e::unique_name(&format!("kro-scripts-{name}")));
    std::fs::create_dir_all(&dir).expect("the temp dir is writable");
    dir
}

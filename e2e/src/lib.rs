//! End-to-end harness: a real kube-apiserver + etcd and a moto AWS emulator for the tests.
//!
//! Each test process gets one control plane and one moto, started on first use by the scripts in
//! `e2e/scripts/` (or the ones named by `KUBECONFIG` and `AWS_ENDPOINT_URL`, as `make test` does to
//! share one of each across every test binary). Started processes are watched by the scripts and
//! stopped as soon as this process exits, however it exits, so a panicking test leaves nothing
//! behind. Every test takes a fresh namespace and builds its own clients, because a client is tied
//! to the tokio runtime of the test that made it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The scripts directory, next to this crate's manifest.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// Where this process keeps the state of the control plane and moto it started.
fn state_dir() -> PathBuf {
    std::env::temp_dir().join(format!("kro-e2e-{}", std::process::id()))
}

/// Runs one of the e2e scripts and returns its standard output; fails with all its output when
/// it fails.
pub fn run_script(script: &str, args: &[&str]) -> Result<String> {
    let path = scripts_dir().join(script);
    let out = Command::new(&path)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", path.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}):\n{}{}",
            path.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts what `script` (`controlplane.sh`, `moto.sh`) starts, with its state in `dir`, watched
/// by the script so that it stops when this process exits.
pub fn start_in(script: &str, dir: &Path) -> Result<()> {
    let dir = dir.to_str().context("state directory path is not UTF-8")?;
    let pid = std::process::id().to_string();
    run_script(script, &["start", dir, "--owner-pid", &pid])?;
    Ok(())
}

/// The endpoint of the moto started with its state in `dir` (from its `moto.env`).
pub fn moto_endpoint_in(dir: &Path) -> Result<String> {
    let env = std::fs::read_to_string(dir.join("moto.env"))
        .with_context(|| format!("reading {}/moto.env", dir.display()))?;
    env.trim()
        .strip_prefix("AWS_ENDPOINT_URL=")
        .map(str::to_owned)
        .context("moto.env holds no AWS_ENDPOINT_URL")
}

fn start_owned(script: &str) -> Result<PathBuf> {
    let dir = state_dir();
    start_in(script, &dir)?;
    Ok(dir)
}

/// The kubeconfig of this test run's cluster, starting a control plane on first use.
///
/// # Panics
/// When no cluster can be had: every e2e test needs one, and the message says why.
pub fn kubeconfig() -> &'static Path {
    static KUBECONFIG: OnceLock<PathBuf> = OnceLock::new();
    KUBECONFIG.get_or_init(|| {
        if let Some(path) = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        match start_owned("controlplane.sh") {
            Ok(dir) => dir.join("kubeconfig"),
            Err(e) => panic!("no control plane for the e2e tests: {e:#}"),
        }
    })
}

/// The moto endpoint of this test run, starting moto on first use.
///
/// # Panics
/// When moto cannot be started; the message says why.
pub fn aws_endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL")
            && !url.is_empty()
        {
            return url;
        }
        start_owned("moto.sh")
            .and_then(|dir| moto_endpoint_in(&dir))
            .unwrap_or_else(|e| panic!("no moto for the e2e tests: {e:#}"))
    })
}

/// A kube client for the test cluster, bound to the calling test's runtime.
pub async fn client() -> Result<Client> {
    client_for(kubeconfig()).await
}

/// A kube client for the cluster of another kubeconfig (a test's own control plane, or a
/// ServiceAccount's token).
pub async fn client_for(kubeconfig: &Path) -> Result<Client> {
    Ok(Client::try_from(config_for(kubeconfig).await?)?)
}

/// The client configuration of the test cluster (for clients built another way, such as the
/// operator's request-counting client).
pub async fn config() -> Result<Config> {
    config_for(kubeconfig()).await
}

async fn config_for(kubeconfig: &Path) -> Result<Config> {
    let parsed = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    Ok(Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default()).await?)
}

/// A name no other test in any run has used, from a prefix: `PREFIX-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos % 0xfff)
}

/// Creates a fresh namespace for one test and returns its name.
///
/// Namespaces are not deleted afterwards: without a controller-manager they would stay
/// `Terminating` forever, and a fresh name per test already keeps the tests apart.
pub async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    let name = unique_name(prefix);
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kro.run/e2e": "true"}},
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(name)
}

/// AWS SDK configuration pointed at moto: endpoint override, a fixed region, dummy credentials.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config_for(aws_endpoint()).await
}

/// [`aws_config`] for a moto at another endpoint (a test's own).
pub async fn aws_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-west-2"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "kro-e2e",
        ))
        .load()
        .await
}

/// An S3 client for moto, path-style as every emulator needs.
pub async fn s3_client() -> aws_sdk_s3::Client {
    s3_client_for(aws_endpoint()).await
}

/// [`s3_client`] for a moto at another endpoint (a test's own).
pub async fn s3_client_for(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_config_for(endpoint).await;
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// Creates bucket `name` in us-west-2 (the harness region, so S3 needs the location constraint).
pub async fn create_bucket(s3: &aws_sdk_s3::Client, name: &str) -> Result<()> {
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

/// An RDS client for moto.
pub async fn rds_client() -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&aws_config().await)
}

/// A VPC with subnets in moto's EC2, which RDS subnet groups need.
#[derive(Debug, serde::Deserialize)]
pub struct MotoNetwork {
    /// The VPC id.
    pub vpc_id: String,
    /// Subnet ids, one per availability zone.
    pub subnet_ids: Vec<String>,
}

/// Creates a VPC with two subnets in moto (through boto3 in moto's virtualenv, so the tests do not
/// need the large EC2 SDK).
pub fn moto_network() -> Result<MotoNetwork> {
    let python = run_script("moto.sh", &["python"])?.trim().to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("moto/network.py");
    let out = Command::new(python)
        .arg(script)
        .arg(aws_endpoint())
        .output()
        .context("running e2e/moto/network.py")?;
    if !out.status.success() {
        bail!(
            "e2e/moto/network.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

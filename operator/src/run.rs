//! `kro run`: the operator process — the kro controllers and the ACK-compatible AWS controllers
//! side by side, stopped together on SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::path::PathBuf;

use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;
use kro_aws::AwsOptions;
use kro_controller::Options;
use tokio::task::JoinHandle;

/// Flags of `kro run`: kro's own, plus the AWS controllers' (named as ACK's where ACK has one).
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) kro: Options,
    /// The kubeconfig file (controller-runtime's `--kubeconfig`); default: `KUBECONFIG`, then
    /// `~/.kube/config`, then the pod's service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// AWS region of the AWS controllers (ACK's `--aws-region`).
    #[arg(long, env = "AWS_REGION")]
    aws_region: Option<String>,
    /// Endpoint of every AWS service, e.g. an emulator (ACK's `--aws-endpoint-url`).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    aws_endpoint_url: Option<String>,
    /// Path-style S3 addressing (ACK's `--aws-endpoint-use-path-style`); needed by emulators.
    #[arg(long, env = "KRO_AWS_ENDPOINT_USE_PATH_STYLE", default_value_t = false)]
    aws_endpoint_use_path_style: bool,
    /// AWS controllers to run: a comma-separated list of Bucket, DBSubnetGroup,
    /// DBParameterGroup, DBClusterParameterGroup, DBCluster, DBInstance, the EC2 kinds, Policy, Role, or
    /// `s3`, `rds`, `ec2`, `iam`, `all`, `none`.
    #[arg(long, env = "KRO_AWS_CONTROLLERS", default_value = "all")]
    aws_controllers: String,
    /// Seconds between resyncs of synced AWS resources, which find and correct drift (ACK's
    /// `--reconcile-default-resync-seconds`).
    #[arg(long, env = "KRO_AWS_RESYNC_SECONDS", default_value_t = 36000)]
    reconcile_default_resync_seconds: u64,
    /// What deleting an AWS object does to its AWS resource when neither the object
    /// (`services.k8s.aws/deletion-policy`) nor its Namespace
    /// (`<service>.services.k8s.aws/deletion-policy`) says: `delete` or `retain` (ACK's
    /// `--deletion-policy`).
    #[arg(
        long,
        env = "KRO_AWS_DELETION_POLICY",
        default_value = "delete",
        value_parser = parse_deletion_policy
    )]
    deletion_policy: kro_aws::DeletionPolicy,
    /// Honour ACK's adoption annotations (`services.k8s.aws/adoption-policy`), which let whoever
    /// may create a Bucket or DBInstance take over an existing AWS resource of the account
    /// (ACK's `ResourceAdoption` feature gate). `--enable-resource-adoption=false` refuses them.
    #[arg(
        long,
        env = "KRO_AWS_ENABLE_RESOURCE_ADOPTION",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    enable_resource_adoption: bool,
    /// Allow AWS objects to read `*Ref` targets and the DBInstance password Secret from other
    /// namespaces than their own (ACK's `--enable-cross-namespace`; off by default).
    #[arg(long, env = "KRO_AWS_ENABLE_CROSS_NAMESPACE", default_value_t = false)]
    enable_cross_namespace: bool,
    /// Watch AWS objects in this namespace only (ACK's `--watch-namespace`); empty: every
    /// namespace.
    #[arg(long, env = "KRO_AWS_WATCH_NAMESPACE", default_value = "")]
    watch_namespace: String,
    /// Tags added to every AWS resource on create and update (ACK's `--resource-tags`):
    /// comma-separated `key=value`, values may hold `%CONTROLLER_SERVICE%`,
    /// `%CONTROLLER_VERSION%`, `%K8S_NAMESPACE%`, `%K8S_RESOURCE_NAME%`; empty for none.
    #[arg(
        long,
        env = "KRO_AWS_RESOURCE_TAGS",
        default_value = kro_aws::ack::types::DEFAULT_RESOURCE_TAGS
    )]
    resource_tags: String,
    /// Resync period of synced objects per kind, `Kind=seconds` (ACK's
    /// `--reconcile-resource-resync-seconds`, e.g. `Bucket=1800`); comma-separated or repeated.
    #[arg(long, env = "KRO_AWS_RESOURCE_RESYNC_SECONDS", value_delimiter = ',')]
    reconcile_resource_resync_seconds: Vec<String>,
}

fn parse_deletion_policy(s: &str) -> Result<kro_aws::DeletionPolicy, String> {
    s.parse()
}

impl RunArgs {
    fn aws_options(&self) -> anyhow::Result<AwsOptions> {
        let controllers =
            kro_aws::parse_controllers(&self.aws_controllers).context("--aws-controllers")?;
        Ok(AwsOptions {
            endpoint_url: self.aws_endpoint_url.clone().filter(|url| !url.is_empty()),
            region: self.aws_region.clone().filter(|region| !region.is_empty()),
            force_path_style: self.aws_endpoint_use_path_style,
            controllers,
            resync_period: Duration::from_secs(self.reconcile_default_resync_seconds.max(1)),
            deletion_policy: self.deletion_policy,
            enable_resource_adoption: self.enable_resource_adoption,
            enable_cross_namespace: self.enable_cross_namespace,
            watch_namespace: Some(self.watch_namespace.trim().to_owned()).filter(|n| !n.is_empty()),
            resource_tags: kro_aws::ack::types::parse_resource_tags(&self.resource_tags)?,
            resource_resync: kro_aws::parse_resource_resync(
                &self.reconcile_resource_resync_seconds,
            )?,
            ..AwsOptions::default()
        })
    }
}

/// kro's flags that kro-rs accepts and that change nothing here, by clap id: the flag and why.
const WITHOUT_EFFECT: &[(&str, &str, &str)] = &[
    (
        "graph_revision_concurrent_reconciles",
        "--graph-revision-concurrent-reconciles",
        "GraphRevisions are compiled inline by the RGD controller",
    ),
    (
        "pprof_bind_address",
        "--pprof-bind-address",
        "Go's profiler; this is not a Go binary",
    ),
    (
        "zap_stacktrace_level",
        "--zap-stacktrace-level",
        "the logs carry no stack traces",
    ),
    (
        "zap_time_encoding",
        "--zap-time-encoding",
        "log times are RFC 3339",
    ),
];

/// Whether flag `id` was given (on the command line or by its environment variable).
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// The flags of [`WITHOUT_EFFECT`] that were given, each with why it changes nothing.
fn given_without_effect(matches: &ArgMatches) -> Vec<String> {
    WITHOUT_EFFECT
        .iter()
        .filter(|(id, _, _)| given(matches, id))
        .map(|(_, flag, why)| format!("{flag} ({why})"))
        .collect()
}

/// Runs the operator until SIGTERM or Ctrl-C; `matches` are the parsed flags of `run` (which
/// were given, which are defaults).
pub(crate) fn run(mut args: RunArgs, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    // zap's development mode lowers the default level; a level given explicitly wins.
    if args.kro.zap_devel && !given(matches, "log_level") {
        args.kro.log_level = "debug".into();
    }
    let aws = args.aws_options()?;
    kro_controller::telemetry::init(&args.kro);
    let ignored = given_without_effect(matches);
    if !ignored.is_empty() {
        tracing::warn!(
            flags = %ignored.join(", "),
            "kro flags accepted without effect (see docs/compatibility.md)"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(serve(args.kro, args.kubeconfig, aws))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(opts: Options, kubeconfig: Option<PathBuf>, aws: AwsOptions) -> anyhow::Result<()> {
    let config = match &kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("--kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("--kubeconfig {}", path.display()))?
        }
        None => kube_config().await?,
    };
    // client-go's throttle (--client-qps, --client-burst; with --client-side-throttle only, as
    // kro's client has none) on every request of the process and,
    // with leader election, the leader's write fence on every write but the Lease's own; the
    // AWS controllers check the same fence before they call AWS.
    let fence = opts.leader_election_fence().map_err(anyhow::Error::msg)?;
    let client = kro_controller::client::fenced(config, &opts, fence.clone())?;
    let mut aws = aws;
    aws.leader_fence = fence;
    aws.graceful_shutdown_timeout = opts.graceful_shutdown_timeout;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    // The AWS controllers start with the kro ones: once this replica leads (--leader-elect),
    // so that two replicas never both write to AWS. A failure (no region, say) is logged at
    // once and leaves the kro controllers running.
    let aws_task: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::default();
    let leading = {
        let slot = aws_task.clone();
        let client = client.clone();
        let stop_rx = stop_rx.clone();
        move || {
            if aws.controllers.is_empty() {
                return;
            }
            let task = tokio::spawn(async move {
                let started = async {
                    kro_aws::apply_crds(&client, &aws.controllers).await?;
                    kro_aws::run(client, aws, stopped(stop_rx)).await
                };
                if let Err(e) = started.await {
                    tracing::error!(error = %e, "the AWS controllers stopped");
                }
            });
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(task);
            }
        }
    };
    let result = kro_controller::run_with(client, opts, shutdown_signal(), leading).await;
    let _ = stop_tx.send(true);
    let task = aws_task.lock().ok().and_then(|mut t| t.take());
    if let Some(task) = task {
        task.await.context("the AWS controllers panicked")?;
    }
    result
}

/// The cluster `KUBECONFIG`, `~/.kube/config` or the pod's service account names.
async fn kube_config() -> anyhow::Result<kube::Config> {
    kube::Config::infer()
        .await
        .context("no Kubernetes cluster: set KUBECONFIG or run in a pod")
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn ack_flags_reach_the_aws_options() {
        use clap::FromArgMatches;
        let args = |argv: &[&str]| {
            let m = Cli::command().try_get_matches_from(argv).unwrap();
            Cli::from_arg_matches(&m).unwrap().run.aws_options()
        };
        let defaults = args(&["kro"]).unwrap();
        assert_eq!(defaults.watch_namespace, None);
        assert_eq!(
            defaults.resource_tags,
            kro_aws::ack::types::parse_resource_tags(kro_aws::ack::types::DEFAULT_RESOURCE_TAGS)
                .unwrap()
        );
        assert_eq!(defaults.resource_tags.len(), 2);
        assert!(defaults.resource_resync.is_empty());
        let set = args(&[
            "kro",
            "--watch-namespace=team-a",
            "--resource-tags=",
            "--reconcile-resource-resync-seconds=Bucket=1800,DBInstance=60",
            "--reconcile-resource-resync-seconds",
            "VPC=5",
        ])
        .unwrap();
        assert_eq!(set.watch_namespace.as_deref(), Some("team-a"));
        assert!(set.resource_tags.is_empty());
        assert_eq!(
            set.resource_resync.get(&kro_aws::ControllerKind::Bucket),
            Some(&Duration::from_secs(1800))
        );
        assert_eq!(set.resource_resync.len(), 3);
        let err = args(&["kro", "--resource-tags=team"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--resource-tags item \"team\""), "{err}");
        let err = args(&["kro", "--reconcile-resource-resync-seconds=Bucket"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("Kind=seconds"), "{err}");
    }

    #[test]
    fn flags_without_effect_are_named_only_when_given() {
        let matches = Cli::command().try_get_matches_from(["kro"]).unwrap();
        assert!(given_without_effect(&matches).is_empty());
        let matches = Cli::command()
            .try_get_matches_from([
                "kro",
                "--rgd-max-graph-revisions",
                "5",
                "--graph-revision-concurrent-reconciles=2",
                "--pprof-bind-address=:6060",
                "--client-qps",
                "100",
                "--zap-devel=false",
                "--enable-controller-warmup",
            ])
            .unwrap();
        assert_eq!(
            given_without_effect(&matches),
            [
                "--graph-revision-concurrent-reconciles (GraphRevisions are compiled inline by the RGD controller)",
                "--pprof-bind-address (Go's profiler; this is not a Go binary)",
            ]
        );
    }
}

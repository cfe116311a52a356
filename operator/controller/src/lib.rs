//! All Kubernetes IO: the RGD controller and the dynamic controllers of generated kinds.
//!
//! [`run`] is `kro run`: admin endpoints, optional leader election, the RGD controller, and
//! one instance controller per generated kind, all fed child events by shared metadata watches
//! ([`watches`]), under one global concurrency cap, until the shutdown future completes.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod client;
pub mod diff;
pub mod discovery;
pub mod error;
#[cfg(test)]
mod fake;
pub mod instance;
pub mod metrics;
pub mod options;
pub mod rgd;
pub mod selector;
pub mod telemetry;
pub mod watches;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use error::Error;
pub use options::{LogFormat, Options};

/// Name of the leader-election Lease, as kro's.
pub const LEASE_NAME: &str = "controller.kro.run";

/// Process-wide state shared by every controller.
pub struct Shared {
    /// The API client.
    pub client: Client,
    /// The flags.
    pub opts: Options,
    /// Kind → API resource cache and schema fetching.
    pub discovery: discovery::Discovery,
    /// Child watches and their fan-out.
    pub router: Arc<watches::Router>,
    /// Metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Kubernetes events.
    pub recorder: Recorder,
    /// The global cap on concurrent instance reconciles.
    pub semaphore: Semaphore,
    /// Consecutive failures per object (backoff).
    pub failures: kro_reconcile::Failures,
    /// Version written in labels.
    pub kro_version: String,
    /// Cancelled on shutdown.
    pub stop: CancellationToken,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Counts one more consecutive failure of `key` and returns the count
    /// (kept for the instance controller; the same as `self.failures.record(key)`).
    pub fn record_failure(&self, key: &str) -> u32 {
        self.failures.record(key)
    }

    /// Forgets the failures of `key` after a success
    /// (kept for the instance controller; the same as `self.failures.clear(key)`).
    pub fn clear_failures(&self, key: &str) {
        self.failures.clear(key);
    }

    /// Resolves a kind through the discovery cache.
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<discovery::Resolved, Error> {
        self.discovery
            .resolve(api_version, kind)
            .await
            .map_err(|source| Error::UnknownKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                source,
            })
    }
}

/// The version of this build, as kro writes it in labels.
pub fn kro_version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

async fn lease_namespace(client: &Client, opts: &Options) -> String {
    if !opts.leader_election_namespace.is_empty() {
        return opts.leader_election_namespace.clone();
    }
    if let Ok(ns) =
        std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    {
        return ns.trim().to_string();
    }
    client.default_namespace().to_string()
}

/// Server-side applies kro's own CRDs (the ResourceGraphDefinition kind) and waits until they
/// are Established, so `kro run` works on a bare cluster.
pub async fn install_static_crds(client: &Client) -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = kro_api::crds::resource_graph_definition_crd();
    let name = kube::ResourceExt::name_any(&crd);
    api.patch(
        &name,
        &PatchParams::apply(kro_api::FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "installing CRD {name}: {}; the operator needs permission to create CRDs",
            error::describe(&e)
        )
    })?;
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        await_condition(api, &name, conditions::is_crd_established()),
    )
    .await
    .map_err(|_| anyhow::anyhow!("CRD {name} did not become Established within 60s"))??;
    Ok(())
}

/// Runs the operator until `shutdown` completes, then stops gracefully (bounded by
/// `--graceful-shutdown-timeout`).
pub async fn run(
    client: Client,
    opts: Options,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with(client, opts, shutdown, || {}).await
}

/// [`run`], calling `leading` once this process may write: at once without leader election,
/// otherwise when the Lease is held. Other controllers of the process (the AWS ones) start
/// there, so that only the leader replica writes anywhere.
pub async fn run_with(
    client: Client,
    opts: Options,
    shutdown: impl Future<Output = ()>,
    leading: impl FnOnce(),
) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let metrics = Arc::new(metrics::Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let state = admin::AdminState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    // Bound before anything starts: a taken port ends `kro run` here, naming flag and address.
    let mut servers = Vec::new();
    for listener in admin::bind(&opts).await? {
        servers.push(tokio::spawn(admin::serve(
            listener,
            state.clone(),
            stop.clone(),
        )));
    }

    let identity = Some(opts.leader_election_identity.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("kro-{}", std::process::id()));
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "kro".into(),
            instance: Some(identity.clone()),
        },
    );
    let shared = Arc::new(Shared {
        client: client.clone(),
        discovery: discovery::Discovery::new(client.clone()),
        router: watches::Router::new(client.clone(), metrics.clone(), stop.clone()),
        metrics,
        recorder,
        semaphore: Semaphore::new(usize::from(
            opts.dynamic_controller_concurrent_reconciles.max(1),
        )),
        failures: kro_reconcile::Failures::new(),
        kro_version: kro_version(),
        stop: stop.clone(),
        opts: opts.clone(),
    });

    let mut shutdown = std::pin::pin!(shutdown);
    // Leader election: wait for the Lease before starting anything that writes.
    let mut leadership: Option<(
        tokio::sync::watch::Receiver<bool>,
        tokio::task::JoinHandle<_>,
    )> = None;
    if opts.leader_elect {
        let ns = lease_namespace(&client, &opts).await;
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(ns)
            .with_identity(identity)
            .with_duration(opts.leader_election_lease_duration.as_secs().max(1))
            .with_grace(opts.leader_election_retry_period.as_secs().max(1))
            .build()
            .await?;
        let (mut rx, task) = manager.watch().await;
        tracing::info!(lease = LEASE_NAME, "waiting for leadership");
        loop {
            if *rx.borrow_and_update() {
                break;
            }
            tokio::select! {
                _ = &mut shutdown => {
                    stop.cancel();
                    drop(rx);
                    let _ = task.await;
                    return Ok(());
                }
                changed = rx.changed() => changed?,
            }
        }
        tracing::info!(lease = LEASE_NAME, "leading");
        leadership = Some((rx, task));
    }

    install_static_crds(&client).await?;
    leading();
    let ctx = rgd::RgdContext::new(shared.clone());
    let rgd_task = tokio::spawn(rgd::run(ctx.clone(), stop.clone(), ready.clone()));
    let lost = async {
        match &mut leadership {
            Some((rx, _)) => loop {
                if rx.changed().await.is_err() || !*rx.borrow() {
                    return;
                }
            },
            None => std::future::pending().await,
        }
    };
    let mut result = Ok(());
    tokio::select! {
        _ = &mut shutdown => tracing::info!("shutting down"),
        _ = lost => {
            tracing::error!("lost the leader lease; stopping");
            result = Err(anyhow::anyhow!("lost the {LEASE_NAME} lease"));
        }
    }
    stop.cancel();
    let timeout = opts.graceful_shutdown_timeout;
    let _ = tokio::time::timeout(timeout, rgd_task).await;
    ctx.stop_all(timeout).await;
    for s in servers {
        let _ = s.await;
    }
    if let Some((rx, task)) = leadership {
        drop(rx);
        let _ = tokio::time::timeout(timeout, task).await;
    }
    result
}

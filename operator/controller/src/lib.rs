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
pub mod graph_revisions;
pub mod hash_key;
pub mod instance;
pub mod metrics;
pub mod options;
pub mod rgd;
#[cfg(test)]
mod rgd_contract;
pub mod selector;
pub mod telemetry;
pub mod throttle;
pub mod undecodable;
pub mod warmup;
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
    /// The blocking threads instance evaluations run on, one per reconcile worker
    /// (`instance/evaluate.rs`): evaluation never runs on the async runtime that serves the
    /// probes, the metrics and the leader Lease.
    pub evaluations: Arc<Semaphore>,
    /// Consecutive failures per object (backoff).
    pub failures: kro_reconcile::Failures,
    /// The overall token bucket on instance retries ([`Options::retry_bucket`]).
    pub retry_bucket: kro_reconcile::TokenBucket,
    /// Version written in labels.
    pub kro_version: String,
    /// Cancelled on shutdown.
    pub stop: CancellationToken,
    /// Where condition times come from.
    pub clock: Arc<dyn kro_reconcile::Clock>,
    /// Key of the desired-hash annotation ([`hash_key`]).
    pub hash_key: hash_key::HashKey,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Shared {
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

/// Reads (or on the first start creates) the install's desired-hash key, once per start.
async fn load_hash_key(client: &Client, opts: &Options) -> anyhow::Result<hash_key::HashKey> {
    let namespace =
        hash_key::secret_namespace(&opts.leader_election_namespace, client.default_namespace());
    let api = kube::Api::namespaced(client.clone(), &namespace);
    let (key, source) = hash_key::load_or_fallback(&api, &namespace).await?;
    if source == hash_key::KeySource::Secret {
        tracing::info!(
            secret = hash_key::SECRET_NAME,
            namespace,
            fingerprint = hash_key::fingerprint(&key),
            "desired-hash key loaded"
        );
    }
    Ok(key)
}

/// Server-side applies kro's own CRDs (the ResourceGraphDefinition and GraphRevision kinds)
/// and waits until they are Established, so `kro run` works on a bare cluster.
pub async fn install_static_crds(client: &Client) -> anyhow::Result<()> {
    for crd in [
        kro_api::crds::resource_graph_definition_crd(),
        kro_api::crds::graph_revision_crd(),
    ] {
        install_static_crd(client, crd).await?;
    }
    Ok(())
}

/// Server-side applies one of kro's own CRDs and waits until it is Established.
async fn install_static_crd(
    client: &Client,
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
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

/// The held leader Lease: whether it is still held, and the task renewing it.
struct Leadership {
    held: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

impl Leadership {
    /// Completes when the Lease is lost (or its manager ends).
    async fn lost(&mut self) {
        while self.held.changed().await.is_ok() && *self.held.borrow() {}
    }

    /// Lets the Lease go, waiting at most `timeout` for the manager to release it.
    async fn release(self, timeout: std::time::Duration) {
        drop(self.held);
        let _ = tokio::time::timeout(timeout, self.task).await;
    }
}

/// Waits for the `controller.kro.run` Lease. `Ok(None)` when `shutdown` came first (the
/// manager is stopped then).
async fn acquire_leadership(
    client: &Client,
    opts: &Options,
    identity: String,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
) -> anyhow::Result<Option<Leadership>> {
    let namespace = lease_namespace(client, opts).await;
    let (duration, grace) = lease_timing(opts);
    let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await?;
    let (mut held, task) = manager.watch().await;
    tracing::info!(lease = LEASE_NAME, "waiting for leadership");
    while !*held.borrow_and_update() {
        tokio::select! {
            _ = &mut *shutdown => {
                drop(held);
                let _ = task.await;
                return Ok(None);
            }
            changed = held.changed() => changed?,
        }
    }
    tracing::info!(lease = LEASE_NAME, "leading");
    Ok(Some(Leadership { held, task }))
}

/// The Lease's duration and the lease manager's grace, in seconds: the holder renews when
/// `grace` is left of the duration, so a grace of duration − retry period renews every
/// `--leader-election-retry-period`, as client-go does, well inside the renew deadline that the
/// write fence ([`kro_reconcile::LeaderFence`]) holds it to.
fn lease_timing(opts: &Options) -> (u64, u64) {
    let duration = opts.leader_election_lease_duration.as_secs().max(2);
    let retry = opts.leader_election_retry_period.as_secs().max(1);
    let grace = duration.saturating_sub(retry).clamp(1, duration - 1);
    (duration, grace)
}

/// This replica's name in the Lease and in events: `--leader-election-identity` (`$POD_NAME`),
/// or `kro-<pid>`.
fn replica_identity(opts: &Options) -> String {
    Some(opts.leader_election_identity.clone())
        .filter(|identity| !identity.is_empty())
        .unwrap_or_else(|| format!("kro-{}", std::process::id()))
}

impl Shared {
    /// The process-wide state of `kro run`, reporting events as `identity`, with a random
    /// desired-hash key of its own (tests; `kro run` reads the install's key with
    /// [`Shared::with_hash_key`]).
    pub fn new(
        client: Client,
        opts: Options,
        metrics: Arc<metrics::Metrics>,
        stop: CancellationToken,
        identity: Option<String>,
    ) -> Arc<Self> {
        Self::with_hash_key(
            client,
            opts,
            metrics,
            stop,
            identity,
            hash_key::HashKey::random(),
        )
    }

    /// [`Shared::new`] with the given desired-hash key.
    pub fn with_hash_key(
        client: Client,
        opts: Options,
        metrics: Arc<metrics::Metrics>,
        stop: CancellationToken,
        identity: Option<String>,
        hash_key: hash_key::HashKey,
    ) -> Arc<Self> {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "kro".into(),
                instance: identity,
            },
        );
        Arc::new(Shared {
            discovery: discovery::Discovery::new(client.clone()),
            router: watches::Router::new(client.clone(), metrics.clone(), stop.clone()),
            client,
            metrics,
            recorder,
            semaphore: Semaphore::new(usize::from(
                opts.dynamic_controller_concurrent_reconciles.max(1),
            )),
            evaluations: Arc::new(Semaphore::new(usize::from(
                opts.dynamic_controller_concurrent_reconciles.max(1),
            ))),
            failures: kro_reconcile::Failures::new(),
            retry_bucket: opts.retry_bucket(),
            kro_version: kro_version(),
            stop,
            opts,
            clock: Arc::new(kro_reconcile::SystemClock),
            hash_key,
        })
    }
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
    let identity = replica_identity(&opts);
    let hash_key = load_hash_key(&client, &opts).await?;
    let shared = Shared::with_hash_key(
        client.clone(),
        opts.clone(),
        metrics,
        stop.clone(),
        Some(identity.clone()),
        hash_key,
    );

    let mut shutdown = std::pin::pin!(shutdown);
    // Warm-up: the RGD watch fills its cache while this replica stands by; it writes nothing.
    let warm = (opts.leader_elect && opts.enable_controller_warmup)
        .then(|| warmup::start(&shared, stop.clone()));
    // Leader election: wait for the Lease before starting anything that writes.
    let mut leadership = None;
    if opts.leader_elect {
        // 0 while standing by, 1 once leading (controller-runtime's leader gauge).
        shared.metrics.set_leading(LEASE_NAME, false);
        match acquire_leadership(&client, &opts, identity, &mut shutdown).await? {
            Some(held) => {
                shared.metrics.set_leading(LEASE_NAME, true);
                leadership = Some(held);
            }
            None => {
                stop.cancel();
                return Ok(());
            }
        }
    }

    install_static_crds(&client).await?;
    leading();
    let source = warm.map(warmup::Warm::source);
    let result = run_controllers(shared, ready, source, &mut shutdown, leadership.as_mut()).await;
    for server in servers {
        let _ = server.await;
    }
    if let Some(held) = leadership {
        held.release(opts.graceful_shutdown_timeout).await;
    }
    result
}

/// The RGD controller (and through it every instance controller) until shutdown or the loss
/// of the Lease; then everything is stopped, each part bounded by `--graceful-shutdown-timeout`.
async fn run_controllers(
    shared: Arc<Shared>,
    ready: Arc<AtomicBool>,
    source: Option<warmup::RgdSource>,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
    leadership: Option<&mut Leadership>,
) -> anyhow::Result<()> {
    let stop = shared.stop.clone();
    let ctx = rgd::RgdContext::new(shared.clone());
    let rgd_task = tokio::spawn(rgd::run(ctx.clone(), stop.clone(), ready, source));
    let lost = async {
        match leadership {
            Some(held) => held.lost().await,
            None => std::future::pending().await,
        }
    };
    let mut result = Ok(());
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down"),
        _ = lost => {
            tracing::error!("lost the leader lease; stopping");
            shared.metrics.set_leading(LEASE_NAME, false);
            result = Err(anyhow::anyhow!("lost the {LEASE_NAME} lease"));
        }
    }
    stop.cancel();
    let timeout = shared.opts.graceful_shutdown_timeout;
    let _ = tokio::time::timeout(timeout, rgd_task).await;
    ctx.stop_all(timeout).await;
    result
}

#[cfg(test)]
mod lease_timing_tests {
    use super::*;

    #[test]
    fn the_leader_renews_every_retry_period() {
        let timing = |lease: u64, retry: u64| {
            lease_timing(&Options {
                leader_election_lease_duration: std::time::Duration::from_secs(lease),
                leader_election_retry_period: std::time::Duration::from_secs(retry),
                ..Options::for_tests()
            })
        };
        // kro's defaults: a 15 s Lease renewed when 13 s are left, i.e. every 2 s.
        assert_eq!(timing(15, 2), (15, 13));
        assert_eq!(timing(4, 1), (4, 3));
        // Out-of-range values still give the lease manager what it accepts (0 < grace < duration).
        assert_eq!(timing(1, 5), (2, 1));
        assert_eq!(timing(10, 0), (10, 9));
    }
}

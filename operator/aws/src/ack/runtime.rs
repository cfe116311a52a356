//! The generic ACK reconcile driver: region and clients, adoption, finalizer, create-or-update,
//! deletion policy, conditions, status writes and requeue, for any kind implementing [`AckKind`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kro_reconcile::{Backoff, Clock, Failures, SystemClock};
use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::core::object::HasStatus;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::{PredicateConfig, WatchStreamExt, reflector};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::annotations::{self, DeletionPolicy};
use super::condition::{self, Condition, Extras, Outcome, Status};
use super::error::{AwsError, ErrorClass, classify};
use super::events::{self, Happened, Note};
use super::metrics::CountCalls;
use super::ownership::{Decision, decide, owns};
use super::types::{
    AckResourceMetadata, ResourceTag, Tag, TagContext, is_ignored_tag, render_resource_tags,
    with_default_tags,
};
use crate::AwsOptions;

/// AWS clients for one region.
#[derive(Clone, Debug)]
pub(crate) struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub rds: aws_sdk_rds::Client,
    pub sts: aws_sdk_sts::Client,
    #[cfg(feature = "ec2")]
    pub ec2: aws_sdk_ec2::Client,
    #[cfg(feature = "iam")]
    pub iam: aws_sdk_iam::Client,
}

/// Shared state of the controllers.
pub(crate) struct Ctx {
    pub client: kube::Client,
    pub opts: AwsOptions,
    base: aws_config::SdkConfig,
    default_region: String,
    clients: Mutex<HashMap<String, Arc<AwsClients>>>,
    account: OnceCell<String>,
    /// Consecutive failures per object (the backoff of API-server errors and recoverable ones).
    failures: Consecutive,
    /// Where condition times come from.
    clock: Arc<dyn Clock>,
    /// Objects left terminal, with the generation and annotations that were terminal: ACK does
    /// not retry them until one of those changes (status-only events are ignored).
    terminal: Mutex<HashMap<String, String>>,
    /// RDS engine defaults by family (parameter groups).
    pub(crate) parameter_meta: crate::rds::parameter_group::MetaCache,
}

impl Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("default_region", &self.default_region)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// The controllers' state: AWS clients are built per region from `base`.
    pub(crate) fn new(
        client: kube::Client,
        opts: AwsOptions,
        base: aws_config::SdkConfig,
        region: String,
    ) -> Self {
        Ctx {
            client,
            opts,
            base,
            default_region: region,
            clients: Mutex::new(HashMap::new()),
            account: OnceCell::new(),
            failures: Consecutive::default(),
            clock: Arc::new(SystemClock),
            terminal: Mutex::new(HashMap::new()),
            parameter_meta: Default::default(),
        }
    }

    fn clients(&self, region: &str) -> Arc<AwsClients> {
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(region.to_owned())
            .or_insert_with(|| {
                let region = aws_config::Region::new(region.to_owned());
                let s3 = aws_sdk_s3::config::Builder::from(&self.base)
                    .interceptor(CountCalls("s3"))
                    .region(region.clone())
                    .force_path_style(self.opts.force_path_style)
                    .build();
                let rds = aws_sdk_rds::config::Builder::from(&self.base)
                    .interceptor(CountCalls("rds"))
                    .region(region.clone())
                    .build();
                #[cfg(feature = "ec2")]
                let ec2 = aws_sdk_ec2::config::Builder::from(&self.base)
                    .interceptor(CountCalls("ec2"))
                    .region(region.clone())
                    .build();
                #[cfg(feature = "iam")]
                let iam = aws_sdk_iam::config::Builder::from(&self.base)
                    .interceptor(CountCalls("iam"))
                    .region(region.clone())
                    .build();
                let sts = aws_sdk_sts::config::Builder::from(&self.base)
                    .interceptor(CountCalls("sts"))
                    .region(region)
                    .build();
                Arc::new(AwsClients {
                    s3: aws_sdk_s3::Client::from_conf(s3),
                    rds: aws_sdk_rds::Client::from_conf(rds),
                    sts: aws_sdk_sts::Client::from_conf(sts),
                    #[cfg(feature = "ec2")]
                    ec2: aws_sdk_ec2::Client::from_conf(ec2),
                    #[cfg(feature = "iam")]
                    iam: aws_sdk_iam::Client::from_conf(iam),
                })
            })
            .clone()
    }

    /// The account the resources are created in: the configured one, else
    /// sts:GetCallerIdentity's (asked once).
    pub(crate) async fn owner_account(&self, clients: &AwsClients) -> Result<String, SyncError> {
        if let Some(id) = &self.opts.owner_account_id {
            return Ok(id.clone());
        }
        self.account
            .get_or_try_init(|| async {
                let out = clients
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| SyncError::aws("GetCallerIdentity", AwsError::from_sdk(e)))?;
                out.account.ok_or_else(|| {
                    SyncError::Waiting("sts:GetCallerIdentity returned no account".into())
                })
            })
            .await
            .cloned()
    }

    fn still_terminal(&self, key: &str, fingerprint: &str) -> bool {
        self.terminal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .is_some_and(|f| f == fingerprint)
    }

    fn set_terminal(&self, key: &str, fingerprint: Option<String>) {
        let mut map = self.terminal.lock().unwrap_or_else(|p| p.into_inner());
        match fingerprint {
            Some(f) => map.insert(key.to_owned(), f),
            None => map.remove(key),
        };
    }

    /// A recorder reporting as `kro-rs-ack-<service>` for the service of `group`
    /// (`s3.services.k8s.aws` → `kro-rs-ack-s3`). A new one per publish: kube's recorder folds
    /// events of the same reason into one series keeping the first message, and [`events`]
    /// already publishes only what changed, so each event here is a new one.
    fn recorder(&self, group: &str) -> Recorder {
        let service = group.split('.').next().unwrap_or(group);
        let controller = format!("kro-rs-ack-{service}");
        let instance = format!("{controller}-{}", std::process::id());
        Recorder::new(
            self.client.clone(),
            Reporter {
                controller,
                instance: Some(instance),
            },
        )
    }

    /// Publishes `notes` as events about `obj`; a failure to publish is only logged.
    async fn publish<K: AckKind>(&self, obj: &K, notes: Vec<Note>) {
        if notes.is_empty() {
            return;
        }
        let recorder = self.recorder(&K::group(&()));
        let regarding = obj.object_ref(&());
        for n in notes {
            let type_ = if n.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            kro_reconcile::publish(&recorder, &regarding, type_, n.reason, n.note).await;
        }
    }
}

/// Consecutive failures per object, counted while the object stays the same: a change of its
/// generation or annotations (its [`fingerprint`]) starts the backoff again from 1.
#[derive(Debug, Default)]
struct Consecutive {
    failures: Failures,
    /// The fingerprint each failing object failed with.
    states: Mutex<HashMap<String, String>>,
}

impl Consecutive {
    /// Counts one more failure of `key` in state `fingerprint` and returns the count.
    fn record(&self, key: &str, fingerprint: String) -> u32 {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        if states.get(key) != Some(&fingerprint) {
            self.failures.clear(key);
            states.insert(key.to_owned(), fingerprint);
        }
        self.failures.record(key)
    }

    /// Forgets the failures of `key` after a success.
    fn clear(&self, key: &str) {
        self.failures.clear(key);
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// The retry delays of recoverable errors (`--backoff-base`, `--backoff-max`).
fn backoff(opts: &AwsOptions) -> Backoff {
    Backoff {
        base: opts.backoff_base,
        max: opts.backoff_max,
    }
}

/// Why a sync did not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    /// An AWS call failed; classified with the kind's terminal codes.
    #[error("{op}: {err}")]
    Aws { op: &'static str, err: AwsError },
    /// A problem only a spec change can fix.
    #[error("{0}")]
    Terminal(String),
    /// Waiting for something outside AWS (a Secret, ...): recoverable.
    #[error("{0}")]
    Waiting(String),
    /// A `*Ref` field cannot be resolved yet.
    #[error("{1}")]
    References(Status, String),
    /// The API server failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl SyncError {
    /// A failed AWS call `op`.
    pub(crate) fn aws(op: &'static str, err: AwsError) -> Self {
        SyncError::Aws { op, err }
    }

    /// The output of AWS call `op`, or `None` when AWS answered "not found" (one of
    /// `not_found_codes`, or a bare 404).
    pub(crate) fn unless_not_found<T>(
        op: &'static str,
        res: Result<T, AwsError>,
        not_found_codes: &[&str],
    ) -> Result<Option<T>, SyncError> {
        match res {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found(not_found_codes) => Ok(None),
            Err(e) => Err(SyncError::aws(op, e)),
        }
    }

    fn class(&self, terminal_codes: &[&str]) -> ErrorClass {
        match self {
            SyncError::Aws { err, .. } => classify(err, terminal_codes),
            SyncError::Terminal(_) => ErrorClass::Terminal,
            SyncError::References(Status::False, _) => ErrorClass::Terminal,
            _ => ErrorClass::Recoverable,
        }
    }
}

/// What a successful update/sync reports.
#[derive(Debug, Default)]
pub(crate) struct Synced {
    /// `None` means synced; `Some(msg)` means not yet (waiting for a state).
    pub waiting: Option<String>,
    /// Kind-specific status fields (without conditions and ackResourceMetadata).
    pub status: Value,
    /// The resource's ARN.
    pub arn: Option<String>,
    /// Merge patch for the spec (late initialization).
    pub spec_patch: Option<Value>,
    /// Annotations to set.
    pub annotations: BTreeMap<String, String>,
    /// `Some(true)` when late initialization ran (kinds that have late-initialized fields).
    pub late_initialized: Option<bool>,
    /// Requeue sooner than the default.
    pub requeue_after: Option<Duration>,
    /// The AWS calls that changed the resource to match the spec (reported in an event).
    pub updated: Vec<String>,
    /// What the driver did besides (create, adopt), reported in events.
    pub(crate) happened: Vec<Happened>,
    /// `status.ackResourceMetadata.identifier` to write: the managed identifier, or empty for
    /// an object that only reads its resource (set by the driver, not the kinds).
    pub(crate) identifier: Option<String>,
}

/// What a create reports besides success.
#[derive(Debug, Default)]
pub(crate) struct Created {
    /// Annotations to record (e.g. the password reference).
    pub annotations: BTreeMap<String, String>,
    /// Status fields only the create response has (e.g. the bucket's location).
    pub status: Value,
    /// The identifier AWS assigned (kinds with [`AckKind::GENERATED_ID`]: `vpc-…`, `sg-…`).
    pub id: Option<String>,
}

/// Result of a delete call.
#[derive(Debug)]
pub(crate) enum Deleted {
    /// Gone (or going): the finalizer can be removed.
    Done,
    /// AWS is still busy; retry later with this message.
    Pending(String),
}

/// Everything a kind's AWS code needs for one reconcile.
#[derive(Debug)]
pub(crate) struct SyncCx<'a> {
    pub ctx: &'a Ctx,
    pub aws: Arc<AwsClients>,
    pub region: String,
    pub namespace: String,
    pub annotations: BTreeMap<String, String>,
}

/// The status fields every ACK kind shares, read by the driver's default accessors.
pub(crate) trait AckStatus {
    /// `status.conditions`.
    fn conditions(&self) -> &[Condition];
    /// `status.ackResourceMetadata`, once set.
    fn resource_metadata(&self) -> Option<&AckResourceMetadata>;
}

/// Implements [`AckStatus`] for a status struct with the usual `conditions` and
/// `ack_resource_metadata` fields.
macro_rules! impl_ack_status {
    ($status:ty) => {
        impl $crate::ack::runtime::AckStatus for $status {
            fn conditions(&self) -> &[$crate::ack::condition::Condition] {
                &self.conditions
            }
            fn resource_metadata(&self) -> Option<&$crate::ack::types::AckResourceMetadata> {
                self.ack_resource_metadata.as_ref()
            }
        }
    };
}
pub(crate) use impl_ack_status;

/// One ACK kind: its constants and its AWS calls. The driver does everything else.
pub(crate) trait AckKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasStatus<Status: AckStatus>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Finalizer, `finalizers.<group>/<Kind>`.
    const FINALIZER: &'static str;
    /// AWS error codes that are terminal for this kind.
    const TERMINAL_CODES: &'static [&'static str];
    /// Codes meaning "already exists": a create that hits them adopts its own resource.
    const ALREADY_EXISTS_CODES: &'static [&'static str];
    /// Key of the identifier in the adoption-fields annotation.
    const ADOPTION_KEY: &'static str;
    /// Annotations the controller writes itself (besides `services.k8s.aws/adopted`): writing
    /// them does not wake the object again.
    const OWN_ANNOTATIONS: &'static [&'static str] = &[];
    /// True when AWS assigns the identifier at create (EC2's `vpc-…`, `sg-…`): `identifier()`
    /// reads it from the status, an object without one is created, and the create reports it
    /// in [`Created::id`], which becomes the ownership marker right away.
    const GENERATED_ID: bool = false;
    /// Where the kind's tag list sits in its spec, as a JSON pointer (`/tags`; a Bucket's
    /// `/tagging/tagSet`): the default tags (`--resource-tags`) are merged there in memory, and
    /// system tags are kept out of an adopted spec there.
    const TAGS: &'static str = "/tags";
    /// What the kind reads from AWS.
    type Observed: Send + Sync + Debug;

    /// The AWS identifier from the spec.
    fn identifier(&self) -> String;
    /// Current conditions.
    fn conditions(&self) -> &[Condition] {
        self.status().map(AckStatus::conditions).unwrap_or_default()
    }
    /// `status.ackResourceMetadata`, once set.
    fn resource_metadata(&self) -> Option<&AckResourceMetadata> {
        self.status().and_then(AckStatus::resource_metadata)
    }
    /// `status.ackResourceMetadata.region`, once set.
    fn status_region(&self) -> Option<&str> {
        self.resource_metadata().map(|m| m.region.as_str())
    }
    /// True when this object manages the AWS resource `id` (see [`owns`]).
    fn owns(&self, id: &str) -> bool {
        let has_finalizer = self.finalizers().iter().any(|f| f == Self::FINALIZER);
        owns(has_finalizer, self.resource_metadata(), id)
    }
    /// True when the object has `*Ref` fields (so `ACK.ReferencesResolved` is reported).
    fn has_references(&self) -> bool {
        false
    }
    /// A copy with every `*Ref` resolved into its concrete field (in memory only).
    fn resolve(&self, _cx: &SyncCx<'_>) -> impl Future<Output = Result<Self, SyncError>> + Send {
        let this = self.clone();
        async move { Ok(this) }
    }
    /// Reads the AWS resource; `None` when it does not exist.
    fn read(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Observed>, SyncError>> + Send;
    /// Checks what a create needs besides AWS (e.g. the password Secret) before the finalizer
    /// is written, so a missing input waits without touching the object.
    fn precheck_create(
        &self,
        _cx: &SyncCx<'_>,
    ) -> impl Future<Output = Result<(), SyncError>> + Send {
        async { Ok(()) }
    }
    /// For a kind whose id AWS assigns: the id of the resource an earlier create of this
    /// object made, found by the creation token it was tagged with ([`creation_token`]);
    /// `None` when there is none (or the kind cannot look resources up by tag).
    fn find_created(
        &self,
        _cx: &SyncCx<'_>,
        _token: &Tag,
    ) -> impl Future<Output = Result<Option<String>, SyncError>> + Send {
        async { Ok(None) }
    }
    /// Creates the AWS resource.
    fn create(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
    ) -> impl Future<Output = Result<Created, SyncError>> + Send;
    /// Brings the AWS resource in line with the spec and reports status.
    fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: Self::Observed,
    ) -> impl Future<Output = Result<Synced, SyncError>> + Send;
    /// The spec an adopted resource gets (AWS's state), as a merge patch.
    fn adopted_spec(id: &str, observed: &Self::Observed) -> Value;
    /// Deletes the AWS resource.
    fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: Self::Observed,
    ) -> impl Future<Output = Result<Deleted, SyncError>> + Send;
}

/// Controller-level error: only API-server failures and panics get here.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReconcileError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("reconcile panicked: {0}")]
    Panic(String),
}

fn key<K: AckKind>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&()),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

use kro_api::decode::Lenient;

/// Runs the controller of kind `K` until `shutdown` resolves.
pub(crate) async fn run_controller<K: AckKind>(
    ctx: Arc<Ctx>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api = match &ctx.opts.watch_namespace {
        Some(ns) => Api::<Lenient<K>>::namespaced(ctx.client.clone(), ns),
        None => Api::<Lenient<K>>::all(ctx.client.clone()),
    };
    let concurrency = ctx.opts.max_concurrent_reconciles;
    tracing::info!(kind = %K::kind(&()), "starting ACK controller");
    // Only what `wake_hash` covers wakes a reconcile: the controller's own status writes (and
    // its finalizer and annotations) do not, so a failing object waits for its backoff.
    let (reader, writer) = reflector::store();
    // Decoded one by one: an object that cannot be is reported on itself and skipped.
    let objects = super::undecodable::watch(api, ctx.client.clone())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(wake_hash::<K>, PredicateConfig::default());
    // Bounded: a kind whose list is refused (RBAC) or not served would otherwise hold the
    // process's shutdown forever (see kro_reconcile::shutdown).
    let shutdown = shutdown.shared();
    let abandoned = kro_reconcile::abandon(
        shutdown.clone(),
        reader.clone(),
        ctx.opts.graceful_shutdown_timeout,
    );
    let controller = Controller::for_stream(objects, reader)
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "ACK reconcile failed");
            }
        });
    tokio::select! {
        () = controller => {}
        () = abandoned => {}
    }
    tracing::info!(kind = %K::kind(&()), "ACK controller stopped");
}

async fn reconcile<K: AckKind>(obj: Arc<K>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    // Each kind's reconcile, and below each kind's AWS calls, are boxed: the SDK's request and
    // response futures are large, and a future held inline is copied whole into every frame
    // that moves it (kilobytes each in a debug build, enough to overflow a 2 MiB test thread
    // once a kind's types grow).
    guard(&key(obj.as_ref()), Box::pin(reconcile_inner(obj, ctx))).await
}

/// Runs one reconcile of `object`, turning a panic into an error so the controller keeps
/// running (kube's controller would otherwise propagate it and stop) and the object is retried
/// with backoff. (kro-aws has no metrics registry, so the panic is logged, not counted.)
async fn guard<T>(
    object: &str,
    reconcile: impl Future<Output = Result<T, ReconcileError>>,
) -> Result<T, ReconcileError> {
    kro_reconcile::guard(object, || {}, reconcile)
        .await
        .unwrap_or_else(|panicked| Err(ReconcileError::Panic(panicked.message)))
}

fn error_policy<K: AckKind>(obj: Arc<K>, err: &ReconcileError, ctx: Arc<Ctx>) -> Action {
    let failures = ctx
        .failures
        .record(&key(obj.as_ref()), fingerprint(obj.as_ref()));
    let delay = backoff(&ctx.opts).delay(failures);
    tracing::warn!(object = %key(obj.as_ref()), error = %err, ?delay, "reconcile error, retrying");
    Action::requeue(delay)
}

/// What wakes a reconcile of `obj`: its generation (the spec), the deletion, its labels, its
/// annotations and finalizers except those the controller writes itself. Status writes, the
/// controller's own metadata and the resourceVersion alone wake nothing; the requeue of the
/// last reconcile (resync, not-synced wait or backoff) still runs.
fn wake_hash<K: AckKind>(obj: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    obj.meta().generation.hash(&mut hasher);
    obj.meta().deletion_timestamp.is_some().hash(&mut hasher);
    for label in obj.labels() {
        label.hash(&mut hasher);
    }
    let own = |key: &str| key == annotations::ADOPTED || K::OWN_ANNOTATIONS.contains(&key);
    for (key, value) in obj.annotations() {
        if !own(key) {
            (key, value).hash(&mut hasher);
        }
    }
    for finalizer in obj.finalizers() {
        if finalizer != K::FINALIZER {
            finalizer.hash(&mut hasher);
        }
    }
    Some(hasher.finish())
}

/// What must change for a terminal object to be retried: its generation or its annotations.
fn fingerprint<K: AckKind>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().generation.unwrap_or_default(),
        serde_json::to_string(obj.annotations()).unwrap_or_default()
    )
}

async fn reconcile_inner<K: AckKind>(obj: Arc<K>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let annotations = obj.annotations().clone();
    let k = key(obj.as_ref());
    if let Err(refused) = leading(&ctx) {
        tracing::warn!(object = k, error = %refused, "not reconciling");
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    if obj.meta().deletion_timestamp.is_none() && ctx.still_terminal(&k, &fingerprint(obj.as_ref()))
    {
        return Ok(Action::await_change());
    }

    // ACK's Namespace annotations: default-region and owner-account-id.
    let namespace = namespace_annotations(&ctx.client, &ns)
        .await?
        .unwrap_or_default();
    let region = match annotations::region(
        &annotations,
        annotations::namespace_default_region(&namespace).as_deref(),
        obj.status_region(),
        &ctx.default_region,
    ) {
        Ok(r) => r,
        Err(msg) => {
            if obj.meta().deletion_timestamp.is_some() {
                // The resource lives elsewhere than the annotation says: use where it lives.
                obj.status_region()
                    .unwrap_or(&ctx.default_region)
                    .to_owned()
            } else {
                return finish(
                    &api,
                    &obj,
                    &ctx,
                    &k,
                    Err(SyncError::Terminal(msg)),
                    Extras::default(),
                    None,
                )
                .await;
            }
        }
    };
    let cx = SyncCx {
        aws: ctx.clients(&region),
        ctx: &ctx,
        region: region.clone(),
        namespace: ns.clone(),
        annotations: annotations.clone(),
    };

    if obj.meta().deletion_timestamp.is_some() {
        return cleanup(&api, &obj, &cx, &k).await;
    }

    let mut extras = Extras::default();
    let result = match owner_account_check(&cx, &namespace).await {
        Ok(()) => Box::pin(sync(&api, &obj, &cx, &mut extras)).await,
        Err(e) => Err(e),
    };
    let account = match &result {
        Ok(_) => ctx.owner_account(&cx.aws).await.ok(),
        Err(_) => None,
    };
    let meta = account.map(|a| (a, region));
    finish(&api, &obj, &ctx, &k, result, extras, meta).await
}

/// With leader election, whether this replica's hold on the Lease is certain (checked before
/// a reconcile and right before each create and delete in AWS).
fn leading(ctx: &Ctx) -> Result<(), kro_reconcile::NotLeading> {
    ctx.opts
        .leader_fence
        .as_ref()
        .map_or(Ok(()), |fence| fence.check())
}

/// [`leading`] as the error of a sync that must not call AWS now.
fn leading_or_wait(ctx: &Ctx) -> Result<(), SyncError> {
    leading(ctx).map_err(|refused| SyncError::Waiting(refused.to_string()))
}

/// A read-only object: never created, updated or deleted; only what AWS has is reported.
async fn report_read_only<K: AckKind>(
    resolved: &K,
    cx: &SyncCx<'_>,
    id: String,
    observed: Option<K::Observed>,
    owned: bool,
) -> Result<Synced, SyncError> {
    let Some(observed) = observed else {
        return Err(SyncError::Waiting(format!(
            "read-only resource not found: no AWS resource with {} {id:?}",
            K::ADOPTION_KEY
        )));
    };
    let spec = adopted_spec::<K>(&id, &observed);
    let mut synced = Box::pin(with_spec(resolved, &spec)?.update(cx, &id, observed)).await?;
    synced.spec_patch = None;
    // Reading proves nothing: the marker stays as it was (ours only if it already was).
    synced.identifier = Some(if owned { id } else { String::new() });
    Ok(synced)
}

async fn sync<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    cx: &SyncCx<'_>,
    extras: &mut Extras,
) -> Result<Synced, SyncError> {
    let annotations = &cx.annotations;
    let adoption = annotations::adoption_policy(annotations)
        .map_err(|e| SyncError::Terminal(e.to_string()))?;
    let resolved = if obj.has_references() {
        match Box::pin(obj.resolve(cx)).await {
            Ok(r) => {
                extras.references = Some(Ok(()));
                r
            }
            Err(SyncError::References(status, msg)) => {
                extras.references = Some(Err((status, msg.clone())));
                return Err(SyncError::References(status, msg));
            }
            Err(e) => return Err(e),
        }
    } else {
        obj.clone()
    };
    let read_only = annotations::is_read_only(annotations);
    // ACK's EnsureTags: the default tags join the spec's, in memory (never for read-only).
    let resolved = if read_only {
        resolved
    } else {
        with_resource_tags(&resolved, cx)?
    };
    let id = match adoption {
        Some(_) if cx.ctx.opts.enable_resource_adoption => {
            annotations::adoption_field(annotations, K::ADOPTION_KEY)
                .map_err(|e| SyncError::Terminal(e.to_string()))?
                .unwrap_or_else(|| resolved.identifier())
        }
        _ => resolved.identifier(),
    };
    check_identifier::<K>(&id, adoption.is_some())?;
    let has_finalizer = obj.finalizers().iter().any(|f| f == K::FINALIZER);
    let owned = obj.owns(&id);
    if !owned && adoption.is_some() && !cx.ctx.opts.enable_resource_adoption {
        // Refused before anything is read from AWS.
        return Err(adoption_disabled::<K>());
    }

    // An AWS-assigned identifier not known yet: nothing to read, the resource is created.
    let observed = if id.is_empty() {
        None
    } else {
        Box::pin(resolved.read(cx, &id)).await?
    };
    if read_only {
        return report_read_only(&resolved, cx, id, observed, owned).await;
    }
    let decision = decide(
        observed.is_some(),
        owned,
        adoption,
        cx.ctx.opts.enable_resource_adoption,
    );
    let observed = match (decision, observed) {
        (Decision::AdoptedMissing, _) => {
            return Err(SyncError::Waiting(format!(
                "adopted resource not found: no AWS resource with {} {id:?}",
                K::ADOPTION_KEY
            )));
        }
        (Decision::Unmanaged, _) => return Err(unmanaged::<K>(&id, has_finalizer)),
        (Decision::AdoptionDisabled, _) => return Err(adoption_disabled::<K>()),
        (_, None) => {
            let mut synced = if id.is_empty() {
                create_generated(api, obj, &resolved, cx, has_finalizer).await?
            } else {
                create_then_update(api, obj, &resolved, cx, &id, has_finalizer, owned).await?
            };
            let id = synced.identifier.clone().unwrap_or(id);
            // Configuring a new resource is part of creating it: one event says both.
            synced.updated.clear();
            synced.happened.insert(
                0,
                Happened::Created {
                    id: id.clone(),
                    region: cx.region.clone(),
                },
            );
            synced.identifier = Some(id);
            return Ok(synced);
        }
        (_, Some(o)) => o,
    };
    let result = match decision {
        Decision::Import => import(api, obj, &resolved, cx, &id, observed).await,
        Decision::AdoptThenUpdate => {
            add_finalizer(api, obj, K::FINALIZER).await?;
            let mut synced = Box::pin(resolved.update(cx, &id, observed)).await?;
            synced
                .annotations
                .insert(annotations::ADOPTED.into(), "true".into());
            synced.happened.push(Happened::Adopted { id: id.clone() });
            Ok(with_updates(synced, &id))
        }
        _ => Ok(with_updates(
            Box::pin(resolved.update(cx, &id, observed)).await?,
            &id,
        )),
    };
    result.map(|mut synced| {
        synced.identifier = Some(id);
        synced
    })
}

/// Adopts `id` with AWS's state as the spec (adoption policy `adopt`): the finalizer goes on,
/// and the spec, the adopted annotation and the status are written together by `finish`.
async fn import<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    resolved: &K,
    cx: &SyncCx<'_>,
    id: &str,
    observed: K::Observed,
) -> Result<Synced, SyncError> {
    add_finalizer(api, obj, K::FINALIZER).await?;
    // Mid-adopt: the finalizer is on, the spec is still the user's placeholder.
    kro_reconcile::kill_point("ack/adopt-after-finalizer");
    // The spec becomes AWS's state: report against it, so nothing in AWS changes.
    let spec = adopted_spec::<K>(id, &observed);
    let mut synced = Box::pin(with_spec(resolved, &spec)?.update(cx, id, observed)).await?;
    synced.spec_patch = Some(spec);
    synced
        .annotations
        .insert(annotations::ADOPTED.into(), "true".into());
    synced
        .happened
        .push(Happened::Adopted { id: id.to_string() });
    Ok(with_updates(synced, id))
}

/// ACK's Namespace `services.k8s.aws/owner-account-id` picks the account through cross-account
/// roles (CARM), which kro-rs does not have: naming the controller's own account is fine, any
/// other is terminal (the resource would otherwise be created in the wrong account).
async fn owner_account_check(
    cx: &SyncCx<'_>,
    namespace: &BTreeMap<String, String>,
) -> Result<(), SyncError> {
    let Some(wanted) = namespace
        .get(annotations::OWNER_ACCOUNT_ID)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    else {
        return Ok(());
    };
    let account = cx.ctx.owner_account(&cx.aws).await?;
    if wanted == account {
        return Ok(());
    }
    Err(SyncError::Terminal(format!(
        "Namespace {ns} has annotation {key}={wanted:?}, but this controller's credentials are for \
         account {account} and kro-rs does not assume roles in other accounts (ACK's CARM): remove \
         the annotation, or run a controller with credentials for account {wanted}",
        ns = cx.namespace,
        key = annotations::OWNER_ACCOUNT_ID,
    )))
}

/// An empty identifier is fine only for a kind whose identifier AWS assigns, when nothing is
/// adopted (the resource is then created); otherwise a terminal error says what to set.
fn check_identifier<K: AckKind>(id: &str, adopting: bool) -> Result<(), SyncError> {
    if id.is_empty() && K::GENERATED_ID && adopting {
        return Err(SyncError::Terminal(format!(
            "nothing to adopt: set {} in annotation {} to the id of the {} to adopt",
            K::ADOPTION_KEY,
            annotations::ADOPTION_FIELDS,
            K::kind(&())
        )));
    }
    if id.is_empty() && !K::GENERATED_ID {
        return Err(SyncError::Terminal(format!(
            "the AWS identifier is empty: set spec.{} (or {} in annotation {})",
            K::ADOPTION_KEY,
            K::ADOPTION_KEY,
            annotations::ADOPTION_FIELDS
        )));
    }
    Ok(())
}

/// ACK's terminal "Resource already exists" for an AWS resource this object does not manage.
fn unmanaged<K: AckKind>(id: &str, has_finalizer: bool) -> SyncError {
    let finalizer = if has_finalizer {
        format!(
            " (the finalizer {} does not make it managed: only a resource this object created \
             or adopted is)",
            K::FINALIZER
        )
    } else {
        String::new()
    };
    SyncError::Terminal(format!(
        "Resource already exists: {kind} {id:?} already exists but is not managed by ACK{finalizer}. \
         To bring the resource under ACK management, you should explicitly adopt it: set \
         annotation {policy}: adopt (or adopt-or-create) with {fields}: '{{\"{key}\": \"{id}\"}}'",
        kind = K::kind(&()),
        policy = annotations::ADOPTION_POLICY,
        fields = annotations::ADOPTION_FIELDS,
        key = K::ADOPTION_KEY,
    ))
}

/// The terminal error of an adoption annotation while adoption is turned off.
fn adoption_disabled<K: AckKind>() -> SyncError {
    SyncError::Terminal(format!(
        "resource adoption is disabled in this operator: annotation {} is not honoured, and \
         nothing was read from or written to AWS; remove the annotation to create a new {}, or \
         ask the operator's administrator to start kro run with --enable-resource-adoption=true",
        annotations::ADOPTION_POLICY,
        K::kind(&()),
    ))
}

/// Records the kind's AWS changes of this sync as something that happened.
fn with_updates(mut synced: Synced, id: &str) -> Synced {
    if !synced.updated.is_empty() {
        synced.happened.push(Happened::Updated {
            id: id.to_owned(),
            calls: std::mem::take(&mut synced.updated),
        });
    }
    synced
}

/// The spec of an adopted resource: AWS's state without system tags (`aws:*`) and ACK's
/// default tags (`services.k8s.aws/*`), which are never the user's (ACK's `FilterSystemTags`).
fn adopted_spec<K: AckKind>(id: &str, observed: &K::Observed) -> Value {
    let mut spec = K::adopted_spec(id, observed);
    if let Some(Value::Array(tags)) = spec.pointer_mut(K::TAGS) {
        tags.retain(|t| {
            !t.get("key")
                .and_then(Value::as_str)
                .is_some_and(is_ignored_tag)
        });
    }
    spec
}

/// `obj` with the default tags of `--resource-tags` added to its spec's tags ([`AckKind::TAGS`])
/// where the spec does not set the key itself; `obj` unchanged when none are configured.
fn with_resource_tags<K: AckKind>(obj: &K, cx: &SyncCx<'_>) -> Result<K, SyncError> {
    merge_resource_tags(obj, &cx.ctx.opts.resource_tags, &cx.namespace)
}

/// [`with_resource_tags`] for the default tags `tags` of an object in `namespace`.
fn merge_resource_tags<K: AckKind>(
    obj: &K,
    tags: &[ResourceTag],
    namespace: &str,
) -> Result<K, SyncError> {
    if tags.is_empty() {
        return Ok(obj.clone());
    }
    let group = K::group(&());
    let name = obj.name_any();
    let defaults = render_resource_tags(
        tags,
        TagContext {
            service: group.split('.').next().unwrap_or(&group),
            version: env!("CARGO_PKG_VERSION"),
            namespace,
            name: &name,
        },
    );
    with_tags(obj, &defaults)
}

/// The tag a resource whose id AWS assigns ([`AckKind::GENERATED_ID`]) is created with: the
/// object's uid under `services.k8s.aws/creation-token`, so a create whose id was never
/// recorded is found again ([`AckKind::find_created`]) rather than repeated. Like ACK's default
/// tags it is left alone by the diff and kept out of an adopted spec.
pub(crate) fn creation_token<K: AckKind>(obj: &K) -> Tag {
    Tag::new(CREATION_TOKEN, obj.uid().unwrap_or_default())
}

/// The key of [`creation_token`].
pub(crate) const CREATION_TOKEN: &str = "services.k8s.aws/creation-token";

/// `obj` with `tags` added to its spec's tags ([`AckKind::TAGS`]) where the spec does not set
/// the key itself.
fn with_tags<K: AckKind>(obj: &K, tags: &[Tag]) -> Result<K, SyncError> {
    let mut v = serde_json::to_value(obj).map_err(|e| SyncError::Terminal(e.to_string()))?;
    let pointer = format!("/spec{}", K::TAGS);
    let current: Vec<Tag> = v
        .pointer(&pointer)
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| SyncError::Terminal(format!("spec{}: {e}", K::TAGS.replace('/', "."))))?
        .unwrap_or_default();
    let merged = serde_json::to_value(with_default_tags(&current, tags))
        .map_err(|e| SyncError::Terminal(e.to_string()))?;
    set_pointer(&mut v, &pointer, merged);
    serde_json::from_value(v).map_err(|e| SyncError::Terminal(e.to_string()))
}

/// Sets `pointer` (plain `/a/b` keys) in `v` to `value`, creating the objects on the way.
fn set_pointer(v: &mut Value, pointer: &str, value: Value) {
    let mut at = v;
    let keys: Vec<&str> = pointer.split('/').skip(1).collect();
    for (i, key) in keys.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let Some(map) = at.as_object_mut() else {
            return;
        };
        if i + 1 == keys.len() {
            map.insert((*key).to_owned(), value);
            return;
        }
        at = map.entry((*key).to_owned()).or_insert_with(|| json!({}));
    }
}

/// A copy of `obj` whose spec is exactly `spec` (AWS's state, for adopt and read-only), so an
/// update against it changes nothing in AWS.
fn with_spec<K: AckKind>(obj: &K, spec: &Value) -> Result<K, SyncError> {
    let mut v = serde_json::to_value(obj).map_err(|e| SyncError::Terminal(e.to_string()))?;
    v["spec"] = spec.clone();
    serde_json::from_value(v).map_err(|e| {
        SyncError::Terminal(format!(
            "the AWS resource does not fit the spec schema: {e}"
        ))
    })
}

/// Creates the AWS resource `id`. Unless the object already owns `id` (a previous attempt),
/// the ownership marker goes into status and the finalizer onto the object first, so a
/// controller restarted mid-create finds its own resource and updates it; a create that finds
/// the resource already there, or fails for good, takes both back.
async fn create_then_update<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    resolved: &K,
    cx: &SyncCx<'_>,
    id: &str,
    has_finalizer: bool,
    owned: bool,
) -> Result<Synced, SyncError> {
    Box::pin(resolved.precheck_create(cx)).await?;
    let marked;
    let obj = if owned {
        obj
    } else {
        // The finalizer patch below carries the resourceVersion: take the marked object's.
        marked = write_marker(api, obj, cx, Some(id)).await?;
        &marked
    };
    if !has_finalizer {
        add_finalizer(api, obj, K::FINALIZER).await?;
    }
    kro_reconcile::kill_point("ack/before-create");
    leading_or_wait(cx.ctx)?;
    let undo = || async {
        if !owned {
            let _ = write_marker(api, obj, cx, None).await;
        }
        if !has_finalizer {
            let _ = remove_finalizer(api, &obj.name_any(), K::FINALIZER).await;
        }
    };
    let mut created = match Box::pin(resolved.create(cx, id)).await {
        Ok(c) => c,
        Err(SyncError::Aws { err, .. }) if owned && err.is_code(K::ALREADY_EXISTS_CODES) => {
            // An earlier attempt of this object created it (the marker predates this sync).
            tracing::info!(
                id,
                "resource already exists after an earlier create of this object; it is ours"
            );
            Created::default()
        }
        Err(SyncError::Aws { err, .. }) if err.is_code(K::ALREADY_EXISTS_CODES) => {
            // Someone else created it between the read and the create: not ours.
            undo().await;
            return Err(unmanaged::<K>(id, has_finalizer));
        }
        Err(e) => {
            if e.class(K::TERMINAL_CODES) == ErrorClass::Terminal {
                // Nothing exists in AWS and retrying will not change that: not managed. (After
                // a recoverable failure marker and finalizer stay; the retry creates, and a
                // deletion finds nothing in AWS and just removes the finalizer.)
                undo().await;
            }
            return Err(e);
        }
    };
    // Created in AWS, nothing of it recorded but the marker written before.
    kro_reconcile::kill_point("ack/after-create");
    let observed = read_after_create(resolved, cx, id).await?;
    // The update right after the create sees the object as the create leaves it: with the
    // annotations it records (the password reference), so nothing is sent twice.
    let mut annotations = cx.annotations.clone();
    annotations.extend(created.annotations.clone());
    let after = SyncCx {
        ctx: cx.ctx,
        aws: cx.aws.clone(),
        region: cx.region.clone(),
        namespace: cx.namespace.clone(),
        annotations,
    };
    let mut synced = resolved.update(&after, id, observed).await?;
    synced.annotations.append(&mut created.annotations);
    if created.status.is_object() {
        let mut status = created.status;
        merge(&mut status, &synced.status);
        synced.status = status;
    }
    Ok(synced)
}

/// Creates a resource whose identifier AWS assigns ([`AckKind::GENERATED_ID`]). The object is
/// read again from the API server first, so an identifier recorded by the previous reconcile but
/// not yet in the watch cache is never taken for "not created" (which would create a second
/// resource). The finalizer goes on before the create; the identifier AWS returns becomes the
/// ownership marker at once (retried a few times: if the API server refuses it for good, the
/// resource exists in AWS unrecorded and the error names its id, to adopt it).
async fn create_generated<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    resolved: &K,
    cx: &SyncCx<'_>,
    has_finalizer: bool,
) -> Result<Synced, SyncError> {
    let fresh = api.get(&obj.name_any()).await?;
    if !fresh.identifier().is_empty() {
        return Err(SyncError::Waiting(
            "the identifier of the created resource is recorded but not read back yet".into(),
        ));
    }
    Box::pin(resolved.precheck_create(cx)).await?;
    if !has_finalizer {
        add_finalizer(api, &fresh, K::FINALIZER).await?;
    }
    // An earlier create of this object that was cut off (a kill, a lost answer) before its id
    // was recorded left a resource carrying this object's creation token: it is ours, and is
    // recorded instead of created a second time.
    let token = creation_token(obj);
    let (id, mut created) = match resolved.find_created(cx, &token).await? {
        Some(id) => {
            tracing::info!(
                id,
                "found the resource an earlier create of this object made"
            );
            (id, Created::default())
        }
        None => {
            leading_or_wait(cx.ctx)?;
            let tokened = with_tags(resolved, std::slice::from_ref(&token))?;
            let created = match Box::pin(tokened.create(cx, "")).await {
                Ok(c) => c,
                Err(e) => {
                    if !has_finalizer && e.class(K::TERMINAL_CODES) == ErrorClass::Terminal {
                        let _ = remove_finalizer(api, &obj.name_any(), K::FINALIZER).await;
                    }
                    return Err(e);
                }
            };
            let Some(id) = created.id.clone().filter(|id| !id.is_empty()) else {
                return Err(SyncError::Waiting(format!(
                    "AWS created the {} but returned no identifier",
                    K::kind(&())
                )));
            };
            kro_reconcile::kill_point("ack/generated-after-create");
            (id, created)
        }
    };
    record_generated_id(api, obj, cx, &id).await?;
    kro_reconcile::kill_point("ack/generated-after-id");
    let observed = read_after_create(resolved, cx, &id).await?;
    let mut synced = Box::pin(resolved.update(cx, &id, observed)).await?;
    synced.annotations.append(&mut created.annotations);
    if created.status.is_object() {
        let mut status = created.status;
        merge(&mut status, &synced.status);
        synced.status = status;
    }
    synced.identifier = Some(id);
    Ok(synced)
}

/// Records the identifier AWS just assigned as the ownership marker, retried a few times; an
/// error names the id, to adopt it, when the API server refuses it for good.
async fn record_generated_id<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    cx: &SyncCx<'_>,
    id: &str,
) -> Result<(), SyncError> {
    let mut attempt = 0;
    loop {
        match write_marker(api, obj, cx, Some(id)).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 4 => {
                attempt += 1;
                tracing::warn!(id, error = %e, "recording the new resource's id failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            Err(e) => {
                tracing::error!(
                    id,
                    error = %e,
                    "created in AWS but the id could not be recorded: adopt it to manage it"
                );
                return Err(SyncError::Waiting(format!(
                    "{} {id} was created in AWS but its id could not be recorded ({e}); adopt it \
                     with annotation {}: '{{\"{}\": \"{id}\"}}'",
                    K::kind(&()),
                    annotations::ADOPTION_FIELDS,
                    K::ADOPTION_KEY
                )));
            }
        }
    }
}

/// Writes the ownership marker `status.ackResourceMetadata.identifier` (`Some(id)`, with the
/// account and region the resource is created in), or clears it (`None`); returns the object
/// as written.
async fn write_marker<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    cx: &SyncCx<'_>,
    id: Option<&str>,
) -> Result<K, SyncError> {
    let meta = match id {
        Some(id) => {
            let account = cx.ctx.owner_account(&cx.aws).await?;
            json!({
                "ownerAccountID": account,
                "region": cx.region,
                "identifier": id,
                "arn": null,
            })
        }
        None => json!({"identifier": ""}),
    };
    let patch = json!({"status": {"ackResourceMetadata": meta}});
    Ok(api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?)
}

/// Reads right after a create, retrying "not found" for up to ~10 s (eventual consistency).
async fn read_after_create<K: AckKind>(
    obj: &K,
    cx: &SyncCx<'_>,
    id: &str,
) -> Result<K::Observed, SyncError> {
    let mut delay = Duration::from_millis(200);
    for _ in 0..6 {
        if let Some(o) = Box::pin(obj.read(cx, id)).await? {
            return Ok(o);
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    Err(SyncError::Waiting(format!(
        "{id:?} was created but cannot be read back yet"
    )))
}

async fn cleanup<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    cx: &SyncCx<'_>,
    k: &str,
) -> Result<Action, ReconcileError> {
    let ctx = cx.ctx;
    if !obj.finalizers().iter().any(|f| f == K::FINALIZER) {
        return Ok(Action::await_change());
    }
    let managed_id = annotations::adoption_field(&cx.annotations, K::ADOPTION_KEY)
        .ok()
        .flatten()
        .unwrap_or_else(|| obj.identifier());
    if !obj.owns(&managed_id) {
        // A finalizer someone wrote on an object that never created or adopted its resource.
        return release(api, obj, cx, k, managed_id).await;
    }
    let namespace = namespace_annotations(&ctx.client, &cx.namespace).await?;
    let policy = match annotations::deletion_policy(
        &cx.annotations,
        namespace.as_ref().map(|a| (cx.namespace.as_str(), a)),
        &K::group(&()),
        ctx.opts.deletion_policy,
    ) {
        Ok(p) => p,
        Err(e) => {
            return finish(
                api,
                obj,
                ctx,
                k,
                Err(SyncError::Terminal(e.to_string())),
                Extras::default(),
                None,
            )
            .await;
        }
    };
    if policy == DeletionPolicy::Retain || annotations::is_read_only(&cx.annotations) {
        return retain(api, obj, cx, k).await;
    }
    let resolved = if obj.has_references() {
        Box::pin(obj.resolve(cx))
            .await
            .unwrap_or_else(|_| obj.clone())
    } else {
        obj.clone()
    };
    let id = annotations::adoption_field(&cx.annotations, K::ADOPTION_KEY)
        .ok()
        .flatten()
        .unwrap_or_else(|| resolved.identifier());
    let mut existed = false;
    let result = async {
        leading_or_wait(cx.ctx)?;
        match Box::pin(resolved.read(cx, &id)).await? {
            None => Ok(Deleted::Done),
            Some(observed) => {
                existed = true;
                Box::pin(resolved.delete(cx, &id, observed)).await
            }
        }
    }
    .await;
    match result {
        Ok(Deleted::Done) => {
            tracing::info!(object = k, id, "AWS resource deleted");
            let deleted = [Happened::Deleted {
                id: id.clone(),
                existed,
            }];
            ctx.publish(obj, events::notes(&K::kind(&()), &deleted, None, &[]))
                .await;
            kro_reconcile::kill_point("ack/delete-after-aws");
            remove_finalizer(api, &obj.name_any(), K::FINALIZER).await?;
            ctx.failures.clear(k);
            Ok(Action::await_change())
        }
        Ok(Deleted::Pending(msg)) => {
            let synced = Synced {
                waiting: Some(msg),
                ..Default::default()
            };
            finish(api, obj, ctx, k, Ok(synced), Extras::default(), None).await
        }
        Err(e) => finish(api, obj, ctx, k, Err(e), Extras::default(), None).await,
    }
}

/// The annotations of Namespace `name` (for `<group>/deletion-policy`); `None` when it is gone.
async fn namespace_annotations(
    client: &kube::Client,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, kube::Error> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    Ok(api.get_opt(name).await?.map(|n| n.annotations().clone()))
}

/// Deletion of an object that does not manage its AWS resource (its finalizer was written by
/// someone else, or the create never happened): the finalizer goes, AWS is not touched.
async fn release<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    cx: &SyncCx<'_>,
    k: &str,
    id: String,
) -> Result<Action, ReconcileError> {
    tracing::info!(
        object = k,
        id,
        "not managed by this object: removing the finalizer and leaving AWS alone"
    );
    let notes = events::notes(&K::kind(&()), &[Happened::NotManaged { id }], None, &[]);
    cx.ctx.publish(obj, notes).await;
    remove_finalizer(api, &obj.name_any(), K::FINALIZER).await?;
    cx.ctx.failures.clear(k);
    Ok(Action::await_change())
}

/// Deletion with policy retain (or a read-only object): the AWS resource stays, the finalizer
/// goes.
async fn retain<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    cx: &SyncCx<'_>,
    k: &str,
) -> Result<Action, ReconcileError> {
    tracing::info!(
        object = k,
        "deletion policy retain: keeping the AWS resource"
    );
    let id = annotations::adoption_field(&cx.annotations, K::ADOPTION_KEY)
        .ok()
        .flatten()
        .unwrap_or_else(|| obj.identifier());
    let notes = events::notes(&K::kind(&()), &[Happened::Retained { id }], None, &[]);
    cx.ctx.publish(obj, notes).await;
    remove_finalizer(api, &obj.name_any(), K::FINALIZER).await?;
    Ok(Action::await_change())
}

/// Writes conditions, status, spec and annotations, and picks the requeue.
async fn finish<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    ctx: &Ctx,
    k: &str,
    result: Result<Synced, SyncError>,
    mut extras: Extras,
    meta: Option<(String, String)>,
) -> Result<Action, ReconcileError> {
    let name = obj.name_any();
    let mut happened = Vec::new();
    let (outcome, mut status, action) = match result {
        Ok(mut synced) => {
            happened = std::mem::take(&mut synced.happened);
            ctx.failures.clear(k);
            extras.late_initialized = synced.late_initialized;
            if !synced.annotations.is_empty() {
                let patch = json!({"metadata": {"annotations": synced.annotations}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
                    .or_else(ignore_gone)?;
                kro_reconcile::kill_point("ack/after-annotations");
            }
            if let Some(spec) = &synced.spec_patch {
                let patch = json!({"spec": spec});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
                    .or_else(ignore_gone)?;
            }
            let mut status = if synced.status.is_object() {
                synced.status
            } else {
                json!({})
            };
            if let (Some((account, region)), Some(map)) = (meta, status.as_object_mut()) {
                let mut m = json!({"ownerAccountID": account, "region": region});
                if let Some(arn) = synced.arn {
                    // ACK's `partition`: the one the ARN names (`arn:<partition>:...`).
                    if let Some(partition) = arn_partition(&arn) {
                        m["partition"] = json!(partition);
                    }
                    m["arn"] = json!(arn);
                }
                if let Some(id) = synced.identifier {
                    m["identifier"] = json!(id);
                }
                map.insert("ackResourceMetadata".into(), m);
            }
            match synced.waiting {
                None => (
                    Outcome::Synced,
                    status,
                    Action::requeue(resync_period::<K>(&ctx.opts)),
                ),
                Some(msg) => (
                    Outcome::NotSynced(msg),
                    status,
                    Action::requeue(synced.requeue_after.unwrap_or(ctx.opts.requeue_not_synced)),
                ),
            }
        }
        Err(SyncError::Kube(e)) => return Err(ReconcileError::Kube(e)),
        Err(e) => {
            let class = e.class(K::TERMINAL_CODES);
            let attempt = match class {
                ErrorClass::Terminal => {
                    ctx.set_terminal(k, Some(fingerprint(obj)));
                    0
                }
                ErrorClass::Recoverable => ctx.failures.record(k, fingerprint(obj)),
            };
            let (outcome, action) = error_outcome(&e, class, attempt, &ctx.opts);
            tracing::info!(object = k, error = %e, ?class, "sync failed");
            (outcome, json!({}), action)
        }
    };
    if !matches!(outcome, Outcome::Terminal(_)) {
        ctx.set_terminal(k, None);
    }
    let notes = events::notes(&K::kind(&()), &happened, Some(&outcome), obj.conditions());
    let conditions = condition::build(&outcome, &extras, obj.conditions(), &ctx.clock.now());
    if let Some(map) = status.as_object_mut() {
        map.insert(
            "conditions".into(),
            serde_json::to_value(&conditions).unwrap_or_default(),
        );
    }
    let existing = serde_json::to_value(obj)
        .ok()
        .and_then(|v| v.get("status").cloned())
        .unwrap_or_else(|| json!({}));
    let mut merged = existing.clone();
    merge(&mut merged, &status);
    kro_reconcile::kill_point("ack/before-status");
    if merged != existing {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .map(|_| ())
        .or_else(ignore_gone)?;
    }
    ctx.publish(obj, notes).await;
    Ok(action)
}

/// How long a synced object of kind `K` waits for its next resync: its kind's entry of
/// `--reconcile-resource-resync-seconds`, else `--reconcile-default-resync-seconds`.
fn resync_period<K: AckKind>(opts: &AwsOptions) -> Duration {
    let kind = K::kind(&());
    opts.resource_resync
        .iter()
        .find(|(k, _)| k.name() == kind)
        .map_or(opts.resync_period, |(_, d)| *d)
}

/// The partition of an ARN (`arn:aws-cn:iam::1:role/x` → `aws-cn`).
fn arn_partition(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.next())
        .flatten()
        .filter(|p| !p.is_empty())
}

/// The condition outcome and requeue of a failed sync: terminal waits for a change, anything
/// else retries after the exponential backoff of its `attempt` (1-based).
fn error_outcome(
    e: &SyncError,
    class: ErrorClass,
    attempt: u32,
    opts: &AwsOptions,
) -> (Outcome, Action) {
    let msg = e.to_string();
    match class {
        ErrorClass::Terminal => (Outcome::Terminal(msg), Action::await_change()),
        ErrorClass::Recoverable => (
            Outcome::Recoverable(msg),
            Action::requeue(backoff(opts).delay(attempt)),
        ),
    }
}

fn ignore_gone(e: kube::Error) -> Result<(), kube::Error> {
    match e {
        kube::Error::Api(s) if s.code == 404 => Ok(()),
        e => Err(e),
    }
}

/// JSON merge patch semantics (RFC 7386) applied in memory.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

async fn add_finalizer<K: AckKind>(
    api: &Api<K>,
    obj: &K,
    finalizer: &str,
) -> Result<(), SyncError> {
    let mut finalizers = obj.finalizers().to_vec();
    if finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    finalizers.push(finalizer.to_owned());
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": obj.resource_version(),
    }});
    api.patch(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

async fn remove_finalizer<K: AckKind>(
    api: &Api<K>,
    name: &str,
    finalizer: &str,
) -> Result<(), kube::Error> {
    // Re-read so the list is current; resourceVersion makes a concurrent change a conflict.
    let Some(current) = api.get_opt(name).await? else {
        return Ok(());
    };
    if !current.finalizers().iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let finalizers: Vec<&String> = current
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .collect();
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": current.resource_version(),
    }});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .or_else(ignore_gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unless_not_found_maps_only_not_found_to_none() {
        let aws = |code: &str, http_status| AwsError {
            code: Some(code.to_owned()),
            message: "m".into(),
            http_status: Some(http_status),
        };
        let codes = &["NoSuchBucket"];
        let found = SyncError::unless_not_found("Op", Ok::<_, AwsError>(7), codes);
        assert_eq!(found.unwrap(), Some(7));
        let gone = SyncError::unless_not_found("Op", Err::<u8, _>(aws("NoSuchBucket", 404)), codes);
        assert_eq!(gone.unwrap(), None);
        let denied =
            SyncError::unless_not_found("Op", Err::<u8, _>(aws("AccessDenied", 403)), codes);
        match denied {
            Err(SyncError::Aws { op, err }) => {
                assert_eq!(op, "Op");
                assert_eq!(err.code.as_deref(), Some("AccessDenied"));
            }
            other => panic!("want the AWS error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_panicking_reconcile_becomes_an_error() {
        let ok = guard("Bucket/ns/b1", async { Ok::<_, ReconcileError>(1) }).await;
        assert_eq!(ok.unwrap(), 1);
        let boom = guard("Bucket/ns/b1", async {
            if true {
                panic!("boom in reconcile");
            }
            Ok::<u8, ReconcileError>(0)
        })
        .await;
        match boom {
            Err(ReconcileError::Panic(msg)) => assert_eq!(msg, "boom in reconcile"),
            other => panic!("expected a panic error, got {other:?}"),
        }
        let formatted = guard("Bucket/ns/b1", async {
            if true {
                panic!("object {} broke", "b1");
            }
            Ok::<u8, ReconcileError>(0)
        })
        .await;
        assert!(matches!(formatted, Err(ReconcileError::Panic(m)) if m == "object b1 broke"));
    }

    #[test]
    fn error_outcomes_pick_conditions_and_requeue() {
        let opts = AwsOptions {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(10),
            ..Default::default()
        };
        let throttled = SyncError::aws(
            "PutBucketTagging",
            AwsError {
                code: Some("SlowDown".into()),
                message: "reduce your rate".into(),
                http_status: Some(503),
            },
        );
        let invalid = SyncError::aws(
            "CreateDBInstance",
            AwsError {
                code: Some("InvalidParameterValue".into()),
                message: "bad engine".into(),
                http_status: Some(400),
            },
        );
        let terminal_codes = &["InvalidParameterValue"];
        assert_eq!(throttled.class(terminal_codes), ErrorClass::Recoverable);
        assert_eq!(invalid.class(terminal_codes), ErrorClass::Terminal);
        assert_eq!(
            SyncError::Waiting("Secret missing".into()).class(terminal_codes),
            ErrorClass::Recoverable
        );
        assert_eq!(
            SyncError::References(Status::Unknown, "x".into()).class(terminal_codes),
            ErrorClass::Recoverable
        );
        assert_eq!(
            SyncError::References(Status::False, "x".into()).class(terminal_codes),
            ErrorClass::Terminal
        );
        let cases = [
            (
                &throttled,
                ErrorClass::Recoverable,
                1,
                Outcome::Recoverable("PutBucketTagging: SlowDown: reduce your rate".into()),
                Action::requeue(Duration::from_secs(1)),
            ),
            (
                &throttled,
                ErrorClass::Recoverable,
                3,
                Outcome::Recoverable("PutBucketTagging: SlowDown: reduce your rate".into()),
                Action::requeue(Duration::from_secs(4)),
            ),
            (
                &throttled,
                ErrorClass::Recoverable,
                9,
                Outcome::Recoverable("PutBucketTagging: SlowDown: reduce your rate".into()),
                Action::requeue(Duration::from_secs(10)),
            ),
            (
                &invalid,
                ErrorClass::Terminal,
                0,
                Outcome::Terminal("CreateDBInstance: InvalidParameterValue: bad engine".into()),
                Action::await_change(),
            ),
        ];
        for (e, class, attempt, outcome, action) in cases {
            assert_eq!(
                error_outcome(e, class, attempt, &opts),
                (outcome, action),
                "{e} #{attempt}"
            );
        }
    }

    #[test]
    fn the_partition_comes_from_the_arn() {
        assert_eq!(arn_partition("arn:aws:s3:::b"), Some("aws"));
        assert_eq!(
            arn_partition("arn:aws-cn:iam::111122223333:role/app"),
            Some("aws-cn")
        );
        assert_eq!(arn_partition("arn::x"), None);
        assert_eq!(arn_partition("not-an-arn"), None);
    }

    #[test]
    fn merge_follows_rfc7386() {
        let cases = [
            (
                json!({"a": 1, "b": {"c": 2}}),
                json!({"b": {"d": 3}}),
                json!({"a": 1, "b": {"c": 2, "d": 3}}),
            ),
            (json!({"a": 1}), json!({"a": null}), json!({})),
            (json!({"l": [1, 2]}), json!({"l": [3]}), json!({"l": [3]})),
            (json!({}), json!({"x": {"y": 1}}), json!({"x": {"y": 1}})),
        ];
        for (mut t, p, want) in cases {
            merge(&mut t, &p);
            assert_eq!(t, want);
        }
    }

    #[test]
    fn only_changes_by_others_wake_an_object() {
        use crate::s3::bucket::Bucket;
        let bucket = |v: Value| -> Bucket { serde_json::from_value(v).unwrap() };
        let base = json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "b", "namespace": "ns", "generation": 1, "resourceVersion": "10",
                         "annotations": {"team": "a"}},
            "spec": {"name": "b"}
        });
        let with = |patch: Value| {
            let mut v = base.clone();
            merge(&mut v, &patch);
            wake_hash(&bucket(v))
        };
        let before = wake_hash(&bucket(base.clone()));
        let own_writes = [
            json!({"metadata": {"resourceVersion": "11"}, "status": {"conditions": [
                {"type": "ACK.Recoverable", "status": "True", "message": "x"}]}}),
            json!({"metadata": {"finalizers": [Bucket::FINALIZER]}}),
            json!({"metadata": {"annotations": {annotations::ADOPTED: "true"}}}),
        ];
        for patch in own_writes {
            assert_eq!(with(patch.clone()), before, "{patch}");
        }
        let changes = [
            json!({"metadata": {"generation": 2}}),
            json!({"metadata": {"annotations": {"team": "b"}}}),
            json!({"metadata": {"annotations": {annotations::DELETION_POLICY: "retain"}}}),
            json!({"metadata": {"labels": {"app": "x"}}}),
            json!({"metadata": {"finalizers": ["example.com/keep"]}}),
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        ];
        for patch in changes {
            assert_ne!(with(patch.clone()), before, "{patch}");
        }
    }

    /// ACK's EnsureTags through the shared code: the defaults land in each kind's tag list
    /// (Bucket's `tagging.tagSet`, the others' `tags`), the spec's own value of a key wins, and an
    /// adopted spec never carries `aws:*` or `services.k8s.aws/*` tags.
    #[test]
    fn default_tags_join_every_kinds_tags_and_stay_out_of_adopted_specs() {
        use crate::ack::types::{DEFAULT_RESOURCE_TAGS, parse_resource_tags};
        use crate::rds::db_subnet_group::DBSubnetGroup;
        use crate::s3::bucket::{Bucket, ObservedBucket};
        let defaults = parse_resource_tags(DEFAULT_RESOURCE_TAGS).unwrap();
        let version = format!("s3-{}", env!("CARGO_PKG_VERSION"));
        let bucket: Bucket = serde_json::from_value(json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
            "metadata": {"name": "b", "namespace": "team-a"},
            "spec": {"name": "b"}
        }))
        .unwrap();
        let merged = merge_resource_tags(&bucket, &defaults, "team-a").unwrap();
        assert_eq!(
            serde_json::to_value(&merged.spec).unwrap()["tagging"],
            json!({"tagSet": [
                {"key": "services.k8s.aws/controller-version", "value": version},
                {"key": "services.k8s.aws/namespace", "value": "team-a"}
            ]})
        );
        assert_eq!(
            merge_resource_tags(&bucket, &[], "team-a").unwrap().spec,
            bucket.spec
        );
        let group: DBSubnetGroup = serde_json::from_value(json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBSubnetGroup",
            "metadata": {"name": "g", "namespace": "team-a"},
            "spec": {"name": "g", "description": "d",
                     "tags": [{"key": "services.k8s.aws/namespace", "value": "mine"}]}
        }))
        .unwrap();
        let merged = merge_resource_tags(&group, &defaults, "team-a").unwrap();
        let tags = serde_json::to_value(&merged.spec).unwrap()["tags"].clone();
        assert_eq!(
            tags,
            json!([
                {"key": "services.k8s.aws/namespace", "value": "mine"},
                {"key": "services.k8s.aws/controller-version",
                 "value": format!("rds-{}", env!("CARGO_PKG_VERSION"))}
            ])
        );
        let observed = ObservedBucket {
            tags: Some(vec![
                Tag::new("aws:cloudformation:stack-name", "s"),
                Tag::new("services.k8s.aws/namespace", "x"),
                Tag::new("team", "a"),
            ]),
            ..Default::default()
        };
        assert_eq!(
            adopted_spec::<Bucket>("b", &observed)["tagging"],
            json!({"tagSet": [{"key": "team", "value": "a"}]})
        );
    }

    #[test]
    fn the_creation_token_is_the_objects_uid_under_acks_prefix_and_never_the_users() {
        let group: crate::rds::db_subnet_group::DBSubnetGroup = serde_json::from_value(json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBSubnetGroup",
            "metadata": {"name": "g", "namespace": "team-a", "uid": "5f1c-uid"},
            "spec": {"name": "g", "description": "d", "tags": [{"key": "team", "value": "a"}]}
        }))
        .unwrap();
        let token = creation_token(&group);
        assert_eq!(token, Tag::new(CREATION_TOKEN, "5f1c-uid"));
        let tokened = with_tags(&group, std::slice::from_ref(&token)).unwrap();
        assert_eq!(
            serde_json::to_value(&tokened.spec).unwrap()["tags"],
            json!([{"key": "team", "value": "a"},
                   {"key": "services.k8s.aws/creation-token", "value": "5f1c-uid"}])
        );
        // Left alone by the diff of a spec that does not list it, and kept out of an adopted
        // spec, like ACK's default tags.
        assert!(crate::ack::types::is_ignored_tag(CREATION_TOKEN));
        let delta =
            crate::ack::types::tag_delta(&[Tag::new("team", "a")], &[Tag::new("team", "a"), token]);
        assert!(delta.add.is_empty() && delta.remove.is_empty(), "{delta:?}");
    }

    #[test]
    fn resync_per_kind_overrides_the_default() {
        use crate::ControllerKind;
        use crate::s3::bucket::Bucket;
        let mut opts = AwsOptions::default();
        assert_eq!(resync_period::<Bucket>(&opts), opts.resync_period);
        opts.resource_resync
            .insert(ControllerKind::DbInstance, Duration::from_secs(60));
        assert_eq!(resync_period::<Bucket>(&opts), opts.resync_period);
        opts.resource_resync
            .insert(ControllerKind::Bucket, Duration::from_secs(1800));
        assert_eq!(resync_period::<Bucket>(&opts), Duration::from_secs(1800));
    }

    #[test]
    fn set_pointer_creates_the_way() {
        let mut v = json!({"spec": {"name": "b"}});
        set_pointer(&mut v, "/spec/tagging/tagSet", json!([1]));
        assert_eq!(
            v,
            json!({"spec": {"name": "b", "tagging": {"tagSet": [1]}}})
        );
        let mut v = json!({"spec": null});
        set_pointer(&mut v, "/spec/tags", json!([]));
        assert_eq!(v, json!({"spec": {"tags": []}}));
    }

    #[test]
    fn failures_count_while_the_object_stays_the_same() {
        let c = Consecutive::default();
        assert_eq!(c.record("Bucket/ns/b", "1/{}".into()), 1);
        assert_eq!(c.record("Bucket/ns/b", "1/{}".into()), 2);
        assert_eq!(c.record("Bucket/ns/other", "1/{}".into()), 1);
        assert_eq!(c.record("Bucket/ns/b", "1/{}".into()), 3);
        assert_eq!(
            c.record("Bucket/ns/b", "2/{}".into()),
            1,
            "a spec change starts again"
        );
        assert_eq!(c.record("Bucket/ns/b", "2/{}".into()), 2);
        c.clear("Bucket/ns/b");
        assert_eq!(
            c.record("Bucket/ns/b", "2/{}".into()),
            1,
            "a success starts again"
        );
    }

    /// A controller whose watch never lists (here nothing listens at the API server's
    /// address; in a cluster, a list its RBAC refuses) still stops when told to, with a
    /// graceful shutdown timeout far longer than the test's bound.
    #[tokio::test]
    async fn a_controller_that_never_listed_stops_on_shutdown() {
        let kube = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let kube = kube::Client::try_from(kube).unwrap();
        let base = aws_config::SdkConfig::builder().build();
        let opts = AwsOptions {
            graceful_shutdown_timeout: Duration::from_secs(3600),
            ..AwsOptions::default()
        };
        let ctx = Arc::new(Ctx::new(kube, opts, base, "us-east-1".into()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let controller = tokio::spawn(run_controller::<crate::s3::bucket::Bucket>(ctx, async {
            let _ = stopped.await;
        }));
        // Let the watch try (and fail) its first list before the stop.
        tokio::task::yield_now().await;
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(60), controller)
            .await
            .expect("the controller stopped before its hour of grace")
            .unwrap();
    }
}

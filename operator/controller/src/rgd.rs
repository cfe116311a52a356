//! The ResourceGraphDefinition controller: compile → instance CRD (server-side applied, waited
//! until Established, breaking changes refused) → the kind's instance controller → status as
//! kro writes it. Deletion stops the kind's controller and keeps the CRD unless
//! `--allow-crd-deletion`.
//!
//! RGDs are read as the typed [`ResourceGraphDefinition`]: the CRD kro-rs installs validates
//! every field the type requires, and the controller writes only merge patches (finalizers,
//! status), so nothing the type does not know is dropped on a write.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kro_api::condition::types;
use kro_api::metadata::{FINALIZER, annotations, labels};
use kro_api::{
    Condition, ConditionStatus, Conditions, FIELD_MANAGER, ResourceGraphDefinition,
    ResourceGraphDefinitionStatus,
};
use kro_graph::CompiledGraph;
use kro_reconcile::{Clock, SystemClock};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use kube::runtime::{PredicateConfig, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::error::{Error, kube_err};
use crate::graph_revisions::{self, Lineage, Served, Verdict};
use crate::instance::{self, KindContext};
use crate::metrics::{
    EventLabels, GvrLabels, NameLabels, Outcome, ReasonLabels, ResultLabels, RgdTransitionLabels,
    WorkQueue,
};
use crate::watches::KindKey;

/// The API resource of `ResourceGraphDefinition`.
pub fn rgd_resource() -> ApiResource {
    ApiResource::erase::<ResourceGraphDefinition>(&())
}

/// A running instance controller.
#[derive(Debug)]
struct Running {
    uid: String,
    /// The GraphRevision it runs on, and whether the RGD has moved past it.
    served: Arc<Served>,
    /// Its instances, as its watch holds them (to reconcile them all).
    store: reflector::Store<DynamicObject>,
    ar: ApiResource,
    kind: KindKey,
    cancel: CancellationToken,
    tx: mpsc::Sender<ObjectRef<DynamicObject>>,
    task: JoinHandle<()>,
}

/// State of the RGD controller.
#[derive(Debug)]
pub struct RgdContext {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// Where condition times come from.
    pub clock: Arc<dyn Clock>,
    running: Mutex<HashMap<String, Running>>,
    compiled: Mutex<HashMap<(String, i64), (CompiledGraph, f64)>>,
    /// The GraphRevisions this process has verified.
    revisions: Arc<graph_revisions::Registry>,
    /// The `ResourceGraphDefinition` work queue's metrics (controller-runtime's, as kro's).
    queue: WorkQueue,
    /// Its workers: `--resource-graph-definition-concurrent-reconciles`.
    workers: tokio::sync::Semaphore,
}

impl RgdContext {
    /// A controller with nothing running yet, on the system clock.
    pub fn new(shared: Arc<Shared>) -> Arc<Self> {
        Self::with_clock(shared, Arc::new(SystemClock))
    }

    /// A controller with nothing running yet, stamping condition times from `clock`.
    pub fn with_clock(shared: Arc<Shared>, clock: Arc<dyn Clock>) -> Arc<Self> {
        let workers = usize::from(
            shared
                .opts
                .resource_graph_definition_concurrent_reconciles
                .max(1),
        );
        Arc::new(Self {
            queue: shared.metrics.queues.queue(RGD_CONTROLLER, true, workers),
            workers: tokio::sync::Semaphore::new(workers),
            shared,
            clock,
            running: Mutex::new(HashMap::new()),
            compiled: Mutex::new(HashMap::new()),
            revisions: Arc::default(),
        })
    }

    /// Stops every instance controller, waiting up to `timeout` for running reconciles.
    pub async fn stop_all(&self, timeout: Duration) {
        let all: Vec<Running> = self
            .running
            .lock()
            .await
            .drain()
            .map(|(_, running)| running)
            .collect();
        for running in &all {
            running.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        for running in all {
            let _ = tokio::time::timeout_at(deadline, running.task).await;
        }
    }
}

/// The RGD controller's name in controller-runtime's metrics, as kro names it.
pub const RGD_CONTROLLER: &str = "ResourceGraphDefinition";

/// Runs the RGD controller until `stop` is cancelled.
pub async fn run(
    ctx: Arc<RgdContext>,
    stop: CancellationToken,
    ready: Arc<std::sync::atomic::AtomicBool>,
    source: Option<crate::warmup::RgdSource>,
) {
    let api: Api<ResourceGraphDefinition> = Api::all(ctx.shared.client.clone());
    let concurrency = ctx
        .shared
        .opts
        .resource_graph_definition_concurrent_reconciles;
    // kube hands every due RGD to a reconcile at once; the reconcile waits for one of the
    // `concurrency` workers of the context's queue, so its depth and wait are measured.
    tracing::debug!(concurrency, "RGD workers");
    // RGDs are decoded one by one: one that cannot be is reported on itself and skipped. With
    // warm-up the watch has been running since before this replica led.
    let source = source.unwrap_or_else(|| crate::warmup::cold(&ctx.shared));
    let controller = Controller::for_stream(source.applied, source.reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(0));
    tokio::spawn(mark_ready_when_listable(api, ready, stop.clone()));
    // GraphRevisions being deleted are released, and a deleted one wakes its RGD.
    let (wake, woken) = mpsc::channel(1024);
    tokio::spawn(graph_revisions::watch(
        ctx.shared.clone(),
        ctx.revisions.clone(),
        wake,
        stop.clone(),
    ));
    let woken = futures::stream::unfold(woken, |mut rx| async move {
        rx.recv().await.map(|object_ref| (object_ref, rx))
    });
    let woken = futures::stream::iter(source.initial).chain(woken);
    let shutdown = stop.clone();
    controller
        .reconcile_on(woken)
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// Sets `ready` once the RGD kind can be listed (the watch starts from the same list).
async fn mark_ready_when_listable(
    api: Api<ResourceGraphDefinition>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    stop: CancellationToken,
) {
    // As metadata decoded item by item: an RGD that cannot be decoded keeps nobody unready.
    let api: Api<kro_api::decode::Lenient<kube::api::PartialObjectMeta<ResourceGraphDefinition>>> =
        Api::all(api.into_client());
    while !stop.is_cancelled() {
        if api.list(&ListParams::default().limit(1)).await.is_ok() {
            ready.store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The backoff key of an RGD.
fn failure_key(name: &str) -> String {
    format!("rgd/{name}")
}

async fn reconcile(
    rgd: Arc<ResourceGraphDefinition>,
    ctx: Arc<RgdContext>,
) -> Result<Action, Error> {
    let Some(working) = ctx.queue.wait(&ctx.workers).await else {
        return Ok(Action::await_change());
    };
    let name = rgd.name_any();
    let key = failure_key(&name);
    let count_panic = || {
        ctx.shared
            .metrics
            .panics_total
            .get_or_create(&GvrLabels::new("kro.run/v1alpha1/resourcegraphdefinitions"))
            .inc();
    };
    match kro_reconcile::guard(&key, count_panic, reconcile_rgd(&rgd, &ctx)).await {
        Ok(result) => {
            if result.is_ok() {
                ctx.shared.failures.clear(&key);
            }
            working.finish(match &result {
                Err(_) => Outcome::Error,
                Ok(action) if *action == Action::await_change() => Outcome::Success,
                Ok(_) => Outcome::RequeueAfter,
            });
            result
        }
        Err(panicked) => {
            working.finish(Outcome::Panic);
            publish(
                &ctx,
                &rgd,
                EventType::Warning,
                "ReconcileFailed",
                panicked.to_string(),
            )
            .await;
            Err(Error::Panic(panicked.message))
        }
    }
}

fn error_policy(rgd: Arc<ResourceGraphDefinition>, err: &Error, ctx: Arc<RgdContext>) -> Action {
    // Throttled by the API server: wait what it asks; not a failure (see `crate::throttle`).
    if let Some(wait) = crate::throttle::throttled(err) {
        tracing::info!(rgd = %rgd.name_any(), error = %err, retry_in = ?wait, "throttled by the API server; waiting");
        return Action::requeue(wait);
    }
    // Waiting on its CRD is progress, not failure: looked at again after
    // --rgd-progress-requeue-delay, as kro requeues an RGD waiting on asynchronous progress.
    if let Error::NotEstablished(crd) = err {
        let delay = ctx.shared.opts.rgd_progress_requeue_delay;
        ctx.queue.retried();
        tracing::info!(rgd = %rgd.name_any(), crd = %crd, retry_in = ?delay, "waiting for the CRD to be Established");
        return Action::requeue(delay);
    }
    let failures = ctx.shared.failures.record(&failure_key(&rgd.name_any()));
    let delay = ctx.shared.opts.backoff(failures);
    ctx.queue.retried();
    tracing::warn!(rgd = %rgd.name_any(), error = %err, retry_in = ?delay, "RGD reconcile failed");
    Action::requeue(delay)
}

async fn publish(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let regarding = rgd.object_ref(&());
    kro_reconcile::publish(&ctx.shared.recorder, &regarding, type_, reason, note).await;
}

/// (apiVersion, kind) of every resource and externalRef in the RGD.
fn kinds_of(rgd: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for resource in rgd
        .pointer("/spec/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let template = resource
            .get("template")
            .or_else(|| resource.get("externalRef"));
        if let Some(template) = template
            && let (Some(api_version), Some(kind)) = (
                template.get("apiVersion").and_then(Value::as_str),
                template.get("kind").and_then(Value::as_str),
            )
        {
            out.push((api_version.to_string(), kind.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The compile of an RGD's spec: the graph or why not, and how long it took.
struct Compiled {
    result: Result<CompiledGraph, String>,
    seconds: f64,
}

impl Compiled {
    fn verdict(&self) -> Verdict<'_> {
        Verdict {
            result: self.result.as_ref().map_err(String::as_str),
            seconds: self.seconds,
        }
    }
}

async fn compile(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    uid: &str,
    generation: i64,
) -> Compiled {
    let key = (uid.to_string(), generation);
    if let Some((graph, seconds)) = ctx.compiled.lock().await.get(&key) {
        return Compiled {
            result: Ok(graph.clone()),
            seconds: *seconds,
        };
    }
    let started = Instant::now();
    let result = compile_uncached(ctx, rgd).await;
    let seconds = started.elapsed().as_secs_f64();
    if let Ok(graph) = &result {
        let mut compiled = ctx.compiled.lock().await;
        compiled.retain(|(cached_uid, _), _| cached_uid != uid);
        compiled.insert(key, (graph.clone(), seconds));
    }
    Compiled { result, seconds }
}

async fn compile_uncached(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
) -> Result<CompiledGraph, String> {
    let name = rgd.name_any();
    let value = serde_json::to_value(rgd)
        .map_err(|e| format!("cannot serialize the ResourceGraphDefinition: {e}"))?;
    let schemas = ctx.shared.discovery.schemas_for(&kinds_of(&value)).await;
    let options = ctx
        .shared
        .opts
        .compile_options(ctx.shared.kro_version.clone());
    let started = Instant::now();
    let result = kro_graph::compile(&value, &schemas, &options)
        .and_then(|graph| crate::instance::accept_rgd(graph, &ctx.shared.opts));
    let metrics = &ctx.shared.metrics;
    metrics
        .rgd_graph_build_total
        .get_or_create(&NameLabels::new(&name))
        .inc();
    metrics
        .rgd_graph_build_duration
        .get_or_create(&NameLabels::new(&name))
        .observe(started.elapsed().as_secs_f64());
    result.map_err(|e| {
        metrics
            .rgd_graph_build_errors_total
            .get_or_create(&NameLabels::new(&name))
            .inc();
        e.to_string()
    })
}

/// Server-side applies the instance CRD and waits until it is Established. `Ok(Err(msg))` is a
/// refusal to report on `KindReady`.
async fn ensure_crd(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    graph: &CompiledGraph,
) -> Result<Result<CustomResourceDefinition, String>, Error> {
    // Through JSON so this works whether kro-graph hands out the CRD typed or as JSON.
    let Some(value) = graph
        .crd
        .as_ref()
        .and_then(|crd| serde_json::to_value(crd).ok())
    else {
        return Ok(Err("the graph produced no CRD for the instance kind".into()));
    };
    let crd: CustomResourceDefinition =
        serde_json::from_value(value).map_err(|source| Error::Serialization {
            what: "the generated CRD".into(),
            source,
        })?;
    let name = crd.name_any();
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.shared.client.clone());
    if let Some(existing) = crds
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading CRD {name}")))?
        && let Some(refusal) = refuse_update(rgd, &existing, &crd)
    {
        return Ok(Err(refusal));
    }
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(kube_err(format!("applying CRD {name}")))?;
    let established = wait_established(&crds, &name).await?;
    let av = format!("{}/{}", graph.instance.group, graph.instance.version);
    ctx.shared.discovery.forget(&av, &graph.instance.kind).await;
    Ok(Ok(established))
}

/// Whether `rgd` has `kro.run/allow-breaking-changes: "true"` (any case).
pub(crate) fn allows_breaking_changes(rgd: &ResourceGraphDefinition) -> bool {
    rgd.annotations()
        .get(annotations::ALLOW_BREAKING_CHANGES)
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

/// Why `rgd` may not replace the `existing` CRD with `crd`: not kro's, another RGD's, or a
/// breaking change without `kro.run/allow-breaking-changes: "true"`.
fn refuse_update(
    rgd: &ResourceGraphDefinition,
    existing: &CustomResourceDefinition,
    crd: &CustomResourceDefinition,
) -> Option<String> {
    let name = crd.name_any();
    let existing_labels = existing.labels();
    if existing_labels.get(labels::OWNED).map(String::as_str) != Some(labels::OWNED_VALUE) {
        return Some(format!("CRD {name} already exists and is not owned by KRO"));
    }
    if let Some(owner) = existing_labels.get(labels::RESOURCE_GRAPH_DEFINITION_NAME)
        && *owner != rgd.name_any()
    {
        return Some(format!(
            "CRD {name} is owned by another ResourceGraphDefinition {owner}"
        ));
    }
    let report = kro_schema::compare_crds(existing, crd);
    if !report.is_compatible() && !allows_breaking_changes(rgd) {
        return Some(format!(
            "cannot update CRD {name}: breaking changes detected: {}",
            report.summary()
        ));
    }
    None
}

/// Polls CRD `name` until it is Established, for 60 s at most.
async fn wait_established(
    crds: &Api<CustomResourceDefinition>,
    name: &str,
) -> Result<CustomResourceDefinition, Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let crd = crds
            .get(name)
            .await
            .map_err(kube_err(format!("reading CRD {name}")))?;
        let established = crd
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|condition| condition.type_ == "Established" && condition.status == "True")
            });
        if established {
            return Ok(crd);
        }
        if Instant::now() > deadline {
            return Err(Error::NotEstablished(name.to_string()));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn spawn_kind(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    graph: CompiledGraph,
    ar: ApiResource,
    revision: i64,
) -> Running {
    let served = Arc::new(Served::new(revision));
    let shared = ctx.shared.clone();
    let (tx, rx) = mpsc::channel(4096);
    let cancel = shared.stop.child_token();
    let kind: KindKey = (ar.group.clone(), ar.kind.clone());
    let kctx = Arc::new(KindContext {
        shared: shared.clone(),
        graph,
        ar: ar.clone(),
        rgd_name: rgd.name_any(),
        rgd_uid: rgd.uid().unwrap_or_default(),
        written: Default::default(),
        revision: served.clone(),
    });
    // The controller's own watch store: kept without managedFields (see below), and read by
    // the RGD controller to reconcile every instance when the RGD's state changes.
    let writer = reflector::store::Writer::new(ar.clone());
    let store = writer.as_reader();
    let router = shared.router.clone();
    let (k2, ar2, tx2) = (kind.clone(), ar.clone(), tx.clone());
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        router.register(k2.clone(), ar2.clone(), tx2.clone()).await;
        let api: Api<kro_api::decode::Lenient<DynamicObject>> =
            Api::all_with(kctx.shared.client.clone(), &ar2);
        let trigger = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|object_ref| (object_ref, rx))
        });
        // The controller's own watch: kept without managedFields, and waking a reconcile only
        // for what `instance::wake_hash` covers (not kro's own status and metadata writes).
        let reader = writer.as_reader();
        let metrics = kctx.shared.metrics.clone();
        let gvr = crate::metrics::gvr_string(&ar2.group, &ar2.version, &ar2.plural);
        metrics.kind_started();
        let count_event =
            instance_event_counter(metrics.clone(), gvr.clone(), reader.clone(), ar2.clone());
        // Decoded one by one: an instance that cannot be is reported on itself (status ERROR,
        // an event) and skipped, and the rest of the kind reconciles.
        let instances = crate::undecodable::watch(
            api,
            watcher::Config::default().any_semantic(),
            router.reports.clone(),
            crate::undecodable::Target::Instance(ar2.clone()),
        )
        .modify(instance::slim)
        .inspect(count_event)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(instance::wake_hash, PredicateConfig::default());
        // Bounded: a watch that never listed would otherwise hold the stop forever.
        let grace = kctx.shared.opts.graceful_shutdown_timeout;
        let forceful =
            kro_reconcile::abandon(stop.clone().cancelled_owned(), reader.clone(), grace);
        let controller = Controller::for_stream_with(instances, reader, ar2)
            .reconcile_on(trigger)
            .graceful_shutdown_on(async move { stop.cancelled().await })
            .run(instance::reconcile, instance::error_policy, kctx)
            .for_each(|_| futures::future::ready(()));
        tokio::select! {
            () = controller => {}
            () = forceful => tracing::debug!(%gvr, "instance controller abandoned"),
        }
        router.unregister(&k2, &tx2).await;
        metrics.kind_stopped(&gvr);
    });
    Running {
        uid: rgd.uid().unwrap_or_default(),
        served,
        store,
        ar,
        kind,
        cancel,
        tx,
        task,
    }
}

/// Counts the events of an instance watch as kro's informer events: `ADDED` for an object
/// the watch's store does not hold yet, `MODIFIED` for one it does, `DELETED`.
fn instance_event_counter(
    metrics: Arc<crate::metrics::Metrics>,
    gvr: String,
    store: reflector::Store<DynamicObject>,
    ar: ApiResource,
) -> impl FnMut(&Result<watcher::Event<DynamicObject>, watcher::Error>) {
    move |event| {
        let (object, deleted) = match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                (object, false)
            }
            Ok(watcher::Event::Delete(object)) => (object, true),
            _ => return,
        };
        let known = store
            .get(&ObjectRef::from_obj_with(object, ar.clone()))
            .is_some();
        let event_type = match (deleted, known) {
            (true, _) => "DELETED",
            (false, true) => "MODIFIED",
            (false, false) => "ADDED",
        };
        metrics
            .informer_events_total
            .get_or_create(&EventLabels {
                gvr: gvr.clone(),
                event_type: event_type.into(),
            })
            .inc();
    }
}

/// Queues a reconcile of every instance the kind's watch holds (bounded by the channel: what
/// does not fit is reconciled on its next event or resync).
fn reconcile_all(running: &Running) {
    for instance in running.store.state() {
        let object_ref = ObjectRef::from_obj_with(instance.as_ref(), running.ar.clone());
        if running.tx.try_send(object_ref).is_err() {
            break;
        }
    }
}

/// The revision the RGD's instances run on, if its controller runs (for this uid).
async fn served_revision(ctx: &RgdContext, rgd: &ResourceGraphDefinition) -> Option<i64> {
    let uid = rgd.uid().unwrap_or_default();
    ctx.running
        .lock()
        .await
        .get(&rgd.name_any())
        .filter(|running| running.uid == uid && !running.task.is_finished())
        .map(|running| running.served.revision)
}

/// Tells the instances of `rgd` why they stay on their revision (`None`: they do not).
async fn mark_behind(ctx: &RgdContext, rgd: &ResourceGraphDefinition, why: Option<String>) {
    let running = ctx.running.lock().await;
    if let Some(running) = running.get(&rgd.name_any())
        && running.served.set_behind(why)
    {
        reconcile_all(running);
    }
}

async fn stop_running(ctx: &RgdContext, running: Running) {
    running.cancel.cancel();
    ctx.shared
        .router
        .unregister(&running.kind, &running.tx)
        .await;
    let _ = tokio::time::timeout(ctx.shared.opts.graceful_shutdown_timeout, running.task).await;
}

/// One RGD reconcile: read it fresh, then finalizer → compile → CRD → instance controller →
/// status, each failing step reported on its condition.
async fn reconcile_rgd(obj: &ResourceGraphDefinition, ctx: &RgdContext) -> Result<Action, Error> {
    let api: Api<ResourceGraphDefinition> = Api::all(ctx.shared.client.clone());
    let name = obj.name_any();
    let Some(rgd) = api
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading RGD {name}")))?
    else {
        return Ok(Action::await_change());
    };
    if rgd.metadata.deletion_timestamp.is_some() {
        return delete_rgd(ctx, &api, &rgd).await;
    }
    ensure_finalizer(&api, &rgd).await?;
    kro_reconcile::kill_point("rgd/after-finalizer");
    let generation = rgd.metadata.generation.unwrap_or(0);
    let uid = rgd.uid().unwrap_or_default();
    let mut status = StatusBuilder::new(&previous_conditions(&rgd), generation);

    let lineage = graph_revisions::lineage(&ctx.shared, &ctx.revisions, &rgd).await?;
    let last_issued = rgd
        .status
        .as_ref()
        .map_or(0, |status| status.last_issued_revision)
        .max(lineage.highest());
    status.last_issued = last_issued;
    if lineage.settling > 0 {
        return report_settling(ctx, &api, &rgd, status).await;
    }
    let compiled = compile(ctx, &rgd, &uid, generation).await;
    let graph = match &compiled.result {
        Ok(graph) => graph.clone(),
        Err(msg) => {
            count_resolution(ctx, "failed");
            return report_invalid_graph(ctx, &api, &rgd, status, &lineage, &compiled, msg).await;
        }
    };
    let (revision, issued) = current_revision(ctx, &rgd, &lineage, &compiled).await?;
    if issued {
        kro_reconcile::kill_point("rgd/after-revision-issued");
    }
    status.last_issued = status.last_issued.max(revision);
    status.set(Condition::revisions_resolved(revision));
    status.set(Condition::graph_accepted());

    let crd = match ensure_crd(ctx, &rgd, &graph).await? {
        Ok(crd) => crd,
        Err(msg) => return report_kind_not_ready(ctx, &api, &rgd, status, &graph, msg).await,
    };
    status.set(Condition::kind_ready(&graph.instance.kind));
    kro_reconcile::kill_point("rgd/after-crd");

    ensure_running(ctx, &rgd, &graph, &crd, revision).await;
    status.set(Condition::controller_running());
    kro_reconcile::kill_point("rgd/before-status");
    report_active(ctx, &api, &rgd, status, &graph).await?;
    kro_reconcile::kill_point("rgd/after-status");
    count_resolution(ctx, if issued { "issue" } else { "serve" });
    // Retention is best effort: a failure is logged and counted, and retried next time.
    let lineage = if issued {
        graph_revisions::lineage(&ctx.shared, &ctx.revisions, &rgd).await?
    } else {
        lineage
    };
    let max = ctx.shared.opts.rgd_max_graph_revisions;
    if let Err(e) = graph_revisions::retain(&ctx.shared, &ctx.revisions, &lineage, max).await {
        tracing::warn!(rgd = %rgd.name_any(), error = %e, "GraphRevision garbage collection failed");
    }
    Ok(Action::await_change())
}

/// Counts one outcome of `rgd_graph_revision_resolution_total{result}`.
fn count_resolution(ctx: &RgdContext, result: &str) {
    ctx.shared
        .metrics
        .rgd_graph_revision_resolution_total
        .get_or_create(&ResultLabels {
            result: result.into(),
        })
        .inc();
}

/// The revision of the RGD's current (compiling) spec: the latest one when its snapshot
/// hashes the same (a reordering is no change), else a new one, `lastIssuedRevision + 1`;
/// verified with the graph just compiled. Returns its number and whether it was issued now.
async fn current_revision(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    lineage: &Lineage,
    compiled: &Compiled,
) -> Result<(i64, bool), Error> {
    let hash = kro_api::graph_revision::spec_hash(&rgd.spec);
    if let Some(latest) = lineage.latest_with_hash(&hash) {
        graph_revisions::verify(&ctx.shared, &ctx.revisions, latest, &compiled.verdict()).await?;
        return Ok((latest.spec.revision, false));
    }
    let last_issued = rgd
        .status
        .as_ref()
        .map_or(0, |status| status.last_issued_revision)
        .max(lineage.highest());
    let first = lineage.live.is_empty();
    let issued = graph_revisions::issue(&ctx.shared, rgd, last_issued + 1, &hash, first).await?;
    graph_revisions::verify(&ctx.shared, &ctx.revisions, &issued, &compiled.verdict()).await?;
    Ok((issued.spec.revision, true))
}

/// Nothing runs for the RGD (the operator restarted) and its spec does not compile: its latest
/// revision is compiled from its snapshot and served, so instances keep running on the last
/// good revision across restarts. Returns the revision served, if its snapshot compiles and
/// its CRD is accepted.
async fn serve_snapshot(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    latest: &kro_api::GraphRevision,
) -> Result<Option<i64>, Error> {
    let mut snapshot = rgd.clone();
    snapshot.spec = latest.spec.snapshot.spec.clone();
    let started = Instant::now();
    let result = compile_uncached(ctx, &snapshot).await;
    let verdict = Verdict {
        result: result.as_ref().map_err(String::as_str),
        seconds: started.elapsed().as_secs_f64(),
    };
    graph_revisions::verify(&ctx.shared, &ctx.revisions, latest, &verdict).await?;
    let Ok(graph) = result else {
        return Ok(None);
    };
    let Ok(crd) = ensure_crd(ctx, &snapshot, &graph).await? else {
        return Ok(None);
    };
    ensure_running(ctx, rgd, &graph, &crd, latest.spec.revision).await;
    tracing::info!(rgd = %rgd.name_any(), revision = latest.spec.revision, "serving the last revision that compiled");
    Ok(Some(latest.spec.revision))
}

/// Revisions being deleted are still held by finalizers other than kro's: wait, as kro.
async fn report_settling(
    ctx: &RgdContext,
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
    mut status: StatusBuilder,
) -> Result<Action, Error> {
    ctx.shared
        .metrics
        .rgd_graph_revision_wait_total
        .get_or_create(&ReasonLabels {
            reason: "settling".into(),
        })
        .inc();
    count_resolution(ctx, "wait");
    status.set(graph_revisions::settling());
    let status = status.finish(None, status_value(rgd).as_ref(), &ctx.clock.now());
    write_status(api, rgd, status).await?;
    Ok(Action::requeue(ctx.shared.opts.rgd_progress_requeue_delay))
}

/// Adds kro's finalizer when it is missing (resourceVersion-guarded).
async fn ensure_finalizer(
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
) -> Result<(), Error> {
    if rgd
        .finalizers()
        .iter()
        .any(|finalizer| finalizer == FINALIZER)
    {
        return Ok(());
    }
    let name = rgd.name_any();
    let mut fins = rgd.finalizers().to_vec();
    fins.push(FINALIZER.to_string());
    let patch =
        json!({"metadata": {"finalizers": fins, "resourceVersion": rgd.resource_version()}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(kube_err(format!("adding finalizer to RGD {name}")))?;
    Ok(())
}

/// The RGD's current conditions.
fn previous_conditions(rgd: &ResourceGraphDefinition) -> Vec<Condition> {
    rgd.status
        .as_ref()
        .map(|status| status.conditions.clone())
        .unwrap_or_default()
}

/// The RGD's current status as JSON (what the status builder starts from).
fn status_value(rgd: &ResourceGraphDefinition) -> Option<Value> {
    rgd.status
        .as_ref()
        .and_then(|status| serde_json::to_value(status).ok())
}

/// The graph does not compile: `GraphAccepted` says why, and no revision is issued (as kro).
/// When the latest revision has this very spec, it is marked failed, and
/// `GraphRevisionsResolved` says so with kro's message. When an earlier revision is served,
/// `GraphRevisionsResolved` stays `True` for it (as kro), `GraphAccepted` adds that the
/// instances keep running on it, and the instances say so too. With nothing served,
/// `GraphRevisionsResolved` is `Failed` with the error.
async fn report_invalid_graph(
    ctx: &RgdContext,
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
    mut status: StatusBuilder,
    lineage: &Lineage,
    compiled: &Compiled,
    msg: &str,
) -> Result<Action, Error> {
    let hash = kro_api::graph_revision::spec_hash(&rgd.spec);
    let failed_latest = lineage.latest_with_hash(&hash);
    if let Some(latest) = failed_latest {
        graph_revisions::verify(&ctx.shared, &ctx.revisions, latest, &compiled.verdict()).await?;
    }
    let mut served = served_revision(ctx, rgd).await;
    if served.is_none()
        && failed_latest.is_none()
        && let Some(latest) = lineage.latest()
    {
        served = serve_snapshot(ctx, rgd, latest).await?;
    }
    let generation = rgd.metadata.generation.unwrap_or(0);
    let mut accepted = msg.to_string();
    if let Some(served) = served {
        accepted = format!(
            "{msg}; instances keep running on graph revision {served}, the last that compiled"
        );
        let why = format!(
            "the ResourceGraphDefinition's latest spec (generation {generation}) does not compile"
        );
        mark_behind(ctx, rgd, Some(why)).await;
    }
    match (failed_latest, served) {
        (Some(latest), _) => status.set(Condition::failed(
            types::GRAPH_REVISIONS_RESOLVED,
            format!(
                "latest graph revision {} failed compilation",
                latest.spec.revision
            ),
        )),
        (None, Some(served)) => status.set(Condition::revisions_resolved(served)),
        (None, None) => status.set(Condition::failed(types::GRAPH_REVISIONS_RESOLVED, msg)),
    }
    let msg = accepted;
    status.set(Condition::invalid_graph(&msg));
    let status = status.finish(None, status_value(rgd).as_ref(), &ctx.clock.now());
    if write_status(api, rgd, status).await? {
        publish(ctx, rgd, EventType::Warning, "InvalidResourceGraph", msg).await;
    }
    // Kinds it uses may appear later (chained RGDs): look again, slowly.
    Ok(Action::requeue(Duration::from_secs(10)))
}

/// The instance CRD was refused: `KindReady` says why.
async fn report_kind_not_ready(
    ctx: &RgdContext,
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
    mut status: StatusBuilder,
    graph: &CompiledGraph,
    msg: String,
) -> Result<Action, Error> {
    status.set(Condition::failed(types::KIND_READY, &msg));
    let status = status.finish(Some(graph), status_value(rgd).as_ref(), &ctx.clock.now());
    if write_status(api, rgd, status).await? {
        publish(ctx, rgd, EventType::Warning, "KindNotReady", msg).await;
    }
    Ok(Action::requeue(Duration::from_secs(30)))
}

/// Starts the kind's instance controller unless one runs for this RGD's uid and revision
/// (a previous one is stopped first).
async fn ensure_running(
    ctx: &RgdContext,
    rgd: &ResourceGraphDefinition,
    graph: &CompiledGraph,
    crd: &CustomResourceDefinition,
    revision: i64,
) {
    let name = rgd.name_any();
    let uid = rgd.uid().unwrap_or_default();
    let mut running = ctx.running.lock().await;
    if let Some(existing) = running.get(&name).filter(|existing| {
        existing.uid == uid && existing.served.revision == revision && !existing.task.is_finished()
    }) {
        // Same revision (a reordered spec is no new one): keep it; if it had been left behind
        // by a spec that did not compile, its instances hear that it is current again.
        if existing.served.set_behind(None) {
            reconcile_all(existing);
        }
        return;
    }
    let old = running.remove(&name);
    drop(running);
    if let Some(old) = old {
        stop_running(ctx, old).await;
    }
    let instance_ar = ApiResource {
        group: graph.instance.group.clone(),
        version: graph.instance.version.clone(),
        api_version: graph.instance.api_version(),
        kind: graph.instance.kind.clone(),
        plural: crd.spec.names.plural.clone(),
    };
    let started = spawn_kind(ctx, rgd, graph.clone(), instance_ar, revision);
    tracing::info!(rgd = %name, kind = %graph.instance.kind, revision, "instance controller started");
    let mut running = ctx.running.lock().await;
    running.insert(name, started);
    ctx.shared.metrics.gvr_count.set(running.len() as i64);
}

/// Everything is up: writes the status, and on a change of state counts the transition and
/// says so in an event.
async fn report_active(
    ctx: &RgdContext,
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
    status: StatusBuilder,
    graph: &CompiledGraph,
) -> Result<(), Error> {
    let status = status.finish(Some(graph), status_value(rgd).as_ref(), &ctx.clock.now());
    let old_state = rgd
        .status
        .as_ref()
        .and_then(|status| status.state)
        .map(|state| state.as_str().to_string());
    let new_state = status
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !write_status(api, rgd, status).await? || old_state.as_deref() == Some(new_state.as_str()) {
        return Ok(());
    }
    ctx.shared
        .metrics
        .rgd_state_transitions_total
        .get_or_create(&RgdTransitionLabels {
            name: rgd.name_any(),
            from: old_state.unwrap_or_default(),
            to: new_state,
        })
        .inc();
    publish(
        ctx,
        rgd,
        EventType::Normal,
        "Active",
        format!("kind {} is served and reconciled", graph.instance.kind),
    )
    .await;
    Ok(())
}

async fn delete_rgd(
    ctx: &RgdContext,
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
) -> Result<Action, Error> {
    let name = rgd.name_any();
    let started = Instant::now();
    let old = ctx.running.lock().await.remove(&name);
    if let Some(old) = old {
        stop_running(ctx, old).await;
        tracing::info!(rgd = %name, "instance controller stopped");
    }
    ctx.shared
        .metrics
        .gvr_count
        .set(ctx.running.lock().await.len() as i64);
    kro_reconcile::kill_point("rgd/delete-after-controller-stop");
    if ctx.shared.opts.allow_crd_deletion {
        delete_owned_crds(ctx, &name).await?;
        kro_reconcile::kill_point("rgd/delete-after-crds");
    }
    graph_revisions::delete_all(&ctx.shared, &ctx.revisions, rgd).await?;
    kro_reconcile::kill_point("rgd/delete-before-finalizer");
    remove_finalizer(api, rgd).await?;
    ctx.shared
        .metrics
        .rgd_deletions_total
        .get_or_create(&NameLabels::new(&name))
        .inc();
    ctx.shared
        .metrics
        .rgd_deletion_duration
        .get_or_create(&NameLabels::new(&name))
        .observe(started.elapsed().as_secs_f64());
    ctx.compiled
        .lock()
        .await
        .retain(|(cached_uid, _), _| Some(cached_uid) != rgd.uid().as_ref());
    Ok(Action::await_change())
}

/// Deletes the CRDs labelled as generated for RGD `name` (`--allow-crd-deletion`).
async fn delete_owned_crds(ctx: &RgdContext, name: &str) -> Result<(), Error> {
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.shared.client.clone());
    let owned = crds
        .list(&ListParams::default().labels(&format!(
            "{}={name}",
            labels::RESOURCE_GRAPH_DEFINITION_NAME
        )))
        .await
        .map_err(kube_err(format!("listing CRDs of RGD {name}")))?;
    for crd in owned.items {
        match crds.delete(&crd.name_any(), &DeleteParams::default()).await {
            Ok(_) => tracing::info!(rgd = %name, crd = %crd.name_any(), "CRD deleted"),
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(e) => return Err(kube_err(format!("deleting CRD {}", crd.name_any()))(e)),
        }
    }
    Ok(())
}

/// Removes kro's finalizer (resourceVersion-guarded); an RGD already gone is fine.
async fn remove_finalizer(
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
) -> Result<(), Error> {
    if !rgd
        .finalizers()
        .iter()
        .any(|finalizer| finalizer == FINALIZER)
    {
        return Ok(());
    }
    let name = rgd.name_any();
    let rest: Vec<String> = rgd
        .finalizers()
        .iter()
        .filter(|finalizer| *finalizer != FINALIZER)
        .cloned()
        .collect();
    let patch =
        json!({"metadata": {"finalizers": rest, "resourceVersion": rgd.resource_version()}});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(response)) if response.code == 404 => Ok(()),
        Err(e) => Err(kube_err(format!("removing finalizer of RGD {name}"))(e)),
    }
}

/// Builds the RGD status: kro's conditions (previous transition times kept), state, order.
struct StatusBuilder {
    previous: Vec<Condition>,
    set: Vec<Condition>,
    generation: i64,
    /// `status.lastIssuedRevision` (0: left as it is).
    last_issued: i64,
}

const ORDER: [&str; 4] = types::RGD_DEPENDENTS;

/// The conditions whose conjunction makes an RGD `Active`.
const ACTIVE_WHEN: [&str; 3] = [
    types::GRAPH_ACCEPTED,
    types::KIND_READY,
    types::CONTROLLER_READY,
];

impl StatusBuilder {
    fn new(previous: &[Condition], generation: i64) -> Self {
        Self {
            previous: previous.to_vec(),
            set: Vec::new(),
            generation,
            last_issued: 0,
        }
    }

    /// Sets one dependent condition for this reconcile (the last one of a type wins).
    fn set(&mut self, condition: Condition) {
        self.set
            .retain(|existing| existing.type_ != condition.type_);
        self.set.push(condition.with_generation(self.generation));
    }

    /// The dependent conditions in kro's order: this reconcile's, else the previous ones.
    fn dependents(&self) -> Vec<Condition> {
        ORDER
            .iter()
            .filter_map(|condition_type| {
                self.set
                    .iter()
                    .chain(&self.previous)
                    .find(|condition| condition.type_ == *condition_type)
                    .cloned()
            })
            .collect()
    }

    /// The status: `old_status` with state, conditions (stamped `now` where they changed),
    /// and, with a graph, its topological order and dependencies.
    fn finish(
        self,
        graph: Option<&CompiledGraph>,
        old_status: Option<&Value>,
        now: &Time,
    ) -> Value {
        let mut dependents = self.dependents();
        dependents.push(ready_of(&dependents));
        let fresh = dependents
            .into_iter()
            .map(|condition| condition.with_generation(self.generation));
        let conditions = Conditions::merge(&self.previous, fresh, now);
        let active = ACTIVE_WHEN
            .iter()
            .all(|condition_type| conditions.is_true(condition_type));
        let mut status = old_status
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let Some(fields) = status.as_object_mut() {
            fields.insert(
                "state".into(),
                json!(if active { "Active" } else { "Inactive" }),
            );
            fields.insert("conditions".into(), conditions.to_value());
            if self.last_issued > 0 {
                fields.insert("lastIssuedRevision".into(), json!(self.last_issued));
            }
            if let Some(graph) = graph {
                fields.insert("topologicalOrder".into(), json!(graph.topological_order));
                let resources = dependencies_of(graph);
                if resources.is_empty() {
                    fields.remove("resources");
                } else {
                    fields.insert("resources".into(), json!(resources));
                }
            }
        }
        status
    }
}

/// Root `Ready`: `True` when every dependent is, else it mirrors the first `False` one (or the
/// first not `True`), else `Unknown` while dependents are missing.
fn ready_of(dependents: &[Condition]) -> Condition {
    if dependents.len() == ORDER.len() && dependents.iter().all(Condition::is_true) {
        return Condition::ready();
    }
    let worst = dependents
        .iter()
        .find(|condition| condition.status == ConditionStatus::False)
        .or_else(|| dependents.iter().find(|condition| !condition.is_true()));
    match worst {
        Some(worst) => Condition::mirroring(types::READY, worst),
        None => Condition::new(
            types::READY,
            ConditionStatus::Unknown,
            "Pending",
            "waiting for the controller",
        ),
    }
}

/// `status.resources`: the nodes that depend on others, with their dependencies.
pub(crate) fn dependencies_of(graph: &CompiledGraph) -> Vec<Value> {
    graph
        .nodes
        .iter()
        .filter(|node| !node.dependencies.is_empty())
        .map(|node| {
            let dependencies: Vec<Value> = node
                .dependencies
                .iter()
                .map(|dependency| json!({"id": dependency}))
                .collect();
            json!({"id": node.id, "dependencies": dependencies})
        })
        .collect()
}

/// Writes `status` (a merge patch) unless the RGD already has it; returns whether it wrote.
/// Compared as the typed status, so that what the type leaves out (an empty list) is no change.
async fn write_status(
    api: &Api<ResourceGraphDefinition>,
    rgd: &ResourceGraphDefinition,
    status: Value,
) -> Result<bool, Error> {
    let unchanged = serde_json::from_value::<ResourceGraphDefinitionStatus>(status.clone())
        .is_ok_and(|new| rgd.status.as_ref() == Some(&new));
    if unchanged {
        return Ok(false);
    }
    let patch = json!({"status": status});
    api.patch_status(
        &rgd.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(kube_err(format!(
        "writing status of RGD {}",
        rgd.name_any()
    )))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use kro_api::condition::reasons;

    use super::*;

    fn at(text: &str) -> Time {
        Time(text.parse().unwrap())
    }

    #[test]
    fn ready_mirrors_the_worst_condition_and_state_follows() {
        let mut st = StatusBuilder::new(&[], 3);
        st.set(Condition::new(
            types::GRAPH_REVISIONS_RESOLVED,
            ConditionStatus::True,
            reasons::RESOLVED,
            "r",
        ));
        st.set(Condition::new(
            types::GRAPH_ACCEPTED,
            ConditionStatus::False,
            reasons::INVALID_RESOURCE_GRAPH,
            "bad cel",
        ));
        let status = st.finish(None, None, &at("2026-01-01T00:00:00Z"));
        assert_eq!(status["state"], "Inactive");
        let conds = status["conditions"].as_array().unwrap();
        let ready = conds.last().unwrap();
        assert_eq!(ready["type"], "Ready");
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "InvalidResourceGraph");
        assert_eq!(ready["message"], "bad cel");
        assert_eq!(ready["observedGeneration"], 3);

        let mut st = StatusBuilder::new(&[], 1);
        for condition_type in ORDER {
            st.set(Condition::new(
                condition_type,
                ConditionStatus::True,
                "X",
                "y",
            ));
        }
        let status = st.finish(None, None, &at("2026-01-01T00:00:00Z"));
        assert_eq!(status["state"], "Active");
        let types: Vec<&str> = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|condition| condition["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            vec![
                "GraphRevisionsResolved",
                "GraphAccepted",
                "KindReady",
                "ControllerReady",
                "Ready"
            ]
        );
        assert_eq!(status["conditions"][4]["reason"], "Ready");
    }

    #[test]
    fn transition_time_kept_when_status_holds() {
        let mut st = StatusBuilder::new(&[], 1);
        st.set(Condition::new(
            types::GRAPH_ACCEPTED,
            ConditionStatus::True,
            reasons::VALID,
            "ok",
        ));
        let first = st.finish(None, None, &at("2026-01-01T00:00:00Z"));
        let prev: Vec<Condition> = serde_json::from_value(first["conditions"].clone()).unwrap();
        let mut st = StatusBuilder::new(&prev, 1);
        st.set(Condition::new(
            types::GRAPH_ACCEPTED,
            ConditionStatus::True,
            reasons::VALID,
            "ok",
        ));
        let second = st.finish(None, Some(&first), &at("2026-01-01T00:05:00Z"));
        assert_eq!(first, second);
    }

    #[test]
    fn kinds_of_resources_and_external_refs() {
        let rgd = json!({"spec": {"resources": [
            {"id": "a", "template": {"apiVersion": "apps/v1", "kind": "Deployment"}},
            {"id": "b", "externalRef": {"apiVersion": "v1", "kind": "ConfigMap"}},
            {"id": "c", "template": {"apiVersion": "apps/v1", "kind": "Deployment"}},
            {"id": "d"}
        ]}});
        assert_eq!(
            kinds_of(&rgd),
            vec![
                ("apps/v1".to_string(), "Deployment".to_string()),
                ("v1".to_string(), "ConfigMap".to_string())
            ]
        );
    }
}

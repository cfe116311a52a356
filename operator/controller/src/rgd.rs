//! The ResourceGraphDefinition controller: compile → instance CRD (server-side applied, waited
//! until Established, breaking changes refused) → the kind's instance controller → status as
//! kro writes it. Deletion stops the kind's controller and keeps the CRD unless
//! `--allow-crd-deletion`.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kro_api::condition::{messages, reasons, types};
use kro_api::metadata::{FINALIZER, annotations, labels};
use kro_api::{Condition, ConditionStatus, FIELD_MANAGER};
use kro_graph::{CompileOptions, CompiledGraph};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use kube::runtime::{PredicateConfig, WatchStreamExt};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::error::{Error, kube_err, panic_message};
use crate::instance::{self, KindContext};
use crate::metrics::label;
use crate::watches::KindKey;

/// The API resource of `ResourceGraphDefinition`.
pub fn rgd_resource() -> ApiResource {
    ApiResource {
        group: kro_api::GROUP.into(),
        version: kro_api::VERSION.into(),
        api_version: format!("{}/{}", kro_api::GROUP, kro_api::VERSION),
        kind: "ResourceGraphDefinition".into(),
        plural: "resourcegraphdefinitions".into(),
    }
}

/// A running instance controller.
#[derive(Debug)]
struct Running {
    uid: String,
    generation: i64,
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
    running: Mutex<HashMap<String, Running>>,
    compiled: Mutex<HashMap<(String, i64), CompiledGraph>>,
}

impl RgdContext {
    /// A controller with nothing running yet.
    pub fn new(shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            shared,
            running: Mutex::new(HashMap::new()),
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// Stops every instance controller, waiting up to `timeout` for running reconciles.
    pub async fn stop_all(&self, timeout: Duration) {
        let all: Vec<Running> = self.running.lock().await.drain().map(|(_, r)| r).collect();
        for r in &all {
            r.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        for r in all {
            let _ = tokio::time::timeout_at(deadline, r.task).await;
        }
    }
}

/// Runs the RGD controller until `stop` is cancelled.
pub async fn run(
    ctx: Arc<RgdContext>,
    stop: CancellationToken,
    ready: Arc<std::sync::atomic::AtomicBool>,
) {
    let ar = rgd_resource();
    let api: Api<DynamicObject> = Api::all_with(ctx.shared.client.clone(), &ar);
    let concurrency = ctx
        .shared
        .opts
        .resource_graph_definition_concurrent_reconciles;
    let mut wc = watcher::Config::default();
    if !ctx.shared.opts.rgd_selector.is_empty() {
        wc = wc.labels(&ctx.shared.opts.rgd_selector);
    }
    let controller = Controller::new_with(api, wc, ar)
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));
    // Ready once the RGD kind can be listed (the watch starts from the same list).
    let lister: Api<DynamicObject> = Api::all_with(ctx.shared.client.clone(), &rgd_resource());
    let ready_stop = stop.clone();
    tokio::spawn(async move {
        while !ready_stop.is_cancelled() {
            if lister.list(&ListParams::default().limit(1)).await.is_ok() {
                ready.store(true, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let s = stop.clone();
    controller
        .graceful_shutdown_on(async move { s.cancelled().await })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<RgdContext>) -> Result<Action, Error> {
    let name = obj.name_any();
    match AssertUnwindSafe(reconcile_rgd(obj.clone(), ctx.clone()))
        .catch_unwind()
        .await
    {
        Ok(r) => {
            if r.is_ok() {
                ctx.shared.clear_failures(&format!("rgd/{name}"));
            }
            r
        }
        Err(payload) => {
            let msg = panic_message(&*payload);
            ctx.shared
                .metrics
                .panics_total
                .get_or_create(&label("gvr", "kro.run/v1alpha1/resourcegraphdefinitions"))
                .inc();
            tracing::error!(rgd = %name, panic = %msg, "RGD reconcile panicked");
            publish(
                &ctx,
                &obj,
                EventType::Warning,
                "ReconcileFailed",
                format!("reconcile panicked: {msg}"),
            )
            .await;
            Err(Error::Panic(msg))
        }
    }
}

fn error_policy(obj: Arc<DynamicObject>, err: &Error, ctx: Arc<RgdContext>) -> Action {
    let key = format!("rgd/{}", obj.name_any());
    let n = ctx.shared.record_failure(&key);
    let delay = ctx.shared.opts.backoff(n);
    tracing::warn!(rgd = %obj.name_any(), error = %err, retry_in = ?delay, "RGD reconcile failed");
    Action::requeue(delay)
}

async fn publish(
    ctx: &RgdContext,
    obj: &DynamicObject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let reference = obj.object_ref(&rgd_resource());
    let ev = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.shared.recorder.publish(&ev, &reference).await {
        tracing::debug!(error = %e, "cannot publish event");
    }
}

/// (apiVersion, kind) of every resource and externalRef in the RGD.
fn kinds_of(rgd: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in rgd
        .pointer("/spec/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = r.get("template").or_else(|| r.get("externalRef"));
        if let Some(t) = t
            && let (Some(av), Some(k)) = (
                t.get("apiVersion").and_then(Value::as_str),
                t.get("kind").and_then(Value::as_str),
            )
        {
            out.push((av.to_string(), k.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn compile(
    ctx: &RgdContext,
    rgd: &Value,
    uid: &str,
    generation: i64,
) -> Result<CompiledGraph, String> {
    let key = (uid.to_string(), generation);
    if let Some(g) = ctx.compiled.lock().await.get(&key) {
        return Ok(g.clone());
    }
    let name = rgd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let schemas = ctx.shared.discovery.schemas_for(&kinds_of(rgd)).await;
    let options = CompileOptions {
        max_collection_dimensions: ctx.shared.opts.rgd_max_collection_dimension_size,
        omit_enabled: ctx.shared.opts.feature_gates.cel_omit_function,
        kro_version: ctx.shared.kro_version.clone(),
    };
    let started = Instant::now();
    let result = kro_graph::compile(rgd, &schemas, &options);
    let m = &ctx.shared.metrics;
    m.rgd_graph_build_total
        .get_or_create(&label("name", &name))
        .inc();
    m.rgd_graph_build_duration
        .get_or_create(&label("name", &name))
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(g) => {
            let mut c = ctx.compiled.lock().await;
            c.retain(|(u, _), _| u != uid);
            c.insert(key, g.clone());
            Ok(g)
        }
        Err(e) => {
            m.rgd_graph_build_errors_total
                .get_or_create(&label("name", &name))
                .inc();
            Err(e.to_string())
        }
    }
}

/// Server-side applies the instance CRD and waits until it is Established. `Ok(Err(msg))` is a
/// refusal to report on `KindReady`.
async fn ensure_crd(
    ctx: &RgdContext,
    rgd: &DynamicObject,
    graph: &CompiledGraph,
) -> Result<Result<CustomResourceDefinition, String>, Error> {
    // Through JSON so this works whether kro-graph hands out the CRD typed or as JSON.
    let Some(value) = graph
        .crd
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok())
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
    {
        let l = existing.labels();
        if l.get(labels::OWNED).map(String::as_str) != Some(labels::OWNED_VALUE) {
            return Ok(Err(format!(
                "CRD {name} already exists and is not owned by KRO"
            )));
        }
        if let Some(owner) = l.get(labels::RESOURCE_GRAPH_DEFINITION_NAME)
            && *owner != rgd.name_any()
        {
            return Ok(Err(format!(
                "CRD {name} is owned by another ResourceGraphDefinition {owner}"
            )));
        }
        let allow = rgd
            .annotations()
            .get(annotations::ALLOW_BREAKING_CHANGES)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let report = kro_schema::compare_crds(&existing, &crd);
        if !report.is_compatible() && !allow {
            return Ok(Err(format!(
                "cannot update CRD {name}: breaking changes detected: {}",
                report.summary()
            )));
        }
    }
    crds.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(kube_err(format!("applying CRD {name}")))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = crds
            .get(&name)
            .await
            .map_err(kube_err(format!("reading CRD {name}")))?;
        let established = c
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|x| x.type_ == "Established" && x.status == "True")
            });
        if established {
            let av = format!("{}/{}", graph.instance.group, graph.instance.version);
            ctx.shared.discovery.forget(&av, &graph.instance.kind).await;
            return Ok(Ok(c));
        }
        if Instant::now() > deadline {
            return Err(Error::NotEstablished(name));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn spawn_kind(
    ctx: &RgdContext,
    rgd: &DynamicObject,
    graph: CompiledGraph,
    ar: ApiResource,
) -> Running {
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
    });
    let router = shared.router.clone();
    let (k2, ar2, tx2) = (kind.clone(), ar.clone(), tx.clone());
    let stop = cancel.clone();
    let task = tokio::spawn(async move {
        router.register(k2.clone(), ar2.clone(), tx2.clone()).await;
        let api: Api<DynamicObject> = Api::all_with(kctx.shared.client.clone(), &ar2);
        let trigger =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        // The controller's own watch: kept without managedFields, and waking a reconcile only
        // for what `instance::wake_hash` covers (not kro's own status and metadata writes).
        let writer = reflector::store::Writer::new(ar2.clone());
        let reader = writer.as_reader();
        let instances = watcher(api, watcher::Config::default().any_semantic())
            .default_backoff()
            .modify(instance::slim)
            .reflect(writer)
            .applied_objects()
            .predicate_filter(instance::wake_hash, PredicateConfig::default());
        Controller::for_stream_with(instances, reader, ar2)
            .reconcile_on(trigger)
            .graceful_shutdown_on(async move { stop.cancelled().await })
            .run(instance::reconcile, instance::error_policy, kctx)
            .for_each(|_| futures::future::ready(()))
            .await;
        router.unregister(&k2, &tx2).await;
    });
    Running {
        uid: rgd.uid().unwrap_or_default(),
        generation: rgd.metadata.generation.unwrap_or(0),
        kind,
        cancel,
        tx,
        task,
    }
}

async fn stop_running(ctx: &RgdContext, r: Running) {
    r.cancel.cancel();
    ctx.shared.router.unregister(&r.kind, &r.tx).await;
    let _ = tokio::time::timeout(ctx.shared.opts.graceful_shutdown_timeout, r.task).await;
}

async fn reconcile_rgd(obj: Arc<DynamicObject>, ctx: Arc<RgdContext>) -> Result<Action, Error> {
    let ar = rgd_resource();
    let api: Api<DynamicObject> = Api::all_with(ctx.shared.client.clone(), &ar);
    let name = obj.name_any();
    let Some(rgd) = api
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading RGD {name}")))?
    else {
        return Ok(Action::await_change());
    };
    if rgd.metadata.deletion_timestamp.is_some() {
        return delete_rgd(&ctx, &api, &rgd).await;
    }
    if !rgd.finalizers().iter().any(|f| f == FINALIZER) {
        let mut fins = rgd.finalizers().to_vec();
        fins.push(FINALIZER.to_string());
        let patch =
            json!({"metadata": {"finalizers": fins, "resourceVersion": rgd.resource_version()}});
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(kube_err(format!("adding finalizer to RGD {name}")))?;
    }
    let generation = rgd.metadata.generation.unwrap_or(0);
    let uid = rgd.uid().unwrap_or_default();
    let value = serde_json::to_value(&rgd).map_err(|source| Error::Serialization {
        what: format!("RGD {name}"),
        source,
    })?;

    let previous: Vec<Condition> = rgd
        .data
        .pointer("/status/conditions")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut st = StatusBuilder::new(&previous, generation);

    let graph = match compile(&ctx, &value, &uid, generation).await {
        Ok(g) => g,
        Err(msg) => {
            st.set(
                types::GRAPH_REVISIONS_RESOLVED,
                ConditionStatus::False,
                reasons::FAILED,
                &msg,
            );
            st.set(
                types::GRAPH_ACCEPTED,
                ConditionStatus::False,
                reasons::INVALID_RESOURCE_GRAPH,
                &msg,
            );
            let status = st.finish(None, rgd.data.get("status"));
            if write_status(&ctx, &api, &rgd, status).await? {
                publish(&ctx, &rgd, EventType::Warning, "InvalidResourceGraph", msg).await;
            }
            // Kinds it uses may appear later (chained RGDs): look again, slowly.
            return Ok(Action::requeue(Duration::from_secs(10)));
        }
    };
    st.set(
        types::GRAPH_REVISIONS_RESOLVED,
        ConditionStatus::True,
        reasons::RESOLVED,
        &messages::revision_active(generation),
    );
    st.set(
        types::GRAPH_ACCEPTED,
        ConditionStatus::True,
        reasons::VALID,
        messages::GRAPH_ACCEPTED,
    );

    let crd = match ensure_crd(&ctx, &rgd, &graph).await? {
        Ok(crd) => crd,
        Err(msg) => {
            st.set(
                types::KIND_READY,
                ConditionStatus::False,
                reasons::FAILED,
                &msg,
            );
            let status = st.finish(Some(&graph), rgd.data.get("status"));
            if write_status(&ctx, &api, &rgd, status).await? {
                publish(&ctx, &rgd, EventType::Warning, "KindNotReady", msg).await;
            }
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
    };
    st.set(
        types::KIND_READY,
        ConditionStatus::True,
        reasons::READY,
        &messages::kind_ready(&graph.instance.kind),
    );

    let instance_ar = ApiResource {
        group: graph.instance.group.clone(),
        version: graph.instance.version.clone(),
        api_version: graph.instance.api_version(),
        kind: graph.instance.kind.clone(),
        plural: crd.spec.names.plural.clone(),
    };
    {
        let mut running = ctx.running.lock().await;
        let current = running
            .get(&name)
            .is_some_and(|r| r.uid == uid && r.generation == generation && !r.task.is_finished());
        if !current {
            let old = running.remove(&name);
            drop(running);
            if let Some(old) = old {
                stop_running(&ctx, old).await;
            }
            let r = spawn_kind(&ctx, &rgd, graph.clone(), instance_ar);
            tracing::info!(rgd = %name, kind = %graph.instance.kind, generation, "instance controller started");
            let mut running = ctx.running.lock().await;
            running.insert(name.clone(), r);
            ctx.shared.metrics.gvr_count.set(running.len() as i64);
        }
    }
    st.set(
        types::CONTROLLER_READY,
        ConditionStatus::True,
        reasons::RUNNING,
        messages::CONTROLLER_RUNNING,
    );
    let status = st.finish(Some(&graph), rgd.data.get("status"));
    let old_state = rgd
        .data
        .pointer("/status/state")
        .and_then(Value::as_str)
        .map(str::to_string);
    if write_status(&ctx, &api, &rgd, status.clone()).await? {
        let new_state = status
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if old_state.as_deref() != Some(new_state.as_str()) {
            ctx.shared
                .metrics
                .rgd_state_transitions_total
                .get_or_create(&vec![
                    ("name".into(), name.clone()),
                    ("from".into(), old_state.unwrap_or_default()),
                    ("to".into(), new_state.clone()),
                ])
                .inc();
            publish(
                &ctx,
                &rgd,
                EventType::Normal,
                "Active",
                format!("kind {} is served and reconciled", graph.instance.kind),
            )
            .await;
        }
    }
    Ok(Action::await_change())
}

async fn delete_rgd(
    ctx: &RgdContext,
    api: &Api<DynamicObject>,
    rgd: &DynamicObject,
) -> Result<Action, Error> {
    let name = rgd.name_any();
    let old = ctx.running.lock().await.remove(&name);
    if let Some(old) = old {
        stop_running(ctx, old).await;
        tracing::info!(rgd = %name, "instance controller stopped");
    }
    ctx.shared
        .metrics
        .gvr_count
        .set(ctx.running.lock().await.len() as i64);
    if ctx.shared.opts.allow_crd_deletion {
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
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(kube_err(format!("deleting CRD {}", crd.name_any()))(e)),
            }
        }
    }
    if rgd.finalizers().iter().any(|f| f == FINALIZER) {
        let rest: Vec<String> = rgd
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        let patch =
            json!({"metadata": {"finalizers": rest, "resourceVersion": rgd.resource_version()}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(kube_err(format!("removing finalizer of RGD {name}"))(e)),
        }
    }
    ctx.shared
        .metrics
        .rgd_deletions_total
        .get_or_create(&label("name", &name))
        .inc();
    ctx.compiled
        .lock()
        .await
        .retain(|(u, _), _| Some(u) != rgd.uid().as_ref());
    Ok(Action::await_change())
}

/// Builds the RGD status: kro's conditions (previous transition times kept), state, order.
struct StatusBuilder {
    previous: Vec<Condition>,
    set: Vec<Condition>,
    generation: i64,
}

const ORDER: [&str; 4] = [
    types::GRAPH_REVISIONS_RESOLVED,
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
        }
    }

    fn set(&mut self, t: &str, s: ConditionStatus, reason: &str, message: &str) {
        let mut c = Condition::new(t, s, reason, message);
        c.observed_generation = self.generation;
        self.set.retain(|x| x.type_ != t);
        self.set.push(c);
    }

    fn finish(mut self, graph: Option<&CompiledGraph>, old_status: Option<&Value>) -> Value {
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let mut conds: Vec<Condition> = Vec::new();
        for t in ORDER {
            let c = self
                .set
                .iter()
                .find(|c| c.type_ == t)
                .cloned()
                .or_else(|| self.previous.iter().find(|c| c.type_ == t).cloned());
            if let Some(c) = c {
                conds.push(c);
            }
        }
        let ready = if conds.len() == ORDER.len() && conds.iter().all(|c| c.is_true()) {
            Condition::new(types::READY, ConditionStatus::True, reasons::READY, "")
        } else {
            let worst = conds
                .iter()
                .find(|c| c.status == ConditionStatus::False)
                .or_else(|| conds.iter().find(|c| !c.is_true()));
            match worst {
                Some(w) => Condition {
                    type_: types::READY.into(),
                    last_transition_time: None,
                    observed_generation: 0,
                    ..w.clone()
                },
                None => Condition::new(
                    types::READY,
                    ConditionStatus::Unknown,
                    "Pending",
                    "waiting for the controller",
                ),
            }
        };
        let mut ready = ready;
        ready.observed_generation = self.generation;
        conds.push(ready);
        for c in conds.iter_mut() {
            c.observed_generation = self.generation;
            let old = self.previous.iter().find(|p| p.type_ == c.type_);
            c.last_transition_time = match old {
                Some(o) if o.status == c.status && o.last_transition_time.is_some() => {
                    o.last_transition_time.clone()
                }
                _ => Some(now.clone()),
            };
        }
        self.set.clear();
        let active = [
            types::GRAPH_ACCEPTED,
            types::KIND_READY,
            types::CONTROLLER_READY,
        ]
        .iter()
        .all(|t| conds.iter().any(|c| c.type_ == *t && c.is_true()));
        let mut status = old_status
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let Some(m) = status.as_object_mut() {
            m.insert(
                "state".into(),
                json!(if active { "Active" } else { "Inactive" }),
            );
            m.insert(
                "conditions".into(),
                serde_json::to_value(&conds).unwrap_or(json!([])),
            );
            if let Some(g) = graph {
                m.insert("topologicalOrder".into(), json!(g.topological_order));
                let resources: Vec<Value> = g
                    .nodes
                    .iter()
                    .filter(|n| !n.dependencies.is_empty())
                    .map(|n| {
                        json!({"id": n.id, "dependencies": n.dependencies.iter().map(|d| json!({"id": d})).collect::<Vec<_>>()})
                    })
                    .collect();
                if resources.is_empty() {
                    m.remove("resources");
                } else {
                    m.insert("resources".into(), json!(resources));
                }
            }
        }
        status
    }
}

async fn write_status(
    ctx: &RgdContext,
    api: &Api<DynamicObject>,
    rgd: &DynamicObject,
    status: Value,
) -> Result<bool, Error> {
    let _ = ctx;
    if rgd.data.get("status") == Some(&status) {
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
    use super::*;

    #[test]
    fn ready_mirrors_the_worst_condition_and_state_follows() {
        let mut st = StatusBuilder::new(&[], 3);
        st.set(
            types::GRAPH_REVISIONS_RESOLVED,
            ConditionStatus::True,
            reasons::RESOLVED,
            "r",
        );
        st.set(
            types::GRAPH_ACCEPTED,
            ConditionStatus::False,
            reasons::INVALID_RESOURCE_GRAPH,
            "bad cel",
        );
        let s = st.finish(None, None);
        assert_eq!(s["state"], "Inactive");
        let conds = s["conditions"].as_array().unwrap();
        let ready = conds.last().unwrap();
        assert_eq!(ready["type"], "Ready");
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "InvalidResourceGraph");
        assert_eq!(ready["message"], "bad cel");
        assert_eq!(ready["observedGeneration"], 3);

        let mut st = StatusBuilder::new(&[], 1);
        for t in ORDER {
            st.set(t, ConditionStatus::True, "X", "y");
        }
        let s = st.finish(None, None);
        assert_eq!(s["state"], "Active");
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
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
        assert_eq!(s["conditions"][4]["reason"], "Ready");
    }

    #[test]
    fn transition_time_kept_when_status_holds() {
        let mut st = StatusBuilder::new(&[], 1);
        st.set(
            types::GRAPH_ACCEPTED,
            ConditionStatus::True,
            reasons::VALID,
            "ok",
        );
        let first = st.finish(None, None);
        let prev: Vec<Condition> = serde_json::from_value(first["conditions"].clone()).unwrap();
        let mut st = StatusBuilder::new(&prev, 1);
        st.set(
            types::GRAPH_ACCEPTED,
            ConditionStatus::True,
            reasons::VALID,
            "ok",
        );
        let second = st.finish(None, Some(&first));
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

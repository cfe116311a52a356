//! The instance reconciler of one generated kind: observe → evaluate (pure, kro-runtime) →
//! server-side apply in topological order → prune → status; and ordered deletion.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kro_api::NodeState;
use kro_api::condition::{reasons, types};
use kro_api::metadata::{FINALIZER, annotations, field_managers, labels};
use kro_api::{Condition, ConditionStatus, InstanceState};
use kro_graph::CompiledGraph;
use kro_runtime::{
    DesiredObject, ExternalRead, InstanceIdentity, ObjectRef as PlanRef, Observed, ObservedNode,
    Plan,
};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions,
};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use crate::Shared;
use crate::diff;
use crate::error::{Error, describe, kube_err, panic_message};
use crate::metrics::label;
use crate::selector;
use crate::watches::{InstanceKey, Interest, WatchMode, resource_version};

/// Everything the controller of one generated kind needs.
#[derive(Debug)]
pub struct KindContext {
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// The compiled RGD.
    pub graph: CompiledGraph,
    /// The instance kind.
    pub ar: ApiResource,
    /// Name of the RGD.
    pub rgd_name: String,
    /// UID of the RGD.
    pub rgd_uid: String,
    /// resourceVersion of kro's last write to each instance (by uid) that the watch has not
    /// shown yet.
    pub written: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl KindContext {
    /// Whether the watch's copy of an instance is as new as kro's last write to it (so a
    /// reconcile can start from it without reading the API server).
    fn watched_is_current(&self, obj: &DynamicObject) -> bool {
        let Some(uid) = obj.metadata.uid.as_deref() else {
            return false;
        };
        let Ok(mut written) = self.written.lock() else {
            return false;
        };
        let Some(&wrote) = written.get(uid) else {
            return true;
        };
        if resource_version(obj).is_some_and(|rv| rv >= wrote) {
            written.remove(uid);
            return true;
        }
        false
    }

    /// Notes the resourceVersion the API server gave kro's write to an instance.
    fn wrote(&self, obj: &DynamicObject) {
        if let (Some(uid), Some(rv)) = (obj.metadata.uid.as_deref(), resource_version(obj))
            && let Ok(mut written) = self.written.lock()
        {
            written.insert(uid.to_string(), rv);
        }
    }

    /// Drops what [`Self::wrote`] noted of an instance that is gone.
    fn forget_written(&self, obj: &DynamicObject) {
        if let (Some(uid), Ok(mut written)) = (obj.metadata.uid.as_deref(), self.written.lock()) {
            written.remove(uid);
        }
    }

    fn gvr(&self) -> String {
        format!("{}/{}/{}", self.ar.group, self.ar.version, self.ar.plural)
    }

    fn api(&self, ns: Option<&str>) -> Api<DynamicObject> {
        match ns {
            Some(ns) if self.graph.instance.namespaced => {
                Api::namespaced_with(self.shared.client.clone(), ns, &self.ar)
            }
            _ => Api::all_with(self.shared.client.clone(), &self.ar),
        }
    }
}

/// What of an instance wakes its reconcile: generation (the spec, and deletion), deletion, and
/// its labels and annotations (CEL may read them) except those under kro's own prefixes, which
/// kro writes itself: `kro.run/`, `internal.kro.run/`, `applyset.kubernetes.io/`. The
/// `kro.run/reconcile` annotation (suspend) is the user's and counts. Status writes, kro's own
/// metadata and the resourceVersion alone wake nothing, so kro's writes do not reconcile the
/// instance again.
pub fn wake_hash(obj: &DynamicObject) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let kros = |k: &str| {
        ["kro.run/", "internal.kro.run/", "applyset.kubernetes.io/"]
            .iter()
            .any(|p| k.starts_with(p))
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.generation.hash(&mut h);
    obj.metadata.deletion_timestamp.is_some().hash(&mut h);
    for (k, v) in obj.labels() {
        if !kros(k) {
            (k, v).hash(&mut h);
        }
    }
    for (k, v) in obj.annotations() {
        if !kros(k) || k == annotations::RECONCILE {
            (k, v).hash(&mut h);
        }
    }
    Some(h.finish())
}

/// The instance as the controller's store keeps it: without managedFields.
pub fn slim(obj: &mut DynamicObject) {
    obj.metadata.managed_fields = None;
}

/// kube's reconcile callback: global cap, panic containment, metrics, backoff bookkeeping.
pub async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<KindContext>) -> Result<Action, Error> {
    let shared = ctx.shared.clone();
    let Ok(_permit) = shared.semaphore.acquire().await else {
        return Ok(Action::await_change());
    };
    let gvr = ctx.gvr();
    let started = Instant::now();
    let key = failure_key(&obj);
    // CPU time of this reconcile's own polls, on the thread each ran on.
    let mut cpu = Duration::ZERO;
    let mut work = std::pin::pin!(
        AssertUnwindSafe(reconcile_instance(obj.clone(), ctx.clone())).catch_unwind()
    );
    let result = futures::future::poll_fn(|cx| {
        let before = cpu_time::ThreadTime::try_now().ok();
        let polled = work.as_mut().poll(cx);
        if let Some(spent) = before.and_then(|b| b.try_elapsed().ok()) {
            cpu += spent;
        }
        polled
    })
    .await;
    let result = match result {
        Ok(r) => r,
        Err(payload) => {
            let msg = panic_message(&*payload);
            shared
                .metrics
                .panics_total
                .get_or_create(&label("gvr", &gvr))
                .inc();
            tracing::error!(instance = %key, panic = %msg, "instance reconcile panicked");
            report_failure(&ctx, &obj, &format!("reconcile panicked: {msg}")).await;
            Err(Error::Panic(msg))
        }
    };
    let secs = started.elapsed().as_secs_f64();
    tracing::debug!(
        instance = %key,
        seconds = secs,
        cpu_seconds = cpu.as_secs_f64(),
        ok = result.is_ok(),
        "reconciled"
    );
    shared
        .metrics
        .reconcile_total
        .get_or_create(&label("gvr", &gvr))
        .inc();
    shared
        .metrics
        .reconcile_duration
        .get_or_create(&label("gvr", &gvr))
        .observe(secs);
    let gvk = format!("{}/{}", ctx.ar.api_version, ctx.ar.kind);
    shared
        .metrics
        .instance_reconcile_total
        .get_or_create(&label("gvk", &gvk))
        .inc();
    shared
        .metrics
        .instance_reconcile_duration
        .get_or_create(&label("gvk", &gvk))
        .observe(secs);
    shared
        .metrics
        .instance_reconcile_cpu
        .get_or_create(&label("gvk", &gvk))
        .observe(cpu.as_secs_f64());
    if result.is_ok() {
        shared.clear_failures(&key);
    }
    result
}

/// kube's error policy: per-object exponential backoff.
pub fn error_policy(obj: Arc<DynamicObject>, err: &Error, ctx: Arc<KindContext>) -> Action {
    let shared = ctx.shared.clone();
    let gvr = ctx.gvr();
    shared
        .metrics
        .handler_errors_total
        .get_or_create(&label("gvr", &gvr))
        .inc();
    shared
        .metrics
        .instance_reconcile_errors_total
        .get_or_create(&label(
            "gvk",
            &format!("{}/{}", ctx.ar.api_version, ctx.ar.kind),
        ))
        .inc();
    let key = failure_key(&obj);
    let n = shared.record_failure(&key);
    let delay = shared.opts.backoff(n);
    tracing::warn!(instance = %key, error = %err, retry_in = ?delay, "instance reconcile failed");
    shared
        .metrics
        .requeue_total
        .get_or_create(&vec![
            ("gvr".into(), gvr),
            ("type".into(), "rate_limited".into()),
        ])
        .inc();
    Action::requeue(delay)
}

fn failure_key(obj: &DynamicObject) -> String {
    let kind = obj
        .types
        .as_ref()
        .map(|t| t.kind.clone())
        .unwrap_or_default();
    format!(
        "{kind}/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

fn instance_key(ctx: &KindContext, obj: &DynamicObject) -> InstanceKey {
    InstanceKey {
        group: ctx.ar.group.clone(),
        kind: ctx.ar.kind.clone(),
        namespace: if ctx.graph.instance.namespaced {
            obj.namespace().unwrap_or_default()
        } else {
            String::new()
        },
        name: obj.name_any(),
    }
}

fn identity(ctx: &KindContext, obj: &DynamicObject) -> InstanceIdentity {
    let k = instance_key(ctx, obj);
    InstanceIdentity {
        name: k.name,
        namespace: k.namespace,
        uid: obj.uid().unwrap_or_default(),
        group: ctx.graph.instance.group.clone(),
        version: ctx.graph.instance.version.clone(),
        kind: ctx.graph.instance.kind.clone(),
    }
}

async fn publish(
    ctx: &KindContext,
    obj: &DynamicObject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let reference = obj.object_ref(&ctx.ar);
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

/// Writes an ERROR status and a Warning event after a panic.
async fn report_failure(ctx: &KindContext, obj: &DynamicObject, message: &str) {
    let api = ctx.api(obj.namespace().as_deref());
    let conditions = vec![
        Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::False,
            reasons::NOT_READY,
            format!("resource reconciliation failed: {message}"),
        ),
        Condition::new(
            types::READY,
            ConditionStatus::False,
            reasons::NOT_READY,
            format!("resource reconciliation failed: {message}"),
        ),
    ];
    let patch =
        json!({"status": {"state": InstanceState::Error.as_str(), "conditions": conditions}});
    let _ = api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
    publish(
        ctx,
        obj,
        EventType::Warning,
        "ReconcileFailed",
        message.to_string(),
    )
    .await;
}

async fn reconcile_instance(
    obj: Arc<DynamicObject>,
    ctx: Arc<KindContext>,
) -> Result<Action, Error> {
    let ns = obj.namespace();
    let api = ctx.api(ns.as_deref());
    let name = obj.name_any();
    // The watch's copy, unless it is still behind a write of ours: then read it live.
    let live = if ctx.watched_is_current(&obj) {
        (*obj).clone()
    } else {
        let Some(live) = api
            .get_opt(&name)
            .await
            .map_err(kube_err(format!("reading {} {name}", ctx.ar.kind)))?
        else {
            ctx.shared.router.forget(&instance_key(&ctx, &obj)).await;
            return Ok(Action::await_change());
        };
        live
    };
    if live.metadata.deletion_timestamp.is_some() {
        return cleanup(&ctx, &live).await;
    }
    let mut live = live;

    let suspended = live
        .annotations()
        .get(annotations::RECONCILE)
        .map(|v| v.to_ascii_lowercase())
        .is_some_and(|v| {
            v == annotations::RECONCILE_SUSPENDED || v == annotations::RECONCILE_DISABLED
        });
    if suspended {
        let mut status = live.data.get("status").cloned().unwrap_or(json!({}));
        let cond = Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::False,
            reasons::RECONCILIATION_SUSPENDED,
            "reconciliation is suspended by the kro.run/reconcile annotation",
        );
        set_condition(&mut status, cond, live.metadata.generation.unwrap_or(0));
        write_status(&ctx, &api, &live, status).await?;
        return Ok(Action::await_change());
    }

    let id = identity(&ctx, &live);
    let instance_value = serde_json::to_value(&live).map_err(|source| Error::Serialization {
        what: format!("instance {name}"),
        source,
    })?;
    let options = kro_runtime::Options {
        kro_version: ctx.shared.kro_version.clone(),
        max_collection_size: ctx.shared.opts.rgd_max_collection_size,
    };

    // What the shared watch caches already hold of this instance's children goes in before the
    // first evaluation, so an up-to-date instance is evaluated once, not once per graph level.
    let mut observed = Observed::new();
    let mut fetched: HashSet<String> = HashSet::new();
    prefill_observed(&ctx, &id.uid, &mut observed, &mut fetched);
    let mut applied: HashSet<String> = HashSet::new();
    let mut apply_errors: Vec<String> = Vec::new();
    let mut parent_prepared = false;
    let max_passes = ctx.graph.nodes.len() * 3 + 4;
    let mut passes = 0;
    let plan = loop {
        let plan = kro_runtime::evaluate_with(&ctx.graph, &instance_value, &observed, &options);
        passes += 1;
        if passes >= max_passes {
            break plan;
        }
        // Observe whatever the plan names that we have not read yet; evaluate again only when
        // that changed what was observed.
        let mut progressed = false;
        for d in &plan.apply {
            let key = match d.collection_index {
                Some(_) => format!("list/{}", d.node_id),
                None => format!(
                    "obj/{}/{}/{}/{}",
                    d.node_id,
                    d.kind(),
                    d.namespace().unwrap_or(""),
                    d.name()
                ),
            };
            if !fetched.insert(key) {
                continue;
            }
            let r = ctx.shared.resolve(d.api_version(), d.kind()).await?;
            // Children come from the shared watch cache; the API server is asked only while
            // that cache is still filling.
            let router = &ctx.shared.router;
            if d.collection_index.is_some() {
                let values: Vec<Value> =
                    match cached_node_objects(&ctx, d.api_version(), d.kind(), &id.uid, &d.node_id)
                    {
                        Some(values) => values,
                        None => {
                            let all: Api<DynamicObject> =
                                Api::all_with(ctx.shared.client.clone(), &r.ar);
                            let lp = ListParams::default().labels(&format!(
                                "{}={},{}={}",
                                labels::INSTANCE_ID,
                                id.uid,
                                labels::NODE_ID,
                                d.node_id
                            ));
                            let items = all.list(&lp).await.map_err(kube_err(format!(
                                "listing {} items of {}",
                                d.kind(),
                                d.node_id
                            )))?;
                            items
                                .items
                                .iter()
                                .filter_map(|o| serde_json::to_value(o).ok())
                                .collect()
                        }
                    };
                let list = ObservedNode::List(values);
                if observed.nodes.get(&d.node_id) != Some(&list) {
                    observed.nodes.insert(d.node_id.clone(), list);
                    progressed = true;
                }
            } else {
                if find_observed(&observed, &d.node_id, d.namespace(), d.name()).is_some() {
                    continue;
                }
                let ns = if r.namespaced { d.namespace() } else { None };
                let found = match router.cached_child(d.api_version(), d.kind(), ns, d.name()) {
                    Some(cached) => cached.and_then(|o| serde_json::to_value(&*o).ok()),
                    None => {
                        let child = child_api(&ctx, &r, d.namespace());
                        child
                            .get_opt(d.name())
                            .await
                            .map_err(kube_err(format!("reading {} {}", d.kind(), d.name())))?
                            .and_then(|o| serde_json::to_value(&o).ok())
                    }
                };
                // Found: observed now. Not found: whatever the cache held for the node was
                // another object (the template's name changed) and is not this node's.
                match found {
                    Some(v) => {
                        observed.insert(d.node_id.clone(), v);
                        progressed = true;
                    }
                    None => progressed |= observed.nodes.remove(&d.node_id).is_some(),
                }
            }
        }
        for e in &plan.external_reads {
            let key = format!("ext/{}", serde_json::to_string(e).unwrap_or_default());
            if !fetched.insert(key) {
                continue;
            }
            progressed = true;
            read_external(&ctx, e, &mut observed).await?;
        }
        if progressed {
            continue;
        }
        // Apply what differs from the live objects, in topological order.
        for d in &plan.apply {
            let key = format!(
                "{}/{}/{}/{}",
                d.api_version(),
                d.kind(),
                d.namespace().unwrap_or(""),
                d.name()
            );
            if applied.contains(&key) {
                continue;
            }
            let desired = diff::with_hash(d.object.clone());
            let live_child = find_observed(&observed, &d.node_id, d.namespace(), d.name());
            if live_child.is_some_and(|l| diff::is_up_to_date(&desired, l)) {
                continue;
            }
            if !parent_prepared || !parent_covers(&live, d) {
                if let Some(updated) = prepare_parent(&ctx, &api, &live, &plan, true).await? {
                    live = updated;
                }
                parent_prepared = true;
            }
            applied.insert(key);
            progressed = true;
            let r = ctx.shared.resolve(d.api_version(), d.kind()).await?;
            let child = child_api(&ctx, &r, d.namespace());
            let pp = PatchParams::apply(field_managers::APPLYSET).force();
            match child.patch(d.name(), &pp, &Patch::Apply(&desired)).await {
                Ok(o) => {
                    if let Ok(v) = serde_json::to_value(&o) {
                        record_observed(&mut observed, &d.node_id, d.collection_index.is_some(), v);
                    }
                    // Readiness of what was just written is judged from the answer above; later
                    // changes by others arrive on the watch, not our own echo.
                    ctx.shared
                        .router
                        .remember_child(d.api_version(), d.kind(), o);
                }
                Err(e) => apply_errors.push(format!(
                    "{}: applying {} {}: {}",
                    d.node_id,
                    d.kind(),
                    d.name(),
                    describe(&e)
                )),
            }
        }
        if !progressed {
            break plan;
        }
    };

    tracing::debug!(
        instance = %name,
        passes,
        applied = applied.len(),
        observed = observed.nodes.len(),
        "evaluated"
    );
    // Watches: every kind the plan applies (cached), externalRefs by name/selector.
    let kinds: BTreeSet<(&str, &str)> = plan
        .apply
        .iter()
        .map(|d| (d.api_version(), d.kind()))
        .collect();
    for (api_version, kind) in kinds {
        if let Ok(r) = ctx.shared.resolve(api_version, kind).await {
            ctx.shared
                .router
                .ensure_watch(api_version, kind, &r.ar, WatchMode::Owned)
                .await;
        }
    }
    let mut interests = Vec::new();
    for e in &plan.external_reads {
        if let Ok(r) = ctx.shared.resolve(&e.api_version, &e.kind).await {
            ctx.shared
                .router
                .ensure_watch(&e.api_version, &e.kind, &r.ar, WatchMode::External)
                .await;
        }
        interests.push((
            (e.api_version.clone(), e.kind.clone()),
            Interest {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                selector: e.selector.clone(),
            },
        ));
    }
    ctx.shared
        .router
        .set_interests(&instance_key(&ctx, &live), interests)
        .await;

    // Prune children that dropped out, then shrink the ApplySet inventory.
    if plan.prune_allowed && apply_errors.is_empty() {
        let (members, _) = list_members(&ctx, &live, &plan).await?;
        let previous: Vec<(PlanRef, String)> = members
            .iter()
            .map(|o| {
                (
                    PlanRef {
                        api_version: o
                            .types
                            .as_ref()
                            .map(|t| t.api_version.clone())
                            .unwrap_or_default(),
                        kind: o.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
                        namespace: o.namespace(),
                        name: o.name_any(),
                        node_id: o.labels().get(labels::NODE_ID).cloned().unwrap_or_default(),
                    },
                    o.uid().unwrap_or_default(),
                )
            })
            .collect();
        let refs: Vec<PlanRef> = previous.iter().map(|(r, _)| r.clone()).collect();
        for r in kro_runtime::prune(&refs, &plan) {
            let uid = previous
                .iter()
                .find(|(p, _)| *p == r)
                .map(|(_, u)| u.clone());
            let res = ctx.shared.resolve(&r.api_version, &r.kind).await?;
            let child = child_api(&ctx, &res, r.namespace.as_deref());
            let dp = DeleteParams {
                preconditions: uid.map(|uid| Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match child.delete(&r.name, &dp).await {
                Ok(_) => {
                    tracing::info!(kind = %r.kind, name = %r.name, node = %r.node_id, "pruned");
                }
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => apply_errors.push(format!(
                    "{}: pruning {} {}: {}",
                    r.node_id,
                    r.kind,
                    r.name,
                    describe(&e)
                )),
            }
        }
        if apply_errors.is_empty()
            && let Some(updated) = prepare_parent(&ctx, &api, &live, &plan, false).await?
        {
            live = updated;
        }
    } else if !parent_prepared
        && let Some(updated) = prepare_parent(&ctx, &api, &live, &plan, true).await?
    {
        live = updated;
    }

    // Status.
    let generation = live.metadata.generation.unwrap_or(0);
    let mut status = plan.status.clone();
    let mut conditions = plan.conditions.clone();
    let mut state = plan.state;
    if !apply_errors.is_empty() {
        state = InstanceState::Error;
        let msg = format!(
            "resource reconciliation failed: {}",
            apply_errors.join("; ")
        );
        for c in conditions.iter_mut() {
            if c.type_ == types::RESOURCES_READY || c.type_ == types::READY {
                c.status = ConditionStatus::False;
                c.reason = Some(reasons::NOT_READY.into());
                c.message = Some(msg.clone());
            }
        }
    }
    let previous: Vec<Condition> = live
        .data
        .pointer("/status/conditions")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    for c in conditions.iter_mut() {
        c.observed_generation = generation;
    }
    let merged = kro_runtime::merge_conditions(&previous, &conditions, &now());
    if let Some(m) = status.as_object_mut() {
        m.insert("state".into(), json!(state.as_str()));
        m.insert(
            "conditions".into(),
            serde_json::to_value(&merged).unwrap_or(json!([])),
        );
    }
    let old_state = live
        .data
        .pointer("/status/state")
        .and_then(Value::as_str)
        .map(str::to_string);
    if write_status(&ctx, &api, &live, status).await?
        && old_state.as_deref() != Some(state.as_str())
    {
        ctx.shared
            .metrics
            .instance_state_transitions_total
            .get_or_create(&vec![
                (
                    "gvk".into(),
                    format!("{}/{}", ctx.ar.api_version, ctx.ar.kind),
                ),
                ("from".into(), old_state.clone().unwrap_or_default()),
                ("to".into(), state.as_str().into()),
            ])
            .inc();
        let type_ = if state == InstanceState::Error {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let note = match state {
            InstanceState::Error => {
                format!("state {}: {}", state.as_str(), apply_errors.join("; "))
            }
            _ => format!(
                "state {} -> {}",
                old_state.unwrap_or_else(|| "none".into()),
                state.as_str()
            ),
        };
        publish(&ctx, &live, type_, "StateChanged", note).await;
    }

    if !apply_errors.is_empty() {
        return Err(Error::Children(apply_errors.join("; ")));
    }
    let interval = ctx.shared.opts.instance_requeue_interval;
    // Waiting on readiness or not yet Active: look again soon. Children kro created or changed
    // need no poll: their watch wakes the instance when anybody else changes them.
    let waiting = plan.requeue || state != InstanceState::Active;
    if waiting && !interval.is_zero() {
        Ok(Action::requeue(interval))
    } else {
        Ok(Action::requeue(Duration::from_secs(
            ctx.shared
                .opts
                .dynamic_controller_default_resync_period
                .max(1),
        )))
    }
}

fn child_api(
    ctx: &KindContext,
    r: &crate::discovery::Resolved,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    match (r.namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(ctx.shared.client.clone(), ns, &r.ar),
        _ => Api::all_with(ctx.shared.client.clone(), &r.ar),
    }
}

fn find_observed<'a>(
    o: &'a Observed,
    node: &str,
    ns: Option<&str>,
    name: &str,
) -> Option<&'a Value> {
    let same = |v: &&Value| {
        v.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
            && v.pointer("/metadata/namespace").and_then(Value::as_str) == ns
    };
    match o.nodes.get(node)? {
        ObservedNode::Object(v) => Some(v).filter(same),
        ObservedNode::List(items) => items.iter().find(same),
    }
}

fn record_observed(o: &mut Observed, node: &str, collection: bool, v: Value) {
    if !collection {
        o.insert(node, v);
        return;
    }
    let name = v.pointer("/metadata/name").cloned();
    let ns = v.pointer("/metadata/namespace").cloned();
    match o.nodes.get_mut(node) {
        Some(ObservedNode::List(items)) => {
            if let Some(slot) = items.iter_mut().find(|i| {
                i.pointer("/metadata/name").cloned() == name
                    && i.pointer("/metadata/namespace").cloned() == ns
            }) {
                *slot = v;
            } else {
                items.push(v);
            }
        }
        _ => {
            o.insert_list(node, vec![v]);
        }
    }
}

async fn read_external(
    ctx: &KindContext,
    e: &ExternalRead,
    observed: &mut Observed,
) -> Result<(), Error> {
    let r = ctx.shared.resolve(&e.api_version, &e.kind).await?;
    let api = child_api(ctx, &r, e.namespace.as_deref());
    if let Some(name) = &e.name {
        if let Some(o) = api
            .get_opt(name)
            .await
            .map_err(kube_err(format!("reading external {} {name}", e.kind)))?
            && let Ok(v) = serde_json::to_value(&o)
        {
            observed.insert(e.node_id.clone(), v);
        }
    } else {
        let sel = e
            .selector
            .as_ref()
            .map(selector::to_query)
            .unwrap_or_default();
        let list = api
            .list(&ListParams::default().labels(&sel))
            .await
            .map_err(kube_err(format!("listing external {} by {sel:?}", e.kind)))?;
        let items = list
            .items
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect();
        observed.insert_list(e.node_id.clone(), items);
    }
    Ok(())
}

/// Writes what kro keeps on the instance in one apply (field manager `kro.run/applyset`
/// parent): its finalizer, kro's labels, and the ApplySet parent metadata. `grow` keeps the
/// group-kinds and namespaces recorded before (before applying children), otherwise it records
/// exactly the plan (after a successful prune). Writes nothing when all of it is current; runs
/// before the first child is applied, so no child exists without the finalizer.
async fn prepare_parent(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    live: &DynamicObject,
    plan: &Plan,
    grow: bool,
) -> Result<Option<DynamicObject>, Error> {
    let ann = live.annotations();
    let mut gks = diff::parse_group_kinds(&plan.applyset.contains_group_kinds);
    let mut nss: BTreeSet<String> = plan
        .applyset
        .additional_namespaces
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if grow {
        // Every kind the graph may still apply (not excluded by includeWhen), so that later
        // passes of the same reconcile find the parent already covering them.
        for n in &ctx.graph.nodes {
            let skipped = plan
                .node(&n.id)
                .is_some_and(|s| s.state == NodeState::Skipped);
            if n.kind.is_managed() && !skipped {
                let (g, _) = crate::discovery::split_api_version(&n.api_version);
                gks.insert((g.to_string(), n.object_kind.clone()));
            }
        }
        if let Some(old) = ann.get(annotations::APPLYSET_CONTAINS_GROUP_KINDS) {
            gks.extend(diff::parse_group_kinds(old));
        }
        if let Some(old) = ann.get(annotations::APPLYSET_ADDITIONAL_NAMESPACES) {
            nss.extend(old.split(',').filter(|s| !s.is_empty()).map(str::to_string));
        }
    }
    let gks = diff::render_group_kinds(&gks);
    let nss = nss.into_iter().collect::<Vec<_>>().join(",");
    let tooling = format!("kro/{}", ctx.shared.kro_version);
    let hash = diff::inventory_hash(&plan.applyset.id, &gks, &nss);
    let mut want: BTreeMap<&str, String> = [
        (labels::OWNED, labels::OWNED_VALUE.to_string()),
        (
            labels::KRO_VERSION,
            kro_api::metadata::version_label_value(&ctx.shared.kro_version),
        ),
        (labels::RESOURCE_GRAPH_DEFINITION_ID, ctx.rgd_uid.clone()),
        (labels::RESOURCE_GRAPH_DEFINITION_NAME, ctx.rgd_name.clone()),
    ]
    .into();
    want.insert(labels::APPLYSET_ID, plan.applyset.id.clone());
    let have = live.labels();
    let current = live.finalizers().iter().any(|f| f == FINALIZER)
        && want.iter().all(|(k, v)| have.get(*k) == Some(v))
        && ann
            .get(annotations::APPLYSET_CONTAINS_GROUP_KINDS)
            .map(String::as_str)
            .unwrap_or("")
            == gks
        && ann
            .get(annotations::APPLYSET_ADDITIONAL_NAMESPACES)
            .map(String::as_str)
            .unwrap_or("")
            == nss
        && ann.get(annotations::APPLYSET_TOOLING) == Some(&tooling)
        && ann.get(annotations::APPLYSET_INVENTORY_HASH) == Some(&hash);
    if current {
        return Ok(None);
    }
    let patch = json!({
        "apiVersion": ctx.ar.api_version,
        "kind": ctx.ar.kind,
        "metadata": {
            "name": live.name_any(),
            "finalizers": [FINALIZER],
            "labels": want,
            "annotations": {
                annotations::APPLYSET_TOOLING: tooling,
                annotations::APPLYSET_CONTAINS_GROUP_KINDS: gks,
                annotations::APPLYSET_ADDITIONAL_NAMESPACES: nss,
                annotations::APPLYSET_INVENTORY_HASH: hash,
            }
        },
    });
    let updated = api
        .patch(
            &live.name_any(),
            &PatchParams::apply(field_managers::APPLYSET_PARENT).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(kube_err(format!(
            "writing finalizer, labels and ApplySet metadata on {}",
            live.name_any()
        )))?;
    ctx.wrote(&updated);
    Ok(Some(updated))
}

/// Puts into `observed` what the watch caches hold of the instance's children: for a
/// collection its whole list (marked as read), for a single resource the one object labelled
/// with its node id (checked against the name the template asks for once evaluated).
fn prefill_observed(
    ctx: &KindContext,
    instance_uid: &str,
    observed: &mut Observed,
    fetched: &mut HashSet<String>,
) {
    for n in ctx.graph.nodes.iter().filter(|n| n.kind.is_managed()) {
        let Some(mut mine) =
            cached_node_objects(ctx, &n.api_version, &n.object_kind, instance_uid, &n.id)
        else {
            continue;
        };
        if n.kind.is_list() {
            observed.insert_list(n.id.clone(), mine);
            fetched.insert(format!("list/{}", n.id));
        } else if mine.len() == 1
            && let Some(one) = mine.pop()
        {
            observed.insert(n.id.clone(), one);
        }
    }
}

/// The objects of one node of an instance as the watch cache holds them, as JSON for
/// evaluation; `None` while no synced cache exists for the kind.
fn cached_node_objects(
    ctx: &KindContext,
    api_version: &str,
    kind: &str,
    instance_uid: &str,
    node_id: &str,
) -> Option<Vec<Value>> {
    let children = ctx
        .shared
        .router
        .cached_children(api_version, kind, instance_uid)?;
    Some(
        children
            .iter()
            .filter(|o| o.labels().get(labels::NODE_ID).map(String::as_str) == Some(node_id))
            .filter_map(|o| serde_json::to_value(&**o).ok())
            .collect(),
    )
}

/// Whether the instance's ApplySet metadata already records the group-kind and namespace of
/// `d` (and carries the finalizer): the ApplySet contract is that the parent names a kind
/// before any object of it is applied.
fn parent_covers(live: &DynamicObject, d: &DesiredObject) -> bool {
    let ann = live.annotations();
    let (group, _) = crate::discovery::split_api_version(d.api_version());
    let kind_recorded = ann
        .get(annotations::APPLYSET_CONTAINS_GROUP_KINDS)
        .is_some_and(|v| {
            diff::parse_group_kinds(v).contains(&(group.to_string(), d.kind().to_string()))
        });
    let namespace_recorded = match d.namespace() {
        None | Some("") => true,
        Some(ns) if Some(ns) == live.metadata.namespace.as_deref() => true,
        Some(ns) => ann
            .get(annotations::APPLYSET_ADDITIONAL_NAMESPACES)
            .is_some_and(|v| v.split(',').any(|x| x == ns)),
    };
    kind_recorded && namespace_recorded && live.finalizers().iter().any(|f| f == FINALIZER)
}

/// Every child carrying this instance's `applyset.kubernetes.io/part-of`, over the recorded and
/// current group-kinds. Also returns the group-kinds searched.
async fn list_members(
    ctx: &KindContext,
    live: &DynamicObject,
    plan: &Plan,
) -> Result<(Vec<DynamicObject>, BTreeSet<(String, String)>), Error> {
    let id = identity(ctx, live).applyset_id();
    let mut gks = diff::parse_group_kinds(&plan.applyset.contains_group_kinds);
    if let Some(old) = live
        .annotations()
        .get(annotations::APPLYSET_CONTAINS_GROUP_KINDS)
    {
        gks.extend(diff::parse_group_kinds(old));
    }
    for n in &ctx.graph.nodes {
        if n.kind.is_managed() {
            let (g, _) = crate::discovery::split_api_version(&n.api_version);
            gks.insert((g.to_string(), n.object_kind.clone()));
        }
    }
    let mut out = Vec::new();
    for (g, k) in &gks {
        let Some(r) = ctx.shared.discovery.resolve_group_kind(g, k).await else {
            continue;
        };
        let uid = live.uid().unwrap_or_default();
        let items: Vec<DynamicObject> =
            match ctx
                .shared
                .router
                .cached_children(&r.ar.api_version, &r.ar.kind, &uid)
            {
                Some(objs) => objs
                    .iter()
                    .filter(|o| o.labels().get(labels::APPLYSET_PART_OF) == Some(&id))
                    .map(|o| (**o).clone())
                    .collect(),
                None => {
                    let api: Api<DynamicObject> = Api::all_with(ctx.shared.client.clone(), &r.ar);
                    api.list(
                        &ListParams::default()
                            .labels(&format!("{}={id}", labels::APPLYSET_PART_OF)),
                    )
                    .await
                    .map_err(kube_err(format!(
                        "listing {k} members of {}",
                        live.name_any()
                    )))?
                    .items
                }
            };
        for mut o in items {
            if o.types.is_none() {
                o.types = Some(kube::api::TypeMeta {
                    api_version: r.ar.api_version.clone(),
                    kind: r.ar.kind.clone(),
                });
            }
            out.push(o);
        }
    }
    Ok((out, gks))
}

/// Deletion: children in reverse topological waves, waiting for each wave, then the finalizer.
async fn cleanup(ctx: &KindContext, live: &DynamicObject) -> Result<Action, Error> {
    let api = ctx.api(live.namespace().as_deref());
    if !live.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let empty = kro_runtime::evaluate(&ctx.graph, &json!({}), &Observed::new());
    let (members, _) = list_members(ctx, live, &empty).await?;
    let remaining: Vec<&DynamicObject> = members.iter().collect();
    let generation = live.metadata.generation.unwrap_or(0);
    let mut status = live.data.get("status").cloned().unwrap_or(json!({}));
    if let Some(m) = status.as_object_mut() {
        m.insert("state".into(), json!(InstanceState::Deleting.as_str()));
    }
    let msg = if remaining.is_empty() {
        "all resources deleted".to_string()
    } else {
        let names: Vec<String> = remaining
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o.types.as_ref().map(|t| t.kind.as_str()).unwrap_or(""),
                    o.name_any()
                )
            })
            .collect();
        format!("deleting resources: {}", names.join(", "))
    };
    set_condition(
        &mut status,
        Condition::new(
            types::RESOURCES_READY,
            ConditionStatus::Unknown,
            reasons::UNDER_DELETION,
            msg.clone(),
        ),
        generation,
    );
    set_condition(
        &mut status,
        Condition::new(
            types::READY,
            ConditionStatus::Unknown,
            reasons::UNDER_DELETION,
            msg,
        ),
        generation,
    );
    write_status(ctx, &api, live, status).await?;
    ctx.shared.router.forget(&instance_key(ctx, live)).await;

    if remaining.is_empty() {
        let rest: Vec<String> = live
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .cloned()
            .collect();
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": live.finalizers()},
            {"op": "replace", "path": "/metadata/finalizers", "value": rest},
        ]);
        let patch: json_patch_type::Patch =
            serde_json::from_value(patch).map_err(|source| Error::Serialization {
                what: "finalizer patch".into(),
                source,
            })?;
        match api
            .patch(
                &live.name_any(),
                &PatchParams::default(),
                &Patch::<()>::Json(patch),
            )
            .await
        {
            Ok(_) => ctx.forget_written(live),
            Err(kube::Error::Api(s)) if s.code == 404 => ctx.forget_written(live),
            Err(e) => {
                return Err(kube_err(format!(
                    "removing finalizer of {}",
                    live.name_any()
                ))(e));
            }
        }
        publish(
            ctx,
            live,
            EventType::Normal,
            "Deleted",
            "all resources deleted, finalizer removed".into(),
        )
        .await;
        return Ok(Action::await_change());
    }
    let top = remaining
        .iter()
        .map(|o| diff::wave(o.annotations().get(annotations::APPLY_ORDER)))
        .max()
        .unwrap_or(0);
    for o in remaining
        .iter()
        .filter(|o| diff::wave(o.annotations().get(annotations::APPLY_ORDER)) == top)
        .filter(|o| o.metadata.deletion_timestamp.is_none())
    {
        let Some(t) = &o.types else { continue };
        let r = ctx.shared.resolve(&t.api_version, &t.kind).await?;
        let child = child_api(ctx, &r, o.namespace().as_deref());
        let dp = DeleteParams {
            preconditions: o.uid().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match child.delete(&o.name_any(), &dp).await {
            Ok(_) => {
                tracing::info!(kind = %t.kind, name = %o.name_any(), wave = top, "deleted child")
            }
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(kube_err(format!("deleting {} {}", t.kind, o.name_any()))(e)),
        }
    }
    Ok(Action::requeue(Duration::from_millis(500)))
}

/// Sets one condition in a status object, keeping `lastTransitionTime` when its status holds.
fn set_condition(status: &mut Value, mut c: Condition, generation: i64) {
    c.observed_generation = generation;
    let mut conds: Vec<Condition> = status
        .get("conditions")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    match conds.iter_mut().find(|x| x.type_ == c.type_) {
        Some(old) => {
            if old.status == c.status {
                c.last_transition_time = old.last_transition_time.clone();
            } else {
                c.last_transition_time = Some(Time(k8s_openapi::jiff::Timestamp::now()));
            }
            *old = c;
        }
        None => {
            c.last_transition_time = Some(Time(k8s_openapi::jiff::Timestamp::now()));
            conds.push(c);
        }
    }
    if let Some(m) = status.as_object_mut() {
        m.insert(
            "conditions".into(),
            serde_json::to_value(&conds).unwrap_or(json!([])),
        );
    } else {
        *status = json!({"conditions": conds});
    }
}

/// Replaces `status` when it differs from the live one; returns whether it wrote.
async fn write_status(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    live: &DynamicObject,
    status: Value,
) -> Result<bool, Error> {
    if live.data.get("status") == Some(&status) {
        return Ok(false);
    }
    // Full replacement (stale keys dropped), as kro's UpdateStatus.
    let ops = json!([
        {"op": "add", "path": "/status", "value": status},
    ]);
    let p: json_patch_type::Patch =
        serde_json::from_value(ops).map_err(|source| Error::Serialization {
            what: "status patch".into(),
            source,
        })?;
    match api
        .patch_status(
            &live.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(p),
        )
        .await
    {
        Ok(written) => {
            ctx.wrote(&written);
            Ok(true)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(kube_err(format!("writing status of {}", live.name_any()))(
            e,
        )),
    }
}

mod json_patch_type {
    pub use json_patch::Patch;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(patch: impl FnOnce(&mut DynamicObject)) -> DynamicObject {
        let mut o: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "e2e.kro.run/v1alpha1",
            "kind": "Web",
            "metadata": {
                "name": "a", "namespace": "ns", "uid": "u1", "generation": 1,
                "resourceVersion": "10", "labels": {"team": "x"},
            },
            "spec": {"replicas": 1},
        }))
        .expect("valid instance");
        patch(&mut o);
        o
    }

    #[test]
    fn kros_own_writes_do_not_wake_the_instance_but_users_changes_do() {
        let base = wake_hash(&instance(|_| {}));
        let kro_wrote = instance(|o| {
            o.metadata.resource_version = Some("12".into());
            o.data["status"] = json!({"state": "ACTIVE"});
            o.metadata.finalizers = Some(vec![FINALIZER.into()]);
            let l = o.metadata.labels.get_or_insert_with(Default::default);
            l.insert(labels::OWNED.into(), labels::OWNED_VALUE.into());
            l.insert(labels::APPLYSET_ID.into(), "applyset-x-v1".into());
            o.metadata.annotations = Some(
                [
                    (annotations::APPLYSET_TOOLING, "kro/v0"),
                    (annotations::APPLYSET_CONTAINS_GROUP_KINDS, "ConfigMap"),
                    (annotations::APPLYSET_INVENTORY_HASH, "sha256:x"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            );
        });
        assert_eq!(wake_hash(&kro_wrote), base);
        let user_changes: [fn(&mut DynamicObject); 4] = [
            |o| o.metadata.generation = Some(2),
            |o| o.metadata.deletion_timestamp = Some(Time(Default::default())),
            |o| {
                o.metadata
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert("team".into(), "y".into());
            },
            |o| {
                o.metadata.annotations =
                    Some([(annotations::RECONCILE.to_string(), "suspended".to_string())].into());
            },
        ];
        for change in user_changes {
            assert_ne!(wake_hash(&instance(change)), base);
        }
    }

    fn obj(ns: &str, name: &str, v: i64) -> Value {
        json!({"metadata": {"namespace": ns, "name": name}, "data": {"v": v}})
    }

    #[test]
    fn observed_objects_are_found_by_identity() {
        let mut o = Observed::new();
        o.insert("single", obj("a", "x", 1));
        o.insert_list("coll", vec![obj("a", "i0", 1), obj("a", "i1", 2)]);
        for (node, ns, name, want) in [
            ("single", Some("a"), "x", Some(1)),
            ("single", Some("b"), "x", None),
            ("single", Some("a"), "y", None),
            ("coll", Some("a"), "i1", Some(2)),
            ("coll", Some("a"), "i9", None),
            ("missing", Some("a"), "x", None),
        ] {
            let got = find_observed(&o, node, ns, name).map(|v| v["data"]["v"].as_i64().unwrap());
            assert_eq!(got, want, "{node} {ns:?} {name}");
        }
    }

    #[test]
    fn applied_results_replace_or_extend_what_was_observed() {
        let mut o = Observed::new();
        record_observed(&mut o, "single", false, obj("a", "x", 1));
        record_observed(&mut o, "single", false, obj("a", "x", 2));
        assert_eq!(
            find_observed(&o, "single", Some("a"), "x").unwrap()["data"]["v"],
            2
        );
        record_observed(&mut o, "coll", true, obj("a", "i0", 1));
        record_observed(&mut o, "coll", true, obj("a", "i1", 1));
        record_observed(&mut o, "coll", true, obj("a", "i0", 5));
        match o.nodes.get("coll") {
            Some(ObservedNode::List(items)) => {
                assert_eq!(items.len(), 2);
                assert_eq!(items[0]["data"]["v"], 5);
            }
            other => panic!("expected a list, got {other:?}"),
        }
    }

    #[test]
    fn set_condition_keeps_transition_time_while_status_holds() {
        let mut status = json!({});
        let c = || {
            Condition::new(
                types::READY,
                ConditionStatus::Unknown,
                reasons::UNDER_DELETION,
                "m",
            )
        };
        set_condition(&mut status, c(), 2);
        let first = status.clone();
        set_condition(&mut status, c(), 2);
        assert_eq!(first, status);
        assert_eq!(status["conditions"][0]["observedGeneration"], 2);
        let mut flipped = c();
        flipped.status = ConditionStatus::False;
        set_condition(&mut status, flipped, 2);
        assert_eq!(status["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(status["conditions"][0]["status"], "False");
    }
}

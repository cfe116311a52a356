//! The instance controller of one generated kind. A reconcile is a short sequence of phases,
//! one file each, with one [`InstanceRun`] flowing through them:
//!
//! 1. [`observe`]: the instance, then the children and externalRefs the plan names;
//! 2. [`evaluate`] (pure, `kro-runtime`, on the blocking evaluation pool with a deadline) and
//!    [`apply`] what differs, in topological order, until nothing new is observed or applied;
//! 3. [`applyset`]: the parent's finalizer, labels and ApplySet metadata, written before the
//!    first child and shrunk after a clean prune;
//! 4. [`prune`]: members of the ApplySet the plan no longer has;
//! 5. [`status`]: state, conditions and events;
//!
//! and, when the instance is deleted, [`cleanup`]: children in reverse topological waves, then
//! the finalizer.

mod apply;
mod applyset;
mod cleanup;
mod confine;
mod evaluate;
mod observe;
mod prune;
mod status;

#[cfg(test)]
mod contract;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kro_api::InstanceState;
use kro_api::metadata::annotations;
use kro_graph::CompiledGraph;
use kro_runtime::{InstanceIdentity, Observed, Plan};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::controller::Action;
use serde_json::Value;

pub(crate) use confine::accept_rgd;

use crate::Shared;
use crate::discovery::Resolved;
use crate::error::Error;
use crate::metrics::{GvrLabels, RequeueLabels, gvr_string};
use crate::watches::{InstanceKey, resource_version};

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
    /// The GraphRevision this controller runs on (recorded on each instance it reconciles).
    pub revision: Arc<crate::graph_revisions::Served>,
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

    /// `group/version/plural` of the instance kind, the `gvr` metric label.
    fn gvr(&self) -> String {
        format!("{}/{}/{}", self.ar.group, self.ar.version, self.ar.plural)
    }

    /// `group/version, Resource=plural` of the instance kind, the `gvr` label of kro's
    /// `instance_*` metrics.
    fn instance_gvr(&self) -> String {
        gvr_string(&self.ar.group, &self.ar.version, &self.ar.plural)
    }

    /// The instances of this kind, in `namespace` when the kind is namespaced.
    fn api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) if self.graph.instance.namespaced => {
                Api::namespaced_with(self.shared.client.clone(), ns, &self.ar)
            }
            _ => Api::all_with(self.shared.client.clone(), &self.ar),
        }
    }

    /// The objects of a child kind, in `namespace` when that kind is namespaced.
    fn child_api(&self, resolved: &Resolved, namespace: Option<&str>) -> Api<DynamicObject> {
        match (resolved.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.shared.client.clone(), ns, &resolved.ar),
            _ => Api::all_with(self.shared.client.clone(), &resolved.ar),
        }
    }

    /// The key the child watches route this instance's events by.
    fn instance_key(&self, obj: &DynamicObject) -> InstanceKey {
        InstanceKey {
            group: self.ar.group.clone(),
            kind: self.ar.kind.clone(),
            namespace: if self.graph.instance.namespaced {
                obj.namespace().unwrap_or_default()
            } else {
                String::new()
            },
            name: obj.name_any(),
        }
    }

    /// Who the instance is, as the runtime labels its children.
    fn identity(&self, obj: &DynamicObject) -> InstanceIdentity {
        let key = self.instance_key(obj);
        InstanceIdentity {
            name: key.name,
            namespace: key.namespace,
            uid: obj.uid().unwrap_or_default(),
            group: self.graph.instance.group.clone(),
            version: self.graph.instance.version.clone(),
            kind: self.graph.instance.kind.clone(),
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
    let kros = |key: &str| {
        ["kro.run/", "internal.kro.run/", "applyset.kubernetes.io/"]
            .iter()
            .any(|prefix| key.starts_with(prefix))
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.generation.hash(&mut hasher);
    obj.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    for (key, value) in obj.labels() {
        if !kros(key) {
            (key, value).hash(&mut hasher);
        }
    }
    for (key, value) in obj.annotations() {
        if !kros(key) || key == annotations::RECONCILE {
            (key, value).hash(&mut hasher);
        }
    }
    Some(hasher.finish())
}

/// The instance as the controller's store keeps it: without managedFields.
pub fn slim(obj: &mut DynamicObject) {
    obj.metadata.managed_fields = None;
}

/// kube's reconcile callback: global cap, panic containment, metrics, backoff bookkeeping.
pub async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<KindContext>) -> Result<Action, Error> {
    let shared = ctx.shared.clone();
    // Queued for a worker of the global cap (`dynamic-controller-queue`), then worked.
    let Some(_working) = shared.metrics.dynamic_queue.wait(&shared.semaphore).await else {
        return Ok(Action::await_change());
    };
    let gvr = ctx.gvr();
    let started = Instant::now();
    let key = failure_key(&obj);
    // CPU time of this reconcile's own polls, on the thread each ran on, and of its
    // evaluations on the blocking threads.
    let mut cpu = Duration::ZERO;
    let evaluation_cpu = Arc::new(evaluate::EvaluationCpu::default());
    let mut work = std::pin::pin!(reconcile_instance(
        obj.clone(),
        ctx.clone(),
        evaluation_cpu.clone()
    ));
    let measured = futures::future::poll_fn(|cx| {
        let before = cpu_time::ThreadTime::try_now().ok();
        let polled = work.as_mut().poll(cx);
        if let Some(spent) = before.and_then(|b| b.try_elapsed().ok()) {
            cpu += spent;
        }
        polled
    });
    let count_panic = || {
        shared
            .metrics
            .panics_total
            .get_or_create(&GvrLabels::new(&gvr))
            .inc();
    };
    let result = match kro_reconcile::guard(&key, count_panic, measured).await {
        Ok(result) => result,
        Err(panicked) => {
            status::report_failure(&ctx, &obj, &panicked.to_string()).await;
            Err(Error::Panic(panicked.message))
        }
    };
    let secs = started.elapsed().as_secs_f64();
    cpu += evaluation_cpu.total();
    tracing::debug!(
        instance = %key,
        seconds = secs,
        cpu_seconds = cpu.as_secs_f64(),
        ok = result.is_ok(),
        "reconciled"
    );
    record_reconcile(&ctx, secs, cpu);
    if result.is_ok() {
        shared.failures.clear(&key);
    }
    result
}

/// The metrics of one finished reconcile, under kro's `gvr` labels (spelt as kro spells each).
fn record_reconcile(ctx: &KindContext, secs: f64, cpu: Duration) {
    let metrics = &ctx.shared.metrics;
    let key = GvrLabels::new(ctx.gvr());
    let gvr = GvrLabels::new(ctx.instance_gvr());
    metrics.reconcile_total.get_or_create(&key).inc();
    metrics.reconcile_duration.get_or_create(&key).observe(secs);
    metrics.instance_reconcile_total.get_or_create(&gvr).inc();
    metrics
        .instance_reconcile_duration
        .get_or_create(&gvr)
        .observe(secs);
    metrics
        .instance_reconcile_cpu
        .get_or_create(&gvr)
        .observe(cpu.as_secs_f64());
}

/// kube's error policy, as kro's queue: per-object exponential backoff, no sooner than a token
/// of the overall retry bucket allows, and after `--dynamic-controller-default-queue-max-retries`
/// retries the instance is dropped until it (or a child) changes.
pub fn error_policy(obj: Arc<DynamicObject>, err: &Error, ctx: Arc<KindContext>) -> Action {
    // Throttled by the API server: wait what it asks; not a failure (see `crate::throttle`).
    if let Some(wait) = crate::throttle::throttled(err) {
        tracing::info!(instance = %failure_key(&obj), error = %err, retry_in = ?wait, "throttled by the API server; waiting");
        return Action::requeue(wait);
    }
    let shared = ctx.shared.clone();
    let gvr = ctx.gvr();
    shared
        .metrics
        .handler_errors_total
        .get_or_create(&GvrLabels::new(&gvr))
        .inc();
    shared
        .metrics
        .instance_reconcile_errors_total
        .get_or_create(&GvrLabels::new(ctx.instance_gvr()))
        .inc();
    let key = failure_key(&obj);
    let failures = shared.failures.record(&key);
    shared
        .metrics
        .requeue_total
        .get_or_create(&RequeueLabels {
            gvr,
            r#type: "rate_limited".into(),
        })
        .inc();
    let max_retries = shared.opts.dynamic_controller_default_queue_max_retries;
    if failures > max_retries {
        shared.failures.clear(&key);
        tracing::error!(
            instance = %key,
            error = %err,
            max_retries,
            "instance reconcile dropped after max retries; it is reconciled again when it or a child changes"
        );
        return Action::await_change();
    }
    shared.metrics.dynamic_queue.retried();
    let delay = shared
        .opts
        .backoff(failures)
        .max(shared.retry_bucket.reserve());
    tracing::warn!(instance = %key, error = %err, retry_in = ?delay, "instance reconcile failed");
    Action::requeue(delay)
}

/// `kind/namespace/name`: the key failures are counted by.
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

/// One reconcile of one live instance: what every phase reads and adds to.
struct InstanceRun<'a> {
    /// The controller of the instance's kind.
    ctx: &'a KindContext,
    /// The same, owned, for the evaluations on blocking threads.
    kind: Arc<KindContext>,
    /// The instance's own API (namespaced when the kind is).
    api: Api<DynamicObject>,
    /// The instance as last read or written by kro.
    live: DynamicObject,
    /// The instance as the evaluation reads it.
    instance_value: Value,
    /// Who the instance is, as its children are labelled.
    identity: InstanceIdentity,
    /// The runtime's limits.
    options: kro_runtime::Options,
    /// What has been observed of the children and externalRefs.
    observed: Observed,
    /// Keys of what was read already (so nothing is read twice in one reconcile).
    fetched: HashSet<String>,
    /// Keys of the children applied in this reconcile.
    applied: HashSet<String>,
    /// Failed applies and prunes, each naming the node and the object.
    errors: Vec<String>,
    /// Whether the ApplySet parent metadata was brought up to date in this reconcile.
    parent_prepared: bool,
    /// How many times the graph was evaluated.
    passes: usize,
    /// Time spent evaluating in this reconcile (against `--instance-evaluation-timeout`).
    evaluating: Duration,
    /// CPU time of the evaluations.
    cpu: Arc<evaluate::EvaluationCpu>,
}

impl<'a> InstanceRun<'a> {
    /// A run starting from `live`, with what the watch caches hold of its children.
    fn new(
        ctx: &'a Arc<KindContext>,
        live: DynamicObject,
        cpu: Arc<evaluate::EvaluationCpu>,
    ) -> Result<Self, Error> {
        let instance_value =
            serde_json::to_value(&live).map_err(|source| Error::Serialization {
                what: format!("instance {}", live.name_any()),
                source,
            })?;
        let mut run = InstanceRun {
            ctx,
            kind: ctx.clone(),
            api: ctx.api(live.namespace().as_deref()),
            identity: ctx.identity(&live),
            live,
            instance_value,
            options: kro_runtime::Options {
                kro_version: ctx.shared.kro_version.clone(),
                max_collection_size: ctx.shared.opts.rgd_max_collection_size,
                max_desired_bytes: ctx.shared.opts.instance_max_desired_bytes,
                max_objects: ctx.shared.opts.instance_max_objects,
                // Set per pass by `evaluate`.
                deadline: None,
            },
            observed: Observed::new(),
            fetched: HashSet::new(),
            applied: HashSet::new(),
            errors: Vec::new(),
            parent_prepared: false,
            passes: 0,
            evaluating: Duration::ZERO,
            cpu,
        };
        // What the shared watch caches already hold of this instance's children goes in before
        // the first evaluation, so an up-to-date instance is evaluated once, not once per level.
        run.prefill_observed();
        Ok(run)
    }

    /// Evaluate → observe → apply until a pass neither observes nor applies anything new (or
    /// the pass budget is spent, or an evaluation stops at a budget or the deadline); returns
    /// the last plan.
    async fn converge(&mut self) -> Result<Plan, Error> {
        let max_passes = self.ctx.graph.nodes.len() * 3 + 4;
        loop {
            let mut plan = self.evaluate().await?;
            if plan.stopped.is_some() {
                return Ok(plan);
            }
            self.confine(&mut plan).await;
            if self.passes >= max_passes {
                return Ok(plan);
            }
            if self.observe(&plan).await? {
                continue;
            }
            if !self.apply(&plan).await? {
                return Ok(plan);
            }
        }
    }

    /// Waiting on readiness or not yet Active: look again soon. Children kro created or
    /// changed need no poll: their watch wakes the instance when anybody else changes them.
    fn requeue(&self, plan: &Plan, state: InstanceState) -> Result<Action, Error> {
        if !self.errors.is_empty() {
            return Err(Error::Children(self.errors.join("; ")));
        }
        let opts = &self.ctx.shared.opts;
        let waiting = plan.requeue || state != InstanceState::Active;
        if waiting && !opts.instance_requeue_interval.is_zero() {
            Ok(Action::requeue(opts.instance_requeue_interval))
        } else {
            Ok(Action::requeue(Duration::from_secs(
                opts.dynamic_controller_default_resync_period.max(1),
            )))
        }
    }
}

/// One reconcile: the instance is read, cleaned up if deleted, left alone but for its status
/// if suspended, and otherwise converged, watched, pruned and reported.
async fn reconcile_instance(
    obj: Arc<DynamicObject>,
    ctx: Arc<KindContext>,
    cpu: Arc<evaluate::EvaluationCpu>,
) -> Result<Action, Error> {
    let Some(live) = observe::current_instance(&ctx, &obj).await? else {
        return Ok(Action::await_change());
    };
    if live.metadata.deletion_timestamp.is_some() {
        return cleanup::cleanup(&ctx, &live, &cpu).await;
    }
    if status::is_suspended(&live) {
        return status::suspend(&ctx, &live).await;
    }
    let mut run = InstanceRun::new(&ctx, live, cpu)?;
    let plan = run.converge().await?;
    tracing::debug!(
        instance = %run.live.name_any(),
        passes = run.passes,
        applied = run.applied.len(),
        observed = run.observed.nodes.len(),
        "evaluated"
    );
    if let Some(stopped) = &plan.stopped {
        // Nothing was applied; watches and the ApplySet stay as they were. The status says
        // why, and the reconcile fails so that it is retried with backoff.
        run.write_status(&plan).await?;
        return Err(Error::EvaluationStopped(stopped.clone()));
    }
    kro_reconcile::kill_point("instance/after-converge");
    run.watch(&plan).await;
    run.prune(&plan).await?;
    kro_reconcile::kill_point("instance/before-status");
    let state = run.write_status(&plan).await?;
    kro_reconcile::kill_point("instance/after-status");
    run.requeue(&plan, state)
}

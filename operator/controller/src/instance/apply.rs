//! Apply: server-side apply (field manager `kro.run/applyset`, forced) of every desired object
//! that differs from its live copy, in dependency waves (a wave's objects in parallel, bounded
//! by `--apply-concurrency`), after the ApplySet parent records its kind; `externalFields` set
//! only when an object is created; but only of objects this instance owns. Before the first write of a child its
//! live copy is checked: one of another ApplySet is refused (kro's `ApplySetConflict`), and so
//! is one of no ApplySet (made by hand or released by kro) unless the resource opts in with
//! `adoptionPolicy: AdoptOrCreate`, which takes it over and records `internal.kro.run/adopted`.

use kro_api::AdoptionPolicy;
use kro_api::metadata::{annotations, field_managers, labels};
use kro_runtime::{DesiredObject, ObservedNode, Plan};
use kube::api::{Patch, PatchParams};
use serde_json::Value;

use super::InstanceRun;
use super::applyset::Inventory;
use super::observe::{find_observed, record_observed};
use crate::diff;
use crate::error::{Error, describe};

/// Whether this instance may write a child, judged from its live copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ownership {
    /// Absent, or already a member of this instance's ApplySet: apply as usual.
    Owned,
    /// Existing, in no ApplySet, and the resource opts in: take it over.
    Adopt,
    /// Not this instance's to write; the message says whose it is.
    Refused(String),
}

/// `Kind namespace/name` (or `Kind name` when cluster-scoped) of an object.
fn object_name(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}

/// Who owns `live`, in words, from kro's labels (`instance Kind namespace/name`), if it says.
fn owning_instance(live: &Value) -> Option<String> {
    let label = |key: &str| {
        live.pointer("/metadata/labels")
            .and_then(|labels| labels.get(key))
            .and_then(Value::as_str)
    };
    let kind = label(labels::INSTANCE_KIND)?;
    let name = label(labels::INSTANCE_NAME)?;
    Some(format!(
        "instance {}",
        object_name(kind, label(labels::INSTANCE_NAMESPACE), name)
    ))
}

/// Whether an instance whose ApplySet is `applyset_id` may write `desired` over `live` (its
/// live copy, `None` when absent), under the resource's adoption policy.
pub(super) fn ownership(
    desired: &DesiredObject,
    live: Option<&Value>,
    applyset_id: &str,
    adoption: AdoptionPolicy,
) -> Ownership {
    let Some(live) = live else {
        return Ownership::Owned;
    };
    let what = object_name(desired.kind(), desired.namespace(), desired.name());
    let part_of = live
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(labels::APPLYSET_PART_OF))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    match part_of {
        Some(id) if id == applyset_id => Ownership::Owned,
        Some(other) => {
            let instance = owning_instance(live)
                .map(|owner| format!(" ({owner})"))
                .unwrap_or_default();
            Ownership::Refused(format!(
                "resource belongs to a different ApplySet: {what} belongs to ApplySet \
                 {other:?}{instance}, cannot reassign to {applyset_id:?}"
            ))
        }
        None if adoption == AdoptionPolicy::AdoptOrCreate => Ownership::Adopt,
        None => Ownership::Refused(format!(
            "resource is not managed by kro: {what} already exists and belongs to no ApplySet; \
             kro-rs does not take over an object it did not create unless the resource sets \
             adoptionPolicy: AdoptOrCreate"
        )),
    }
}

/// Whether the live copy carries kro-rs's record that it was adopted.
fn was_adopted(live: Option<&Value>) -> bool {
    live.and_then(|live| live.pointer("/metadata/annotations"))
        .and_then(|annotations| annotations.get(annotations::ADOPTED))
        .and_then(Value::as_str)
        == Some(annotations::ADOPTED_VALUE)
}

/// `desired` with the adoption record on it (kept on every later apply, so server-side apply
/// never drops it).
fn mark_adopted(mut desired: Value) -> Value {
    if let Some(meta) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        let entry = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(map) = entry.as_object_mut() {
            map.insert(
                annotations::ADOPTED.into(),
                Value::String(annotations::ADOPTED_VALUE.into()),
            );
        }
    }
    desired
}

/// The key under which a child applied in this reconcile is remembered.
fn applied_key(desired: &DesiredObject) -> String {
    format!(
        "{}/{}/{}/{}",
        desired.api_version(),
        desired.kind(),
        desired.namespace().unwrap_or(""),
        desired.name()
    )
}

/// The apply waves of `apply` (a plan's objects, in topological order): an object goes after
/// every object of this plan that its node depends on, directly or through nodes with nothing
/// to apply; objects of one wave are independent of each other and may be applied together.
fn waves<'p>(
    graph: &kro_graph::GraphData,
    apply: &'p [DesiredObject],
) -> Vec<Vec<&'p DesiredObject>> {
    let in_plan: std::collections::HashSet<&str> = apply
        .iter()
        .map(|desired| desired.node_id.as_str())
        .collect();
    // Nodes are in topological order, so each dependency's level is known before its use.
    let mut level: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for node in &graph.nodes {
        let own = node
            .dependencies
            .iter()
            .map(|dep| {
                level.get(dep.as_str()).copied().unwrap_or(0)
                    + usize::from(in_plan.contains(dep.as_str()))
            })
            .max()
            .unwrap_or(0);
        level.insert(node.id.as_str(), own);
    }
    let mut out: Vec<Vec<&DesiredObject>> = Vec::new();
    for desired in apply {
        let wave = level.get(desired.node_id.as_str()).copied().unwrap_or(0);
        if out.len() <= wave {
            out.resize_with(wave + 1, Vec::new);
        }
        out[wave].push(desired);
    }
    out.retain(|wave| !wave.is_empty());
    out
}

/// One child's server-side apply (field manager `kro.run/applyset`, forced): the outer error
/// stops the reconcile (the kind cannot be resolved), the inner one is the API server's answer.
async fn patch_child(
    ctx: &super::KindContext,
    desired: &DesiredObject,
    object: &Value,
) -> Result<Result<kube::api::DynamicObject, kube::Error>, Error> {
    let resolved = ctx
        .shared
        .resolve(desired.api_version(), desired.kind())
        .await?;
    let child = ctx.child_api(&resolved, desired.namespace());
    let params = PatchParams::apply(field_managers::APPLYSET).force();
    Ok(child
        .patch(desired.name(), &params, &Patch::Apply(object))
        .await)
}

impl InstanceRun<'_> {
    /// Applies what differs from the live objects, wave by wave in dependency order (each
    /// wave's applies in parallel, at most `--apply-concurrency` in flight); returns whether
    /// anything was applied (then the graph is evaluated again with the answers). A failed
    /// apply is recorded in `errors` and the others go on.
    pub(super) async fn apply(&mut self, plan: &Plan) -> Result<bool, Error> {
        let mut progressed = false;
        for wave in waves(&self.ctx.graph, &plan.apply) {
            let mut ready = Vec::new();
            for desired in wave {
                let key = applied_key(desired);
                if self.applied.contains(&key) {
                    continue;
                }
                let Some((live_child, adopt)) = self.owned_live(desired, &key).await? else {
                    // Refused: recorded in `errors`; evaluated again without the foreign object.
                    progressed = true;
                    continue;
                };
                let mut object = desired.object.clone();
                if adopt || was_adopted(live_child.as_ref()) {
                    object = mark_adopted(object);
                }
                let external = self
                    .ctx
                    .graph
                    .node(&desired.node_id)
                    .map(|node| node.external_fields.as_slice())
                    .unwrap_or_default();
                let handed_over = diff::with_hash_handing_over(
                    object.clone(),
                    live_child.as_ref(),
                    external,
                    &self.ctx.shared.hash_key,
                );
                if live_child
                    .as_ref()
                    .is_some_and(|live| diff::is_up_to_date(&handed_over, live))
                {
                    continue;
                }
                let object = match live_child {
                    Some(_) if !external.is_empty() => {
                        match self.pinned_to_fresh_read(desired, object, external).await? {
                            Ok(Some(pinned)) => pinned,
                            Ok(None) => continue,
                            Err(message) => {
                                self.applied.insert(key);
                                self.errors.push(message);
                                continue;
                            }
                        }
                    }
                    _ => handed_over,
                };
                if !self.parent_prepared || !self.parent_covers(desired) {
                    self.update_parent(plan, Inventory::Grow).await?;
                    self.parent_prepared = true;
                }
                self.applied.insert(key);
                progressed = true;
                ready.push((desired, object));
            }
            self.apply_wave(ready).await?;
        }
        Ok(progressed)
    }

    /// Applies the children of one wave, at most `--apply-concurrency` at a time. Each answer
    /// is observed (readiness of what was just written is judged from it) and goes into the
    /// child cache, so its watch echo wakes nobody; a failure is recorded in `errors`. When the
    /// API server throttles, the answers of the others are kept and the reconcile then waits.
    async fn apply_wave(&mut self, ready: Vec<(&DesiredObject, Value)>) -> Result<(), Error> {
        use futures::StreamExt;
        let ctx = self.ctx;
        let bound = ctx.shared.opts.apply_concurrency.max(1);
        // The futures are built first: a stream's `map` closure over borrowed objects makes the
        // reconcile future fail the higher-ranked `Send` bound of the controller's spawn.
        let mut pending = Vec::with_capacity(ready.len());
        for (position, (desired, object)) in ready.into_iter().enumerate() {
            pending.push(async move {
                let answer = patch_child(ctx, desired, &object).await;
                (position, desired, answer)
            });
        }
        let mut answers: Vec<_> = futures::stream::iter(pending)
            .buffer_unordered(bound)
            .collect()
            .await;
        answers.sort_by_key(|(position, _, _)| *position);
        let mut throttled = None;
        for (_, desired, answer) in answers {
            match answer? {
                Ok(applied) => {
                    // After a child is in the API server, before it is observed (the first hit
                    // is after the first child, the second between two children).
                    kro_reconcile::kill_point("instance/after-child-apply");
                    if let Ok(value) = serde_json::to_value(&applied) {
                        record_observed(
                            &mut self.observed,
                            &desired.node_id,
                            desired.collection_index.is_some(),
                            value,
                        );
                    }
                    ctx.shared.router.remember_child(
                        desired.api_version(),
                        desired.kind(),
                        applied,
                    );
                }
                // Throttled: the reconcile waits instead of reporting the child as failed.
                Err(e) if crate::throttle::retry_after(&e).is_some() => {
                    if throttled.is_none() {
                        throttled = Some(crate::error::kube_err(format!(
                            "{}: applying {} {}",
                            desired.node_id,
                            desired.kind(),
                            desired.name()
                        ))(e));
                    }
                }
                Err(e) => self.errors.push(format!(
                    "{}: applying {} {}: {}",
                    desired.node_id,
                    desired.kind(),
                    desired.name(),
                    describe(&e)
                )),
            }
        }
        match throttled {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The live copy of `desired` (observed, or read when nothing is observed: the child
    /// watches only hold objects with kro's labels) and whether to adopt it; `None` when this
    /// instance may not write it: then the refusal is in `errors`, the key counts as handled
    /// for this reconcile, and a foreign object is taken out of what is observed, so nothing
    /// of this instance reads it.
    async fn owned_live(
        &mut self,
        desired: &DesiredObject,
        key: &str,
    ) -> Result<Option<(Option<Value>, bool)>, Error> {
        let observed = find_observed(
            &self.observed,
            &desired.node_id,
            desired.namespace(),
            desired.name(),
        )
        .cloned();
        let live = match observed {
            Some(live) => Some(live),
            None => match self.read_live(desired).await? {
                Ok(live) => live,
                Err(message) => {
                    self.applied.insert(key.to_string());
                    self.errors.push(message);
                    return Ok(None);
                }
            },
        };
        let adoption = self
            .ctx
            .graph
            .nodes
            .iter()
            .find(|node| node.id == desired.node_id)
            .map(|node| node.adoption_policy)
            .unwrap_or_default();
        let applyset_id = self.identity.applyset_id();
        match ownership(desired, live.as_ref(), &applyset_id, adoption) {
            Ownership::Owned => Ok(Some((live, false))),
            Ownership::Adopt => {
                tracing::info!(
                    kind = %desired.kind(),
                    namespace = desired.namespace().unwrap_or(""),
                    name = %desired.name(),
                    node = %desired.node_id,
                    "adopting an existing object"
                );
                Ok(Some((live, true)))
            }
            Ownership::Refused(message) => {
                self.applied.insert(key.to_string());
                self.errors.push(format!("{}: {message}", desired.node_id));
                forget_observed(&mut self.observed, desired);
                Ok(None)
            }
        }
    }

    /// Reads the live copy of `desired` from the API server; the inner error is the message
    /// for the instance when it cannot be read.
    /// The object to apply when some of its fields belong to another manager: their values
    /// are carried over from a fresh read (the cache may not have seen the manager's last
    /// write yet) and the apply is pinned to that read's resourceVersion, so a write in between
    /// is refused (409) and retried rather than overwritten. `None` when the fresh read shows
    /// nothing to do.
    async fn pinned_to_fresh_read(
        &self,
        desired: &DesiredObject,
        object: Value,
        external: &[Vec<String>],
    ) -> Result<Result<Option<Value>, String>, Error> {
        let fresh = match self.read_live(desired).await? {
            Ok(fresh) => fresh,
            Err(message) => return Ok(Err(message)),
        };
        let mut pinned = diff::with_hash_handing_over(
            object,
            fresh.as_ref(),
            external,
            &self.ctx.shared.hash_key,
        );
        let Some(fresh) = fresh else {
            return Ok(Ok(Some(pinned)));
        };
        if diff::is_up_to_date(&pinned, &fresh) {
            return Ok(Ok(None));
        }
        if let Some(version) = fresh.pointer("/metadata/resourceVersion") {
            pinned["metadata"]["resourceVersion"] = version.clone();
        }
        Ok(Ok(Some(pinned)))
    }

    async fn read_live(
        &self,
        desired: &DesiredObject,
    ) -> Result<Result<Option<Value>, String>, Error> {
        let resolved = self
            .ctx
            .shared
            .resolve(desired.api_version(), desired.kind())
            .await?;
        let api = self.ctx.child_api(&resolved, desired.namespace());
        Ok(match api.get_opt(desired.name()).await {
            Ok(found) => Ok(found.and_then(|o| serde_json::to_value(&o).ok())),
            // Throttled: the reconcile waits instead of reporting the child as failed.
            Err(e) if crate::throttle::retry_after(&e).is_some() => {
                return Err(crate::error::kube_err(format!(
                    "{}: reading {} before applying it",
                    desired.node_id,
                    object_name(desired.kind(), desired.namespace(), desired.name())
                ))(e));
            }
            Err(e) => Err(format!(
                "{}: reading {} before applying it: {}",
                desired.node_id,
                object_name(desired.kind(), desired.namespace(), desired.name()),
                describe(&e)
            )),
        })
    }
}

/// Takes `desired`'s object out of what is observed of its node.
fn forget_observed(observed: &mut kro_runtime::Observed, desired: &DesiredObject) {
    let same = |value: &Value| {
        value.pointer("/metadata/name").and_then(Value::as_str) == Some(desired.name())
            && value.pointer("/metadata/namespace").and_then(Value::as_str) == desired.namespace()
    };
    match observed.nodes.get_mut(&desired.node_id) {
        Some(ObservedNode::Object(value)) if same(value) => {
            observed.nodes.remove(&desired.node_id);
        }
        Some(ObservedNode::List(items)) => items.retain(|item| !same(item)),
        _ => {}
    }
}

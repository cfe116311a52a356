//! Observe: the instance itself, the children and externalRefs a plan names (from the shared
//! watch caches, the API server only while a cache is filling), and the watches that wake the
//! instance when any of them changes.
//!
//! The child watches only hold objects labelled `kro.run/instance-id` (of any instance); an
//! object without kro's labels is not in them, so apply reads a child from the API server
//! before its first write when nothing is observed of it (see `apply`).

use std::collections::BTreeSet;

use kro_api::metadata::labels;
use kro_runtime::{DesiredObject, ExternalRead, Observed, ObservedNode, Plan};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::{InstanceRun, KindContext};
use crate::discovery::Resolved;
use crate::error::{Error, kube_err};
use crate::selector;
use crate::watches::{Interest, WatchMode};

/// The instance to reconcile: the watch's copy, unless it is still behind a write of kro's,
/// then read live. `None` when it is gone.
pub(super) async fn current_instance(
    ctx: &KindContext,
    obj: &DynamicObject,
) -> Result<Option<DynamicObject>, Error> {
    if ctx.watched_is_current(obj) {
        return Ok(Some(obj.clone()));
    }
    let name = obj.name_any();
    let live = ctx
        .api(obj.namespace().as_deref())
        .get_opt(&name)
        .await
        .map_err(kube_err(format!("reading {} {name}", ctx.ar.kind)))?;
    if live.is_none() {
        ctx.shared.router.forget(&ctx.instance_key(obj)).await;
        evict_condition_gauges(ctx, obj);
    }
    Ok(live)
}

/// Drops the `instance_condition_current_status_seconds` series of an instance that is gone.
pub(super) fn evict_condition_gauges(ctx: &KindContext, obj: &DynamicObject) {
    ctx.shared.metrics.condition_durations.evict_instance(
        &crate::metrics::gvr_string(&ctx.ar.group, &ctx.ar.version, &ctx.ar.plural),
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
    );
}

/// The key under which reading the objects of `desired` is remembered in one reconcile.
fn fetch_key(desired: &DesiredObject) -> String {
    match desired.collection_index {
        Some(_) => format!("list/{}", desired.node_id),
        None => format!(
            "obj/{}/{}/{}/{}",
            desired.node_id,
            desired.kind(),
            desired.namespace().unwrap_or(""),
            desired.name()
        ),
    }
}

impl InstanceRun<'_> {
    /// Puts into `observed` what the watch caches hold of the instance's children: for a
    /// collection its whole list (marked as read), for a single resource the one object
    /// labelled with its node id (checked against the name the template asks for once
    /// evaluated).
    pub(super) fn prefill_observed(&mut self) {
        let ctx = self.ctx;
        for node in ctx.graph.nodes.iter().filter(|n| n.kind.is_managed()) {
            let Some(mut mine) = cached_node_objects(
                ctx,
                &node.api_version,
                &node.object_kind,
                &self.identity.uid,
                &node.id,
            ) else {
                continue;
            };
            if node.kind.is_list() {
                self.observed.insert_list(node.id.clone(), mine);
                self.fetched.insert(format!("list/{}", node.id));
            } else if mine.len() == 1
                && let Some(one) = mine.pop()
            {
                self.observed.insert(node.id.clone(), one);
            }
        }
    }

    /// Reads whatever `plan` names that this reconcile has not read yet; returns whether that
    /// changed what is observed (then the graph is evaluated again).
    pub(super) async fn observe(&mut self, plan: &Plan) -> Result<bool, Error> {
        let mut progressed = false;
        for desired in &plan.apply {
            if !self.fetched.insert(fetch_key(desired)) {
                continue;
            }
            let resolved = self
                .ctx
                .shared
                .resolve(desired.api_version(), desired.kind())
                .await?;
            progressed |= if desired.collection_index.is_some() {
                self.observe_collection(desired, &resolved).await?
            } else {
                self.observe_object(desired, &resolved).await?
            };
        }
        for external in &plan.external_reads {
            let key = format!(
                "ext/{}",
                serde_json::to_string(external).unwrap_or_default()
            );
            if !self.fetched.insert(key) {
                continue;
            }
            progressed = true;
            read_external(self.ctx, external, &mut self.observed).await?;
        }
        Ok(progressed)
    }

    /// Every item of a forEach node, from the watch cache or listed by kro's labels.
    async fn observe_collection(
        &mut self,
        desired: &DesiredObject,
        resolved: &Resolved,
    ) -> Result<bool, Error> {
        let ctx = self.ctx;
        let uid = &self.identity.uid;
        let node = &desired.node_id;
        let values =
            match cached_node_objects(ctx, desired.api_version(), desired.kind(), uid, node) {
                Some(values) => values,
                None => {
                    let all: Api<DynamicObject> =
                        Api::all_with(ctx.shared.client.clone(), &resolved.ar);
                    let selector =
                        format!("{}={uid},{}={node}", labels::INSTANCE_ID, labels::NODE_ID);
                    let items = all
                        .list(&ListParams::default().labels(&selector))
                        .await
                        .map_err(kube_err(format!(
                            "listing {} items of {node}",
                            desired.kind()
                        )))?;
                    to_values(&items.items)
                }
            };
        let list = ObservedNode::List(values);
        if self.observed.nodes.get(node) == Some(&list) {
            return Ok(false);
        }
        self.observed.nodes.insert(node.clone(), list);
        Ok(true)
    }

    /// The one object of a single-resource node, by the name the template asks for.
    async fn observe_object(
        &mut self,
        desired: &DesiredObject,
        resolved: &Resolved,
    ) -> Result<bool, Error> {
        if find_observed(
            &self.observed,
            &desired.node_id,
            desired.namespace(),
            desired.name(),
        )
        .is_some()
        {
            return Ok(false);
        }
        let ctx = self.ctx;
        let namespace = if resolved.namespaced {
            desired.namespace()
        } else {
            None
        };
        let cached = ctx.shared.router.cached_child(
            desired.api_version(),
            desired.kind(),
            namespace,
            desired.name(),
        );
        let found = match cached {
            Some(cached) => cached.and_then(|o| serde_json::to_value(&*o).ok()),
            None => ctx
                .child_api(resolved, desired.namespace())
                .get_opt(desired.name())
                .await
                .map_err(kube_err(format!(
                    "reading {} {}",
                    desired.kind(),
                    desired.name()
                )))?
                .and_then(|o| serde_json::to_value(&o).ok()),
        };
        // Found: observed now. Not found: whatever the cache held for the node was another
        // object (the template's name changed) and is not this node's.
        Ok(match found {
            Some(value) => {
                self.observed.insert(desired.node_id.clone(), value);
                true
            }
            None => self.observed.nodes.remove(&desired.node_id).is_some(),
        })
    }

    /// Watches every kind the plan applies (their caches feed the next reconcile) and the
    /// externalRefs by name or selector, so that a change to any of them wakes the instance.
    pub(super) async fn watch(&self, plan: &Plan) {
        let router = &self.ctx.shared.router;
        let kinds: BTreeSet<(&str, &str)> = plan
            .apply
            .iter()
            .map(|desired| (desired.api_version(), desired.kind()))
            .collect();
        for (api_version, kind) in kinds {
            if let Ok(resolved) = self.ctx.shared.resolve(api_version, kind).await {
                router
                    .ensure_watch(api_version, kind, &resolved.ar, WatchMode::Owned)
                    .await;
            }
        }
        let mut interests = Vec::new();
        for external in &plan.external_reads {
            if let Ok(resolved) = self
                .ctx
                .shared
                .resolve(&external.api_version, &external.kind)
                .await
            {
                router
                    .ensure_watch(
                        &external.api_version,
                        &external.kind,
                        &resolved.ar,
                        WatchMode::External,
                    )
                    .await;
            }
            interests.push((
                (external.api_version.clone(), external.kind.clone()),
                Interest {
                    namespace: external.namespace.clone(),
                    name: external.name.clone(),
                    selector: external.selector.clone(),
                },
            ));
        }
        router
            .set_interests(&self.ctx.instance_key(&self.live), interests)
            .await;
    }
}

/// Objects as JSON values for evaluation (an object that cannot be encoded is left out).
fn to_values(objects: &[DynamicObject]) -> Vec<Value> {
    objects
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect()
}

/// The objects of one node of an instance as the watch cache holds them, as JSON for
/// evaluation; `None` while no synced cache exists for the kind.
pub(super) fn cached_node_objects(
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

/// The observed object of `node` with this namespace and name, if any.
pub(super) fn find_observed<'a>(
    observed: &'a Observed,
    node: &str,
    namespace: Option<&str>,
    name: &str,
) -> Option<&'a Value> {
    let same = |value: &&Value| {
        value.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
            && value.pointer("/metadata/namespace").and_then(Value::as_str) == namespace
    };
    match observed.nodes.get(node)? {
        ObservedNode::Object(value) => Some(value).filter(same),
        ObservedNode::List(items) => items.iter().find(same),
    }
}

/// Records what the API server answered to an apply: it replaces the node's object, or the
/// collection item of the same identity, or joins the collection.
pub(super) fn record_observed(observed: &mut Observed, node: &str, collection: bool, value: Value) {
    if !collection {
        observed.insert(node, value);
        return;
    }
    let name = value.pointer("/metadata/name").cloned();
    let namespace = value.pointer("/metadata/namespace").cloned();
    match observed.nodes.get_mut(node) {
        Some(ObservedNode::List(items)) => {
            if let Some(slot) = items.iter_mut().find(|item| {
                item.pointer("/metadata/name").cloned() == name
                    && item.pointer("/metadata/namespace").cloned() == namespace
            }) {
                *slot = value;
            } else {
                items.push(value);
            }
        }
        _ => {
            observed.insert_list(node, vec![value]);
        }
    }
}

/// Reads one externalRef: by name, or every object its selector matches.
async fn read_external(
    ctx: &KindContext,
    external: &ExternalRead,
    observed: &mut Observed,
) -> Result<(), Error> {
    let resolved = ctx
        .shared
        .resolve(&external.api_version, &external.kind)
        .await?;
    let api = ctx.child_api(&resolved, external.namespace.as_deref());
    if let Some(name) = &external.name {
        if let Some(found) = api.get_opt(name).await.map_err(kube_err(format!(
            "reading external {} {name}",
            external.kind
        )))? && let Ok(value) = serde_json::to_value(&found)
        {
            observed.insert(external.node_id.clone(), value);
        }
        return Ok(());
    }
    let query = external
        .selector
        .as_ref()
        .map(selector::to_query)
        .unwrap_or_default();
    let list = api
        .list(&ListParams::default().labels(&query))
        .await
        .map_err(kube_err(format!(
            "listing external {} by {query:?}",
            external.kind
        )))?;
    observed.insert_list(external.node_id.clone(), to_values(&list.items));
    Ok(())
}

//! The ApplySet parent: the instance's finalizer, kro's labels and the ApplySet metadata
//! (group-kinds, additional namespaces, tooling, inventory hash), written in one apply before
//! the first child and shrunk to the plan after a clean prune; and the ApplySet's members.

use std::collections::{BTreeMap, BTreeSet};

use kro_api::NodeState;
use kro_api::graph_revision::INSTANCE_REVISION_LABEL;
use kro_api::metadata::{FINALIZER, annotations, field_managers, labels};
use kro_runtime::{DesiredObject, Plan};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, TypeMeta};
use serde_json::json;

use super::{InstanceRun, KindContext};
use crate::diff;
use crate::discovery::split_api_version;
use crate::error::{Error, kube_err};

/// What the parent's group-kinds and namespaces record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inventory {
    /// Before children are applied: what was recorded before, plus every kind the graph may
    /// still apply (not excluded by includeWhen), so that later passes of the same reconcile
    /// find the parent already covering them.
    Grow,
    /// After a clean prune: exactly what the plan applies.
    Exact,
}

impl InstanceRun<'_> {
    /// Brings the parent metadata up to date for `plan` (one apply, nothing when current),
    /// and continues from the instance the API server answered.
    pub(super) async fn update_parent(
        &mut self,
        plan: &Plan,
        inventory: Inventory,
    ) -> Result<(), Error> {
        if let Some(updated) =
            prepare_parent(self.ctx, &self.api, &self.live, plan, inventory).await?
        {
            self.live = updated;
            kro_reconcile::kill_point(match inventory {
                Inventory::Grow => "instance/after-parent-grow",
                Inventory::Exact => "instance/after-parent-shrink",
            });
        }
        Ok(())
    }

    /// Whether the instance's ApplySet metadata already records the group-kind and namespace
    /// of `desired` (and carries the finalizer): the ApplySet contract is that the parent names
    /// a kind before any object of it is applied.
    pub(super) fn parent_covers(&self, desired: &DesiredObject) -> bool {
        let live = &self.live;
        let recorded = live.annotations();
        let (group, _) = split_api_version(desired.api_version());
        let kind_recorded = recorded
            .get(annotations::APPLYSET_CONTAINS_GROUP_KINDS)
            .is_some_and(|gks| {
                diff::parse_group_kinds(gks)
                    .contains(&(group.to_string(), desired.kind().to_string()))
            });
        let namespace_recorded = match desired.namespace() {
            None | Some("") => true,
            Some(ns) if Some(ns) == live.metadata.namespace.as_deref() => true,
            Some(ns) => recorded
                .get(annotations::APPLYSET_ADDITIONAL_NAMESPACES)
                .is_some_and(|nss| nss.split(',').any(|recorded| recorded == ns)),
        };
        kind_recorded && namespace_recorded && has_finalizer(live)
    }
}

/// Whether kro's finalizer is on the instance.
pub(super) fn has_finalizer(live: &DynamicObject) -> bool {
    live.finalizers().iter().any(|f| f == FINALIZER)
}

/// Comma-separated namespaces as a set (empty entries dropped).
fn namespace_set(list: &str) -> BTreeSet<String> {
    list.split(',')
        .filter(|ns| !ns.is_empty())
        .map(str::to_string)
        .collect()
}

/// The group-kinds and additional namespaces the parent should record for `plan`.
fn recorded_inventory(
    ctx: &KindContext,
    live: &DynamicObject,
    plan: &Plan,
    inventory: Inventory,
) -> (String, String) {
    let recorded = live.annotations();
    let mut gks = diff::parse_group_kinds(&plan.applyset.contains_group_kinds);
    let mut namespaces = namespace_set(&plan.applyset.additional_namespaces);
    if inventory == Inventory::Grow {
        for node in &ctx.graph.nodes {
            let skipped = plan
                .node(&node.id)
                .is_some_and(|state| state.state == NodeState::Skipped);
            if node.kind.is_managed() && !skipped {
                let (group, _) = split_api_version(&node.api_version);
                gks.insert((group.to_string(), node.object_kind.clone()));
            }
        }
        if let Some(old) = recorded.get(annotations::APPLYSET_CONTAINS_GROUP_KINDS) {
            gks.extend(diff::parse_group_kinds(old));
        }
        if let Some(old) = recorded.get(annotations::APPLYSET_ADDITIONAL_NAMESPACES) {
            namespaces.extend(namespace_set(old));
        }
    }
    let namespaces = namespaces.into_iter().collect::<Vec<_>>().join(",");
    (diff::render_group_kinds(&gks), namespaces)
}

/// Writes what kro keeps on the instance in one apply (field manager
/// `kro.run/applyset-parent`): its finalizer, kro's labels, and the ApplySet parent metadata.
/// Writes nothing when all of it is current; runs before the first child is applied, so no
/// child exists without the finalizer. Returns the instance as written.
async fn prepare_parent(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    live: &DynamicObject,
    plan: &Plan,
    inventory: Inventory,
) -> Result<Option<DynamicObject>, Error> {
    let (gks, namespaces) = recorded_inventory(ctx, live, plan, inventory);
    let tooling = format!("kro/{}", ctx.shared.kro_version);
    let hash = diff::inventory_hash(&plan.applyset.id, &gks, &namespaces);
    let mut want: BTreeMap<&str, String> = [
        (labels::OWNED, labels::OWNED_VALUE.to_string()),
        (
            labels::KRO_VERSION,
            kro_api::metadata::version_label_value(&ctx.shared.kro_version),
        ),
        (labels::RESOURCE_GRAPH_DEFINITION_ID, ctx.rgd_uid.clone()),
        (labels::RESOURCE_GRAPH_DEFINITION_NAME, ctx.rgd_name.clone()),
        (labels::APPLYSET_ID, plan.applyset.id.clone()),
    ]
    .into();
    if ctx.revision.revision > 0 {
        want.insert(INSTANCE_REVISION_LABEL, ctx.revision.revision.to_string());
    }
    let have = live.labels();
    let recorded = live.annotations();
    let annotation = |key: &str| recorded.get(key).map(String::as_str).unwrap_or("");
    let current = has_finalizer(live)
        && want
            .iter()
            .all(|(key, value)| have.get(*key) == Some(value))
        && annotation(annotations::APPLYSET_CONTAINS_GROUP_KINDS) == gks
        && annotation(annotations::APPLYSET_ADDITIONAL_NAMESPACES) == namespaces
        && recorded.get(annotations::APPLYSET_TOOLING) == Some(&tooling)
        && recorded.get(annotations::APPLYSET_INVENTORY_HASH) == Some(&hash);
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
                annotations::APPLYSET_ADDITIONAL_NAMESPACES: namespaces,
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

/// The namespaces the ApplySet records members in: the parent's own (`default` for a
/// cluster-scoped parent, as kro) and its additional namespaces, recorded and planned.
fn member_namespaces(live: &DynamicObject, plan: &Plan) -> BTreeSet<String> {
    let mut namespaces = namespace_set(&plan.applyset.additional_namespaces);
    if let Some(recorded) = live
        .annotations()
        .get(annotations::APPLYSET_ADDITIONAL_NAMESPACES)
    {
        namespaces.extend(namespace_set(recorded));
    }
    namespaces.insert(
        live.namespace()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "default".to_string()),
    );
    namespaces
}

/// Every child carrying this instance's `applyset.kubernetes.io/part-of`, over the recorded and
/// current group-kinds and every kind of the graph, and only where the ApplySet records its
/// members: cluster-scoped objects, and namespaced ones in [`member_namespaces`].
pub(super) async fn list_members(
    ctx: &KindContext,
    live: &DynamicObject,
    plan: &Plan,
) -> Result<Vec<DynamicObject>, Error> {
    let applyset_id = ctx.identity(live).applyset_id();
    let mut gks = diff::parse_group_kinds(&plan.applyset.contains_group_kinds);
    if let Some(old) = live
        .annotations()
        .get(annotations::APPLYSET_CONTAINS_GROUP_KINDS)
    {
        gks.extend(diff::parse_group_kinds(old));
    }
    for node in ctx.graph.nodes.iter().filter(|n| n.kind.is_managed()) {
        let (group, _) = split_api_version(&node.api_version);
        gks.insert((group.to_string(), node.object_kind.clone()));
    }
    let uid = live.uid().unwrap_or_default();
    let namespaces = member_namespaces(live, plan);
    // Cluster-scoped objects have no namespace and are always in scope.
    let in_scope = |o: &DynamicObject| match o.namespace().filter(|ns| !ns.is_empty()) {
        None => true,
        Some(ns) => namespaces.contains(&ns),
    };
    let mut members = Vec::new();
    for (group, kind) in &gks {
        let Some(resolved) = ctx.shared.discovery.resolve_group_kind(group, kind).await else {
            continue;
        };
        let ar = &resolved.ar;
        let cached = ctx
            .shared
            .router
            .cached_children(&ar.api_version, &ar.kind, &uid);
        let items: Vec<DynamicObject> = match cached {
            Some(objects) => objects
                .iter()
                .filter(|o| o.labels().get(labels::APPLYSET_PART_OF) == Some(&applyset_id))
                .filter(|o| in_scope(o))
                .map(|o| (**o).clone())
                .collect(),
            None => {
                let selector = format!("{}={applyset_id}", labels::APPLYSET_PART_OF);
                let params = ListParams::default().labels(&selector);
                let apis: Vec<Api<DynamicObject>> = if resolved.namespaced {
                    namespaces
                        .iter()
                        .map(|ns| Api::namespaced_with(ctx.shared.client.clone(), ns, ar))
                        .collect()
                } else {
                    vec![Api::all_with(ctx.shared.client.clone(), ar)]
                };
                let mut items = Vec::new();
                for api in apis {
                    items.extend(
                        api.list(&params)
                            .await
                            .map_err(kube_err(format!(
                                "listing {kind} members of {}",
                                live.name_any()
                            )))?
                            .items,
                    );
                }
                items
            }
        };
        members.extend(items.into_iter().map(|mut member| {
            member.types.get_or_insert_with(|| TypeMeta {
                api_version: ar.api_version.clone(),
                kind: ar.kind.clone(),
            });
            member
        }));
    }
    Ok(members)
}

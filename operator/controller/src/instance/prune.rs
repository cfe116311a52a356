//! Prune: after a clean apply, the ApplySet members the plan no longer has are deleted (each
//! guarded by its uid), or released when they are to be kept (`deletionPolicy: Orphan`, or
//! adopted), then the parent's inventory shrinks to the plan.

use std::collections::BTreeMap;

use kro_api::DeletionPolicy;
use kro_api::metadata::{annotations, labels};
use kro_runtime::{ObjectRef as PlanRef, Plan};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use serde_json::{Value, json};

use super::applyset::{Inventory, list_members};
use super::{InstanceRun, KindContext};
use crate::diff;
use crate::error::{Error, describe};

/// Whether a member is kept in the cluster rather than deleted when the instance lets it go:
/// its record says `deletionPolicy: Orphan` or that it was adopted, or its node says Orphan
/// now.
pub(super) fn keeps(ctx: &KindContext, member: &DynamicObject) -> bool {
    let annotations = member.annotations();
    let recorded_orphan = annotations
        .get(annotations::DELETION_POLICY)
        .and_then(|policy| DeletionPolicy::parse(policy))
        == Some(DeletionPolicy::Orphan);
    let adopted = annotations.get(annotations::ADOPTED).map(String::as_str)
        == Some(annotations::ADOPTED_VALUE);
    let node_orphans = member.labels().get(labels::NODE_ID).is_some_and(|id| {
        ctx.graph
            .nodes
            .iter()
            .any(|node| &node.id == id && node.deletion_policy == DeletionPolicy::Orphan)
    });
    recorded_orphan || adopted || node_orphans
}

/// The merge patch that releases a member: every `kro.run/` label, `app.kubernetes.io/managed-by:
/// kro` and the ApplySet `part-of` removed (so no ApplySet lists it and nothing of kro deletes
/// it later), with kro's bookkeeping annotations; the records of why it was kept
/// (`internal.kro.run/deletion-policy`, `internal.kro.run/adopted`) stay. Guarded by the uid.
pub(super) fn release_patch(member: &DynamicObject) -> Value {
    let mut drop_labels = serde_json::Map::new();
    for (key, value) in member.labels() {
        let kros = key.starts_with(kro_api::metadata::KRO_PREFIX)
            || key == labels::APPLYSET_PART_OF
            || (key == labels::MANAGED_BY && value == labels::MANAGED_BY_VALUE);
        if kros {
            drop_labels.insert(key.clone(), Value::Null);
        }
    }
    let mut drop_annotations = serde_json::Map::new();
    for key in [annotations::APPLY_ORDER, diff::DESIRED_HASH] {
        if member.annotations().contains_key(key) {
            drop_annotations.insert(key.to_string(), Value::Null);
        }
    }
    let mut patch = json!({
        "metadata": {
            "labels": drop_labels,
            "annotations": drop_annotations,
        }
    });
    if let (Some(uid), Some(meta)) = (member.uid(), patch["metadata"].as_object_mut()) {
        meta.insert("uid".into(), Value::String(uid));
    }
    patch
}

/// Releases a member (see [`release_patch`]); gone already or replaced counts as done.
pub(super) async fn release(
    api: &Api<DynamicObject>,
    member: &DynamicObject,
) -> Result<(), kube::Error> {
    match api
        .patch(
            &member.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&release_patch(member)),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A member as the runtime's prune compares it, with its uid.
fn member_ref(member: &DynamicObject) -> (PlanRef, String) {
    let types = member.types.as_ref();
    let plan_ref = PlanRef {
        api_version: types.map(|t| t.api_version.clone()).unwrap_or_default(),
        kind: types.map(|t| t.kind.clone()).unwrap_or_default(),
        namespace: member.namespace(),
        name: member.name_any(),
        node_id: member
            .labels()
            .get(kro_api::metadata::labels::NODE_ID)
            .cloned()
            .unwrap_or_default(),
    };
    (plan_ref, member.uid().unwrap_or_default())
}

/// Delete options that delete exactly the object with this uid, not a namesake made since.
pub(super) fn delete_exactly(uid: Option<String>) -> DeleteParams {
    DeleteParams {
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    }
}

impl InstanceRun<'_> {
    /// Prunes when the plan allows it and every apply succeeded, then records exactly the
    /// plan in the parent; otherwise only makes sure the parent metadata is in place.
    pub(super) async fn prune(&mut self, plan: &Plan) -> Result<(), Error> {
        if !(plan.prune_allowed && self.errors.is_empty()) {
            if !self.parent_prepared {
                self.update_parent(plan, Inventory::Grow).await?;
            }
            return Ok(());
        }
        self.delete_dropped(plan).await?;
        if self.errors.is_empty() {
            self.update_parent(plan, Inventory::Exact).await?;
        }
        Ok(())
    }

    /// Deletes the members that dropped out of the plan; a failure is recorded in `errors`.
    async fn delete_dropped(&mut self, plan: &Plan) -> Result<(), Error> {
        let members = list_members(self.ctx, &self.live, plan).await?;
        let by_ref: BTreeMap<PlanRef, &DynamicObject> = members
            .iter()
            .map(|member| (member_ref(member).0, member))
            .collect();
        let refs: Vec<PlanRef> = by_ref.keys().cloned().collect();
        for dropped in kro_runtime::prune(&refs, plan) {
            let Some(member) = by_ref.get(&dropped).copied() else {
                continue;
            };
            let resolved = self
                .ctx
                .shared
                .resolve(&dropped.api_version, &dropped.kind)
                .await?;
            let child = self.ctx.child_api(&resolved, dropped.namespace.as_deref());
            kro_reconcile::kill_point("instance/before-prune");
            if keeps(self.ctx, member) {
                match release(&child, member).await {
                    Ok(()) => tracing::info!(
                        kind = %dropped.kind,
                        name = %dropped.name,
                        node = %dropped.node_id,
                        "released (kept in the cluster without kro's labels)"
                    ),
                    Err(e) => self.errors.push(format!(
                        "{}: releasing {} {}: {}",
                        dropped.node_id,
                        dropped.kind,
                        dropped.name,
                        describe(&e)
                    )),
                }
                continue;
            }
            match child
                .delete(&dropped.name, &delete_exactly(member.uid()))
                .await
            {
                Ok(_) => {
                    tracing::info!(
                        kind = %dropped.kind,
                        name = %dropped.name,
                        node = %dropped.node_id,
                        "pruned"
                    );
                    // Mid-prune: one member deleted, the parent's inventory not yet shrunk.
                    kro_reconcile::kill_point("instance/after-prune-delete");
                }
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                // Throttled: the reconcile waits instead of reporting the prune as failed.
                Err(e) if crate::throttle::retry_after(&e).is_some() => {
                    return Err(crate::error::kube_err(format!(
                        "{}: pruning {} {}",
                        dropped.node_id, dropped.kind, dropped.name
                    ))(e));
                }
                Err(e) => self.errors.push(format!(
                    "{}: pruning {} {}: {}",
                    dropped.node_id,
                    dropped.kind,
                    dropped.name,
                    describe(&e)
                )),
            }
        }
        Ok(())
    }
}

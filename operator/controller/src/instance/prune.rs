//! Prune: after a clean apply, the ApplySet members the plan no longer has are deleted (each
//! guarded by its uid), then the parent's inventory shrinks to the plan.

use kro_runtime::{ObjectRef as PlanRef, Plan};
use kube::ResourceExt;
use kube::api::{DeleteParams, DynamicObject, Preconditions};

use super::InstanceRun;
use super::applyset::{Inventory, list_members};
use crate::error::{Error, describe};

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
        let previous: Vec<(PlanRef, String)> = members.iter().map(member_ref).collect();
        let refs: Vec<PlanRef> = previous.iter().map(|(r, _)| r.clone()).collect();
        for dropped in kro_runtime::prune(&refs, plan) {
            let uid = previous
                .iter()
                .find(|(member, _)| *member == dropped)
                .map(|(_, uid)| uid.clone());
            let resolved = self
                .ctx
                .shared
                .resolve(&dropped.api_version, &dropped.kind)
                .await?;
            let child = self.ctx.child_api(&resolved, dropped.namespace.as_deref());
            match child.delete(&dropped.name, &delete_exactly(uid)).await {
                Ok(_) => tracing::info!(
                    kind = %dropped.kind,
                    name = %dropped.name,
                    node = %dropped.node_id,
                    "pruned"
                ),
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
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

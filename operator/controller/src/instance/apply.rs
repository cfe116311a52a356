//! Apply: server-side apply (field manager `kro.run/applyset`, forced) of every desired object
//! that differs from its live copy, in topological order, after the ApplySet parent records
//! its kind.

use kro_api::metadata::field_managers;
use kro_runtime::{DesiredObject, Plan};
use kube::api::{Patch, PatchParams};

use super::InstanceRun;
use super::applyset::Inventory;
use super::observe::{find_observed, record_observed};
use crate::diff;
use crate::error::{Error, describe};

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

impl InstanceRun<'_> {
    /// Applies what differs from the live objects, in topological order; returns whether
    /// anything was applied (then the graph is evaluated again with the answers). A failed
    /// apply is recorded in `errors` and the others go on.
    pub(super) async fn apply(&mut self, plan: &Plan) -> Result<bool, Error> {
        let mut progressed = false;
        for desired in &plan.apply {
            let key = applied_key(desired);
            if self.applied.contains(&key) {
                continue;
            }
            let object = diff::with_hash(desired.object.clone(), &self.ctx.shared.hash_key);
            let live_child = find_observed(
                &self.observed,
                &desired.node_id,
                desired.namespace(),
                desired.name(),
            );
            if live_child.is_some_and(|live| diff::is_up_to_date(&object, live)) {
                continue;
            }
            if !self.parent_prepared || !self.parent_covers(desired) {
                self.update_parent(plan, Inventory::Grow).await?;
                self.parent_prepared = true;
            }
            self.applied.insert(key);
            progressed = true;
            self.apply_one(desired, &object).await?;
        }
        Ok(progressed)
    }

    /// Applies one child; the answer is observed (readiness of what was just written is judged
    /// from it) and goes into the child cache, so its watch echo wakes nobody.
    async fn apply_one(
        &mut self,
        desired: &DesiredObject,
        object: &serde_json::Value,
    ) -> Result<(), Error> {
        let ctx = self.ctx;
        let resolved = ctx
            .shared
            .resolve(desired.api_version(), desired.kind())
            .await?;
        let child = ctx.child_api(&resolved, desired.namespace());
        let params = PatchParams::apply(field_managers::APPLYSET).force();
        match child
            .patch(desired.name(), &params, &Patch::Apply(object))
            .await
        {
            Ok(applied) => {
                if let Ok(value) = serde_json::to_value(&applied) {
                    record_observed(
                        &mut self.observed,
                        &desired.node_id,
                        desired.collection_index.is_some(),
                        value,
                    );
                }
                ctx.shared
                    .router
                    .remember_child(desired.api_version(), desired.kind(), applied);
            }
            Err(e) => self.errors.push(format!(
                "{}: applying {} {}: {}",
                desired.node_id,
                desired.kind(),
                desired.name(),
                describe(&e)
            )),
        }
        Ok(())
    }
}

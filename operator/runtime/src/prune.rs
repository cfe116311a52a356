//! Pruning (objects applied before that dropped out of the plan) and condition bookkeeping.

use std::collections::BTreeSet;

use crate::plan::{ObjectRef, Plan};

/// Objects in `previous` that the plan no longer applies, ordered for deletion: nodes later in
/// topological order first (dependents before their dependencies; unknown node ids first, as
/// kro does), then by identity. Empty when the plan does not allow pruning.
pub fn prune(previous: &[ObjectRef], plan: &Plan) -> Vec<ObjectRef> {
    if !plan.prune_allowed {
        return Vec::new();
    }
    let keep: BTreeSet<(&str, &str, Option<&str>, &str)> = plan
        .apply
        .iter()
        .map(|d| (d.api_version(), d.kind(), d.namespace(), d.name()))
        .collect();
    let position = |id: &str| plan.nodes.iter().position(|n| n.id == id);
    let mut out: Vec<ObjectRef> = previous
        .iter()
        .filter(|r| {
            !keep.contains(&(
                r.api_version.as_str(),
                r.kind.as_str(),
                r.namespace.as_deref(),
                r.name.as_str(),
            ))
        })
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    out.sort_by(|a, b| {
        let pa = position(&a.node_id).map_or(usize::MAX, |p| p + 1);
        let pb = position(&b.node_id).map_or(usize::MAX, |p| p + 1);
        pb.cmp(&pa).then_with(|| a.cmp(b))
    });
    out
}

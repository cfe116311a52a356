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
        .map(|desired| {
            (
                desired.api_version(),
                desired.kind(),
                desired.namespace(),
                desired.name(),
            )
        })
        .collect();
    let position = |id: &str| plan.nodes.iter().position(|node| node.id == id);
    let mut out: Vec<ObjectRef> = previous
        .iter()
        .filter(|child| {
            !keep.contains(&(
                child.api_version.as_str(),
                child.kind.as_str(),
                child.namespace.as_deref(),
                child.name.as_str(),
            ))
        })
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    out.sort_by(|left, right| {
        let pa = position(&left.node_id).map_or(usize::MAX, |index| index + 1);
        let pb = position(&right.node_id).map_or(usize::MAX, |index| index + 1);
        pb.cmp(&pa).then_with(|| left.cmp(right))
    });
    out
}

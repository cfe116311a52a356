//! Pruning (objects applied before that dropped out of the plan) and condition bookkeeping.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kro_api::{Condition, Conditions};

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

/// Carries `lastTransitionTime` over from `previous` when a condition's status did not change,
/// and stamps `now` (RFC 3339; the current time if it cannot be read) on the others.
///
/// A thin wrapper over [`kro_api::Conditions::merge`], kept until every caller uses that.
pub fn merge_conditions(previous: &[Condition], new: &[Condition], now: &str) -> Vec<Condition> {
    let now = now
        .parse::<Timestamp>()
        .map_or_else(|_| Time(Timestamp::now()), Time);
    Conditions::merge(previous, new.iter().cloned(), &now).into_vec()
}

//! Status: the instance's state and conditions from the plan and the failures of this
//! reconcile (written only when they differ from the live status), the state-transition
//! metric and event, the suspended status, and the report after a panic; with kro's gates, an
//! event per condition transition (`InstanceConditionEvents`) and the condition gauges and
//! transition logs (`InstanceConditionMetrics`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kro_api::condition::{reasons, types};
use kro_api::metadata::annotations;
use kro_api::{Condition, ConditionStatus, Conditions, InstanceState};
use kro_runtime::Plan;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::{InstanceRun, KindContext};
use crate::error::{Error, kube_err};
use crate::metrics::{GvrLabels, TransitionLabels, gvk_string, gvr_string};

/// Whether the user suspended reconciliation with the `kro.run/reconcile` annotation.
pub(super) fn is_suspended(live: &DynamicObject) -> bool {
    live.annotations()
        .get(annotations::RECONCILE)
        .map(|value| value.to_ascii_lowercase())
        .is_some_and(|value| {
            value == annotations::RECONCILE_SUSPENDED || value == annotations::RECONCILE_DISABLED
        })
}

/// A suspended instance: only `ResourcesReady` says so; nothing else is read or written.
pub(super) async fn suspend(ctx: &KindContext, live: &DynamicObject) -> Result<Action, Error> {
    let mut status = live.data.get("status").cloned().unwrap_or(json!({}));
    set_condition(
        &mut status,
        Condition::suspended(),
        live.metadata.generation.unwrap_or(0),
        &ctx.shared.clock.now(),
    );
    let api = ctx.api(live.namespace().as_deref());
    write_status(ctx, &api, live, status).await?;
    Ok(Action::await_change())
}

impl InstanceRun<'_> {
    /// The plan's status, state and conditions, with this reconcile's failures folded into
    /// `ResourcesReady` and `Ready` (state `ERROR`); transition times are kept where a
    /// condition's status holds. Returns the state written.
    pub(super) async fn write_status(&mut self, plan: &Plan) -> Result<InstanceState, Error> {
        // The reconcile had its kind's compiled graph (kro counts a graph resolved per
        // reconcile of a live instance).
        let ar = &self.ctx.ar;
        self.ctx
            .shared
            .metrics
            .graph_resolution_success_total
            .get_or_create(&GvrLabels::new(gvr_string(
                &ar.group,
                &ar.version,
                &ar.plural,
            )))
            .inc();
        let generation = self.live.metadata.generation.unwrap_or(0);
        let mut status = plan.status.clone();
        let mut conditions = plan.conditions.clone();
        // While the RGD's latest spec does not compile, `GraphResolved` names the revision
        // this instance stays on.
        for condition in conditions
            .iter_mut()
            .filter(|c| c.type_ == types::GRAPH_RESOLVED && c.is_true())
        {
            let message = condition.message.take().unwrap_or_default();
            condition.message = Some(self.ctx.revision.graph_resolved_message(&message));
        }
        let mut state = plan.state;
        if !self.errors.is_empty() {
            state = InstanceState::Error;
            let message = format!("resource reconciliation failed: {}", self.errors.join("; "));
            for condition in conditions
                .iter_mut()
                .filter(|c| c.type_ == types::RESOURCES_READY || c.type_ == types::READY)
            {
                // A refusal by namespace confinement keeps its reason, and its text leads.
                if condition.reason.as_deref() == Some(super::confine::REASON) {
                    let refusal = condition.message.take().unwrap_or_default();
                    condition.message = Some(format!("{refusal}; {message}"));
                } else {
                    condition.reason = Some(reasons::NOT_READY.into());
                    condition.message = Some(message.clone());
                }
                condition.status = ConditionStatus::False;
            }
        }
        let previous = Conditions::from_status(&self.live.data);
        let merged = Conditions::merge(
            previous.as_slice(),
            conditions
                .into_iter()
                .map(|condition| condition.with_generation(generation)),
            &self.ctx.shared.clock.now(),
        );
        if let Some(fields) = status.as_object_mut() {
            fields.insert("state".into(), json!(state.as_str()));
            fields.insert("conditions".into(), merged.to_value());
        }
        let old_state = self
            .live
            .data
            .pointer("/status/state")
            .and_then(Value::as_str)
            .map(str::to_string);
        if write_status(self.ctx, &self.api, &self.live, status).await?
            && old_state.as_deref() != Some(state.as_str())
        {
            self.state_changed(old_state, state).await;
        }
        Ok(state)
    }

    /// The transition metric and a `StateChanged` event (Warning into `ERROR`, with why).
    async fn state_changed(&self, old_state: Option<String>, state: InstanceState) {
        let ctx = self.ctx;
        ctx.shared
            .metrics
            .instance_state_transitions_total
            .get_or_create(&TransitionLabels {
                gvr: gvk_string(&ctx.ar.group, &ctx.ar.version, &ctx.ar.kind),
                from_state: old_state.clone().unwrap_or_default(),
                to_state: state.as_str().into(),
            })
            .inc();
        let (type_, note) = match state {
            InstanceState::Error => (
                EventType::Warning,
                format!("state {}: {}", state.as_str(), self.errors.join("; ")),
            ),
            _ => (
                EventType::Normal,
                format!(
                    "state {} -> {}",
                    old_state.unwrap_or_else(|| "none".into()),
                    state.as_str()
                ),
            ),
        };
        publish(ctx, &self.live, type_, "StateChanged", note).await;
    }
}

/// Publishes an event about an instance (note cut to what events.k8s.io accepts); a failure
/// to publish is only logged.
pub(super) async fn publish(
    ctx: &KindContext,
    obj: &DynamicObject,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let regarding = obj.object_ref(&ctx.ar);
    kro_reconcile::publish(&ctx.shared.recorder, &regarding, type_, reason, note).await;
}

/// Writes an ERROR status and a Warning event after a panic.
pub(super) async fn report_failure(ctx: &KindContext, obj: &DynamicObject, message: &str) {
    let api = ctx.api(obj.namespace().as_deref());
    let text = format!("resource reconciliation failed: {message}");
    let conditions =
        [types::RESOURCES_READY, types::READY].map(|type_| Condition::not_ready(type_, &text));
    let patch =
        json!({"status": {"state": InstanceState::Error.as_str(), "conditions": conditions}});
    if api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .is_ok()
    {
        report_conditions(ctx, obj, &patch["status"], true).await;
    }
    publish(
        ctx,
        obj,
        EventType::Warning,
        "ReconcileFailed",
        message.to_string(),
    )
    .await;
}

/// Sets one condition in a status object, keeping `lastTransitionTime` while its status holds.
pub(super) fn set_condition(status: &mut Value, condition: Condition, generation: i64, now: &Time) {
    let mut conditions = Conditions::from_list(status.get("conditions"));
    conditions.set(condition, generation, now);
    match status.as_object_mut() {
        Some(fields) => {
            fields.insert("conditions".into(), conditions.to_value());
        }
        None => *status = json!({ "conditions": conditions.to_value() }),
    }
}

/// Replaces `status` when it differs from the live one (stale keys dropped, as kro's
/// UpdateStatus); returns whether it wrote.
pub(super) async fn write_status(
    ctx: &KindContext,
    api: &Api<DynamicObject>,
    live: &DynamicObject,
    status: Value,
) -> Result<bool, Error> {
    if live.data.get("status") == Some(&status) {
        report_conditions(ctx, live, &status, false).await;
        return Ok(false);
    }
    let patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/status", "value": status}]))
            .map_err(|source| Error::Serialization {
                what: "status patch".into(),
                source,
            })?;
    match api
        .patch_status(
            &live.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(written) => {
            ctx.wrote(&written);
            report_conditions(ctx, live, &status, true).await;
            Ok(true)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(kube_err(format!("writing status of {}", live.name_any()))(
            e,
        )),
    }
}

/// A condition whose status changed between two status writes: `(type, old status or "none",
/// new status, reason)`, in the order of the new conditions (kro's `emitConditionEvents`).
pub(super) fn transitions<'a>(
    before: &[Condition],
    after: &'a [Condition],
) -> Vec<(&'a str, &'static str, &'static str, &'a str)> {
    after
        .iter()
        .filter_map(|new| {
            let old = before.iter().find(|old| old.type_ == new.type_);
            if old.is_some_and(|old| old.status == new.status) {
                return None;
            }
            Some((
                new.type_.as_str(),
                old.map_or("none", |old| old.status.as_str()),
                new.status.as_str(),
                new.reason.as_deref().unwrap_or(""),
            ))
        })
        .collect()
}

/// What kro's gates do with the conditions of an instance status (`status`, just `written` or
/// found unchanged): with `InstanceConditionMetrics`, the condition gauges follow every
/// reconcile and each transition is logged; with `InstanceConditionEvents`, each transition
/// is an event whose reason is the condition type and whose note is `<old> -> <new>: <reason>`
/// (`Normal` into `True`, `Warning` otherwise).
pub(super) async fn report_conditions(
    ctx: &KindContext,
    live: &DynamicObject,
    status: &Value,
    written: bool,
) {
    let gates = ctx.shared.opts.feature_gates;
    if !gates.instance_condition_events && !gates.instance_condition_metrics {
        return;
    }
    let before = Conditions::from_status(&live.data);
    let after = Conditions::from_list(status.get("conditions"));
    let namespace = live.namespace().unwrap_or_default();
    let name = live.name_any();
    let gvr = gvr_string(&ctx.ar.group, &ctx.ar.version, &ctx.ar.plural);
    if gates.instance_condition_metrics {
        ctx.shared.metrics.condition_durations.record(
            &gvr,
            &namespace,
            &name,
            before.as_slice(),
            after.as_slice(),
        );
    }
    if !written {
        return;
    }
    for (type_, old, new, reason) in transitions(before.as_slice(), after.as_slice()) {
        if gates.instance_condition_metrics {
            tracing::debug!(
                gvr,
                namespace,
                name,
                condition_type = type_,
                old_status = old,
                new_status = new,
                reason,
                "condition transitioned"
            );
        }
        if gates.instance_condition_events {
            let event_type = if new == ConditionStatus::True.as_str() {
                EventType::Normal
            } else {
                EventType::Warning
            };
            publish(
                ctx,
                live,
                event_type,
                type_,
                format!("{old} -> {new}: {reason}"),
            )
            .await;
        }
    }
}

#[cfg(test)]
mod condition_tests {
    use super::*;

    fn condition(type_: &str, status: ConditionStatus, reason: &str) -> Condition {
        let mut condition = Condition::with_status(type_, status);
        condition.reason = Some(reason.into());
        condition
    }

    #[test]
    fn transitions_are_new_conditions_and_changed_statuses_only() {
        let before = [
            condition(types::READY, ConditionStatus::False, "NotReady"),
            condition(types::INSTANCE_MANAGED, ConditionStatus::True, "Managed"),
            condition(types::GRAPH_RESOLVED, ConditionStatus::True, "Resolved"),
        ];
        let after = [
            condition(types::READY, ConditionStatus::True, "Ready"),
            // Same status, other reason: kro emits nothing.
            condition(types::INSTANCE_MANAGED, ConditionStatus::True, "Adopted"),
            condition(types::GRAPH_RESOLVED, ConditionStatus::True, "Resolved"),
            condition(types::RESOURCES_READY, ConditionStatus::Unknown, "Pending"),
        ];
        assert_eq!(
            transitions(&before, &after),
            vec![
                (types::READY, "False", "True", "Ready"),
                (types::RESOURCES_READY, "none", "Unknown", "Pending"),
            ]
        );
        assert!(transitions(&after, &after).is_empty());
    }
}

//! Status: the instance's state and conditions from the plan and the failures of this
//! reconcile (written only when they differ from the live status), the state-transition
//! metric and event, the suspended status, and the report after a panic.

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
use crate::metrics::TransitionLabels;

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
        let generation = self.live.metadata.generation.unwrap_or(0);
        let mut status = plan.status.clone();
        let mut conditions = plan.conditions.clone();
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
                gvk: ctx.gvk(),
                from: old_state.clone().unwrap_or_default(),
                to: state.as_str().into(),
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
    let _ = api
        .patch_status(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
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
            Ok(true)
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(kube_err(format!("writing status of {}", live.name_any()))(
            e,
        )),
    }
}

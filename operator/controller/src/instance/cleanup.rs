//! Cleanup of a deleted instance: its ApplySet members in reverse topological waves (the
//! highest `apply-order` wave first, waiting for each), then kro's finalizer. Members to keep
//! (`deletionPolicy: Orphan`, or adopted) are released instead of deleted.

use std::sync::Arc;
use std::time::Duration;

use kro_api::condition::types;
use kro_api::metadata::{FINALIZER, annotations};
use kro_api::{Condition, InstanceState};
use kro_runtime::Observed;
use kube::ResourceExt;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use serde_json::json;

use super::KindContext;
use super::applyset::{has_finalizer, list_members};
use super::evaluate::{EvaluationCpu, evaluate_off_runtime};
use super::prune::{delete_exactly, keeps, release};
use super::status::{publish, set_condition, write_status};
use crate::diff;
use crate::error::{Error, kube_err};

/// Deletion: children in reverse topological waves, waiting for each wave, then the finalizer.
pub(super) async fn cleanup(
    ctx: &Arc<KindContext>,
    live: &DynamicObject,
    cpu: &EvaluationCpu,
) -> Result<Action, Error> {
    if !has_finalizer(live) {
        return Ok(Action::await_change());
    }
    // What the graph names without an instance (namespaces of its templates), evaluated off the
    // runtime and bounded as any evaluation; the ApplySet's own records do not depend on it.
    let opts = &ctx.shared.opts;
    let options = kro_runtime::Options {
        kro_version: ctx.shared.kro_version.clone(),
        max_collection_size: opts.rgd_max_collection_size,
        max_desired_bytes: opts.instance_max_desired_bytes,
        max_objects: opts.instance_max_objects,
        deadline: Some(kro_runtime::EvaluationDeadline::after(
            opts.instance_evaluation_timeout,
        )),
    };
    let empty = evaluate_off_runtime(
        ctx.clone(),
        json!({}),
        Observed::new(),
        options,
        format!(
            "{}/{}",
            live.namespace().unwrap_or_default(),
            live.name_any()
        ),
        cpu,
    )
    .await?
    .plan;
    let remaining = list_members(ctx, live, &empty).await?;
    write_deleting_status(ctx, live, &remaining).await?;
    kro_reconcile::kill_point("instance/cleanup-after-status");
    ctx.shared.router.forget(&ctx.instance_key(live)).await;
    if remaining.is_empty() {
        kro_reconcile::kill_point("instance/cleanup-before-finalizer");
        remove_finalizer(ctx, live).await?;
        // The last reconcile of this instance: nothing runs for it once the finalizer is gone.
        super::observe::evict_condition_gauges(ctx, live);
        return Ok(Action::await_change());
    }
    delete_last_wave(ctx, &remaining).await?;
    Ok(Action::requeue(Duration::from_millis(500)))
}

/// State `DELETING`, and `ResourcesReady`/`Ready` `Unknown` naming what is left.
async fn write_deleting_status(
    ctx: &KindContext,
    live: &DynamicObject,
    remaining: &[DynamicObject],
) -> Result<(), Error> {
    let generation = live.metadata.generation.unwrap_or(0);
    let mut status = live.data.get("status").cloned().unwrap_or(json!({}));
    if let Some(fields) = status.as_object_mut() {
        fields.insert("state".into(), json!(InstanceState::Deleting.as_str()));
    }
    let message = if remaining.is_empty() {
        "all resources deleted".to_string()
    } else {
        let names: Vec<String> = remaining
            .iter()
            .map(|member| {
                let kind = member.types.as_ref().map(|t| t.kind.as_str()).unwrap_or("");
                format!("{kind}/{}", member.name_any())
            })
            .collect();
        format!("deleting resources: {}", names.join(", "))
    };
    for type_ in [types::RESOURCES_READY, types::READY] {
        let condition = Condition::under_deletion(type_, &message);
        set_condition(&mut status, condition, generation, &ctx.shared.clock.now());
    }
    let api = ctx.api(live.namespace().as_deref());
    write_status(ctx, &api, live, status).await?;
    Ok(())
}

/// Removes kro's finalizer, guarded by a JSON-patch test on the finalizers kro read, and says
/// so in an event.
async fn remove_finalizer(ctx: &KindContext, live: &DynamicObject) -> Result<(), Error> {
    let rest: Vec<String> = live
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": live.finalizers()},
        {"op": "replace", "path": "/metadata/finalizers", "value": rest},
    ]))
    .map_err(|source| Error::Serialization {
        what: "finalizer patch".into(),
        source,
    })?;
    let api = ctx.api(live.namespace().as_deref());
    match api
        .patch(
            &live.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(_) => ctx.forget_written(live),
        Err(kube::Error::Api(s)) if s.code == 404 => ctx.forget_written(live),
        Err(e) => {
            return Err(kube_err(format!(
                "removing finalizer of {}",
                live.name_any()
            ))(e));
        }
    }
    publish(
        ctx,
        live,
        EventType::Normal,
        "Deleted",
        "all resources deleted, finalizer removed".into(),
    )
    .await;
    Ok(())
}

/// Deletes the members of the highest wave that are not being deleted already.
async fn delete_last_wave(ctx: &KindContext, remaining: &[DynamicObject]) -> Result<(), Error> {
    let wave_of =
        |member: &DynamicObject| diff::wave(member.annotations().get(annotations::APPLY_ORDER));
    let top = remaining.iter().map(wave_of).max().unwrap_or(0);
    for member in remaining
        .iter()
        .filter(|member| wave_of(member) == top)
        .filter(|member| member.metadata.deletion_timestamp.is_none())
    {
        let Some(types) = &member.types else { continue };
        let resolved = ctx.shared.resolve(&types.api_version, &types.kind).await?;
        let child = ctx.child_api(&resolved, member.namespace().as_deref());
        if keeps(ctx, member) {
            release(&child, member).await.map_err(kube_err(format!(
                "releasing {} {}",
                types.kind,
                member.name_any()
            )))?;
            tracing::info!(
                kind = %types.kind,
                name = %member.name_any(),
                wave = top,
                "released child (kept in the cluster without kro's labels)"
            );
            continue;
        }
        match child
            .delete(&member.name_any(), &delete_exactly(member.uid()))
            .await
        {
            Ok(_) => {
                tracing::info!(
                    kind = %types.kind,
                    name = %member.name_any(),
                    wave = top,
                    "deleted child"
                );
                // Mid-cleanup: a child deleted, the others of the wave not yet.
                kro_reconcile::kill_point("instance/cleanup-after-child-delete");
            }
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => {
                return Err(kube_err(format!(
                    "deleting {} {}",
                    types.kind,
                    member.name_any()
                ))(e));
            }
        }
    }
    Ok(())
}

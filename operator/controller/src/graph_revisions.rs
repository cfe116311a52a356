//! GraphRevisions (`internal.kro.run/v1alpha1`), handled inline by the RGD controller: one
//! immutable snapshot per distinct spec hash (`<rgd>-r00001`, kro's labels, a controller
//! ownerReference to the RGD, kro's finalizer), verified with the graph the RGD reconcile has
//! just compiled (`GraphVerified`/`Ready`), kept to `--rgd-max-graph-revisions`, deleted with
//! their RGD unless it is deleted with `--cascade=orphan`; a watch lets go of kro's finalizer
//! on any revision being deleted and wakes its RGD. A registry of the revisions this process
//! knows, with kro's `graph_revision_registry_*` metrics, and the revision a kind's instance
//! controller serves (and whether the RGD has moved on to a spec that does not compile).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kro_api::condition::{messages, reasons, types};
use kro_api::graph_revision::{graph_revision_name, spec_hash};
use kro_api::metadata::{FINALIZER, labels};
use kro_api::{
    Condition, ConditionStatus, Conditions, GraphRevision, GraphRevisionSpec,
    ResourceGraphDefinition, ResourceGraphDefinitionSnapshot,
};
use kro_graph::CompiledGraph;
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, PartialObjectMeta, Patch, PatchParams, PostParams,
};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Shared;
use crate::error::{Error, kube_err};
use crate::metrics::{FromToLabels, ReasonLabels, ResultLabels, StateLabels};

/// Finalizer the API server adds for `kubectl delete --cascade=orphan`.
const ORPHAN_FINALIZER: &str = "orphan";

/// A revision's state in this process, as kro's registry names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionState {
    /// Compiled and verified: what instances may run on.
    Active,
    /// Its snapshot does not compile.
    Failed,
}

impl RevisionState {
    /// The state as kro's registry metrics label it.
    fn as_str(self) -> &'static str {
        match self {
            RevisionState::Active => "active",
            RevisionState::Failed => "failed",
        }
    }
}

/// The revisions this process has verified, by (RGD name, revision), counted in kro's
/// `graph_revision_registry_entries{state}`, `_transitions_total{from,to}` and
/// `_evictions_total`.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<HashMap<(String, i64), RevisionState>>,
}

impl Registry {
    /// Records revision `revision` of RGD `rgd` in `state`.
    fn put(
        &self,
        metrics: &crate::metrics::Metrics,
        rgd: &str,
        revision: i64,
        state: RevisionState,
    ) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let old = entries.insert((rgd.to_string(), revision), state);
        if old == Some(state) {
            return;
        }
        let entries_gauge = &metrics.graph_revision_registry_entries;
        if let Some(old) = old {
            entries_gauge
                .get_or_create(&StateLabels {
                    state: old.as_str().into(),
                })
                .dec();
        }
        metrics
            .graph_revision_registry_transitions_total
            .get_or_create(&FromToLabels {
                // A revision enters kro's registry as pending, before its compile.
                from: old.map_or("pending", RevisionState::as_str).into(),
                to: state.as_str().into(),
            })
            .inc();
        entries_gauge
            .get_or_create(&StateLabels {
                state: state.as_str().into(),
            })
            .inc();
    }

    /// Forgets revision `revision` of RGD `rgd` (deleted).
    fn evict(&self, metrics: &crate::metrics::Metrics, rgd: &str, revision: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if let Some(old) = entries.remove(&(rgd.to_string(), revision)) {
            metrics
                .graph_revision_registry_entries
                .get_or_create(&StateLabels {
                    state: old.as_str().into(),
                })
                .dec();
            metrics.graph_revision_registry_evictions_total.inc();
        }
    }
}

/// The revision an instance controller runs on, shared between the RGD controller (which
/// says when the RGD's latest spec does not compile) and the kind's instances (which record
/// the revision in the label [`kro_api::graph_revision::INSTANCE_REVISION_LABEL`] and say in
/// `GraphResolved` when they stay on it).
#[derive(Debug, Default)]
pub struct Served {
    /// The revision number (0: none recorded, e.g. in tests).
    pub revision: i64,
    behind: RwLock<Option<String>>,
}

impl Served {
    /// A kind running on revision `revision`.
    pub fn new(revision: i64) -> Self {
        Served {
            revision,
            behind: RwLock::new(None),
        }
    }

    /// Why the RGD's latest spec is not served (it does not compile), if it is not.
    pub fn behind(&self) -> Option<String> {
        self.behind.read().ok().and_then(|behind| behind.clone())
    }

    /// Sets why the latest spec is not served; returns whether that changed.
    pub fn set_behind(&self, why: Option<String>) -> bool {
        let Ok(mut behind) = self.behind.write() else {
            return false;
        };
        if *behind == why {
            return false;
        }
        *behind = why;
        true
    }

    /// The `GraphResolved` message of an instance on this revision: kro's, and while the RGD's
    /// latest spec does not compile, the revision it stays on and why.
    pub fn graph_resolved_message(&self, kro_message: &str) -> String {
        match self.behind() {
            Some(why) => format!(
                "{kro_message}; running on graph revision {}: {why}",
                self.revision
            ),
            None => kro_message.to_string(),
        }
    }
}

/// The revisions of one RGD, as listed.
#[derive(Debug, Default)]
pub struct Lineage {
    /// Revisions not being deleted, oldest first.
    pub live: Vec<GraphRevision>,
    /// Revisions being deleted that finalizers other than kro's still hold.
    pub settling: usize,
}

impl Lineage {
    /// The newest live revision.
    pub fn latest(&self) -> Option<&GraphRevision> {
        self.live.last()
    }

    /// The highest revision number listed (0 without any).
    pub fn highest(&self) -> i64 {
        self.live.last().map_or(0, |gr| gr.spec.revision)
    }

    /// The newest live revision whose snapshot hashes to `hash`.
    pub fn latest_with_hash(&self, hash: &str) -> Option<&GraphRevision> {
        self.latest()
            .filter(|gr| spec_hash(&gr.spec.snapshot.spec) == hash)
    }
}

fn api(shared: &Shared) -> Api<GraphRevision> {
    Api::all(shared.client.clone())
}

/// The revisions of `rgd` (by `spec.snapshot.name`, kro's lineage key): orphans adopted (a
/// controller ownerReference to this RGD), kro's finalizer released from those being deleted.
pub async fn lineage(
    shared: &Shared,
    registry: &Registry,
    rgd: &ResourceGraphDefinition,
) -> Result<Lineage, Error> {
    let name = rgd.name_any();
    let listed = api(shared)
        .list(&ListParams::default().fields(&format!("spec.snapshot.name={name}")))
        .await
        .map_err(kube_err(format!("listing GraphRevisions of RGD {name}")))?;
    let mut lineage = Lineage::default();
    let mine: Vec<GraphRevision> = listed
        .items
        .into_iter()
        .filter(|gr| gr.spec.snapshot.name == name)
        .collect();
    for gr in mine {
        if gr.metadata.deletion_timestamp.is_some() {
            release(shared, registry, &gr).await?;
            if gr.finalizers().iter().any(|f| f != FINALIZER) {
                lineage.settling += 1;
            }
            continue;
        }
        let gr = adopt(shared, rgd, gr).await?;
        lineage.live.push(gr);
    }
    lineage.live.sort_by_key(|gr| gr.spec.revision);
    Ok(lineage)
}

/// The controller ownerReference kro puts on a revision.
fn owner_reference(rgd: &ResourceGraphDefinition) -> OwnerReference {
    OwnerReference {
        api_version: ResourceGraphDefinition::api_version(&()).into_owned(),
        kind: ResourceGraphDefinition::kind(&()).into_owned(),
        name: rgd.name_any(),
        uid: rgd.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Gives `gr` a controller ownerReference to `rgd` when it lacks one (a revision kept by an
/// orphaning delete, or created by hand): an older RGD reference is replaced.
async fn adopt(
    shared: &Shared,
    rgd: &ResourceGraphDefinition,
    gr: GraphRevision,
) -> Result<GraphRevision, Error> {
    let uid = rgd.uid().unwrap_or_default();
    let rgd_kind = ResourceGraphDefinition::kind(&());
    let owned = gr
        .owner_references()
        .iter()
        .any(|r| r.uid == uid && r.kind == rgd_kind && r.controller == Some(true));
    if owned {
        return Ok(gr);
    }
    let mut refs: Vec<OwnerReference> = gr
        .owner_references()
        .iter()
        .filter(|r| r.kind != rgd_kind)
        .cloned()
        .collect();
    refs.push(owner_reference(rgd));
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": gr.resource_version(),
    }});
    let adopted = api(shared)
        .patch(
            &gr.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(kube_err(format!(
            "adopting GraphRevision {}",
            gr.name_any()
        )))?;
    tracing::info!(rgd = %rgd.name_any(), graph_revision = %gr.name_any(), "GraphRevision adopted");
    Ok(adopted)
}

/// Issues revision `revision` of `rgd`: its spec as it is now, with kro's labels, owner and
/// finalizer. Counted in `rgd_graph_revision_issue_total{reason}`.
pub async fn issue(
    shared: &Shared,
    rgd: &ResourceGraphDefinition,
    revision: i64,
    hash: &str,
    first: bool,
) -> Result<GraphRevision, Error> {
    let name = graph_revision_name(&rgd.name_any(), revision);
    let gr = GraphRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(
                [
                    (labels::OWNED.to_string(), labels::OWNED_VALUE.to_string()),
                    (
                        labels::KRO_VERSION.to_string(),
                        kro_api::metadata::version_label_value(&shared.kro_version),
                    ),
                    (
                        labels::RESOURCE_GRAPH_DEFINITION_NAME.to_string(),
                        rgd.name_any(),
                    ),
                    (labels::GRAPH_REVISION_HASH.to_string(), hash.to_string()),
                ]
                .into(),
            ),
            owner_references: Some(vec![owner_reference(rgd)]),
            finalizers: Some(vec![FINALIZER.to_string()]),
            ..Default::default()
        },
        spec: GraphRevisionSpec {
            revision,
            snapshot: ResourceGraphDefinitionSnapshot {
                name: rgd.name_any(),
                generation: rgd.metadata.generation.unwrap_or(0),
                spec: rgd.spec.clone(),
            },
        },
        status: None,
    };
    let created = api(shared)
        .create(&PostParams::default(), &gr)
        .await
        .map_err(kube_err(format!("creating GraphRevision {name}")))?;
    let reason = if first { "no_revision" } else { "spec_changed" };
    shared
        .metrics
        .rgd_graph_revision_issue_total
        .get_or_create(&ReasonLabels {
            reason: reason.into(),
        })
        .inc();
    tracing::info!(rgd = %rgd.name_any(), graph_revision = %name, revision, "GraphRevision issued");
    Ok(created)
}

/// The outcome of compiling a revision's snapshot, for [`verify`].
#[derive(Debug)]
pub struct Verdict<'a> {
    /// The graph, or why the snapshot does not compile.
    pub result: Result<&'a CompiledGraph, &'a str>,
    /// How long the compile took.
    pub seconds: f64,
}

/// Writes `gr`'s status from the compile of its snapshot (`GraphVerified` and `Ready`, order
/// and dependencies), unless it already says so, and records it in the registry. The first
/// verification of a revision is counted in `graph_revision_compile_total{result}`.
pub async fn verify(
    shared: &Shared,
    registry: &Registry,
    gr: &GraphRevision,
    verdict: &Verdict<'_>,
) -> Result<(), Error> {
    let metrics = &shared.metrics;
    let (verified, state, status_fields) = match verdict.result {
        Ok(graph) => (
            Condition::new(
                types::GRAPH_VERIFIED,
                ConditionStatus::True,
                reasons::VERIFIED,
                messages::GRAPH_VERIFIED,
            ),
            RevisionState::Active,
            json!({
                "topologicalOrder": graph.topological_order,
                "resources": crate::rgd::dependencies_of(graph),
            }),
        ),
        Err(msg) => (
            Condition::new(
                types::GRAPH_VERIFIED,
                ConditionStatus::False,
                reasons::INVALID_GRAPH,
                format!(
                    "failed to compile graph revision {:?}: {msg}",
                    gr.name_any()
                ),
            ),
            RevisionState::Failed,
            json!({}),
        ),
    };
    registry.put(metrics, &gr.spec.snapshot.name, gr.spec.revision, state);
    let previous = gr
        .status
        .as_ref()
        .map(|status| status.conditions.clone())
        .unwrap_or_default();
    let ready = if verified.is_true() {
        Condition::ready()
    } else {
        Condition::mirroring(types::READY, &verified)
    };
    let generation = gr.metadata.generation.unwrap_or(0);
    let conditions = Conditions::merge(
        &previous,
        [verified, ready].map(|c| c.with_generation(generation)),
        &shared.clock.now(),
    );
    if conditions.as_slice() == previous.as_slice() {
        return Ok(());
    }
    let first = !previous.iter().any(|c| c.type_ == types::GRAPH_VERIFIED);
    if first {
        let result = ResultLabels {
            result: if state == RevisionState::Active {
                "success"
            } else {
                "failed"
            }
            .into(),
        };
        metrics
            .graph_revision_compile_total
            .get_or_create(&result)
            .inc();
        metrics
            .graph_revision_compile_duration
            .get_or_create(&result)
            .observe(verdict.seconds);
    }
    let mut status = status_fields;
    status["conditions"] = conditions.to_value();
    let written = api(shared)
        .patch_status(
            &gr.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await;
    if let Err(e) = written {
        metrics.graph_revision_status_update_errors_total.inc();
        if state == RevisionState::Active {
            metrics.graph_revision_activation_deferred_total.inc();
        }
        return Err(kube_err(format!(
            "writing status of GraphRevision {}",
            gr.name_any()
        ))(e));
    }
    Ok(())
}

/// Deletes the revisions of `lineage` beyond the newest `max` (`--rgd-max-graph-revisions`;
/// 0 keeps all), as kro: everything below the `max`-th newest revision number. Counted in
/// `rgd_graph_revision_gc_deleted_total` and `_errors_total`.
pub async fn retain(
    shared: &Shared,
    registry: &Registry,
    lineage: &Lineage,
    max: usize,
) -> Result<(), Error> {
    if max == 0 || lineage.live.len() <= max {
        return Ok(());
    }
    let floor = lineage.live[lineage.live.len() - max].spec.revision;
    let old: Vec<&GraphRevision> = lineage
        .live
        .iter()
        .filter(|gr| gr.spec.revision < floor)
        .collect();
    for gr in old {
        if let Err(e) = delete(shared, registry, gr).await {
            shared.metrics.rgd_graph_revision_gc_errors_total.inc();
            return Err(e);
        }
        shared.metrics.rgd_graph_revision_gc_deleted_total.inc();
        tracing::info!(graph_revision = %gr.name_any(), revision = gr.spec.revision, "GraphRevision garbage-collected");
    }
    Ok(())
}

/// Deletes every revision of the RGD being deleted, as the garbage collector would after
/// it (the revisions' owner), unless the RGD is deleted with `--cascade=orphan`: then they are
/// kept for an RGD of the same name to adopt.
pub async fn delete_all(
    shared: &Shared,
    registry: &Registry,
    rgd: &ResourceGraphDefinition,
) -> Result<(), Error> {
    if rgd.finalizers().iter().any(|f| f == ORPHAN_FINALIZER) {
        return Ok(());
    }
    let name = rgd.name_any();
    let listed = api(shared)
        .list(&ListParams::default().fields(&format!("spec.snapshot.name={name}")))
        .await
        .map_err(kube_err(format!("listing GraphRevisions of RGD {name}")))?;
    let mine: Vec<&GraphRevision> = listed
        .items
        .iter()
        .filter(|gr| gr.spec.snapshot.name == name)
        .collect();
    for gr in mine {
        delete(shared, registry, gr).await?;
    }
    Ok(())
}

/// Deletes `gr` and lets go of kro's finalizer on it.
async fn delete(shared: &Shared, registry: &Registry, gr: &GraphRevision) -> Result<(), Error> {
    let name = gr.name_any();
    match api(shared).delete(&name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(response)) if response.code == 404 => return Ok(()),
        Err(e) => return Err(kube_err(format!("deleting GraphRevision {name}"))(e)),
    }
    release(shared, registry, gr).await
}

/// Removes kro's finalizer from a revision being deleted and forgets it (kro's GR controller
/// does the same); counted in `graph_revision_finalizer_evictions_total`.
async fn release(shared: &Shared, registry: &Registry, gr: &GraphRevision) -> Result<(), Error> {
    release_meta(
        shared,
        registry,
        &gr.metadata,
        &gr.spec.snapshot.name,
        gr.spec.revision,
    )
    .await
}

async fn release_meta(
    shared: &Shared,
    registry: &Registry,
    meta: &ObjectMeta,
    rgd: &str,
    revision: i64,
) -> Result<(), Error> {
    let name = meta.name.clone().unwrap_or_default();
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    if finalizers.iter().any(|f| f == FINALIZER) {
        let rest: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
        // A JSON patch that tests the list first: never drops a finalizer added meanwhile.
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
            {"op": "replace", "path": "/metadata/finalizers", "value": rest},
        ]);
        let patched = api(shared)
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::<()>::Json(serde_json::from_value(patch).map_err(|source| {
                    Error::Serialization {
                        what: format!("the finalizer patch of GraphRevision {name}"),
                        source,
                    }
                })?),
            )
            .await;
        match patched {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            Err(e) => {
                return Err(kube_err(format!(
                    "removing finalizer of GraphRevision {name}"
                ))(e));
            }
        }
        shared
            .metrics
            .graph_revision_finalizer_evictions_total
            .inc();
    }
    registry.evict(&shared.metrics, rgd, revision);
    Ok(())
}

/// Watches GraphRevisions (metadata only) until `stop`: lets go of kro's finalizer on every
/// revision being deleted (its RGD may be gone already) and wakes the RGD of each revision
/// deleted, so that a removed latest revision is issued again.
pub async fn watch(
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    wake: mpsc::Sender<ObjectRef<ResourceGraphDefinition>>,
    stop: CancellationToken,
) {
    // Metadata only: `Api<PartialObjectMeta<_>>` makes metadata-only requests.
    let api: Api<PartialObjectMeta<GraphRevision>> = Api::all(shared.client.clone());
    let events = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut events = std::pin::pin!(events.take_until(stop.cancelled_owned()));
    while let Some(event) = events.next().await {
        let (meta, deleted) = match event {
            Ok(watcher::Event::Apply(meta) | watcher::Event::InitApply(meta)) => (meta, false),
            Ok(watcher::Event::Delete(meta)) => (meta, true),
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "GraphRevision watch");
                continue;
            }
        };
        let Some(rgd) = meta
            .labels()
            .get(labels::RESOURCE_GRAPH_DEFINITION_NAME)
            .cloned()
        else {
            continue;
        };
        if deleted {
            let _ = wake.try_send(ObjectRef::new(&rgd));
            continue;
        }
        if meta.metadata.deletion_timestamp.is_some() {
            let revision = revision_of(&meta.metadata);
            if let Err(e) = release_meta(&shared, &registry, &meta.metadata, &rgd, revision).await {
                tracing::warn!(graph_revision = %meta.name_any(), error = %e, "releasing a GraphRevision being deleted");
            }
        }
    }
}

/// The revision number in a revision's name, `<rgd>-r00001` or the cut form
/// `<cut>-r00001-<hash>` (0 when it is neither).
fn revision_of(meta: &ObjectMeta) -> i64 {
    let name = meta.name.as_deref().unwrap_or_default();
    name.rsplit('-')
        .take(2)
        .find_map(|part| {
            part.strip_prefix('r')
                .filter(|digits| digits.len() >= 5 && digits.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse().ok())
        })
        .unwrap_or(0)
}

/// The RGD condition while revisions being deleted are still held by other finalizers.
pub fn settling() -> Condition {
    Condition::new(
        types::GRAPH_REVISIONS_RESOLVED,
        ConditionStatus::Unknown,
        reasons::WAITING_FOR_GRAPH_REVISION_SETTLEMENT,
        messages::WAITING_FOR_TERMINATING_REVISIONS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_numbers_are_read_back_from_names() {
        let meta = |name: &str| ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        };
        assert_eq!(revision_of(&meta("web-r00012")), 12);
        assert_eq!(revision_of(&meta("a-b-r00003-1a2b3c4d")), 3);
        assert_eq!(revision_of(&meta("web-rollout")), 0);
    }

    #[test]
    fn served_says_which_revision_an_instance_stays_on() {
        let served = Served::new(2);
        assert_eq!(served.graph_resolved_message("resolved"), "resolved");
        assert!(served.set_behind(Some("its latest spec does not compile".into())));
        assert!(!served.set_behind(Some("its latest spec does not compile".into())));
        assert_eq!(
            served.graph_resolved_message("resolved"),
            "resolved; running on graph revision 2: its latest spec does not compile"
        );
        assert!(served.set_behind(None));
    }
}

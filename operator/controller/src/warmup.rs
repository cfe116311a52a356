//! `--enable-controller-warmup`: the RGD watch starts while this replica stands by for the
//! leader Lease, so that its cache is already filled when it leads (kro's controller-runtime
//! warm-up starts its sources before leader election the same way). Nothing is reconciled and
//! nothing is written until the Lease is held: the watch only fills the store; the objects it
//! sees go to the RGD controller from the moment it starts, and it starts by reconciling every
//! RGD the store holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{Stream, StreamExt};
use kro_api::ResourceGraphDefinition;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Shared;

/// The RGDs the RGD controller acts on: the store the watch fills, and the objects it applies.
pub struct RgdSource {
    /// The watch's store.
    pub reader: Store<ResourceGraphDefinition>,
    /// Every object the watch applies, from when the controller starts.
    pub applied:
        futures::stream::BoxStream<'static, Result<ResourceGraphDefinition, watcher::Error>>,
    /// Objects to reconcile at start: every RGD a warmed-up store already holds.
    pub initial: Vec<ObjectRef<ResourceGraphDefinition>>,
}

/// The RGD watch as configured (`--rgd-selector` in tests), with RGDs that cannot be decoded
/// reported on themselves and skipped, reflected into a store.
fn watch(
    shared: &Shared,
) -> (
    Store<ResourceGraphDefinition>,
    impl Stream<Item = Result<ResourceGraphDefinition, watcher::Error>> + Send + use<>,
) {
    let mut wc = watcher::Config::default();
    if !shared.opts.rgd_selector.is_empty() {
        wc = wc.labels(&shared.opts.rgd_selector);
    }
    let (reader, writer) = reflector::store();
    let applied = crate::undecodable::watch(
        Api::all(shared.client.clone()),
        wc,
        shared.router.reports.clone(),
        crate::undecodable::Target::Rgd,
    )
    .reflect(writer)
    .applied_objects()
    .predicate_filter(reconcile_worthy, PredicateConfig::default());
    (reader, applied)
}

/// What of an RGD calls for a reconcile, as kro's predicates on its RGD watch: its spec
/// (generation), its deletion starting, and `kro.run/allow-breaking-changes` turning true or
/// not. A status write, ours or anyone's, changes none of them, so it wakes nothing: kro-rs's
/// own status write otherwise came back as an event and cost a second reconcile of every RGD
/// (a read of the RGD, a read, a no-op apply and a read of its CRD), which with 1,000 RGDs
/// trailed into the instances' phase and past it. The store still sees every event.
fn reconcile_worthy(rgd: &ResourceGraphDefinition) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    rgd.metadata.generation.hash(&mut hasher);
    rgd.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    crate::rgd::allows_breaking_changes(rgd).hash(&mut hasher);
    Some(hasher.finish())
}

/// The watch started now, driven by the RGD controller once it runs.
pub fn cold(shared: &Shared) -> RgdSource {
    let (reader, applied) = watch(shared);
    RgdSource {
        reader,
        applied: applied.boxed(),
        initial: Vec::new(),
    }
}

/// The RGD watch running ahead of the controller: started at once, its objects held back
/// until [`Warm::source`] hands them over.
pub struct Warm {
    reader: Store<ResourceGraphDefinition>,
    forward: Arc<AtomicBool>,
    events: mpsc::Receiver<Result<ResourceGraphDefinition, watcher::Error>>,
}

/// Starts the RGD watch before leading: it fills the store (logging once when the first list
/// is in) and drops what it applies until the controller takes over; it ends with `stop`.
pub fn start(shared: &Shared, stop: CancellationToken) -> Warm {
    let (reader, applied) = watch(shared);
    let forward = Arc::new(AtomicBool::new(false));
    let (tx, events) = mpsc::channel(1024);
    let filled = reader.clone();
    let cancelled = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = cancelled.cancelled() => {}
            ready = filled.wait_until_ready() => if ready.is_ok() {
                tracing::info!(
                    rgds = filled.len(),
                    "controller warm-up: ResourceGraphDefinitions cached while standing by"
                );
            }
        }
    });
    let forwarding = forward.clone();
    tokio::spawn(async move {
        let mut applied = std::pin::pin!(applied);
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = applied.next() => next,
            };
            let Some(next) = next else { return };
            // Before leading the store is all that matters: the controller starts from it.
            if forwarding.load(Ordering::Acquire) && tx.send(next).await.is_err() {
                return;
            }
        }
    });
    Warm {
        reader,
        forward,
        events,
    }
}

impl std::fmt::Debug for RgdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgdSource")
            .field("cached", &self.reader.len())
            .field("initial", &self.initial.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warm")
            .field("cached", &self.reader.len())
            .field("handed_over", &self.forward.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Warm {
    /// Hands the watch over to the controller: from now on every object it applies goes to the
    /// controller, and every RGD already in the store is reconciled once at start.
    pub fn source(self) -> RgdSource {
        // Forwarding is switched on before the store is read, so that nothing applied in
        // between is missed (an RGD both listed and forwarded is reconciled once either way).
        self.forward.store(true, Ordering::Release);
        let initial = self
            .reader
            .state()
            .iter()
            .map(|rgd| ObjectRef::from_obj(rgd.as_ref()))
            .collect();
        let applied = futures::stream::unfold(self.events, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        });
        RgdSource {
            reader: self.reader,
            applied: applied.boxed(),
            initial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::ResourceExt;

    fn rgd(generation: i64) -> ResourceGraphDefinition {
        let mut rgd: ResourceGraphDefinition = serde_json::from_value(serde_json::json!({
            "apiVersion": "kro.run/v1alpha1", "kind": "ResourceGraphDefinition",
            "metadata": {"name": "web", "uid": "u-1"},
            "spec": {"schema": {"apiVersion": "v1alpha1", "kind": "Web"}, "resources": []},
        }))
        .expect("an RGD");
        rgd.metadata.generation = Some(generation);
        rgd
    }

    #[test]
    fn only_the_spec_the_deletion_and_allowing_breaking_changes_wake_an_rgd() {
        let base = reconcile_worthy(&rgd(1));

        let mut status_and_labels = rgd(1);
        status_and_labels.metadata.resource_version = Some("9".into());
        status_and_labels
            .labels_mut()
            .insert("team".into(), "a".into());
        status_and_labels.status =
            serde_json::from_value(serde_json::json!({"state": "Active"})).expect("a status");
        assert_eq!(reconcile_worthy(&status_and_labels), base);

        assert_ne!(reconcile_worthy(&rgd(2)), base, "a spec change");

        let mut deleting = rgd(1);
        deleting.metadata.deletion_timestamp = Some(Time(Default::default()));
        assert_ne!(reconcile_worthy(&deleting), base, "deletion starting");

        let mut allowed = rgd(1);
        allowed.annotations_mut().insert(
            kro_api::metadata::annotations::ALLOW_BREAKING_CHANGES.into(),
            "True".into(),
        );
        assert_ne!(reconcile_worthy(&allowed), base, "breaking changes allowed");
        let mut not_allowed = rgd(1);
        not_allowed.annotations_mut().insert(
            kro_api::metadata::annotations::ALLOW_BREAKING_CHANGES.into(),
            "false".into(),
        );
        assert_eq!(reconcile_worthy(&not_allowed), base, "false is as absent");
    }
}

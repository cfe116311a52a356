//! One shared metadata-only watch per child kind, fanned out to the instance controllers.
//!
//! kube's shared streams need `DynamicType: Default`, which `ApiResource` is not, so this module
//! owns the watches (kro's WatchManager) and routes each event (kro's WatchCoordinator): a
//! managed child goes to the instance named by its `kro.run/instance-*` labels; an object an
//! instance reads as an `externalRef` goes to every instance that declared interest in it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use kro_api::metadata::labels;
use kube::api::{Api, ApiResource, DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::Value;
use tokio::sync::{RwLock, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, label};
use crate::selector;

/// (group, kind) of a generated instance kind.
pub type KindKey = (String, String);

/// An instance: kind plus namespace/name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    /// Group of the instance kind.
    pub group: String,
    /// The instance kind.
    pub kind: String,
    /// Namespace ("" for cluster-scoped instances).
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// What an instance reads through an externalRef.
#[derive(Debug, Clone, PartialEq)]
pub struct Interest {
    /// Namespace, when restricted.
    pub namespace: Option<String>,
    /// Object name (GET)…
    pub name: Option<String>,
    /// …or label selector (LIST).
    pub selector: Option<Value>,
}

impl Interest {
    fn matches(&self, ns: Option<&str>, name: &str, lbls: &BTreeMap<String, String>) -> bool {
        if let Some(want) = &self.namespace
            && Some(want.as_str()) != ns
        {
            return false;
        }
        match (&self.name, &self.selector) {
            (Some(n), _) => n == name,
            (None, Some(sel)) => selector::matches(sel, lbls),
            (None, None) => false,
        }
    }
}

type Gvk = (String, String);

/// Where events for one instance kind go: its API resource and its controller's trigger.
type Route = (ApiResource, mpsc::Sender<ObjectRef<DynamicObject>>);

/// Routes child events to instance controllers.
pub struct Router {
    client: Client,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    controllers: RwLock<HashMap<KindKey, Route>>,
    watches: RwLock<HashMap<Gvk, JoinHandle<()>>>,
    interests: RwLock<HashMap<Gvk, HashMap<InstanceKey, Vec<Interest>>>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

impl Router {
    /// A router whose watches end when `stop` is cancelled.
    pub fn new(client: Client, metrics: Arc<Metrics>, stop: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            client,
            metrics,
            stop,
            controllers: RwLock::new(HashMap::new()),
            watches: RwLock::new(HashMap::new()),
            interests: RwLock::new(HashMap::new()),
        })
    }

    /// Routes events for `kind` instances into `tx`.
    pub async fn register(
        &self,
        kind: KindKey,
        ar: ApiResource,
        tx: mpsc::Sender<ObjectRef<DynamicObject>>,
    ) {
        self.controllers.write().await.insert(kind, (ar, tx));
    }

    /// Stops routing to `kind`, if `tx` is still the registered sender.
    pub async fn unregister(&self, kind: &KindKey, tx: &mpsc::Sender<ObjectRef<DynamicObject>>) {
        let mut c = self.controllers.write().await;
        if c.get(kind).is_some_and(|(_, t)| t.same_channel(tx)) {
            c.remove(kind);
        }
    }

    /// Records the externalRefs an instance reads (replacing what it read before).
    pub async fn set_interests(&self, instance: &InstanceKey, reads: Vec<(Gvk, Interest)>) {
        let mut all = self.interests.write().await;
        for per in all.values_mut() {
            per.remove(instance);
        }
        for (gvk, i) in reads {
            all.entry(gvk)
                .or_default()
                .entry(instance.clone())
                .or_default()
                .push(i);
        }
        all.retain(|_, per| !per.is_empty());
    }

    /// Forgets an instance's interests (it was deleted).
    pub async fn forget(&self, instance: &InstanceKey) {
        self.set_interests(instance, Vec::new()).await;
    }

    /// Makes sure one metadata watch runs for this child kind.
    pub async fn ensure_watch(self: &Arc<Self>, api_version: &str, kind: &str, ar: &ApiResource) {
        let key = (api_version.to_string(), kind.to_string());
        if self
            .watches
            .read()
            .await
            .get(&key)
            .is_some_and(|h| !h.is_finished())
        {
            return;
        }
        let mut w = self.watches.write().await;
        if w.get(&key).is_some_and(|h| !h.is_finished()) {
            return;
        }
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(self.client.clone(), ar);
        let me = self.clone();
        let stop = self.stop.clone();
        let gvk = key.clone();
        let handle = tokio::spawn(async move {
            let stream = watcher(api, watcher::Config::default().any_semantic())
                .default_backoff()
                .touched_objects();
            let mut stream = std::pin::pin!(stream);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    next = stream.next() => match next {
                        Some(Ok(obj)) => me.route(&gvk, &obj).await,
                        Some(Err(e)) => tracing::debug!(error = %e, kind = %gvk.1, "child watch error"),
                        None => break,
                    }
                }
            }
        });
        w.insert(key, handle);
        self.metrics.watch_count.set(w.len() as i64);
    }

    async fn route(&self, gvk: &Gvk, obj: &PartialObjectMeta<DynamicObject>) {
        let lbls = obj.labels();
        let ns = obj.namespace();
        let name = obj.name_any();
        let mut targets: Vec<InstanceKey> = Vec::new();
        if let (Some(group), Some(kind), Some(iname)) = (
            lbls.get(labels::INSTANCE_GROUP),
            lbls.get(labels::INSTANCE_KIND),
            lbls.get(labels::INSTANCE_NAME),
        ) {
            targets.push(InstanceKey {
                group: group.clone(),
                kind: kind.clone(),
                namespace: lbls
                    .get(labels::INSTANCE_NAMESPACE)
                    .cloned()
                    .unwrap_or_default(),
                name: iname.clone(),
            });
        }
        if let Some(per) = self.interests.read().await.get(gvk) {
            for (inst, interests) in per {
                if interests
                    .iter()
                    .any(|i| i.matches(ns.as_deref(), &name, lbls))
                {
                    targets.push(inst.clone());
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        let controllers = self.controllers.read().await;
        for t in targets {
            if let Some((ar, tx)) = controllers.get(&(t.group.clone(), t.kind.clone())) {
                let mut r = ObjectRef::new_with(&t.name, ar.clone());
                if !t.namespace.is_empty() {
                    r = r.within(&t.namespace);
                }
                self.metrics
                    .informer_events_total
                    .get_or_create(&label("gvr", &format!("{}/{}", gvk.0, gvk.1)))
                    .inc();
                let _ = tx.try_send(r);
            }
        }
    }
}

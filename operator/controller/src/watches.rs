//! Shared watches of child kinds, fanned out to the instance controllers.
//!
//! kube's shared streams need `DynamicType: Default`, which `ApiResource` is not, so this module
//! owns the watches (kro's WatchManager) and routes each event (kro's WatchCoordinator). Per
//! child kind kro applies, one watch of the objects kro owns keeps them in a cache that
//! reconciles read instead of sending a GET or LIST per child, and each event goes to the
//! instance named by the object's `kro.run/instance-*` labels. Per kind read through
//! `externalRef`s, one metadata-only watch wakes every instance that declared interest in the
//! object.
//!
//! Both watches decode item by item (`kro_api::decode`): an object that cannot be decoded is
//! reported on itself ([`crate::undecodable`]) and left out, and the rest of its kind flows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kro_api::decode::Lenient;
use kro_api::metadata::labels;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::{RwLock, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{GvrLabels, Metrics, gvr_string};
use crate::selector;
use crate::undecodable::{self, Reports, Target};

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
            (Some(wanted_name), _) => wanted_name == name,
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
    watches: RwLock<HashMap<(String, String, WatchMode), JoinHandle<()>>>,
    caches: std::sync::RwLock<HashMap<Gvk, Arc<std::sync::RwLock<ChildCache>>>>,
    interests: RwLock<HashMap<Gvk, HashMap<InstanceKey, Vec<Interest>>>>,
    /// Where objects that cannot be decoded are reported (every watch of the process).
    pub reports: Arc<Reports>,
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
            reports: Reports::new(client.clone()),
            client,
            metrics,
            stop,
            controllers: RwLock::new(HashMap::new()),
            watches: RwLock::new(HashMap::new()),
            caches: std::sync::RwLock::new(HashMap::new()),
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
        let mut controllers = self.controllers.write().await;
        if controllers
            .get(kind)
            .is_some_and(|(_, sender)| sender.same_channel(tx))
        {
            controllers.remove(kind);
        }
    }

    /// Records the externalRefs an instance reads (replacing what it read before).
    pub async fn set_interests(&self, instance: &InstanceKey, reads: Vec<(Gvk, Interest)>) {
        let mut all = self.interests.write().await;
        for per in all.values_mut() {
            per.remove(instance);
        }
        for (gvk, interest) in reads {
            all.entry(gvk)
                .or_default()
                .entry(instance.clone())
                .or_default()
                .push(interest);
        }
        all.retain(|_, per| !per.is_empty());
    }

    /// Forgets an instance's interests (it was deleted).
    pub async fn forget(&self, instance: &InstanceKey) {
        self.set_interests(instance, Vec::new()).await;
    }

    /// Makes sure the watch this child kind needs runs: for kinds kro applies, one watch of the
    /// objects kro owns (label `kro.run/instance-id`), kept whole in a cache that reconciles
    /// read instead of the API server; for kinds read through `externalRef`s, one
    /// metadata-only watch of every object, which only wakes the instances interested in it.
    pub async fn ensure_watch(
        self: &Arc<Self>,
        api_version: &str,
        kind: &str,
        ar: &ApiResource,
        mode: WatchMode,
    ) {
        let key = (api_version.to_string(), kind.to_string(), mode);
        if self
            .watches
            .read()
            .await
            .get(&key)
            .is_some_and(|handle| !handle.is_finished())
        {
            return;
        }
        let mut watches = self.watches.write().await;
        if watches
            .get(&key)
            .is_some_and(|handle| !handle.is_finished())
        {
            return;
        }
        let me = self.clone();
        let gvk: Gvk = (api_version.to_string(), kind.to_string());
        // The child kind as kro's watch metrics name it.
        let gvr = GvrLabels::new(gvr_string(&ar.group, &ar.version, &ar.plural));
        let handle = match mode {
            WatchMode::Owned => {
                let cache = Arc::new(std::sync::RwLock::new(ChildCache::default()));
                if let Ok(mut caches) = self.caches.write() {
                    caches.insert(gvk.clone(), cache.clone());
                }
                let api: Api<Lenient<DynamicObject>> = Api::all_with(self.client.clone(), ar);
                let config = watcher::Config::default()
                    .any_semantic()
                    .labels(labels::INSTANCE_ID);
                tokio::spawn(me.run_owned(api, config, gvk, gvr, cache))
            }
            WatchMode::External => {
                let api: Api<Lenient<PartialObjectMeta<DynamicObject>>> =
                    Api::all_with(self.client.clone(), ar);
                tokio::spawn(me.run_external(api, gvk, gvr))
            }
        };
        watches.insert(key, handle);
        self.metrics.watch_count.set(watches.len() as i64);
    }

    /// Feeds one owned child kind's cache from its watch and wakes the owners of what changed,
    /// until shutdown; then drops the cache (unless a newer watch replaced it). The time to the
    /// first complete list is kro's informer sync duration.
    async fn run_owned(
        self: Arc<Self>,
        api: Api<Lenient<DynamicObject>>,
        config: watcher::Config,
        gvk: Gvk,
        gvr: GvrLabels,
        cache: Arc<std::sync::RwLock<ChildCache>>,
    ) {
        let stream = undecodable::watch(api, config, self.reports.clone(), self.target(&gvk));
        let mut stream = std::pin::pin!(stream);
        let started = std::time::Instant::now();
        let mut synced = false;
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => break,
                next = stream.next() => match next {
                    Some(Ok(event)) => {
                        if !synced && matches!(event, watcher::Event::InitDone) {
                            synced = true;
                            self.metrics
                                .informer_sync_duration
                                .get_or_create(&gvr)
                                .observe(started.elapsed().as_secs_f64());
                        }
                        self.owned_event(&gvk, &gvr, &cache, event).await;
                    }
                    Some(Err(e)) => tracing::debug!(error = %e, kind = %gvk.1, "child watch error"),
                    None => break,
                }
            }
        }
        if let Ok(mut caches) = self.caches.write()
            && caches
                .get(&gvk)
                .is_some_and(|existing| Arc::ptr_eq(existing, &cache))
        {
            caches.remove(&gvk);
        }
    }

    /// One event of an owned child watch: into the cache, then to the owners it changed.
    async fn owned_event(
        &self,
        gvk: &Gvk,
        gvr: &GvrLabels,
        cache: &std::sync::RwLock<ChildCache>,
        event: watcher::Event<DynamicObject>,
    ) {
        let listed = matches!(event, watcher::Event::InitDone);
        let touched = match cache.write() {
            Ok(mut cache) => cache.apply(event),
            Err(_) => Vec::new(),
        };
        if listed {
            tracing::debug!(kind = %gvk.1, changed = touched.len(), "child watch listed");
        }
        for object in touched {
            self.route(gvk, gvr, &object.metadata, Delivery::Owner)
                .await;
        }
    }

    async fn run_external(
        self: Arc<Self>,
        api: Api<Lenient<PartialObjectMeta<DynamicObject>>>,
        gvk: Gvk,
        gvr: GvrLabels,
    ) {
        let config = watcher::Config::default().any_semantic();
        let stream = undecodable::watch(api, config, self.reports.clone(), self.target(&gvk))
            .touched_objects();
        let mut stream = std::pin::pin!(stream);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => break,
                next = stream.next() => match next {
                    Some(Ok(obj)) => {
                        self.route(&gvk, &gvr, &obj.metadata, Delivery::Interested).await;
                    }
                    Some(Err(e)) => tracing::debug!(error = %e, kind = %gvk.1, "external watch error"),
                    None => break,
                }
            }
        }
    }

    /// The object `namespace/name` of a child kind as the watch cache holds it: `None` while no
    /// synced cache exists for the kind (read the API server instead), `Some(None)` when kro owns
    /// no such object.
    pub fn cached_child(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Option<Arc<DynamicObject>>> {
        let cache = self.cache(api_version, kind)?;
        let cached = cache.read().ok()?;
        if !cached.ready {
            return None;
        }
        let key = (namespace.unwrap_or("").to_string(), name.to_string());
        Some(cached.objects.get(&key).cloned())
    }

    /// Every cached object of a child kind labelled with this instance's uid (`None` while no
    /// synced cache exists for the kind), sorted by namespace and name.
    pub fn cached_children(
        &self,
        api_version: &str,
        kind: &str,
        instance_uid: &str,
    ) -> Option<Vec<Arc<DynamicObject>>> {
        let cache = self.cache(api_version, kind)?;
        let cached = cache.read().ok()?;
        if !cached.ready {
            return None;
        }
        Some(
            cached
                .by_instance
                .get(instance_uid)
                .into_iter()
                .flatten()
                .filter_map(|key| cached.objects.get(key).cloned())
                .collect(),
        )
    }

    /// Records a child kro has just applied, as the API server answered, so the next reconcile
    /// reads it from the cache and its own watch event does not wake the instance again.
    pub fn remember_child(&self, api_version: &str, kind: &str, obj: DynamicObject) {
        if let Some(cache) = self.cache(api_version, kind)
            && let Ok(mut cached) = cache.write()
        {
            cached.remember(obj);
        }
    }

    /// How an undecodable object of a child kind is reported (an event on it).
    fn target(&self, (api_version, kind): &Gvk) -> Target {
        Target::Other(api_version.clone(), kind.clone())
    }

    fn cache(&self, api_version: &str, kind: &str) -> Option<Arc<std::sync::RwLock<ChildCache>>> {
        self.caches
            .read()
            .ok()?
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
    }

    /// Wakes the instances an event of a child kind concerns (counted as kro's route and
    /// route-match totals).
    async fn route(&self, gvk: &Gvk, gvr: &GvrLabels, meta: &ObjectMeta, delivery: Delivery) {
        self.metrics.route_total.get_or_create(gvr).inc();
        let empty = BTreeMap::new();
        let lbls = meta.labels.as_ref().unwrap_or(&empty);
        let ns = meta.namespace.as_deref();
        let name = meta.name.as_deref().unwrap_or("");
        let mut targets: Vec<InstanceKey> = Vec::new();
        if delivery == Delivery::Owner
            && let (Some(group), Some(kind), Some(iname)) = (
                lbls.get(labels::INSTANCE_GROUP),
                lbls.get(labels::INSTANCE_KIND),
                lbls.get(labels::INSTANCE_NAME),
            )
        {
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
        if delivery == Delivery::Interested
            && let Some(per) = self.interests.read().await.get(gvk)
        {
            for (inst, interests) in per {
                if interests
                    .iter()
                    .any(|interest| interest.matches(ns, name, lbls))
                {
                    targets.push(inst.clone());
                }
            }
        }
        if targets.is_empty() {
            return;
        }
        self.metrics.route_match_total.get_or_create(gvr).inc();
        let controllers = self.controllers.read().await;
        for target in targets {
            if let Some((ar, tx)) = controllers.get(&(target.group.clone(), target.kind.clone())) {
                let mut object_ref = ObjectRef::new_with(&target.name, ar.clone());
                if !target.namespace.is_empty() {
                    object_ref = object_ref.within(&target.namespace);
                }
                let _ = tx.try_send(object_ref);
            }
        }
    }
}

/// Which watch a child kind gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchMode {
    /// kro applies objects of this kind: watch the ones it owns, whole, and cache them.
    Owned,
    /// Instances read objects of this kind through `externalRef`s: watch metadata of all.
    External,
}

/// Who a watch event wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// The instance named by the object's `kro.run/instance-*` labels.
    Owner,
    /// The instances whose externalRefs match the object.
    Interested,
}

type ObjectKey = (String, String);

/// The objects of one child kind that kro owns, as its watch last saw them.
#[derive(Debug, Default)]
struct ChildCache {
    /// Whether the first complete list has arrived.
    ready: bool,
    /// Objects by (namespace, name).
    objects: HashMap<ObjectKey, Arc<DynamicObject>>,
    /// (namespace, name) of the objects of each instance (label `kro.run/instance-id`).
    by_instance: HashMap<String, BTreeSet<ObjectKey>>,
    /// Objects of a re-list in progress.
    relist: Option<HashMap<ObjectKey, Arc<DynamicObject>>>,
}

impl ChildCache {
    /// Takes in one watch event; returns the objects whose change should wake their instance.
    fn apply(&mut self, event: watcher::Event<DynamicObject>) -> Vec<Arc<DynamicObject>> {
        match event {
            watcher::Event::Apply(object) => {
                let object = slim(object);
                // The echo of a write kro already took in (`remember`) changes nothing.
                let echo = self.objects.get(&key_of(&object)).is_some_and(|old| {
                    old.metadata.resource_version == object.metadata.resource_version
                });
                self.insert(object.clone());
                if echo { Vec::new() } else { vec![object] }
            }
            watcher::Event::Delete(object) => {
                let object = slim(object);
                self.remove(&key_of(&object));
                vec![object]
            }
            watcher::Event::Init => {
                self.relist = Some(HashMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                let object = slim(object);
                self.relist
                    .get_or_insert_with(HashMap::new)
                    .insert(key_of(&object), object);
                Vec::new()
            }
            watcher::Event::InitDone => {
                let fresh = self.relist.take().unwrap_or_default();
                // What changed while the watch was down: new or modified objects, and deleted
                // ones (those wake their instance too, so it recreates them).
                let mut touched: Vec<Arc<DynamicObject>> = fresh
                    .iter()
                    .filter(|(key, object)| {
                        self.objects.get(*key).is_none_or(|old| {
                            old.metadata.resource_version != object.metadata.resource_version
                        })
                    })
                    .map(|(_, object)| object.clone())
                    .collect();
                touched.extend(
                    self.objects
                        .iter()
                        .filter(|(key, _)| !fresh.contains_key(*key))
                        .map(|(_, object)| object.clone()),
                );
                self.objects.clear();
                self.by_instance.clear();
                for object in fresh.into_values() {
                    self.insert(object);
                }
                self.ready = true;
                touched
            }
        }
    }

    /// Takes in an object kro just wrote (the API server's answer), unless the cache already
    /// holds that version or a newer one. Its watch event then finds nothing new.
    fn remember(&mut self, object: DynamicObject) {
        if !self.ready || instance_of(&object).is_none() {
            return;
        }
        let Some(rv) = resource_version(&object) else {
            return;
        };
        let newer = match self.objects.get(&key_of(&object)) {
            None => true,
            Some(old) => resource_version(old).is_some_and(|old| old < rv),
        };
        if newer {
            self.insert(slim(object));
        }
    }

    fn insert(&mut self, object: Arc<DynamicObject>) {
        let key = key_of(&object);
        if let Some(old) = self.objects.get(&key).cloned()
            && instance_of(&old) != instance_of(&object)
        {
            self.remove(&key);
        }
        if let Some(uid) = instance_of(&object) {
            self.by_instance
                .entry(uid.to_string())
                .or_default()
                .insert(key.clone());
        }
        self.objects.insert(key, object);
    }

    fn remove(&mut self, key: &ObjectKey) {
        let Some(old) = self.objects.remove(key) else {
            return;
        };
        if let Some(uid) = instance_of(&old)
            && let Some(set) = self.by_instance.get_mut(uid)
        {
            set.remove(key);
            if set.is_empty() {
                self.by_instance.remove(uid);
            }
        }
    }
}

/// The object without its managedFields (large, and never read from the cache).
fn slim(mut object: DynamicObject) -> Arc<DynamicObject> {
    object.metadata.managed_fields = None;
    Arc::new(object)
}

/// The resourceVersion as a number: the API server's etcd revision. Ordering them is what
/// keeps a late write-through from replacing a newer watched version; an API server whose
/// versions are not numbers simply gets no write-through.
pub(crate) fn resource_version(object: &DynamicObject) -> Option<u64> {
    object.metadata.resource_version.as_deref()?.parse().ok()
}

fn key_of(object: &DynamicObject) -> ObjectKey {
    (
        object.metadata.namespace.clone().unwrap_or_default(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}

fn instance_of(object: &DynamicObject) -> Option<&str> {
    object
        .metadata
        .labels
        .as_ref()?
        .get(labels::INSTANCE_ID)
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn child(name: &str, instance: &str, rv: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": "ns",
                "resourceVersion": rv,
                "labels": {labels::INSTANCE_ID: instance},
                "managedFields": [{"manager": "kro.run/applyset", "operation": "Apply"}],
            },
        }))
        .expect("valid object")
    }

    fn names(objs: &[Arc<DynamicObject>]) -> Vec<String> {
        let mut sorted: Vec<String> = objs
            .iter()
            .map(|object| object.metadata.name.clone().unwrap_or_default())
            .collect();
        sorted.sort();
        sorted
    }

    fn listed(cache: &mut ChildCache, objs: Vec<DynamicObject>) -> Vec<Arc<DynamicObject>> {
        cache.apply(watcher::Event::Init);
        for object in objs {
            cache.apply(watcher::Event::InitApply(object));
        }
        cache.apply(watcher::Event::InitDone)
    }

    #[test]
    fn cache_is_ready_only_after_the_first_complete_list() {
        let mut cache = ChildCache::default();
        cache.apply(watcher::Event::Init);
        cache.apply(watcher::Event::InitApply(child("a", "u1", "1")));
        assert!(!cache.ready);
        assert!(cache.objects.is_empty(), "a partial list is not served");
        let touched = cache.apply(watcher::Event::InitDone);
        assert!(cache.ready);
        assert_eq!(names(&touched), ["a"]);
        let object = &cache.objects[&("ns".to_string(), "a".to_string())];
        assert!(
            object.metadata.managed_fields.is_none(),
            "managedFields are dropped"
        );
    }

    #[test]
    fn objects_are_indexed_by_instance_and_follow_events() {
        let mut cache = ChildCache::default();
        listed(
            &mut cache,
            vec![child("a", "u1", "1"), child("b", "u2", "1")],
        );
        cache.apply(watcher::Event::Apply(child("c", "u1", "2")));
        assert_eq!(cache.by_instance["u1"].len(), 2);
        // Relabelled to another instance: moves in the index.
        cache.apply(watcher::Event::Apply(child("a", "u2", "3")));
        assert_eq!(cache.by_instance["u1"].len(), 1);
        assert_eq!(cache.by_instance["u2"].len(), 2);
        cache.apply(watcher::Event::Delete(child("c", "u1", "4")));
        assert!(!cache.by_instance.contains_key("u1"));
        assert_eq!(cache.objects.len(), 2);
    }

    #[test]
    fn kros_own_writes_are_served_at_once_and_their_echo_wakes_nobody() {
        let mut cache = ChildCache::default();
        cache.remember(child("early", "u1", "5"));
        assert!(
            cache.objects.is_empty(),
            "nothing is remembered before the first list"
        );
        listed(&mut cache, vec![child("a", "u1", "3")]);
        cache.remember(child("a", "u1", "5"));
        cache.remember(child("b", "u1", "6"));
        assert_eq!(
            cache.by_instance["u1"].len(),
            2,
            "served before the watch sees them"
        );
        assert!(
            cache
                .apply(watcher::Event::Apply(child("a", "u1", "5")))
                .is_empty()
        );
        assert!(
            cache
                .apply(watcher::Event::Apply(child("b", "u1", "6")))
                .is_empty()
        );
        // Somebody else's edit wakes the instance.
        assert_eq!(
            names(&cache.apply(watcher::Event::Apply(child("a", "u1", "9")))),
            ["a"]
        );
        // A write answered after the watch already showed a newer version is not taken.
        cache.remember(child("a", "u1", "8"));
        assert_eq!(
            cache.objects[&("ns".to_string(), "a".to_string())]
                .metadata
                .resource_version
                .as_deref(),
            Some("9")
        );
        // Objects that are not kro's are never remembered.
        let mut foreign = child("x", "u1", "10");
        foreign.metadata.labels = None;
        cache.remember(foreign);
        assert_eq!(cache.objects.len(), 2);
    }

    #[test]
    fn a_relist_wakes_only_what_changed_while_the_watch_was_down() {
        let mut cache = ChildCache::default();
        listed(
            &mut cache,
            vec![
                child("same", "u1", "1"),
                child("edited", "u1", "1"),
                child("gone", "u2", "1"),
            ],
        );
        let touched = listed(
            &mut cache,
            vec![
                child("same", "u1", "1"),
                child("edited", "u1", "7"),
                child("new", "u3", "8"),
            ],
        );
        assert_eq!(names(&touched), ["edited", "gone", "new"]);
        assert!(!cache.by_instance.contains_key("u2"));
        assert_eq!(cache.objects.len(), 3);
    }
}

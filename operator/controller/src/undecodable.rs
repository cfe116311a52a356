//! Objects kro-rs cannot decode, reported on themselves: an instance gets an `ERROR` status, an
//! RGD an `Inactive` status with `GraphAccepted=False`, and each (children too) a Warning
//! event, all naming the bound or field that made it undecodable (see `kro_api::decode`).
//!
//! The watches of every kind kro-rs reads decode item by item; what does not decode is handed
//! here and skipped, so the rest of its kind keeps reconciling. The status is written with a
//! raw request whose answer (the undecodable object itself) is never decoded nor logged, only
//! when it does not already say the same, so the write's own watch event ends here.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures::Stream;

use k8s_openapi::api::core::v1::ObjectReference;
use kro_api::condition::types;
use kro_api::decode::{FromMeta, Lenient, Poison};
use kro_api::{Condition, ConditionStatus, Conditions, InstanceState, ResourceGraphDefinition};
use kro_reconcile::Clock;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The reason of the condition and the event.
pub const REASON: &str = "Undecodable";

/// How many (object, version) pairs are remembered as reported before the memory is reset.
const REMEMBERED: usize = 10_000;

/// The watch of `api` (with kube's default backoff) as a stream of the objects that decode:
/// each one that does not is reported on itself as `target` and left out, and dropped from the
/// cache the stream feeds if it held an earlier copy.
pub fn watch<K>(
    api: Api<Lenient<K>>,
    config: watcher::Config,
    reports: Arc<Reports>,
    target: Target,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send
where
    K: kube::Resource + FromMeta + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Clone,
{
    kro_reconcile::undecodable::skip_undecodable(
        watcher(api, config).default_backoff(),
        Lenient::into_result,
        |poison| Some(K::from_meta(poison.meta.clone())),
        move |poison| reports.report(target.clone(), poison),
    )
}

/// What kind of object a poison is, which decides what is written on it.
#[derive(Debug, Clone)]
pub enum Target {
    /// An instance of a generated kind: status `ERROR` and an event.
    Instance(ApiResource),
    /// A ResourceGraphDefinition: status `Inactive`, `GraphAccepted=False`, and an event.
    Rgd,
    /// Any other object kro-rs reads (a child, an externalRef), by apiVersion and kind: an
    /// event only.
    Other(String, String),
}

/// Reports undecodable objects, each version once.
pub struct Reports {
    client: Client,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    /// uid → the resourceVersion last reported.
    reported: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports").finish_non_exhaustive()
    }
}

impl Reports {
    /// Reports through `client`, events as controller `kro`.
    pub fn new(client: Client) -> Arc<Self> {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "kro".into(),
                instance: None,
            },
        );
        Arc::new(Self {
            client,
            recorder,
            clock: Arc::new(kro_reconcile::SystemClock),
            reported: Mutex::new(HashMap::new()),
        })
    }

    /// Takes in one undecodable object of a watch: logged (name and problem, never content)
    /// and reported on the object in the background, once per version of it.
    pub fn report(self: &Arc<Self>, target: Target, poison: Box<Poison>) {
        let kind = match &target {
            Target::Instance(ar) => ar.kind.clone(),
            Target::Other(_, kind) => kind.clone(),
            Target::Rgd => "ResourceGraphDefinition".to_string(),
        };
        if !poison.is_identified() {
            tracing::warn!(%kind, problem = %poison.problem, "skipping an object that cannot be decoded, and whose name cannot be read");
            return;
        }
        if !self.first_report(&poison) {
            return;
        }
        tracing::warn!(%kind, object = %poison.display_name(), problem = %poison.problem, "skipping an object that cannot be decoded");
        let me = self.clone();
        tokio::spawn(async move { me.write(target, &poison).await });
    }

    /// Whether this version of the object was not reported yet (and remembers it).
    fn first_report(&self, poison: &Poison) -> bool {
        let (Some(uid), Ok(mut reported)) = (poison.meta.uid.clone(), self.reported.lock()) else {
            return true;
        };
        let version = poison.meta.resource_version.clone().unwrap_or_default();
        if reported.get(&uid) == Some(&version) {
            return false;
        }
        if reported.len() >= REMEMBERED {
            reported.clear();
        }
        reported.insert(uid, version);
        true
    }

    async fn write(&self, target: Target, poison: &Poison) {
        let (regarding, wrote) = match &target {
            Target::Instance(ar) => (
                reference(poison, &ar.api_version, &ar.kind),
                self.write_instance_status(ar, poison).await,
            ),
            Target::Rgd => {
                let ar = ApiResource::erase::<ResourceGraphDefinition>(&());
                (
                    reference(poison, &ar.api_version, &ar.kind),
                    self.write_rgd_status(poison).await,
                )
            }
            Target::Other(api_version, kind) => (reference(poison, api_version, kind), true),
        };
        if wrote {
            kro_reconcile::publish(
                &self.recorder,
                &regarding,
                EventType::Warning,
                REASON,
                message(&target, poison),
            )
            .await;
        }
    }

    /// Writes `ERROR` with `Ready=False` on the instance unless it says so already; whether
    /// it wrote.
    async fn write_instance_status(&self, ar: &ApiResource, poison: &Poison) -> bool {
        let target = Target::Instance(ar.clone());
        let text = message(&target, poison);
        let old = poison.status.clone().unwrap_or_else(|| json!({}));
        let mut conditions = Conditions::from_list(old.get("conditions"));
        let already = old.get("state").and_then(Value::as_str)
            == Some(InstanceState::Error.as_str())
            && conditions
                .get(types::READY)
                .is_some_and(|ready| ready.message.as_deref() == Some(text.as_str()));
        if already {
            return false;
        }
        let generation = poison.meta.generation.unwrap_or(0);
        let now = self.clock.now();
        for type_ in [types::RESOURCES_READY, types::READY] {
            conditions.set(
                Condition::new(type_, ConditionStatus::False, REASON, text.clone()),
                generation,
                &now,
            );
        }
        let status =
            json!({"state": InstanceState::Error.as_str(), "conditions": conditions.to_value()});
        let path = DynamicObject::url_path(ar, poison.meta.namespace.as_deref());
        self.patch_status(&path, poison, status).await
    }

    /// Writes `Inactive` with `GraphAccepted=False` and `Ready=False` on the RGD unless it says
    /// so already; whether it wrote.
    async fn write_rgd_status(&self, poison: &Poison) -> bool {
        let text = message(&Target::Rgd, poison);
        let old = poison.status.clone().unwrap_or_else(|| json!({}));
        let mut conditions = Conditions::from_list(old.get("conditions"));
        let already = conditions
            .get(types::GRAPH_ACCEPTED)
            .is_some_and(|accepted| accepted.message.as_deref() == Some(text.as_str()));
        if already {
            return false;
        }
        let generation = poison.meta.generation.unwrap_or(0);
        let now = self.clock.now();
        for type_ in [types::GRAPH_ACCEPTED, types::READY] {
            let condition = Condition::new(type_, ConditionStatus::False, REASON, text.clone());
            conditions.set(condition, generation, &now);
        }
        let status = json!({"state": "Inactive", "conditions": conditions.to_value()});
        let path = ResourceGraphDefinition::url_path(&(), None);
        self.patch_status(&path, poison, status).await
    }

    /// A merge patch of `status`, resourceVersion-guarded; the answer is dropped unread.
    async fn patch_status(&self, path: &str, poison: &Poison, status: Value) -> bool {
        let name = poison.meta.name.clone().unwrap_or_default();
        let patch = json!({
            "metadata": {"resourceVersion": poison.meta.resource_version},
            "status": status,
        });
        let request = match kube::core::Request::new(path).patch_subresource(
            "status",
            &name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        ) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, object = %poison.display_name(), "cannot build the status patch");
                return false;
            }
        };
        match self.client.request_text(request).await {
            Ok(_answer) => true,
            Err(error) => {
                // A conflict means a newer version is on its way through the watch.
                tracing::debug!(error = %crate::error::describe(&error), object = %poison.display_name(), "cannot write the status of an undecodable object");
                false
            }
        }
    }
}

/// The message written on the object: what kro-rs does with it and why.
fn message(target: &Target, poison: &Poison) -> String {
    let what = match target {
        Target::Instance(_) => "this instance, so it is not reconciled",
        Target::Rgd => "this ResourceGraphDefinition, so its graph is not built or updated",
        Target::Other(..) => "this object, so kro-rs reads it as absent",
    };
    format!("kro-rs cannot decode {what}: {}", poison.problem)
}

/// The object reference an event about `poison` regards.
fn reference(poison: &Poison, api_version: &str, kind: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some(
            poison
                .api_version
                .clone()
                .unwrap_or_else(|| api_version.to_string()),
        ),
        kind: Some(poison.kind.clone().unwrap_or_else(|| kind.to_string())),
        name: poison.meta.name.clone(),
        namespace: poison.meta.namespace.clone(),
        uid: poison.meta.uid.clone(),
        resource_version: poison.meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}

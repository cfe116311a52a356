//! ACK objects that cannot be decoded (nested too deep, too large, or a field of the wrong
//! type for the kind): reported on themselves and skipped, so every other object of the kind
//! keeps reconciling.
//!
//! The watch decodes item by item (`kro_api::decode`). An object that does not decode gets
//! `ACK.Terminal=True` naming the bound or the field (its previous conditions otherwise kept,
//! written with a raw request whose answer is never decoded or logged, and only when they do
//! not say so already) and a Warning event `Undecodable`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::Stream;
use k8s_openapi::api::core::v1::ObjectReference;
use kro_api::Conditions;
use kro_api::decode::{Lenient, Poison};
use kro_reconcile::Clock;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use super::condition::{self, Extras, Outcome};
use super::runtime::AckKind;

/// The reason of the event.
const REASON: &str = "Undecodable";

/// How many objects are remembered as reported before the memory is reset.
const REMEMBERED: usize = 10_000;

/// The watch of `api` (kube's default backoff) without the objects that cannot be decoded,
/// each reported on itself.
pub(crate) fn watch<K: AckKind>(
    api: Api<Lenient<K>>,
    client: kube::Client,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send {
    let reported: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    kro_reconcile::undecodable::skip_undecodable(
        watcher(api, watcher::Config::default()).default_backoff(),
        Lenient::into_result,
        // An ACK kind has required spec fields: no stand-in, so a copy the cache holds of an
        // object that stopped decoding stays until the object is deleted (its reconcile then
        // reads it fresh and fails to decode, without logging it).
        |_| None,
        move |poison: Box<Poison>| {
            if !poison.is_identified() {
                tracing::warn!(kind = %K::kind(&()), problem = %poison.problem, "skipping an object that cannot be decoded, and whose name cannot be read");
                return;
            }
            if !first_report(&reported, &poison) {
                return;
            }
            tracing::warn!(kind = %K::kind(&()), object = %poison.display_name(), problem = %poison.problem, "skipping an object that cannot be decoded");
            let client = client.clone();
            tokio::spawn(async move { report::<K>(&client, &poison).await });
        },
    )
}

/// Whether this version of the object was not reported yet (and remembers it).
fn first_report(reported: &Mutex<HashMap<String, String>>, poison: &Poison) -> bool {
    let (Some(uid), Ok(mut reported)) = (poison.meta.uid.clone(), reported.lock()) else {
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

/// `ACK.Terminal` on the object, and an event, unless its conditions say so already.
async fn report<K: AckKind>(client: &kube::Client, poison: &Poison) {
    let message = format!(
        "kro-rs cannot decode this {}, so it is not reconciled: {}",
        K::kind(&()),
        poison.problem
    );
    let old = poison.status.clone().unwrap_or_else(|| json!({}));
    let previous = Conditions::from_list(old.get("conditions"));
    let already = previous
        .get(condition::TERMINAL)
        .is_some_and(|terminal| terminal.message.as_deref() == Some(message.as_str()));
    if already {
        return;
    }
    let now = kro_reconcile::SystemClock.now();
    let conditions = condition::build(
        &Outcome::Terminal(message.clone()),
        &Extras::default(),
        previous.as_slice(),
        &now,
    );
    let name = poison.meta.name.clone().unwrap_or_default();
    let patch = json!({
        "metadata": {"resourceVersion": poison.meta.resource_version},
        "status": {"conditions": conditions},
    });
    let path = K::url_path(&(), poison.meta.namespace.as_deref());
    let request = kube::core::Request::new(path).patch_subresource(
        "status",
        &name,
        &PatchParams::default(),
        &Patch::Merge(&patch),
    );
    let wrote = match request {
        Ok(request) => client.request_text(request).await.map(|_answer| ()),
        Err(error) => Err(kube::Error::BuildRequest(error)),
    };
    if let Err(error) = wrote {
        tracing::debug!(%error, object = %poison.display_name(), "cannot write the status of an undecodable object");
        return;
    }
    let service = K::group(&())
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: format!("kro-rs-ack-{service}"),
            instance: None,
        },
    );
    let regarding = ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: poison.meta.name.clone(),
        namespace: poison.meta.namespace.clone(),
        uid: poison.meta.uid.clone(),
        ..ObjectReference::default()
    };
    kro_reconcile::publish(&recorder, &regarding, EventType::Warning, REASON, message).await;
}

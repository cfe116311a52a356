//! Kubernetes events about an object, as `kubectl get events` lists them.

use anyhow::Result;
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams};

use super::wait_for;

/// One Kubernetes event about an object, as `kubectl get events` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SeenEvent {
    /// `Normal` or `Warning`.
    pub(crate) type_: String,
    pub(crate) reason: String,
    pub(crate) message: String,
    /// The controller that reported it (`kro-rs-ack-s3`, `kro-rs-ack-rds`, kro's own).
    pub(crate) reporter: String,
    /// How many times it happened (a repeated event is one event with a count).
    pub(crate) count: i32,
}

/// The core/v1 Events whose involvedObject is `kind`/`name` in `ns`, oldest first (what
/// `kubectl get events --field-selector involvedObject.kind=KIND,involvedObject.name=NAME`
/// lists; events written through events.k8s.io/v1 are listed there by their `regarding`).
pub(crate) async fn events_of(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<SeenEvent>> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!(
        "involvedObject.kind={kind},involvedObject.name={name}"
    ));
    let mut items = api.list(&lp).await?.items;
    items.sort_by_key(|e| {
        e.event_time
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    });
    Ok(items
        .into_iter()
        .map(|e| SeenEvent {
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            reporter: e.reporting_component.unwrap_or_default(),
            count: e
                .series
                .as_ref()
                .and_then(|s| s.count)
                .or(e.count)
                .unwrap_or(1),
        })
        .collect())
}

/// Waits until an event with `reason` whose message contains `text` is listed for the object.
pub(crate) async fn wait_event(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
    reason: &str,
    text: &str,
) -> Result<SeenEvent> {
    wait_for(&format!("event {reason} on {kind} {name}"), || async {
        Ok(events_of(client, ns, kind, name)
            .await?
            .into_iter()
            .find(|e| e.reason == reason && e.message.contains(text)))
    })
    .await
}

/// The reasons of the events listed for the object, oldest first.
pub(crate) async fn event_reasons(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<String>> {
    Ok(events_of(client, ns, kind, name)
        .await?
        .into_iter()
        .map(|e| e.reason)
        .collect())
}

//! What every area of the e2e suite shares, once: one polling wait with a deadline that names
//! what it waited for ([`wait_for`]), one condition reader ([`condition`]), waits for an object
//! to match, to reach a state or condition, or to be gone, built on those two, and dynamic
//! get/apply/patch/delete by apiVersion and kind.
//!
//! The submodules hold what some areas share: the kro operator run in-process (`operator`), the
//! ACK controllers (`aws`), Kubernetes events (`events`), a test's own control plane or moto and
//! HTTP on the admin ports (`process`), and Argo CD's Lua health checks (`argocd_lua`).

pub(crate) mod argocd_lua;
pub(crate) mod aws;
pub(crate) mod events;
pub(crate) mod kro_process;
pub(crate) mod logs;
pub(crate) mod operator;
pub(crate) mod process;
pub(crate) mod proxy;

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{self, Scope};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How long any wait gives the cluster before it fails. Generous on purpose: a passing step
/// takes a few seconds, but on a loaded 2-core machine an apiserver, moto, several operators
/// and other engineers' builds share the CPUs. Waits end as soon as their condition holds, so
/// this only bounds how long a broken test takes to say what it waited for.
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);

/// How often a wait looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Polls `check` until it returns `Some`, failing after [`DEADLINE`] with `what` (and the last
/// error `check` returned, if any). Errors count as "not yet": the object may not exist yet, or
/// the apiserver may be restarting.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if tokio::time::Instant::now() >= deadline {
            let secs = DEADLINE.as_secs();
            match last_error {
                Some(e) => bail!("timed out after {secs}s waiting for {what} (last error: {e:#})"),
                None => bail!("timed out after {secs}s waiting for {what}"),
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The condition of type `type_` in an object's `status.conditions`.
pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether condition `type_` is there with status `status` (`True`, `False`, `Unknown`).
pub(crate) fn condition_is(obj: &Value, type_: &str, status: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c["status"] == status)
}

/// The message of condition `type_`, empty when the condition or its message is absent.
pub(crate) fn condition_message<'a>(obj: &'a Value, type_: &str) -> &'a str {
    condition(obj, type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
}

/// Waits until object `name` exists and `pred` holds for its JSON, and returns it. On failure
/// the error shows the object as last seen.
pub(crate) async fn wait_json<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value>
where
    K: Clone + Debug + Serialize + DeserializeOwned,
{
    let found = wait_for(&format!("{what} on {name}"), || async {
        let obj = api.get_opt(name).await?;
        let json = obj.map(serde_json::to_value).transpose()?;
        Ok(json.filter(|v| pred(v)))
    })
    .await;
    match found {
        Ok(obj) => Ok(obj),
        Err(e) => {
            let last = match api.get_opt(name).await {
                Ok(Some(obj)) => serde_json::to_string_pretty(&obj).unwrap_or_default(),
                Ok(None) => "<not found>".to_owned(),
                Err(err) => format!("<error {err}>"),
            };
            bail!("{e:#}; last object:\n{last}")
        }
    }
}

/// Waits until condition `type_` of object `name` has `status`, and returns the object.
pub(crate) async fn wait_condition<K>(
    api: &Api<K>,
    name: &str,
    type_: &str,
    status: &str,
) -> Result<Value>
where
    K: Clone + Debug + Serialize + DeserializeOwned,
{
    wait_json(api, name, &format!("{type_}={status}"), |obj| {
        condition_is(obj, type_, status)
    })
    .await
}

/// Waits until object `name` is gone (its finalizers done).
pub(crate) async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Clone + Debug + DeserializeOwned,
{
    wait_for(&format!("{name} to be deleted"), || async {
        Ok(api.get_opt(name).await?.is_none().then_some(()))
    })
    .await
}

/// Deletes object `name` and waits until it is gone.
pub(crate) async fn delete_and_wait<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Clone + Debug + DeserializeOwned,
{
    api.delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("deleting {name}"))?;
    wait_gone(api, name).await
}

/// The dynamic API for an apiVersion/kind (namespaced in `ns` when the kind is namespaced), as
/// discovery knows it now.
pub(crate) async fn api_for(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
) -> Result<Api<DynamicObject>> {
    let (group, version) = kro_controller::discovery::split_api_version(api_version);
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("discovering {api_version} {kind}"))?;
    Ok(match (caps.scope, ns) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    })
}

/// [`api_for`], waiting until the kind is served (CRDs installed by the operator or generated
/// from an RGD may be moments away).
pub(crate) async fn served_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
) -> Result<Api<DynamicObject>> {
    wait_for(&format!("{api_version} {kind} served"), || async {
        Ok(api_for(client, api_version, kind, ns).await.ok())
    })
    .await
}

/// Server-side applies an object as field manager `e2e`.
pub(crate) async fn apply(client: &Client, obj: &Value) -> Result<Value> {
    let api_version = obj["apiVersion"].as_str().context("apiVersion")?;
    let kind = obj["kind"].as_str().context("kind")?;
    let name = obj["metadata"]["name"].as_str().context("name")?;
    let ns = obj["metadata"]["namespace"].as_str();
    let api = served_api(client, api_version, kind, ns).await?;
    let out = api
        .patch(name, &PatchParams::apply("e2e").force(), &Patch::Apply(obj))
        .await
        .with_context(|| format!("applying {kind} {name}"))?;
    Ok(serde_json::to_value(out)?)
}

/// Reads an object, `None` when absent.
pub(crate) async fn get(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>> {
    let api = api_for(client, api_version, kind, ns).await?;
    Ok(api
        .get_opt(name)
        .await?
        .map(serde_json::to_value)
        .transpose()?)
}

/// Deletes an object (absent is fine).
pub(crate) async fn delete(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Result<()> {
    let api = api_for(client, api_version, kind, ns).await?;
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Merge-patches an object (or its status subresource).
pub(crate) async fn merge(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    patch: Value,
    status: bool,
) -> Result<()> {
    let api = api_for(client, api_version, kind, ns).await?;
    if status {
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    } else {
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

/// Waits for an object to exist and satisfy `pred`, and returns it.
pub(crate) async fn wait_object(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let api = served_api(client, api_version, kind, ns).await?;
    wait_json(&api, name, &format!("the expected {kind}"), pred).await
}

/// Waits until the object's `status.state` is `state`, and returns it.
pub(crate) async fn wait_state(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    state: &str,
) -> Result<Value> {
    let api = served_api(client, api_version, kind, ns).await?;
    wait_json(&api, name, &format!("{kind} state {state}"), |obj| {
        obj["status"]["state"] == state
    })
    .await
}

/// Waits for an object, by apiVersion and kind, to be gone.
pub(crate) async fn wait_object_gone(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Result<()> {
    wait_gone(&served_api(client, api_version, kind, ns).await?, name).await
}

/// Waits until `want` holds kro's leader Lease.
pub(crate) async fn wait_for_holder(
    leases: &kube::Api<kube::api::DynamicObject>,
    want: &str,
) -> Result<()> {
    wait_for(&format!("{want} holds the lease"), || async {
        let lease = leases.get_opt(kro_controller::LEASE_NAME).await?;
        Ok(lease
            .filter(|l| l.data["spec"]["holderIdentity"] == want)
            .map(|_| ()))
    })
    .await
}

//! Helpers shared by the operator e2e tests: an in-process operator per test, dynamic
//! get/apply by apiVersion/kind, waiting, and unique RGD kinds.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{self, Scope};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Group of every RGD these tests create.
pub const GROUP: &str = "e2e.kro.run";
/// Generous per-step timeout (each test stays well under a minute when things work).
pub const TIMEOUT: Duration = Duration::from_secs(45);

/// An operator running inside the test process.
pub struct Operator {
    /// The value of the `e2e.kro.run/operator` label on the RGDs this operator reconciles.
    pub id: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Operator {
    /// Starts `kro run` with test options.
    pub fn start(client: Client) -> Self {
        Self::start_with(client, kro_controller::Options::for_tests())
    }

    /// Starts `kro run` with the given options, reconciling only RGDs labelled for it (tests
    /// run in parallel in one process, so each test's operator sees only its own RGDs).
    pub fn start_with(client: Client, opts: kro_controller::Options) -> Self {
        let id = kro_e2e::unique_name("op");
        Self::start_as(client, opts, id)
    }

    /// Starts an operator for the RGDs labelled `id` (to restart "the same" operator).
    pub fn start_as(client: Client, mut opts: kro_controller::Options, id: String) -> Self {
        opts.rgd_selector = format!("e2e.kro.run/operator={id}");
        // Operator logs with RUST_LOG (e.g. RUST_LOG=kro_controller=debug), shown for failures.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(kro_controller::run(client, opts, async move {
            let _ = rx.await;
        }));
        Self {
            id,
            stop: Some(tx),
            task,
        }
    }

    /// An RGD for `kind` in [`GROUP`], labelled for this operator.
    pub fn rgd(&self, kind: &str, spec: Value, status: Value, resources: Value) -> Value {
        let mut r = rgd(kind, spec, status, resources);
        r["metadata"]["labels"] = json!({"e2e.kro.run/operator": self.id});
        r
    }

    /// Stops it and waits for a graceful exit.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .context("operator did not stop within 30s")???;
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A kind no other test uses: `<Prefix><digits and letters>`.
pub fn unique_kind(prefix: &str) -> String {
    let n = kro_e2e::unique_name("k").replace(['-', '_'], "");
    format!("{prefix}{}", n.trim_start_matches('k'))
}

/// The RGD name for a kind.
pub fn rgd_name(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

/// An RGD for `kind` in [`GROUP`].
pub fn rgd(kind: &str, spec: Value, status: Value, resources: Value) -> Value {
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": rgd_name(kind)},
        "spec": {
            "schema": {"apiVersion": "v1alpha1", "kind": kind, "group": GROUP, "spec": spec, "status": status},
            "resources": resources,
        }
    })
}

/// An instance of `kind`.
pub fn instance(kind: &str, ns: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

/// The dynamic API for an object's apiVersion/kind (namespace from the object or `ns`).
pub async fn api_for(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
) -> Result<Api<DynamicObject>> {
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (ar, caps) = discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("discovering {api_version} {kind}"))?;
    Ok(match (caps.scope, ns) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    })
}

/// Server-side applies an object as field manager `e2e`.
pub async fn apply(client: &Client, obj: &Value) -> Result<Value> {
    let av = obj["apiVersion"].as_str().context("apiVersion")?;
    let kind = obj["kind"].as_str().context("kind")?;
    let name = obj["metadata"]["name"].as_str().context("name")?;
    // The kind may be moments away (CRDs installed by the operator or generated from an RGD).
    let ns = obj["metadata"]["namespace"].as_str();
    let api = wait_for(&format!("{av} {kind} served"), || async {
        Ok(api_for(client, av, kind, ns).await.ok())
    })
    .await?;
    let out = api
        .patch(name, &PatchParams::apply("e2e").force(), &Patch::Apply(obj))
        .await
        .with_context(|| format!("applying {kind} {name}"))?;
    Ok(serde_json::to_value(out)?)
}

/// Reads an object, `None` when absent.
pub async fn get(
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
pub async fn delete(
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
pub async fn merge(
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

/// Polls `f` every 200 ms until it returns `Some`, failing with `what` after [`TIMEOUT`].
pub async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut last_err = None;
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what} (last error: {last_err:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the RGD's `Ready` condition is True and returns the RGD.
pub async fn wait_rgd_active(client: &Client, name: &str) -> Result<Value> {
    wait_rgd_state(client, name, "Active").await
}

/// Waits until the RGD's `status.state` is `state` (`Active`, `Inactive`) and returns the RGD.
pub async fn wait_rgd_state(client: &Client, name: &str, state: &str) -> Result<Value> {
    wait_for(&format!("RGD {name} {state}"), || async {
        let r = get(
            client,
            "kro.run/v1alpha1",
            "ResourceGraphDefinition",
            None,
            name,
        )
        .await?;
        Ok(r.filter(|r| r["status"]["state"] == state))
    })
    .await
}

/// The condition of a type on an object.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Waits until the instance's `status.state` is `state` and returns it.
pub async fn wait_instance_state(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
    state: &str,
) -> Result<Value> {
    wait_state(client, &format!("{GROUP}/v1alpha1"), kind, ns, name, state).await
}

/// Waits until the object's `status.state` is `state` and returns it, for any group.
pub async fn wait_state(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: &str,
    name: &str,
    state: &str,
) -> Result<Value> {
    wait_for(&format!("{kind} {ns}/{name} {state}"), || async {
        let r = get(client, api_version, kind, Some(ns), name).await?;
        Ok(r.filter(|r| r["status"]["state"] == state))
    })
    .await
}

/// Waits for an object to exist and satisfy `pred`.
pub async fn wait_object(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    wait_for(&format!("{kind} {name}"), || async {
        let r = get(client, api_version, kind, ns, name).await?;
        Ok(r.filter(|o| pred(o)))
    })
    .await
}

/// Waits for an object to be gone.
pub async fn wait_gone(
    client: &Client,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Result<()> {
    wait_for(&format!("{kind} {name} gone"), || async {
        let r = get(client, api_version, kind, ns, name).await?;
        Ok(if r.is_none() { Some(()) } else { None })
    })
    .await
}

/// Pretends a kubelet and controller-manager ran: marks a Deployment's replicas available.
pub async fn make_deployment_ready(client: &Client, ns: &str, name: &str) -> Result<()> {
    let d = wait_object(client, "apps/v1", "Deployment", Some(ns), name, |_| true).await?;
    let n = d["spec"]["replicas"].as_i64().unwrap_or(1);
    merge(
        client,
        "apps/v1",
        "Deployment",
        Some(ns),
        name,
        json!({"status": {"replicas": n, "readyReplicas": n, "availableReplicas": n, "updatedReplicas": n}}),
        true,
    )
    .await
}

/// A Deployment template (one container) for RGD resources.
pub fn deployment_template(name: &str, replicas: &str, env_from_config: Option<&str>) -> Value {
    let mut container = json!({"name": "web", "image": "nginx:1.27"});
    if let Some(cm) = env_from_config {
        container["envFrom"] = json!([{"configMapRef": {"name": cm}}]);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
        }
    })
}

//! The kro operator run inside the test process, one per test, and what its tests build: RGDs of
//! unique kinds, their instances, the shipped examples, and waits on RGD and instance status.

use anyhow::{Context, Result};
use kube::Client;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{DEADLINE, get, merge, served_api, wait_json, wait_object, wait_state};

/// Group of every RGD these tests create.
pub(crate) const GROUP: &str = "e2e.kro.run";
/// apiVersion of RGDs, and of instances of RGDs in kro's default group.
pub(crate) const KRO_API: &str = "kro.run/v1alpha1";
/// Kind of an RGD.
pub(crate) const RGD_KIND: &str = "ResourceGraphDefinition";

/// apiVersion of instances of the RGDs these tests create (group [`GROUP`]).
pub(crate) fn instance_api() -> String {
    format!("{GROUP}/v1alpha1")
}

/// An operator running inside the test process.
pub(crate) struct Operator {
    /// The value of the `e2e.kro.run/operator` label on the RGDs this operator reconciles.
    pub(crate) id: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<()>>,
}

impl Operator {
    /// Starts `kro run` with test options.
    pub(crate) fn start(client: Client) -> Self {
        Self::start_with(client, kro_controller::Options::for_tests())
    }

    /// Starts `kro run` with the given options, reconciling only RGDs labelled for it (tests
    /// run in parallel in one process, so each test's operator sees only its own RGDs).
    pub(crate) fn start_with(client: Client, opts: kro_controller::Options) -> Self {
        let id = kro_e2e::unique_name("op");
        Self::start_as(client, opts, id)
    }

    /// Starts an operator for the RGDs labelled `id` (to restart "the same" operator).
    pub(crate) fn start_as(client: Client, mut opts: kro_controller::Options, id: String) -> Self {
        opts.rgd_selector = format!("e2e.kro.run/operator={id}");
        // Operator logs with RUST_LOG (e.g. RUST_LOG=kro_controller=debug), shown for failures,
        // and captured for tests that check what reached them.
        super::logs::init();
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
    pub(crate) fn rgd(&self, kind: &str, spec: Value, status: Value, resources: Value) -> Value {
        let mut r = rgd(kind, spec, status, resources);
        self.label(&mut r);
        r
    }

    /// Labels an RGD for this operator.
    pub(crate) fn label(&self, rgd: &mut Value) {
        rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": self.id});
    }

    /// Stops it and waits for a graceful exit.
    pub(crate) async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .with_context(|| format!("operator did not stop within {}s", DEADLINE.as_secs()))???;
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
pub(crate) fn unique_kind(prefix: &str) -> String {
    let n = kro_e2e::unique_name("k").replace(['-', '_'], "");
    format!("{prefix}{}", n.trim_start_matches('k'))
}

/// The RGD name for a kind.
pub(crate) fn rgd_name(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

/// An RGD for `kind` in [`GROUP`].
pub(crate) fn rgd(kind: &str, spec: Value, status: Value, resources: Value) -> Value {
    json!({
        "apiVersion": KRO_API,
        "kind": RGD_KIND,
        "metadata": {"name": rgd_name(kind)},
        "spec": {
            "schema": {"apiVersion": "v1alpha1", "kind": kind, "group": GROUP, "spec": spec, "status": status},
            "resources": resources,
        }
    })
}

/// An instance of `kind` (in [`GROUP`]).
pub(crate) fn instance(kind: &str, ns: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": instance_api(),
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    })
}

/// A ConfigMap template for RGD resources.
pub(crate) fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

/// A Deployment template (one container) for RGD resources.
pub(crate) fn deployment_template(
    name: &str,
    replicas: &str,
    env_from_config: Option<&str>,
) -> Value {
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

/// Pretends a kubelet and controller-manager ran: marks a Deployment's replicas available.
pub(crate) async fn make_deployment_ready(client: &Client, ns: &str, name: &str) -> Result<()> {
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

/// The CRD generated for `kind` (in [`GROUP`]), `None` when absent.
pub(crate) async fn instance_crd(client: &Client, kind: &str) -> Result<Option<Value>> {
    let name = format!("{}s.{GROUP}", kind.to_ascii_lowercase());
    get(
        client,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        &name,
    )
    .await
}

/// Waits until the RGD's `status.state` is `Active` and returns the RGD.
pub(crate) async fn wait_rgd_active(client: &Client, name: &str) -> Result<Value> {
    wait_rgd_state(client, name, "Active").await
}

/// Waits until the RGD's `status.state` is `state` (`Active`, `Inactive`) and returns the RGD.
pub(crate) async fn wait_rgd_state(client: &Client, name: &str, state: &str) -> Result<Value> {
    wait_state(client, KRO_API, RGD_KIND, None, name, state).await
}

/// Waits until the RGD's condition `type_` has `status`, and returns the RGD.
pub(crate) async fn wait_rgd_condition(
    client: &Client,
    name: &str,
    type_: &str,
    status: &str,
) -> Result<Value> {
    let api = served_api(client, KRO_API, RGD_KIND, None).await?;
    super::wait_condition(&api, name, type_, status).await
}

/// Waits until the instance's (of `kind` in [`GROUP`]) `status.state` is `state`, and returns it.
pub(crate) async fn wait_instance_state(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
    state: &str,
) -> Result<Value> {
    wait_state(client, &instance_api(), kind, Some(ns), name, state).await
}

/// Waits until the instance's condition `type_` has `reason`, and returns it.
pub(crate) async fn wait_instance_reason(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
    type_: &str,
    reason: &str,
) -> Result<Value> {
    let api = served_api(client, &instance_api(), kind, Some(ns)).await?;
    wait_json(&api, name, &format!("{type_} reason {reason}"), |obj| {
        super::condition(obj, type_).is_some_and(|c| c["reason"] == reason)
    })
    .await
}

/// A file of the shipped `examples/`, parsed.
pub(crate) fn example(path: &str) -> Result<Value> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(path);
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    Ok(serde_saphyr::from_str(&text)?)
}

/// An example RGD, labelled for `op`.
pub(crate) fn example_rgd(path: &str, op: &Operator) -> Result<Value> {
    let mut rgd = example(path)?;
    op.label(&mut rgd);
    Ok(rgd)
}

/// An example instance in namespace `ns` (its other metadata dropped), with the given spec
/// fields replaced.
pub(crate) fn example_instance(path: &str, ns: &str, spec: Value) -> Result<Value> {
    let mut inst = example(path)?;
    let meta = inst["metadata"].as_object_mut().context("metadata")?;
    meta.retain(|k, _| k == "name");
    meta.insert("namespace".into(), json!(ns));
    for (k, v) in spec.as_object().context("spec")? {
        inst["spec"][k] = v.clone();
    }
    Ok(inst)
}

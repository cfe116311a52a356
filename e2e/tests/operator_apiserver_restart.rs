//! The operator survives its apiserver going away: kube-apiserver is stopped and started again
//! (etcd and its data stay, as in an apiserver upgrade or crash), and the running operator
//! resumes its watches and keeps reconciling, with nothing lost and no restart of its own.
//!
//! This test runs its own control plane, since restarting the shared one would break every
//! other test running beside it.

mod operator_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use operator_support::*;
use serde_json::{Value, json};

/// A control plane of this test's own, stopped by the scripts when the test process exits.
struct PrivateControlPlane {
    dir: PathBuf,
}

impl PrivateControlPlane {
    fn start() -> Result<Self> {
        let dir = std::env::temp_dir().join(kro_e2e::unique_name("kro-private-cp"));
        let pid = std::process::id().to_string();
        script(&["start", path_str(&dir)?, "--owner-pid", &pid])?;
        Ok(Self { dir })
    }

    async fn client(&self) -> Result<Client> {
        let kubeconfig = Kubeconfig::read_from(self.dir.join("kubeconfig"))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(config)?)
    }

    fn restart_apiserver(&self) -> Result<()> {
        script(&["restart-apiserver", path_str(&self.dir)?])
    }
}

impl Drop for PrivateControlPlane {
    fn drop(&mut self) {
        if let Ok(dir) = path_str(&self.dir) {
            let _ = script(&["stop", dir]);
        }
    }
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str().context("temp dir path is not UTF-8")
}

fn script(args: &[&str]) -> Result<()> {
    let out = Command::new(kro_e2e::scripts_dir().join("controlplane.sh"))
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!(
            "controlplane.sh {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn config_rgd(op: &Operator, kind: &str) -> Value {
    op.rgd(
        kind,
        json!({"message": "string | default=\"hi\""}),
        json!({"configName": "${config.metadata.name}"}),
        json!([{"id": "config", "template": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.metadata.name}-config"},
            "data": {"MESSAGE": "${schema.spec.message}"}}}]),
    )
}

async fn config_message(client: &Client, ns: &str, name: &str, want: &str) -> Result<()> {
    let want = want.to_owned();
    wait_object(client, "v1", "ConfigMap", Some(ns), name, move |cm| {
        cm["data"]["MESSAGE"] == want.as_str()
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiserver_restarted_operator_recovers_and_keeps_reconciling() -> Result<()> {
    let cp = tokio::task::block_in_place(PrivateControlPlane::start)?;
    let client = cp.client().await?;
    let ns = kro_e2e::namespace(&client, "op-restart").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Cfg");
    apply(&client, &config_rgd(&op, &kind)).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "first", json!({"message": "before"})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "first", "ACTIVE").await?;

    // The operator keeps running on the other worker while the apiserver is down.
    tokio::task::block_in_place(|| cp.restart_apiserver())?;

    // The same operator, never restarted, picks up a change made after the outage ...
    merge(
        &client,
        &format!("{GROUP}/v1alpha1"),
        &kind,
        Some(&ns),
        "first",
        json!({"spec": {"message": "after"}}),
        false,
    )
    .await?;
    config_message(&client, &ns, "first-config", "after").await?;
    // ... a new instance, which needs its informers to be live again ...
    apply(
        &client,
        &instance(&kind, &ns, "second", json!({"message": "new"})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "second", "ACTIVE").await?;
    config_message(&client, &ns, "second-config", "new").await?;
    // ... and a child deleted by hand, which needs the child watch to be live again.
    delete(&client, "v1", "ConfigMap", Some(&ns), "first-config").await?;
    config_message(&client, &ns, "first-config", "after").await?;

    op.stop().await?;
    drop(cp);
    Ok(())
}

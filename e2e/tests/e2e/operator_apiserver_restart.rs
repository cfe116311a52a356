//! The operator survives its control plane going away, three times in a row: kube-apiserver
//! stopped and started again (an upgrade), kube-apiserver SIGKILLed (a crash or OOM kill: no
//! watch is closed, no request finished), and etcd SIGKILLed and started again on its data. Each
//! time the running operator resumes its watches and keeps reconciling, with nothing lost and
//! no restart of its own.
//!
//! This test runs its own control plane, since restarting the shared one would break every
//! other test running beside it.

use anyhow::Result;
use kube::Client;
use serde_json::{Value, json};

use crate::support::operator::*;
use crate::support::process::PrivateService;
use crate::support::{apply, delete, merge, wait_object};

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

/// After an outage, the same operator, never restarted, picks up a change made after it, a new
/// instance (which needs its informers to be live again) and a child deleted by hand (which
/// needs the child watch to be live again).
async fn keeps_reconciling(
    client: &Client,
    kind: &str,
    ns: &str,
    message: &str,
    new: &str,
) -> Result<()> {
    merge(
        client,
        &instance_api(),
        kind,
        Some(ns),
        "first",
        json!({"spec": {"message": message}}),
        false,
    )
    .await?;
    config_message(client, ns, "first-config", message).await?;
    apply(client, &instance(kind, ns, new, json!({"message": new}))).await?;
    wait_instance_state(client, kind, ns, new, "ACTIVE").await?;
    config_message(client, ns, &format!("{new}-config"), new).await?;
    delete(client, "v1", "ConfigMap", Some(ns), "first-config").await?;
    config_message(client, ns, "first-config", message).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_restarted_killed_and_etcd_killed_operator_keeps_reconciling() -> Result<()> {
    let cp = tokio::task::block_in_place(PrivateService::control_plane)?;
    let client = kro_e2e::client_for(&cp.dir().join("kubeconfig")).await?;
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

    // The operator keeps running on the other worker while the control plane is down.
    for (n, fault) in ["restart-apiserver", "kill-apiserver", "restart-etcd"]
        .into_iter()
        .enumerate()
    {
        tokio::task::block_in_place(|| cp.run(fault))?;
        keeps_reconciling(
            &client,
            &kind,
            &ns,
            &format!("after-{n}"),
            &format!("new-{n}"),
        )
        .await
        .map_err(|e| e.context(format!("after {fault}")))?;
    }

    op.stop().await?;
    drop(cp);
    Ok(())
}

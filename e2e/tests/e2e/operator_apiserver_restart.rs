//! The operator survives its apiserver going away: kube-apiserver is stopped and started again
//! (etcd and its data stay, as in an apiserver upgrade or crash), and the running operator
//! resumes its watches and keeps reconciling, with nothing lost and no restart of its own.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apiserver_restarted_operator_recovers_and_keeps_reconciling() -> Result<()> {
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

    // The operator keeps running on the other worker while the apiserver is down.
    tokio::task::block_in_place(|| cp.run("restart-apiserver"))?;

    // The same operator, never restarted, picks up a change made after the outage ...
    merge(
        &client,
        &instance_api(),
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

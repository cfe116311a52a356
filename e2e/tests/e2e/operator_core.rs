//! The operator's core path on a real apiserver: RGD accepted → CRD Established → instance
//! Ready with projected status; spec updates; drift; deletion order.

use std::time::Duration;

use anyhow::Result;
use kro_e2e::{client, namespace};
use kube::Client;
use serde_json::{Value, json};

use crate::support::operator::*;
use crate::support::{apply, condition, delete, get, merge, wait_object, wait_object_gone};

fn webapp_rgd(op: &Operator, kind: &str) -> Value {
    op.rgd(
        kind,
        json!({"name": "string | required=true", "replicas": "integer | default=1", "message": "string | default=\"hi\""}),
        json!({"availableReplicas": "${deployment.status.?availableReplicas.orValue(0)}", "configName": "${config.metadata.name}"}),
        json!([
            {"id": "config", "template": {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "${schema.spec.name}-config"},
                "data": {"MESSAGE": "${schema.spec.message}"}}},
            {"id": "deployment",
             "template": deployment_template("${schema.spec.name}", "${schema.spec.replicas}", Some("${config.metadata.name}")),
             "readyWhen": ["${deployment.status.?availableReplicas.orValue(0) == deployment.spec.replicas}"]}
        ]),
    )
}

/// A fresh namespace, an operator, and the webapp RGD of a kind of its own, accepted:
/// `(client, namespace, operator, kind, the RGD as it was when it turned Active)`.
async fn webapp_accepted(ns_prefix: &str) -> Result<(Client, String, Operator, String, Value)> {
    let client = client().await?;
    let ns = namespace(&client, ns_prefix).await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Web");
    apply(&client, &webapp_rgd(&op, &kind)).await?;
    let rgd = wait_rgd_active(&client, &rgd_name(&kind)).await?;
    Ok((client, ns, op, kind, rgd))
}

#[tokio::test]
async fn rgd_accepted_crd_established_instance_ready_with_projected_status() -> Result<()> {
    let (client, ns, op, kind, r) = webapp_accepted("op-core").await?;
    assert_eq!(
        r["status"]["topologicalOrder"],
        json!(["config", "deployment"])
    );
    assert_eq!(
        r["status"]["resources"],
        json!([{"id": "deployment", "dependencies": [{"id": "config"}]}])
    );
    for t in ["GraphAccepted", "KindReady", "ControllerReady", "Ready"] {
        assert_eq!(
            condition(&r, t).map(|c| c["status"].clone()),
            Some(json!("True")),
            "{t}: {r}"
        );
    }
    assert!(
        r["metadata"]["finalizers"]
            .as_array()
            .unwrap()
            .contains(&json!("kro.run/finalizer"))
    );
    let crd = instance_crd(&client, &kind).await?.expect("CRD");
    assert_eq!(
        crd["metadata"]["labels"]["kro.run/resource-graph-definition-name"],
        rgd_name(&kind)
    );

    apply(
        &client,
        &instance(&kind, &ns, "demo", json!({"name": "demo", "replicas": 2})),
    )
    .await?;
    let inst = wait_instance_state(&client, &kind, &ns, "demo", "IN_PROGRESS").await?;
    assert!(
        inst["metadata"]["finalizers"]
            .as_array()
            .unwrap()
            .contains(&json!("kro.run/finalizer"))
    );
    let cm = wait_object(&client, "v1", "ConfigMap", Some(&ns), "demo-config", |_| {
        true
    })
    .await?;
    assert_eq!(cm["data"]["MESSAGE"], "hi");
    let labels = &cm["metadata"]["labels"];
    assert_eq!(labels["kro.run/owned"], "true");
    assert_eq!(labels["kro.run/node-id"], "config");
    assert_eq!(labels["kro.run/instance-name"], "demo");
    assert_eq!(labels["kro.run/instance-kind"], kind.as_str());
    let managers: Vec<&str> = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kro.run/applyset"), "{managers:?}");
    let d = wait_object(&client, "apps/v1", "Deployment", Some(&ns), "demo", |_| {
        true
    })
    .await?;
    assert_eq!(d["spec"]["replicas"], 2);
    make_deployment_ready(&client, &ns, "demo").await?;
    let inst = wait_instance_state(&client, &kind, &ns, "demo", "ACTIVE").await?;
    assert_eq!(inst["status"]["availableReplicas"], 2);
    assert_eq!(inst["status"]["configName"], "demo-config");
    for t in [
        "InstanceManaged",
        "GraphResolved",
        "ResourcesReady",
        "Ready",
    ] {
        assert_eq!(
            condition(&inst, t).map(|c| c["status"].clone()),
            Some(json!("True")),
            "{t}: {inst}"
        );
    }
    assert!(
        inst["metadata"]["labels"]["applyset.kubernetes.io/id"]
            .as_str()
            .is_some()
    );
    assert_eq!(
        inst["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"],
        "ConfigMap,Deployment.apps"
    );

    // An idle resync writes nothing: the resourceVersions stay put.
    let rv_inst = inst["metadata"]["resourceVersion"].clone();
    let rv_dep = get(&client, "apps/v1", "Deployment", Some(&ns), "demo")
        .await?
        .unwrap()["metadata"]["resourceVersion"]
        .clone();
    // Proving that nothing happens takes a while: the operator is left idle for three of its
    // 1 s test requeues before the resourceVersions are read again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let inst2 = get(&client, &instance_api(), &kind, Some(&ns), "demo")
        .await?
        .unwrap();
    let dep2 = get(&client, "apps/v1", "Deployment", Some(&ns), "demo")
        .await?
        .unwrap();
    assert_eq!(
        inst2["metadata"]["resourceVersion"], rv_inst,
        "instance rewritten while idle"
    );
    assert_eq!(
        dep2["metadata"]["resourceVersion"], rv_dep,
        "deployment rewritten while idle"
    );
    op.stop().await
}

#[tokio::test]
async fn instance_spec_update_updates_children() -> Result<()> {
    let (client, ns, op, kind, _) = webapp_accepted("op-update").await?;
    apply(
        &client,
        &instance(&kind, &ns, "app", json!({"name": "app", "replicas": 1})),
    )
    .await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "app", |_| true).await?;
    apply(
        &client,
        &instance(
            &kind,
            &ns,
            "app",
            json!({"name": "app", "replicas": 3, "message": "bye"}),
        ),
    )
    .await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "app", |d| {
        d["spec"]["replicas"] == 3
    })
    .await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "app-config", |c| {
        c["data"]["MESSAGE"] == "bye"
    })
    .await?;
    op.stop().await
}

#[tokio::test]
async fn child_edited_by_hand_is_restored_and_deleted_child_recreated() -> Result<()> {
    let (client, ns, op, kind, _) = webapp_accepted("op-drift").await?;
    apply(
        &client,
        &instance(&kind, &ns, "d", json!({"name": "d", "replicas": 2})),
    )
    .await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "d", |_| true).await?;
    make_deployment_ready(&client, &ns, "d").await?;
    wait_instance_state(&client, &kind, &ns, "d", "ACTIVE").await?;

    // Edit a field kro manages: restored.
    merge(
        &client,
        "v1",
        "ConfigMap",
        Some(&ns),
        "d-config",
        json!({"data": {"MESSAGE": "tampered"}}),
        false,
    )
    .await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "d-config", |c| {
        c["data"]["MESSAGE"] == "hi"
    })
    .await?;
    merge(
        &client,
        "apps/v1",
        "Deployment",
        Some(&ns),
        "d",
        json!({"spec": {"replicas": 7}}),
        false,
    )
    .await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "d", |d| {
        d["spec"]["replicas"] == 2
    })
    .await?;

    // Delete a child: recreated (with a new UID).
    let old = get(&client, "v1", "ConfigMap", Some(&ns), "d-config")
        .await?
        .unwrap();
    delete(&client, "v1", "ConfigMap", Some(&ns), "d-config").await?;
    let new = wait_object(&client, "v1", "ConfigMap", Some(&ns), "d-config", |c| {
        c["metadata"]["uid"] != old["metadata"]["uid"]
    })
    .await?;
    assert_eq!(new["data"]["MESSAGE"], "hi");
    op.stop().await
}

#[tokio::test]
async fn instance_delete_removes_children_in_reverse_order() -> Result<()> {
    let (client, ns, op, kind, _) = webapp_accepted("op-delete").await?;
    apply(&client, &instance(&kind, &ns, "x", json!({"name": "x"}))).await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "x", |_| true).await?;
    // Hold the dependent (Deployment) with a finalizer of our own: while it is terminating the
    // ConfigMap it depends on must stay.
    merge(
        &client,
        "apps/v1",
        "Deployment",
        Some(&ns),
        "x",
        json!({"metadata": {"finalizers": ["e2e.kro.run/hold"]}}),
        false,
    )
    .await?;
    delete(&client, &instance_api(), &kind, Some(&ns), "x").await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "x", |d| {
        d["metadata"]["deletionTimestamp"].is_string()
    })
    .await?;
    let inst = wait_instance_state(&client, &kind, &ns, "x", "DELETING").await?;
    assert_eq!(
        condition(&inst, "ResourcesReady").map(|c| c["reason"].clone()),
        Some(json!("UnderDeletion"))
    );
    // Proving that the dependency is NOT deleted takes a while: the deleting instance keeps
    // reconciling (1 s test requeues) while its Deployment is held.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "x-config")
            .await?
            .is_some(),
        "dependency deleted before its dependent"
    );
    merge(
        &client,
        "apps/v1",
        "Deployment",
        Some(&ns),
        "x",
        json!({"metadata": {"finalizers": null}}),
        false,
    )
    .await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "x-config").await?;
    wait_object_gone(&client, &instance_api(), &kind, Some(&ns), "x").await?;
    op.stop().await
}

#[tokio::test]
async fn suspended_instance_is_left_alone_until_resumed() -> Result<()> {
    let (client, ns, op, kind, _) = webapp_accepted("op-suspend").await?;
    apply(&client, &instance(&kind, &ns, "s", json!({"name": "s"}))).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "s-config", |_| true).await?;

    let mut suspended = instance(&kind, &ns, "s", json!({"name": "s", "message": "later"}));
    suspended["metadata"]["annotations"] = json!({"kro.run/reconcile": "Suspended"});
    apply(&client, &suspended).await?;
    let inst = wait_instance_reason(
        &client,
        &kind,
        &ns,
        "s",
        "ResourcesReady",
        "ReconciliationSuspended",
    )
    .await?;
    assert_eq!(
        condition(&inst, "ResourcesReady").unwrap()["status"],
        "False"
    );
    // Proving that a suspended instance is NOT reconciled takes a while: two seconds of 1 s
    // test requeues before the ConfigMap is read again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cm = get(&client, "v1", "ConfigMap", Some(&ns), "s-config")
        .await?
        .unwrap();
    assert_eq!(
        cm["data"]["MESSAGE"], "hi",
        "a suspended instance was reconciled"
    );

    suspended["metadata"]["annotations"] = json!({});
    apply(&client, &suspended).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "s-config", |c| {
        c["data"]["MESSAGE"] == "later"
    })
    .await?;
    op.stop().await
}

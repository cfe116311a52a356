//! Graph behaviour through the operator on a real apiserver: includeWhen, forEach, readyWhen
//! gating, externalRef reads and watches, chained RGDs.

use std::time::Duration;

use anyhow::Result;
use kro_e2e::{client, namespace};
use serde_json::json;

use crate::support::operator::*;
use crate::support::{apply, condition, get, wait_object, wait_object_gone};

#[tokio::test]
async fn include_when_flip_creates_then_prunes_the_child() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-include").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Opt");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"extra": "boolean | default=false"}),
            json!({}),
            json!([
                {"id": "base", "template": config_map("${schema.metadata.name}-base", json!({"k": "v"}))},
                {"id": "extra", "includeWhen": ["${schema.spec.extra}"],
                 "template": config_map("${schema.metadata.name}-extra", json!({"k": "v"}))}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "i", json!({"extra": false}))).await?;
    wait_instance_state(&client, &kind, &ns, "i", "ACTIVE").await?;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "i-extra")
            .await?
            .is_none()
    );

    apply(&client, &instance(&kind, &ns, "i", json!({"extra": true}))).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "i-extra", |_| true).await?;

    apply(&client, &instance(&kind, &ns, "i", json!({"extra": false}))).await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "i-extra").await?;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "i-base")
            .await?
            .is_some(),
        "pruned too much"
    );
    op.stop().await
}

#[tokio::test]
async fn for_each_grows_and_shrinks() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-foreach").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Coll");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"regions": "[]string"}),
            json!({}),
            json!([
                {"id": "configs", "forEach": [{"region": "${schema.spec.regions}"}],
                 "template": config_map("${schema.metadata.name}-${region}", json!({"region": "${region}"}))}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "c", json!({"regions": ["eu", "us"]})),
    )
    .await?;
    let eu = wait_object(&client, "v1", "ConfigMap", Some(&ns), "c-eu", |_| true).await?;
    assert_eq!(eu["metadata"]["labels"]["kro.run/collection-index"], "0");
    assert_eq!(eu["metadata"]["labels"]["kro.run/collection-size"], "2");
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "c-us", |_| true).await?;
    wait_instance_state(&client, &kind, &ns, "c", "ACTIVE").await?;

    apply(
        &client,
        &instance(&kind, &ns, "c", json!({"regions": ["eu", "us", "ap"]})),
    )
    .await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "c-ap", |c| {
        c["data"]["region"] == "ap"
    })
    .await?;

    apply(
        &client,
        &instance(&kind, &ns, "c", json!({"regions": ["ap"]})),
    )
    .await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "c-eu").await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "c-us").await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "c-ap", |c| {
        c["metadata"]["labels"]["kro.run/collection-size"] == "1"
    })
    .await?;
    op.stop().await
}

#[tokio::test]
async fn ready_when_gates_dependents_until_ready() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-ready").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Gate");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"replicas": "integer | default=1"}),
            json!({}),
            json!([
                {"id": "deployment",
                 "template": deployment_template("${schema.metadata.name}", "${schema.spec.replicas}", None),
                 "readyWhen": ["${deployment.status.?availableReplicas.orValue(0) >= 1}"]},
                {"id": "after", "template": config_map("${schema.metadata.name}-after", json!({"dep": "${deployment.metadata.name}"}))}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "g", json!({}))).await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "g", |_| true).await?;
    let inst = wait_instance_state(&client, &kind, &ns, "g", "IN_PROGRESS").await?;
    assert_eq!(
        condition(&inst, "ResourcesReady").map(|c| c["status"].clone()),
        Some(json!("False"))
    );
    // Proving that the dependent is NOT created takes a while: three seconds of 1 s test
    // requeues with the Deployment still unready.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "g-after")
            .await?
            .is_none(),
        "dependent created before its dependency was ready"
    );
    make_deployment_ready(&client, &ns, "g").await?;
    let after = wait_object(&client, "v1", "ConfigMap", Some(&ns), "g-after", |_| true).await?;
    assert_eq!(after["data"]["dep"], "g");
    wait_instance_state(&client, &kind, &ns, "g", "ACTIVE").await?;
    op.stop().await
}

#[tokio::test]
async fn external_ref_is_read_and_changes_propagate() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-extref").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Ext");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"settings": "string"}),
            json!({"value": "${settings.data.?VALUE.orValue(\"none\")}"}),
            json!([
                {"id": "settings", "externalRef": {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "${schema.spec.settings}"}}},
                {"id": "copy", "template": config_map("${schema.metadata.name}-copy",
                    json!({"VALUE": "${settings.data.?VALUE.orValue(\"none\")}"}))}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "e", json!({"settings": "shared"})),
    )
    .await?;
    // Not there yet: the instance waits and creates nothing that depends on it.
    wait_instance_state(&client, &kind, &ns, "e", "IN_PROGRESS").await?;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "e-copy")
            .await?
            .is_none()
    );

    let mut shared = config_map("shared", json!({"VALUE": "one"}));
    shared["metadata"]["namespace"] = json!(ns);
    apply(&client, &shared).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "e-copy", |c| {
        c["data"]["VALUE"] == "one"
    })
    .await?;
    let inst = wait_instance_state(&client, &kind, &ns, "e", "ACTIVE").await?;
    assert_eq!(inst["status"]["value"], "one");

    shared["data"]["VALUE"] = json!("two");
    apply(&client, &shared).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "e-copy", |c| {
        c["data"]["VALUE"] == "two"
    })
    .await?;
    // The external object is never managed by kro.
    let ext = get(&client, "v1", "ConfigMap", Some(&ns), "shared")
        .await?
        .unwrap();
    assert!(ext["metadata"]["labels"]["kro.run/owned"].is_null());
    op.stop().await
}

#[tokio::test]
async fn chained_rgds_expand_both_levels() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-chain").await?;
    let op = Operator::start(client.clone());
    let inner = unique_kind("Inner");
    let outer = unique_kind("Outer");
    apply(
        &client,
        &op.rgd(
            &inner,
            json!({"message": "string"}),
            json!({"echo": "${cfg.data.message}"}),
            json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-inner", json!({"message": "${schema.spec.message}"}))}]),
        ),
    )
    .await?;
    // The outer RGD may be applied before the inner kind exists: it must converge anyway.
    apply(
        &client,
        &op.rgd(
            &outer,
            json!({"message": "string"}),
            json!({"innerState": "${child.status.?state.orValue(\"PENDING\")}"}),
            json!([
                {"id": "child", "template": {
                    "apiVersion": instance_api(), "kind": inner,
                    "metadata": {"name": "${schema.metadata.name}-child"},
                    "spec": {"message": "${schema.spec.message}"}},
                 "readyWhen": ["${child.status.?state.orValue(\"\") == \"ACTIVE\"}"]}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&inner)).await?;
    wait_rgd_active(&client, &rgd_name(&outer)).await?;
    apply(
        &client,
        &instance(&outer, &ns, "o", json!({"message": "deep"})),
    )
    .await?;
    let inner_cm = wait_object(
        &client,
        "v1",
        "ConfigMap",
        Some(&ns),
        "o-child-inner",
        |_| true,
    )
    .await?;
    assert_eq!(inner_cm["data"]["message"], "deep");
    let o = wait_instance_state(&client, &outer, &ns, "o", "ACTIVE").await?;
    assert_eq!(o["status"]["innerState"], "ACTIVE");
    op.stop().await
}

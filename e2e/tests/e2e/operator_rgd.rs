//! RGD lifecycle through the operator: invalid RGDs reported without blocking valid ones,
//! compatible and breaking schema changes, RGD deletion, and an operator restart mid-way.

use anyhow::Result;
use kro_e2e::{client, namespace};
use serde_json::json;

use crate::support::operator::*;
use crate::support::{
    api_for, apply, condition, delete, get, wait_for, wait_object, wait_object_gone,
};

#[tokio::test]
async fn invalid_rgds_get_a_condition_while_a_valid_one_keeps_working() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-invalid").await?;
    let op = Operator::start(client.clone());

    let bad_cel = unique_kind("BadCel");
    apply(
        &client,
        &op.rgd(&bad_cel, json!({"name": "string"}), json!({}),
            json!([{"id": "cfg", "template": config_map("${schema.spec.name", json!({"a": "${schema.spec.nope}"}))}])),
    )
    .await?;
    let cycle = unique_kind("Cycle");
    apply(
        &client,
        &op.rgd(
            &cycle,
            json!({}),
            json!({}),
            json!([
                {"id": "a", "template": config_map("a", json!({"peer": "${b.metadata.name}"}))},
                {"id": "b", "template": config_map("b", json!({"peer": "${a.metadata.name}"}))}
            ]),
        ),
    )
    .await?;
    let unknown = unique_kind("Unknown");
    let mut dep = deployment_template("${schema.metadata.name}", "${schema.spec.replicas}", None);
    dep["spec"]["replicass"] = json!(2);
    apply(
        &client,
        &op.rgd(
            &unknown,
            json!({"replicas": "integer | default=1"}),
            json!({}),
            json!([{"id": "deployment", "template": dep}]),
        ),
    )
    .await?;
    let good = unique_kind("Good");
    apply(
        &client,
        &op.rgd(&good, json!({}), json!({}), json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-good", json!({"k": "v"}))}])),
    )
    .await?;

    wait_rgd_active(&client, &rgd_name(&good)).await?;
    apply(&client, &instance(&good, &ns, "ok", json!({}))).await?;
    wait_instance_state(&client, &good, &ns, "ok", "ACTIVE").await?;

    for (kind, needle) in [
        (&bad_cel, "cfg"),
        (&cycle, "cycle"),
        (&unknown, "replicass"),
    ] {
        let r = wait_rgd_condition(&client, &rgd_name(kind), "GraphAccepted", "False").await?;
        let c = condition(&r, "GraphAccepted").unwrap();
        assert_eq!(c["reason"], "InvalidResourceGraph", "{kind}: {c}");
        let msg = c["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(needle),
            "{kind}: message {msg:?} should mention {needle:?}"
        );
        assert_eq!(r["status"]["state"], "Inactive");
        assert_eq!(condition(&r, "Ready").unwrap()["status"], "False");
        assert!(instance_crd(&client, kind).await?.is_none());
    }
    op.stop().await
}

#[tokio::test]
async fn rgd_update_compatible_rolls_out_and_breaking_is_refused() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-rgdupdate").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Evolve");
    let v1 = op.rgd(&kind, json!({"name": "string"}), json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"name": "${schema.spec.name}"}))}]));
    apply(&client, &v1).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "i", json!({"name": "a"}))).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "i-cfg", |c| {
        c["data"]["name"] == "a"
    })
    .await?;

    // Compatible: a new field with a default; the CRD gains it and the new template rolls out.
    let v2 = op.rgd(
        &kind,
        json!({"name": "string", "color": "string | default=\"blue\""}),
        json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg",
            json!({"name": "${schema.spec.name}", "color": "${schema.spec.color}"}))}]),
    );
    apply(&client, &v2).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "i-cfg", |c| {
        c["data"]["color"] == "blue"
    })
    .await?;
    let c = instance_crd(&client, &kind).await?.unwrap();
    assert!(c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["color"].is_object());
    wait_rgd_active(&client, &rgd_name(&kind)).await?;

    // Breaking: a field changes type. Refused; the running controller keeps the old graph.
    let v3 = op.rgd(&kind, json!({"name": "integer", "color": "string | default=\"blue\""}), json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"name": "${string(schema.spec.name)}"}))}]));
    apply(&client, &v3).await?;
    let r = wait_rgd_condition(&client, &rgd_name(&kind), "KindReady", "False").await?;
    let msg = condition(&r, "KindReady").unwrap()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("breaking changes detected"), "{msg}");
    assert_eq!(r["status"]["state"], "Inactive");
    let c = instance_crd(&client, &kind).await?.unwrap();
    assert_eq!(
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["name"]
            ["type"],
        "string"
    );
    apply(&client, &instance(&kind, &ns, "i", json!({"name": "b"}))).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "i-cfg", |c| {
        c["data"]["name"] == "b"
    })
    .await?;

    // The annotation lets it through.
    let mut v3 = v3;
    v3["metadata"]["annotations"] = json!({"kro.run/allow-breaking-changes": "true"});
    apply(&client, &v3).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    let c = instance_crd(&client, &kind).await?.unwrap();
    assert_eq!(
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["name"]
            ["type"],
        "integer"
    );
    op.stop().await
}

#[tokio::test]
async fn rgd_delete_keeps_crd_and_instances_unless_allowed() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-rgddelete").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Keep");
    apply(&client, &op.rgd(&kind, json!({}), json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"k": "v"}))}]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "i", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "i", "ACTIVE").await?;
    delete(&client, KRO_API, RGD_KIND, None, &rgd_name(&kind)).await?;
    wait_object_gone(&client, KRO_API, RGD_KIND, None, &rgd_name(&kind)).await?;
    assert!(instance_crd(&client, &kind).await?.is_some());
    assert!(
        get(&client, &instance_api(), &kind, Some(&ns), "i")
            .await?
            .is_some()
    );
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "i-cfg")
            .await?
            .is_some()
    );
    op.stop().await?;

    // With --allow-crd-deletion the CRD goes with its RGD.
    let op = Operator::start_with(
        client.clone(),
        kro_controller::Options {
            allow_crd_deletion: true,
            ..kro_controller::Options::for_tests()
        },
    );
    let kind = unique_kind("Drop");
    apply(&client, &op.rgd(&kind, json!({}), json!({}),
        json!([{"id": "cfg", "template": config_map("${schema.metadata.name}-cfg", json!({"k": "v"}))}]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    delete(&client, KRO_API, RGD_KIND, None, &rgd_name(&kind)).await?;
    wait_for("CRD deleted or terminating", || async {
        Ok(match instance_crd(&client, &kind).await? {
            None => Some(()),
            Some(c) if c["metadata"]["deletionTimestamp"].is_string() => Some(()),
            Some(_) => None,
        })
    })
    .await?;
    op.stop().await
}

#[tokio::test]
async fn operator_restart_mid_way_converges_without_duplicates() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "op-restart").await?;
    let op = Operator::start(client.clone());
    let id = op.id.clone();
    let kind = unique_kind("Restart");
    apply(&client, &op.rgd(&kind, json!({"regions": "[]string"}), json!({}), json!([
        {"id": "configs", "forEach": [{"region": "${schema.spec.regions}"}],
         "template": config_map("${schema.metadata.name}-${region}", json!({"region": "${region}"}))},
        {"id": "deployment", "template": deployment_template("${schema.metadata.name}", "${size(configs)}", None),
         "readyWhen": ["${deployment.status.?availableReplicas.orValue(0) >= 1}"]}
    ]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "r", json!({"regions": ["a", "b"]})),
    )
    .await?;
    wait_object(&client, "apps/v1", "Deployment", Some(&ns), "r", |_| true).await?;
    op.stop().await?;

    // While it is down: the spec changes and a child is deleted by hand.
    apply(
        &client,
        &instance(&kind, &ns, "r", json!({"regions": ["b", "c"]})),
    )
    .await?;
    delete(&client, "v1", "ConfigMap", Some(&ns), "r-b").await?;
    make_deployment_ready(&client, &ns, "r").await?;

    let op = Operator::start_as(client.clone(), kro_controller::Options::for_tests(), id);
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "r-a").await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "r-b", |_| true).await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "r-c", |_| true).await?;
    wait_instance_state(&client, &kind, &ns, "r", "ACTIVE").await?;
    let cms = api_for(&client, "v1", "ConfigMap", Some(&ns))
        .await?
        .list(&kube::api::ListParams::default().labels("kro.run/node-id=configs"))
        .await?;
    let mut names: Vec<String> = cms
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(names, vec!["r-b", "r-c"]);
    let deps = api_for(&client, "apps/v1", "Deployment", Some(&ns))
        .await?
        .list(&Default::default())
        .await?;
    assert_eq!(deps.items.len(), 1);
    op.stop().await
}

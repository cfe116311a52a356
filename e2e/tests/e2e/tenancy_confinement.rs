//! Namespace confinement: what a namespaced instance may reach in the `instance` and `any`
//! modes (children, cluster-scoped kinds, externalRefs, Secret reads).
//!
//! Each test runs its RGD under an operator in `instance` mode, then restarts "the same"
//! operator (same RGD label) in `any` mode or with an allowlist, and shows what changes.

use anyhow::Result;
use kro_controller::Options;
use kro_controller::options::{NamespaceConfinement, parse_group_kinds};
use kro_e2e::{client, namespace};
use serde_json::json;

use crate::support::operator::*;
use crate::support::{
    apply, condition, condition_message, delete, get, wait_object, wait_object_gone,
};

/// Test options in `instance` mode, allowing the cluster-scoped kinds listed.
fn confined(allowed: &str) -> Result<Options> {
    Ok(Options {
        namespace_confinement: NamespaceConfinement::Instance,
        allowed_cluster_scoped_kinds: parse_group_kinds(allowed).map_err(anyhow::Error::msg)?,
        ..Options::for_tests()
    })
}

#[tokio::test]
async fn child_in_another_namespace_is_refused_in_instance_mode_and_created_in_any_mode()
-> Result<()> {
    let client = client().await?;
    let team = namespace(&client, "conf-team").await?;
    let other = namespace(&client, "conf-other").await?;
    let op = Operator::start_with(client.clone(), confined("")?);
    let kind = unique_kind("Spill");
    let rgd = op.rgd(
        &kind,
        json!({"ns": "string"}),
        json!({}),
        json!([
            {"id": "local", "template": config_map("${schema.metadata.name}-local", json!({"a": "1"}))},
            {"id": "victim", "template": {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "victim", "namespace": "${schema.spec.ns}"},
                "data": {"owned": "by-tenant"}}},
        ]),
    );
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &team, "spill", json!({"ns": other})),
    )
    .await?;

    let inst = wait_instance_reason(
        &client,
        &kind,
        &team,
        "spill",
        "ResourcesReady",
        "NamespaceConfinement",
    )
    .await?;
    let message = condition_message(&inst, "ResourcesReady");
    assert!(
        message.contains(&format!("ConfigMap {other}/victim"))
            && message.contains(&format!("outside the instance's namespace \"{team}\""))
            && message.contains("--namespace-confinement=instance"),
        "{message}"
    );
    assert_eq!(inst["status"]["state"], "ERROR", "{inst}");
    assert_eq!(
        condition(&inst, "Ready").map(|c| c["status"].clone()),
        Some(json!("False"))
    );
    // What stays inside the namespace is still created; nothing is written to the other one.
    wait_object(
        &client,
        "v1",
        "ConfigMap",
        Some(&team),
        "spill-local",
        |_| true,
    )
    .await?;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&other), "victim")
            .await?
            .is_none(),
        "a confined instance wrote into namespace {other}"
    );

    // kro's behaviour, `any`: the same instance creates the ConfigMap in the other namespace.
    let id = op.id.clone();
    op.stop().await?;
    let op = Operator::start_as(client.clone(), Options::for_tests(), id);
    wait_instance_state(&client, &kind, &team, "spill", "ACTIVE").await?;
    let victim = wait_object(&client, "v1", "ConfigMap", Some(&other), "victim", |_| true).await?;
    assert_eq!(victim["data"]["owned"], "by-tenant");
    delete(&client, &instance_api(), &kind, Some(&team), "spill").await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&other), "victim").await?;
    op.stop().await
}

#[tokio::test]
async fn literal_other_namespace_keeps_the_rgd_from_being_accepted_in_instance_mode() -> Result<()>
{
    let client = client().await?;
    let op = Operator::start_with(client.clone(), confined("")?);
    let kind = unique_kind("Pinned");
    let rgd = op.rgd(
        &kind,
        json!({}),
        json!({}),
        json!([{"id": "pinned", "template": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${schema.metadata.name}", "namespace": "kube-public"}}}]),
    );
    apply(&client, &rgd).await?;
    let refused = wait_rgd_condition(&client, &rgd_name(&kind), "GraphAccepted", "False").await?;
    let message = condition_message(&refused, "GraphAccepted");
    assert!(
        message.contains("resource \"pinned\"")
            && message.contains("metadata.namespace")
            && message.contains("\"kube-public\"")
            && message.contains("remove metadata.namespace")
            && message.contains("--namespace-confinement=any"),
        "{message}"
    );
    assert_ne!(refused["status"]["state"], "Active", "{refused}");
    assert!(instance_crd(&client, &kind).await?.is_none());

    let id = op.id.clone();
    op.stop().await?;
    let op = Operator::start_as(client.clone(), Options::for_tests(), id);
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    op.stop().await
}

#[tokio::test]
async fn cluster_scoped_child_is_refused_unless_its_kind_is_allowlisted() -> Result<()> {
    let client = client().await?;
    let team = namespace(&client, "conf-cluster").await?;
    let op = Operator::start_with(client.clone(), confined("Namespace")?);
    let kind = unique_kind("Roles");
    let rgd = op.rgd(
        &kind,
        json!({}),
        json!({}),
        json!([{"id": "role", "template": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "${schema.metadata.namespace}-${schema.metadata.name}"},
            "rules": []}}]),
    );
    apply(&client, &rgd).await?;
    let refused = wait_rgd_condition(&client, &rgd_name(&kind), "GraphAccepted", "False").await?;
    let message = condition_message(&refused, "GraphAccepted");
    assert!(
        message.contains("resource \"role\"")
            && message.contains("cluster-scoped ClusterRole.rbac.authorization.k8s.io")
            && message.contains(
                "add ClusterRole.rbac.authorization.k8s.io to --allowed-cluster-scoped-kinds"
            ),
        "{message}"
    );

    let id = op.id.clone();
    op.stop().await?;
    let op = Operator::start_as(
        client.clone(),
        confined("Namespace,ClusterRole.rbac.authorization.k8s.io")?,
        id,
    );
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &team, "ops", json!({}))).await?;
    wait_instance_state(&client, &kind, &team, "ops", "ACTIVE").await?;
    let role_name = format!("{team}-ops");
    wait_object(
        &client,
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        None,
        &role_name,
        |_| true,
    )
    .await?;
    delete(&client, &instance_api(), &kind, Some(&team), "ops").await?;
    wait_object_gone(
        &client,
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        None,
        &role_name,
    )
    .await?;
    op.stop().await
}

#[tokio::test]
async fn external_ref_in_another_namespace_is_refused_in_instance_mode_and_read_in_any_mode()
-> Result<()> {
    let client = client().await?;
    let team = namespace(&client, "conf-ref").await?;
    let platform = namespace(&client, "conf-platform").await?;
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": platform},
            "data": {"tier": "gold"}}),
    )
    .await?;
    let op = Operator::start_with(client.clone(), confined("")?);
    let kind = unique_kind("Peek");
    let rgd = op.rgd(
        &kind,
        json!({"ns": "string"}),
        json!({"tier": "${settings.data.tier}"}),
        json!([{"id": "settings", "externalRef": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "${schema.spec.ns}"}}}]),
    );
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &team, "peek", json!({"ns": platform})),
    )
    .await?;
    let inst = wait_instance_reason(
        &client,
        &kind,
        &team,
        "peek",
        "ResourcesReady",
        "NamespaceConfinement",
    )
    .await?;
    let message = condition_message(&inst, "ResourcesReady");
    assert!(
        message.contains(&format!("externalRef ConfigMap {platform}/settings"))
            && message.contains("--namespace-confinement=instance"),
        "{message}"
    );
    assert!(inst["status"].get("tier").is_none(), "{inst}");

    let id = op.id.clone();
    op.stop().await?;
    let op = Operator::start_as(client.clone(), Options::for_tests(), id);
    let inst = wait_instance_state(&client, &kind, &team, "peek", "ACTIVE").await?;
    assert_eq!(inst["status"]["tier"], "gold", "{inst}");
    op.stop().await
}

#[tokio::test]
async fn external_ref_selector_without_namespace_reads_only_the_instances_namespace_when_confined()
-> Result<()> {
    let client = client().await?;
    let team = namespace(&client, "conf-sel").await?;
    let elsewhere = namespace(&client, "conf-sel-other").await?;
    let label = kro_e2e::unique_name("shared");
    for ns in [&team, &elsewhere] {
        apply(
            &client,
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "flag", "namespace": ns, "labels": {"e2e.kro.run/set": label}}}),
        )
        .await?;
    }
    let op = Operator::start_with(client.clone(), confined("")?);
    let kind = unique_kind("Survey");
    let rgd = op.rgd(
        &kind,
        json!({}),
        json!({"seen": "${size(flags)}"}),
        json!([{"id": "flags", "externalRef": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"selector": {"matchLabels": {"e2e.kro.run/set": label}}}}}]),
    );
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &team, "survey", json!({}))).await?;
    let inst = wait_instance_state(&client, &kind, &team, "survey", "ACTIVE").await?;
    assert_eq!(inst["status"]["seen"], 1, "only {team} is read: {inst}");

    // kro's behaviour: a selector without a namespace reads every namespace.
    let id = op.id.clone();
    op.stop().await?;
    let op = Operator::start_as(client.clone(), Options::for_tests(), id);
    let api = crate::support::served_api(&client, &instance_api(), &kind, Some(&team)).await?;
    crate::support::wait_json(&api, "survey", "both namespaces read", |obj| {
        obj["status"]["seen"] == 2
    })
    .await?;
    op.stop().await
}

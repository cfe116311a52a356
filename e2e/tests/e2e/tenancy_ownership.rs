//! Ownership of children: conflicts with other ApplySets, unowned objects (refused, or adopted
//! with the RGD's opt-in and orphaned on delete), deletionPolicy on delete, prune, includeWhen and
//! forEach shrink, and prune/cleanup scoped to the ApplySet's namespaces.

use anyhow::{Context, Result};
use kro_e2e::{client, namespace};
use kube::Client;
use serde_json::{Value, json};

use crate::support::operator::*;
use crate::support::{apply, condition_message, delete, get, wait_object, wait_object_gone};

/// kro's labels on an object: `kro.run/*` and the ApplySet's `part-of`.
fn kro_labels(obj: &Value) -> Vec<String> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels
                .keys()
                .filter(|key| {
                    key.starts_with("kro.run/") || key.as_str() == "applyset.kubernetes.io/part-of"
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn annotation<'a>(obj: &'a Value, key: &str) -> &'a Value {
    &obj["metadata"]["annotations"][key]
}

/// Deletes an instance and waits until it is gone (its finalizer removed).
async fn delete_instance(client: &Client, kind: &str, ns: &str, name: &str) -> Result<()> {
    delete(client, &instance_api(), kind, Some(ns), name).await?;
    wait_object_gone(client, &instance_api(), kind, Some(ns), name).await
}

/// Waits until the instance is in ERROR with a `ResourcesReady=False` message containing
/// `needle`, and returns that message.
async fn wait_refused(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
    needle: &str,
) -> Result<String> {
    let stored = wait_object(client, &instance_api(), kind, Some(ns), name, |obj| {
        obj["status"]["state"] == "ERROR"
            && condition_message(obj, "ResourcesReady").contains(needle)
    })
    .await?;
    let ready = crate::support::condition(&stored, "ResourcesReady").context("ResourcesReady")?;
    assert_eq!(ready["status"], "False", "{stored:#}");
    assert_eq!(ready["reason"], "NotReady", "{stored:#}");
    Ok(condition_message(&stored, "ResourcesReady").to_string())
}

/// A hand-made ConfigMap (field manager `e2e`, no kro labels).
async fn hand_made(client: &Client, ns: &str, name: &str) -> Result<()> {
    apply(
        client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": ns, "labels": {"team": "theirs"}},
                "data": {"owner": "theirs"}}),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn two_instances_rendering_one_object_the_second_is_refused() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "own-conflict").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Shared");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"target": "string"}),
            json!({}),
            json!([{"id": "config",
                    "template": config_map("${schema.spec.target}", json!({"owner": "${schema.metadata.name}"}))}]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "first", json!({"target": "shared"})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "first", "ACTIVE").await?;

    apply(
        &client,
        &instance(&kind, &ns, "second", json!({"target": "shared"})),
    )
    .await?;
    let message = wait_refused(
        &client,
        &kind,
        &ns,
        "second",
        "resource belongs to a different ApplySet",
    )
    .await?;
    assert!(
        message.contains(&format!("ConfigMap {ns}/shared belongs to ApplySet"))
            && message.contains(&format!("(instance {kind} {ns}/first)")),
        "{message}"
    );
    let cm = get(&client, "v1", "ConfigMap", Some(&ns), "shared")
        .await?
        .context("the first instance's ConfigMap")?;
    assert_eq!(cm["data"]["owner"], "first", "{cm:#}");
    assert_eq!(cm["metadata"]["labels"]["kro.run/instance-name"], "first");

    // Deleting the refused instance leaves the first one's object alone.
    delete_instance(&client, &kind, &ns, "second").await?;
    let cm = get(&client, "v1", "ConfigMap", Some(&ns), "shared")
        .await?
        .context("still there after the second instance went")?;
    assert_eq!(cm["data"]["owner"], "first");
    assert_eq!(cm["metadata"]["labels"]["kro.run/instance-name"], "first");
    wait_instance_state(&client, &kind, &ns, "first", "ACTIVE").await?;

    // Deleting its owner deletes it.
    delete_instance(&client, &kind, &ns, "first").await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "shared").await?;
    op.stop().await
}

#[tokio::test]
async fn a_hand_made_object_is_refused_then_adopted_with_the_opt_in_and_orphaned() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "own-adopt").await?;
    let op = Operator::start(client.clone());
    hand_made(&client, &ns, "handmade").await?;
    let template = config_map("${schema.spec.target}", json!({"owner": "kro"}));
    let refusing = unique_kind("Refuse");
    let adopting = unique_kind("Adopt");
    apply(
        &client,
        &op.rgd(
            &refusing,
            json!({"target": "string"}),
            json!({}),
            json!([{"id": "config", "template": template}]),
        ),
    )
    .await?;
    apply(
        &client,
        &op.rgd(
            &adopting,
            json!({"target": "string"}),
            json!({}),
            json!([{"id": "config", "adoptionPolicy": "AdoptOrCreate", "template": template}]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&refusing)).await?;
    wait_rgd_active(&client, &rgd_name(&adopting)).await?;

    // Without the opt-in: refused, untouched, and still untouched once the instance is gone.
    apply(
        &client,
        &instance(&refusing, &ns, "r", json!({"target": "handmade"})),
    )
    .await?;
    let message = wait_refused(
        &client,
        &refusing,
        &ns,
        "r",
        "resource is not managed by kro",
    )
    .await?;
    assert!(
        message.contains(&format!(
            "ConfigMap {ns}/handmade already exists and belongs to no ApplySet"
        )) && message.contains("adoptionPolicy: AdoptOrCreate"),
        "{message}"
    );
    delete_instance(&client, &refusing, &ns, "r").await?;
    let cm = get(&client, "v1", "ConfigMap", Some(&ns), "handmade")
        .await?
        .context("a refused object is never deleted")?;
    assert_eq!(cm["data"]["owner"], "theirs", "{cm:#}");
    assert!(kro_labels(&cm).is_empty(), "{cm:#}");

    // With it: adopted (the data is now rendered), recorded on the object.
    apply(
        &client,
        &instance(&adopting, &ns, "a", json!({"target": "handmade"})),
    )
    .await?;
    wait_instance_state(&client, &adopting, &ns, "a", "ACTIVE").await?;
    let cm = wait_object(&client, "v1", "ConfigMap", Some(&ns), "handmade", |cm| {
        cm["data"]["owner"] == "kro"
    })
    .await?;
    assert_eq!(
        annotation(&cm, "internal.kro.run/adopted"),
        "true",
        "{cm:#}"
    );
    assert_eq!(cm["metadata"]["labels"]["kro.run/instance-name"], "a");

    // On instance delete it is orphaned: still there, without kro's labels.
    delete_instance(&client, &adopting, &ns, "a").await?;
    let cm = get(&client, "v1", "ConfigMap", Some(&ns), "handmade")
        .await?
        .context("an adopted object is orphaned, not deleted")?;
    assert!(kro_labels(&cm).is_empty(), "{cm:#}");
    assert_eq!(cm["metadata"]["labels"]["team"], "theirs");
    assert_eq!(
        annotation(&cm, "internal.kro.run/adopted"),
        "true",
        "{cm:#}"
    );
    op.stop().await
}

#[tokio::test]
async fn deletion_policy_orphan_keeps_objects_on_prune_and_delete() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "own-orphan").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Keep");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"extra": "boolean | default=true"}),
            json!({}),
            json!([
                {"id": "kept", "deletionPolicy": "Orphan",
                 "template": config_map("${schema.metadata.name}-kept", json!({"k": "v"}))},
                {"id": "dropped", "deletionPolicy": "Delete",
                 "template": config_map("${schema.metadata.name}-dropped", json!({"k": "v"}))},
                {"id": "extra", "deletionPolicy": "Orphan", "includeWhen": ["${schema.spec.extra}"],
                 "template": config_map("${schema.metadata.name}-extra", json!({"k": "v"}))},
                {"id": "extraDeleted", "includeWhen": ["${schema.spec.extra}"],
                 "template": config_map("${schema.metadata.name}-extra-deleted", json!({"k": "v"}))}
            ]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "i", json!({"extra": true}))).await?;
    wait_instance_state(&client, &kind, &ns, "i", "ACTIVE").await?;
    let kept = get(&client, "v1", "ConfigMap", Some(&ns), "i-kept")
        .await?
        .context("i-kept")?;
    assert_eq!(
        annotation(&kept, "internal.kro.run/deletion-policy"),
        "Orphan"
    );

    // includeWhen turns false: the Orphan one is released, the Delete one pruned.
    apply(&client, &instance(&kind, &ns, "i", json!({"extra": false}))).await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "i-extra-deleted").await?;
    let extra = wait_object(&client, "v1", "ConfigMap", Some(&ns), "i-extra", |cm| {
        kro_labels(cm).is_empty()
    })
    .await?;
    assert_eq!(
        annotation(&extra, "internal.kro.run/deletion-policy"),
        "Orphan"
    );

    // Instance deleted: Orphan kept without kro's labels, Delete deleted.
    delete_instance(&client, &kind, &ns, "i").await?;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "i-dropped")
            .await?
            .is_none(),
        "deletionPolicy: Delete deletes with the instance"
    );
    let kept = get(&client, "v1", "ConfigMap", Some(&ns), "i-kept")
        .await?
        .context("deletionPolicy: Orphan keeps the object")?;
    assert!(kro_labels(&kept).is_empty(), "{kept:#}");
    assert_eq!(
        annotation(&kept, "internal.kro.run/deletion-policy"),
        "Orphan"
    );
    assert!(
        get(&client, "v1", "ConfigMap", Some(&ns), "i-extra")
            .await?
            .is_some(),
        "what was released on prune stays"
    );
    op.stop().await
}

#[tokio::test]
async fn for_each_shrink_with_orphan_keeps_the_dropped_items() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "own-foreach").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("KeepEach");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"regions": "[]string"}),
            json!({}),
            json!([{"id": "regional", "deletionPolicy": "Orphaned",
                    "forEach": [{"region": "${schema.spec.regions}"}],
                    "template": config_map("${schema.metadata.name}-${region}", json!({"region": "${region}"}))}]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "c", json!({"regions": ["eu", "us"]})),
    )
    .await?;
    wait_instance_state(&client, &kind, &ns, "c", "ACTIVE").await?;
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "c-us", |_| true).await?;

    apply(
        &client,
        &instance(&kind, &ns, "c", json!({"regions": ["eu"]})),
    )
    .await?;
    let us = wait_object(&client, "v1", "ConfigMap", Some(&ns), "c-us", |cm| {
        kro_labels(cm).is_empty()
    })
    .await?;
    assert_eq!(us["data"]["region"], "us");
    assert_eq!(
        annotation(&us, "internal.kro.run/deletion-policy"),
        "Orphan"
    );
    let eu = get(&client, "v1", "ConfigMap", Some(&ns), "c-eu")
        .await?
        .context("c-eu")?;
    assert_eq!(
        eu["metadata"]["labels"]["kro.run/instance-name"], "c",
        "{eu:#}"
    );
    op.stop().await
}

#[tokio::test]
async fn cleanup_looks_only_where_the_applyset_records_members() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "own-scope").await?;
    let elsewhere = namespace(&client, "own-scope-other").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Scoped");
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({}),
            json!({}),
            json!([{"id": "config", "template": config_map("${schema.metadata.name}-config", json!({"k": "v"}))}]),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(&client, &instance(&kind, &ns, "i", json!({}))).await?;
    let live = wait_instance_state(&client, &kind, &ns, "i", "ACTIVE").await?;
    let applyset = live["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .context("the instance's ApplySet id")?;
    let uid = live["metadata"]["uid"].as_str().context("uid")?;

    // Someone labels an object in a namespace the ApplySet never recorded as its member.
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "bystander", "namespace": elsewhere,
                             "labels": {"applyset.kubernetes.io/part-of": applyset,
                                        "kro.run/instance-id": uid,
                                        "kro.run/node-id": "config"}},
                "data": {"k": "v"}}),
    )
    .await?;
    delete_instance(&client, &kind, &ns, "i").await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "i-config").await?;
    assert!(
        get(&client, "v1", "ConfigMap", Some(&elsewhere), "bystander")
            .await?
            .is_some(),
        "an object outside the ApplySet's namespaces is never deleted"
    );
    op.stop().await
}

//! kro v0.10's `externalFields` and `--apply-concurrency` on the real API server: a field
//! handed to another field manager (an HPA's `spec.replicas`) is set when kro creates the
//! Deployment and then stays as that manager sets it, through resyncs and instance changes; an
//! RGD listing a path its kind does not have is rejected naming it; and children applied in
//! parallel still reach the API server after the children they depend on.

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use kro_e2e::{client, namespace};
use kube::Client;
use kube::api::{ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

use crate::support::operator::*;
use crate::support::{DEADLINE, apply, condition, get, merge, wait_object};

/// An RGD whose Deployment hands `spec.replicas` to another field manager.
fn scaled_rgd(op: &Operator, kind: &str, external_fields: Value) -> Value {
    let mut deployment =
        deployment_template("${schema.spec.name}", "${schema.spec.replicas}", None);
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("${schema.spec.image}");
    op.rgd(
        kind,
        json!({"name": "string", "replicas": "integer | default=2",
               "image": "string | default=nginx:1.27"}),
        json!({}),
        json!([{"id": "deployment", "externalFields": external_fields, "template": deployment}]),
    )
}

/// The managers that own `spec.replicas` of `deployment`, from its managedFields.
fn replicas_managers(deployment: &Value) -> Vec<String> {
    deployment["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| !entry["fieldsV1"]["f:spec"]["f:replicas"].is_null())
        .filter_map(|entry| entry["manager"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn replicas_handed_to_another_manager_stay_as_it_sets_them() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "ext-fields").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Scaled");
    apply(&client, &scaled_rgd(&op, &kind, json!(["spec.replicas"]))).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    apply(
        &client,
        &instance(&kind, &ns, "web", json!({"name": "web"})),
    )
    .await?;

    // Created with the template's value.
    let created = wait_object(&client, "apps/v1", "Deployment", Some(&ns), "web", |d| {
        d["spec"]["replicas"] == 2
    })
    .await?;
    assert_eq!(created["spec"]["replicas"], 2);

    // Another field manager (as an HPA would) scales it to 5.
    let deployments = crate::support::api_for(&client, "apps/v1", "Deployment", Some(&ns)).await?;
    deployments
        .patch(
            "web",
            &PatchParams::apply("e2e-autoscaler").force(),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": ns}, "spec": {"replicas": 5}})),
        )
        .await
        .context("scaling as the other manager")?;

    // The instance changes, replicas included: kro applies the new image and leaves the
    // replicas as the other manager set them.
    merge(
        &client,
        &instance_api(),
        &kind,
        Some(&ns),
        "web",
        json!({"spec": {"image": "nginx:1.28", "replicas": 3}}),
        false,
    )
    .await?;
    let updated = wait_object(&client, "apps/v1", "Deployment", Some(&ns), "web", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    })
    .await?;
    assert_eq!(updated["spec"]["replicas"], 5, "{:#}", updated["spec"]);
    assert!(
        replicas_managers(&updated).contains(&"e2e-autoscaler".to_string()),
        "{:#}",
        updated["metadata"]["managedFields"]
    );

    // A later reconcile (the instance's labels wake one) leaves them too, and the instance is
    // not reported as drifting or failing.
    merge(
        &client,
        &instance_api(),
        &kind,
        Some(&ns),
        "web",
        json!({"metadata": {"labels": {"resync": "1"}}, "spec": {"image": "nginx:1.29"}}),
        false,
    )
    .await?;
    let again = wait_object(&client, "apps/v1", "Deployment", Some(&ns), "web", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"
    })
    .await?;
    assert_eq!(again["spec"]["replicas"], 5);
    let inst = get(&client, &instance_api(), &kind, Some(&ns), "web")
        .await?
        .context("instance")?;
    assert_ne!(inst["status"]["state"], "ERROR", "{:#}", inst["status"]);
    op.stop().await
}

#[tokio::test]
async fn an_external_field_the_kind_does_not_have_rejects_the_rgd() -> Result<()> {
    let client = client().await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("BadExt");
    apply(&client, &scaled_rgd(&op, &kind, json!(["spec.replica"]))).await?;
    let rgd = wait_rgd_condition(&client, &rgd_name(&kind), "GraphAccepted", "False").await?;
    let accepted = condition(&rgd, "GraphAccepted").context("GraphAccepted")?;
    let message = accepted["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("externalFields[0] \"spec.replica\"")
            && message.contains("no field spec.replica"),
        "{accepted:#}"
    );
    op.stop().await
}

/// The order in which the API server reported ConfigMaps of `names` as `event` (`ADDED` or
/// `MODIFIED`), read from a watch started at `from` until all of them were seen.
async fn event_order(
    client: &Client,
    ns: &str,
    from: &str,
    event: &str,
    names: &[&str],
) -> Result<Vec<String>> {
    let api = crate::support::api_for(client, "v1", "ConfigMap", Some(ns)).await?;
    let mut stream = api.watch(&WatchParams::default(), from).await?.boxed();
    let mut seen: Vec<String> = Vec::new();
    let watch = async {
        while let Some(change) = stream.try_next().await? {
            let object = match (&change, event) {
                (WatchEvent::Added(object), "ADDED")
                | (WatchEvent::Modified(object), "MODIFIED") => object,
                _ => continue,
            };
            let name = object.metadata.name.clone().unwrap_or_default();
            if names.contains(&name.as_str()) && !seen.contains(&name) {
                seen.push(name);
            }
            if seen.len() == names.len() {
                break;
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(DEADLINE, watch)
        .await
        .with_context(|| {
            format!(
                "{event} of {names:?} within {}s: saw {seen:?}",
                DEADLINE.as_secs()
            )
        })??;
    Ok(seen)
}

/// Where `name` is in `order`.
fn position(order: &[String], name: &str) -> usize {
    order.iter().position(|n| n == name).unwrap_or(usize::MAX)
}

#[tokio::test]
async fn parallel_applies_still_follow_dependencies() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "apply-waves").await?;
    let opts = kro_controller::Options {
        apply_concurrency: 4,
        ..kro_controller::Options::for_tests()
    };
    let op = Operator::start_with(client.clone(), opts);
    let kind = unique_kind("Waves");
    let cm = |id: &str, name: &str| json!({"id": id, "template": config_map(name, json!({"v": "${schema.spec.value}"}))});
    // base <- middle <- top; four leaves that depend on nothing.
    let mut resources = vec![
        cm("base", "${schema.spec.name}-base"),
        cm("middle", "${base.metadata.name}-middle"),
        cm("top", "${middle.metadata.name}-top"),
    ];
    for i in 1..=4 {
        resources.push(cm(
            &format!("leaf{i}"),
            &format!("${{schema.spec.name}}-leaf{i}"),
        ));
    }
    apply(
        &client,
        &op.rgd(
            &kind,
            json!({"name": "string", "value": "string | default=one"}),
            json!({}),
            json!(resources),
        ),
    )
    .await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    let names = [
        "w-base",
        "w-base-middle",
        "w-base-middle-top",
        "w-leaf1",
        "w-leaf2",
        "w-leaf3",
        "w-leaf4",
    ];
    let configmaps = crate::support::api_for(&client, "v1", "ConfigMap", Some(&ns)).await?;
    let start = configmaps.list(&ListParams::default()).await?;
    let from = start.metadata.resource_version.clone().unwrap_or_default();

    apply(&client, &instance(&kind, &ns, "w", json!({"name": "w"}))).await?;
    let added = event_order(&client, &ns, &from, "ADDED", &names).await?;
    assert!(
        position(&added, "w-base") < position(&added, "w-base-middle")
            && position(&added, "w-base-middle") < position(&added, "w-base-middle-top"),
        "{added:?}"
    );
    wait_instance_state(&client, &kind, &ns, "w", "ACTIVE").await?;

    // One change updates all seven in one plan: the leaves go together with base, and each
    // dependent is written only after what it reads.
    let before = configmaps.list(&ListParams::default()).await?;
    let from = before.metadata.resource_version.clone().unwrap_or_default();
    merge(
        &client,
        &instance_api(),
        &kind,
        Some(&ns),
        "w",
        json!({"spec": {"value": "two"}}),
        false,
    )
    .await?;
    let modified = event_order(&client, &ns, &from, "MODIFIED", &names).await?;
    assert!(
        position(&modified, "w-base") < position(&modified, "w-base-middle")
            && position(&modified, "w-base-middle") < position(&modified, "w-base-middle-top"),
        "{modified:?}"
    );
    for name in names {
        let cm = wait_object(&client, "v1", "ConfigMap", Some(&ns), name, |cm| {
            cm["data"]["v"] == "two"
        })
        .await?;
        assert_eq!(cm["data"]["v"], "two");
    }
    op.stop().await
}

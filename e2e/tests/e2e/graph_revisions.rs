//! GraphRevisions on the real control plane: an RGD's first spec issues `<rgd>-r00001`
//! (kro's labels, owner, finalizer, `GraphVerified`), a reorder issues none, a change issues
//! the next and raises `lastIssuedRevision`, `--rgd-max-graph-revisions=2` deletes the oldest,
//! `kubectl get gr` shows kro's columns, deleting the RGD deletes its revisions; instances
//! carry the revision they run on, and an invalid update keeps them on the last good one (also
//! across an operator restart) with the RGD's and the instances' conditions saying so.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};
use kro_e2e::{client, namespace};
use kube::Client;
use serde_json::{Value, json};

use crate::support::operator::*;
use crate::support::{
    apply, condition, condition_message, delete, get, wait_object, wait_object_gone,
};

const GR_API: &str = "internal.kro.run/v1alpha1";
const GR_KIND: &str = "GraphRevision";
const REVISION_LABEL: &str = "internal.kro.run/graph-revision";

/// Two ConfigMaps `a` and `b` (in that order or reversed), `b` holding `value`.
fn two_maps(a_first: bool, value: &str) -> Value {
    let a =
        json!({"id": "a", "template": config_map("${schema.metadata.name}-a", json!({"v": "a"}))});
    let b = json!({"id": "b", "template": config_map("${schema.metadata.name}-b", json!({"v": value}))});
    if a_first {
        json!([a, b])
    } else {
        json!([b, a])
    }
}

async fn gr(client: &Client, name: &str) -> Result<Option<Value>> {
    get(client, GR_API, GR_KIND, None, name).await
}

/// Waits until GraphRevision `name` exists with `GraphVerified=True`.
async fn wait_verified(client: &Client, name: &str) -> Result<Value> {
    wait_object(client, GR_API, GR_KIND, None, name, |gr| {
        condition(gr, "GraphVerified").is_some_and(|c| c["status"] == "True")
    })
    .await
}

/// Applies `rgd` and waits until the operator has reconciled this generation of it.
async fn apply_rgd(client: &Client, rgd: &Value) -> Result<Value> {
    let applied = apply(client, rgd).await?;
    let generation = applied["metadata"]["generation"].clone();
    let name = rgd["metadata"]["name"].as_str().unwrap_or_default();
    wait_object(client, KRO_API, RGD_KIND, None, name, |r| {
        condition(r, "GraphAccepted").is_some_and(|c| c["observedGeneration"] == generation)
    })
    .await
}

/// Waits until instance `name` of `kind` carries revision label `revision`.
async fn wait_instance_revision(
    client: &Client,
    kind: &str,
    ns: &str,
    name: &str,
    revision: &str,
) -> Result<Value> {
    wait_object(client, &instance_api(), kind, Some(ns), name, |i| {
        i["metadata"]["labels"][REVISION_LABEL] == revision
    })
    .await
}

/// The kubectl built by `e2e/scripts/controlplane.sh build`, run against the test cluster
/// with a private discovery cache; stdout, or an error with stderr.
fn kubectl(cache: &std::path::Path, args: &[&str]) -> Result<String> {
    let dir = kro_e2e::run_script("controlplane.sh", &["bin-dir"])?
        .trim()
        .to_owned();
    let out = Command::new(PathBuf::from(dir).join("kubectl"))
        .arg("--kubeconfig")
        .arg(kro_e2e::kubeconfig())
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!(
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The column names of a `kubectl get` table.
fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// r00001 as kro writes it: labels, controller owner, finalizer, revision and snapshot.
fn assert_first_revision(first: &Value, rgd: &Value, name: &str) {
    let labels = &first["metadata"]["labels"];
    assert_eq!(labels["kro.run/owned"], "true", "{first:#}");
    assert_eq!(labels["kro.run/resource-graph-definition-name"], name);
    assert_eq!(
        labels["kro.run/graph-revision-hash"].as_str().map(str::len),
        Some(16)
    );
    let owner = &first["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ResourceGraphDefinition");
    assert_eq!(owner["uid"], rgd["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(
        first["metadata"]["finalizers"],
        json!(["kro.run/finalizer"])
    );
    assert_eq!(first["spec"]["revision"], 1);
    assert_eq!(first["spec"]["snapshot"]["name"], name);
    assert_eq!(first["status"]["topologicalOrder"], json!(["a", "b"]));
    assert_eq!(
        condition(first, "Ready").expect("a Ready condition")["status"],
        "True"
    );
}

#[tokio::test]
async fn revisions_are_issued_per_distinct_spec_retained_and_deleted_with_their_rgd() -> Result<()>
{
    let client = client().await?;
    let ns = namespace(&client, "gr-life").await?;
    let op = Operator::start_with(
        client.clone(),
        kro_controller::Options {
            rgd_max_graph_revisions: 2,
            ..kro_controller::Options::for_tests()
        },
    );
    let kind = unique_kind("Revised");
    let name = rgd_name(&kind);
    let first_name = format!("{name}-r00001");

    // The first spec: r00001, as kro writes it.
    let rgd = apply_rgd(
        &client,
        &op.rgd(&kind, json!({}), json!({}), two_maps(true, "one")),
    )
    .await?;
    let first = wait_verified(&client, &first_name).await?;
    assert_first_revision(&first, &rgd, &name);
    let rgd = wait_rgd_active(&client, &name).await?;
    assert_eq!(rgd["status"]["lastIssuedRevision"], 1);
    assert_eq!(
        condition_message(&rgd, "GraphRevisionsResolved"),
        "revision 1 compiled and active"
    );
    // The spec is immutable.
    let api = crate::support::api_for(&client, GR_API, GR_KIND, None).await?;
    let refused = api
        .patch(
            &first_name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"revision": 7}})),
        )
        .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("spec is immutable")),
        "{refused:?}"
    );

    apply(&client, &instance(&kind, &ns, "one", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "one", "ACTIVE").await?;
    wait_instance_revision(&client, &kind, &ns, "one", "1").await?;

    // Reordered: no new revision.
    let rgd = apply_rgd(
        &client,
        &op.rgd(&kind, json!({}), json!({}), two_maps(false, "one")),
    )
    .await?;
    assert!(gr(&client, &format!("{name}-r00002")).await?.is_none());
    assert_eq!(rgd["status"]["lastIssuedRevision"], 1);

    // Changed: r00002, lastIssuedRevision 2, the instance moves to it.
    apply_rgd(
        &client,
        &op.rgd(&kind, json!({}), json!({}), two_maps(true, "two")),
    )
    .await?;
    wait_verified(&client, &format!("{name}-r00002")).await?;
    wait_object(&client, KRO_API, RGD_KIND, None, &name, |r| {
        r["status"]["lastIssuedRevision"] == 2
    })
    .await?;
    wait_instance_revision(&client, &kind, &ns, "one", "2").await?;

    // A third: two are kept, r00001 is deleted.
    apply_rgd(
        &client,
        &op.rgd(&kind, json!({}), json!({}), two_maps(true, "three")),
    )
    .await?;
    wait_verified(&client, &format!("{name}-r00003")).await?;
    wait_object_gone(&client, GR_API, GR_KIND, None, &first_name).await?;
    assert!(gr(&client, &format!("{name}-r00002")).await?.is_some());

    // kubectl shows kro's columns.
    let cache = std::env::temp_dir().join(kro_e2e::unique_name("kubectl-cache"));
    let selector = format!("spec.snapshot.name={name}");
    let table = kubectl(&cache, &["get", "gr", "--field-selector", &selector])?;
    assert_eq!(
        header(&table),
        ["NAME", "REVISION", "READY", "AGE"],
        "{table}"
    );
    assert!(table.contains(&format!("{name}-r00003")), "{table}");
    let wide = kubectl(
        &cache,
        &["get", "gr", "-o", "wide", "--field-selector", &selector],
    )?;
    assert_eq!(
        header(&wide),
        ["NAME", "RGD", "REVISION", "HASH", "READY", "AGE"],
        "{wide}"
    );

    let _ = std::fs::remove_dir_all(&cache);

    // Deleting the RGD deletes its revisions.
    delete(&client, KRO_API, RGD_KIND, None, &name).await?;
    wait_object_gone(&client, KRO_API, RGD_KIND, None, &name).await?;
    for revision in ["r00002", "r00003"] {
        wait_object_gone(
            &client,
            GR_API,
            GR_KIND,
            None,
            &format!("{name}-{revision}"),
        )
        .await?;
    }
    op.stop().await
}

#[tokio::test]
async fn an_invalid_update_keeps_instances_on_the_last_good_revision_and_says_so() -> Result<()> {
    let client = client().await?;
    let ns = namespace(&client, "gr-invalid").await?;
    let op = Operator::start(client.clone());
    let kind = unique_kind("Kept");
    let name = rgd_name(&kind);

    apply_rgd(
        &client,
        &op.rgd(&kind, json!({}), json!({}), two_maps(true, "one")),
    )
    .await?;
    wait_verified(&client, &format!("{name}-r00001")).await?;
    apply(&client, &instance(&kind, &ns, "kept", json!({}))).await?;
    wait_instance_state(&client, &kind, &ns, "kept", "ACTIVE").await?;
    wait_instance_revision(&client, &kind, &ns, "kept", "1").await?;

    // An update that does not compile: no revision, revision 1 keeps running, and both the RGD
    // and the instance say so.
    let broken = apply_rgd(
        &client,
        &op.rgd(
            &kind,
            json!({}),
            json!({}),
            two_maps(true, "${nothere.data.v}"),
        ),
    )
    .await?;
    let accepted = condition(&broken, "GraphAccepted").unwrap();
    assert_eq!(accepted["status"], "False", "{broken:#}");
    let message = accepted["message"].as_str().unwrap_or_default();
    assert!(message.contains("nothere"), "{message}");
    assert!(
        message.ends_with("instances keep running on graph revision 1, the last that compiled"),
        "{message}"
    );
    assert_eq!(
        condition_message(&broken, "GraphRevisionsResolved"),
        "revision 1 compiled and active"
    );
    assert!(gr(&client, &format!("{name}-r00002")).await?.is_none());
    let kept = wait_object(&client, &instance_api(), &kind, Some(&ns), "kept", |i| {
        condition_message(i, "GraphResolved").contains("running on graph revision 1")
    })
    .await?;
    assert_eq!(kept["status"]["state"], "ACTIVE", "{kept:#}");
    assert_eq!(kept["metadata"]["labels"][REVISION_LABEL], "1");
    // The children are those of revision 1.
    let b = get(&client, "v1", "ConfigMap", Some(&ns), "kept-b").await?;
    assert_eq!(b.map(|b| b["data"]["v"].clone()), Some(json!("one")));

    // Across a restart too: the new operator serves revision 1 from its snapshot (a child
    // deleted meanwhile comes back as revision 1 has it).
    let id = op.id.clone();
    op.stop().await?;
    delete(&client, "v1", "ConfigMap", Some(&ns), "kept-b").await?;
    wait_object_gone(&client, "v1", "ConfigMap", Some(&ns), "kept-b").await?;
    let op = Operator::start_as(client.clone(), kro_controller::Options::for_tests(), id);
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "kept-b", |b| {
        b["data"]["v"] == "one"
    })
    .await?;
    wait_object(&client, KRO_API, RGD_KIND, None, &name, |r| {
        condition_message(r, "GraphAccepted")
            .ends_with("instances keep running on graph revision 1, the last that compiled")
    })
    .await?;

    // Fixed: revision 2, the instance moves to it, and its condition is kro's again.
    apply_rgd(
        &client,
        &op.rgd(&kind, json!({}), json!({}), two_maps(true, "two")),
    )
    .await?;
    wait_verified(&client, &format!("{name}-r00002")).await?;
    let moved = wait_instance_revision(&client, &kind, &ns, "kept", "2").await?;
    let moved = wait_object(&client, &instance_api(), &kind, Some(&ns), "kept", |i| {
        condition_message(i, "GraphResolved") == "runtime graph created and all resources resolved"
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}; after the label: {moved:#}"))?;
    assert_eq!(moved["status"]["state"], "ACTIVE");
    wait_object(&client, "v1", "ConfigMap", Some(&ns), "kept-b", |b| {
        b["data"]["v"] == "two"
    })
    .await?;

    delete(&client, KRO_API, RGD_KIND, None, &name).await?;
    wait_object_gone(&client, GR_API, GR_KIND, None, &format!("{name}-r00002")).await?;
    op.stop().await
}

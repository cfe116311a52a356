//! e2e: what a user sees with the real `kubectl` (the one the control-plane build puts next to
//! kube-apiserver): `kubectl explain` on a generated kind, printer columns, short names and
//! categories of generated and ACK kinds, and the events of an ACK object.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};
use kro_aws::s3::bucket::Bucket;
use kube::api::Api;
use serde_json::json;

use crate::support::aws;
use crate::support::operator::{
    GROUP, Operator, instance, rgd_name, unique_kind, wait_instance_state, wait_rgd_active,
};
use crate::support::{apply, delete_and_wait, wait_condition, wait_for};

/// The kubectl built by `e2e/scripts/controlplane.sh build`.
fn kubectl_path() -> Result<PathBuf> {
    let dir = kro_e2e::run_script("controlplane.sh", &["bin-dir"])?
        .trim()
        .to_owned();
    let path = PathBuf::from(dir).join("kubectl");
    if !path.exists() {
        bail!(
            "no kubectl at {} (e2e/scripts/controlplane.sh build makes it)",
            path.display()
        );
    }
    Ok(path)
}

/// Runs kubectl against the test cluster with a private discovery cache (kinds appear at run
/// time) and returns stdout; fails with stderr.
fn kubectl(cache: &std::path::Path, args: &[&str]) -> Result<String> {
    let out = Command::new(kubectl_path()?)
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

/// The header of a `kubectl get` table, split into column names.
fn header(table: &str) -> Vec<String> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn generated_kinds_explain_list_and_group_under_kro() -> Result<()> {
    let client = kro_e2e::client().await?;
    let ns = kro_e2e::namespace(&client, "kubectl-kro").await?;
    let cache = std::env::temp_dir().join(kro_e2e::unique_name("kubectl-cache"));
    let op = Operator::start(client.clone());
    let kind = unique_kind("Shop");
    let short = format!("s{}", kind.to_ascii_lowercase().trim_start_matches("shop"));
    let mut rgd = op.rgd(
        &kind,
        json!({"name": "string | description=\"The shop's name, shown to customers\"", "replicas": "integer | default=2"}),
        json!({}),
        json!([{"id": "cfg", "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${schema.spec.name}"}, "data": {"r": "${string(schema.spec.replicas)}"}}}]),
    );
    rgd["spec"]["schema"]["shortNames"] = json!([short]);
    apply(&client, &rgd).await?;
    wait_rgd_active(&client, &rgd_name(&kind)).await?;
    let instance = instance(&kind, &ns, "corner", json!({"name": "corner-shop"}));
    apply(&client, &instance).await?;
    wait_instance_state(&client, &kind, &ns, "corner", "ACTIVE").await?;

    // kubectl explain reads the generated schema, with the SimpleSchema descriptions.
    let lower = kind.to_ascii_lowercase();
    let explain = wait_for("kubectl explain", || async {
        Ok(kubectl(&cache, &["explain", &format!("{lower}.spec")]).ok())
    })
    .await?;
    assert!(
        explain
            .lines()
            .any(|l| l.starts_with("KIND:") && l.split_whitespace().last() == Some(kind.as_str())),
        "{explain}"
    );
    assert!(
        explain.contains("The shop's name, shown to customers"),
        "{explain}"
    );
    assert!(explain.contains("replicas"), "{explain}");

    // kubectl get: kro's columns, by plural and by short name.
    let table = kubectl(&cache, &["get", &short, "-n", &ns])?;
    assert_eq!(header(&table), ["NAME", "STATE", "READY", "AGE"], "{table}");
    let row = table.lines().nth(1).unwrap_or_default().to_owned();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..3], ["corner", "ACTIVE", "True"], "{table}");

    // `kubectl get kro` lists every instance and the RGDs.
    let all = kubectl(&cache, &["get", "kro", "-A", "-o", "name"])?;
    assert!(all.contains(&format!("{lower}.{}/corner", GROUP)), "{all}");
    assert!(
        all.contains(&format!(
            "resourcegraphdefinition.kro.run/{}",
            rgd_name(&kind)
        )),
        "{all}"
    );
    op.stop().await
}

#[tokio::test]
async fn ack_kinds_show_sync_state_and_events() -> Result<()> {
    let (client, ns, controllers) = aws::setup("kubectl-ack").await?;
    let cache = std::env::temp_dir().join(kro_e2e::unique_name("kubectl-cache"));
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = aws::bucket_name("kro-kubectl");
    aws::create(
        &api,
        json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "files"}, "spec": {"name": name}}),
    )
    .await?;
    wait_condition(&api, "files", "ACK.ResourceSynced", "True").await?;

    let table = kubectl(&cache, &["get", "bkt", "-n", &ns])?;
    assert_eq!(
        header(&table),
        ["NAME", "BUCKET", "SYNCED", "READY", "AGE"],
        "{table}"
    );
    let row: Vec<String> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        &row[..4],
        ["files", name.as_str(), "True", "True"],
        "{table}"
    );
    let wide = kubectl(&cache, &["get", "buckets", "-n", &ns, "-o", "wide"])?;
    assert!(header(&wide).contains(&"REGION".to_owned()), "{wide}");
    assert!(wide.contains("us-west-2"), "{wide}");

    // The categories: `kubectl get ack` (and `aws`, `s3`) list it.
    for category in ["ack", "aws", "s3"] {
        let out = kubectl(&cache, &["get", category, "-n", &ns, "-o", "name"])?;
        assert!(
            out.contains("bucket.s3.services.k8s.aws/files"),
            "{category}: {out}"
        );
    }

    // kubectl get events names what happened and who said so.
    let events = wait_for("events listed by kubectl", || async {
        let out = kubectl(
            &cache,
            &[
                "get",
                "events",
                "-n",
                &ns,
                "--field-selector",
                "involvedObject.name=files",
                "-o",
                "custom-columns=TYPE:.type,REASON:.reason,FROM:.reportingComponent,MESSAGE:.message",
            ],
        )?;
        Ok(out.contains("Synced").then_some(out))
    })
    .await?;
    let created = format!("Created Bucket \"{name}\" in AWS region us-west-2");
    assert!(
        events.lines().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() > 3
                && cells[..3] == ["Normal", "Created", "kro-rs-ack-s3"]
                && l.trim_end().ends_with(&created)
        }),
        "{events}"
    );
    delete_and_wait(&api, "files").await?;
    controllers.stop().await;
    Ok(())
}

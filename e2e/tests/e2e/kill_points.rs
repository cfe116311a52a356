//! The crash suite: `kro run` as a process, SIGKILLed at named points of the instance, RGD and
//! ACK reconciles, then started again, and the end state checked as a user would: nothing
//! duplicated (in the cluster or in moto), nothing orphaned (every child still a member of its
//! instance's ApplySet, and gone with it), nothing deleted that should live, everything
//! converged. The points are reached deterministically: `KRO_KILL_POINTS` arms one
//! (`kro_reconcile::kill_point`), the operator writes `kill point reached: <name>` and parks
//! that reconcile, and the test kills the process then, so no write of that reconcile follows.
//!
//! Each run has its own namespace, kinds, operator (`--rgd-selector`, `--watch-namespace`) and
//! processes, so runs go on side by side; each test reports every point that did not survive.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::future::Future;

use anyhow::{Context, Result, bail, ensure};
use futures::StreamExt;
use kro_aws::ec2::sdk;
use kube::Client;
use kube::api::ListParams;
use serde_json::{Value, json};

use crate::support::aws::{bucket_name, install_crds, put_tag, s3_tags, synced};
use crate::support::kro_process::KroProcess;
use crate::support::operator::*;
use crate::support::process::free_port;
use crate::support::{
    api_for, apply, condition, condition_is, delete, get, wait_for, wait_object, wait_object_gone,
};

/// Runs of one test going on at once (each is two `kro` processes, one after the other).
const PARALLEL_RUNS: usize = 3;

/// One run: a namespace, a kind and an operator id of its own.
struct Run {
    client: Client,
    ns: String,
    id: String,
    kind: String,
    /// Extra `kro run` arguments of this scenario.
    args: Vec<String>,
}

impl Run {
    async fn new(prefix: &str, args: &[&str]) -> Result<Self> {
        let client = kro_e2e::client().await?;
        let ns = kro_e2e::namespace(&client, prefix).await?;
        Ok(Run {
            client,
            ns,
            id: kro_e2e::unique_name(prefix),
            kind: unique_kind("Kp"),
            args: args.iter().map(|a| a.to_string()).collect(),
        })
    }

    /// Starts `kro run` for this run's RGDs and namespace; with `point`, armed to stop there.
    fn start(&self, point: Option<&str>) -> Result<KroProcess> {
        let metrics = format!("127.0.0.1:{}", free_port()?);
        let health = format!("127.0.0.1:{}", free_port()?);
        let selector = format!("e2e.kro.run/operator={}", self.id);
        let mut args: Vec<String> = [
            "run",
            "--metrics-bind-address",
            &metrics,
            "--health-probe-bind-address",
            &health,
            "--rgd-selector",
            &selector,
            "--watch-namespace",
            &self.ns,
            "--aws-endpoint-url",
            kro_e2e::aws_endpoint(),
            "--aws-region",
            "us-west-2",
            "--aws-endpoint-use-path-style",
            "--reconcile-default-resync-seconds",
            "5",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(self.args.iter().cloned());
        let mut env: Vec<(&str, &OsStr)> = vec![
            ("POD_NAME", self.id.as_ref()),
            ("AWS_ACCESS_KEY_ID", "testing".as_ref()),
            ("AWS_SECRET_ACCESS_KEY", "testing".as_ref()),
        ];
        if let Some(point) = point {
            env.push((kro_reconcile::kill::KILL_POINTS_ENV, point.as_ref()));
        }
        let name = match point {
            Some(point) => format!("{}-armed-{}", self.id, point.replace(['/', '@'], "-")),
            None => format!("{}-after", self.id),
        };
        KroProcess::start(&name, &args, &env)
    }

    /// Waits for `armed` to reach `point`, SIGKILLs it there, and starts an operator without
    /// kill points in its place.
    async fn kill_and_restart(&self, mut armed: KroProcess, point: &str) -> Result<KroProcess> {
        let name = point.split('@').next().unwrap_or(point);
        armed
            .wait_log(&format!(
                "{}{name}\n",
                kro_reconcile::kill::KILL_POINT_REACHED
            ))
            .await?;
        armed.kill();
        self.start(None)
    }

    /// The RGD of this run, labelled for its operator.
    fn labelled(&self, mut rgd: Value) -> Value {
        rgd["metadata"]["labels"] = json!({"e2e.kro.run/operator": self.id});
        rgd
    }

    fn rgd_name(&self) -> String {
        rgd_name(&self.kind)
    }

    /// Objects of `kind` in the run's namespace, by name.
    async fn names(&self, api_version: &str, kind: &str) -> Result<Vec<String>> {
        let api = api_for(&self.client, api_version, kind, Some(&self.ns)).await?;
        let mut names: Vec<String> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Runs `run` once per point, [`PARALLEL_RUNS`] at a time, and fails naming every point whose
/// run failed (with its error), after all have run.
async fn each_point<F, Fut>(points: &[&'static str], run: F) -> Result<()>
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let results: Vec<(&str, Result<()>)> = futures::stream::iter(points.iter().copied())
        .map(|point| {
            let fut = run(point);
            async move { (point, fut.await) }
        })
        .buffer_unordered(PARALLEL_RUNS)
        .collect()
        .await;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(point, result)| {
            result
                .as_ref()
                .err()
                .map(|e| format!("killed at {point}: {e:#}"))
        })
        .collect();
    eprintln!(
        "kill points: {} of {} runs converged",
        points.len() - failed.len(),
        points.len()
    );
    if !failed.is_empty() {
        bail!("{}", failed.join("\n\n"));
    }
    Ok(())
}

// ---- instances -------------------------------------------------------------------------

/// Three children in three waves: ConfigMaps `a` and `b` (which reads `a`), and a
/// ServiceAccount (which reads `b`) while `spec.withSa`.
fn chain_rgd(run: &Run) -> Value {
    let sa = json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "${schema.metadata.name}-sa",
                     "annotations": {"from-b": "${b.data.a}"}},
    });
    run.labelled(rgd(
        &run.kind,
        json!({"v": "string | default=\"one\"", "withSa": "boolean | default=true"}),
        json!({}),
        json!([
            {"id": "a", "template": config_map("${schema.metadata.name}-a", json!({"v": "${schema.spec.v}"}))},
            {"id": "b", "template": config_map("${schema.metadata.name}-b", json!({"a": "${a.data.v}"}))},
            {"id": "sa", "includeWhen": ["${schema.spec.withSa}"], "template": sa},
        ]),
    ))
}

/// The run's RGD applied and Active.
async fn active_chain(run: &Run) -> Result<()> {
    apply(&run.client, &chain_rgd(run)).await?;
    wait_rgd_active(&run.client, &run.rgd_name()).await?;
    Ok(())
}

/// What a user sees of instance `x` once it has converged with `v` and `with_sa`: ACTIVE and
/// Ready, exactly its children (one each, no strays), each carrying the instance's ApplySet
/// membership, with the values of this spec.
async fn converged(run: &Run, v: &str, with_sa: bool) -> Result<()> {
    let instance = wait_object(
        &run.client,
        &instance_api(),
        &run.kind,
        Some(&run.ns),
        "x",
        |obj| {
            obj["status"]["state"] == "ACTIVE"
                && condition_is(obj, "Ready", "True")
                && condition(obj, "Ready").is_some_and(|ready| {
                    ready["observedGeneration"] == obj["metadata"]["generation"]
                })
        },
    )
    .await?;
    let applyset = instance["metadata"]["labels"]["applyset.kubernetes.io/id"]
        .as_str()
        .context("the instance's ApplySet id label")?
        .to_string();
    let want_sa = with_sa;
    let state = wait_for(
        "exactly the instance's children, with this spec",
        || async {
            let cms = run.names("v1", "ConfigMap").await?;
            let sas = run.names("v1", "ServiceAccount").await?;
            let cms: Vec<String> = cms.into_iter().filter(|n| n.starts_with("x-")).collect();
            let sas: Vec<String> = sas.into_iter().filter(|n| n.starts_with("x-")).collect();
            let want_sas: Vec<String> = if want_sa { vec!["x-sa".into()] } else { vec![] };
            if cms != ["x-a", "x-b"] || sas != want_sas {
                return Ok(None);
            }
            let b = get(&run.client, "v1", "ConfigMap", Some(&run.ns), "x-b").await?;
            Ok(b.filter(|b| b["data"]["a"] == v).map(|_| ()))
        },
    )
    .await;
    state?;
    for (kind, name) in [
        ("ConfigMap", "x-a"),
        ("ConfigMap", "x-b"),
        ("ServiceAccount", "x-sa"),
    ] {
        if kind == "ServiceAccount" && !with_sa {
            continue;
        }
        let child = get(&run.client, "v1", kind, Some(&run.ns), name)
            .await?
            .with_context(|| format!("{kind} {name}"))?;
        ensure!(
            child["metadata"]["labels"]["applyset.kubernetes.io/part-of"] == applyset.as_str(),
            "{kind} {name} is not a member of the instance's ApplySet {applyset}: {child:#}"
        );
    }
    let gks = instance["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]
        .as_str()
        .unwrap_or_default();
    ensure!(
        gks.contains("ServiceAccount") == with_sa,
        "the parent's group-kinds {gks:?} do not match the children (ServiceAccount: {with_sa})"
    );
    Ok(())
}

/// Deleting instance `x` takes every child with it: nothing was orphaned.
async fn deleted_with_children(run: &Run) -> Result<()> {
    delete(&run.client, &instance_api(), &run.kind, Some(&run.ns), "x").await?;
    wait_object_gone(&run.client, &instance_api(), &run.kind, Some(&run.ns), "x").await?;
    wait_for("no child of x left", || async {
        let cms = run.names("v1", "ConfigMap").await?;
        let sas = run.names("v1", "ServiceAccount").await?;
        let left = cms
            .iter()
            .chain(sas.iter())
            .any(|name| name.starts_with("x-"));
        Ok((!left).then_some(()))
    })
    .await
}

async fn instance_created_through_a_kill(point: &'static str) -> Result<()> {
    let run = Run::new("kp-inst", &["--aws-controllers", "none"]).await?;
    let armed = run.start(Some(point))?;
    active_chain(&run).await?;
    apply(
        &run.client,
        &instance(&run.kind, &run.ns, "x", json!({"v": "one"})),
    )
    .await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    converged(&run, "one", true).await?;
    deleted_with_children(&run).await
}

#[tokio::test]
async fn an_instance_being_created_converges_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // Finalizer and ApplySet metadata written, no child yet.
            "instance/after-parent-grow",
            // The first child applied, the second not.
            "instance/after-child-apply@1",
            // Between the second and the third child.
            "instance/after-child-apply@2",
            // Every child applied, nothing pruned or reported.
            "instance/after-converge",
            "instance/before-status",
            "instance/after-status",
        ],
        instance_created_through_a_kill,
    )
    .await
}

async fn instance_pruned_through_a_kill(point: &'static str) -> Result<()> {
    let run = Run::new("kp-prune", &["--aws-controllers", "none"]).await?;
    let armed = run.start(Some(point))?;
    active_chain(&run).await?;
    apply(
        &run.client,
        &instance(&run.kind, &run.ns, "x", json!({"v": "one"})),
    )
    .await?;
    // No prune point is on the way to ACTIVE: nothing is dropped yet.
    wait_instance_state(&run.client, &run.kind, &run.ns, "x", "ACTIVE").await?;
    apply(
        &run.client,
        &instance(
            &run.kind,
            &run.ns,
            "x",
            json!({"v": "two", "withSa": false}),
        ),
    )
    .await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    converged(&run, "two", false).await?;
    deleted_with_children(&run).await
}

#[tokio::test]
async fn an_instance_being_pruned_converges_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // Before the dropped child is deleted.
            "instance/before-prune",
            // The child deleted, the parent still records its kind.
            "instance/after-prune-delete",
            // The parent's inventory shrunk, the status not written.
            "instance/after-parent-shrink",
        ],
        instance_pruned_through_a_kill,
    )
    .await
}

async fn instance_deleted_through_a_kill(point: &'static str) -> Result<()> {
    let run = Run::new("kp-del", &["--aws-controllers", "none"]).await?;
    let armed = run.start(Some(point))?;
    active_chain(&run).await?;
    apply(
        &run.client,
        &instance(&run.kind, &run.ns, "x", json!({"v": "one"})),
    )
    .await?;
    wait_instance_state(&run.client, &run.kind, &run.ns, "x", "ACTIVE").await?;
    delete(&run.client, &instance_api(), &run.kind, Some(&run.ns), "x").await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    // The same check as after a clean run: the instance and all its children go.
    deleted_with_children(&run).await
}

#[tokio::test]
async fn an_instance_being_deleted_is_cleaned_up_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // DELETING written, no child deleted.
            "instance/cleanup-after-status",
            // One child of the last wave deleted.
            "instance/cleanup-after-child-delete",
            // Every child gone, the finalizer still on.
            "instance/cleanup-before-finalizer",
        ],
        instance_deleted_through_a_kill,
    )
    .await
}

// ---- RGDs ------------------------------------------------------------------------------

/// The GraphRevisions of the run's RGD.
async fn revisions(run: &Run) -> Result<Vec<String>> {
    let api = api_for(
        &run.client,
        "internal.kro.run/v1alpha1",
        "GraphRevision",
        None,
    )
    .await?;
    let list = api
        .list(&ListParams::default().labels(&format!(
            "kro.run/resource-graph-definition-name={}",
            run.rgd_name()
        )))
        .await?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    names.sort();
    Ok(names)
}

async fn rgd_created_through_a_kill(point: &'static str) -> Result<()> {
    let run = Run::new("kp-rgd", &["--aws-controllers", "none"]).await?;
    let armed = run.start(Some(point))?;
    apply(&run.client, &chain_rgd(&run)).await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    let rgd = wait_rgd_active(&run.client, &run.rgd_name()).await?;
    ensure!(
        rgd["status"]["lastIssuedRevision"] == 1,
        "one spec, one revision: {:#}",
        rgd["status"]
    );
    let issued = revisions(&run).await?;
    ensure!(
        issued == [format!("{}-r00001", run.rgd_name())],
        "GraphRevisions after the kill: {issued:?}"
    );
    ensure!(instance_crd(&run.client, &run.kind).await?.is_some());
    // The kind is served and reconciled.
    apply(
        &run.client,
        &instance(&run.kind, &run.ns, "x", json!({"v": "one"})),
    )
    .await?;
    converged(&run, "one", true).await?;
    deleted_with_children(&run).await
}

#[tokio::test]
async fn an_rgd_being_created_goes_active_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            "rgd/after-finalizer",
            "rgd/after-revision-issued",
            "rgd/after-crd",
            // The instance controller started, the status not written.
            "rgd/before-status",
            "rgd/after-status",
        ],
        rgd_created_through_a_kill,
    )
    .await
}

async fn rgd_deleted_through_a_kill(point: &'static str) -> Result<()> {
    let run = Run::new(
        "kp-rgddel",
        &["--aws-controllers", "none", "--allow-crd-deletion"],
    )
    .await?;
    let armed = run.start(Some(point))?;
    apply(&run.client, &chain_rgd(&run)).await?;
    wait_rgd_active(&run.client, &run.rgd_name()).await?;
    delete(&run.client, KRO_API, RGD_KIND, None, &run.rgd_name()).await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    wait_object_gone(&run.client, KRO_API, RGD_KIND, None, &run.rgd_name()).await?;
    wait_for("the RGD's CRD and GraphRevisions gone", || async {
        let crd = instance_crd(&run.client, &run.kind).await?;
        let left = revisions(&run).await?;
        Ok((crd.is_none() && left.is_empty()).then_some(()))
    })
    .await
}

#[tokio::test]
async fn an_rgd_being_deleted_is_cleaned_up_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // Its instance controller stopped, nothing deleted.
            "rgd/delete-after-controller-stop",
            // The CRD deleted (--allow-crd-deletion), the GraphRevisions not.
            "rgd/delete-after-crds",
            "rgd/delete-before-finalizer",
        ],
        rgd_deleted_through_a_kill,
    )
    .await
}

// ---- ACK -------------------------------------------------------------------------------

/// A run of the Bucket controller: the run, an S3 client on moto, and a bucket name of its own.
async fn bucket_run(prefix: &str) -> Result<(Run, aws_sdk_s3::Client, String)> {
    let run = Run::new(prefix, &["--aws-controllers", "Bucket"]).await?;
    install_crds(&run.client).await?;
    Ok((run, kro_e2e::s3_client().await, bucket_name(prefix)))
}

fn bucket(run: &Run, name: &str, spec: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
        "metadata": {"name": "b", "namespace": run.ns, "annotations": annotations},
        "spec": if spec.is_null() { json!({"name": name}) } else { spec },
    })
}

/// The Bucket object `b` synced, and returned.
async fn synced_bucket(run: &Run) -> Result<Value> {
    wait_object(
        &run.client,
        "s3.services.k8s.aws/v1alpha1",
        "Bucket",
        Some(&run.ns),
        "b",
        synced,
    )
    .await
}

/// Deleting Bucket `b` deletes the bucket in moto.
async fn bucket_deleted(run: &Run, s3: &aws_sdk_s3::Client, name: &str) -> Result<()> {
    delete(
        &run.client,
        "s3.services.k8s.aws/v1alpha1",
        "Bucket",
        Some(&run.ns),
        "b",
    )
    .await?;
    wait_object_gone(
        &run.client,
        "s3.services.k8s.aws/v1alpha1",
        "Bucket",
        Some(&run.ns),
        "b",
    )
    .await?;
    wait_for("the bucket gone from moto", || async {
        Ok(s3
            .head_bucket()
            .bucket(name)
            .send()
            .await
            .is_err()
            .then_some(()))
    })
    .await
}

fn has_tag(tags: &[(String, String)], key: &str, value: &str) -> bool {
    tags.iter().any(|(k, v)| k == key && v == value)
}

async fn bucket_created_through_a_kill(point: &'static str) -> Result<()> {
    let (run, s3, name) = bucket_run("kp-bucket").await?;
    let armed = run.start(Some(point))?;
    let spec = json!({"name": name, "tagging": {"tagSet": [{"key": "team", "value": "a"}]}});
    apply(&run.client, &bucket(&run, &name, spec, json!({}))).await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    let obj = synced_bucket(&run).await?;
    ensure!(
        obj["status"]["ackResourceMetadata"]["arn"] == format!("arn:aws:s3:::{name}"),
        "{:#}",
        obj["status"]
    );
    let tags = s3_tags(&s3, &name).await;
    ensure!(has_tag(&tags, "team", "a"), "tags in moto: {tags:?}");
    bucket_deleted(&run, &s3, &name).await
}

#[tokio::test]
async fn a_bucket_being_created_syncs_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // Ownership marker and finalizer written, nothing in AWS.
            "ack/before-create",
            // Created in AWS, not configured (tags) nor reported.
            "ack/after-create",
            // Created and configured, the status not written.
            "ack/before-status",
        ],
        bucket_created_through_a_kill,
    )
    .await
}

async fn bucket_adopted_through_a_kill(point: &'static str) -> Result<()> {
    let (run, s3, name) = bucket_run("kp-adopt").await?;
    kro_e2e::create_bucket(&s3, &name).await?;
    put_tag(&s3, &name, "owner", "aws").await?;
    let armed = run.start(Some(point))?;
    // ACK's adoption manifest: policy `adopt` takes AWS's state as the spec; the placeholder
    // tag must never reach AWS.
    let placeholder =
        json!({"name": name, "tagging": {"tagSet": [{"key": "placeholder", "value": "yes"}]}});
    let annotations = json!({
        "services.k8s.aws/adoption-policy": "adopt",
        "services.k8s.aws/adoption-fields": format!("{{\"name\": \"{name}\"}}"),
    });
    apply(&run.client, &bucket(&run, &name, placeholder, annotations)).await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    let obj = synced_bucket(&run).await?;
    ensure!(
        obj["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true",
        "{:#}",
        obj["metadata"]
    );
    let spec_tags = obj["spec"]["tagging"]["tagSet"].to_string();
    ensure!(
        spec_tags.contains("owner") && !spec_tags.contains("placeholder"),
        "the adopted spec is AWS's state: {spec_tags}"
    );
    let tags = s3_tags(&s3, &name).await;
    ensure!(
        has_tag(&tags, "owner", "aws") && !tags.iter().any(|(k, _)| k == "placeholder"),
        "adopting changed the bucket's tags in AWS: {tags:?}"
    );
    bucket_deleted(&run, &s3, &name).await
}

#[tokio::test]
async fn a_bucket_being_adopted_is_adopted_unchanged_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // The finalizer on, the spec still the placeholder.
            "ack/adopt-after-finalizer",
            // The adopted annotation written, the spec not yet.
            "ack/after-annotations",
        ],
        bucket_adopted_through_a_kill,
    )
    .await
}

async fn bucket_deleted_through_a_kill(point: &'static str) -> Result<()> {
    let (run, s3, name) = bucket_run("kp-bdel").await?;
    let armed = run.start(Some(point))?;
    apply(&run.client, &bucket(&run, &name, Value::Null, json!({}))).await?;
    synced_bucket(&run).await?;
    delete(
        &run.client,
        "s3.services.k8s.aws/v1alpha1",
        "Bucket",
        Some(&run.ns),
        "b",
    )
    .await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    bucket_deleted(&run, &s3, &name).await
}

#[tokio::test]
async fn a_bucket_being_deleted_is_deleted_after_a_kill_at_any_point() -> Result<()> {
    // Deleted in AWS, the finalizer still on.
    each_point(&["ack/delete-after-aws"], bucket_deleted_through_a_kill).await
}

/// VPCs in moto carrying tag `run=<id>`.
async fn vpcs_tagged(ec2: &sdk::Client, id: &str) -> Result<Vec<String>> {
    let out = ec2
        .describe_vpcs()
        .filters(
            sdk::types::Filter::builder()
                .name("tag:run")
                .values(id)
                .build(),
        )
        .send()
        .await?;
    Ok(out
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect())
}

async fn vpc_created_through_a_kill(point: &'static str) -> Result<()> {
    let run = Run::new("kp-vpc", &["--aws-controllers", "VPC"]).await?;
    install_crds(&run.client).await?;
    let ec2 = sdk::Client::new(&kro_e2e::aws_config().await);
    let armed = run.start(Some(point))?;
    let vpc = json!({
        "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
        "metadata": {"name": "net", "namespace": run.ns},
        "spec": {"cidrBlocks": ["10.77.0.0/16"], "tags": [{"key": "run", "value": run.id}]},
    });
    apply(&run.client, &vpc).await?;
    let _kro = run.kill_and_restart(armed, point).await?;
    let obj = wait_object(
        &run.client,
        "ec2.services.k8s.aws/v1alpha1",
        "VPC",
        Some(&run.ns),
        "net",
        synced,
    )
    .await?;
    let id = obj["status"]["vpcID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let in_aws = vpcs_tagged(&ec2, &run.id).await?;
    ensure!(
        in_aws == [id.clone()],
        "one VPC object, VPCs in moto: {in_aws:?} (recorded: {id})"
    );
    let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
    let token = ec2
        .describe_vpcs()
        .vpc_ids(&id)
        .send()
        .await?
        .vpcs()
        .first()
        .and_then(|v| {
            v.tags()
                .iter()
                .find(|t| t.key() == Some("services.k8s.aws/creation-token"))
                .and_then(|t| t.value())
                .map(str::to_string)
        });
    ensure!(
        token.as_deref() == Some(uid),
        "the VPC carries its object's creation token: {token:?} (uid {uid})"
    );
    delete(
        &run.client,
        "ec2.services.k8s.aws/v1alpha1",
        "VPC",
        Some(&run.ns),
        "net",
    )
    .await?;
    wait_for("no VPC of this run left in moto", || async {
        Ok(vpcs_tagged(&ec2, &run.id).await?.is_empty().then_some(()))
    })
    .await
}

#[tokio::test]
async fn a_vpc_being_created_is_created_once_after_a_kill_at_any_point() -> Result<()> {
    each_point(
        &[
            // Created in AWS, its id not recorded: found again by its creation token.
            "ack/generated-after-create",
            // Its id recorded, not configured nor reported.
            "ack/generated-after-id",
        ],
        vpc_created_through_a_kill,
    )
    .await
}

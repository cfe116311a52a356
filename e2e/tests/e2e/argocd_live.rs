//! e2e: the Argo CD health checks of `docs/argocd/argocd-cm.yaml` on live objects. The real
//! operator (and the ACK controllers on moto) drive RGDs, instances, Buckets, DBSubnetGroups and
//! DBInstances into ready, progressing and failed states; each live object is read back and its
//! health evaluated the way Argo CD would (script chosen by group/kind, Lua 5.1 without the
//! string library). With `CAPTURE_ARGOCD_FIXTURES=1` the objects are also written to
//! `e2e/tests/fixtures/argocd/` for the cluster-free test.

#![allow(clippy::unwrap_used)]

use anyhow::Result;
use kro_aws::rds::db_instance::DBInstance;
use kro_aws::rds::db_subnet_group::DBSubnetGroup;
use kro_aws::s3::bucket::Bucket;
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::argocd_lua::{capture, health_of};
use crate::support::aws::{self, bucket_name, create};
use crate::support::operator::{
    KRO_API, Operator, rgd_name, unique_kind, wait_rgd_active, wait_rgd_state,
};
use crate::support::{
    apply, condition_is, condition_message, delete_and_wait, wait_condition, wait_json,
    wait_object, wait_state,
};

/// An RGD in kro's default group `kro.run` (which the `kro.run/*` entry covers), labelled for
/// `op`.
fn kro_rgd(op: &Operator, kind: &str, spec: Value, resources: Value) -> Value {
    let mut rgd = op.rgd(kind, spec, json!({}), resources);
    rgd["spec"]["schema"]
        .as_object_mut()
        .unwrap()
        .remove("group");
    rgd
}

fn kro_instance(kind: &str, ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": KRO_API, "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

#[tokio::test]
async fn kro_rgds_and_instances_in_argo_cd() -> Result<()> {
    let client = kro_e2e::client().await?;
    let ns = kro_e2e::namespace(&client, "argocd-kro").await?;
    let op = Operator::start(client.clone());
    ready_when_kind_in_argo_cd(&client, &op, &ns).await?;
    cel_error_in_argo_cd(&client, &op, &ns).await?;
    inactive_rgd_in_argo_cd(&client, &op).await?;
    op.stop().await
}

/// A ConfigMap that is ready only when the instance says so (readyWhen): the RGD and its
/// instances healthy, progressing, and degraded when the apiserver refuses the child.
async fn ready_when_kind_in_argo_cd(client: &Client, op: &Operator, ns: &str) -> Result<()> {
    let kind = unique_kind("ArgoApp");
    let rgd = kro_rgd(
        op,
        &kind,
        json!({"cmName": "string", "ready": "string | default=yes"}),
        json!([{
            "id": "cfg",
            "readyWhen": ["${cfg.data.ready == 'yes'}"],
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${schema.spec.cmName}"}, "data": {"ready": "${schema.spec.ready}"}}
        }]),
    );
    apply(client, &rgd).await?;
    let live = wait_rgd_active(client, &rgd_name(&kind)).await?;
    let health = health_of(&live);
    // Ready's message is empty here: the kind's readiness says what is healthy.
    assert_eq!(
        (health.status.as_str(), health.message.as_str()),
        (
            "Healthy",
            format!("kind {kind} has been accepted and ready").as_str()
        )
    );
    capture("rgd-active.yaml", &live);

    apply(
        client,
        &kro_instance(&kind, ns, "ok", json!({"cmName": "ok-cfg"})),
    )
    .await?;
    let live = wait_state(client, KRO_API, &kind, Some(ns), "ok", "ACTIVE").await?;
    let health = health_of(&live);
    assert_eq!(
        (health.status.as_str(), health.message.as_str()),
        ("Healthy", "all resources are created and ready"),
        "{live}"
    );
    capture("instance-active.yaml", &live);

    // The child exists but its readyWhen is false: progressing, saying what it waits for.
    apply(
        client,
        &kro_instance(
            &kind,
            ns,
            "waiting",
            json!({"cmName": "waiting-cfg", "ready": "no"}),
        ),
    )
    .await?;
    // The instance waiting on readyWhen, saying so.
    let live = wait_object(client, KRO_API, &kind, Some(ns), "waiting", |instance| {
        instance["status"]["state"] == "IN_PROGRESS"
            && !condition_message(instance, "Ready").is_empty()
    })
    .await?;
    let health = health_of(&live);
    assert_eq!(health.status, "Progressing", "{live}");
    assert_eq!(health.message, condition_message(&live, "Ready"));
    assert!(
        health.message.contains("cfg"),
        "says which resource: {}",
        health.message
    );
    capture("instance-waiting-readywhen.yaml", &live);

    // The apiserver refuses the child: ERROR, degraded with the apiserver's reason.
    apply(
        client,
        &kro_instance(&kind, ns, "bad", json!({"cmName": "Not_A_Valid_Name"})),
    )
    .await?;
    let live = wait_state(client, KRO_API, &kind, Some(ns), "bad", "ERROR").await?;
    let health = health_of(&live);
    assert_eq!(health.status, "Degraded", "{live}");
    assert!(
        health.message.contains("Not_A_Valid_Name"),
        "{}",
        health.message
    );
    capture("instance-error-apply.yaml", &live);
    Ok(())
}

/// A CEL expression that fails at run time (division by zero): ERROR, degraded.
async fn cel_error_in_argo_cd(client: &Client, op: &Operator, ns: &str) -> Result<()> {
    let cel_kind = unique_kind("ArgoCel");
    apply(
        client,
        &kro_rgd(
            op,
            &cel_kind,
            json!({"divisor": "integer"}),
            json!([{
                "id": "cfg",
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${schema.metadata.name}-cel"}, "data": {"q": "${string(100 / schema.spec.divisor)}"}}
            }]),
        ),
    )
    .await?;
    wait_rgd_active(client, &rgd_name(&cel_kind)).await?;
    apply(
        client,
        &kro_instance(&cel_kind, ns, "zero", json!({"divisor": 0})),
    )
    .await?;
    let live = wait_state(client, KRO_API, &cel_kind, Some(ns), "zero", "ERROR").await?;
    let health = health_of(&live);
    assert_eq!(health.status, "Degraded", "{live}");
    assert!(
        health.message.contains("string(100 / schema.spec.divisor)")
            && health.message.to_lowercase().contains("division by zero"),
        "{}",
        health.message
    );
    capture("instance-error-cel.yaml", &live);
    Ok(())
}

/// An RGD whose template reads a field the schema does not have: Inactive, degraded.
async fn inactive_rgd_in_argo_cd(client: &Client, op: &Operator) -> Result<()> {
    let bad_kind = unique_kind("ArgoBad");
    apply(
        client,
        &kro_rgd(
            op,
            &bad_kind,
            json!({"name": "string"}),
            json!([{
                "id": "cfg",
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${schema.spec.nope}"}}
            }]),
        ),
    )
    .await?;
    let live = wait_rgd_state(client, &rgd_name(&bad_kind), "Inactive").await?;
    let health = health_of(&live);
    assert_eq!(health.status, "Degraded", "{live}");
    assert!(health.message.contains("nope"), "{}", health.message);
    capture("rgd-inactive.yaml", &live);
    Ok(())
}

#[tokio::test]
async fn ack_kinds_in_argo_cd() -> Result<()> {
    let (client, ns, controllers) = aws::setup("argocd-ack").await?;
    let buckets: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let groups: Api<DBSubnetGroup> = Api::namespaced(client.clone(), &ns);
    let dbs: Api<DBInstance> = Api::namespaced(client.clone(), &ns);

    create(
        &buckets,
        json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "good"}, "spec": {"name": bucket_name("kro-argo")}}),
    )
    .await?;
    let live = wait_condition(&buckets, "good", "ACK.ResourceSynced", "True").await?;
    let h = health_of(&live);
    assert_eq!(
        (h.status.as_str(), h.message.as_str()),
        ("Healthy", "Resource synced successfully")
    );
    capture("bucket-synced.yaml", &live);

    // An invalid location constraint: terminal, degraded with AWS's message.
    create(
        &buckets,
        json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "bad"}, "spec": {"name": bucket_name("kro-argo-bad"), "createBucketConfiguration": {"locationConstraint": "eu-west-1"}}}),
    )
    .await?;
    let live = wait_condition(&buckets, "bad", "ACK.Terminal", "True").await?;
    let h = health_of(&live);
    assert_eq!(h.status, "Degraded");
    assert_eq!(h.message, condition_message(&live, "ACK.Terminal"));
    assert!(
        h.message.contains("IllegalLocationConstraintException"),
        "{}",
        h.message
    );
    capture("bucket-terminal.yaml", &live);

    let net = kro_e2e::moto_network()?;
    create(
        &groups,
        json!({"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBSubnetGroup", "metadata": {"name": "subnets"},
               "spec": {"name": kro_e2e::unique_name("kro-argo-sg").to_ascii_lowercase(), "description": "argo", "subnetIDs": net.subnet_ids}}),
    )
    .await?;
    let live = wait_condition(&groups, "subnets", "ACK.ResourceSynced", "True").await?;
    let h = health_of(&live);
    assert_eq!(
        (h.status.as_str(), h.message.as_str()),
        ("Healthy", "Resource synced successfully")
    );
    capture("dbsubnetgroup-synced.yaml", &live);

    // The password Secret is missing: a recoverable wait, progressing with the reason.
    create(
        &dbs,
        json!({"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance", "metadata": {"name": "db"},
               "spec": {"dbInstanceIdentifier": kro_e2e::unique_name("kro-argo-db").to_ascii_lowercase(), "dbInstanceClass": "db.t3.micro",
                        "engine": "postgres", "allocatedStorage": 20, "masterUsername": "app",
                        "masterUserPassword": {"name": "db-password", "key": "password"},
                        "dbSubnetGroupRef": {"from": {"name": "subnets"}}}}),
    )
    .await?;
    let live = wait_json(&dbs, "db", "waiting for the Secret", |v| {
        condition_is(v, "ACK.Recoverable", "True")
            && condition_message(v, "ACK.Recoverable").contains("Secret")
    })
    .await?;
    let h = health_of(&live);
    assert_eq!(h.status, "Progressing");
    assert_eq!(h.message, condition_message(&live, "ACK.Recoverable"));
    assert!(h.message.contains("db-password"), "{}", h.message);
    capture("dbinstance-waiting-secret.yaml", &live);

    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password"}, "stringData": {"password": "s3cret-pass"}}),
    )
    .await?;
    let live = wait_condition(&dbs, "db", "ACK.ResourceSynced", "True").await?;
    assert_eq!(live["status"]["dbInstanceStatus"], "available");
    let h = health_of(&live);
    assert_eq!(
        (h.status.as_str(), h.message.as_str()),
        ("Healthy", "Resource synced successfully")
    );
    capture("dbinstance-available.yaml", &live);

    create(
        &dbs,
        json!({"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance", "metadata": {"name": "bad-db"},
               "spec": {"dbInstanceIdentifier": kro_e2e::unique_name("kro-argo-bad").to_ascii_lowercase(), "dbInstanceClass": "db.t3.micro", "engine": "no-such-engine", "allocatedStorage": 20}}),
    )
    .await?;
    let live = wait_condition(&dbs, "bad-db", "ACK.Terminal", "True").await?;
    let h = health_of(&live);
    assert_eq!(h.status, "Degraded");
    assert!(
        h.message
            .contains("Value no-such-engine for parameter Engine is invalid"),
        "{}",
        h.message
    );
    capture("dbinstance-terminal.yaml", &live);

    delete_and_wait(&dbs, "db").await?;
    delete_and_wait(&dbs, "bad-db").await?;
    delete_and_wait(&groups, "subnets").await?;
    delete_and_wait(&buckets, "good").await?;
    delete_and_wait(&buckets, "bad").await?;
    controllers.stop().await;
    Ok(())
}

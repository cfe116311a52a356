//! AWS authority: the ACK adoption gate, user-written finalizers never proving ownership,
//! cross-namespace references and Secrets, and the ACK deletion policies.
//!
//! Each test runs the ACK controllers in-process against the shared moto (as the `aws_*`
//! modules do), with the options a `kro run` flag sets, and checks what reaches AWS.

#![allow(clippy::unwrap_used)]

use anyhow::Result;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kro_aws::DeletionPolicy;
use kro_aws::rds::db_instance::DBInstance;
use kro_aws::s3::bucket::Bucket;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::aws::*;
use crate::support::events::wait_event;
use crate::support::{
    condition_is, condition_message, delete_and_wait, wait_condition, wait_for, wait_json,
};

const BUCKET_FINALIZER: &str = "finalizers.s3.services.k8s.aws/Bucket";

/// What a pre-existing bucket holds that a takeover would change: its tags and its policy.
async fn bucket_state(s3: &aws_sdk_s3::Client, name: &str) -> (Vec<(String, String)>, String) {
    let policy = s3
        .get_bucket_policy()
        .bucket(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.policy().map(str::to_owned))
        .unwrap_or_default();
    (s3_tags(s3, name).await, policy)
}

/// A bucket made outside Kubernetes (a production bucket of the account), tagged and with a
/// policy.
async fn existing_bucket(s3: &aws_sdk_s3::Client, name: &str) -> Result<()> {
    kro_e2e::create_bucket(s3, name).await?;
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key("owner")
                        .value("platform")
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    s3.put_bucket_policy()
        .bucket(name)
        .policy(read_policy(name, "PlatformRead"))
        .send()
        .await?;
    Ok(())
}

fn read_policy(bucket: &str, sid: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*")
        }]
    })
    .to_string()
}

async fn exists(s3: &aws_sdk_s3::Client, name: &str) -> bool {
    s3.head_bucket().bucket(name).send().await.is_ok()
}

fn bucket(name: &str, bucket: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "s3.services.k8s.aws/v1alpha1",
        "kind": "Bucket",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"name": bucket}
    })
}

async fn instance_in_aws(rds: &aws_sdk_rds::Client, id: &str) -> bool {
    rds.describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .is_ok_and(|o| !o.db_instances().is_empty())
}

fn db_instance(name: &str, id: &str, extra: Value) -> Value {
    let mut spec = json!({
        "dbInstanceIdentifier": id,
        "dbInstanceClass": "db.t3.micro",
        "engine": "postgres",
        "allocatedStorage": 20,
        "masterUsername": "app"
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "rds.services.k8s.aws/v1alpha1",
        "kind": "DBInstance",
        "metadata": {"name": name},
        "spec": spec
    })
}

/// A Bucket written with ACK's finalizer by whoever creates it, naming a bucket that already
/// exists: terminal, nothing in S3 changes, and deleting the object leaves the bucket.
#[tokio::test]
async fn a_hand_written_finalizer_does_not_take_over_an_existing_bucket() -> Result<()> {
    let (client, ns, controllers) = setup("tenancy-aws-finalizer").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-prod");
    existing_bucket(&s3, &name).await?;
    let before = bucket_state(&s3, &name).await;

    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "takeover", "finalizers": [BUCKET_FINALIZER]},
            "spec": {
                "name": name,
                "tagging": {"tagSet": [{"key": "owner", "value": "attacker"}]},
                "policy": read_policy(&name, "AttackerRead")
            }
        }),
    )
    .await?;
    let obj = wait_condition(&api, "takeover", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.contains("already exists but is not managed by ACK"),
        "{msg}"
    );
    assert!(msg.contains("explicitly adopt"), "{msg}");
    assert!(
        msg.contains(&format!(
            "the finalizer {BUCKET_FINALIZER} does not make it managed"
        )),
        "{msg}"
    );
    assert!(
        obj["status"].get("ackResourceMetadata").is_none(),
        "no ownership marker: {}",
        obj["status"]
    );
    assert_eq!(bucket_state(&s3, &name).await, before, "S3 is unchanged");

    delete_and_wait(&api, "takeover").await?;
    assert!(
        exists(&s3, &name).await,
        "deleting the object leaves the bucket"
    );
    assert_eq!(bucket_state(&s3, &name).await, before);
    wait_event(&client, &ns, "Bucket", "takeover", "NotManaged", &name).await?;
    controllers.stop().await;
    Ok(())
}

/// Adoption stays annotation-driven as in ACK: honoured by default, refused for the whole
/// operator with `--enable-resource-adoption=false`.
#[tokio::test]
async fn adoption_is_annotation_driven_and_off_with_the_flag() -> Result<()> {
    let s3 = kro_e2e::s3_client().await;

    // Default: adopt-or-create takes the bucket over, then S3 follows the spec.
    let (client, ns, controllers) = setup("tenancy-aws-adopt").await?;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-adoptee");
    existing_bucket(&s3, &name).await?;
    let mut adopt = bucket(
        "adopter",
        &name,
        json!({
            "services.k8s.aws/adoption-policy": "adopt-or-create",
            "services.k8s.aws/adoption-fields": format!("{{\"name\": \"{name}\"}}")
        }),
    );
    adopt["spec"]["tagging"] = json!({"tagSet": [{"key": "team", "value": "a"}]});
    create(&api, adopt).await?;
    let obj = wait_json(&api, "adopter", "adopted and synced", |v| {
        condition_is(v, "ACK.ResourceSynced", "True")
            && v["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"
    })
    .await?;
    assert_eq!(obj["status"]["ackResourceMetadata"]["identifier"], name);
    wait_for("the adopted bucket carries the spec's tags", || async {
        let tags = s3_tags(&s3, &name).await;
        Ok((tags == vec![("team".to_string(), "a".to_string())]).then_some(()))
    })
    .await?;
    controllers.stop().await;

    // --enable-resource-adoption=false: the same annotations are refused, nothing is read in.
    let (client, ns, controllers) = setup_with("tenancy-aws-noadopt", |o| {
        o.enable_resource_adoption = false;
    })
    .await?;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-no-adopt");
    existing_bucket(&s3, &name).await?;
    let before = bucket_state(&s3, &name).await;
    create(
        &api,
        bucket(
            "adopter",
            &name,
            json!({
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"name\": \"{name}\"}}")
            }),
        ),
    )
    .await?;
    let obj = wait_condition(&api, "adopter", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.contains("resource adoption is disabled in this operator"),
        "{msg}"
    );
    assert!(msg.contains("--enable-resource-adoption=true"), "{msg}");
    assert!(obj["metadata"].get("finalizers").is_none(), "{obj}");
    assert!(
        obj["metadata"]["annotations"]
            .get("services.k8s.aws/adopted")
            .is_none()
    );
    assert_eq!(bucket_state(&s3, &name).await, before, "S3 is unchanged");
    delete_and_wait(&api, "adopter").await?;
    assert!(exists(&s3, &name).await);
    controllers.stop().await;
    Ok(())
}

/// A DBInstance's password Secret and `*Ref`s in another namespace are refused by default and
/// work with `--enable-cross-namespace`.
#[tokio::test]
async fn cross_namespace_secret_and_refs_need_the_flag() -> Result<()> {
    let rds = kro_e2e::rds_client().await;
    let (client, ns, controllers) = setup("tenancy-aws-xns").await?;
    let other = kro_e2e::namespace(&client, "tenancy-aws-secrets").await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &other);
    create(
        &secrets,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db-pass"},
            "stringData": {"password": "not-for-team-a"}
        }),
    )
    .await?;
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let id = kro_e2e::unique_name("kro-xns-db").to_ascii_lowercase();
    let password =
        json!({"masterUserPassword": {"namespace": other, "name": "db-pass", "key": "password"}});
    create(&api, db_instance("cross-db", &id, password.clone())).await?;
    let obj = wait_condition(&api, "cross-db", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.starts_with(
            "spec.masterUserPassword.namespace: cross-namespace Secret references are not allowed"
        ),
        "{msg}"
    );
    assert!(msg.contains(&format!("Secret {other}/db-pass")), "{msg}");
    assert!(msg.contains("--enable-cross-namespace"), "{msg}");
    assert!(obj["metadata"].get("finalizers").is_none(), "{obj}");
    assert!(!instance_in_aws(&rds, &id).await, "nothing is created");

    let ref_id = kro_e2e::unique_name("kro-xns-ref").to_ascii_lowercase();
    let subnet_ref =
        json!({"dbSubnetGroupRef": {"from": {"name": "shared-subnets", "namespace": other}}});
    create(&api, db_instance("cross-ref-db", &ref_id, subnet_ref)).await?;
    let obj = wait_condition(&api, "cross-ref-db", "ACK.ReferencesResolved", "False").await?;
    let msg = condition_message(&obj, "ACK.ReferencesResolved");
    assert!(
        msg.starts_with(
            "spec.dbSubnetGroupRef.from.namespace: cross-namespace references are not allowed"
        ),
        "{msg}"
    );
    assert!(msg.contains("--enable-cross-namespace"), "{msg}");
    assert!(condition_is(&obj, "ACK.Terminal", "True"), "{obj}");
    assert!(!instance_in_aws(&rds, &ref_id).await);
    controllers.stop().await;

    // --enable-cross-namespace: the same password reference is read and the instance created.
    let (client, ns, controllers) = setup_with("tenancy-aws-xns-on", |o| {
        o.enable_cross_namespace = true;
    })
    .await?;
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let id = kro_e2e::unique_name("kro-xns-on").to_ascii_lowercase();
    create(&api, db_instance("cross-db", &id, password)).await?;
    wait_condition(&api, "cross-db", "ACK.ResourceSynced", "True").await?;
    assert!(instance_in_aws(&rds, &id).await);
    delete_and_wait(&api, "cross-db").await?;
    controllers.stop().await;
    Ok(())
}

/// `--deletion-policy retain` keeps every bucket; so does the namespace annotation
/// `s3.services.k8s.aws/deletion-policy: retain`, which an object's own annotation overrides.
#[tokio::test]
async fn deletion_policy_flag_and_namespace_annotation_keep_the_bucket() -> Result<()> {
    let s3 = kro_e2e::s3_client().await;
    let (client, ns, controllers) = setup_with("tenancy-aws-retain", |o| {
        o.deletion_policy = DeletionPolicy::Retain;
    })
    .await?;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let kept = bucket_name("kro-kept-flag");
    create(&api, bucket("kept", &kept, json!({}))).await?;
    wait_condition(&api, "kept", "ACK.ResourceSynced", "True").await?;
    delete_and_wait(&api, "kept").await?;
    assert!(
        exists(&s3, &kept).await,
        "--deletion-policy retain keeps it"
    );
    wait_event(&client, &ns, "Bucket", "kept", "Retained", &kept).await?;
    controllers.stop().await;

    let (client, ns, controllers) = setup("tenancy-aws-ns-retain").await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    patch(
        &namespaces,
        &ns,
        json!({"metadata": {"annotations": {"s3.services.k8s.aws/deletion-policy": "retain"}}}),
    )
    .await?;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let kept = bucket_name("kro-kept-ns");
    let dropped = bucket_name("kro-dropped");
    create(&api, bucket("kept", &kept, json!({}))).await?;
    create(
        &api,
        bucket(
            "dropped",
            &dropped,
            json!({"services.k8s.aws/deletion-policy": "delete"}),
        ),
    )
    .await?;
    for name in ["kept", "dropped"] {
        wait_condition(&api, name, "ACK.ResourceSynced", "True").await?;
        delete_and_wait(&api, name).await?;
    }
    assert!(
        exists(&s3, &kept).await,
        "the namespace annotation keeps it"
    );
    assert!(
        !exists(&s3, &dropped).await,
        "the object's own annotation wins over the namespace's"
    );
    controllers.stop().await;
    Ok(())
}

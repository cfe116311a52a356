//! e2e: the ACK-compatible S3 Bucket controller against the real apiserver and moto: create,
//! update, drift correction, adoption, terminal errors and both deletion policies.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use anyhow::Result;
use kro_aws::s3::bucket::Bucket;
use kube::Client;
use kube::api::Api;
use serde_json::json;

use crate::support::aws::*;
use crate::support::events::{event_reasons, events_of, wait_event};
use crate::support::{
    condition, condition_is, condition_message, delete_and_wait, wait_condition, wait_for,
    wait_json,
};

async fn s3_versioning(s3: &aws_sdk_s3::Client, name: &str) -> Option<String> {
    s3.get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .unwrap()
        .status()
        .map(|s| s.as_str().to_owned())
}

async fn exists(s3: &aws_sdk_s3::Client, name: &str) -> bool {
    s3.head_bucket().bucket(name).send().await.is_ok()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn bucket_create_update_drift_and_delete() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket").await?;
    let case = BucketCase {
        s3: kro_e2e::s3_client().await,
        api: Api::namespaced(client.clone(), &ns),
        name: bucket_name("kro-b"),
        client,
        ns,
    };
    create_app_bucket(&case).await?;
    creation_events_and_encryption(&case).await?;
    update_reaches_s3(&case).await?;
    drift_is_corrected(&case).await?;
    idle_resyncs_add_no_events(&case).await?;
    delete_takes_the_bucket(&case).await?;
    controllers.stop().await;
    Ok(())
}

/// The bucket of the lifecycle test and what reaches it.
struct BucketCase {
    client: Client,
    ns: String,
    s3: aws_sdk_s3::Client,
    api: Api<Bucket>,
    /// The bucket's name in S3.
    name: String,
}

/// Create: the object synced, its status filled in, every setting in S3.
async fn create_app_bucket(case: &BucketCase) -> Result<()> {
    let BucketCase { s3, api, name, .. } = case;
    create(
        api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "app-bucket"},
            "spec": {
                "name": name,
                "tagging": {"tagSet": [{"key": "team", "value": "a"}, {"key": "env", "value": "test"}]},
                "versioning": {"status": "Enabled"},
                "publicAccessBlock": {"blockPublicACLs": true, "blockPublicPolicy": true, "ignorePublicACLs": true, "restrictPublicBuckets": true},
                "encryption": {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
                "cors": {"corsRules": [{"allowedMethods": ["GET"], "allowedOrigins": ["https://example.com"], "maxAgeSeconds": 60}]},
                "lifecycle": {"rules": [{"id": "tmp", "status": "Enabled", "filter": {"prefix": "tmp/"}, "expiration": {"days": 7}}]}
            }
        }),
    )
    .await?;

    let obj = wait_condition(api, "app-bucket", "ACK.ResourceSynced", "True").await?;
    assert_eq!(condition(&obj, "Ready").unwrap()["status"], "True");
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["arn"],
        json!(format!("arn:aws:s3:::{name}"))
    );
    assert_eq!(obj["status"]["ackResourceMetadata"]["region"], "us-west-2");
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["ownerAccountID"],
        "123456789012"
    );
    assert_eq!(obj["status"]["location"], json!(format!("/{name}")));
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.s3.services.k8s.aws/Bucket"])
    );
    assert_eq!(
        s3_tags(s3, name).await,
        pairs(&[("env", "test"), ("team", "a")])
    );
    assert_eq!(s3_versioning(s3, name).await.as_deref(), Some("Enabled"));
    let pab = s3.get_public_access_block().bucket(name).send().await?;
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .block_public_acls(),
        Some(true)
    );
    let cors = s3.get_bucket_cors().bucket(name).send().await?;
    assert_eq!(
        cors.cors_rules()[0].allowed_origins(),
        ["https://example.com".to_string()]
    );
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await?;
    assert_eq!(lifecycle.rules()[0].id(), Some("tmp"));
    // ACK's metrics counted the controllers' calls (process-wide, so other tests' too; the
    // test's own S3 client is not counted).
    let metrics = kro_reconcile::ack_metrics::encode();
    for series in [
        r#"ack_outbound_api_requests_total{service="s3",op_type="CREATE",op_id="CreateBucket"} "#,
        r#"ack_outbound_api_requests_total{service="s3",op_type="UPDATE",op_id="PutBucketVersioning"} "#,
    ] {
        assert!(metrics.contains(series), "{series} missing from\n{metrics}");
    }
    Ok(())
}

/// What `kubectl get events` tells the user after the create; encryption reached S3.
async fn creation_events_and_encryption(case: &BucketCase) -> Result<()> {
    let BucketCase {
        client,
        ns,
        s3,
        name,
        ..
    } = case;
    // What `kubectl get events` tells the user: created (configuring included), then synced,
    // reported by the S3 controller.
    let created = wait_event(client, ns, "Bucket", "app-bucket", "Created", name).await?;
    assert_eq!(
        (created.type_.as_str(), created.reporter.as_str()),
        ("Normal", "kro-rs-ack-s3")
    );
    assert_eq!(
        created.message,
        format!("Created Bucket {name:?} in AWS region us-west-2")
    );
    wait_event(client, ns, "Bucket", "app-bucket", "Synced", "").await?;
    let enc = s3.get_bucket_encryption().bucket(name).send().await?;
    assert_eq!(
        enc.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    Ok(())
}

/// Update: a spec change reaches S3.
async fn update_reaches_s3(case: &BucketCase) -> Result<()> {
    let BucketCase { s3, api, name, .. } = case;
    patch(
        api,
        "app-bucket",
        json!({"spec": {"tagging": {"tagSet": [{"key": "team", "value": "b"}]}}}),
    )
    .await?;
    wait_for("tags updated in S3", || {
        let s3 = s3.clone();
        let name = name.clone();
        async move { Ok((s3_tags(&s3, &name).await == pairs(&[("team", "b")])).then_some(())) }
    })
    .await?;
    Ok(())
}

/// Drift: changes made behind the controller's back are reverted at the next resync.
async fn drift_is_corrected(case: &BucketCase) -> Result<()> {
    let BucketCase {
        client,
        ns,
        s3,
        name,
        ..
    } = case;
    put_tag(s3, name, "team", "intruder").await?;
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await?;
    wait_for("drift corrected", || {
        let s3 = s3.clone();
        let name = name.clone();
        async move {
            let ok = s3_tags(&s3, &name).await == pairs(&[("team", "b")])
                && s3_versioning(&s3, &name).await.as_deref() == Some("Enabled");
            Ok(ok.then_some(()))
        }
    })
    .await?;
    // The update and the drift correction each say which S3 calls they made.
    let updated = wait_event(
        client,
        ns,
        "Bucket",
        "app-bucket",
        "Updated",
        "PutBucketVersioning",
    )
    .await?;
    assert!(
        updated.message.contains("PutBucketTagging"),
        "{}",
        updated.message
    );
    Ok(())
}

/// Idle resyncs add no events.
async fn idle_resyncs_add_no_events(case: &BucketCase) -> Result<()> {
    let BucketCase { client, ns, .. } = case;
    // Idle resyncs (every 3 s here) add no events: still one Synced, one Created. Proving that
    // nothing is added takes a while: the controllers run two resyncs before events are listed.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let seen = events_of(client, ns, "Bucket", "app-bucket").await?;
    for reason in ["Created", "Synced"] {
        let same: Vec<_> = seen.iter().filter(|event| event.reason == reason).collect();
        assert_eq!(same.len(), 1, "{reason}: {seen:?}");
        assert_eq!(same[0].count, 1, "{reason}: {seen:?}");
    }
    assert!(
        seen.iter().all(|event| event.type_ == "Normal"),
        "no warnings: {seen:?}"
    );
    Ok(())
}

/// Delete (default policy): the bucket goes with its object.
async fn delete_takes_the_bucket(case: &BucketCase) -> Result<()> {
    let BucketCase {
        client,
        ns,
        s3,
        api,
        name,
    } = case;
    delete_and_wait(api, "app-bucket").await?;
    assert!(!exists(s3, name).await, "bucket {name} still exists in S3");
    let deleted = wait_event(client, ns, "Bucket", "app-bucket", "Deleted", name).await?;
    assert_eq!(deleted.message, format!("Deleted Bucket {name:?} from AWS"));
    Ok(())
}

#[tokio::test]
async fn bucket_with_retain_policy_survives_deletion() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-retain").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-keep");
    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "kept", "annotations": {"services.k8s.aws/deletion-policy": "retain"}},
            "spec": {"name": name}
        }),
    )
    .await?;
    wait_condition(&api, "kept", "ACK.ResourceSynced", "True").await?;
    delete_and_wait(&api, "kept").await?;
    assert!(
        exists(&s3, &name).await,
        "a retained bucket must survive its object"
    );
    let retained = wait_event(&client, &ns, "Bucket", "kept", "Retained", &name).await?;
    assert!(
        retained.message.contains("deletion policy is retain"),
        "{}",
        retained.message
    );
    assert!(
        !event_reasons(&client, &ns, "Bucket", "kept")
            .await?
            .contains(&"Deleted".to_owned()),
        "a retained bucket is not reported deleted"
    );
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn bucket_adoption_and_unmanaged_conflict() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-adopt").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-existing");
    kro_e2e::create_bucket(&s3, &name).await?;
    put_tag(&s3, &name, "owner", "legacy").await?;

    // Without adoption annotations an existing bucket is not taken over.
    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "squatter"},
            "spec": {"name": name}
        }),
    )
    .await?;
    let obj = wait_condition(&api, "squatter", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("Resource already exists"), "{msg}");
    assert!(
        obj["metadata"].get("finalizers").is_none(),
        "an unmanaged object gets no finalizer"
    );
    delete_and_wait(&api, "squatter").await?;
    assert!(
        exists(&s3, &name).await,
        "deleting an unmanaged object leaves the bucket alone"
    );

    // adopt: AWS state is imported into the spec.
    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "adopted", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"name\": \"{name}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"name": name}
        }),
    )
    .await?;
    let obj = wait_json(&api, "adopted", "adopted and synced", |v| {
        condition_is(v, "ACK.ResourceSynced", "True")
            && v["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"
            && v["spec"]["tagging"].is_object()
    })
    .await?;
    assert_eq!(
        obj["spec"]["tagging"],
        json!({"tagSet": [{"key": "owner", "value": "legacy"}]})
    );
    assert_eq!(
        s3_tags(&s3, &name).await,
        pairs(&[("owner", "legacy")]),
        "adopt does not change AWS"
    );
    let adopted = wait_event(&client, &ns, "Bucket", "adopted", "Adopted", &name).await?;
    assert_eq!(
        adopted.message,
        format!("Adopted the existing AWS Bucket {name:?}")
    );

    // Once adopted the spec is authoritative again.
    patch(
        &api,
        "adopted",
        json!({"spec": {"versioning": {"status": "Enabled"}}}),
    )
    .await?;
    wait_for("versioning enabled on the adopted bucket", || {
        let s3 = s3.clone();
        let name = name.clone();
        async move { Ok((s3_versioning(&s3, &name).await.as_deref() == Some("Enabled")).then_some(())) }
    })
    .await?;
    delete_and_wait(&api, "adopted").await?;
    assert!(exists(&s3, &name).await);
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn invalid_bucket_is_terminal_with_aws_message() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-bad").await?;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-bad");
    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "bad"},
            "spec": {"name": name, "createBucketConfiguration": {"locationConstraint": "eu-west-1"}}
        }),
    )
    .await?;
    let obj = wait_condition(&api, "bad", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("IllegalLocationConstraintException"), "{msg}");
    assert!(
        msg.contains("eu-west-1 location constraint is incompatible"),
        "AWS's message is kept: {msg}"
    );
    assert_eq!(
        condition(&obj, "ACK.ResourceSynced").unwrap()["status"],
        "False"
    );
    assert_eq!(condition(&obj, "Ready").unwrap()["status"], "False");
    assert!(
        obj["metadata"].get("finalizers").is_none(),
        "nothing was created, so nothing is managed"
    );
    // One Warning event with AWS's message, not one per retry (terminal is not retried).
    let terminal = wait_event(
        &client,
        &ns,
        "Bucket",
        "bad",
        "TerminalError",
        "IllegalLocationConstraintException",
    )
    .await?;
    assert_eq!(terminal.type_, "Warning");
    // Proving that no second event comes takes a while: a resync (3 s here) goes by first.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let reasons = event_reasons(&client, &ns, "Bucket", "bad").await?;
    assert_eq!(reasons, ["TerminalError"]);

    // Fixing the spec clears the terminal condition.
    patch(
        &api,
        "bad",
        json!({"spec": {"createBucketConfiguration": {"locationConstraint": "us-west-2"}}}),
    )
    .await?;
    let obj = wait_condition(&api, "bad", "ACK.ResourceSynced", "True").await?;
    assert!(condition(&obj, "ACK.Terminal").is_none());
    wait_event(&client, &ns, "Bucket", "bad", "Created", &name).await?;
    delete_and_wait(&api, "bad").await?;
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn read_only_bucket_reports_but_never_writes() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-ro").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-ro");
    kro_e2e::create_bucket(&s3, &name).await?;
    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "observed", "annotations": {"services.k8s.aws/read-only": "true"}},
            "spec": {"name": name, "versioning": {"status": "Enabled"}, "tagging": {"tagSet": [{"key": "k", "value": "v"}]}}
        }),
    )
    .await?;
    let obj = wait_condition(&api, "observed", "ACK.ResourceSynced", "True").await?;
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["arn"],
        json!(format!("arn:aws:s3:::{name}"))
    );
    // Proving that read-only never writes takes a while: a resync (3 s here) goes by first.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        s3_versioning(&s3, &name).await,
        None,
        "read-only never updates"
    );
    assert_eq!(s3_tags(&s3, &name).await, Vec::<(String, String)>::new());
    delete_and_wait(&api, "observed").await?;
    assert!(exists(&s3, &name).await, "read-only never deletes");
    controllers.stop().await;
    Ok(())
}

//! e2e: the Bucket settings beside the core ones (issue 17.3) on moto: transfer acceleration,
//! server access logging, a static website, event notifications, an Object Lock default
//! retention and the whole lifecycle rule (`filter.and`, noncurrent version transitions,
//! dates), and replication with its role named by `roleRef` (on moto with e2e/moto/server.py's
//! faithful GetBucketReplication). Each is created, read back from S3, left alone at idle
//! resyncs (no perpetual diff), corrected after drift, and removed from S3 when the spec drops
//! it, as ACK does.

#![allow(clippy::unwrap_used)]

use anyhow::{Context, Result};
use aws_sdk_s3::error::ProvideErrorMetadata;
use kro_aws::s3::bucket::Bucket;
use kube::api::Api;
use serde_json::json;

use crate::support::aws::*;
use crate::support::events::events_of;
use crate::support::{delete_and_wait, wait_condition, wait_for};

/// The error code S3 answers a Get with, `None` when the call succeeds.
fn get_error<T, E: ProvideErrorMetadata>(
    res: std::result::Result<T, aws_sdk_s3::error::SdkError<E>>,
) -> Option<String> {
    res.err().map(|e| e.code().unwrap_or("?").to_owned())
}

/// A bucket the logging service may write to, as S3 (and moto) require of a log target.
async fn log_target(s3: &aws_sdk_s3::Client, name: &str) -> Result<()> {
    kro_e2e::create_bucket(s3, name).await?;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": ["s3:PutObject"],
            "Resource": format!("arn:aws:s3:::{name}/*"),
        }]
    });
    s3.put_bucket_policy()
        .bucket(name)
        .policy(policy.to_string())
        .send()
        .await
        .context("put_bucket_policy")?;
    Ok(())
}

/// Deletes the log target with the access logs S3 wrote into it.
async fn remove_log_target(s3: &aws_sdk_s3::Client, name: &str) -> Result<()> {
    let listed = s3
        .list_objects_v2()
        .bucket(name)
        .send()
        .await
        .context("list_objects_v2")?;
    for object in listed.contents() {
        if let Some(key) = object.key() {
            s3.delete_object()
                .bucket(name)
                .key(key)
                .send()
                .await
                .context("delete_object")?;
        }
    }
    s3.delete_bucket()
        .bucket(name)
        .send()
        .await
        .context("delete_bucket")?;
    Ok(())
}

const QUEUE: &str = "arn:aws:sqs:us-west-2:123456789012:uploads";

#[tokio::test]
async fn bucket_settings_create_idle_drift_and_removal() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-settings").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let name = bucket_name("kro-site");
    let logs = bucket_name("kro-logs");
    log_target(&s3, &logs).await?;

    create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "site"},
            "spec": {
                "name": name,
                "objectLockEnabledForBucket": true,
                "versioning": {"status": "Enabled"},
                "objectLockConfiguration": {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 1}}},
                "accelerate": {"status": "Enabled"},
                "logging": {"loggingEnabled": {"targetBucket": logs, "targetPrefix": "site/"}},
                "website": {
                    "indexDocument": {"suffix": "index.html"},
                    "errorDocument": {"key": "404.html"},
                    "routingRules": [{"condition": {"keyPrefixEquals": "docs/"}, "redirect": {"replaceKeyPrefixWith": "documents/"}}]
                },
                "notification": {"queueConfigurations": [{"id": "uploads", "queueARN": QUEUE, "events": ["s3:ObjectCreated:*"]}]},
                "cors": {"corsRules": [{"allowedMethods": ["GET"], "allowedOrigins": ["https://example.com"]}]},
                "lifecycle": {"rules": [{
                    "id": "archive",
                    "status": "Enabled",
                    "filter": {"and": {"prefix": "logs/", "tags": [{"key": "tier", "value": "cold"}]}},
                    "noncurrentVersionTransitions": [{"noncurrentDays": 30, "storageClass": "STANDARD_IA"}],
                    "expiration": {"date": "2030-01-01T00:00:00.000Z"}
                }]}
            }
        }),
    )
    .await?;
    wait_condition(&api, "site", "ACK.ResourceSynced", "True").await?;
    settings_reach_s3(&s3, &name, &logs).await?;
    drift_is_corrected_and_nothing_else_rewritten(&client, &ns, &s3, &name).await?;
    removed_settings_leave_s3(&api, &s3, &name).await?;

    delete_and_wait(&api, "site").await?;
    remove_log_target(&s3, &logs).await?;
    controllers.stop().await;
    Ok(())
}

/// Every setting of the spec, read back from S3.
async fn settings_reach_s3(s3: &aws_sdk_s3::Client, name: &str, logs: &str) -> Result<()> {
    let accelerate = s3
        .get_bucket_accelerate_configuration()
        .bucket(name)
        .send()
        .await
        .context("get_bucket_accelerate_configuration")?;
    assert_eq!(accelerate.status().map(|s| s.as_str()), Some("Enabled"));
    let logging = s3
        .get_bucket_logging()
        .bucket(name)
        .send()
        .await
        .context("get_bucket_logging")?;
    let enabled = logging.logging_enabled().expect("logging on");
    assert_eq!(
        (enabled.target_bucket(), enabled.target_prefix()),
        (logs, "site/")
    );
    let website = s3
        .get_bucket_website()
        .bucket(name)
        .send()
        .await
        .context("get_bucket_website")?;
    assert_eq!(website.index_document().unwrap().suffix(), "index.html");
    assert_eq!(website.error_document().unwrap().key(), "404.html");
    let rule = &website.routing_rules()[0];
    assert_eq!(rule.condition().unwrap().key_prefix_equals(), Some("docs/"));
    assert_eq!(
        rule.redirect().unwrap().replace_key_prefix_with(),
        Some("documents/")
    );
    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(name)
        .send()
        .await
        .context("get_bucket_notification_configuration")?;
    let queue = &notification.queue_configurations()[0];
    assert_eq!((queue.id(), queue.queue_arn()), (Some("uploads"), QUEUE));
    assert_eq!(queue.events()[0].as_str(), "s3:ObjectCreated:*");
    let lock = s3
        .get_object_lock_configuration()
        .bucket(name)
        .send()
        .await
        .context("get_object_lock_configuration")?;
    let retention = lock
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .expect("a default retention");
    assert_eq!(
        (retention.mode().map(|m| m.as_str()), retention.days()),
        (Some("GOVERNANCE"), Some(1))
    );
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
        .context("get_bucket_lifecycle_configuration")?;
    let rule = &lifecycle.rules()[0];
    let and = rule.filter().and_then(|f| f.and()).expect("filter.and");
    assert_eq!(and.prefix(), Some("logs/"));
    assert_eq!(
        (and.tags()[0].key(), and.tags()[0].value()),
        ("tier", "cold")
    );
    let transition = &rule.noncurrent_version_transitions()[0];
    assert_eq!(
        (
            transition.noncurrent_days(),
            transition.storage_class().map(|s| s.as_str())
        ),
        (Some(30), Some("STANDARD_IA"))
    );
    let date = rule.expiration().and_then(|e| e.date()).expect("a date");
    assert_eq!(date.secs(), 1_893_456_000, "2030-01-01T00:00:00Z");
    Ok(())
}

/// The website deleted and acceleration suspended behind the controller's back come back at
/// the next resync, and no resync rewrites a setting that did not drift: every `Updated`
/// event names only the drifted calls (a setting that compared unequal to S3's own answer
/// would be put again at each resync and named there).
async fn drift_is_corrected_and_nothing_else_rewritten(
    client: &kube::Client,
    ns: &str,
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<()> {
    s3.delete_bucket_website()
        .bucket(name)
        .send()
        .await
        .context("delete_bucket_website")?;
    s3.put_bucket_accelerate_configuration()
        .bucket(name)
        .accelerate_configuration(
            aws_sdk_s3::types::AccelerateConfiguration::builder()
                .status(aws_sdk_s3::types::BucketAccelerateStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .context("put_bucket_accelerate_configuration")?;
    wait_for("website and acceleration restored", || {
        let s3 = s3.clone();
        let name = name.to_owned();
        async move {
            let website = s3.get_bucket_website().bucket(&name).send().await.is_ok();
            let accelerate = s3
                .get_bucket_accelerate_configuration()
                .bucket(&name)
                .send()
                .await
                .context("get_bucket_accelerate_configuration")?;
            let enabled = accelerate.status().map(|s| s.as_str()) == Some("Enabled");
            Ok((website && enabled).then_some(()))
        }
    })
    .await?;
    let updated: Vec<_> = events_of(client, ns, "Bucket", "site")
        .await?
        .into_iter()
        .filter(|e| e.reason == "Updated")
        .collect();
    assert!(!updated.is_empty(), "the drift correction is an event");
    for event in &updated {
        for untouched in [
            "PutBucketLogging",
            "PutBucketNotificationConfiguration",
            "PutObjectLockConfiguration",
            "PutBucketLifecycleConfiguration",
            "PutBucketCors",
            "PutBucketVersioning",
        ] {
            assert!(
                !event.message.contains(untouched),
                "a resync rewrote {untouched}, which did not drift: {updated:?}"
            );
        }
    }
    Ok(())
}

/// A setting dropped from the spec is removed from S3, as ACK does: the website and CORS
/// deleted, logging off, acceleration suspended, notifications stopped, the default
/// retention gone (Object Lock itself cannot be turned off).
async fn removed_settings_leave_s3(
    api: &Api<Bucket>,
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<()> {
    patch(
        api,
        "site",
        json!({"spec": {
            "website": null, "cors": null, "logging": null, "accelerate": null,
            "notification": null, "objectLockConfiguration": null
        }}),
    )
    .await?;
    wait_for("settings removed from S3", || {
        let s3 = s3.clone();
        let name = name.to_owned();
        async move {
            let website = get_error(s3.get_bucket_website().bucket(&name).send().await);
            let cors = get_error(s3.get_bucket_cors().bucket(&name).send().await);
            let logging = s3
                .get_bucket_logging()
                .bucket(&name)
                .send()
                .await
                .context("get_bucket_logging")?;
            let accelerate = s3
                .get_bucket_accelerate_configuration()
                .bucket(&name)
                .send()
                .await
                .context("get_bucket_accelerate_configuration")?;
            let notification = s3
                .get_bucket_notification_configuration()
                .bucket(&name)
                .send()
                .await
                .context("get_bucket_notification_configuration")?;
            let lock = s3
                .get_object_lock_configuration()
                .bucket(&name)
                .send()
                .await
                .context("get_object_lock_configuration")?;
            let done = website.as_deref() == Some("NoSuchWebsiteConfiguration")
                && cors.as_deref() == Some("NoSuchCORSConfiguration")
                && logging.logging_enabled().is_none()
                && accelerate.status().map(|s| s.as_str()) == Some("Suspended")
                && notification.queue_configurations().is_empty()
                && lock
                    .object_lock_configuration()
                    .and_then(|c| c.rule())
                    .is_none();
            Ok(done.then_some(()))
        }
    })
    .await?;
    let obj = wait_condition(api, "site", "ACK.ResourceSynced", "True").await?;
    assert!(
        obj["spec"].get("website").is_none(),
        "nothing is copied back into the spec: {obj}"
    );
    Ok(())
}

/// The replication rules S3 holds for `bucket`: (role, [(id, status, filter prefix, storage
/// class, delete markers)]), `None` when it has none.
async fn replication_in_s3(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Option<(String, Vec<(String, String, String, String, String)>)> {
    let out = s3
        .get_bucket_replication()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    let config = out.replication_configuration()?;
    let rules = config
        .rules()
        .iter()
        .map(|r| {
            let filter = r.filter();
            let prefix = filter
                .and_then(|f| f.prefix().or_else(|| f.and().and_then(|a| a.prefix())))
                .unwrap_or_default();
            (
                r.id().unwrap_or_default().to_owned(),
                r.status().as_str().to_owned(),
                prefix.to_owned(),
                r.destination()
                    .and_then(|d| d.storage_class())
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                r.delete_marker_replication()
                    .and_then(|d| d.status())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    Some((config.role().to_owned(), rules))
}

/// Replaces `source`'s replication with a rule of its own, as someone outside kro-rs would.
async fn put_other_replication(
    s3: &aws_sdk_s3::Client,
    source: &str,
    target: &str,
    role_arn: &str,
) -> Result<()> {
    let other = aws_sdk_s3::types::ReplicationConfiguration::builder()
        .role(role_arn)
        .rules(
            aws_sdk_s3::types::ReplicationRule::builder()
                .id("intruder")
                .priority(9)
                .status(aws_sdk_s3::types::ReplicationRuleStatus::Enabled)
                .filter(
                    aws_sdk_s3::types::ReplicationRuleFilter::builder()
                        .prefix("x/")
                        .build(),
                )
                .delete_marker_replication(
                    aws_sdk_s3::types::DeleteMarkerReplication::builder()
                        .status(aws_sdk_s3::types::DeleteMarkerReplicationStatus::Disabled)
                        .build(),
                )
                .destination(
                    aws_sdk_s3::types::Destination::builder()
                        .bucket(format!("arn:aws:s3:::{target}"))
                        .build()?,
                )
                .build()?,
        )
        .build()?;
    s3.put_bucket_replication()
        .bucket(source)
        .replication_configuration(other)
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn bucket_replication_by_role_ref_update_drift_and_removal() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-replication").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let roles: Api<kro_aws::iam::role::Role> = Api::namespaced(client.clone(), &ns);
    let (source, target) = (bucket_name("kro-rep-src"), bucket_name("kro-rep-dst"));
    let role = kro_e2e::unique_name("kro-replicator");
    let trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    create(
        &roles,
        json!({"apiVersion": "iam.services.k8s.aws/v1alpha1", "kind": "Role",
               "metadata": {"name": "replicator"},
               "spec": {"name": role, "assumeRolePolicyDocument": trust.to_string()}}),
    )
    .await?;
    let role_arn = wait_condition(&roles, "replicator", "ACK.ResourceSynced", "True").await?
        ["status"]["ackResourceMetadata"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    for (object, name) in [("target", &target), ("source", &source)] {
        let mut spec = json!({"name": name, "versioning": {"status": "Enabled"}});
        if object == "source" {
            spec["replication"] = json!({
                "roleRef": {"from": {"name": "replicator"}},
                "rules": [{"id": "logs", "priority": 1, "status": "Enabled",
                           "filter": {"prefix": "logs/"},
                           "deleteMarkerReplication": {"status": "Disabled"},
                           "destination": {"bucket": format!("arn:aws:s3:::{target}"),
                                           "storageClass": "STANDARD_IA"}}]
            });
        }
        create(
            &api,
            json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
                   "metadata": {"name": object}, "spec": spec}),
        )
        .await?;
    }
    let rule = |id: &str, status: &str, prefix: &str, class: &str, markers: &str| {
        (
            id.to_owned(),
            status.to_owned(),
            prefix.to_owned(),
            class.to_owned(),
            markers.to_owned(),
        )
    };
    let wait_rules = |what: &'static str, want: Option<(String, Vec<_>)>| {
        let s3 = s3.clone();
        let source = source.clone();
        async move {
            wait_for(what, || async {
                Ok((replication_in_s3(&s3, &source).await == want).then_some(()))
            })
            .await
        }
    };
    wait_rules(
        "replication put with the role's ARN",
        Some((
            role_arn.clone(),
            vec![rule("logs", "Enabled", "logs/", "STANDARD_IA", "Disabled")],
        )),
    )
    .await?;
    let obj = wait_condition(&api, "source", "ACK.ResourceSynced", "True").await?;
    assert_eq!(
        obj["spec"]["replication"]["role"],
        json!(null),
        "roleRef stays a ref"
    );

    // A changed rule and a new one with an and-filter.
    patch(
        &api,
        "source",
        json!({"spec": {"replication": {"rules": [
            {"id": "logs", "priority": 1, "status": "Enabled", "filter": {"prefix": "logs/"},
             "deleteMarkerReplication": {"status": "Enabled"},
             "destination": {"bucket": format!("arn:aws:s3:::{target}"), "storageClass": "GLACIER"}},
            {"id": "tagged", "priority": 2, "status": "Disabled",
             "filter": {"and": {"prefix": "data/", "tags": [{"key": "copy", "value": "yes"}]}},
             "deleteMarkerReplication": {"status": "Disabled"},
             "destination": {"bucket": format!("arn:aws:s3:::{target}")}}
        ]}}}),
    )
    .await?;
    let updated = Some((
        role_arn.clone(),
        vec![
            rule("logs", "Enabled", "logs/", "GLACIER", "Enabled"),
            rule("tagged", "Disabled", "data/", "", "Disabled"),
        ],
    ));
    wait_rules("replication updated", updated.clone()).await?;

    // Drift: replication put behind the controller's back is put back at the next resync.
    put_other_replication(&s3, &source, &target, &role_arn).await?;
    wait_rules("replication drift corrected", updated).await?;

    // Removed from the spec: deleted from S3.
    patch(&api, "source", json!({"spec": {"replication": null}})).await?;
    wait_rules("replication deleted", None).await?;
    delete_and_wait(&api, "source").await?;
    delete_and_wait(&api, "target").await?;
    delete_and_wait(&roles, "replicator").await?;
    controllers.stop().await;
    Ok(())
}

/// An inventory configuration as the test reads it: (enabled, versions, frequency, optional
/// fields).
type Listed = (bool, String, String, Vec<String>);

/// The inventory configurations S3 holds for `bucket`, by id.
async fn inventory_in_s3(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<std::collections::BTreeMap<String, Listed>> {
    let out = s3
        .list_bucket_inventory_configurations()
        .bucket(bucket)
        .send()
        .await
        .context("list_bucket_inventory_configurations")?;
    Ok(out
        .inventory_configuration_list()
        .iter()
        .map(|c| {
            (
                c.id().to_owned(),
                (
                    c.is_enabled(),
                    c.included_object_versions().as_str().to_owned(),
                    c.schedule()
                        .map(|s| s.frequency().as_str().to_owned())
                        .unwrap_or_default(),
                    c.optional_fields()
                        .iter()
                        .map(|f| f.as_str().to_owned())
                        .collect(),
                ),
            )
        })
        .collect())
}

fn inventory(id: &str, enabled: bool, frequency: &str, target: &str) -> serde_json::Value {
    json!({"id": id, "isEnabled": enabled, "includedObjectVersions": "Current",
           "schedule": {"frequency": frequency}, "filter": {"prefix": "logs/"},
           "optionalFields": ["Size", "ETag"],
           "destination": {"s3BucketDestination": {"bucket": format!("arn:aws:s3:::{target}"),
                                                   "format": "CSV", "prefix": "inventory/"}}})
}

#[tokio::test]
async fn bucket_inventory_by_id_update_drift_and_removal() -> Result<()> {
    let (client, ns, controllers) = setup("aws-bucket-inventory").await?;
    let s3 = kro_e2e::s3_client().await;
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let (name, target) = (bucket_name("kro-inv"), bucket_name("kro-inv-dst"));
    kro_e2e::create_bucket(&s3, &target).await?;
    create(
        &api,
        json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
               "metadata": {"name": "listed"},
               "spec": {"name": name, "inventory": [
                   inventory("weekly", true, "Weekly", &target),
                   inventory("daily", true, "Daily", &target)]}}),
    )
    .await?;
    let fields = vec!["Size".to_owned(), "ETag".to_owned()];
    let entry = |enabled: bool, frequency: &str| {
        (
            enabled,
            "Current".to_owned(),
            frequency.to_owned(),
            fields.clone(),
        )
    };
    let wait_inventory = |what: &'static str, want: Vec<(&'static str, Listed)>| {
        let s3 = s3.clone();
        let name = name.clone();
        let want: std::collections::BTreeMap<String, _> =
            want.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        async move {
            wait_for(what, || async {
                Ok((inventory_in_s3(&s3, &name).await? == want).then_some(()))
            })
            .await
        }
    };
    wait_inventory(
        "both inventories put",
        vec![
            ("daily", entry(true, "Daily")),
            ("weekly", entry(true, "Weekly")),
        ],
    )
    .await?;
    wait_condition(&api, "listed", "ACK.ResourceSynced", "True").await?;

    // One changed, one dropped.
    patch(
        &api,
        "listed",
        json!({"spec": {"inventory": [inventory("weekly", false, "Weekly", &target)]}}),
    )
    .await?;
    wait_inventory(
        "weekly disabled, daily deleted",
        vec![("weekly", entry(false, "Weekly"))],
    )
    .await?;

    // Drift: one added behind the controller's back is deleted at the next resync.
    let extra = aws_sdk_s3::types::InventoryConfiguration::builder()
        .id("intruder")
        .is_enabled(true)
        .included_object_versions(aws_sdk_s3::types::InventoryIncludedObjectVersions::All)
        .schedule(
            aws_sdk_s3::types::InventorySchedule::builder()
                .frequency(aws_sdk_s3::types::InventoryFrequency::Daily)
                .build()?,
        )
        .destination(
            aws_sdk_s3::types::InventoryDestination::builder()
                .s3_bucket_destination(
                    aws_sdk_s3::types::InventoryS3BucketDestination::builder()
                        .bucket(format!("arn:aws:s3:::{target}"))
                        .format(aws_sdk_s3::types::InventoryFormat::Csv)
                        .build()?,
                )
                .build(),
        )
        .build()?;
    s3.put_bucket_inventory_configuration()
        .bucket(&name)
        .id("intruder")
        .inventory_configuration(extra)
        .send()
        .await?;
    wait_inventory(
        "the intruder deleted",
        vec![("weekly", entry(false, "Weekly"))],
    )
    .await?;

    // Removed from the spec: every inventory goes, the bucket stays.
    patch(&api, "listed", json!({"spec": {"inventory": null}})).await?;
    wait_inventory("no inventory left", vec![]).await?;
    s3.head_bucket()
        .bucket(&name)
        .send()
        .await
        .context("the bucket itself stays")?;
    delete_and_wait(&api, "listed").await?;
    s3.delete_bucket().bucket(&target).send().await?;
    controllers.stop().await;
    Ok(())
}

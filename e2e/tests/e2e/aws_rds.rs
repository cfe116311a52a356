//! e2e: the ACK-compatible RDS DBSubnetGroup and DBInstance controllers against the real
//! apiserver and moto: create, update, drift, adoption, references, the password Secret,
//! terminal errors and both deletion policies.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::Secret;
use kro_aws::rds::db_instance::DBInstance;
use kro_aws::rds::db_subnet_group::DBSubnetGroup;
use kube::api::{Api, DeleteParams};
use serde_json::json;

use crate::support::aws::*;
use crate::support::events::{events_of, wait_event};
use crate::support::{
    condition, condition_is, condition_message, delete_and_wait, wait_condition, wait_for,
    wait_gone, wait_json,
};

async fn group_in_aws(
    rds: &aws_sdk_rds::Client,
    name: &str,
) -> Option<aws_sdk_rds::types::DbSubnetGroup> {
    rds.describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.db_subnet_groups().first().cloned())
}

async fn instance_in_aws(
    rds: &aws_sdk_rds::Client,
    id: &str,
) -> Option<aws_sdk_rds::types::DbInstance> {
    rds.describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.db_instances().first().cloned())
}

async fn tags_of(rds: &aws_sdk_rds::Client, arn: &str) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .unwrap()
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    t.sort();
    t
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn subnet_group_create_update_drift_adopt_delete() -> Result<()> {
    let (client, ns, controllers) = setup("aws-subnets").await?;
    let rds = kro_e2e::rds_client().await;
    let net = kro_e2e::moto_network()?;
    let api: Api<DBSubnetGroup> = Api::namespaced(client.clone(), &ns);
    let name = kro_e2e::unique_name("kro-sg").to_ascii_lowercase();
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "db-subnets"},
            "spec": {"name": name, "description": "app subnets", "subnetIDs": [net.subnet_ids[0]], "tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    let obj = wait_condition(&api, "db-subnets", "ACK.ResourceSynced", "True").await?;
    assert_eq!(obj["status"]["vpcID"], json!(net.vpc_id));
    assert_eq!(obj["status"]["subnetGroupStatus"], "Complete");
    assert_eq!(
        obj["status"]["subnets"][0]["subnetIdentifier"],
        json!(net.subnet_ids[0])
    );
    let arn = obj["status"]["ackResourceMetadata"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        arn.starts_with("arn:aws:rds:us-west-2:123456789012:subgrp:"),
        "{arn}"
    );
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.rds.services.k8s.aws/DBSubnetGroup"])
    );
    assert_eq!(tags_of(&rds, &arn).await, vec![("team".into(), "a".into())]);
    let created = wait_event(
        &client,
        &ns,
        "DBSubnetGroup",
        "db-subnets",
        "Created",
        &name,
    )
    .await?;
    assert_eq!(
        (created.type_.as_str(), created.reporter.as_str()),
        ("Normal", "kro-rs-ack-rds")
    );

    // Update: description and subnets go through ModifyDBSubnetGroup.
    patch(
        &api,
        "db-subnets",
        json!({"spec": {"description": "more subnets", "subnetIDs": net.subnet_ids}}),
    )
    .await?;
    wait_for("subnet group modified", || {
        let rds = rds.clone();
        let name = name.clone();
        let want = sorted(net.subnet_ids.clone());
        async move {
            let g = group_in_aws(&rds, &name).await;
            let ok = g.is_some_and(|g| {
                g.db_subnet_group_description() == Some("more subnets")
                    && sorted(
                        g.subnets()
                            .iter()
                            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                            .collect(),
                    ) == want
            });
            Ok(ok.then_some(()))
        }
    })
    .await?;
    wait_event(
        &client,
        &ns,
        "DBSubnetGroup",
        "db-subnets",
        "Updated",
        "ModifyDBSubnetGroup",
    )
    .await?;

    // Drift: a tag added behind the controller's back is removed at the next resync.
    rds.add_tags_to_resource()
        .resource_name(&arn)
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("intruder")
                .value("x")
                .build(),
        )
        .send()
        .await?;
    wait_for("tag drift corrected", || {
        let rds = rds.clone();
        let arn = arn.clone();
        async move {
            Ok(
                (tags_of(&rds, &arn).await == vec![("team".to_string(), "a".to_string())])
                    .then_some(()),
            )
        }
    })
    .await?;

    // Delete (default policy).
    delete_and_wait(&api, "db-subnets").await?;
    assert!(
        group_in_aws(&rds, &name).await.is_none(),
        "subnet group {name} still exists"
    );

    // Adopt an existing group, then delete with retain.
    let existing = kro_e2e::unique_name("kro-legacy-sg").to_ascii_lowercase();
    rds.create_db_subnet_group()
        .db_subnet_group_name(&existing)
        .db_subnet_group_description("made by hand")
        .set_subnet_ids(Some(net.subnet_ids.clone()))
        .send()
        .await?;
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"name\": \"{existing}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"name": existing, "description": "placeholder"}
        }),
    )
    .await?;
    let obj = wait_json(&api, "legacy", "adopted", |v| {
        condition_is(v, "ACK.ResourceSynced", "True") && v["spec"]["description"] == "made by hand"
    })
    .await?;
    assert_eq!(
        sorted(serde_json::from_value(obj["spec"]["subnetIDs"].clone())?),
        sorted(net.subnet_ids.clone())
    );
    assert_eq!(
        obj["metadata"]["annotations"]["services.k8s.aws/adopted"],
        "true"
    );
    delete_and_wait(&api, "legacy").await?;
    assert!(
        group_in_aws(&rds, &existing).await.is_some(),
        "a retained group survives"
    );
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn db_instance_waits_for_secret_then_syncs_updates_and_deletes() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbi").await?;
    let rds = kro_e2e::rds_client().await;
    let net = kro_e2e::moto_network()?;
    let groups: Api<DBSubnetGroup> = Api::namespaced(client.clone(), &ns);
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let group = kro_e2e::unique_name("kro-dbsg").to_ascii_lowercase();
    let id = kro_e2e::unique_name("kro-db").to_ascii_lowercase();
    create(
        &groups,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "db-subnets"},
            "spec": {"name": group, "description": "db", "subnetIDs": net.subnet_ids}
        }),
    )
    .await?;
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": "app-db"},
            "spec": {
                "dbInstanceIdentifier": id,
                "dbInstanceClass": "db.t3.micro",
                "engine": "postgres",
                "engineVersion": "16",
                "allocatedStorage": 20,
                "dbName": "app",
                "masterUsername": "app",
                "masterUserPassword": {"name": "app-db-password", "key": "password"},
                "dbSubnetGroupRef": {"from": {"name": "db-subnets"}},
                "tags": [{"key": "team", "value": "a"}]
            }
        }),
    )
    .await?;

    // No Secret yet: the instance waits with a clear, recoverable condition; nothing is created.
    // (It may first wait for the subnet group reference to be synced.)
    let obj = wait_json(&api, "app-db", "waiting for the Secret", |v| {
        condition_is(v, "ACK.Recoverable", "True")
            && condition_message(v, "ACK.Recoverable").contains("Secret")
    })
    .await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(
        msg.contains(&format!("Secret {ns}/app-db-password not found")),
        "{msg}"
    );
    assert!(condition(&obj, "ACK.Terminal").is_none());
    assert_eq!(condition(&obj, "ReferencesResolved"), None);
    assert_eq!(
        condition(&obj, "ACK.ReferencesResolved").unwrap()["status"],
        "True"
    );
    assert!(instance_in_aws(&rds, &id).await.is_none());
    assert!(
        obj["metadata"].get("finalizers").is_none(),
        "nothing is created, nothing is managed yet"
    );
    // A Warning event says why, once, although the wait is retried every few seconds.
    let secret_msg = format!("Secret {ns}/app-db-password not found");
    let warning = wait_event(
        &client,
        &ns,
        "DBInstance",
        "app-db",
        "RecoverableError",
        &secret_msg,
    )
    .await?;
    assert_eq!(
        (warning.type_.as_str(), warning.reporter.as_str()),
        ("Warning", "kro-rs-ack-rds")
    );
    // Proving that the retried wait adds no second event takes a while: several retries (1 s
    // requeues, backoff up to 3 s here) go by first.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let same = events_of(&client, &ns, "DBInstance", "app-db")
        .await?
        .into_iter()
        .filter(|e| e.message.contains(&secret_msg))
        .collect::<Vec<_>>();
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(same[0].count, 1, "{same:?}");

    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-db-password"}, "type": "Opaque", "stringData": {"password": "s3cret-pass"}}),
    )
    .await?;
    let obj = wait_condition(&api, "app-db", "ACK.ResourceSynced", "True").await?;
    assert_eq!(condition(&obj, "Ready").unwrap()["status"], "True");
    wait_event(&client, &ns, "DBInstance", "app-db", "Created", &id).await?;
    wait_event(&client, &ns, "DBInstance", "app-db", "Synced", "").await?;
    assert!(
        condition(&obj, "ACK.Recoverable").is_none(),
        "conditions are reset each sync"
    );
    assert_eq!(obj["status"]["dbInstanceStatus"], "available");
    let address = obj["status"]["endpoint"]["address"]
        .as_str()
        .unwrap_or_default();
    assert!(address.starts_with(&format!("{id}.")), "{address}");
    assert_eq!(obj["status"]["endpoint"]["port"], 5432);
    let arn = obj["status"]["ackResourceMetadata"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(arn, format!("arn:aws:rds:us-west-2:123456789012:db:{id}"));
    assert_eq!(
        obj["metadata"]["annotations"]["rds.services.k8s.aws/last-applied-secret-reference"],
        json!(format!("{ns}/app-db-password.password"))
    );
    let inst = instance_in_aws(&rds, &id).await.unwrap();
    assert_eq!(
        inst.db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some(group.as_str())
    );
    assert_eq!(inst.engine_version(), Some("16"));

    // Late initialization: server defaults land in the spec; the written fields stay as written.
    let obj = wait_condition(&api, "app-db", "ACK.LateInitialized", "True").await?;
    assert_eq!(obj["spec"]["engineVersion"], "16");
    assert!(
        obj["spec"]["backupRetentionPeriod"].is_number(),
        "{}",
        obj["spec"]
    );
    let retention = obj["spec"]["backupRetentionPeriod"].as_i64().unwrap();

    // Update: only changed fields are sent.
    patch(
        &api,
        "app-db",
        json!({"spec": {"allocatedStorage": 30, "tags": [{"key": "team", "value": "b"}]}}),
    )
    .await?;
    wait_for("storage and tags updated", || {
        let rds = rds.clone();
        let id = id.clone();
        let arn = arn.clone();
        async move {
            let ok = instance_in_aws(&rds, &id)
                .await
                .and_then(|i| i.allocated_storage())
                == Some(30)
                && tags_of(&rds, &arn).await == vec![("team".to_string(), "b".to_string())];
            Ok(ok.then_some(()))
        }
    })
    .await?;
    let updated = wait_event(
        &client,
        &ns,
        "DBInstance",
        "app-db",
        "Updated",
        "ModifyDBInstance",
    )
    .await?;
    assert!(updated.message.contains("tags"), "{}", updated.message);

    // Drift on a late-initialized field is corrected.
    rds.modify_db_instance()
        .db_instance_identifier(&id)
        .backup_retention_period(i32::try_from(retention + 5)?)
        .apply_immediately(true)
        .send()
        .await?;
    wait_for("backup retention drift corrected", || {
        let rds = rds.clone();
        let id = id.clone();
        async move {
            let r = instance_in_aws(&rds, &id)
                .await
                .and_then(|i| i.backup_retention_period());
            Ok((r.map(i64::from) == Some(retention)).then_some(()))
        }
    })
    .await?;

    // Password rotation: pointing masterUserPassword at another Secret sends the new password
    // (detected through the last-applied-secret-reference annotation, as ACK does).
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-db-password-2"}, "type": "Opaque", "stringData": {"pw": "rotated-pass"}}),
    )
    .await?;
    patch(
        &api,
        "app-db",
        json!({"spec": {"masterUserPassword": {"name": "app-db-password-2", "key": "pw"}}}),
    )
    .await?;
    let want = format!("{ns}/app-db-password-2.pw");
    wait_json(&api, "app-db", "password reference applied", |v| {
        v["metadata"]["annotations"]["rds.services.k8s.aws/last-applied-secret-reference"]
            == json!(want)
            && condition_is(v, "ACK.ResourceSynced", "True")
    })
    .await?;

    // Delete with the default policy.
    delete_and_wait(&api, "app-db").await?;
    assert!(
        instance_in_aws(&rds, &id).await.is_none(),
        "instance {id} still exists"
    );
    wait_event(&client, &ns, "DBInstance", "app-db", "Deleted", &id).await?;
    delete_and_wait(&groups, "db-subnets").await?;
    wait_event(
        &client,
        &ns,
        "DBSubnetGroup",
        "db-subnets",
        "Deleted",
        &group,
    )
    .await?;
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn db_instance_invalid_engine_is_terminal() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbi-bad").await?;
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let id = kro_e2e::unique_name("kro-bad-db").to_ascii_lowercase();
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": "bad-db"},
            "spec": {"dbInstanceIdentifier": id, "dbInstanceClass": "db.t3.micro", "engine": "no-such-engine", "allocatedStorage": 20}
        }),
    )
    .await?;
    let obj = wait_condition(&api, "bad-db", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("InvalidParameterValue"), "{msg}");
    assert!(
        msg.contains("Value no-such-engine for parameter Engine is invalid"),
        "{msg}"
    );
    let ready = condition(&obj, "Ready").unwrap();
    assert_eq!(
        (&ready["status"], &ready["message"]),
        (&json!("False"), &json!(msg))
    );
    assert_eq!(
        condition(&obj, "ACK.ResourceSynced").unwrap()["status"],
        "False"
    );
    let terminal = wait_event(
        &client,
        &ns,
        "DBInstance",
        "bad-db",
        "TerminalError",
        "Value no-such-engine for parameter Engine is invalid",
    )
    .await?;
    assert_eq!(terminal.type_, "Warning");
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn db_instance_adopt_and_retain() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbi-adopt").await?;
    let rds = kro_e2e::rds_client().await;
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let id = kro_e2e::unique_name("kro-legacy-db").to_ascii_lowercase();
    rds.create_db_instance()
        .db_instance_identifier(&id)
        .db_instance_class("db.t3.small")
        .engine("mysql")
        .allocated_storage(25)
        .master_username("admin")
        .master_user_password("hand-made-pass")
        .send()
        .await?;
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": "legacy-db", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"dbInstanceIdentifier\": \"{id}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"dbInstanceIdentifier": id, "dbInstanceClass": "placeholder", "engine": "placeholder"}
        }),
    )
    .await?;
    let obj = wait_json(&api, "legacy-db", "adopted", |v| {
        condition_is(v, "ACK.ResourceSynced", "True") && v["spec"]["engine"] == "mysql"
    })
    .await?;
    assert_eq!(obj["spec"]["dbInstanceClass"], "db.t3.small");
    assert_eq!(obj["spec"]["allocatedStorage"], 25);
    assert_eq!(obj["spec"]["masterUsername"], "admin");
    assert_eq!(obj["status"]["endpoint"]["port"], 3306);
    let inst = instance_in_aws(&rds, &id).await.unwrap();
    assert_eq!(
        inst.db_instance_class(),
        Some("db.t3.small"),
        "adopting changes nothing in AWS"
    );
    delete_and_wait(&api, "legacy-db").await?;
    assert!(
        instance_in_aws(&rds, &id).await.is_some(),
        "a retained instance survives"
    );
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn deletion_protection_blocks_delete_until_lifted() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbi-protect").await?;
    let rds = kro_e2e::rds_client().await;
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let id = kro_e2e::unique_name("kro-protected").to_ascii_lowercase();
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": "protected"},
            "spec": {"dbInstanceIdentifier": id, "dbInstanceClass": "db.t3.micro", "engine": "postgres",
                     "allocatedStorage": 20, "deletionProtection": true}
        }),
    )
    .await?;
    wait_condition(&api, "protected", "ACK.ResourceSynced", "True").await?;
    api.delete("protected", &DeleteParams::default()).await?;
    let obj = wait_condition(&api, "protected", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("InvalidParameterCombination"), "{msg}");
    assert!(
        instance_in_aws(&rds, &id).await.is_some(),
        "protected instance was deleted"
    );

    // Lifting the protection on the deleting object lets the deletion finish.
    patch(
        &api,
        "protected",
        json!({"spec": {"deletionProtection": false}}),
    )
    .await?;
    wait_gone(&api, "protected").await?;
    assert!(instance_in_aws(&rds, &id).await.is_none());
    controllers.stop().await;
    Ok(())
}

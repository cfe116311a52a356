//! e2e: the ACK-compatible RDS DBSubnetGroup and DBInstance controllers against the real
//! apiserver and moto: create, update, drift, adoption, references, the password Secret,
//! terminal errors and both deletion policies.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::Secret;
use kro_aws::rds::db_instance::DBInstance;
use kro_aws::rds::db_subnet_group::DBSubnetGroup;
use kube::Client;
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
    let case = SubnetGroupCase {
        rds: kro_e2e::rds_client().await,
        net: kro_e2e::moto_network()?,
        api: Api::namespaced(client.clone(), &ns),
        name: kro_e2e::unique_name("kro-sg").to_ascii_lowercase(),
        client,
        ns,
    };
    let arn = create_subnet_group(&case).await?;
    update_goes_through_modify(&case).await?;
    tag_drift_is_corrected(&case, &arn).await?;
    delete_with_default_policy(&case).await?;
    adopt_then_retain(&case).await?;
    controllers.stop().await;
    Ok(())
}

/// The subnet group of the lifecycle test and where it lives.
struct SubnetGroupCase {
    client: Client,
    ns: String,
    rds: aws_sdk_rds::Client,
    net: kro_e2e::MotoNetwork,
    api: Api<DBSubnetGroup>,
    /// The group's name in RDS.
    name: String,
}

/// Create: synced, its status filled in from RDS, tagged; returns its ARN.
async fn create_subnet_group(case: &SubnetGroupCase) -> Result<String> {
    let SubnetGroupCase {
        client,
        ns,
        rds,
        net,
        api,
        name,
    } = case;
    create(
        api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "db-subnets"},
            "spec": {"name": name, "description": "app subnets", "subnetIDs": [net.subnet_ids[0]], "tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    let obj = wait_condition(api, "db-subnets", "ACK.ResourceSynced", "True").await?;
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
    assert_eq!(tags_of(rds, &arn).await, vec![("team".into(), "a".into())]);
    let created = wait_event(client, ns, "DBSubnetGroup", "db-subnets", "Created", name).await?;
    assert_eq!(
        (created.type_.as_str(), created.reporter.as_str()),
        ("Normal", "kro-rs-ack-rds")
    );
    Ok(arn)
}

/// Update: description and subnets go through ModifyDBSubnetGroup.
async fn update_goes_through_modify(case: &SubnetGroupCase) -> Result<()> {
    let SubnetGroupCase {
        client,
        ns,
        rds,
        net,
        api,
        name,
    } = case;
    patch(
        api,
        "db-subnets",
        json!({"spec": {"description": "more subnets", "subnetIDs": net.subnet_ids}}),
    )
    .await?;
    wait_for("subnet group modified", || {
        let rds = rds.clone();
        let name = name.clone();
        let want = sorted(net.subnet_ids.clone());
        async move {
            let found = group_in_aws(&rds, &name).await;
            let ok = found.is_some_and(|group| {
                group.db_subnet_group_description() == Some("more subnets")
                    && sorted(
                        group
                            .subnets()
                            .iter()
                            .filter_map(|subnet| subnet.subnet_identifier().map(str::to_owned))
                            .collect(),
                    ) == want
            });
            Ok(ok.then_some(()))
        }
    })
    .await?;
    wait_event(
        client,
        ns,
        "DBSubnetGroup",
        "db-subnets",
        "Updated",
        "ModifyDBSubnetGroup",
    )
    .await?;
    Ok(())
}

/// Drift: a tag added behind the controller's back is removed at the next resync.
async fn tag_drift_is_corrected(case: &SubnetGroupCase, arn: &str) -> Result<()> {
    let SubnetGroupCase { rds, .. } = case;
    rds.add_tags_to_resource()
        .resource_name(arn)
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
        let arn = arn.to_owned();
        async move {
            Ok(
                (tags_of(&rds, &arn).await == vec![("team".to_string(), "a".to_string())])
                    .then_some(()),
            )
        }
    })
    .await?;
    Ok(())
}

/// Delete (default policy): the group goes from RDS.
async fn delete_with_default_policy(case: &SubnetGroupCase) -> Result<()> {
    let SubnetGroupCase { rds, api, name, .. } = case;
    delete_and_wait(api, "db-subnets").await?;
    assert!(
        group_in_aws(rds, name).await.is_none(),
        "subnet group {name} still exists"
    );
    Ok(())
}

/// Adopt an existing group, then delete with retain: the group stays in RDS.
async fn adopt_then_retain(case: &SubnetGroupCase) -> Result<()> {
    let SubnetGroupCase { rds, net, api, .. } = case;
    let existing = kro_e2e::unique_name("kro-legacy-sg").to_ascii_lowercase();
    rds.create_db_subnet_group()
        .db_subnet_group_name(&existing)
        .db_subnet_group_description("made by hand")
        .set_subnet_ids(Some(net.subnet_ids.clone()))
        .send()
        .await?;
    create(
        api,
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
    let obj = wait_json(api, "legacy", "adopted", |group| {
        condition_is(group, "ACK.ResourceSynced", "True")
            && group["spec"]["description"] == "made by hand"
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
    delete_and_wait(api, "legacy").await?;
    assert!(
        group_in_aws(rds, &existing).await.is_some(),
        "a retained group survives"
    );
    Ok(())
}

#[tokio::test]
async fn db_instance_waits_for_secret_then_syncs_updates_and_deletes() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbi").await?;
    let rds = kro_e2e::rds_client().await;
    let net = kro_e2e::moto_network()?;
    let case = DbInstanceCase {
        rds,
        groups: Api::namespaced(client.clone(), &ns),
        api: Api::namespaced(client.clone(), &ns),
        secrets: Api::namespaced(client.clone(), &ns),
        group: kro_e2e::unique_name("kro-dbsg").to_ascii_lowercase(),
        id: kro_e2e::unique_name("kro-db").to_ascii_lowercase(),
        client,
        ns,
    };
    create_group_and_instance(&case, &net).await?;
    waits_for_the_secret(&case).await?;
    let arn = syncs_once_the_secret_exists(&case).await?;
    let retention = late_initialized(&case).await?;
    update_sends_changed_fields(&case, &arn).await?;
    retention_drift_is_corrected(&case, retention).await?;
    password_rotation(&case).await?;
    delete_instance_then_group(&case).await?;
    controllers.stop().await;
    Ok(())
}

/// The DB instance of the lifecycle test, its subnet group and its password Secret.
struct DbInstanceCase {
    client: Client,
    ns: String,
    rds: aws_sdk_rds::Client,
    groups: Api<DBSubnetGroup>,
    api: Api<DBInstance>,
    secrets: Api<Secret>,
    /// The subnet group's name in RDS.
    group: String,
    /// The DB instance identifier in RDS.
    id: String,
}

/// A subnet group on moto's network and an instance whose password Secret is not there yet.
async fn create_group_and_instance(
    case: &DbInstanceCase,
    net: &kro_e2e::MotoNetwork,
) -> Result<()> {
    let DbInstanceCase {
        groups,
        api,
        group,
        id,
        ..
    } = case;
    create(
        groups,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "db-subnets"},
            "spec": {"name": group, "description": "db", "subnetIDs": net.subnet_ids}
        }),
    )
    .await?;
    create(
        api,
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
    Ok(())
}

/// No Secret yet: the instance waits with a clear, recoverable condition and one Warning.
async fn waits_for_the_secret(case: &DbInstanceCase) -> Result<()> {
    let DbInstanceCase {
        client,
        ns,
        rds,
        api,
        id,
        ..
    } = case;
    // No Secret yet: the instance waits with a clear, recoverable condition; nothing is created.
    // (It may first wait for the subnet group reference to be synced.)
    let obj = wait_json(api, "app-db", "waiting for the Secret", |instance| {
        condition_is(instance, "ACK.Recoverable", "True")
            && condition_message(instance, "ACK.Recoverable").contains("Secret")
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
    assert!(instance_in_aws(rds, id).await.is_none());
    assert!(
        obj["metadata"].get("finalizers").is_none(),
        "nothing is created, nothing is managed yet"
    );
    // A Warning event says why, once, although the wait is retried every few seconds.
    let secret_msg = format!("Secret {ns}/app-db-password not found");
    let warning = wait_event(
        client,
        ns,
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
    let same = events_of(client, ns, "DBInstance", "app-db")
        .await?
        .into_iter()
        .filter(|event| event.message.contains(&secret_msg))
        .collect::<Vec<_>>();
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(same[0].count, 1, "{same:?}");
    Ok(())
}

/// Once the Secret exists: synced, created in RDS, status filled in; returns its ARN.
async fn syncs_once_the_secret_exists(case: &DbInstanceCase) -> Result<String> {
    let DbInstanceCase {
        client,
        ns,
        rds,
        api,
        secrets,
        group,
        id,
        ..
    } = case;
    create(
        secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-db-password"}, "type": "Opaque", "stringData": {"password": "s3cret-pass"}}),
    )
    .await?;
    let obj = wait_condition(api, "app-db", "ACK.ResourceSynced", "True").await?;
    assert_eq!(condition(&obj, "Ready").unwrap()["status"], "True");
    wait_event(client, ns, "DBInstance", "app-db", "Created", id).await?;
    wait_event(client, ns, "DBInstance", "app-db", "Synced", "").await?;
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
    let inst = instance_in_aws(rds, id).await.unwrap();
    assert_eq!(
        inst.db_subnet_group()
            .and_then(|subnets| subnets.db_subnet_group_name()),
        Some(group.as_str())
    );
    assert_eq!(inst.engine_version(), Some("16"));
    Ok(arn)
}

/// Late initialization; returns the backup retention RDS chose.
async fn late_initialized(case: &DbInstanceCase) -> Result<i64> {
    let DbInstanceCase { api, .. } = case;
    // Late initialization: server defaults land in the spec; the written fields stay as written.
    let obj = wait_condition(api, "app-db", "ACK.LateInitialized", "True").await?;
    assert_eq!(obj["spec"]["engineVersion"], "16");
    assert!(
        obj["spec"]["backupRetentionPeriod"].is_number(),
        "{}",
        obj["spec"]
    );
    let retention = obj["spec"]["backupRetentionPeriod"].as_i64().unwrap();
    Ok(retention)
}

/// Update: only changed fields are sent.
async fn update_sends_changed_fields(case: &DbInstanceCase, arn: &str) -> Result<()> {
    let DbInstanceCase {
        client,
        ns,
        rds,
        api,
        id,
        ..
    } = case;
    patch(
        api,
        "app-db",
        json!({"spec": {"allocatedStorage": 30, "tags": [{"key": "team", "value": "b"}]}}),
    )
    .await?;
    wait_for("storage and tags updated", || {
        let rds = rds.clone();
        let id = id.clone();
        let arn = arn.to_owned();
        async move {
            let ok = instance_in_aws(&rds, &id)
                .await
                .and_then(|instance| instance.allocated_storage())
                == Some(30)
                && tags_of(&rds, &arn).await == vec![("team".to_string(), "b".to_string())];
            Ok(ok.then_some(()))
        }
    })
    .await?;
    let updated = wait_event(
        client,
        ns,
        "DBInstance",
        "app-db",
        "Updated",
        "ModifyDBInstance",
    )
    .await?;
    assert!(updated.message.contains("tags"), "{}", updated.message);
    Ok(())
}

/// Drift on a late-initialized field is corrected.
async fn retention_drift_is_corrected(case: &DbInstanceCase, retention: i64) -> Result<()> {
    let DbInstanceCase { rds, id, .. } = case;
    rds.modify_db_instance()
        .db_instance_identifier(id)
        .backup_retention_period(i32::try_from(retention + 5)?)
        .apply_immediately(true)
        .send()
        .await?;
    wait_for("backup retention drift corrected", || {
        let rds = rds.clone();
        let id = id.clone();
        async move {
            let days = instance_in_aws(&rds, &id)
                .await
                .and_then(|instance| instance.backup_retention_period());
            Ok((days.map(i64::from) == Some(retention)).then_some(()))
        }
    })
    .await?;
    Ok(())
}

/// Password rotation through another Secret.
async fn password_rotation(case: &DbInstanceCase) -> Result<()> {
    let DbInstanceCase {
        ns, api, secrets, ..
    } = case;
    // Password rotation: pointing masterUserPassword at another Secret sends the new password
    // (detected through the last-applied-secret-reference annotation, as ACK does).
    create(
        secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-db-password-2"}, "type": "Opaque", "stringData": {"pw": "rotated-pass"}}),
    )
    .await?;
    patch(
        api,
        "app-db",
        json!({"spec": {"masterUserPassword": {"name": "app-db-password-2", "key": "pw"}}}),
    )
    .await?;
    let want = format!("{ns}/app-db-password-2.pw");
    wait_json(api, "app-db", "password reference applied", |instance| {
        instance["metadata"]["annotations"]["rds.services.k8s.aws/last-applied-secret-reference"]
            == json!(want)
            && condition_is(instance, "ACK.ResourceSynced", "True")
    })
    .await?;
    Ok(())
}

/// Delete with the default policy: the instance goes from RDS, then the group.
async fn delete_instance_then_group(case: &DbInstanceCase) -> Result<()> {
    let DbInstanceCase {
        client,
        ns,
        rds,
        groups,
        api,
        group,
        id,
        ..
    } = case;
    delete_and_wait(api, "app-db").await?;
    assert!(
        instance_in_aws(rds, id).await.is_none(),
        "instance {id} still exists"
    );
    wait_event(client, ns, "DBInstance", "app-db", "Deleted", id).await?;
    delete_and_wait(groups, "db-subnets").await?;
    wait_event(client, ns, "DBSubnetGroup", "db-subnets", "Deleted", group).await?;
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

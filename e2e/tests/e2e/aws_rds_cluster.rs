//! e2e: the ACK-compatible DBCluster controller (Aurora) against the real apiserver and moto:
//! create with the password Secret and a `dbClusterParameterGroupRef`, status and late
//! initialization, modifications, drift, password rotation, a member DBInstance, a terminal
//! error, adoption with retain, and deletion.

#![allow(clippy::unwrap_used)]

use anyhow::Result;
use k8s_openapi::api::core::v1::Secret;
use kro_aws::rds::db_cluster::DBCluster;
use kro_aws::rds::db_cluster_parameter_group::DBClusterParameterGroup;
use kro_aws::rds::db_instance::DBInstance;
use kube::api::Api;
use serde_json::json;

use crate::support::aws::*;
use crate::support::events::wait_event;
use crate::support::{
    condition_is, condition_message, delete_and_wait, wait_condition, wait_for, wait_json,
};

async fn cluster_in_aws(
    rds: &aws_sdk_rds::Client,
    id: &str,
) -> Option<aws_sdk_rds::types::DbCluster> {
    rds.describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.db_clusters().first().cloned())
}

#[tokio::test]
async fn db_cluster_creates_modifies_corrects_drift_rotates_and_deletes() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbc").await?;
    let rds = kro_e2e::rds_client().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let groups: Api<DBClusterParameterGroup> = Api::namespaced(client.clone(), &ns);
    let api: Api<DBCluster> = Api::namespaced(client.clone(), &ns);
    let id = kro_e2e::unique_name("kro-aurora").to_ascii_lowercase();
    let group = kro_e2e::unique_name("kro-aurora-pg").to_ascii_lowercase();
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aurora-password"}, "type": "Opaque", "stringData": {"password": "first-password"}}),
    )
    .await?;
    create(
        &groups,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBClusterParameterGroup",
            "metadata": {"name": "aurora-params"},
            "spec": {"name": group, "family": "aurora-postgresql16", "description": "aurora settings",
                     "parameterOverrides": {"timezone": "UTC"}}
        }),
    )
    .await?;
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBCluster",
            "metadata": {"name": "aurora"},
            "spec": {
                "dbClusterIdentifier": id, "engine": "aurora-postgresql", "engineVersion": "16.4",
                "databaseName": "app", "masterUsername": "app",
                "masterUserPassword": {"name": "aurora-password", "key": "password"},
                "dbClusterParameterGroupRef": {"from": {"name": "aurora-params"}},
                "backupRetentionPeriod": 7,
                "serverlessV2ScalingConfiguration": {"minCapacity": 0.5, "maxCapacity": 2.0},
                "enableCloudwatchLogsExports": ["postgresql"],
                "tags": [{"key": "team", "value": "a"}]
            }
        }),
    )
    .await?;
    let obj = wait_json(&api, "aurora", "available and synced", |c| {
        synced(c) && c["status"]["status"] == "available"
    })
    .await?;
    let status = &obj["status"];
    assert_eq!(
        status["dbClusterParameterGroup"],
        json!(group),
        "the ref resolved"
    );
    assert!(
        status["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with(&id)),
        "{status:#}"
    );
    assert!(status["readerEndpoint"].as_str().is_some(), "{status:#}");
    assert_eq!(
        status["enabledCloudwatchLogsExports"],
        json!(["postgresql"])
    );
    let arn = status["ackResourceMetadata"]["arn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:rds:us-west-2:123456789012:cluster:"),
        "{arn}"
    );
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.rds.services.k8s.aws/DBCluster"])
    );
    assert_eq!(
        obj["metadata"]["annotations"]["rds.services.k8s.aws/last-applied-secret-reference"],
        json!(format!("{ns}/aurora-password.password"))
    );
    // Late initialization: what RDS chose, in the spec; the ref stays a ref.
    assert!(
        obj["spec"]["preferredBackupWindow"].as_str().is_some(),
        "{:#}",
        obj["spec"]
    );
    assert!(obj["spec"]["port"].as_i64().is_some(), "{:#}", obj["spec"]);
    assert_eq!(obj["spec"]["dbClusterParameterGroupName"], json!(null));

    modified_and_drift_corrected(&client, &ns, &rds, &api, &id).await?;
    password_rotates(&secrets, &api, &ns).await?;
    a_member_instance_is_listed(&client, &ns, &api, &id).await?;

    delete_and_wait(&api, "aurora").await?;
    assert!(
        cluster_in_aws(&rds, &id).await.is_none(),
        "cluster {id} still exists"
    );
    delete_and_wait(&groups, "aurora-params").await?;
    controllers.stop().await;
    Ok(())
}

/// Modified in place; a change behind the controller's back is undone at the next resync.
async fn modified_and_drift_corrected(
    client: &kube::Client,
    ns: &str,
    rds: &aws_sdk_rds::Client,
    api: &Api<DBCluster>,
    id: &str,
) -> Result<()> {
    // Modified in place.
    patch(
        api,
        "aurora",
        json!({"spec": {"backupRetentionPeriod": 14, "preferredMaintenanceWindow": "sun:05:00-sun:06:00",
                        "serverlessV2ScalingConfiguration": {"minCapacity": 0.5, "maxCapacity": 4.0}}}),
    )
    .await?;
    wait_for("cluster modified", || async {
        let c = cluster_in_aws(rds, id).await;
        Ok(c.filter(|c| {
            c.backup_retention_period() == Some(14)
                && c.preferred_maintenance_window() == Some("sun:05:00-sun:06:00")
                && c.serverless_v2_scaling_configuration()
                    .and_then(|v| v.max_capacity())
                    == Some(4.0)
        })
        .map(|_| ()))
    })
    .await?;
    wait_event(
        client,
        ns,
        "DBCluster",
        "aurora",
        "Updated",
        "ModifyDBCluster",
    )
    .await?;

    // Drift: a change behind the controller's back is undone at the next resync.
    rds.modify_db_cluster()
        .db_cluster_identifier(id)
        .backup_retention_period(3)
        .apply_immediately(true)
        .send()
        .await?;
    wait_for("retention drift corrected", || async {
        let c = cluster_in_aws(rds, id).await;
        Ok(c.filter(|c| c.backup_retention_period() == Some(14))
            .map(|_| ()))
    })
    .await?;

    Ok(())
}

/// Another Secret reference sends the new password.
async fn password_rotates(secrets: &Api<Secret>, api: &Api<DBCluster>, ns: &str) -> Result<()> {
    // Password rotation: another Secret reference sends the new password.
    create(
        secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aurora-password-2"}, "type": "Opaque", "stringData": {"pw": "second-password"}}),
    )
    .await?;
    patch(
        api,
        "aurora",
        json!({"spec": {"masterUserPassword": {"name": "aurora-password-2", "key": "pw"}}}),
    )
    .await?;
    let want = format!("{ns}/aurora-password-2.pw");
    wait_json(api, "aurora", "password reference applied", |c| {
        c["metadata"]["annotations"]["rds.services.k8s.aws/last-applied-secret-reference"]
            == json!(want)
            && synced(c)
    })
    .await?;

    Ok(())
}

/// A DBInstance naming the cluster is its member (the writer), in the cluster's status.
async fn a_member_instance_is_listed(
    client: &kube::Client,
    ns: &str,
    api: &Api<DBCluster>,
    cluster: &str,
) -> Result<()> {
    let instances: Api<DBInstance> = Api::namespaced(client.clone(), ns);
    let member = format!("{cluster}-1");
    create(
        &instances,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
            "metadata": {"name": "aurora-1"},
            "spec": {"dbInstanceIdentifier": member, "dbClusterIdentifier": cluster,
                     "dbInstanceClass": "db.serverless", "engine": "aurora-postgresql"}
        }),
    )
    .await?;
    wait_condition(&instances, "aurora-1", "ACK.ResourceSynced", "True").await?;
    let obj = wait_json(api, "aurora", "the member in the status", |c| {
        c["status"]["dbClusterMembers"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["dbInstanceIdentifier"] == json!(member)))
    })
    .await?;
    let m = &obj["status"]["dbClusterMembers"][0];
    assert_eq!(m["isClusterWriter"], json!(true), "{m:#}");
    delete_and_wait(&instances, "aurora-1").await?;
    Ok(())
}

#[tokio::test]
async fn db_cluster_invalid_engine_is_terminal_and_an_adopted_cluster_is_retained() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbc-adopt").await?;
    let rds = kro_e2e::rds_client().await;
    let api: Api<DBCluster> = Api::namespaced(client.clone(), &ns);
    let bad = kro_e2e::unique_name("kro-bad-aurora").to_ascii_lowercase();
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBCluster",
            "metadata": {"name": "bad"},
            "spec": {"dbClusterIdentifier": bad, "engine": "no-such-engine", "masterUsername": "app",
                     "manageMasterUserPassword": true}
        }),
    )
    .await?;
    let obj = wait_condition(&api, "bad", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("InvalidParameterValue"), "{msg}");
    assert!(msg.contains("CreateDBCluster"), "{msg}");
    delete_and_wait(&api, "bad").await?;

    let existing = kro_e2e::unique_name("kro-legacy-aurora").to_ascii_lowercase();
    rds.create_db_cluster()
        .db_cluster_identifier(&existing)
        .engine("aurora-mysql")
        .engine_version("8.0.mysql_aurora.3.05.2")
        .master_username("admin")
        .manage_master_user_password(true)
        .backup_retention_period(5)
        .send()
        .await?;
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBCluster",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"dbClusterIdentifier\": \"{existing}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"dbClusterIdentifier": existing, "engine": "aurora-mysql"}
        }),
    )
    .await?;
    let obj = wait_json(&api, "legacy", "adopted", |c| {
        condition_is(c, "ACK.ResourceSynced", "True")
            && c["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"
    })
    .await?;
    assert_eq!(obj["spec"]["masterUsername"], "admin");
    assert_eq!(obj["spec"]["backupRetentionPeriod"], 5);
    assert_eq!(obj["spec"]["manageMasterUserPassword"], true);
    assert!(
        obj["status"]["masterUserSecret"]["secretARN"]
            .as_str()
            .is_some(),
        "{:#}",
        obj["status"]
    );
    delete_and_wait(&api, "legacy").await?;
    assert!(
        cluster_in_aws(&rds, &existing).await.is_some(),
        "a retained cluster survives"
    );
    controllers.stop().await;
    Ok(())
}

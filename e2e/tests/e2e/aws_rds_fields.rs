//! e2e: the DBInstance fields beside the core ones (issue 17.3) on moto: a password RDS
//! manages in Secrets Manager, CloudWatch log exports diffed as a set, enhanced monitoring,
//! the status fields users read (`masterUserSecret`, `dbParameterGroups`,
//! `enabledCloudwatchLogsExports`, `readReplicaDBInstanceIdentifiers`), drift of enhanced
//! monitoring corrected, a log type removed, a restore from a snapshot and a read replica.

#![allow(clippy::unwrap_used)]

use anyhow::{Context, Result};
use kro_aws::rds::db_instance::DBInstance;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::aws::*;
use crate::support::{condition_is, delete_and_wait, wait_for, wait_json};

async fn described(rds: &aws_sdk_rds::Client, id: &str) -> Result<aws_sdk_rds::types::DbInstance> {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .with_context(|| format!("DescribeDBInstances {id}"))?;
    out.db_instances()
        .first()
        .cloned()
        .with_context(|| format!("{id} is not in RDS"))
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn instance(name: &str, id: &str, spec: Value) -> Value {
    let mut base = json!({
        "dbInstanceIdentifier": id,
        "dbInstanceClass": "db.t3.micro",
        "engine": "postgres",
        "allocatedStorage": 20,
    });
    if let (Some(base), Some(spec)) = (base.as_object_mut(), spec.as_object()) {
        base.extend(spec.clone());
    }
    json!({
        "apiVersion": "rds.services.k8s.aws/v1alpha1",
        "kind": "DBInstance",
        "metadata": {"name": name},
        "spec": base,
    })
}

const MONITORING_ROLE: &str = "arn:aws:iam::123456789012:role/rds-monitoring";

#[tokio::test]
async fn db_instance_managed_password_logs_monitoring_restore_and_replica() -> Result<()> {
    let (client, ns, controllers) = setup("aws-dbi-fields").await?;
    let rds = kro_e2e::rds_client().await;
    let api: Api<DBInstance> = Api::namespaced(client.clone(), &ns);
    let primary = kro_e2e::unique_name("kro-primary").to_ascii_lowercase();

    create(
        &api,
        instance(
            "primary",
            &primary,
            json!({
                "masterUsername": "app",
                "manageMasterUserPassword": true,
                "enableCloudwatchLogsExports": ["postgresql"],
                "monitoringInterval": 60,
                "monitoringRoleARN": MONITORING_ROLE,
            }),
        ),
    )
    .await?;
    let obj = wait_json(&api, "primary", "synced with a managed password", |v| {
        condition_is(v, "ACK.ResourceSynced", "True")
            && v["status"]["masterUserSecret"]["secretARN"].is_string()
    })
    .await?;
    assert!(
        obj["status"]["masterUserSecret"]["secretARN"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:"),
        "{obj}"
    );
    assert_eq!(
        obj["status"]["enabledCloudwatchLogsExports"],
        json!(["postgresql"])
    );
    let inst = described(&rds, &primary).await?;
    assert!(
        inst.master_user_secret().is_some(),
        "RDS keeps the password"
    );
    assert_eq!(
        inst.enabled_cloudwatch_logs_exports(),
        ["postgresql".to_string()]
    );

    // Enhanced monitoring reaches RDS (at create, or with the update right after it where
    // RDS does not take it at create).
    wait_for("enhanced monitoring in RDS", || {
        let rds = rds.clone();
        let primary = primary.clone();
        async move {
            let inst = described(&rds, &primary).await?;
            let on = inst.monitoring_interval() == Some(60)
                && inst.monitoring_role_arn() == Some(MONITORING_ROLE);
            Ok(on.then_some(()))
        }
    })
    .await?;

    // A log type added is enabled; the one kept stays.
    patch(
        &api,
        "primary",
        json!({"spec": {"enableCloudwatchLogsExports": ["upgrade", "postgresql"]}}),
    )
    .await?;
    wait_for("both log types exported", || {
        let rds = rds.clone();
        let primary = primary.clone();
        async move {
            let inst = described(&rds, &primary).await?;
            let have = sorted(inst.enabled_cloudwatch_logs_exports());
            Ok((have == ["postgresql", "upgrade"]).then_some(()))
        }
    })
    .await?;

    drift_and_removal(&rds, &api, &primary).await?;
    restore_from_snapshot(&api, &rds, &primary).await?;
    read_replica(&api, &rds, &primary).await?;

    delete_and_wait(&api, "primary").await?;
    controllers.stop().await;
    Ok(())
}

/// Enhanced monitoring changed behind the controller's back is set back at the next resync;
/// a log type taken out of the spec stops being exported.
async fn drift_and_removal(
    rds: &aws_sdk_rds::Client,
    api: &Api<DBInstance>,
    primary: &str,
) -> Result<()> {
    rds.modify_db_instance()
        .db_instance_identifier(primary)
        .monitoring_interval(30)
        .apply_immediately(true)
        .send()
        .await
        .context("ModifyDBInstance behind the controller's back")?;
    wait_for("monitoring drift corrected", || async {
        let inst = described(rds, primary).await?;
        Ok((inst.monitoring_interval() == Some(60)).then_some(()))
    })
    .await?;
    patch(
        api,
        "primary",
        json!({"spec": {"enableCloudwatchLogsExports": ["postgresql"]}}),
    )
    .await?;
    wait_for("the dropped log type no longer exported", || async {
        let inst = described(rds, primary).await?;
        Ok((sorted(inst.enabled_cloudwatch_logs_exports()) == ["postgresql"]).then_some(()))
    })
    .await?;
    wait_json(api, "primary", "synced after the removal", |v| {
        condition_is(v, "ACK.ResourceSynced", "True")
            && v["status"]["enabledCloudwatchLogsExports"] == json!(["postgresql"])
    })
    .await?;
    Ok(())
}

/// A DBInstance with `dbSnapshotIdentifier` is restored from it, not created empty.
async fn restore_from_snapshot(
    api: &Api<DBInstance>,
    rds: &aws_sdk_rds::Client,
    primary: &str,
) -> Result<()> {
    let snapshot = format!("{primary}-snap");
    rds.create_db_snapshot()
        .db_instance_identifier(primary)
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .context("CreateDBSnapshot")?;
    let restored = format!("{primary}-restored");
    create(
        api,
        instance(
            "restored",
            &restored,
            json!({"dbSnapshotIdentifier": snapshot}),
        ),
    )
    .await?;
    wait_json(api, "restored", "restored and synced", |v| {
        condition_is(v, "ACK.ResourceSynced", "True")
    })
    .await?;
    let inst = described(rds, &restored).await?;
    assert_eq!(inst.engine(), Some("postgres"));
    delete_and_wait(api, "restored").await?;
    Ok(())
}

/// A DBInstance with `sourceDBInstanceIdentifier` is a read replica, and the source's status
/// lists it.
async fn read_replica(
    api: &Api<DBInstance>,
    rds: &aws_sdk_rds::Client,
    primary: &str,
) -> Result<()> {
    let replica = format!("{primary}-replica");
    create(
        api,
        instance(
            "replica",
            &replica,
            json!({"sourceDBInstanceIdentifier": primary}),
        ),
    )
    .await?;
    let obj = wait_json(api, "replica", "a synced replica", |v| {
        condition_is(v, "ACK.ResourceSynced", "True")
            && v["status"]["readReplicaSourceDBInstanceIdentifier"].is_string()
    })
    .await?;
    assert_eq!(
        obj["status"]["readReplicaSourceDBInstanceIdentifier"],
        json!(primary)
    );
    let inst = described(rds, &replica).await?;
    assert_eq!(
        inst.read_replica_source_db_instance_identifier(),
        Some(primary)
    );
    wait_json(api, "primary", "the source lists its replica", |v| {
        v["status"]["readReplicaDBInstanceIdentifiers"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == replica.as_str()))
    })
    .await?;
    delete_and_wait(api, "replica").await?;
    Ok(())
}

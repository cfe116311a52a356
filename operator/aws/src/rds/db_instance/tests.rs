//! Table tests of the DBInstance state gate, delta, late initialization and delete options.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn spec(v: serde_json::Value) -> DBInstanceSpec {
    let mut base = json!({"dbInstanceIdentifier": "db", "dbInstanceClass": "db.t3.micro", "engine": "postgres"});
    crate::ack::runtime::merge(&mut base, &v);
    serde_json::from_value(base).unwrap()
}

#[test]
fn gate_table() {
    let cases = [
        (Some("available"), false, Gate::Modifiable),
        (
            Some("creating"),
            false,
            Gate::Wait(
                "DB instance is in 'creating' status: waiting for it to be available".into(),
            ),
        ),
        (
            Some("deleting"),
            false,
            Gate::Wait("DB instance is currently being deleted".into()),
        ),
        (
            Some("modifying"),
            false,
            Gate::Wait("DB instance cannot be modified while in 'modifying' status".into()),
        ),
        (
            Some("backing-up"),
            false,
            Gate::Wait("DB instance cannot be modified while in 'backing-up' status".into()),
        ),
        (
            Some("storage-full"),
            false,
            Gate::Wait("DB instance cannot be modified while in 'storage-full' status".into()),
        ),
        (Some("storage-full"), true, Gate::Modifiable),
        (
            Some("failed"),
            false,
            Gate::Terminal("DB instance is in 'failed' status".into()),
        ),
        (
            Some("incompatible-network"),
            false,
            Gate::Terminal("DB instance is in 'incompatible-network' status".into()),
        ),
        (
            None,
            false,
            Gate::Wait("DB instance has no status yet".into()),
        ),
    ];
    for (status, storage_only, want) in cases {
        assert_eq!(instance_gate(status, storage_only), want, "{status:?}");
    }
}

#[test]
fn engine_versions() {
    let cases = [
        ("16", "16.4", true),
        ("16.4", "16.4", true),
        ("16", "16", true),
        ("1", "16.4", false),
        ("16.3", "16.4", false),
        ("16", "", false),
    ];
    for (want, have, eq) in cases {
        assert_eq!(engine_version_matches(want, have), eq, "{want} vs {have}");
    }
}

#[test]
fn delta_table() {
    let latest = spec(json!({
        "engineVersion": "16.4", "allocatedStorage": 20, "multiAZ": false, "port": 5432,
        "vpcSecurityGroupIDs": ["sg-1", "sg-2"], "backupRetentionPeriod": 1, "deletionProtection": false,
        "dbName": "app", "masterUsername": "admin", "tags": [{"key": "a", "value": "1"}],
        "enableCloudwatchLogsExports": ["postgresql"], "monitoringInterval": 0, "storageThroughput": 125
    }));
    let cases: Vec<(&str, DBInstanceSpec, serde_json::Value)> = vec![
        ("minimal spec is in sync", spec(json!({})), json!({})),
        (
            "major-only version matches",
            spec(json!({"engineVersion": "16"})),
            json!({}),
        ),
        (
            "security groups compared as sets",
            spec(json!({"vpcSecurityGroupIDs": ["sg-2", "sg-1"]})),
            json!({}),
        ),
        (
            "create-only fields never modified",
            spec(json!({"dbName": "other", "masterUsername": "root", "storageEncrypted": true})),
            json!({}),
        ),
        (
            "changed fields only",
            spec(
                json!({"allocatedStorage": 50, "multiAZ": false, "port": 5432, "backupRetentionPeriod": 7}),
            ),
            json!({"allocatedStorage": 50, "backupRetentionPeriod": 7}),
        ),
        (
            "class change",
            spec(json!({"dbInstanceClass": "db.t3.small"})),
            json!({"dbInstanceClass": "db.t3.small"}),
        ),
        (
            "version upgrade",
            spec(json!({"engineVersion": "17.1"})),
            json!({"engineVersion": "17.1"}),
        ),
        (
            "deletion protection off",
            spec(json!({"deletionProtection": true})),
            json!({"deletionProtection": true}),
        ),
        (
            "security groups replaced",
            spec(json!({"vpcSecurityGroupIDs": ["sg-3"]})),
            json!({"vpcSecurityGroupIDs": ["sg-3"]}),
        ),
        (
            "log exports compare as sets",
            spec(json!({"enableCloudwatchLogsExports": ["postgresql"]})),
            json!({}),
        ),
        (
            "a log export added",
            spec(json!({"enableCloudwatchLogsExports": ["upgrade", "postgresql"]})),
            json!({"enableLogTypes": ["upgrade"]}),
        ),
        (
            "no log exports disables the one there is",
            spec(json!({"enableCloudwatchLogsExports": []})),
            json!({"disableLogTypes": ["postgresql"]}),
        ),
        (
            "monitoring, throughput and insights",
            spec(
                json!({"monitoringInterval": 60, "monitoringRoleARN": "arn:aws:iam::123456789012:role/mon", "storageThroughput": 125, "performanceInsightsEnabled": true, "performanceInsightsRetentionPeriod": 7}),
            ),
            json!({"monitoringInterval": 60, "monitoringRoleARN": "arn:aws:iam::123456789012:role/mon", "performanceInsightsEnabled": true, "performanceInsightsRetentionPeriod": 7}),
        ),
        (
            "RDS starts managing the password",
            spec(json!({"manageMasterUserPassword": true, "masterUserSecretKMSKeyID": "k"})),
            json!({"manageMasterUserPassword": true, "masterUserSecretKMSKeyID": "k"}),
        ),
        (
            "manageMasterUserPassword false on an instance without a managed password",
            spec(json!({"manageMasterUserPassword": false})),
            json!({}),
        ),
        (
            "an Aurora member leaves storage, backups and logs to its cluster",
            spec(
                json!({"dbClusterIdentifier": "c", "allocatedStorage": 50, "backupRetentionPeriod": 7, "enableCloudwatchLogsExports": [], "monitoringInterval": 5, "promotionTier": 2}),
            ),
            json!({"monitoringInterval": 5, "promotionTier": 2}),
        ),
    ];
    for (name, desired, want) in cases {
        let got = instance_delta(&desired, &latest);
        assert_eq!(serde_json::to_value(&got).unwrap(), want, "{name}");
        assert_eq!(got.is_empty(), want == json!({}), "{name}");
    }
    assert!(instance_delta(&spec(json!({"allocatedStorage": 50})), &latest).storage_only());
    assert!(
        !instance_delta(&spec(json!({"allocatedStorage": 50, "port": 1})), &latest).storage_only()
    );
    assert!(!Modification::default().storage_only());
}

#[test]
fn late_initialization_fills_server_defaults_only() {
    let latest = spec(json!({
        "engineVersion": "16.4", "allocatedStorage": 20, "multiAZ": false, "port": 5432,
        "backupRetentionPeriod": 1, "availabilityZone": "us-west-2a", "storageType": "gp2",
        "dbSubnetGroupName": "g"
    }));
    let desired = spec(json!({"engineVersion": "16", "allocatedStorage": 20}));
    assert_eq!(
        late_initialize(&desired, &latest),
        Some(
            json!({"multiAZ": false, "backupRetentionPeriod": 1, "availabilityZone": "us-west-2a", "storageType": "gp2"})
        ),
        "engineVersion stays as written; port and subnet group are not late-initialized"
    );
    assert_eq!(late_initialize(&latest, &latest), None);
}

#[test]
fn delete_options_table() {
    let ann = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let ok = |skip, id: Option<&str>, backups| DeleteOptions {
        skip_final_snapshot: skip,
        final_snapshot_identifier: id.map(str::to_owned),
        delete_automated_backups: backups,
    };
    assert_eq!(delete_options(&ann(&[])), Ok(ok(true, None, None)));
    assert_eq!(
        delete_options(&ann(&[(FINAL_DB_SNAPSHOT_IDENTIFIER, "final")])),
        Ok(ok(false, Some("final"), None))
    );
    assert_eq!(
        delete_options(&ann(&[
            (SKIP_FINAL_SNAPSHOT, "true"),
            (FINAL_DB_SNAPSHOT_IDENTIFIER, "final")
        ])),
        Ok(ok(true, None, None))
    );
    assert_eq!(
        delete_options(&ann(&[(DELETE_AUTOMATED_BACKUPS, "false")])),
        Ok(ok(true, None, Some(false)))
    );
    let err = delete_options(&ann(&[(SKIP_FINAL_SNAPSHOT, "false")])).unwrap_err();
    assert!(err.contains(FINAL_DB_SNAPSHOT_IDENTIFIER), "{err}");
    assert!(delete_options(&ann(&[(SKIP_FINAL_SNAPSHOT, "yes")])).is_err());
}

#[test]
fn secret_reference_keys() {
    let r = |ns: Option<&str>| SecretKeyReference {
        namespace: ns.map(str::to_owned),
        name: Some("pw".into()),
        key: "password".into(),
    };
    assert_eq!(secret_reference_key("apps", &r(None)), "apps/pw.password");
    assert_eq!(
        secret_reference_key("apps", &r(Some("shared"))),
        "shared/pw.password"
    );
}

#[test]
fn adopted_spec_never_carries_a_password() {
    let mut latest = spec(json!({"engineVersion": "16.4"}));
    latest.master_user_password = Some(SecretKeyReference {
        namespace: None,
        name: Some("x".into()),
        key: "k".into(),
    });
    let v = adopted_spec(&latest);
    assert_eq!(v["engineVersion"], json!("16.4"));
    assert!(v.get("masterUserPassword").is_none());
}

#[test]
fn a_cross_namespace_password_secret_is_terminal_and_names_field_and_flag() {
    let e = io::cross_namespace_secret("DBInstance", "prod", "db-admin", "team-a");
    let crate::ack::runtime::SyncError::Terminal(msg) = &e else {
        panic!("want a terminal error, got {e:?}");
    };
    assert!(
        msg.starts_with("spec.masterUserPassword.namespace: "),
        "{msg}"
    );
    assert!(msg.contains("Secret prod/db-admin"), "{msg}");
    assert!(msg.contains("--enable-cross-namespace"), "{msg}");
}

#[test]
fn pending_modified_values_surface_and_an_empty_element_clears_them() {
    use aws_sdk_rds::types::{DbInstance as SdkInstance, PendingModifiedValues as SdkPending};
    let with = |pending: SdkPending| {
        SdkInstance::builder()
            .db_instance_identifier("db")
            .db_instance_status("modifying")
            .allocated_storage(20)
            .pending_modified_values(pending)
            .build()
    };
    // A modification in flight: the new value is in status and in the compared view.
    let observed = io::observed_from(
        &with(SdkPending::builder().allocated_storage(30).build()),
        vec![],
    );
    assert_eq!(observed.latest.allocated_storage, Some(30));
    let status = io::status_value(&observed);
    assert_eq!(status["pendingModifiedValues"]["allocatedStorage"], 30);
    // A later modification: the finished one's member goes from status.
    let mut written = json!({"pendingModifiedValues": {"backupRetentionPeriod": 9}});
    crate::ack::runtime::merge(&mut written, &status);
    assert_eq!(
        written,
        json!({"dbInstanceStatus": "modifying", "pendingModifiedValues": {"allocatedStorage": 30}})
    );
    // RDS answers an empty element once it is done: written as null, so a merge patch removes
    // the values of the finished modification from status.
    let done = io::observed_from(&with(SdkPending::builder().build()), vec![]);
    assert_eq!(done.status.pending_modified_values, None);
    let status = io::status_value(&done);
    assert_eq!(status["pendingModifiedValues"], serde_json::Value::Null);
    assert!(
        status
            .as_object()
            .unwrap()
            .contains_key("pendingModifiedValues")
    );
    let mut written =
        json!({"dbInstanceStatus": "modifying", "pendingModifiedValues": {"allocatedStorage": 30}});
    crate::ack::runtime::merge(&mut written, &status);
    assert_eq!(written.get("pendingModifiedValues"), None, "{written}");
}

#[test]
fn pending_fields_name_every_member_of_the_status() {
    let all = PendingModifiedValues {
        allocated_storage: Some(1),
        backup_retention_period: Some(1),
        db_instance_class: Some("c".into()),
        engine_version: Some("v".into()),
        iops: Some(1),
        multi_az: Some(true),
        port: Some(1),
        storage_type: Some("t".into()),
        automation_mode: Some("full".into()),
        ca_certificate_identifier: Some("ca".into()),
        db_instance_identifier: Some("db".into()),
        db_subnet_group_name: Some("g".into()),
        iam_database_authentication_enabled: Some(true),
        license_model: Some("l".into()),
        master_user_password: Some("****".into()),
        pending_cloudwatch_logs_exports: Some(status::PendingCloudwatchLogsExports::default()),
        processor_features: Some(vec![]),
        resume_full_automation_mode_time: Some("t".into()),
        storage_throughput: Some(1),
    };
    let v = serde_json::to_value(&all).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = io::PENDING_FIELDS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
}

#[test]
fn the_origin_of_an_instance_and_its_conflicts() {
    use create::{Origin, origin};
    assert_eq!(origin(&spec(json!({}))), Ok(Origin::Empty));
    assert_eq!(
        origin(&spec(json!({"dbSnapshotIdentifier": "snap"}))),
        Ok(Origin::Snapshot)
    );
    assert_eq!(
        origin(&spec(json!({"sourceDBInstanceIdentifier": "primary"}))),
        Ok(Origin::ReadReplica)
    );
    let both = origin(&spec(
        json!({"dbSnapshotIdentifier": "snap", "sourceDBInstanceIdentifier": "primary"}),
    ))
    .unwrap_err();
    assert!(both.contains("spec.sourceDBInstanceIdentifier"), "{both}");
    let replica_password = origin(&spec(json!({
        "sourceDBInstanceIdentifier": "primary",
        "masterUserPassword": {"name": "s", "key": "password"}
    })))
    .unwrap_err();
    assert!(
        replica_password.contains("remove spec.masterUserPassword"),
        "{replica_password}"
    );
    let managed_and_secret = origin(&spec(json!({
        "manageMasterUserPassword": true,
        "masterUserPassword": {"name": "s", "key": "password"}
    })))
    .unwrap_err();
    assert!(
        managed_and_secret.contains("spec.manageMasterUserPassword"),
        "{managed_and_secret}"
    );
}

/// What DescribeDBInstances says beyond the core fields reaches the status (ACK's names), and a
/// field RDS stops reporting is written as null, so the merge patch removes it.
#[test]
fn described_status_fields_surface_and_vanish() {
    use aws_sdk_rds::types::{
        DbInstance as SdkInstance, DbParameterGroupStatus, MasterUserSecret as SdkSecret,
    };
    let with_secret = SdkInstance::builder()
        .db_instance_identifier("db")
        .db_instance_status("available")
        .db_parameter_groups(
            DbParameterGroupStatus::builder()
                .db_parameter_group_name("app")
                .parameter_apply_status("pending-reboot")
                .build(),
        )
        .master_user_secret(
            SdkSecret::builder()
                .secret_arn("arn:aws:secretsmanager:us-west-2:123456789012:secret:rds!db")
                .secret_status("active")
                .build(),
        )
        .enabled_cloudwatch_logs_exports("postgresql")
        .build();
    let observed = io::observed_from(&with_secret, vec![]);
    assert_eq!(observed.latest.manage_master_user_password, Some(true));
    let status = io::status_value(&observed);
    assert_eq!(
        status["dbParameterGroups"],
        json!([{"dbParameterGroupName": "app", "parameterApplyStatus": "pending-reboot"}])
    );
    assert_eq!(status["masterUserSecret"]["secretStatus"], "active");
    assert_eq!(
        status["enabledCloudwatchLogsExports"],
        json!(["postgresql"])
    );
    let mut written = status.clone();
    let without = SdkInstance::builder()
        .db_instance_identifier("db")
        .db_instance_status("available")
        .build();
    let later = io::status_value(&io::observed_from(&without, vec![]));
    crate::ack::runtime::merge(&mut written, &later);
    assert_eq!(written, json!({"dbInstanceStatus": "available"}));
}

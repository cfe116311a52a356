use super::*;

fn spec() -> DBClusterSpec {
    DBClusterSpec {
        db_cluster_identifier: "c".into(),
        engine: "aurora-postgresql".into(),
        ..DBClusterSpec::default()
    }
}

#[test]
fn only_fields_the_spec_sets_are_compared() {
    let latest = DBClusterSpec {
        backup_retention_period: Some(1),
        port: Some(5432),
        storage_type: Some("gp2".into()),
        availability_zones: Some(vec!["us-west-2a".into()]),
        ..spec()
    };
    assert!(cluster_delta(&spec(), &latest).is_empty());
    let desired = DBClusterSpec {
        backup_retention_period: Some(7),
        port: Some(5432),
        ..spec()
    };
    let delta = cluster_delta(&desired, &latest);
    assert_eq!(delta.backup_retention_period, Some(7));
    assert_eq!(delta.port, None);
}

#[test]
fn engine_versions_as_ack_compares_them() {
    let with = |want: &str, auto: Option<bool>| DBClusterSpec {
        engine_version: Some(want.into()),
        auto_minor_version_upgrade: auto,
        ..spec()
    };
    let latest = |have: &str| DBClusterSpec {
        engine_version: Some(have.into()),
        ..spec()
    };
    let cases = [
        ("16", None, "16.4", None),
        ("16.4", None, "16.4", None),
        ("15.5", None, "15.4", None),
        ("16.1", None, "15.4", Some("16.1")),
        ("15.5", Some(false), "15.4", Some("15.5")),
        ("8.0", None, "8.0.mysql_aurora.3.10.3", None),
    ];
    for (want, auto, have, sent) in cases {
        assert_eq!(
            cluster_delta(&with(want, auto), &latest(have))
                .engine_version
                .as_deref(),
            sent,
            "{want} vs {have} (autoMinorVersionUpgrade {auto:?})"
        );
    }
}

#[test]
fn log_exports_and_security_groups_compare_as_sets() {
    let desired = DBClusterSpec {
        enable_cloudwatch_logs_exports: Some(vec!["postgresql".into(), "upgrade".into()]),
        vpc_security_group_ids: Some(vec!["sg-2".into(), "sg-1".into()]),
        ..spec()
    };
    let latest = DBClusterSpec {
        enable_cloudwatch_logs_exports: Some(vec!["upgrade".into(), "iam-db-auth-error".into()]),
        vpc_security_group_ids: Some(vec!["sg-1".into(), "sg-2".into()]),
        ..spec()
    };
    let delta = cluster_delta(&desired, &latest);
    assert_eq!(delta.enable_log_types, vec!["postgresql".to_owned()]);
    assert_eq!(
        delta.disable_log_types,
        vec!["iam-db-auth-error".to_owned()]
    );
    assert_eq!(
        delta.vpc_security_group_ids, None,
        "same set, another order"
    );
}

#[test]
fn scaling_members_the_spec_leaves_out_are_rds_s() {
    let desired = DBClusterSpec {
        serverless_v2_scaling_configuration: Some(ServerlessV2ScalingConfiguration {
            min_capacity: Some(0.5),
            max_capacity: Some(4.0),
            seconds_until_auto_pause: None,
        }),
        ..spec()
    };
    let mut latest = DBClusterSpec {
        serverless_v2_scaling_configuration: Some(ServerlessV2ScalingConfiguration {
            min_capacity: Some(0.5),
            max_capacity: Some(4.0),
            seconds_until_auto_pause: Some(300),
        }),
        ..spec()
    };
    assert!(cluster_delta(&desired, &latest).is_empty());
    latest.serverless_v2_scaling_configuration = Some(ServerlessV2ScalingConfiguration {
        max_capacity: Some(8.0),
        ..latest.serverless_v2_scaling_configuration.clone().unwrap()
    });
    assert_eq!(
        cluster_delta(&desired, &latest).serverless_v2_scaling_configuration,
        desired.serverless_v2_scaling_configuration
    );
}

#[test]
fn windows_and_group_names_compare_without_case() {
    let desired = DBClusterSpec {
        preferred_maintenance_window: Some("Sun:05:00-Sun:06:00".into()),
        db_cluster_parameter_group_name: Some("App-Params".into()),
        ..spec()
    };
    let latest = DBClusterSpec {
        preferred_maintenance_window: Some("sun:05:00-sun:06:00".into()),
        db_cluster_parameter_group_name: Some("app-params".into()),
        ..spec()
    };
    assert!(cluster_delta(&desired, &latest).is_empty());
}

#[test]
fn the_gate_modifies_only_an_available_cluster() {
    assert_eq!(cluster_gate(Some("available")), ClusterGate::Modifiable);
    for busy in ["creating", "modifying", "backing-up", "stopped", ""] {
        assert!(
            matches!(cluster_gate(Some(busy)), ClusterGate::Wait(_)),
            "{busy}"
        );
    }
    assert!(matches!(
        cluster_gate(Some("failed")),
        ClusterGate::Terminal(_)
    ));
}

#[test]
fn late_initialization_fills_only_what_the_spec_leaves_out() {
    let desired = DBClusterSpec {
        port: Some(6543),
        ..spec()
    };
    let latest = DBClusterSpec {
        port: Some(5432),
        engine_version: Some("16.4".into()),
        network_type: Some("IPV4".into()),
        storage_type: Some("gp2".into()),
        ..spec()
    };
    assert_eq!(
        late_initialize(&desired, &latest),
        Some(json!({"engineVersion": "16.4", "networkType": "IPV4"}))
    );
}

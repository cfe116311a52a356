//! RDS calls for `DBCluster`: describe into a spec-shaped view and ACK's status, create (or
//! restore), modify, delete.

use std::collections::BTreeMap;

use aws_sdk_rds::types::DbCluster as SdkCluster;
use serde_json::{Value, json};

use super::{
    ClusterGate, ClusterModification, ClusterPendingModifiedValues, DBCluster, DBClusterMember,
    DBClusterOptionGroupStatus, DBClusterSpec, DBClusterStatus, ScalingConfiguration,
    ServerlessV2ScalingConfiguration, adopted_spec, cluster_delta, cluster_gate, late_initialize,
};
use crate::ack::error::AwsError;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::tag_delta;
use crate::rds::db_instance::io::{
    KMS_KEY_REF, ROLE_REF, SECURITY_GROUP_REF, SUBNET_GROUP_REF, i32_of, secret_password,
};
use crate::rds::db_instance::status::{
    DBInstanceRole, DomainMembership, MasterUserSecret, PendingCloudwatchLogsExports, time,
};
use crate::rds::db_instance::{
    LAST_APPLIED_SECRET_REFERENCE, VpcSecurityGroupMembership, delete_options, secret_reference_key,
};

/// What RDS holds for a cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ObservedCluster {
    /// ARN.
    pub arn: Option<String>,
    /// AWS's state in spec shape. Boxed: the runtime moves it through many temporaries.
    pub latest: Box<DBClusterSpec>,
    /// Status fields.
    pub status: Box<DBClusterStatus>,
}

const NOT_FOUND_CODES: &[&str] = &["DBClusterNotFoundFault", "DBClusterNotFound"];

/// ACK's terminal codes for DBCluster.
const TERMINAL_CODES: &[&str] = &[
    "DBClusterQuotaExceededFault",
    "DBSubnetGroupDoesNotCoverEnoughAZs",
    "InsufficientStorageClusterCapacity",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidSubnet",
    "StorageQuotaExceeded",
    "StorageTypeNotAvailableFault",
];

const CLUSTER_PARAMETER_GROUP_REF: RefTarget = RefTarget {
    group: "rds.services.k8s.aws",
    version: "v1alpha1",
    kind: "DBClusterParameterGroup",
    plural: "dbclusterparametergroups",
    path: &["spec", "name"],
};

fn s(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

fn list<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn i64_of(v: Option<i32>) -> Option<i64> {
    v.map(i64::from)
}

/// AWS's state in spec shape: the fields DescribeDBClusters reports.
fn latest_from(c: &SdkCluster, tags: Vec<crate::ack::types::Tag>) -> DBClusterSpec {
    let secret = c.master_user_secret();
    DBClusterSpec {
        allocated_storage: i64_of(c.allocated_storage()),
        auto_minor_version_upgrade: c.auto_minor_version_upgrade(),
        availability_zones: list(c.availability_zones().to_vec()),
        backtrack_window: c.backtrack_window(),
        backup_retention_period: i64_of(c.backup_retention_period()),
        character_set_name: s(c.character_set_name()),
        copy_tags_to_snapshot: c.copy_tags_to_snapshot(),
        database_insights_mode: c.database_insights_mode().map(|m| m.as_str().to_owned()),
        database_name: s(c.database_name()),
        db_cluster_identifier: c.db_cluster_identifier().unwrap_or_default().to_owned(),
        db_cluster_instance_class: s(c.db_cluster_instance_class()),
        db_cluster_parameter_group_name: s(c.db_cluster_parameter_group()),
        db_subnet_group_name: s(c.db_subnet_group()),
        db_system_id: s(c.db_system_id()),
        deletion_protection: c.deletion_protection(),
        enable_cloudwatch_logs_exports: Some(c.enabled_cloudwatch_logs_exports().to_vec()),
        enable_global_write_forwarding: c.global_write_forwarding_requested(),
        enable_http_endpoint: c.http_endpoint_enabled(),
        enable_iam_database_authentication: c.iam_database_authentication_enabled(),
        enable_performance_insights: c.performance_insights_enabled(),
        engine: c.engine().unwrap_or_default().to_owned(),
        engine_mode: s(c.engine_mode()),
        engine_version: s(c.engine_version()),
        global_cluster_identifier: None,
        iops: i64_of(c.iops()),
        kms_key_id: s(c.kms_key_id()),
        manage_master_user_password: Some(secret.is_some()),
        master_user_secret_kms_key_id: secret.and_then(|m| s(m.kms_key_id())),
        master_username: s(c.master_username()),
        monitoring_interval: i64_of(c.monitoring_interval()),
        monitoring_role_arn: s(c.monitoring_role_arn()),
        network_type: s(c.network_type()),
        option_group_name: c
            .db_cluster_option_group_memberships()
            .first()
            .and_then(|m| s(m.db_cluster_option_group_name())),
        performance_insights_kms_key_id: s(c.performance_insights_kms_key_id()),
        performance_insights_retention_period: i64_of(c.performance_insights_retention_period()),
        port: i64_of(c.port()),
        preferred_backup_window: s(c.preferred_backup_window()),
        preferred_maintenance_window: s(c.preferred_maintenance_window()),
        publicly_accessible: c.publicly_accessible(),
        replication_source_identifier: s(c.replication_source_identifier()),
        scaling_configuration: c
            .scaling_configuration_info()
            .map(|i| ScalingConfiguration {
                auto_pause: i.auto_pause(),
                max_capacity: i64_of(i.max_capacity()),
                min_capacity: i64_of(i.min_capacity()),
                seconds_before_timeout: i64_of(i.seconds_before_timeout()),
                seconds_until_auto_pause: i64_of(i.seconds_until_auto_pause()),
                timeout_action: s(i.timeout_action()),
            }),
        serverless_v2_scaling_configuration: c.serverless_v2_scaling_configuration().map(|i| {
            ServerlessV2ScalingConfiguration {
                max_capacity: i.max_capacity(),
                min_capacity: i.min_capacity(),
                seconds_until_auto_pause: i64_of(i.seconds_until_auto_pause()),
            }
        }),
        storage_encrypted: c.storage_encrypted(),
        storage_type: s(c.storage_type()),
        tags: Some(tags),
        vpc_security_group_ids: Some(
            c.vpc_security_groups()
                .iter()
                .filter_map(|g| s(g.vpc_security_group_id()))
                .collect(),
        ),
        ..DBClusterSpec::default()
    }
}

/// ACK's status fields from DescribeDBClusters.
fn status_from(c: &SdkCluster) -> DBClusterStatus {
    DBClusterStatus {
        activity_stream_kinesis_stream_name: s(c.activity_stream_kinesis_stream_name()),
        activity_stream_kms_key_id: s(c.activity_stream_kms_key_id()),
        activity_stream_mode: c.activity_stream_mode().map(|m| m.as_str().to_owned()),
        activity_stream_status: c.activity_stream_status().map(|m| m.as_str().to_owned()),
        associated_roles: list(
            c.associated_roles()
                .iter()
                .map(|r| DBInstanceRole {
                    feature_name: s(r.feature_name()),
                    role_arn: s(r.role_arn()),
                    status: s(r.status()),
                })
                .collect(),
        ),
        automatic_restart_time: time(c.automatic_restart_time()),
        backtrack_consumed_change_records: c.backtrack_consumed_change_records(),
        capacity: i64_of(c.capacity()),
        clone_group_id: s(c.clone_group_id()),
        cluster_create_time: time(c.cluster_create_time()),
        cross_account_clone: c.cross_account_clone(),
        custom_endpoints: list(c.custom_endpoints().to_vec()),
        db_cluster_members: list(
            c.db_cluster_members()
                .iter()
                .map(|m| DBClusterMember {
                    db_cluster_parameter_group_status: s(m.db_cluster_parameter_group_status()),
                    db_instance_identifier: s(m.db_instance_identifier()),
                    is_cluster_writer: m.is_cluster_writer(),
                    promotion_tier: i64_of(m.promotion_tier()),
                })
                .collect(),
        ),
        db_cluster_option_group_memberships: list(
            c.db_cluster_option_group_memberships()
                .iter()
                .map(|m| DBClusterOptionGroupStatus {
                    db_cluster_option_group_name: s(m.db_cluster_option_group_name()),
                    status: s(m.status()),
                })
                .collect(),
        ),
        db_cluster_parameter_group: s(c.db_cluster_parameter_group()),
        db_cluster_resource_id: s(c.db_cluster_resource_id()),
        db_subnet_group: s(c.db_subnet_group()),
        domain_memberships: list(
            c.domain_memberships()
                .iter()
                .map(|d| DomainMembership {
                    domain: s(d.domain()),
                    fqdn: s(d.fqdn()),
                    iam_role_name: s(d.iam_role_name()),
                    status: s(d.status()),
                })
                .collect(),
        ),
        earliest_backtrack_time: time(c.earliest_backtrack_time()),
        earliest_restorable_time: time(c.earliest_restorable_time()),
        enabled_cloudwatch_logs_exports: list(c.enabled_cloudwatch_logs_exports().to_vec()),
        endpoint: s(c.endpoint()),
        global_write_forwarding_requested: c.global_write_forwarding_requested(),
        global_write_forwarding_status: c
            .global_write_forwarding_status()
            .map(|w| w.as_str().to_owned()),
        hosted_zone_id: s(c.hosted_zone_id()),
        http_endpoint_enabled: c.http_endpoint_enabled(),
        iam_database_authentication_enabled: c.iam_database_authentication_enabled(),
        latest_restorable_time: time(c.latest_restorable_time()),
        master_user_secret: c.master_user_secret().map(|m| MasterUserSecret {
            kms_key_id: s(m.kms_key_id()),
            secret_arn: s(m.secret_arn()),
            secret_status: s(m.secret_status()),
        }),
        multi_az: c.multi_az(),
        pending_modified_values: c.pending_modified_values().map(|p| {
            ClusterPendingModifiedValues {
                allocated_storage: i64_of(p.allocated_storage()),
                backup_retention_period: i64_of(p.backup_retention_period()),
                db_cluster_identifier: s(p.db_cluster_identifier()),
                engine_version: s(p.engine_version()),
                iam_database_authentication_enabled: p.iam_database_authentication_enabled(),
                iops: i64_of(p.iops()),
                master_user_password: p.master_user_password().map(|_| "****".to_owned()),
                pending_cloudwatch_logs_exports: p.pending_cloudwatch_logs_exports().map(|e| {
                    PendingCloudwatchLogsExports {
                        log_types_to_disable: list(e.log_types_to_disable().to_vec()),
                        log_types_to_enable: list(e.log_types_to_enable().to_vec()),
                    }
                }),
            }
        }),
        percent_progress: s(c.percent_progress()),
        performance_insights_enabled: c.performance_insights_enabled(),
        read_replica_identifiers: list(c.read_replica_identifiers().to_vec()),
        reader_endpoint: s(c.reader_endpoint()),
        status: s(c.status()),
        tag_list: list(crate::rds::tags_from(c.tag_list())),
        vpc_security_groups: list(
            c.vpc_security_groups()
                .iter()
                .map(|g| VpcSecurityGroupMembership {
                    status: s(g.status()),
                    vpc_security_group_id: s(g.vpc_security_group_id()),
                })
                .collect(),
        ),
        ..DBClusterStatus::default()
    }
}

async fn describe(
    rds: &aws_sdk_rds::Client,
    id: &str,
) -> Result<Option<ObservedCluster>, SyncError> {
    let res = rds
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(AwsError::from_sdk);
    let Some(out) = SyncError::unless_not_found("DescribeDBClusters", res, NOT_FOUND_CODES)? else {
        return Ok(None);
    };
    let Some(c) = out.db_clusters().first() else {
        return Ok(None);
    };
    let tags = match c.db_cluster_arn() {
        Some(arn) => crate::rds::list_tags(rds, arn).await?,
        None => crate::rds::tags_from(c.tag_list()),
    };
    Ok(Some(ObservedCluster {
        arn: s(c.db_cluster_arn()),
        latest: Box::new(latest_from(c, tags)),
        status: Box::new(status_from(c)),
    }))
}

/// The top-level status fields RDS fills in, from the status type's schema.
fn described_status_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let schema = schemars::schema_for!(DBClusterStatus);
        schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.keys()
                    .filter(|k| *k != "ackResourceMetadata" && *k != "conditions")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// The status to write: what RDS no longer reports is written as `null` (status is merged).
fn status_value(observed: &ObservedCluster) -> Value {
    let mut v = serde_json::to_value(&*observed.status).unwrap_or_else(|_| json!({}));
    if let Some(map) = v.as_object_mut() {
        for field in described_status_fields() {
            map.entry(field.clone()).or_insert(Value::Null);
        }
    }
    v
}

/// How a cluster comes to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// CreateDBCluster.
    Empty,
    /// RestoreDBClusterFromSnapshot (`snapshotIdentifier`).
    Snapshot,
    /// RestoreDBClusterToPointInTime (`sourceDBClusterIdentifier`).
    PointInTime,
}

fn origin(spec: &DBClusterSpec) -> Result<Origin, String> {
    if spec.master_user_password.is_some() && spec.manage_master_user_password == Some(true) {
        return Err(
            "spec.masterUserPassword and spec.manageMasterUserPassword=true are both set: \
             keep the Secret reference or let RDS manage the password, not both"
                .into(),
        );
    }
    match (
        spec.snapshot_identifier.is_some(),
        spec.source_db_cluster_identifier.is_some(),
    ) {
        (true, true) => Err(
            "spec.snapshotIdentifier and spec.sourceDBClusterIdentifier are both set: a \
             cluster is restored from a snapshot or to a point in time, not both"
                .into(),
        ),
        (true, false) => Ok(Origin::Snapshot),
        (false, true) => Ok(Origin::PointInTime),
        (false, false) => Ok(Origin::Empty),
    }
}

/// The setters CreateDBCluster and the two restore calls share: the same spec fields under
/// the same names.
macro_rules! cluster_setters {
    ($request:expr, $spec:expr) => {{
        let spec: &DBClusterSpec = $spec;
        $request
            .set_backtrack_window(spec.backtrack_window)
            .set_copy_tags_to_snapshot(spec.copy_tags_to_snapshot)
            .set_db_cluster_instance_class(spec.db_cluster_instance_class.clone())
            .set_db_cluster_parameter_group_name(spec.db_cluster_parameter_group_name.clone())
            .set_db_subnet_group_name(spec.db_subnet_group_name.clone())
            .set_deletion_protection(spec.deletion_protection)
            .set_domain(spec.domain.clone())
            .set_domain_iam_role_name(spec.domain_iam_role_name.clone())
            .set_enable_cloudwatch_logs_exports(spec.enable_cloudwatch_logs_exports.clone())
            .set_enable_iam_database_authentication(spec.enable_iam_database_authentication)
            .set_engine_mode(spec.engine_mode.clone())
            .set_iops(i32_of("iops", spec.iops)?)
            .set_kms_key_id(spec.kms_key_id.clone())
            .set_network_type(spec.network_type.clone())
            .set_option_group_name(spec.option_group_name.clone())
            .set_port(i32_of("port", spec.port)?)
            .set_publicly_accessible(spec.publicly_accessible)
            .set_storage_type(spec.storage_type.clone())
            .set_tags(spec.tags.as_deref().map(crate::rds::sdk_tags))
            .set_vpc_security_group_ids(spec.vpc_security_group_ids.clone())
            .set_scaling_configuration(sdk_scaling(spec.scaling_configuration.as_ref())?)
            .set_serverless_v2_scaling_configuration(sdk_v2(
                spec.serverless_v2_scaling_configuration.as_ref(),
            )?)
    }};
}

/// CreateDBCluster's request (built outside the async fn, see db_instance/create.rs).
#[inline(never)]
fn create_request(
    cx: &SyncCx<'_>,
    spec: &DBClusterSpec,
    id: &str,
    password: Option<String>,
) -> Result<
    aws_sdk_rds::operation::create_db_cluster::builders::CreateDBClusterFluentBuilder,
    SyncError,
> {
    Ok(cluster_setters!(
        cx.aws
            .rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine(&spec.engine)
            .set_allocated_storage(i32_of("allocatedStorage", spec.allocated_storage)?)
            .set_auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
            .set_availability_zones(spec.availability_zones.clone())
            .set_backup_retention_period(i32_of(
                "backupRetentionPeriod",
                spec.backup_retention_period,
            )?)
            .set_character_set_name(spec.character_set_name.clone())
            .set_database_insights_mode(spec.database_insights_mode.as_deref().map(Into::into))
            .set_database_name(spec.database_name.clone())
            .set_db_system_id(spec.db_system_id.clone())
            .set_enable_global_write_forwarding(spec.enable_global_write_forwarding)
            .set_enable_http_endpoint(spec.enable_http_endpoint)
            .set_enable_performance_insights(spec.enable_performance_insights)
            .set_engine_version(spec.engine_version.clone())
            .set_global_cluster_identifier(spec.global_cluster_identifier.clone())
            .set_manage_master_user_password(spec.manage_master_user_password)
            .set_master_user_password(password)
            .set_master_user_secret_kms_key_id(spec.master_user_secret_kms_key_id.clone())
            .set_master_username(spec.master_username.clone())
            .set_monitoring_interval(i32_of("monitoringInterval", spec.monitoring_interval)?)
            .set_monitoring_role_arn(spec.monitoring_role_arn.clone())
            .set_performance_insights_kms_key_id(spec.performance_insights_kms_key_id.clone())
            .set_performance_insights_retention_period(i32_of(
                "performanceInsightsRetentionPeriod",
                spec.performance_insights_retention_period,
            )?)
            .set_preferred_backup_window(spec.preferred_backup_window.clone())
            .set_preferred_maintenance_window(spec.preferred_maintenance_window.clone())
            .set_replication_source_identifier(spec.replication_source_identifier.clone())
            .set_storage_encrypted(spec.storage_encrypted),
        spec
    ))
}

/// RestoreDBClusterFromSnapshot's request.
#[inline(never)]
fn snapshot_request(
    cx: &SyncCx<'_>,
    spec: &DBClusterSpec,
    id: &str,
) -> Result<
    aws_sdk_rds::operation::restore_db_cluster_from_snapshot::builders::RestoreDBClusterFromSnapshotFluentBuilder,
    SyncError,
>{
    Ok(cluster_setters!(
        cx.aws
            .rds
            .restore_db_cluster_from_snapshot()
            .db_cluster_identifier(id)
            .engine(&spec.engine)
            .set_snapshot_identifier(spec.snapshot_identifier.clone())
            .set_availability_zones(spec.availability_zones.clone())
            .set_database_name(spec.database_name.clone())
            .set_engine_version(spec.engine_version.clone()),
        spec
    ))
}

/// RestoreDBClusterToPointInTime's request.
#[inline(never)]
fn point_in_time_request(
    cx: &SyncCx<'_>,
    spec: &DBClusterSpec,
    id: &str,
) -> Result<
    aws_sdk_rds::operation::restore_db_cluster_to_point_in_time::builders::RestoreDBClusterToPointInTimeFluentBuilder,
    SyncError,
>{
    let restore_to_time = spec
        .restore_to_time
        .as_deref()
        .map(|t| {
            aws_sdk_rds::primitives::DateTime::from_str(
                t,
                aws_sdk_rds::primitives::DateTimeFormat::DateTime,
            )
            .map_err(|_| {
                SyncError::Terminal(format!(
                    "spec.restoreToTime={t:?} is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)"
                ))
            })
        })
        .transpose()?;
    Ok(cluster_setters!(
        cx.aws
            .rds
            .restore_db_cluster_to_point_in_time()
            .db_cluster_identifier(id)
            .set_source_db_cluster_identifier(spec.source_db_cluster_identifier.clone())
            .set_restore_to_time(restore_to_time)
            .set_restore_type(spec.restore_type.clone())
            .set_use_latest_restorable_time(spec.use_latest_restorable_time),
        spec
    ))
}

fn sdk_scaling(
    c: Option<&ScalingConfiguration>,
) -> Result<Option<aws_sdk_rds::types::ScalingConfiguration>, SyncError> {
    let Some(c) = c else { return Ok(None) };
    Ok(Some(
        aws_sdk_rds::types::ScalingConfiguration::builder()
            .set_auto_pause(c.auto_pause)
            .set_max_capacity(i32_of("scalingConfiguration.maxCapacity", c.max_capacity)?)
            .set_min_capacity(i32_of("scalingConfiguration.minCapacity", c.min_capacity)?)
            .set_seconds_before_timeout(i32_of(
                "scalingConfiguration.secondsBeforeTimeout",
                c.seconds_before_timeout,
            )?)
            .set_seconds_until_auto_pause(i32_of(
                "scalingConfiguration.secondsUntilAutoPause",
                c.seconds_until_auto_pause,
            )?)
            .set_timeout_action(c.timeout_action.clone())
            .build(),
    ))
}

fn sdk_v2(
    c: Option<&ServerlessV2ScalingConfiguration>,
) -> Result<Option<aws_sdk_rds::types::ServerlessV2ScalingConfiguration>, SyncError> {
    let Some(c) = c else { return Ok(None) };
    Ok(Some(
        aws_sdk_rds::types::ServerlessV2ScalingConfiguration::builder()
            .set_max_capacity(c.max_capacity)
            .set_min_capacity(c.min_capacity)
            .set_seconds_until_auto_pause(i32_of(
                "serverlessV2ScalingConfiguration.secondsUntilAutoPause",
                c.seconds_until_auto_pause,
            )?)
            .build(),
    ))
}

/// ModifyDBCluster's request: the changed fields, applied at once, a major version upgrade
/// allowed (as ACK sends it).
#[inline(never)]
fn modify_request(
    rds: &aws_sdk_rds::Client,
    id: &str,
    m: &ClusterModification,
    password: Option<String>,
) -> Result<
    aws_sdk_rds::operation::modify_db_cluster::builders::ModifyDBClusterFluentBuilder,
    SyncError,
> {
    let logs = (!m.enable_log_types.is_empty() || !m.disable_log_types.is_empty()).then(|| {
        aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
            .set_enable_log_types(list(m.enable_log_types.clone()))
            .set_disable_log_types(list(m.disable_log_types.clone()))
            .build()
    });
    Ok(rds
        .modify_db_cluster()
        .db_cluster_identifier(id)
        .apply_immediately(true)
        .set_allow_major_version_upgrade(m.engine_version.as_ref().map(|_| true))
        .set_allocated_storage(i32_of("allocatedStorage", m.allocated_storage)?)
        .set_auto_minor_version_upgrade(m.auto_minor_version_upgrade)
        .set_backtrack_window(m.backtrack_window)
        .set_backup_retention_period(i32_of("backupRetentionPeriod", m.backup_retention_period)?)
        .set_cloudwatch_logs_export_configuration(logs)
        .set_copy_tags_to_snapshot(m.copy_tags_to_snapshot)
        .set_database_insights_mode(m.database_insights_mode.as_deref().map(Into::into))
        .set_db_cluster_instance_class(m.db_cluster_instance_class.clone())
        .set_db_cluster_parameter_group_name(m.db_cluster_parameter_group_name.clone())
        .set_deletion_protection(m.deletion_protection)
        .set_domain(m.domain.clone())
        .set_domain_iam_role_name(m.domain_iam_role_name.clone())
        .set_enable_global_write_forwarding(m.enable_global_write_forwarding)
        .set_enable_http_endpoint(m.enable_http_endpoint)
        .set_enable_iam_database_authentication(m.enable_iam_database_authentication)
        .set_enable_performance_insights(m.enable_performance_insights)
        .set_engine_version(m.engine_version.clone())
        .set_iops(i32_of("iops", m.iops)?)
        .set_manage_master_user_password(m.manage_master_user_password)
        .set_master_user_password(password)
        .set_master_user_secret_kms_key_id(m.master_user_secret_kms_key_id.clone())
        .set_monitoring_interval(i32_of("monitoringInterval", m.monitoring_interval)?)
        .set_monitoring_role_arn(m.monitoring_role_arn.clone())
        .set_network_type(m.network_type.clone())
        .set_option_group_name(m.option_group_name.clone())
        .set_performance_insights_kms_key_id(m.performance_insights_kms_key_id.clone())
        .set_performance_insights_retention_period(i32_of(
            "performanceInsightsRetentionPeriod",
            m.performance_insights_retention_period,
        )?)
        .set_port(i32_of("port", m.port)?)
        .set_preferred_backup_window(m.preferred_backup_window.clone())
        .set_preferred_maintenance_window(m.preferred_maintenance_window.clone())
        .set_scaling_configuration(sdk_scaling(m.scaling_configuration.as_ref())?)
        .set_serverless_v2_scaling_configuration(sdk_v2(
            m.serverless_v2_scaling_configuration.as_ref(),
        )?)
        .set_storage_type(m.storage_type.clone())
        .set_vpc_security_group_ids(m.vpc_security_group_ids.clone()))
}

async fn modify(
    rds: &aws_sdk_rds::Client,
    id: &str,
    m: &ClusterModification,
    password: Option<String>,
) -> Result<(), SyncError> {
    modify_request(rds, id, m, password)?
        .send()
        .await
        .map_err(|e| SyncError::aws("ModifyDBCluster", AwsError::from_sdk(e)))?;
    Ok(())
}

fn waiting(msg: String, observed: &ObservedCluster) -> Synced {
    Synced {
        waiting: Some(msg),
        arn: observed.arn.clone(),
        status: status_value(observed),
        ..Default::default()
    }
}

impl AckKind for DBCluster {
    const FINALIZER: &'static str = "finalizers.rds.services.k8s.aws/DBCluster";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] =
        &["DBClusterAlreadyExistsFault", "DBClusterAlreadyExists"];
    const ADOPTION_KEY: &'static str = "dbClusterIdentifier";
    const OWN_ANNOTATIONS: &'static [&'static str] = &[LAST_APPLIED_SECRET_REFERENCE];
    type Observed = ObservedCluster;

    fn identifier(&self) -> String {
        self.spec.db_cluster_identifier.clone()
    }

    fn has_references(&self) -> bool {
        let spec = &self.spec;
        spec.db_subnet_group_ref.is_some()
            || spec.db_cluster_parameter_group_ref.is_some()
            || spec
                .vpc_security_group_refs
                .as_ref()
                .is_some_and(|r| !r.is_empty())
            || spec.kms_key_ref.is_some()
            || spec.master_user_secret_kms_key_ref.is_some()
            || spec.monitoring_role_ref.is_some()
            || spec.performance_insights_kms_key_ref.is_some()
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        if let Some(sg_refs) = self
            .spec
            .vpc_security_group_refs
            .as_ref()
            .filter(|r| !r.is_empty())
        {
            if self
                .spec
                .vpc_security_group_ids
                .as_ref()
                .is_some_and(|v| !v.is_empty())
            {
                return Err(SyncError::Terminal(
                    "spec.vpcSecurityGroupIDs and spec.vpcSecurityGroupRefs are both set: keep only one".into(),
                ));
            }
            let mut ids = Vec::new();
            for r in sg_refs {
                ids.push(
                    refs::resolve(cx, "spec.vpcSecurityGroupRefs", r, SECURITY_GROUP_REF).await?,
                );
            }
            out.spec.vpc_security_group_ids = Some(ids);
        }
        type Slot = fn(&mut DBClusterSpec) -> &mut Option<String>;
        let single: [(_, _, _, _, Slot); 6] = [
            (
                &self.spec.db_subnet_group_ref,
                "dbSubnetGroupRef",
                "dbSubnetGroupName",
                SUBNET_GROUP_REF,
                |s| &mut s.db_subnet_group_name,
            ),
            (
                &self.spec.db_cluster_parameter_group_ref,
                "dbClusterParameterGroupRef",
                "dbClusterParameterGroupName",
                CLUSTER_PARAMETER_GROUP_REF,
                |s| &mut s.db_cluster_parameter_group_name,
            ),
            (
                &self.spec.kms_key_ref,
                "kmsKeyRef",
                "kmsKeyID",
                KMS_KEY_REF,
                |s| &mut s.kms_key_id,
            ),
            (
                &self.spec.master_user_secret_kms_key_ref,
                "masterUserSecretKMSKeyRef",
                "masterUserSecretKMSKeyID",
                KMS_KEY_REF,
                |s| &mut s.master_user_secret_kms_key_id,
            ),
            (
                &self.spec.monitoring_role_ref,
                "monitoringRoleRef",
                "monitoringRoleARN",
                ROLE_REF,
                |s| &mut s.monitoring_role_arn,
            ),
            (
                &self.spec.performance_insights_kms_key_ref,
                "performanceInsightsKMSKeyRef",
                "performanceInsightsKMSKeyID",
                KMS_KEY_REF,
                |s| &mut s.performance_insights_kms_key_id,
            ),
        ];
        for (reference, ref_field, field, target, slot) in single {
            let Some(r) = reference else { continue };
            if slot(&mut out.spec).is_some() {
                return Err(SyncError::Terminal(format!(
                    "spec.{field} and spec.{ref_field} are both set: keep only one"
                )));
            }
            let value = refs::resolve(cx, &format!("spec.{ref_field}"), r, target).await?;
            *slot(&mut out.spec) = Some(value);
        }
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedCluster>, SyncError> {
        describe(&cx.aws.rds, id).await
    }

    async fn precheck_create(&self, cx: &SyncCx<'_>) -> Result<(), SyncError> {
        origin(&self.spec).map_err(SyncError::Terminal)?;
        secret_password(cx, self.spec.master_user_password.as_ref(), "DBCluster")
            .await
            .map(|_| ())
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        let spec = &self.spec;
        let pw = secret_password(cx, spec.master_user_password.as_ref(), "DBCluster").await?;
        let mut annotations = BTreeMap::new();
        if let Some((_, key)) = &pw {
            annotations.insert(LAST_APPLIED_SECRET_REFERENCE.to_owned(), key.clone());
        }
        let origin = origin(spec).map_err(SyncError::Terminal)?;
        let op = match origin {
            Origin::Empty => {
                let req = create_request(cx, spec, id, pw.map(|(p, _)| p))?;
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(AwsError::from_sdk)
                    .map_err(|e| SyncError::aws("CreateDBCluster", e))?;
                "CreateDBCluster"
            }
            Origin::Snapshot => {
                let req = snapshot_request(cx, spec, id)?;
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(AwsError::from_sdk)
                    .map_err(|e| SyncError::aws("RestoreDBClusterFromSnapshot", e))?;
                "RestoreDBClusterFromSnapshot"
            }
            Origin::PointInTime => {
                let req = point_in_time_request(cx, spec, id)?;
                req.send()
                    .await
                    .map(|_| ())
                    .map_err(AwsError::from_sdk)
                    .map_err(|e| SyncError::aws("RestoreDBClusterToPointInTime", e))?;
                "RestoreDBClusterToPointInTime"
            }
        };
        tracing::info!(id, op, "DB cluster created");
        Ok(Created {
            annotations,
            status: json!({}),
            ..Default::default()
        })
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedCluster,
    ) -> Result<Synced, SyncError> {
        origin(&self.spec).map_err(SyncError::Terminal)?;
        match cluster_gate(observed.status.status.as_deref()) {
            ClusterGate::Modifiable => {}
            ClusterGate::Wait(msg) => return Ok(waiting(msg, &observed)),
            ClusterGate::Terminal(msg) => return Err(SyncError::Terminal(msg)),
        }
        let delta = cluster_delta(&self.spec, &observed.latest);
        let mut annotations = BTreeMap::new();
        let password = match &self.spec.master_user_password {
            Some(r)
                if cx.annotations.get(LAST_APPLIED_SECRET_REFERENCE)
                    != Some(&secret_reference_key(&cx.namespace, r)) =>
            {
                let pw = secret_password(cx, Some(r), "DBCluster").await?;
                pw.map(|(value, key)| {
                    annotations.insert(LAST_APPLIED_SECRET_REFERENCE.to_owned(), key);
                    value
                })
            }
            _ => None,
        };
        let mut updated = Vec::new();
        if let (Some(arn), Some(tags)) = (&observed.arn, &self.spec.tags) {
            let td = tag_delta(tags, observed.latest.tags.as_deref().unwrap_or_default());
            if !td.is_empty() {
                crate::rds::apply_tags(&cx.aws.rds, arn, &td).await?;
                updated.push("tags".to_owned());
            }
        }
        let mut latest = observed;
        if !delta.is_empty() || password.is_some() {
            tracing::info!(id, delta = %serde_json::to_string(&delta).unwrap_or_default(), "modifying DB cluster");
            modify(&cx.aws.rds, id, &delta, password).await?;
            updated.push("ModifyDBCluster".to_owned());
            latest = describe(&cx.aws.rds, id).await?.ok_or_else(|| {
                SyncError::Waiting(format!("DB cluster {id} vanished after ModifyDBCluster"))
            })?;
            let status = latest.status.status.as_deref();
            if status != Some("available") || !cluster_delta(&self.spec, &latest.latest).is_empty()
            {
                let mut w = waiting(
                    format!(
                        "DB cluster modified; waiting for it to be available with the changes (now '{}')",
                        status.unwrap_or("")
                    ),
                    &latest,
                );
                w.annotations = annotations;
                w.updated = updated;
                return Ok(w);
            }
        }
        Ok(Synced {
            updated,
            arn: latest.arn.clone(),
            status: status_value(&latest),
            spec_patch: late_initialize(&self.spec, &latest.latest),
            annotations,
            late_initialized: Some(true),
            ..Default::default()
        })
    }

    fn adopted_spec(_id: &str, observed: &ObservedCluster) -> Value {
        adopted_spec(&observed.latest)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedCluster,
    ) -> Result<Deleted, SyncError> {
        if observed.status.status.as_deref() == Some("deleting") {
            return Ok(Deleted::Pending(
                "DB cluster is currently being deleted".into(),
            ));
        }
        let opts = delete_options(&cx.annotations).map_err(SyncError::Terminal)?;
        if observed.latest.deletion_protection == Some(true)
            && self.spec.deletion_protection == Some(false)
        {
            let lift = ClusterModification {
                deletion_protection: Some(false),
                ..Default::default()
            };
            modify(&cx.aws.rds, id, &lift, None).await?;
            tracing::info!(id, "deletion protection lifted before delete");
        }
        let res = cx
            .aws
            .rds
            .delete_db_cluster()
            .db_cluster_identifier(id)
            .skip_final_snapshot(opts.skip_final_snapshot)
            .set_final_db_snapshot_identifier(opts.final_snapshot_identifier)
            .set_delete_automated_backups(opts.delete_automated_backups)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        SyncError::unless_not_found("DeleteDBCluster", res, NOT_FOUND_CODES)?;
        Ok(Deleted::Done)
    }
}

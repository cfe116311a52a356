//! How a `DBInstance` comes to exist: CreateDBInstance, or, as ACK, a restore from a snapshot
//! (`dbSnapshotIdentifier`, `dbClusterSnapshotIdentifier`) or a read replica
//! (`sourceDBInstanceIdentifier`). What a restore or a replica cannot take at creation
//! (backups, maintenance window, password...) the update right after sets with
//! ModifyDBInstance.
//!
//! Each request is built by a plain function (`#[inline(never)]`) and only sent in the async
//! one: in a debug build every chained setter of these large inputs keeps its own stack slot,
//! and inside the async state machine those slots would sit under the send future's whole
//! poll chain. (This alone did not end the e2e tests' stack overflow; boxing the futures in
//! the ACK runtime did, see `ack/runtime.rs`.)

use aws_sdk_rds::types::{DatabaseInsightsMode, ReplicaMode};

use super::DBInstanceSpec;
use super::io::{i32_of, sdk_processor_features};
use crate::ack::error::AwsError;
use crate::ack::runtime::{SyncCx, SyncError};

/// Which call a spec creates its instance with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// CreateDBInstance.
    Empty,
    /// RestoreDBInstanceFromDBSnapshot.
    Snapshot,
    /// CreateDBInstanceReadReplica.
    ReadReplica,
}

/// The creation call of `spec`; a spec naming both a snapshot and a source instance, or
/// asking a replica for its own master password, is terminal with the fields to change.
pub(super) fn origin(spec: &DBInstanceSpec) -> Result<Origin, String> {
    let snapshot =
        spec.db_snapshot_identifier.is_some() || spec.db_cluster_snapshot_identifier.is_some();
    let replica = spec.source_db_instance_identifier.is_some();
    if spec.master_user_password.is_some() && spec.manage_master_user_password == Some(true) {
        return Err(
            "spec.masterUserPassword and spec.manageMasterUserPassword=true are both set: \
                    keep the Secret reference or let RDS manage the password, not both"
                .into(),
        );
    }
    match (snapshot, replica) {
        (true, true) => Err("spec.sourceDBInstanceIdentifier and a snapshot identifier \
                             (spec.dbSnapshotIdentifier / spec.dbClusterSnapshotIdentifier) are \
                             both set: an instance is a restore or a read replica, not both"
            .into()),
        (false, true)
            if spec.master_user_password.is_some()
                || spec.manage_master_user_password == Some(true) =>
        {
            Err(
                "spec.sourceDBInstanceIdentifier: a read replica has its source's master user \
                 and password; remove spec.masterUserPassword / spec.manageMasterUserPassword"
                    .into(),
            )
        }
        (false, true) => Ok(Origin::ReadReplica),
        (true, false) => Ok(Origin::Snapshot),
        (false, false) => Ok(Origin::Empty),
    }
}

/// Sends the creation call; returns the operation's name.
pub(super) async fn send(
    cx: &SyncCx<'_>,
    spec: &DBInstanceSpec,
    id: &str,
    password: Option<String>,
) -> Result<&'static str, SyncError> {
    let origin = origin(spec).map_err(SyncError::Terminal)?;
    let op = match origin {
        Origin::Empty => "CreateDBInstance",
        Origin::Snapshot => "RestoreDBInstanceFromDBSnapshot",
        Origin::ReadReplica => "CreateDBInstanceReadReplica",
    };
    let sent = match origin {
        Origin::Empty => {
            let req = empty(cx, spec, id, password)?;
            req.send().await.map(|_| ()).map_err(AwsError::from_sdk)
        }
        Origin::Snapshot => {
            let req = snapshot(cx, spec, id)?;
            req.send().await.map(|_| ()).map_err(AwsError::from_sdk)
        }
        Origin::ReadReplica => {
            let req = replica(cx, spec, id)?;
            req.send().await.map(|_| ()).map_err(AwsError::from_sdk)
        }
    };
    sent.map_err(|e| SyncError::aws(op, e))?;
    Ok(op)
}

fn insights_mode(spec: &DBInstanceSpec) -> Option<DatabaseInsightsMode> {
    spec.database_insights_mode
        .as_deref()
        .map(DatabaseInsightsMode::from)
}

/// The setters the three creation calls share: the same spec fields under the same names.
macro_rules! shared_setters {
    ($request:expr, $spec:expr) => {{
        let spec: &DBInstanceSpec = $spec;
        $request
            .set_allocated_storage(i32_of("allocatedStorage", spec.allocated_storage)?)
            .set_storage_type(spec.storage_type.clone())
            .set_iops(i32_of("iops", spec.iops)?)
            .set_storage_throughput(i32_of("storageThroughput", spec.storage_throughput)?)
            .set_port(i32_of("port", spec.port)?)
            .set_multi_az(spec.multi_az)
            .set_availability_zone(spec.availability_zone.clone())
            .set_publicly_accessible(spec.publicly_accessible)
            .set_db_subnet_group_name(spec.db_subnet_group_name.clone())
            .set_vpc_security_group_ids(spec.vpc_security_group_ids.clone())
            .set_db_parameter_group_name(spec.db_parameter_group_name.clone())
            .set_option_group_name(spec.option_group_name.clone())
            .set_deletion_protection(spec.deletion_protection)
            .set_copy_tags_to_snapshot(spec.copy_tags_to_snapshot)
            .set_auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
            .set_enable_iam_database_authentication(spec.enable_iam_database_authentication)
            .set_ca_certificate_identifier(spec.ca_certificate_identifier.clone())
            .set_tags(spec.tags.as_deref().map(crate::rds::sdk_tags))
            .set_backup_target(spec.backup_target.clone())
            .set_custom_iam_instance_profile(spec.custom_iam_instance_profile.clone())
            .set_domain(spec.domain.clone())
            .set_domain_iam_role_name(spec.domain_iam_role_name.clone())
            .set_enable_cloudwatch_logs_exports(spec.enable_cloudwatch_logs_exports.clone())
            .set_enable_customer_owned_ip(spec.enable_customer_owned_ip)
            .set_network_type(spec.network_type.clone())
            .set_processor_features(sdk_processor_features(spec.processor_features.as_deref()))
    }};
}

/// CreateDBInstance's request.
#[inline(never)]
fn empty(
    cx: &SyncCx<'_>,
    spec: &DBInstanceSpec,
    id: &str,
    password: Option<String>,
) -> Result<
    aws_sdk_rds::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder,
    SyncError,
> {
    Ok(shared_setters!(
        cx.aws
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class(&spec.db_instance_class)
            .engine(&spec.engine)
            .set_engine_version(spec.engine_version.clone())
            .set_max_allocated_storage(i32_of("maxAllocatedStorage", spec.max_allocated_storage)?)
            .set_storage_encrypted(spec.storage_encrypted)
            .set_kms_key_id(spec.kms_key_id.clone())
            .set_db_name(spec.db_name.clone())
            .set_master_username(spec.master_username.clone())
            .set_master_user_password(password)
            .set_manage_master_user_password(spec.manage_master_user_password)
            .set_master_user_secret_kms_key_id(spec.master_user_secret_kms_key_id.clone())
            .set_backup_retention_period(i32_of(
                "backupRetentionPeriod",
                spec.backup_retention_period,
            )?)
            .set_preferred_backup_window(spec.preferred_backup_window.clone())
            .set_preferred_maintenance_window(spec.preferred_maintenance_window.clone())
            .set_character_set_name(spec.character_set_name.clone())
            .set_nchar_character_set_name(spec.nchar_character_set_name.clone())
            .set_timezone(spec.timezone.clone())
            .set_db_cluster_identifier(spec.db_cluster_identifier.clone())
            .set_license_model(spec.license_model.clone())
            .set_monitoring_interval(i32_of("monitoringInterval", spec.monitoring_interval)?)
            .set_monitoring_role_arn(spec.monitoring_role_arn.clone())
            .set_enable_performance_insights(spec.performance_insights_enabled)
            .set_performance_insights_kms_key_id(spec.performance_insights_kms_key_id.clone())
            .set_performance_insights_retention_period(i32_of(
                "performanceInsightsRetentionPeriod",
                spec.performance_insights_retention_period,
            )?)
            .set_database_insights_mode(insights_mode(spec))
            .set_promotion_tier(i32_of("promotionTier", spec.promotion_tier)?),
        spec
    ))
}

/// RestoreDBInstanceFromDBSnapshot's request.
#[inline(never)]
fn snapshot(
    cx: &SyncCx<'_>,
    spec: &DBInstanceSpec,
    id: &str,
) -> Result<aws_sdk_rds::operation::restore_db_instance_from_db_snapshot::builders::RestoreDBInstanceFromDBSnapshotFluentBuilder, SyncError>{
    Ok(shared_setters!(
        cx.aws
            .rds
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(id)
            .set_db_snapshot_identifier(spec.db_snapshot_identifier.clone())
            .set_db_cluster_snapshot_identifier(spec.db_cluster_snapshot_identifier.clone())
            .db_instance_class(&spec.db_instance_class)
            .engine(&spec.engine)
            .set_db_name(spec.db_name.clone())
            .set_manage_master_user_password(spec.manage_master_user_password)
            .set_master_user_secret_kms_key_id(spec.master_user_secret_kms_key_id.clone())
            .set_backup_retention_period(i32_of(
                "backupRetentionPeriod",
                spec.backup_retention_period,
            )?)
            .set_preferred_backup_window(spec.preferred_backup_window.clone())
            .set_license_model(spec.license_model.clone())
            .set_use_default_processor_features(spec.use_default_processor_features),
        spec
    ))
}

/// CreateDBInstanceReadReplica's request.
#[inline(never)]
fn replica(
    cx: &SyncCx<'_>,
    spec: &DBInstanceSpec,
    id: &str,
) -> Result<aws_sdk_rds::operation::create_db_instance_read_replica::builders::CreateDBInstanceReadReplicaFluentBuilder, SyncError>{
    Ok(shared_setters!(
        cx.aws
            .rds
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .set_source_db_instance_identifier(spec.source_db_instance_identifier.clone())
            .db_instance_class(&spec.db_instance_class)
            .set_max_allocated_storage(i32_of("maxAllocatedStorage", spec.max_allocated_storage)?)
            .set_kms_key_id(spec.kms_key_id.clone())
            .set_monitoring_interval(i32_of("monitoringInterval", spec.monitoring_interval)?)
            .set_monitoring_role_arn(spec.monitoring_role_arn.clone())
            .set_enable_performance_insights(spec.performance_insights_enabled)
            .set_performance_insights_kms_key_id(spec.performance_insights_kms_key_id.clone())
            .set_performance_insights_retention_period(i32_of(
                "performanceInsightsRetentionPeriod",
                spec.performance_insights_retention_period,
            )?)
            .set_database_insights_mode(insights_mode(spec))
            .set_use_default_processor_features(spec.use_default_processor_features)
            .set_replica_mode(spec.replica_mode.as_deref().map(ReplicaMode::from)),
        spec
    ))
}

//! The `DBInstance` status types beside the core ones (ACK's names), and how
//! DescribeDBInstances fills them in.

use aws_sdk_rds::types::DbInstance as SdkInstance;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DBInstanceStatus, Endpoint, ProcessorFeature};

/// One associated IAM role.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBInstanceRole {
    /// The feature the role is for (`s3Import`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_name: Option<String>,
    /// The role.
    #[serde(default, rename = "roleARN", skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `ACTIVE`, `PENDING`, `INVALID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `status.certificateDetails`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDetails {
    /// The CA.
    #[serde(
        default,
        rename = "cAIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub ca_identifier: Option<String>,
    /// When the server certificate expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_till: Option<String>,
}

/// One automated backup replication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBInstanceAutomatedBackupsReplication {
    /// The replicated backups' ARN.
    #[serde(
        default,
        rename = "dbInstanceAutomatedBackupsARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_instance_automated_backups_arn: Option<String>,
}

/// One parameter group and its apply status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBParameterGroupStatus {
    /// The group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_parameter_group_name: Option<String>,
    /// `in-sync`, `pending-reboot`, `applying`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_apply_status: Option<String>,
}

/// One Active Directory membership.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainMembership {
    /// Directory id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Fully qualified domain name.
    #[serde(default, rename = "fQDN", skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The Directory Service role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_name: Option<String>,
    /// `joined`, `pending-join`, `failed`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `status.masterUserSecret`: where RDS keeps a managed master password.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MasterUserSecret {
    /// Its KMS key.
    #[serde(default, rename = "kmsKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// The secret's ARN (the password itself stays in Secrets Manager).
    #[serde(default, rename = "secretARN", skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// `creating`, `active`, `rotating`, `impaired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_status: Option<String>,
}

/// One option group membership.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionGroupMembership {
    /// The option group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    /// `in-sync`, `pending-apply`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// One status info (the replication state of a read replica).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBInstanceStatusInfo {
    /// Why it is in error, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// False in an error state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal: Option<bool>,
    /// `replicating`, `error`, `stopped`, `terminated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `read replication`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_type: Option<String>,
}

/// `pendingModifiedValues.pendingCloudwatchLogsExports`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingCloudwatchLogsExports {
    /// Log types about to stop being exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_types_to_disable: Option<Vec<String>>,
    /// Log types about to be exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_types_to_enable: Option<Vec<String>>,
}

fn s(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

fn list<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn strings(v: &[String]) -> Option<Vec<String>> {
    list(v.to_vec())
}

pub(crate) fn time(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| {
        t.fmt(aws_sdk_rds::primitives::DateTimeFormat::DateTime)
            .ok()
    })
}

/// The processor features RDS reports, in spec shape.
pub(super) fn processor_features(
    v: &[aws_sdk_rds::types::ProcessorFeature],
) -> Option<Vec<ProcessorFeature>> {
    list(
        v.iter()
            .map(|f| ProcessorFeature {
                name: s(f.name()),
                value: s(f.value()),
            })
            .collect(),
    )
}

/// Fills in the status fields beside the core ones.
pub(super) fn fill(status: &mut DBInstanceStatus, i: &SdkInstance) {
    status.activity_stream_engine_native_audit_fields_included =
        i.activity_stream_engine_native_audit_fields_included();
    status.activity_stream_kms_key_id = s(i.activity_stream_kms_key_id());
    status.activity_stream_kinesis_stream_name = s(i.activity_stream_kinesis_stream_name());
    status.activity_stream_mode = i.activity_stream_mode().map(|m| m.as_str().to_owned());
    status.activity_stream_policy_status = i
        .activity_stream_policy_status()
        .map(|m| m.as_str().to_owned());
    status.activity_stream_status = i.activity_stream_status().map(|m| m.as_str().to_owned());
    status.associated_roles = list(
        i.associated_roles()
            .iter()
            .map(|r| DBInstanceRole {
                feature_name: s(r.feature_name()),
                role_arn: s(r.role_arn()),
                status: s(r.status()),
            })
            .collect(),
    );
    status.automatic_restart_time = time(i.automatic_restart_time());
    status.automation_mode = i.automation_mode().map(|m| m.as_str().to_owned());
    status.aws_backup_recovery_point_arn = s(i.aws_backup_recovery_point_arn());
    status.certificate_details = i.certificate_details().map(|c| CertificateDetails {
        ca_identifier: s(c.ca_identifier()),
        valid_till: time(c.valid_till()),
    });
    status.customer_owned_ip_enabled = i.customer_owned_ip_enabled();
    status.db_instance_automated_backups_replications = list(
        i.db_instance_automated_backups_replications()
            .iter()
            .map(|r| DBInstanceAutomatedBackupsReplication {
                db_instance_automated_backups_arn: s(r.db_instance_automated_backups_arn()),
            })
            .collect(),
    );
    status.db_instance_port = i.db_instance_port().filter(|p| *p != 0).map(i64::from);
    status.db_parameter_groups = list(
        i.db_parameter_groups()
            .iter()
            .map(|g| DBParameterGroupStatus {
                db_parameter_group_name: s(g.db_parameter_group_name()),
                parameter_apply_status: s(g.parameter_apply_status()),
            })
            .collect(),
    );
    status.db_system_id = s(i.db_system_id());
    status.domain_memberships = list(
        i.domain_memberships()
            .iter()
            .map(|d| DomainMembership {
                domain: s(d.domain()),
                fqdn: s(d.fqdn()),
                iam_role_name: s(d.iam_role_name()),
                status: s(d.status()),
            })
            .collect(),
    );
    status.enabled_cloudwatch_logs_exports = strings(i.enabled_cloudwatch_logs_exports());
    status.enhanced_monitoring_resource_arn = s(i.enhanced_monitoring_resource_arn());
    status.iam_database_authentication_enabled = i.iam_database_authentication_enabled();
    status.latest_restorable_time = time(i.latest_restorable_time());
    status.listener_endpoint = i.listener_endpoint().map(|e| Endpoint {
        address: s(e.address()),
        port: e.port().map(i64::from),
        hosted_zone_id: s(e.hosted_zone_id()),
    });
    status.master_user_secret = i.master_user_secret().map(|m| MasterUserSecret {
        kms_key_id: s(m.kms_key_id()),
        secret_arn: s(m.secret_arn()),
        secret_status: s(m.secret_status()),
    });
    status.option_group_memberships = list(
        i.option_group_memberships()
            .iter()
            .map(|o| OptionGroupMembership {
                option_group_name: s(o.option_group_name()),
                status: s(o.status()),
            })
            .collect(),
    );
    status.read_replica_db_cluster_identifiers = strings(i.read_replica_db_cluster_identifiers());
    status.read_replica_db_instance_identifiers = strings(i.read_replica_db_instance_identifiers());
    status.read_replica_source_db_cluster_identifier =
        s(i.read_replica_source_db_cluster_identifier());
    status.read_replica_source_db_instance_identifier =
        s(i.read_replica_source_db_instance_identifier());
    status.resume_full_automation_mode_time = time(i.resume_full_automation_mode_time());
    status.secondary_availability_zone = s(i.secondary_availability_zone());
    status.status_infos = list(
        i.status_infos()
            .iter()
            .map(|x| DBInstanceStatusInfo {
                message: s(x.message()),
                normal: x.normal(),
                status: s(x.status()),
                status_type: s(x.status_type()),
            })
            .collect(),
    );
}

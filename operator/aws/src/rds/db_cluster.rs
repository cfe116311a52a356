//! `rds.services.k8s.aws/v1alpha1 DBCluster` (Aurora): ACK's API, and the pure desired-vs-
//! observed logic; the RDS calls are in `io`.

use std::collections::BTreeSet;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::db_instance::status::{
    DBInstanceRole, DomainMembership, MasterUserSecret, PendingCloudwatchLogsExports,
};
use super::db_instance::{VpcSecurityGroupMembership, engine_version_matches};
use crate::ack::condition::Condition;
use crate::ack::types::{
    AckResourceMetadata, AwsResourceReferenceWrapper, SecretKeyReference, Tag,
};

mod io;

/// Spec of a DB cluster (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rds.services.k8s.aws",
    version = "v1alpha1",
    kind = "DBCluster",
    plural = "dbclusters",
    namespaced,
    status = "DBClusterStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct DBClusterSpec {
    /// Storage in GiB (Multi-AZ DB clusters only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i64>,
    /// Minor engine upgrades in the maintenance window (Multi-AZ DB clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_minor_version_upgrade: Option<bool>,
    /// Availability zones of the cluster's storage (set at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zones: Option<Vec<String>>,
    /// Backtrack window in seconds (Aurora MySQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtrack_window: Option<i64>,
    /// Days automated backups are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i64>,
    /// Character set (set at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_set_name: Option<String>,
    /// Copy the cluster's tags to its snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_tags_to_snapshot: Option<bool>,
    /// Database Insights mode (`standard`, `advanced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_insights_mode: Option<String>,
    /// Name of the database created with the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    /// The cluster's identifier (lower case in AWS).
    pub db_cluster_identifier: String,
    /// Instance class of a Multi-AZ DB cluster's instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_instance_class: Option<String>,
    /// DB cluster parameter group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_parameter_group_name: Option<String>,
    /// A `DBClusterParameterGroup` (its `spec.name`), instead of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_parameter_group_ref: Option<AwsResourceReferenceWrapper>,
    /// DB subnet group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// A `DBSubnetGroup` (its `spec.name`), instead of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_ref: Option<AwsResourceReferenceWrapper>,
    /// Oracle Database system identifier (RDS Custom).
    #[serde(
        default,
        rename = "dbSystemID",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_system_id: Option<String>,
    /// Refuse deletion while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Active Directory directory id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// IAM role for the directory service.
    #[serde(
        default,
        rename = "domainIAMRoleName",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain_iam_role_name: Option<String>,
    /// Log types exported to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_cloudwatch_logs_exports: Option<Vec<String>>,
    /// Write forwarding for a secondary cluster of a global database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_global_write_forwarding: Option<bool>,
    /// The RDS Data API.
    #[serde(
        default,
        rename = "enableHTTPEndpoint",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_http_endpoint: Option<bool>,
    /// IAM database authentication.
    #[serde(
        default,
        rename = "enableIAMDatabaseAuthentication",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_iam_database_authentication: Option<bool>,
    /// Performance Insights (Multi-AZ DB clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_performance_insights: Option<bool>,
    /// `aurora-mysql`, `aurora-postgresql`, `mysql`, `postgres`.
    pub engine: String,
    /// `provisioned`, `serverless`, `parallelquery`, `global`, `multimaster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_mode: Option<String>,
    /// Engine version; a prefix (`16`) matches the version RDS picks (`16.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Global database to join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_cluster_identifier: Option<String>,
    /// Provisioned IOPS (Multi-AZ DB clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// KMS key of the encrypted storage.
    #[serde(default, rename = "kmsKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// A KMS `Key`, instead of the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_ref: Option<AwsResourceReferenceWrapper>,
    /// RDS keeps the master password in Secrets Manager (instead of `masterUserPassword`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manage_master_user_password: Option<bool>,
    /// The Secret key holding the master password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_password: Option<SecretKeyReference>,
    /// KMS key of the Secrets Manager secret RDS manages.
    #[serde(
        default,
        rename = "masterUserSecretKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub master_user_secret_kms_key_id: Option<String>,
    /// A KMS `Key`, instead of the id.
    #[serde(
        default,
        rename = "masterUserSecretKMSKeyRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub master_user_secret_kms_key_ref: Option<AwsResourceReferenceWrapper>,
    /// Master user name (set at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_username: Option<String>,
    /// Enhanced monitoring interval in seconds (Multi-AZ DB clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_interval: Option<i64>,
    /// IAM role that sends enhanced monitoring metrics.
    #[serde(
        default,
        rename = "monitoringRoleARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub monitoring_role_arn: Option<String>,
    /// An IAM `Role` (its ARN), instead of the ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_role_ref: Option<AwsResourceReferenceWrapper>,
    /// `IPV4` or `DUAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Option group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    /// KMS key of Performance Insights data.
    #[serde(
        default,
        rename = "performanceInsightsKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_id: Option<String>,
    /// A KMS `Key`, instead of the id.
    #[serde(
        default,
        rename = "performanceInsightsKMSKeyRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_ref: Option<AwsResourceReferenceWrapper>,
    /// Days Performance Insights data is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_insights_retention_period: Option<i64>,
    /// Port the cluster listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Daily backup window, `hh24:mi-hh24:mi` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_backup_window: Option<String>,
    /// Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_maintenance_window: Option<String>,
    /// Publicly accessible (Multi-AZ DB clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// ARN of the source of a cross-region read replica cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_source_identifier: Option<String>,
    /// Point-in-time restore: the time to restore to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_to_time: Option<String>,
    /// Point-in-time restore: `full-copy` or `copy-on-write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_type: Option<String>,
    /// Capacity of an Aurora Serverless v1 cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_configuration: Option<ScalingConfiguration>,
    /// Capacity of Aurora Serverless v2 instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless_v2_scaling_configuration: Option<ServerlessV2ScalingConfiguration>,
    /// Create from this DB snapshot or DB cluster snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_identifier: Option<String>,
    /// Point-in-time restore: the cluster to restore from.
    #[serde(
        default,
        rename = "sourceDBClusterIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_db_cluster_identifier: Option<String>,
    /// Encrypted storage (set at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_encrypted: Option<bool>,
    /// `aurora`, `aurora-iopt1`, `io1`, `io2`, `gp3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Point-in-time restore to the latest restorable time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_latest_restorable_time: Option<bool>,
    /// VPC security groups.
    #[serde(
        default,
        rename = "vpcSecurityGroupIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_security_group_ids: Option<Vec<String>>,
    /// `ec2.services.k8s.aws` SecurityGroups (their `status.id`), instead of ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_refs: Option<Vec<AwsResourceReferenceWrapper>>,
}

/// Aurora Serverless v1 capacity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalingConfiguration {
    /// Pause when idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_pause: Option<bool>,
    /// Largest capacity (ACUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i64>,
    /// Smallest capacity (ACUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i64>,
    /// Time to find a scaling point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_before_timeout: Option<i64>,
    /// Idle time before pausing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_until_auto_pause: Option<i64>,
    /// `ForceApplyCapacityChange` or `RollbackCapacityChange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_action: Option<String>,
}

/// Aurora Serverless v2 capacity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerlessV2ScalingConfiguration {
    /// Largest capacity (ACUs, in steps of 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<f64>,
    /// Smallest capacity (ACUs, in steps of 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<f64>,
    /// Idle time before pausing (a minimum capacity of 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_until_auto_pause: Option<i64>,
}

/// Observed state of a DB cluster (ACK's status fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBClusterStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Database activity stream's Kinesis stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_kinesis_stream_name: Option<String>,
    /// Database activity stream's KMS key.
    #[serde(
        default,
        rename = "activityStreamKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_stream_kms_key_id: Option<String>,
    /// `sync` or `async`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_mode: Option<String>,
    /// `stopped`, `starting`, `started`, `stopping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_status: Option<String>,
    /// IAM roles associated with the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_roles: Option<Vec<DBInstanceRole>>,
    /// When a stopped cluster starts again by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_restart_time: Option<String>,
    /// Change records used by backtracking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtrack_consumed_change_records: Option<i64>,
    /// Current capacity of a Serverless v1 cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    /// Clone group.
    #[serde(
        default,
        rename = "cloneGroupID",
        skip_serializing_if = "Option::is_none"
    )]
    pub clone_group_id: Option<String>,
    /// When the cluster was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_create_time: Option<String>,
    /// A clone across accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_account_clone: Option<bool>,
    /// Custom endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_endpoints: Option<Vec<String>>,
    /// The cluster's instances (DBInstances with `dbClusterIdentifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_members: Option<Vec<DBClusterMember>>,
    /// Option group memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_option_group_memberships: Option<Vec<DBClusterOptionGroupStatus>>,
    /// The cluster parameter group in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_parameter_group: Option<String>,
    /// Region-unique, immutable id of the cluster.
    #[serde(
        default,
        rename = "dbClusterResourceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_cluster_resource_id: Option<String>,
    /// The subnet group in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group: Option<String>,
    /// Active Directory memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_memberships: Option<Vec<DomainMembership>>,
    /// Earliest time backtracking can go back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_backtrack_time: Option<String>,
    /// Earliest time a point-in-time restore can go back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_restorable_time: Option<String>,
    /// Log types exported to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_cloudwatch_logs_exports: Option<Vec<String>>,
    /// The writer endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Write forwarding was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_write_forwarding_requested: Option<bool>,
    /// Write forwarding's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_write_forwarding_status: Option<String>,
    /// Route 53 hosted zone of the endpoints.
    #[serde(
        default,
        rename = "hostedZoneID",
        skip_serializing_if = "Option::is_none"
    )]
    pub hosted_zone_id: Option<String>,
    /// The Data API is on.
    #[serde(
        default,
        rename = "httpEndpointEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_endpoint_enabled: Option<bool>,
    /// IAM database authentication is on.
    #[serde(
        default,
        rename = "iamDatabaseAuthenticationEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub iam_database_authentication_enabled: Option<bool>,
    /// Latest time a point-in-time restore can go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<String>,
    /// The Secrets Manager secret of a managed master password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_secret: Option<MasterUserSecret>,
    /// Instances in several availability zones.
    #[serde(default, rename = "multiAZ", skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Changes RDS has not applied yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_modified_values: Option<ClusterPendingModifiedValues>,
    /// Progress of an operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_progress: Option<String>,
    /// Performance Insights is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_insights_enabled: Option<bool>,
    /// Read replica clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_replica_identifiers: Option<Vec<String>>,
    /// The reader endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_endpoint: Option<String>,
    /// `available`, `creating`, `modifying`, `backing-up`, `stopped`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The tags RDS reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_list: Option<Vec<Tag>>,
    /// VPC security group memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_security_groups: Option<Vec<VpcSecurityGroupMembership>>,
}

crate::ack::runtime::impl_ack_status!(DBClusterStatus);

/// One instance of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBClusterMember {
    /// Whether the instance has the cluster parameter group's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_parameter_group_status: Option<String>,
    /// The instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_identifier: Option<String>,
    /// The writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cluster_writer: Option<bool>,
    /// Failover priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_tier: Option<i64>,
}

/// An option group membership.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBClusterOptionGroupStatus {
    /// The option group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_option_group_name: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Changes RDS has not applied yet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPendingModifiedValues {
    /// Storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i64>,
    /// Backup retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i64>,
    /// A new identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_identifier: Option<String>,
    /// Engine version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// IAM database authentication.
    #[serde(
        default,
        rename = "iamDatabaseAuthenticationEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub iam_database_authentication_enabled: Option<bool>,
    /// IOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// A master password change (RDS shows it masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_password: Option<String>,
    /// Log exports changing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_cloudwatch_logs_exports: Option<PendingCloudwatchLogsExports>,
}

/// What a cluster's state allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterGate {
    /// `available`: modifications may be sent.
    Modifiable,
    /// Busy: requeue and report `ACK.ResourceSynced=False` with this message.
    Wait(String),
    /// A state only a person can fix: `ACK.Terminal` with this message.
    Terminal(String),
}

/// Cluster states only a person can get out of.
pub const TERMINAL_STATES: &[&str] = &[
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-restore",
];

/// The state gate for updates: only an `available` cluster is modified.
pub fn cluster_gate(status: Option<&str>) -> ClusterGate {
    match status.unwrap_or("") {
        "available" => ClusterGate::Modifiable,
        "" => ClusterGate::Wait("DB cluster has no status yet".into()),
        "creating" => ClusterGate::Wait(
            "DB cluster is in 'creating' status: waiting for it to be available".into(),
        ),
        "deleting" => ClusterGate::Wait("DB cluster is currently being deleted".into()),
        s if TERMINAL_STATES.contains(&s) => {
            ClusterGate::Terminal(format!("DB cluster is in '{s}' status"))
        }
        s => ClusterGate::Wait(format!(
            "DB cluster cannot be modified while in '{s}' status"
        )),
    }
}

/// The fields one ModifyDBCluster call changes (`None` = unchanged).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterModification {
    /// Storage (Multi-AZ DB clusters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i64>,
    /// Minor version upgrades.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_minor_version_upgrade: Option<bool>,
    /// Backtrack window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backtrack_window: Option<i64>,
    /// Backup retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i64>,
    /// Copy tags to snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_tags_to_snapshot: Option<bool>,
    /// Database Insights mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_insights_mode: Option<String>,
    /// Instance class (Multi-AZ DB clusters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_cluster_instance_class: Option<String>,
    /// Cluster parameter group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_cluster_parameter_group_name: Option<String>,
    /// Deletion protection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Directory IAM role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_iam_role_name: Option<String>,
    /// Log types to start exporting.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enable_log_types: Vec<String>,
    /// Log types to stop exporting.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_log_types: Vec<String>,
    /// Write forwarding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_global_write_forwarding: Option<bool>,
    /// The Data API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_http_endpoint: Option<bool>,
    /// IAM database authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_iam_database_authentication: Option<bool>,
    /// Performance Insights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_performance_insights: Option<bool>,
    /// Engine version (a major upgrade is allowed, as ACK sends it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// IOPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// Managed master password on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_master_user_password: Option<bool>,
    /// KMS key of the managed secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_user_secret_kms_key_id: Option<String>,
    /// Enhanced monitoring interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_interval: Option<i64>,
    /// Enhanced monitoring role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_role_arn: Option<String>,
    /// Network type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Option group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    /// Performance Insights KMS key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_insights_kms_key_id: Option<String>,
    /// Performance Insights retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_insights_retention_period: Option<i64>,
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Backup window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_backup_window: Option<String>,
    /// Maintenance window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_maintenance_window: Option<String>,
    /// Serverless v1 capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling_configuration: Option<ScalingConfiguration>,
    /// Serverless v2 capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serverless_v2_scaling_configuration: Option<ServerlessV2ScalingConfiguration>,
    /// Storage type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// VPC security groups (the whole list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_ids: Option<Vec<String>>,
}

impl ClusterModification {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        *self == ClusterModification::default()
    }
}

/// `want` when the spec sets it and it differs from what RDS has.
fn changed<T: Clone + PartialEq>(want: &Option<T>, have: &Option<T>) -> Option<T> {
    want.as_ref().filter(|w| have.as_ref() != Some(*w)).cloned()
}

/// Case-insensitive (RDS lower-cases windows and group names).
fn changed_ci(want: &Option<String>, have: &Option<String>) -> Option<String> {
    want.as_ref()
        .filter(|w| {
            have.as_ref()
                .is_none_or(|h| !h.eq_ignore_ascii_case(w.as_str()))
        })
        .cloned()
}

/// `want` when one of the members it sets differs from what RDS has (members it leaves out are
/// RDS's to choose).
fn changed_members<T: Serialize + Clone>(want: &Option<T>, have: &Option<T>) -> Option<T> {
    let want = want.as_ref()?;
    let w = serde_json::to_value(want).unwrap_or_default();
    let h = have
        .as_ref()
        .and_then(|h| serde_json::to_value(h).ok())
        .unwrap_or_default();
    let differs = w
        .as_object()
        .is_none_or(|members| members.iter().any(|(k, v)| h.get(k) != Some(v)));
    differs.then(|| want.clone())
}

/// The leading digits of a version (`16` of `16.4`, `8` of `8.0.mysql_aurora.3.10.3`).
fn major(version: &str) -> &str {
    let end = version
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(version.len());
    &version[..end]
}

/// The engine version to send, as ACK decides: none when RDS has the spec's (a prefix, `16`,
/// matches `16.4`); while minor versions are upgraded automatically
/// (`autoMinorVersionUpgrade` not false) only a change of major version is sent, RDS moving
/// the minor one itself.
fn engine_version_change(desired: &DBClusterSpec, latest: &DBClusterSpec) -> Option<String> {
    let want = desired.engine_version.as_ref()?;
    let Some(have) = latest.engine_version.as_deref() else {
        return Some(want.clone());
    };
    if engine_version_matches(want, have) {
        return None;
    }
    let auto_minor = desired.auto_minor_version_upgrade != Some(false);
    (!auto_minor || major(want) != major(have)).then(|| want.clone())
}

/// Desired vs latest: what ModifyDBCluster must send. Fields the spec leaves out are not
/// managed; those RDS cannot modify (engine, master user name, database name, storage
/// encryption, zones, character set, restore and replication sources) are not compared.
pub fn cluster_delta(desired: &DBClusterSpec, latest: &DBClusterSpec) -> ClusterModification {
    let mut m = ClusterModification {
        allocated_storage: changed(&desired.allocated_storage, &latest.allocated_storage),
        auto_minor_version_upgrade: changed(
            &desired.auto_minor_version_upgrade,
            &latest.auto_minor_version_upgrade,
        ),
        backtrack_window: changed(&desired.backtrack_window, &latest.backtrack_window),
        backup_retention_period: changed(
            &desired.backup_retention_period,
            &latest.backup_retention_period,
        ),
        copy_tags_to_snapshot: changed(
            &desired.copy_tags_to_snapshot,
            &latest.copy_tags_to_snapshot,
        ),
        database_insights_mode: changed(
            &desired.database_insights_mode,
            &latest.database_insights_mode,
        ),
        db_cluster_instance_class: changed(
            &desired.db_cluster_instance_class,
            &latest.db_cluster_instance_class,
        ),
        db_cluster_parameter_group_name: changed_ci(
            &desired.db_cluster_parameter_group_name,
            &latest.db_cluster_parameter_group_name,
        ),
        deletion_protection: changed(&desired.deletion_protection, &latest.deletion_protection),
        domain: changed(&desired.domain, &latest.domain),
        domain_iam_role_name: changed(&desired.domain_iam_role_name, &latest.domain_iam_role_name),
        enable_global_write_forwarding: changed(
            &desired.enable_global_write_forwarding,
            &latest.enable_global_write_forwarding,
        ),
        enable_http_endpoint: changed(&desired.enable_http_endpoint, &latest.enable_http_endpoint),
        enable_iam_database_authentication: changed(
            &desired.enable_iam_database_authentication,
            &latest.enable_iam_database_authentication,
        ),
        enable_performance_insights: changed(
            &desired.enable_performance_insights,
            &latest.enable_performance_insights,
        ),
        engine_version: engine_version_change(desired, latest),
        iops: changed(&desired.iops, &latest.iops),
        manage_master_user_password: changed(
            &desired.manage_master_user_password,
            &latest.manage_master_user_password,
        ),
        monitoring_interval: changed(&desired.monitoring_interval, &latest.monitoring_interval),
        monitoring_role_arn: changed(&desired.monitoring_role_arn, &latest.monitoring_role_arn),
        network_type: changed(&desired.network_type, &latest.network_type),
        option_group_name: changed_ci(&desired.option_group_name, &latest.option_group_name),
        performance_insights_kms_key_id: changed(
            &desired.performance_insights_kms_key_id,
            &latest.performance_insights_kms_key_id,
        ),
        performance_insights_retention_period: changed(
            &desired.performance_insights_retention_period,
            &latest.performance_insights_retention_period,
        ),
        port: changed(&desired.port, &latest.port),
        preferred_backup_window: changed_ci(
            &desired.preferred_backup_window,
            &latest.preferred_backup_window,
        ),
        preferred_maintenance_window: changed_ci(
            &desired.preferred_maintenance_window,
            &latest.preferred_maintenance_window,
        ),
        scaling_configuration: changed_members(
            &desired.scaling_configuration,
            &latest.scaling_configuration,
        ),
        serverless_v2_scaling_configuration: changed_members(
            &desired.serverless_v2_scaling_configuration,
            &latest.serverless_v2_scaling_configuration,
        ),
        storage_type: changed(&desired.storage_type, &latest.storage_type),
        ..ClusterModification::default()
    };
    if desired.manage_master_user_password == Some(true) {
        m.master_user_secret_kms_key_id = changed(
            &desired.master_user_secret_kms_key_id,
            &latest.master_user_secret_kms_key_id,
        );
    }
    if let Some(want) = &desired.vpc_security_group_ids {
        let want_set: BTreeSet<&String> = want.iter().collect();
        let have_set: BTreeSet<&String> = latest.vpc_security_group_ids.iter().flatten().collect();
        if want_set != have_set {
            m.vpc_security_group_ids = Some(want.clone());
        }
    }
    if let Some(want) = &desired.enable_cloudwatch_logs_exports {
        let have: BTreeSet<&String> = latest
            .enable_cloudwatch_logs_exports
            .iter()
            .flatten()
            .collect();
        let want_set: BTreeSet<&String> = want.iter().collect();
        m.enable_log_types = want_set.difference(&have).map(|s| (*s).clone()).collect();
        m.disable_log_types = have.difference(&want_set).map(|s| (*s).clone()).collect();
    }
    m
}

/// Fields RDS fills in when the spec leaves them out, copied into the spec (ACK's late
/// initialization), as a merge patch.
pub const LATE_INITIALIZED: &[&str] = &[
    "availabilityZones",
    "backupRetentionPeriod",
    "dbClusterParameterGroupName",
    "engineVersion",
    "networkType",
    "port",
    "preferredBackupWindow",
    "preferredMaintenanceWindow",
    "storageEncrypted",
];

/// The late-initialization patch: each of [`LATE_INITIALIZED`] the spec leaves out and RDS
/// reports.
pub fn late_initialize(desired: &DBClusterSpec, latest: &DBClusterSpec) -> Option<Value> {
    let want = serde_json::to_value(desired).unwrap_or_default();
    let have = serde_json::to_value(latest).unwrap_or_default();
    let mut patch = serde_json::Map::new();
    for field in LATE_INITIALIZED {
        if want.get(*field).is_none_or(Value::is_null)
            && let Some(value) = have.get(*field).filter(|v| !v.is_null())
        {
            patch.insert((*field).to_owned(), value.clone());
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// The spec of an adopted cluster: AWS's state.
pub fn adopted_spec(latest: &DBClusterSpec) -> Value {
    let mut spec = serde_json::to_value(latest).unwrap_or_else(|_| json!({}));
    if let Some(map) = spec.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    spec
}

#[cfg(test)]
mod tests;

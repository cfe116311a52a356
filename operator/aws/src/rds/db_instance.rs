//! `rds.services.k8s.aws/v1alpha1 DBInstance`: ACK's API, the pure desired-vs-observed logic
//! (state gate, modification delta, late initialization, delete options), and the RDS calls.

use std::collections::{BTreeMap, BTreeSet};

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ack::condition::Condition;
use crate::ack::types::{
    AckResourceMetadata, AwsResourceReferenceWrapper, SecretKeyReference, Tag,
};

mod create;
pub(crate) mod io;
pub mod status;

/// Spec of a DB instance (ACK field names; the fields a typical application database needs).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rds.services.k8s.aws",
    version = "v1alpha1",
    kind = "DBInstance",
    plural = "dbinstances",
    namespaced,
    status = "DBInstanceStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct DBInstanceSpec {
    /// The instance identifier (primary key).
    pub db_instance_identifier: String,
    /// Compute class, e.g. `db.t3.micro`.
    pub db_instance_class: String,
    /// Engine: `postgres`, `mysql`, `mariadb`, ...
    pub engine: String,
    /// Engine version; `"16"` matches any `16.x` AWS reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Storage in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i64>,
    /// Storage autoscaling limit in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allocated_storage: Option<i64>,
    /// `gp2`, `gp3`, `io1`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Provisioned IOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// Encrypt storage (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_encrypted: Option<bool>,
    /// KMS key for storage encryption (create-only).
    #[serde(default, rename = "kmsKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Initial database name (create-only).
    #[serde(default, rename = "dbName", skip_serializing_if = "Option::is_none")]
    pub db_name: Option<String>,
    /// Master user name (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_username: Option<String>,
    /// Master password, read from a Secret key; changing the reference rotates the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_password: Option<SecretKeyReference>,
    /// Database port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Multi-AZ deployment.
    #[serde(default, rename = "multiAZ", skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Availability zone. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Give the instance a public address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// DB subnet group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// Reference to a `DBSubnetGroup` (its `spec.name`), instead of the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_ref: Option<AwsResourceReferenceWrapper>,
    /// VPC security group ids.
    #[serde(
        default,
        rename = "vpcSecurityGroupIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_security_group_ids: Option<Vec<String>>,
    /// References to `ec2.services.k8s.aws` SecurityGroups (their `status.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_security_group_refs: Option<Vec<AwsResourceReferenceWrapper>>,
    /// DB parameter group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_parameter_group_name: Option<String>,
    /// Days of automated backups (0 disables them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i64>,
    /// Daily backup window, `hh24:mi-hh24:mi` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_backup_window: Option<String>,
    /// Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_maintenance_window: Option<String>,
    /// Refuse deletion while true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Copy tags to snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_tags_to_snapshot: Option<bool>,
    /// Apply minor engine upgrades automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_minor_version_upgrade: Option<bool>,
    /// IAM database authentication.
    #[serde(
        default,
        rename = "enableIAMDatabaseAuthentication",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_iam_database_authentication: Option<bool>,
    /// CA certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_identifier: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Where automated backups are kept: `region` (default) or `outposts` (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_target: Option<String>,
    /// Character set of an Oracle or Db2 instance (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_set_name: Option<String>,
    /// Instance profile of an RDS Custom instance (create-only).
    #[serde(
        default,
        rename = "customIAMInstanceProfile",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_iam_instance_profile: Option<String>,
    /// Database Insights: `standard` or `advanced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_insights_mode: Option<String>,
    /// The Aurora cluster the instance joins (create-only); the cluster then manages storage, backups, versions and credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_identifier: Option<String>,
    /// Restore from this Multi-AZ DB cluster snapshot instead of creating an empty instance (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cluster_snapshot_identifier: Option<String>,
    /// Reference to a `DBParameterGroup` (its `spec.name`), instead of `dbParameterGroupName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_parameter_group_ref: Option<AwsResourceReferenceWrapper>,
    /// Restore from this DB snapshot instead of creating an empty instance (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_snapshot_identifier: Option<String>,
    /// Active Directory domain to join (SQL Server, Oracle, MySQL, PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// IAM role RDS uses to call Directory Service.
    #[serde(
        default,
        rename = "domainIAMRoleName",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain_iam_role_name: Option<String>,
    /// Log types exported to CloudWatch Logs (`postgresql`, `upgrade`, `error`, `slowquery`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_cloudwatch_logs_exports: Option<Vec<String>>,
    /// Customer-owned IP addresses on RDS on Outposts.
    #[serde(
        default,
        rename = "enableCustomerOwnedIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_customer_owned_ip: Option<bool>,
    /// Reference to a KMS `Key` (its ARN), instead of `kmsKeyID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_ref: Option<AwsResourceReferenceWrapper>,
    /// License model (`license-included`, `bring-your-own-license`, `postgresql-license`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_model: Option<String>,
    /// Let RDS keep the master password in Secrets Manager (instead of `masterUserPassword`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manage_master_user_password: Option<bool>,
    /// KMS key of the Secrets Manager secret of a managed master password.
    #[serde(
        default,
        rename = "masterUserSecretKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub master_user_secret_kms_key_id: Option<String>,
    /// Reference to a KMS `Key` (its ARN), instead of `masterUserSecretKMSKeyID`.
    #[serde(
        default,
        rename = "masterUserSecretKMSKeyRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub master_user_secret_kms_key_ref: Option<AwsResourceReferenceWrapper>,
    /// Enhanced monitoring interval in seconds (0 turns it off; 1, 5, 10, 15, 30, 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_interval: Option<i64>,
    /// IAM role that lets RDS send enhanced monitoring metrics to CloudWatch Logs.
    #[serde(
        default,
        rename = "monitoringRoleARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub monitoring_role_arn: Option<String>,
    /// Reference to an IAM `Role` (its ARN), instead of `monitoringRoleARN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_role_ref: Option<AwsResourceReferenceWrapper>,
    /// National character set of an Oracle instance (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nchar_character_set_name: Option<String>,
    /// `IPV4` or `DUAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Option group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    /// Performance Insights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_insights_enabled: Option<bool>,
    /// KMS key of the Performance Insights data.
    #[serde(
        default,
        rename = "performanceInsightsKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_id: Option<String>,
    /// Reference to a KMS `Key` (its ARN), instead of `performanceInsightsKMSKeyID`.
    #[serde(
        default,
        rename = "performanceInsightsKMSKeyRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_ref: Option<AwsResourceReferenceWrapper>,
    /// Days Performance Insights data is kept (7, a multiple of 31, or 731).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_insights_retention_period: Option<i64>,
    /// Processor features (`coreCount`, `threadsPerCore`) of an Oracle instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_features: Option<Vec<ProcessorFeature>>,
    /// Failover priority within an Aurora cluster (0 is highest, 15 lowest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_tier: Option<i64>,
    /// `open-read-only` or `mounted` (Oracle replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_mode: Option<String>,
    /// Create a read replica of this instance instead of an empty instance (create-only).
    #[serde(
        default,
        rename = "sourceDBInstanceIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_db_instance_identifier: Option<String>,
    /// Storage throughput in MiB/s (`gp3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_throughput: Option<i64>,
    /// Time zone of a SQL Server instance (create-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Use the instance class's default processor features (with `processorFeatures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_processor_features: Option<bool>,
}

/// One processor feature (`coreCount`, `threadsPerCore`).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ProcessorFeature {
    /// Feature name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Observed state of a DB instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBInstanceStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// `creating`, `available`, `modifying`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_status: Option<String>,
    /// Where clients connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// Region-unique, immutable id of the instance.
    #[serde(
        default,
        rename = "dbiResourceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub dbi_resource_id: Option<String>,
    /// When the instance was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_create_time: Option<String>,
    /// The subnet group the instance is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group: Option<DBSubnetGroupStatusSdk>,
    /// Security group memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_security_groups: Option<Vec<VpcSecurityGroupMembership>>,
    /// Changes RDS will apply later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_modified_values: Option<PendingModifiedValues>,
    /// Database activity stream: native audit fields included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_engine_native_audit_fields_included: Option<bool>,
    /// Database activity stream: KMS key.
    #[serde(
        default,
        rename = "activityStreamKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub activity_stream_kms_key_id: Option<String>,
    /// Database activity stream: Kinesis stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_kinesis_stream_name: Option<String>,
    /// Database activity stream: `sync` or `async`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_mode: Option<String>,
    /// Database activity stream: policy status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_policy_status: Option<String>,
    /// Database activity stream: `stopped`, `starting`, `started`, `stopping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_stream_status: Option<String>,
    /// IAM roles associated with the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_roles: Option<Vec<status::DBInstanceRole>>,
    /// When a stopped instance restarts automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_restart_time: Option<String>,
    /// RDS Custom automation mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_mode: Option<String>,
    /// AWS Backup recovery point.
    #[serde(
        default,
        rename = "awsBackupRecoveryPointARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub aws_backup_recovery_point_arn: Option<String>,
    /// The server certificate's CA and expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_details: Option<status::CertificateDetails>,
    /// Customer-owned IP addresses (Outposts).
    #[serde(
        default,
        rename = "customerOwnedIPEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_owned_ip_enabled: Option<bool>,
    /// Automated backup replications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_automated_backups_replications:
        Option<Vec<status::DBInstanceAutomatedBackupsReplication>>,
    /// Port the instance listens on (SQL Server, Oracle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_port: Option<i64>,
    /// Parameter groups and whether their changes are applied (`in-sync`, `pending-reboot`, `applying`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_parameter_groups: Option<Vec<status::DBParameterGroupStatus>>,
    /// Oracle system id.
    #[serde(
        default,
        rename = "dbSystemID",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_system_id: Option<String>,
    /// Active Directory memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_memberships: Option<Vec<status::DomainMembership>>,
    /// Log types exported to CloudWatch Logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_cloudwatch_logs_exports: Option<Vec<String>>,
    /// The CloudWatch Logs stream of enhanced monitoring.
    #[serde(
        default,
        rename = "enhancedMonitoringResourceARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub enhanced_monitoring_resource_arn: Option<String>,
    /// IAM database authentication.
    #[serde(
        default,
        rename = "iamDatabaseAuthenticationEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub iam_database_authentication_enabled: Option<bool>,
    /// Latest point-in-time restore time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<String>,
    /// Listener endpoint (SQL Server Multi-AZ with mirroring/Always On).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_endpoint: Option<Endpoint>,
    /// The Secrets Manager secret of a managed master password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_secret: Option<status::MasterUserSecret>,
    /// Option group memberships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_group_memberships: Option<Vec<status::OptionGroupMembership>>,
    /// Aurora clusters replicating from this instance.
    #[serde(
        default,
        rename = "readReplicaDBClusterIdentifiers",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_replica_db_cluster_identifiers: Option<Vec<String>>,
    /// Read replicas of this instance.
    #[serde(
        default,
        rename = "readReplicaDBInstanceIdentifiers",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_replica_db_instance_identifiers: Option<Vec<String>>,
    /// The cluster this replica replicates.
    #[serde(
        default,
        rename = "readReplicaSourceDBClusterIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_replica_source_db_cluster_identifier: Option<String>,
    /// The instance this replica replicates.
    #[serde(
        default,
        rename = "readReplicaSourceDBInstanceIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_replica_source_db_instance_identifier: Option<String>,
    /// When full automation resumes (RDS Custom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_full_automation_mode_time: Option<String>,
    /// The standby's zone of a Multi-AZ instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_availability_zone: Option<String>,
    /// Replication status of a read replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_infos: Option<Vec<status::DBInstanceStatusInfo>>,
}

crate::ack::runtime::impl_ack_status!(DBInstanceStatus);

/// `status.endpoint`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Route 53 hosted zone.
    #[serde(
        default,
        rename = "hostedZoneID",
        skip_serializing_if = "Option::is_none"
    )]
    pub hosted_zone_id: Option<String>,
}

/// `status.dbSubnetGroup`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBSubnetGroupStatusSdk {
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// Group status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_group_status: Option<String>,
    /// VPC.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The group's ARN.
    #[serde(
        default,
        rename = "dbSubnetGroupARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub db_subnet_group_arn: Option<String>,
    /// The group's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_description: Option<String>,
    /// Its subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<crate::rds::db_subnet_group::Subnet>>,
    /// `IPV4`, `DUAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_network_types: Option<Vec<String>>,
}

/// One security group membership.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcSecurityGroupMembership {
    /// Membership status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Security group id.
    #[serde(
        default,
        rename = "vpcSecurityGroupID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_security_group_id: Option<String>,
}

/// `status.pendingModifiedValues` (the fields this controller manages).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingModifiedValues {
    /// Pending storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i64>,
    /// Pending backup retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i64>,
    /// Pending class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_class: Option<String>,
    /// Pending engine version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Pending IOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// Pending multi-AZ.
    #[serde(default, rename = "multiAZ", skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Pending port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Pending storage type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Pending automation mode (RDS Custom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_mode: Option<String>,
    /// Pending CA certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_identifier: Option<String>,
    /// Pending identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_instance_identifier: Option<String>,
    /// Pending subnet group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// Pending IAM database authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_database_authentication_enabled: Option<bool>,
    /// Pending license model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_model: Option<String>,
    /// `****` while a new master password is pending (never the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_user_password: Option<String>,
    /// Log exports about to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_cloudwatch_logs_exports: Option<status::PendingCloudwatchLogsExports>,
    /// Pending processor features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_features: Option<Vec<ProcessorFeature>>,
    /// When full automation resumes (RDS Custom).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_full_automation_mode_time: Option<String>,
    /// Pending storage throughput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_throughput: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Pure logic
// ---------------------------------------------------------------------------------------------

/// Password change detection: the last applied Secret reference, `ns/name.key`.
pub const LAST_APPLIED_SECRET_REFERENCE: &str =
    "rds.services.k8s.aws/last-applied-secret-reference";
/// `true` (default) or `false`.
pub const SKIP_FINAL_SNAPSHOT: &str = "rds.services.k8s.aws/skip-final-snapshot";
/// Identifier of the final snapshot (implies skip-final-snapshot=false).
pub const FINAL_DB_SNAPSHOT_IDENTIFIER: &str = "rds.services.k8s.aws/final-db-snapshot-identifier";
/// `true` or `false`.
pub const DELETE_AUTOMATED_BACKUPS: &str = "rds.services.k8s.aws/delete-automated-backups";

/// What the instance's state allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// `available`: modifications may be sent.
    Modifiable,
    /// Busy: requeue and report `ACK.ResourceSynced=False` with this message.
    Wait(String),
    /// A state only a person can fix: `ACK.Terminal` with this message.
    Terminal(String),
}

/// States after which ACK gives up on an instance.
pub const TERMINAL_STATES: &[&str] = &[
    "deleted",
    "deleting",
    "failed",
    "incompatible-network",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
];

/// ACK's state gate for updates (`storage-full` still accepts a storage-only change).
pub fn instance_gate(status: Option<&str>, storage_only_change: bool) -> Gate {
    match status.unwrap_or("") {
        "available" => Gate::Modifiable,
        "storage-full" if storage_only_change => Gate::Modifiable,
        "creating" => {
            Gate::Wait("DB instance is in 'creating' status: waiting for it to be available".into())
        }
        "deleting" => Gate::Wait("DB instance is currently being deleted".into()),
        s if TERMINAL_STATES.contains(&s) => {
            Gate::Terminal(format!("DB instance is in '{s}' status"))
        }
        "" => Gate::Wait("DB instance has no status yet".into()),
        s => Gate::Wait(format!(
            "DB instance cannot be modified while in '{s}' status"
        )),
    }
}

/// `"16"` matches `"16.4"`; otherwise versions must be equal.
pub fn engine_version_matches(desired: &str, observed: &str) -> bool {
    desired == observed
        || observed
            .strip_prefix(desired)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The fields one ModifyDBInstance call changes (`None` = unchanged).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Modification {
    /// New compute and memory class (`dbInstanceClass`, e.g. `db.t3.micro`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_instance_class: Option<String>,
    /// Engine version to upgrade to (`engineVersion`); a major upgrade needs a new parameter
    /// group family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// New storage size in GiB (`allocatedStorage`); RDS only grows storage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_storage: Option<i64>,
    /// Upper limit in GiB for storage autoscaling (`maxAllocatedStorage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_allocated_storage: Option<i64>,
    /// New storage type (`storageType`: `gp2`, `gp3`, `io1`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    /// Provisioned IOPS (`iops`) for `io1`/`io2`/`gp3` storage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops: Option<i64>,
    /// New port the database listens on (`port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Whether the instance runs as a Multi-AZ deployment (`multiAZ`).
    #[serde(rename = "multiAZ", skip_serializing_if = "Option::is_none")]
    pub multi_az: Option<bool>,
    /// Whether the instance gets a publicly resolvable address (`publiclyAccessible`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publicly_accessible: Option<bool>,
    /// DB subnet group to move the instance to (`dbSubnetGroupName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_subnet_group_name: Option<String>,
    /// VPC security groups (`vpcSecurityGroupIDs`): the whole new list, replacing the current one.
    #[serde(
        rename = "vpcSecurityGroupIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_security_group_ids: Option<Vec<String>>,
    /// DB parameter group to associate (`dbParameterGroupName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_parameter_group_name: Option<String>,
    /// Days automated backups are kept (`backupRetentionPeriod`; 0 disables them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_retention_period: Option<i64>,
    /// Daily automated backup window, `hh24:mi-hh24:mi` UTC (`preferredBackupWindow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_backup_window: Option<String>,
    /// Weekly maintenance window, `ddd:hh24:mi-ddd:hh24:mi` UTC (`preferredMaintenanceWindow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_maintenance_window: Option<String>,
    /// Whether RDS refuses to delete the instance (`deletionProtection`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Whether the instance's tags are copied to its snapshots (`copyTagsToSnapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_tags_to_snapshot: Option<bool>,
    /// Whether RDS applies minor engine upgrades in the maintenance window
    /// (`autoMinorVersionUpgrade`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_minor_version_upgrade: Option<bool>,
    /// Whether IAM accounts map to database accounts (`enableIAMDatabaseAuthentication`).
    #[serde(
        rename = "enableIAMDatabaseAuthentication",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_iam_database_authentication: Option<bool>,
    /// CA certificate the server certificate is signed by (`caCertificateIdentifier`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certificate_identifier: Option<String>,
    /// Storage throughput in MiB/s (`storageThroughput`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_throughput: Option<i64>,
    /// `IPV4` or `DUAL` (`networkType`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Option group (`optionGroupName`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_group_name: Option<String>,
    /// License model (`licenseModel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_model: Option<String>,
    /// Enhanced monitoring interval in seconds (`monitoringInterval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_interval: Option<i64>,
    /// Enhanced monitoring role (`monitoringRoleARN`).
    #[serde(rename = "monitoringRoleARN", skip_serializing_if = "Option::is_none")]
    pub monitoring_role_arn: Option<String>,
    /// Performance Insights on or off (`performanceInsightsEnabled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_insights_enabled: Option<bool>,
    /// Performance Insights KMS key (`performanceInsightsKMSKeyID`).
    #[serde(
        rename = "performanceInsightsKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub performance_insights_kms_key_id: Option<String>,
    /// Performance Insights retention in days (`performanceInsightsRetentionPeriod`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_insights_retention_period: Option<i64>,
    /// Database Insights mode (`databaseInsightsMode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_insights_mode: Option<String>,
    /// Aurora failover priority (`promotionTier`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_tier: Option<i64>,
    /// Customer-owned IPs on Outposts (`enableCustomerOwnedIP`).
    #[serde(
        rename = "enableCustomerOwnedIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_customer_owned_ip: Option<bool>,
    /// Active Directory domain (`domain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Directory Service role (`domainIAMRoleName`).
    #[serde(rename = "domainIAMRoleName", skip_serializing_if = "Option::is_none")]
    pub domain_iam_role_name: Option<String>,
    /// Oracle replica mode (`replicaMode`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_mode: Option<String>,
    /// Processor features (`processorFeatures`), the whole list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor_features: Option<Vec<ProcessorFeature>>,
    /// Use the class's default processor features (`useDefaultProcessorFeatures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_default_processor_features: Option<bool>,
    /// Log types to start exporting to CloudWatch Logs (`enableCloudwatchLogsExports` added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_log_types: Option<Vec<String>>,
    /// Log types to stop exporting (`enableCloudwatchLogsExports` removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_log_types: Option<Vec<String>>,
    /// Let RDS manage the master password in Secrets Manager (`manageMasterUserPassword`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manage_master_user_password: Option<bool>,
    /// KMS key of the managed password's secret (`masterUserSecretKMSKeyID`).
    #[serde(
        rename = "masterUserSecretKMSKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub master_user_secret_kms_key_id: Option<String>,
}

impl Modification {
    /// True when no field changes.
    pub fn is_empty(&self) -> bool {
        *self == Modification::default()
    }

    /// True when only the storage size changes (allowed in `storage-full`).
    pub fn storage_only(&self) -> bool {
        self.allocated_storage.is_some()
            && Modification {
                allocated_storage: None,
                ..self.clone()
            }
            .is_empty()
    }
}

/// `want` when the spec sets it and AWS has something else.
fn changed<T: Clone + PartialEq>(want: &Option<T>, have: &Option<T>) -> Option<T> {
    want.as_ref().filter(|w| have.as_ref() != Some(*w)).cloned()
}

/// The modification that makes `latest` (AWS's state, pending values included) match `desired`.
/// Fields absent from the spec are not managed; create-only fields are never modified.
pub fn instance_delta(desired: &DBInstanceSpec, latest: &DBInstanceSpec) -> Modification {
    let mut m = Modification {
        allocated_storage: changed(&desired.allocated_storage, &latest.allocated_storage),
        max_allocated_storage: changed(
            &desired.max_allocated_storage,
            &latest.max_allocated_storage,
        ),
        storage_type: changed(&desired.storage_type, &latest.storage_type),
        iops: changed(&desired.iops, &latest.iops),
        port: changed(&desired.port, &latest.port),
        multi_az: changed(&desired.multi_az, &latest.multi_az),
        publicly_accessible: changed(&desired.publicly_accessible, &latest.publicly_accessible),
        db_subnet_group_name: changed(&desired.db_subnet_group_name, &latest.db_subnet_group_name),
        db_parameter_group_name: changed(
            &desired.db_parameter_group_name,
            &latest.db_parameter_group_name,
        ),
        backup_retention_period: changed(
            &desired.backup_retention_period,
            &latest.backup_retention_period,
        ),
        preferred_backup_window: changed(
            &desired.preferred_backup_window,
            &latest.preferred_backup_window,
        ),
        preferred_maintenance_window: changed(
            &desired.preferred_maintenance_window,
            &latest.preferred_maintenance_window,
        ),
        deletion_protection: changed(&desired.deletion_protection, &latest.deletion_protection),
        copy_tags_to_snapshot: changed(
            &desired.copy_tags_to_snapshot,
            &latest.copy_tags_to_snapshot,
        ),
        auto_minor_version_upgrade: changed(
            &desired.auto_minor_version_upgrade,
            &latest.auto_minor_version_upgrade,
        ),
        enable_iam_database_authentication: changed(
            &desired.enable_iam_database_authentication,
            &latest.enable_iam_database_authentication,
        ),
        ca_certificate_identifier: changed(
            &desired.ca_certificate_identifier,
            &latest.ca_certificate_identifier,
        ),
        ..Default::default()
    };
    if desired.db_instance_class != latest.db_instance_class
        && !desired.db_instance_class.is_empty()
    {
        m.db_instance_class = Some(desired.db_instance_class.clone());
    }
    if let Some(want) = &desired.engine_version {
        let have = latest.engine_version.as_deref().unwrap_or("");
        if !engine_version_matches(want, have) {
            m.engine_version = Some(want.clone());
        }
    }
    if let Some(want) = &desired.vpc_security_group_ids {
        let w: BTreeSet<&String> = want.iter().collect();
        let h: BTreeSet<&String> = latest.vpc_security_group_ids.iter().flatten().collect();
        if w != h {
            m.vpc_security_group_ids = Some(want.clone());
        }
    }
    more_delta(desired, latest, &mut m);
    if desired.db_cluster_identifier.is_some() {
        cluster_managed_dropped(&mut m);
    }
    m
}

/// The fields beside the core ones: networking, monitoring, insights, logs, the managed
/// password, Active Directory, processor features.
fn more_delta(desired: &DBInstanceSpec, latest: &DBInstanceSpec, m: &mut Modification) {
    m.storage_throughput = changed(&desired.storage_throughput, &latest.storage_throughput);
    m.network_type = changed(&desired.network_type, &latest.network_type);
    m.option_group_name = changed(&desired.option_group_name, &latest.option_group_name);
    m.license_model = changed(&desired.license_model, &latest.license_model);
    m.monitoring_interval = changed(&desired.monitoring_interval, &latest.monitoring_interval);
    m.monitoring_role_arn = changed(&desired.monitoring_role_arn, &latest.monitoring_role_arn);
    m.performance_insights_enabled = changed(
        &desired.performance_insights_enabled,
        &latest.performance_insights_enabled,
    );
    m.performance_insights_kms_key_id = changed(
        &desired.performance_insights_kms_key_id,
        &latest.performance_insights_kms_key_id,
    );
    m.performance_insights_retention_period = changed(
        &desired.performance_insights_retention_period,
        &latest.performance_insights_retention_period,
    );
    m.database_insights_mode = changed(
        &desired.database_insights_mode,
        &latest.database_insights_mode,
    );
    m.promotion_tier = changed(&desired.promotion_tier, &latest.promotion_tier);
    m.enable_customer_owned_ip = changed(
        &desired.enable_customer_owned_ip,
        &latest.enable_customer_owned_ip,
    );
    m.domain = changed(&desired.domain, &latest.domain);
    m.domain_iam_role_name = changed(&desired.domain_iam_role_name, &latest.domain_iam_role_name);
    m.replica_mode = changed(&desired.replica_mode, &latest.replica_mode);
    if let Some(want) = &desired.processor_features {
        let w: BTreeSet<&ProcessorFeature> = want.iter().collect();
        let h: BTreeSet<&ProcessorFeature> = latest.processor_features.iter().flatten().collect();
        if w != h {
            m.processor_features = Some(want.clone());
            m.use_default_processor_features = desired.use_default_processor_features;
        }
    }
    if let Some(want) = &desired.enable_cloudwatch_logs_exports {
        let w: BTreeSet<&String> = want.iter().collect();
        let h: BTreeSet<&String> = latest
            .enable_cloudwatch_logs_exports
            .iter()
            .flatten()
            .collect();
        let enable: Vec<String> = w.difference(&h).map(|s| (*s).clone()).collect();
        let disable: Vec<String> = h.difference(&w).map(|s| (*s).clone()).collect();
        m.enable_log_types = (!enable.is_empty()).then_some(enable);
        m.disable_log_types = (!disable.is_empty()).then_some(disable);
    }
    if let Some(want) = desired.manage_master_user_password {
        if want != latest.manage_master_user_password.unwrap_or(false) {
            m.manage_master_user_password = Some(want);
            if want {
                m.master_user_secret_kms_key_id = desired.master_user_secret_kms_key_id.clone();
            }
        } else if want {
            m.master_user_secret_kms_key_id = changed(
                &desired.master_user_secret_kms_key_id,
                &latest.master_user_secret_kms_key_id,
            );
        }
    }
}

/// An Aurora member's storage, backups, version, credentials, insights and logs belong to its
/// cluster: ModifyDBInstance refuses them, so they are never sent (as ACK).
fn cluster_managed_dropped(m: &mut Modification) {
    m.storage_type = None;
    m.database_insights_mode = None;
    m.enable_log_types = None;
    m.disable_log_types = None;
    m.allocated_storage = None;
    m.max_allocated_storage = None;
    m.backup_retention_period = None;
    m.preferred_backup_window = None;
    m.deletion_protection = None;
    m.engine_version = None;
    m.performance_insights_enabled = None;
    m.performance_insights_kms_key_id = None;
    m.performance_insights_retention_period = None;
    m.manage_master_user_password = None;
    m.master_user_secret_kms_key_id = None;
    m.iops = None;
    m.storage_throughput = None;
}

/// Late initialization: server defaults for fields absent from the spec, as a spec merge patch.
pub fn late_initialize(desired: &DBInstanceSpec, latest: &DBInstanceSpec) -> Option<Value> {
    let want = serde_json::to_value(desired).unwrap_or_default();
    let have = serde_json::to_value(latest).unwrap_or_default();
    let mut patch = serde_json::Map::new();
    for field in LATE_INITIALIZED {
        if want.get(field).is_none()
            && let Some(v) = have.get(field)
        {
            patch.insert((*field).to_owned(), v.clone());
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// Spec fields copied from AWS when absent (ACK's list, restricted to the fields we have).
pub const LATE_INITIALIZED: &[&str] = &[
    "allocatedStorage",
    "autoMinorVersionUpgrade",
    "availabilityZone",
    "backupRetentionPeriod",
    "backupTarget",
    "caCertificateIdentifier",
    "copyTagsToSnapshot",
    "databaseInsightsMode",
    "dbName",
    "deletionProtection",
    "engineVersion",
    "iops",
    "kmsKeyID",
    "licenseModel",
    "masterUsername",
    "monitoringInterval",
    "multiAZ",
    "networkType",
    "performanceInsightsEnabled",
    "performanceInsightsKMSKeyID",
    "performanceInsightsRetentionPeriod",
    "preferredBackupWindow",
    "preferredMaintenanceWindow",
    "promotionTier",
    "publiclyAccessible",
    "storageEncrypted",
    "storageThroughput",
    "storageType",
];

/// How DeleteDBInstance is called, from the RDS annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteOptions {
    /// SkipFinalSnapshot.
    pub skip_final_snapshot: bool,
    /// FinalDBSnapshotIdentifier.
    pub final_snapshot_identifier: Option<String>,
    /// DeleteAutomatedBackups.
    pub delete_automated_backups: Option<bool>,
}

/// Reads the delete annotations (skip-final-snapshot defaults to true unless a final snapshot
/// identifier is given).
pub fn delete_options(annotations: &BTreeMap<String, String>) -> Result<DeleteOptions, String> {
    let boolean = |key: &str| -> Result<Option<bool>, String> {
        match annotations.get(key).map(|v| v.trim()) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(format!(
                "annotation {key}={other:?} is not valid: write \"true\" or \"false\""
            )),
        }
    };
    let final_snapshot_identifier = annotations
        .get(FINAL_DB_SNAPSHOT_IDENTIFIER)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let skip = boolean(SKIP_FINAL_SNAPSHOT)?.unwrap_or(final_snapshot_identifier.is_none());
    if !skip && final_snapshot_identifier.is_none() {
        return Err(format!(
            "annotation {SKIP_FINAL_SNAPSHOT}=false needs {FINAL_DB_SNAPSHOT_IDENTIFIER} to name the final snapshot"
        ));
    }
    Ok(DeleteOptions {
        skip_final_snapshot: skip,
        final_snapshot_identifier: if skip {
            None
        } else {
            final_snapshot_identifier
        },
        delete_automated_backups: boolean(DELETE_AUTOMATED_BACKUPS)?,
    })
}

/// The value of [`LAST_APPLIED_SECRET_REFERENCE`] for a reference: `ns/name.key`.
pub fn secret_reference_key(own_namespace: &str, r: &SecretKeyReference) -> String {
    format!(
        "{}/{}.{}",
        r.namespace
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(own_namespace),
        r.name.as_deref().unwrap_or_default(),
        r.key
    )
}

/// The spec of an adopted instance: AWS's state, as a merge patch.
pub fn adopted_spec(latest: &DBInstanceSpec) -> Value {
    let mut v = serde_json::to_value(latest).unwrap_or_else(|_| json!({}));
    if let Some(m) = v.as_object_mut() {
        m.remove("masterUserPassword");
    }
    v
}

#[cfg(test)]
mod tests;

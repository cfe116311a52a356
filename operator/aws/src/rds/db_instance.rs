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

mod io;

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

/// The modification that makes `latest` (AWS's state, pending values included) match `desired`.
/// Fields absent from the spec are not managed; create-only fields are never modified.
pub fn instance_delta(desired: &DBInstanceSpec, latest: &DBInstanceSpec) -> Modification {
    fn changed<T: Clone + PartialEq>(want: &Option<T>, have: &Option<T>) -> Option<T> {
        want.as_ref().filter(|w| have.as_ref() != Some(*w)).cloned()
    }
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
    m
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
    "caCertificateIdentifier",
    "copyTagsToSnapshot",
    "dbName",
    "deletionProtection",
    "engineVersion",
    "iops",
    "kmsKeyID",
    "masterUsername",
    "multiAZ",
    "preferredBackupWindow",
    "preferredMaintenanceWindow",
    "publiclyAccessible",
    "storageEncrypted",
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

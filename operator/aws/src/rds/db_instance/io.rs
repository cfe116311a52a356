//! RDS calls for `DBInstance`: describe into a spec-shaped view, create, modify, delete, and the
//! master password Secret.

use std::collections::BTreeMap;

use aws_sdk_rds::types::DbInstance as SdkInstance;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::{Value, json};

use super::{
    DBInstance, DBInstanceSpec, DBInstanceStatus, DBSubnetGroupStatusSdk, Endpoint, Gate,
    LAST_APPLIED_SECRET_REFERENCE, Modification, PendingModifiedValues, VpcSecurityGroupMembership,
    delete_options, instance_delta, instance_gate, late_initialize, secret_reference_key,
};
use crate::ack::error::AwsError;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::tag_delta;

/// What RDS holds for an instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ObservedInstance {
    /// ARN.
    pub arn: Option<String>,
    /// AWS's state in spec shape, pending modifications applied (avoids flip-flops). Boxed,
    /// like the status: the generic runtime moves an observed resource through many
    /// temporaries, each a full copy on the stack in a debug build.
    pub latest: Box<DBInstanceSpec>,
    /// Status fields.
    pub status: Box<DBInstanceStatus>,
}

fn i64_of(v: Option<i32>) -> Option<i64> {
    v.map(i64::from)
}

pub(crate) fn i32_of(field: &str, v: Option<i64>) -> Result<Option<i32>, SyncError> {
    v.map(|x| {
        i32::try_from(x)
            .map_err(|_| SyncError::Terminal(format!("spec.{field}={x} is out of range")))
    })
    .transpose()
}

pub(super) fn observed_from(
    i: &SdkInstance,
    tags: Vec<crate::ack::types::Tag>,
) -> ObservedInstance {
    let pending = i.pending_modified_values();
    let s = |v: Option<&str>| v.map(str::to_owned);
    let latest = DBInstanceSpec {
        db_instance_identifier: i.db_instance_identifier().unwrap_or_default().to_owned(),
        db_instance_class: pending
            .and_then(|p| p.db_instance_class())
            .or(i.db_instance_class())
            .unwrap_or_default()
            .to_owned(),
        engine: i.engine().unwrap_or_default().to_owned(),
        engine_version: s(pending
            .and_then(|p| p.engine_version())
            .or(i.engine_version())),
        allocated_storage: i64_of(
            pending
                .and_then(|p| p.allocated_storage())
                .or(i.allocated_storage()),
        ),
        max_allocated_storage: i64_of(i.max_allocated_storage()),
        storage_type: s(pending.and_then(|p| p.storage_type()).or(i.storage_type())),
        iops: i64_of(pending.and_then(|p| p.iops()).or(i.iops())),
        storage_encrypted: i.storage_encrypted(),
        kms_key_id: s(i.kms_key_id()),
        db_name: s(i.db_name()),
        master_username: s(i.master_username()),
        master_user_password: None,
        port: i64_of(
            pending
                .and_then(|p| p.port())
                .or(i.endpoint().and_then(|e| e.port())),
        ),
        multi_az: pending.and_then(|p| p.multi_az()).or(i.multi_az()),
        availability_zone: s(i.availability_zone()),
        publicly_accessible: i.publicly_accessible(),
        db_subnet_group_name: s(i.db_subnet_group().and_then(|g| g.db_subnet_group_name())),
        db_subnet_group_ref: None,
        vpc_security_group_ids: Some(
            i.vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect::<Vec<_>>(),
        )
        .filter(|v| !v.is_empty()),
        vpc_security_group_refs: None,
        db_parameter_group_name: s(i
            .db_parameter_groups()
            .first()
            .and_then(|g| g.db_parameter_group_name())),
        backup_retention_period: i64_of(
            pending
                .and_then(|p| p.backup_retention_period())
                .or(i.backup_retention_period()),
        ),
        preferred_backup_window: s(i.preferred_backup_window()),
        preferred_maintenance_window: s(i.preferred_maintenance_window()),
        deletion_protection: i.deletion_protection(),
        copy_tags_to_snapshot: i.copy_tags_to_snapshot(),
        auto_minor_version_upgrade: i.auto_minor_version_upgrade(),
        enable_iam_database_authentication: i.iam_database_authentication_enabled(),
        ca_certificate_identifier: s(pending
            .and_then(|p| p.ca_certificate_identifier())
            .or(i.ca_certificate_identifier())),
        tags: Some(tags),
        ..more_latest(i, pending)
    };
    let mut status = DBInstanceStatus {
        db_instance_status: s(i.db_instance_status()),
        endpoint: i.endpoint().map(|e| Endpoint {
            address: s(e.address()),
            port: i64_of(e.port()),
            hosted_zone_id: s(e.hosted_zone_id()),
        }),
        dbi_resource_id: s(i.dbi_resource_id()),
        instance_create_time: i.instance_create_time().map(|t| t.to_string()),
        db_subnet_group: i.db_subnet_group().map(|g| DBSubnetGroupStatusSdk {
            db_subnet_group_name: s(g.db_subnet_group_name()),
            subnet_group_status: s(g.subnet_group_status()),
            vpc_id: s(g.vpc_id()),
            db_subnet_group_arn: s(g.db_subnet_group_arn()),
            db_subnet_group_description: s(g.db_subnet_group_description()),
            subnets: Some(crate::rds::db_subnet_group::subnets_from(g.subnets()))
                .filter(|v| !v.is_empty()),
            supported_network_types: Some(g.supported_network_types().to_vec())
                .filter(|v| !v.is_empty()),
        }),
        vpc_security_groups: Some(
            i.vpc_security_groups()
                .iter()
                .map(|g| VpcSecurityGroupMembership {
                    status: s(g.status()),
                    vpc_security_group_id: s(g.vpc_security_group_id()),
                })
                .collect::<Vec<_>>(),
        )
        .filter(|v| !v.is_empty()),
        // RDS always sends the element, empty when nothing is pending: that is "none".
        pending_modified_values: pending
            .map(pending_from)
            .filter(|p| *p != PendingModifiedValues::default()),
        ..Default::default()
    };
    super::status::fill(&mut status, i);
    ObservedInstance {
        arn: s(i.db_instance_arn()),
        latest: Box::new(latest),
        status: Box::new(status),
    }
}

/// The fields beside the core ones, in spec shape (pending values first, as for the core).
fn more_latest(
    i: &SdkInstance,
    pending: Option<&aws_sdk_rds::types::PendingModifiedValues>,
) -> DBInstanceSpec {
    let s = |v: Option<&str>| v.map(str::to_owned);
    DBInstanceSpec {
        backup_target: s(i.backup_target()),
        character_set_name: s(i.character_set_name()),
        custom_iam_instance_profile: s(i.custom_iam_instance_profile()),
        database_insights_mode: i.database_insights_mode().map(|m| m.as_str().to_owned()),
        db_cluster_identifier: s(i.db_cluster_identifier()),
        domain: s(i.domain_memberships().first().and_then(|d| d.domain())),
        domain_iam_role_name: s(i
            .domain_memberships()
            .first()
            .and_then(|d| d.iam_role_name())),
        enable_cloudwatch_logs_exports: Some(i.enabled_cloudwatch_logs_exports().to_vec())
            .filter(|v| !v.is_empty()),
        enable_customer_owned_ip: i.customer_owned_ip_enabled(),
        license_model: s(pending
            .and_then(|p| p.license_model())
            .or(i.license_model())),
        manage_master_user_password: i.master_user_secret().map(|_| true),
        master_user_secret_kms_key_id: s(i.master_user_secret().and_then(|m| m.kms_key_id())),
        monitoring_interval: i64_of(i.monitoring_interval()),
        monitoring_role_arn: s(i.monitoring_role_arn()),
        nchar_character_set_name: s(i.nchar_character_set_name()),
        network_type: s(i.network_type()),
        option_group_name: s(i
            .option_group_memberships()
            .first()
            .and_then(|o| o.option_group_name())),
        performance_insights_enabled: i.performance_insights_enabled(),
        performance_insights_kms_key_id: s(i.performance_insights_kms_key_id()),
        performance_insights_retention_period: i64_of(i.performance_insights_retention_period()),
        processor_features: super::status::processor_features(
            pending
                .map(|p| p.processor_features())
                .filter(|f| !f.is_empty())
                .unwrap_or(i.processor_features()),
        ),
        promotion_tier: i64_of(i.promotion_tier()),
        replica_mode: i.replica_mode().map(|m| m.as_str().to_owned()),
        storage_throughput: i64_of(
            pending
                .and_then(|p| p.storage_throughput())
                .or(i.storage_throughput()),
        ),
        timezone: s(i.timezone()),
        ..Default::default()
    }
}

/// `status.pendingModifiedValues` from RDS's element.
fn pending_from(p: &aws_sdk_rds::types::PendingModifiedValues) -> PendingModifiedValues {
    let s = |v: Option<&str>| v.map(str::to_owned);
    PendingModifiedValues {
        allocated_storage: i64_of(p.allocated_storage()),
        backup_retention_period: i64_of(p.backup_retention_period()),
        db_instance_class: s(p.db_instance_class()),
        engine_version: s(p.engine_version()),
        iops: i64_of(p.iops()),
        multi_az: p.multi_az(),
        port: i64_of(p.port()),
        storage_type: s(p.storage_type()),
        automation_mode: p.automation_mode().map(|m| m.as_str().to_owned()),
        ca_certificate_identifier: s(p.ca_certificate_identifier()),
        db_instance_identifier: s(p.db_instance_identifier()),
        db_subnet_group_name: s(p.db_subnet_group_name()),
        iam_database_authentication_enabled: p.iam_database_authentication_enabled(),
        license_model: s(p.license_model()),
        // RDS masks it; kro-rs never writes whatever it says there.
        master_user_password: p.master_user_password().map(|_| "****".to_owned()),
        pending_cloudwatch_logs_exports: p.pending_cloudwatch_logs_exports().map(|c| {
            super::status::PendingCloudwatchLogsExports {
                log_types_to_disable: Some(c.log_types_to_disable().to_vec())
                    .filter(|v| !v.is_empty()),
                log_types_to_enable: Some(c.log_types_to_enable().to_vec())
                    .filter(|v| !v.is_empty()),
            }
        }),
        processor_features: super::status::processor_features(p.processor_features()),
        resume_full_automation_mode_time: p.resume_full_automation_mode_time().and_then(|t| {
            t.fmt(aws_sdk_rds::primitives::DateTimeFormat::DateTime)
                .ok()
        }),
        storage_throughput: i64_of(p.storage_throughput()),
    }
}

/// AWS error codes meaning the DB instance does not exist.
const NOT_FOUND_CODES: &[&str] = &["DBInstanceNotFound", "DBInstanceNotFoundFault"];

async fn describe(
    rds: &aws_sdk_rds::Client,
    id: &str,
) -> Result<Option<ObservedInstance>, SyncError> {
    let res = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(AwsError::from_sdk);
    let Some(out) = SyncError::unless_not_found("DescribeDBInstances", res, NOT_FOUND_CODES)?
    else {
        return Ok(None);
    };
    let Some(i) = out.db_instances().first() else {
        return Ok(None);
    };
    let tags = match i.db_instance_arn() {
        Some(arn) => crate::rds::list_tags(rds, arn).await?,
        None => crate::rds::tags_from(i.tag_list()),
    };
    Ok(Some(observed_from(i, tags)))
}

/// Reads the master password from its Secret; a missing Secret or key is waited for.
async fn password(
    cx: &SyncCx<'_>,
    spec: &DBInstanceSpec,
) -> Result<Option<(String, String)>, SyncError> {
    secret_password(cx, spec.master_user_password.as_ref(), "DBInstance").await
}

/// The master password a `masterUserPassword` reference of a `kind` object names, and the
/// reference's [`secret_reference_key`]; a missing Secret or key is waited for.
pub(crate) async fn secret_password(
    cx: &SyncCx<'_>,
    reference: Option<&crate::ack::types::SecretKeyReference>,
    kind: &str,
) -> Result<Option<(String, String)>, SyncError> {
    let Some(r) = reference else {
        return Ok(None);
    };
    let ns = r
        .namespace
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| cx.namespace.clone());
    let Some(name) = r.name.clone().filter(|s| !s.is_empty()) else {
        return Err(SyncError::Terminal(
            "spec.masterUserPassword.name is empty: name the Secret that holds the password".into(),
        ));
    };
    if ns != cx.namespace && !cx.ctx.opts.enable_cross_namespace {
        return Err(cross_namespace_secret(kind, &ns, &name, &cx.namespace));
    }
    let api: Api<Secret> = Api::namespaced(cx.ctx.client.clone(), &ns);
    let secret = api.get_opt(&name).await?.ok_or_else(|| {
        SyncError::Waiting(format!(
            "spec.masterUserPassword: Secret {ns}/{name} not found; waiting for it (create it with key {:?})",
            r.key
        ))
    })?;
    if let Some(t) = secret.type_.as_deref().filter(|t| *t != "Opaque") {
        return Err(SyncError::Terminal(format!(
            "spec.masterUserPassword: Secret {ns}/{name} has type {t}; only Opaque Secrets are supported"
        )));
    }
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&r.key))
                .cloned()
        })
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            SyncError::Waiting(format!(
                "spec.masterUserPassword: Secret {ns}/{name} has no key {:?}; waiting for it",
                r.key
            ))
        })?;
    Ok(Some((value, secret_reference_key(&cx.namespace, r))))
}

/// The terminal error of a password Secret in namespace `ns` for a `kind` object in `own`
/// while cross-namespace references are off (the Secret is not read).
pub(crate) fn cross_namespace_secret(kind: &str, ns: &str, name: &str, own: &str) -> SyncError {
    SyncError::Terminal(format!(
        "spec.masterUserPassword.namespace: cross-namespace Secret references are not allowed: \
         Secret {ns}/{name} is outside this {kind}'s namespace {own}; put the Secret in {own} \
         (omit the namespace), or ask the operator's administrator to start kro run with \
         --enable-cross-namespace"
    ))
}

async fn modify(
    rds: &aws_sdk_rds::Client,
    id: &str,
    m: &Modification,
    password: Option<String>,
) -> Result<(), SyncError> {
    modify_request(rds, id, m, password)?
        .send()
        .await
        .map_err(|e| SyncError::aws("ModifyDBInstance", AwsError::from_sdk(e)))?;
    Ok(())
}

/// ModifyDBInstance's request, built outside the async fn (see `create.rs` on stack slots).
#[inline(never)]
fn modify_request(
    rds: &aws_sdk_rds::Client,
    id: &str,
    m: &Modification,
    password: Option<String>,
) -> Result<
    aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder,
    SyncError,
> {
    Ok(rds
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true)
        .allow_major_version_upgrade(true)
        .set_db_instance_class(m.db_instance_class.clone())
        .set_engine_version(m.engine_version.clone())
        .set_allocated_storage(i32_of("allocatedStorage", m.allocated_storage)?)
        .set_max_allocated_storage(i32_of("maxAllocatedStorage", m.max_allocated_storage)?)
        .set_storage_type(m.storage_type.clone())
        .set_iops(i32_of("iops", m.iops)?)
        .set_db_port_number(i32_of("port", m.port)?)
        .set_multi_az(m.multi_az)
        .set_publicly_accessible(m.publicly_accessible)
        .set_db_subnet_group_name(m.db_subnet_group_name.clone())
        .set_vpc_security_group_ids(m.vpc_security_group_ids.clone())
        .set_db_parameter_group_name(m.db_parameter_group_name.clone())
        .set_backup_retention_period(i32_of("backupRetentionPeriod", m.backup_retention_period)?)
        .set_preferred_backup_window(m.preferred_backup_window.clone())
        .set_preferred_maintenance_window(m.preferred_maintenance_window.clone())
        .set_deletion_protection(m.deletion_protection)
        .set_copy_tags_to_snapshot(m.copy_tags_to_snapshot)
        .set_auto_minor_version_upgrade(m.auto_minor_version_upgrade)
        .set_enable_iam_database_authentication(m.enable_iam_database_authentication)
        .set_ca_certificate_identifier(m.ca_certificate_identifier.clone())
        .set_master_user_password(password)
        .set_storage_throughput(i32_of("storageThroughput", m.storage_throughput)?)
        .set_network_type(m.network_type.clone())
        .set_option_group_name(m.option_group_name.clone())
        .set_license_model(m.license_model.clone())
        .set_monitoring_interval(i32_of("monitoringInterval", m.monitoring_interval)?)
        .set_monitoring_role_arn(m.monitoring_role_arn.clone())
        .set_enable_performance_insights(m.performance_insights_enabled)
        .set_performance_insights_kms_key_id(m.performance_insights_kms_key_id.clone())
        .set_performance_insights_retention_period(i32_of(
            "performanceInsightsRetentionPeriod",
            m.performance_insights_retention_period,
        )?)
        .set_database_insights_mode(
            m.database_insights_mode
                .as_deref()
                .map(aws_sdk_rds::types::DatabaseInsightsMode::from),
        )
        .set_promotion_tier(i32_of("promotionTier", m.promotion_tier)?)
        .set_enable_customer_owned_ip(m.enable_customer_owned_ip)
        .set_domain(m.domain.clone())
        .set_domain_iam_role_name(m.domain_iam_role_name.clone())
        .set_replica_mode(
            m.replica_mode
                .as_deref()
                .map(aws_sdk_rds::types::ReplicaMode::from),
        )
        .set_processor_features(sdk_processor_features(m.processor_features.as_deref()))
        .set_use_default_processor_features(m.use_default_processor_features)
        .set_cloudwatch_logs_export_configuration(
            (m.enable_log_types.is_some() || m.disable_log_types.is_some()).then(|| {
                aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                    .set_enable_log_types(m.enable_log_types.clone())
                    .set_disable_log_types(m.disable_log_types.clone())
                    .build()
            }),
        )
        .set_manage_master_user_password(m.manage_master_user_password)
        .set_master_user_secret_kms_key_id(m.master_user_secret_kms_key_id.clone()))
}

pub(super) fn sdk_processor_features(
    features: Option<&[super::ProcessorFeature]>,
) -> Option<Vec<aws_sdk_rds::types::ProcessorFeature>> {
    features.map(|f| {
        f.iter()
            .map(|p| {
                aws_sdk_rds::types::ProcessorFeature::builder()
                    .set_name(p.name.clone())
                    .set_value(p.value.clone())
                    .build()
            })
            .collect()
    })
}

pub(crate) const PARAMETER_GROUP_REF: RefTarget = RefTarget {
    group: "rds.services.k8s.aws",
    version: "v1alpha1",
    kind: "DBParameterGroup",
    plural: "dbparametergroups",
    path: &["spec", "name"],
};

pub(crate) const KMS_KEY_REF: RefTarget = RefTarget {
    group: "kms.services.k8s.aws",
    version: "v1alpha1",
    kind: "Key",
    plural: "keys",
    path: &["status", "ackResourceMetadata", "arn"],
};

pub(crate) const ROLE_REF: RefTarget = RefTarget {
    group: "iam.services.k8s.aws",
    version: "v1alpha1",
    kind: "Role",
    plural: "roles",
    path: &["status", "ackResourceMetadata", "arn"],
};

pub(crate) const SUBNET_GROUP_REF: RefTarget = RefTarget {
    group: "rds.services.k8s.aws",
    version: "v1alpha1",
    kind: "DBSubnetGroup",
    plural: "dbsubnetgroups",
    path: &["spec", "name"],
};

pub(crate) const SECURITY_GROUP_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "SecurityGroup",
    plural: "securitygroups",
    path: &["status", "id"],
};

/// AWS error codes that make a DBInstance terminal.
pub(super) const TERMINAL_CODES: &[&str] = &[
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidParameterCombination",
];

/// The members of `status.pendingModifiedValues`.
pub(super) const PENDING_FIELDS: &[&str] = &[
    "allocatedStorage",
    "automationMode",
    "backupRetentionPeriod",
    "caCertificateIdentifier",
    "dbInstanceClass",
    "dbInstanceIdentifier",
    "dbSubnetGroupName",
    "engineVersion",
    "iamDatabaseAuthenticationEnabled",
    "iops",
    "licenseModel",
    "masterUserPassword",
    "multiAZ",
    "pendingCloudwatchLogsExports",
    "port",
    "processorFeatures",
    "resumeFullAutomationModeTime",
    "storageThroughput",
    "storageType",
];

/// The top-level status fields RDS fills in (all but the runtime's `ackResourceMetadata` and
/// `conditions`), from the status type's schema.
fn described_status_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        let schema = schemars::schema_for!(DBInstanceStatus);
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

/// The status fields to write. Status is merge-patched, so what RDS no longer reports is
/// written as `null`: a status field RDS dropped (a master user secret after
/// `manageMasterUserPassword: false`, a finished replication) goes, nothing pending clears
/// `status.pendingModifiedValues`, and a member RDS no longer reports (a finished modification
/// while a later one is pending) goes from it.
pub(super) fn status_value(observed: &ObservedInstance) -> Value {
    let mut v = serde_json::to_value(&observed.status).unwrap_or_else(|_| json!({}));
    if let Some(map) = v.as_object_mut() {
        for field in described_status_fields() {
            map.entry(field.clone()).or_insert(Value::Null);
        }
        match map.get_mut("pendingModifiedValues") {
            Some(Value::Object(pending)) => {
                for field in PENDING_FIELDS {
                    pending.entry(*field).or_insert(Value::Null);
                }
            }
            _ => {
                map.insert("pendingModifiedValues".into(), Value::Null);
            }
        }
    }
    v
}

impl AckKind for DBInstance {
    const FINALIZER: &'static str = "finalizers.rds.services.k8s.aws/DBInstance";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] =
        &["DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"];
    const ADOPTION_KEY: &'static str = "dbInstanceIdentifier";
    const OWN_ANNOTATIONS: &'static [&'static str] = &[LAST_APPLIED_SECRET_REFERENCE];
    type Observed = ObservedInstance;

    fn identifier(&self) -> String {
        self.spec.db_instance_identifier.clone()
    }

    fn has_references(&self) -> bool {
        let spec = &self.spec;
        spec.db_subnet_group_ref.is_some()
            || spec
                .vpc_security_group_refs
                .as_ref()
                .is_some_and(|r| !r.is_empty())
            || spec.db_parameter_group_ref.is_some()
            || spec.kms_key_ref.is_some()
            || spec.master_user_secret_kms_key_ref.is_some()
            || spec.monitoring_role_ref.is_some()
            || spec.performance_insights_kms_key_ref.is_some()
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        if let Some(r) = &self.spec.db_subnet_group_ref {
            if self.spec.db_subnet_group_name.is_some() {
                return Err(SyncError::Terminal(
                    "spec.dbSubnetGroupName and spec.dbSubnetGroupRef are both set: keep only one"
                        .into(),
                ));
            }
            out.spec.db_subnet_group_name =
                Some(refs::resolve(cx, "spec.dbSubnetGroupRef", r, SUBNET_GROUP_REF).await?);
        }
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
        type Slot = fn(&mut DBInstanceSpec) -> &mut Option<String>;
        let single: [(_, _, _, _, Slot); 5] = [
            (
                &self.spec.db_parameter_group_ref,
                "dbParameterGroupRef",
                "dbParameterGroupName",
                PARAMETER_GROUP_REF,
                |s| &mut s.db_parameter_group_name,
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

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedInstance>, SyncError> {
        describe(&cx.aws.rds, id).await
    }

    async fn precheck_create(&self, cx: &SyncCx<'_>) -> Result<(), SyncError> {
        super::create::origin(&self.spec).map_err(SyncError::Terminal)?;
        password(cx, &self.spec).await.map(|_| ())
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        let spec = &self.spec;
        let pw = password(cx, spec).await?;
        let mut annotations = BTreeMap::new();
        if let Some((_, key)) = &pw {
            annotations.insert(LAST_APPLIED_SECRET_REFERENCE.to_owned(), key.clone());
        }
        let how = super::create::send(cx, spec, id, pw.map(|(p, _)| p)).await?;
        tracing::info!(id, how, "DB instance created");
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
        observed: ObservedInstance,
    ) -> Result<Synced, SyncError> {
        super::create::origin(&self.spec).map_err(SyncError::Terminal)?;
        let delta = instance_delta(&self.spec, &observed.latest);
        let waiting = |msg: String, observed: &ObservedInstance| Synced {
            waiting: Some(msg),
            arn: observed.arn.clone(),
            status: status_value(observed),
            ..Default::default()
        };
        match instance_gate(
            observed.status.db_instance_status.as_deref(),
            delta.storage_only(),
        ) {
            Gate::Modifiable => {}
            Gate::Wait(msg) => return Ok(waiting(msg, &observed)),
            Gate::Terminal(msg) => return Err(SyncError::Terminal(msg)),
        }
        let mut annotations = BTreeMap::new();
        let password = match &self.spec.master_user_password {
            Some(r)
                if cx.annotations.get(LAST_APPLIED_SECRET_REFERENCE)
                    != Some(&secret_reference_key(&cx.namespace, r)) =>
            {
                let pw = password(cx, &self.spec).await?;
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
            tracing::info!(id, delta = %serde_json::to_string(&delta).unwrap_or_default(), "modifying DB instance");
            modify(&cx.aws.rds, id, &delta, password).await?;
            updated.push("ModifyDBInstance".to_owned());
            latest = describe(&cx.aws.rds, id).await?.ok_or_else(|| {
                SyncError::Waiting(format!("DB instance {id} vanished after ModifyDBInstance"))
            })?;
            let status = latest.status.db_instance_status.as_deref();
            if status != Some("available") || !instance_delta(&self.spec, &latest.latest).is_empty()
            {
                let mut w = waiting(
                    format!(
                        "DB instance modified; waiting for it to be available (now '{}')",
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

    fn adopted_spec(_id: &str, observed: &ObservedInstance) -> Value {
        super::adopted_spec(&observed.latest)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedInstance,
    ) -> Result<Deleted, SyncError> {
        if observed.status.db_instance_status.as_deref() == Some("deleting") {
            return Ok(Deleted::Pending(
                "DB instance is currently being deleted".into(),
            ));
        }
        let opts = delete_options(&cx.annotations).map_err(SyncError::Terminal)?;
        // Lifting deletion protection on an object that is already being deleted works here
        // (ACK's deletion skips the sync, so the instance stays stuck: community#2436).
        if observed.latest.deletion_protection == Some(true)
            && self.spec.deletion_protection == Some(false)
        {
            let lift = Modification {
                deletion_protection: Some(false),
                ..Default::default()
            };
            modify(&cx.aws.rds, id, &lift, None).await?;
            tracing::info!(id, "deletion protection lifted before delete");
        }
        let res = cx
            .aws
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(opts.skip_final_snapshot)
            .set_final_db_snapshot_identifier(opts.final_snapshot_identifier)
            .set_delete_automated_backups(opts.delete_automated_backups)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        SyncError::unless_not_found("DeleteDBInstance", res, NOT_FOUND_CODES)?;
        Ok(Deleted::Done)
    }
}

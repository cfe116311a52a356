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
    /// AWS's state in spec shape, pending modifications applied (avoids flip-flops).
    pub latest: DBInstanceSpec,
    /// Status fields.
    pub status: DBInstanceStatus,
}

fn i64_of(v: Option<i32>) -> Option<i64> {
    v.map(i64::from)
}

fn i32_of(field: &str, v: Option<i64>) -> Result<Option<i32>, SyncError> {
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
    };
    let status = DBInstanceStatus {
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
            .map(|p| PendingModifiedValues {
                allocated_storage: i64_of(p.allocated_storage()),
                backup_retention_period: i64_of(p.backup_retention_period()),
                db_instance_class: s(p.db_instance_class()),
                engine_version: s(p.engine_version()),
                iops: i64_of(p.iops()),
                multi_az: p.multi_az(),
                port: i64_of(p.port()),
                storage_type: s(p.storage_type()),
            })
            .filter(|p| *p != PendingModifiedValues::default()),
        ..Default::default()
    };
    ObservedInstance {
        arn: s(i.db_instance_arn()),
        latest,
        status,
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
    let Some(r) = &spec.master_user_password else {
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
        return Err(cross_namespace_secret(&ns, &name, &cx.namespace));
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

/// The terminal error of a password Secret in namespace `ns` for a DBInstance in `own` while
/// cross-namespace references are off (the Secret is not read).
pub(super) fn cross_namespace_secret(ns: &str, name: &str, own: &str) -> SyncError {
    SyncError::Terminal(format!(
        "spec.masterUserPassword.namespace: cross-namespace Secret references are not allowed: \
         Secret {ns}/{name} is outside this DBInstance's namespace {own}; put the Secret in {own} \
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
    rds.modify_db_instance()
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
        .send()
        .await
        .map_err(|e| SyncError::aws("ModifyDBInstance", AwsError::from_sdk(e)))?;
    Ok(())
}

const SUBNET_GROUP_REF: RefTarget = RefTarget {
    group: "rds.services.k8s.aws",
    version: "v1alpha1",
    kind: "DBSubnetGroup",
    plural: "dbsubnetgroups",
    path: &["spec", "name"],
};

const SECURITY_GROUP_REF: RefTarget = RefTarget {
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
    "backupRetentionPeriod",
    "dbInstanceClass",
    "engineVersion",
    "iops",
    "multiAZ",
    "port",
    "storageType",
];

/// The status fields to write. Status is merge-patched, so what is no longer pending is written
/// as `null`: nothing pending clears `status.pendingModifiedValues`, and a member RDS no longer
/// reports (a finished modification while a later one is pending) goes from it.
pub(super) fn status_value(observed: &ObservedInstance) -> Value {
    let mut v = serde_json::to_value(&observed.status).unwrap_or_else(|_| json!({}));
    if let Some(map) = v.as_object_mut() {
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
        self.spec.db_subnet_group_ref.is_some()
            || self
                .spec
                .vpc_security_group_refs
                .as_ref()
                .is_some_and(|r| !r.is_empty())
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
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedInstance>, SyncError> {
        describe(&cx.aws.rds, id).await
    }

    async fn precheck_create(&self, cx: &SyncCx<'_>) -> Result<(), SyncError> {
        password(cx, &self.spec).await.map(|_| ())
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        let spec = &self.spec;
        let pw = password(cx, spec).await?;
        let mut annotations = BTreeMap::new();
        if let Some((_, key)) = &pw {
            annotations.insert(LAST_APPLIED_SECRET_REFERENCE.to_owned(), key.clone());
        }
        cx.aws
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class(&spec.db_instance_class)
            .engine(&spec.engine)
            .set_engine_version(spec.engine_version.clone())
            .set_allocated_storage(i32_of("allocatedStorage", spec.allocated_storage)?)
            .set_max_allocated_storage(i32_of("maxAllocatedStorage", spec.max_allocated_storage)?)
            .set_storage_type(spec.storage_type.clone())
            .set_iops(i32_of("iops", spec.iops)?)
            .set_storage_encrypted(spec.storage_encrypted)
            .set_kms_key_id(spec.kms_key_id.clone())
            .set_db_name(spec.db_name.clone())
            .set_master_username(spec.master_username.clone())
            .set_master_user_password(pw.map(|(p, _)| p))
            .set_port(i32_of("port", spec.port)?)
            .set_multi_az(spec.multi_az)
            .set_availability_zone(spec.availability_zone.clone())
            .set_publicly_accessible(spec.publicly_accessible)
            .set_db_subnet_group_name(spec.db_subnet_group_name.clone())
            .set_vpc_security_group_ids(spec.vpc_security_group_ids.clone())
            .set_db_parameter_group_name(spec.db_parameter_group_name.clone())
            .set_backup_retention_period(i32_of(
                "backupRetentionPeriod",
                spec.backup_retention_period,
            )?)
            .set_preferred_backup_window(spec.preferred_backup_window.clone())
            .set_preferred_maintenance_window(spec.preferred_maintenance_window.clone())
            .set_deletion_protection(spec.deletion_protection)
            .set_copy_tags_to_snapshot(spec.copy_tags_to_snapshot)
            .set_auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
            .set_enable_iam_database_authentication(spec.enable_iam_database_authentication)
            .set_ca_certificate_identifier(spec.ca_certificate_identifier.clone())
            .set_tags(spec.tags.as_deref().map(crate::rds::sdk_tags))
            .send()
            .await
            .map_err(|e| SyncError::aws("CreateDBInstance", AwsError::from_sdk(e)))?;
        tracing::info!(id, "DB instance created");
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

//! What `DBParameterGroup` and `DBClusterParameterGroup` share: ACK's `Parameter` shape, the
//! engine defaults of a family (cached per region and family, as ACK does), the desired-vs-
//! observed comparison of `spec.parameterOverrides`, and the RDS calls of both flavours.
//!
//! As ACK: the observed overrides are the group's parameters that the spec names, plus every
//! modifiable one set away from its default (RDS says `source: user`, or the value differs
//! from the family's default); each changed override is sent with the apply method its type
//! calls for (`immediate` for a dynamic parameter, `pending-reboot` for a static one), and an
//! override removed from the spec is reset to its default. RDS takes at most 20 parameters
//! per call, so changes go in chunks. A parameter the family does not have, or one it does
//! not let be modified, is a terminal error naming it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_rds::types::{ApplyMethod, Parameter as SdkParameter};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ack::error::AwsError;
use serde_json::{Value, json};

use crate::ack::runtime::{SyncCx, SyncError, Synced};
use crate::ack::types::{Tag, tag_delta};

/// RDS's limit of parameters per Modify/Reset call.
const PER_CALL: usize = 20;
/// Families whose engine defaults are kept (a family is a few kilobytes; a spec naming
/// made-up families cannot grow the cache past this).
const CACHED_FAMILIES: usize = 256;

/// One parameter, in ACK's shape (`status.parameterOverrideStatuses`, and the deprecated
/// `spec.parameters` of a cluster parameter group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    /// Valid values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<String>,
    /// `immediate` or `pending-reboot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_method: Option<String>,
    /// `dynamic` or `static`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_type: Option<String>,
    /// Type of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// What the parameter is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it can be modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_modifiable: Option<bool>,
    /// Earliest engine version it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_engine_version: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_name: Option<String>,
    /// Its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_value: Option<String>,
    /// `user`, `engine-default`, `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Engine modes it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_engine_modes: Option<Vec<String>>,
}

/// Which RDS API a group is read and written through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Flavor {
    /// `DBParameterGroup`: Create/Describe/Modify/Reset/DeleteDBParameterGroup.
    Instance,
    /// `DBClusterParameterGroup`: the DBCluster… calls.
    Cluster,
}

/// What a family says of one parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    /// It can be modified.
    pub modifiable: bool,
    /// It applies at once (`dynamic`), not at the next reboot.
    pub dynamic: bool,
    /// Its default value, when the family has one.
    pub default: Option<String>,
}

type Family = HashMap<String, Meta>;

/// Engine defaults by `(flavour, region, family)`, loaded once each.
#[derive(Debug, Default)]
pub(crate) struct MetaCache {
    families: Mutex<HashMap<(Flavor, String, String), Arc<Family>>>,
}

impl MetaCache {
    fn get(&self, key: &(Flavor, String, String)) -> Option<Arc<Family>> {
        let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        families.get(key).cloned()
    }

    fn keep(&self, key: (Flavor, String, String), family: Family) -> Arc<Family> {
        let family = Arc::new(family);
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        if !family.is_empty() && families.len() < CACHED_FAMILIES {
            families.insert(key, family.clone());
        }
        family
    }
}

/// What RDS holds for a parameter group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedGroup {
    /// ARN.
    pub arn: Option<String>,
    /// Family.
    pub family: String,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// The overrides, as ACK counts them (see the module's documentation).
    pub overrides: BTreeMap<String, String>,
    /// `status.parameterOverrideStatuses`: name, value, apply method and type of each.
    pub statuses: Vec<Parameter>,
}

/// The calls that bring a group's parameters in line with its spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParameterDelta {
    /// Overrides to set (new or changed), by name.
    pub modify: BTreeMap<String, String>,
    /// Overrides the spec no longer has: back to their defaults.
    pub reset: Vec<String>,
}

impl ParameterDelta {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.modify.is_empty() && self.reset.is_empty()
    }
}

/// Desired vs observed overrides (an absent `parameterOverrides` is none, as in ACK).
pub fn parameter_delta(
    desired: Option<&BTreeMap<String, String>>,
    observed: &BTreeMap<String, String>,
) -> ParameterDelta {
    let empty = BTreeMap::new();
    let desired = desired.unwrap_or(&empty);
    ParameterDelta {
        modify: desired
            .iter()
            .filter(|(name, value)| observed.get(*name) != Some(value))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        reset: observed
            .keys()
            .filter(|name| !desired.contains_key(*name))
            .cloned()
            .collect(),
    }
}

/// Whether a parameter the spec does not name counts as an override: modifiable, and set by a
/// user or away from the family's default.
pub(crate) fn counts_as_override(param: &SdkParameter, meta: Option<&Meta>) -> bool {
    if param.is_modifiable() != Some(true) || param.parameter_value().is_none() {
        return false;
    }
    param.source() == Some("user")
        || meta
            .and_then(|meta| meta.default.as_deref())
            .is_some_and(|default| Some(default) != param.parameter_value())
}

/// The status entry ACK reports for an override.
fn status_of(param: &SdkParameter) -> Parameter {
    Parameter {
        parameter_name: param.parameter_name().map(str::to_owned),
        parameter_value: param.parameter_value().map(str::to_owned),
        apply_method: param.apply_method().map(|m| m.as_str().to_owned()),
        apply_type: param.apply_type().map(str::to_owned),
        ..Parameter::default()
    }
}

/// AWS error codes meaning the group does not exist (both flavours).
pub(crate) const NOT_FOUND_CODES: &[&str] =
    &["DBParameterGroupNotFound", "DBParameterGroupNotFoundFault"];

/// AWS error codes that make a parameter group terminal. ACK lists none for these kinds (a
/// bad family is retried forever there); a request RDS refuses as invalid will be refused
/// again until the spec changes.
pub(crate) const TERMINAL_CODES: &[&str] =
    &["InvalidParameterValue", "InvalidParameterCombination"];

/// Codes meaning "already exists".
pub(crate) const ALREADY_EXISTS_CODES: &[&str] = &[
    "DBParameterGroupAlreadyExists",
    "DBParameterGroupAlreadyExistsFault",
];

/// The engine defaults of `family`, from the cache or RDS. A cluster parameter RDS lists only
/// among the instance defaults of the family (MySQL's logging ones) is found there, as ACK
/// does.
async fn family_meta(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    family: &str,
) -> Result<Vec<Arc<Family>>, SyncError> {
    let mut out = vec![load_family(cx, flavor, family).await?];
    if flavor == Flavor::Cluster {
        out.push(load_family(cx, Flavor::Instance, family).await?);
    }
    Ok(out)
}

async fn load_family(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    family: &str,
) -> Result<Arc<Family>, SyncError> {
    let key = (flavor, cx.region.clone(), family.to_owned());
    if let Some(found) = cx.ctx.parameter_meta.get(&key) {
        return Ok(found);
    }
    let mut meta = Family::new();
    let mut marker: Option<String> = None;
    loop {
        let defaults = match flavor {
            Flavor::Instance => {
                cx.aws
                    .rds
                    .describe_engine_default_parameters()
                    .db_parameter_group_family(family)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        SyncError::aws("DescribeEngineDefaultParameters", AwsError::from_sdk(e))
                    })?
                    .engine_defaults
            }
            Flavor::Cluster => {
                cx.aws
                    .rds
                    .describe_engine_default_cluster_parameters()
                    .db_parameter_group_family(family)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        SyncError::aws(
                            "DescribeEngineDefaultClusterParameters",
                            AwsError::from_sdk(e),
                        )
                    })?
                    .engine_defaults
            }
        };
        let Some(defaults) = defaults else { break };
        for param in defaults.parameters() {
            let Some(name) = param.parameter_name() else {
                continue;
            };
            meta.insert(
                name.to_owned(),
                Meta {
                    modifiable: param.is_modifiable().unwrap_or(false),
                    dynamic: param.apply_type() != Some("static"),
                    default: param.parameter_value().map(str::to_owned),
                },
            );
        }
        marker = defaults.marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    Ok(cx.ctx.parameter_meta.keep(key, meta))
}

fn lookup<'a>(families: &'a [Arc<Family>], name: &str) -> Option<&'a Meta> {
    families.iter().find_map(|family| family.get(name))
}

/// Reads group `name`: `None` when it does not exist.
pub(crate) async fn read(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
    desired: Option<&BTreeMap<String, String>>,
) -> Result<Option<ObservedGroup>, SyncError> {
    let rds = &cx.aws.rds;
    let (arn, family, description) = match flavor {
        Flavor::Instance => {
            let res = rds
                .describe_db_parameter_groups()
                .db_parameter_group_name(name)
                .send()
                .await
                .map_err(AwsError::from_sdk);
            let Some(out) =
                SyncError::unless_not_found("DescribeDBParameterGroups", res, NOT_FOUND_CODES)?
            else {
                return Ok(None);
            };
            let Some(group) = out.db_parameter_groups().first() else {
                return Ok(None);
            };
            (
                group.db_parameter_group_arn().map(str::to_owned),
                group
                    .db_parameter_group_family()
                    .unwrap_or_default()
                    .to_owned(),
                group.description().unwrap_or_default().to_owned(),
            )
        }
        Flavor::Cluster => {
            let res = rds
                .describe_db_cluster_parameter_groups()
                .db_cluster_parameter_group_name(name)
                .send()
                .await
                .map_err(AwsError::from_sdk);
            let Some(out) = SyncError::unless_not_found(
                "DescribeDBClusterParameterGroups",
                res,
                NOT_FOUND_CODES,
            )?
            else {
                return Ok(None);
            };
            let Some(group) = out.db_cluster_parameter_groups().first() else {
                return Ok(None);
            };
            (
                group.db_cluster_parameter_group_arn().map(str::to_owned),
                group
                    .db_parameter_group_family()
                    .unwrap_or_default()
                    .to_owned(),
                group.description().unwrap_or_default().to_owned(),
            )
        }
    };
    let tags = match &arn {
        Some(arn) => super::list_tags(rds, arn).await?,
        None => Vec::new(),
    };
    let (overrides, statuses) = read_overrides(cx, flavor, name, &family, desired).await?;
    Ok(Some(ObservedGroup {
        arn,
        family,
        description,
        tags,
        overrides,
        statuses,
    }))
}

/// The group's overrides and their status entries, sorted by name.
async fn read_overrides(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
    family: &str,
    desired: Option<&BTreeMap<String, String>>,
) -> Result<(BTreeMap<String, String>, Vec<Parameter>), SyncError> {
    let params = describe_parameters(cx, flavor, name).await?;
    // The defaults are needed only for a parameter the spec does not name and RDS does not
    // call the user's.
    let needs_defaults = params.iter().any(|param| {
        param
            .parameter_name()
            .is_some_and(|n| !desired.is_some_and(|d| d.contains_key(n)))
            && param.is_modifiable() == Some(true)
            && param.source() != Some("user")
    });
    let families = if needs_defaults && !family.is_empty() {
        family_meta(cx, flavor, family).await?
    } else {
        Vec::new()
    };
    let mut overrides = BTreeMap::new();
    let mut statuses = BTreeMap::new();
    for param in &params {
        let (Some(pname), Some(value)) = (param.parameter_name(), param.parameter_value()) else {
            continue;
        };
        let named = desired.is_some_and(|d| d.contains_key(pname));
        if named || counts_as_override(param, lookup(&families, pname)) {
            overrides.insert(pname.to_owned(), value.to_owned());
            statuses.insert(pname.to_owned(), status_of(param));
        }
    }
    Ok((overrides, statuses.into_values().collect()))
}

async fn describe_parameters(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
) -> Result<Vec<SdkParameter>, SyncError> {
    let mut all = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let (params, next) = match flavor {
            Flavor::Instance => {
                let out = cx
                    .aws
                    .rds
                    .describe_db_parameters()
                    .db_parameter_group_name(name)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| SyncError::aws("DescribeDBParameters", AwsError::from_sdk(e)))?;
                (out.parameters, out.marker)
            }
            Flavor::Cluster => {
                let out = cx
                    .aws
                    .rds
                    .describe_db_cluster_parameters()
                    .db_cluster_parameter_group_name(name)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        SyncError::aws("DescribeDBClusterParameters", AwsError::from_sdk(e))
                    })?;
                (out.parameters, out.marker)
            }
        };
        all.extend(params.unwrap_or_default());
        marker = next;
        if marker.is_none() {
            return Ok(all);
        }
    }
}

/// The parameters of `delta` as RDS takes them, each with the apply method its type calls
/// for: `(to modify, to reset)`. A parameter the family lacks or will not let be modified is
/// terminal.
async fn to_send(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    family: &str,
    delta: &ParameterDelta,
) -> Result<(Vec<SdkParameter>, Vec<SdkParameter>), SyncError> {
    let families = family_meta(cx, flavor, family).await?;
    let param = |name: &str, value: Option<&String>| -> Result<SdkParameter, SyncError> {
        let Some(meta) = lookup(&families, name) else {
            return Err(SyncError::Terminal(format!(
                "spec.parameterOverrides: family {family} has no parameter {name:?} \
                 (RDS's engine defaults do not list it): remove it or fix its name"
            )));
        };
        if !meta.modifiable {
            return Err(SyncError::Terminal(format!(
                "spec.parameterOverrides: parameter {name:?} of family {family} is not \
                 modifiable: remove it"
            )));
        }
        Ok(SdkParameter::builder()
            .parameter_name(name)
            .set_parameter_value(value.cloned())
            .apply_method(if meta.dynamic {
                ApplyMethod::Immediate
            } else {
                ApplyMethod::PendingReboot
            })
            .build())
    };
    let modify = delta
        .modify
        .iter()
        .map(|(name, value)| param(name, Some(value)))
        .collect::<Result<Vec<_>, _>>()?;
    let reset = delta
        .reset
        .iter()
        .map(|name| param(name, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((modify, reset))
}

/// Sends `delta` to group `name`: resets first, then modifications, 20 parameters a call.
/// Returns the calls made.
pub(crate) async fn apply(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
    family: &str,
    delta: &ParameterDelta,
) -> Result<Vec<String>, SyncError> {
    if delta.is_empty() {
        return Ok(Vec::new());
    }
    let (modify, reset) = to_send(cx, flavor, family, delta).await?;
    let rds = &cx.aws.rds;
    let mut calls = Vec::new();
    for chunk in reset.chunks(PER_CALL) {
        let op = match flavor {
            Flavor::Instance => {
                rds.reset_db_parameter_group()
                    .db_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| SyncError::aws("ResetDBParameterGroup", AwsError::from_sdk(e)))?;
                "ResetDBParameterGroup"
            }
            Flavor::Cluster => {
                rds.reset_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| {
                        SyncError::aws("ResetDBClusterParameterGroup", AwsError::from_sdk(e))
                    })?;
                "ResetDBClusterParameterGroup"
            }
        };
        calls.push(op.to_owned());
    }
    for chunk in modify.chunks(PER_CALL) {
        let op = match flavor {
            Flavor::Instance => {
                rds.modify_db_parameter_group()
                    .db_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| SyncError::aws("ModifyDBParameterGroup", AwsError::from_sdk(e)))?;
                "ModifyDBParameterGroup"
            }
            Flavor::Cluster => {
                rds.modify_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(name)
                    .set_parameters(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| {
                        SyncError::aws("ModifyDBClusterParameterGroup", AwsError::from_sdk(e))
                    })?;
                "ModifyDBClusterParameterGroup"
            }
        };
        calls.push(op.to_owned());
    }
    tracing::info!(
        group = name,
        modified = delta.modify.len(),
        reset = delta.reset.len(),
        "parameter group overrides applied"
    );
    Ok(calls)
}

/// The overrides and their status after [`apply`] (RDS reports the new values at once).
pub(crate) async fn reread(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
    family: &str,
    desired: Option<&BTreeMap<String, String>>,
) -> Result<Vec<Parameter>, SyncError> {
    Ok(read_overrides(cx, flavor, name, family, desired).await?.1)
}

/// Creates group `name`.
pub(crate) async fn create(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
    family: &str,
    description: &str,
    tags: Option<&[Tag]>,
) -> Result<(), SyncError> {
    let rds = &cx.aws.rds;
    let tags = tags.map(super::sdk_tags);
    match flavor {
        Flavor::Instance => {
            rds.create_db_parameter_group()
                .db_parameter_group_name(name)
                .db_parameter_group_family(family)
                .description(description)
                .set_tags(tags)
                .send()
                .await
                .map_err(|e| SyncError::aws("CreateDBParameterGroup", AwsError::from_sdk(e)))?;
        }
        Flavor::Cluster => {
            rds.create_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .db_parameter_group_family(family)
                .description(description)
                .set_tags(tags)
                .send()
                .await
                .map_err(|e| {
                    SyncError::aws("CreateDBClusterParameterGroup", AwsError::from_sdk(e))
                })?;
        }
    }
    tracing::info!(group = name, ?flavor, "parameter group created");
    Ok(())
}

/// Deletes group `name` (gone already is done).
pub(crate) async fn delete(cx: &SyncCx<'_>, flavor: Flavor, name: &str) -> Result<(), SyncError> {
    let rds = &cx.aws.rds;
    let (op, res) = match flavor {
        Flavor::Instance => (
            "DeleteDBParameterGroup",
            rds.delete_db_parameter_group()
                .db_parameter_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk),
        ),
        Flavor::Cluster => (
            "DeleteDBClusterParameterGroup",
            rds.delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(AwsError::from_sdk),
        ),
    };
    SyncError::unless_not_found(op, res, NOT_FOUND_CODES)?;
    Ok(())
}

/// What a group's spec asks for, whichever the flavour.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Desired<'a> {
    /// `spec.parameterOverrides`.
    pub overrides: Option<&'a BTreeMap<String, String>>,
    /// `spec.tags`.
    pub tags: Option<&'a [Tag]>,
}

/// Brings group `name` in line with `desired`: tags (when the spec lists them), then the
/// overrides; the status shows the overrides as RDS reports them afterwards.
pub(crate) async fn update(
    cx: &SyncCx<'_>,
    flavor: Flavor,
    name: &str,
    desired: Desired<'_>,
    observed: ObservedGroup,
) -> Result<Synced, SyncError> {
    let mut updated = Vec::new();
    if let (Some(tags), Some(arn)) = (desired.tags, &observed.arn) {
        let delta = tag_delta(tags, &observed.tags);
        if !delta.is_empty() {
            super::apply_tags(&cx.aws.rds, arn, &delta).await?;
            updated.push("tags".to_owned());
        }
    }
    let delta = parameter_delta(desired.overrides, &observed.overrides);
    let mut statuses = observed.statuses;
    if !delta.is_empty() {
        updated.extend(apply(cx, flavor, name, &observed.family, &delta).await?);
        statuses = reread(cx, flavor, name, &observed.family, desired.overrides).await?;
    }
    Ok(Synced {
        updated,
        arn: observed.arn,
        // null, not absent, once there are none: the status is merged.
        status: json!({
            "parameterOverrideStatuses": if statuses.is_empty() { Value::Null } else { json!(statuses) },
        }),
        ..Synced::default()
    })
}

/// The spec of an adopted group: AWS's state.
pub(crate) fn adopted_spec(name: &str, observed: &ObservedGroup) -> Value {
    json!({
        "name": name,
        "family": observed.family,
        "description": observed.description,
        "parameterOverrides": observed.overrides,
        "tags": observed.tags,
    })
}

/// Implements [`AckKind`](crate::ack::runtime::AckKind) for a parameter-group kind whose spec
/// has `name`, `family`, `description`, `parameterOverrides` and `tags`.
macro_rules! parameter_group_kind {
    ($kind:ty, $flavor:expr, $finalizer:literal) => {
        impl $crate::ack::runtime::AckKind for $kind {
            const FINALIZER: &'static str = $finalizer;
            const TERMINAL_CODES: &'static [&'static str] =
                $crate::rds::parameter_group::TERMINAL_CODES;
            const ALREADY_EXISTS_CODES: &'static [&'static str] =
                $crate::rds::parameter_group::ALREADY_EXISTS_CODES;
            const ADOPTION_KEY: &'static str = "name";
            type Observed = $crate::rds::parameter_group::ObservedGroup;

            fn identifier(&self) -> String {
                self.spec.name.clone()
            }

            async fn read(
                &self,
                cx: &$crate::ack::runtime::SyncCx<'_>,
                id: &str,
            ) -> Result<Option<Self::Observed>, $crate::ack::runtime::SyncError> {
                $crate::rds::parameter_group::read(
                    cx,
                    $flavor,
                    id,
                    self.spec.parameter_overrides.as_ref(),
                )
                .await
            }

            async fn create(
                &self,
                cx: &$crate::ack::runtime::SyncCx<'_>,
                id: &str,
            ) -> Result<$crate::ack::runtime::Created, $crate::ack::runtime::SyncError> {
                $crate::rds::parameter_group::create(
                    cx,
                    $flavor,
                    id,
                    &self.spec.family,
                    &self.spec.description,
                    self.spec.tags.as_deref(),
                )
                .await?;
                Ok($crate::ack::runtime::Created::default())
            }

            async fn update(
                &self,
                cx: &$crate::ack::runtime::SyncCx<'_>,
                id: &str,
                observed: Self::Observed,
            ) -> Result<$crate::ack::runtime::Synced, $crate::ack::runtime::SyncError> {
                let desired = $crate::rds::parameter_group::Desired {
                    overrides: self.spec.parameter_overrides.as_ref(),
                    tags: self.spec.tags.as_deref(),
                };
                $crate::rds::parameter_group::update(cx, $flavor, id, desired, observed).await
            }

            fn adopted_spec(id: &str, observed: &Self::Observed) -> serde_json::Value {
                $crate::rds::parameter_group::adopted_spec(id, observed)
            }

            async fn delete(
                &self,
                cx: &$crate::ack::runtime::SyncCx<'_>,
                id: &str,
                _observed: Self::Observed,
            ) -> Result<$crate::ack::runtime::Deleted, $crate::ack::runtime::SyncError> {
                $crate::rds::parameter_group::delete(cx, $flavor, id).await?;
                Ok($crate::ack::runtime::Deleted::Done)
            }
        }
    };
}
pub(crate) use parameter_group_kind;

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn delta_table() {
        let cases = [
            (
                "in sync",
                Some(map(&[("a", "1")])),
                map(&[("a", "1")]),
                map(&[]),
                vec![],
            ),
            (
                "new",
                Some(map(&[("a", "1"), ("b", "2")])),
                map(&[("a", "1")]),
                map(&[("b", "2")]),
                vec![],
            ),
            (
                "changed",
                Some(map(&[("a", "2")])),
                map(&[("a", "1")]),
                map(&[("a", "2")]),
                vec![],
            ),
            (
                "removed",
                Some(map(&[])),
                map(&[("a", "1")]),
                map(&[]),
                vec!["a"],
            ),
            (
                "absent is none",
                None,
                map(&[("a", "1")]),
                map(&[]),
                vec!["a"],
            ),
            ("absent, nothing set", None, map(&[]), map(&[]), vec![]),
        ];
        for (name, desired, observed, modify, reset) in cases {
            let delta = parameter_delta(desired.as_ref(), &observed);
            assert_eq!(delta.modify, modify, "{name}");
            assert_eq!(delta.reset, reset, "{name}");
        }
    }

    #[test]
    fn an_unnamed_parameter_is_an_override_when_a_user_set_it_or_it_left_its_default() {
        let param = |value: Option<&str>, modifiable: bool, source: &str| {
            SdkParameter::builder()
                .parameter_name("p")
                .set_parameter_value(value.map(str::to_owned))
                .is_modifiable(modifiable)
                .source(source)
                .build()
        };
        let meta = |default: Option<&str>| Meta {
            modifiable: true,
            dynamic: true,
            default: default.map(str::to_owned),
        };
        assert!(counts_as_override(&param(Some("1"), true, "user"), None));
        assert!(
            !counts_as_override(&param(Some("1"), false, "user"), None),
            "not modifiable"
        );
        assert!(
            !counts_as_override(&param(None, true, "user"), None),
            "no value"
        );
        assert!(counts_as_override(
            &param(Some("2"), true, "engine-default"),
            Some(&meta(Some("1")))
        ));
        assert!(!counts_as_override(
            &param(Some("1"), true, "engine-default"),
            Some(&meta(Some("1")))
        ));
        assert!(
            !counts_as_override(&param(Some("1"), true, "system"), Some(&meta(None))),
            "no default to differ from"
        );
    }

    #[test]
    fn the_cache_keeps_only_families_with_parameters_and_only_so_many() {
        let cache = MetaCache::default();
        let key = |family: &str| (Flavor::Instance, "r".to_owned(), family.to_owned());
        let one = Family::from([(
            "p".to_owned(),
            Meta {
                modifiable: true,
                dynamic: true,
                default: None,
            },
        )]);
        cache.keep(key("empty"), Family::new());
        assert!(
            cache.get(&key("empty")).is_none(),
            "an empty answer is asked again"
        );
        for i in 0..CACHED_FAMILIES + 10 {
            cache.keep(key(&format!("f{i}")), one.clone());
        }
        assert!(cache.get(&key("f0")).is_some());
        assert!(
            cache
                .get(&key(&format!("f{}", CACHED_FAMILIES + 5)))
                .is_none()
        );
    }
}

//! `rds.services.k8s.aws/v1alpha1 DBParameterGroup`: ACK's API; the logic it shares with
//! `DBClusterParameterGroup` is in [`super::parameter_group`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parameter_group::{Flavor, Parameter, parameter_group_kind};
use crate::ack::condition::Condition;
use crate::ack::types::{AckResourceMetadata, Tag};

/// Spec of a DB parameter group (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rds.services.k8s.aws",
    version = "v1alpha1",
    kind = "DBParameterGroup",
    plural = "dbparametergroups",
    namespaced,
    status = "DBParameterGroupStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct DBParameterGroupSpec {
    /// What the group is for (RDS cannot change it).
    pub description: String,
    /// The parameter group family, e.g. `postgres16` or `mysql8.0` (RDS cannot change it).
    pub family: String,
    /// Name of the group (lower case in AWS).
    pub name: String,
    /// Parameter name → value: the group's user-defined parameters. Each is applied at once
    /// or at the next reboot as its type requires; one removed goes back to its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_overrides: Option<BTreeMap<String, String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Observed state of a DB parameter group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBParameterGroupStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The overrides as RDS reports them: name, value, apply method and type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_override_statuses: Option<Vec<Parameter>>,
}

crate::ack::runtime::impl_ack_status!(DBParameterGroupStatus);

parameter_group_kind!(
    DBParameterGroup,
    Flavor::Instance,
    "finalizers.rds.services.k8s.aws/DBParameterGroup"
);

//! `rds.services.k8s.aws/v1alpha1 DBSubnetGroup`: ACK's API, the pure desired-vs-observed
//! logic, and the RDS calls.

use std::collections::BTreeSet;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ack::condition::Condition;
use crate::ack::error::AwsError;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{
    AckResourceMetadata, AwsResourceReferenceWrapper, Tag, TagDelta, tag_delta,
};

/// Spec of a DB subnet group (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rds.services.k8s.aws",
    version = "v1alpha1",
    kind = "DBSubnetGroup",
    plural = "dbsubnetgroups",
    namespaced,
    status = "DBSubnetGroupStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct DBSubnetGroupSpec {
    /// Name of the group (lower case in AWS).
    pub name: String,
    /// Description of the group.
    pub description: String,
    /// EC2 subnet ids.
    #[serde(default, rename = "subnetIDs", skip_serializing_if = "Option::is_none")]
    pub subnet_ids: Option<Vec<String>>,
    /// References to `ec2.services.k8s.aws` Subnets (their `status.subnetID`), instead of ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_refs: Option<Vec<AwsResourceReferenceWrapper>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Observed state of a DB subnet group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DBSubnetGroupStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// e.g. `Complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_group_status: Option<String>,
    /// The subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<Subnet>>,
    /// `IPV4`, `DUAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_network_types: Option<Vec<String>>,
    /// The VPC of the subnets.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

crate::ack::runtime::impl_ack_status!(DBSubnetGroupStatus);

/// One subnet of a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    /// Subnet id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_identifier: Option<String>,
    /// Its availability zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_availability_zone: Option<AvailabilityZone>,
    /// Its outpost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_outpost: Option<Outpost>,
    /// e.g. `Active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_status: Option<String>,
}

/// An availability zone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AvailabilityZone {
    /// Zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An outpost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outpost {
    /// Outpost ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// The subnets RDS reports for a group, in ACK's status shape.
pub(crate) fn subnets_from(subnets: &[aws_sdk_rds::types::Subnet]) -> Vec<Subnet> {
    subnets
        .iter()
        .map(|s| Subnet {
            subnet_identifier: s.subnet_identifier().map(str::to_owned),
            subnet_availability_zone: s.subnet_availability_zone().map(|z| AvailabilityZone {
                name: z.name().map(str::to_owned),
            }),
            subnet_outpost: s.subnet_outpost().map(|o| Outpost {
                arn: o.arn().map(str::to_owned),
            }),
            subnet_status: s.subnet_status().map(str::to_owned),
        })
        .collect()
}

/// What RDS holds for a subnet group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedSubnetGroup {
    /// ARN.
    pub arn: Option<String>,
    /// Description.
    pub description: String,
    /// Subnet ids.
    pub subnet_ids: Vec<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: DBSubnetGroupStatus,
}

/// The calls that bring a subnet group in line with its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubnetGroupDelta {
    /// ModifyDBSubnetGroup with this description and these subnets.
    pub modify: Option<(String, Vec<String>)>,
    /// Tag changes.
    pub tags: TagDelta,
}

/// Desired vs observed: description and subnets (as a set) go through one modify; tags only
/// when the spec lists them.
pub fn subnet_group_delta(
    desired: &DBSubnetGroupSpec,
    observed: &ObservedSubnetGroup,
) -> SubnetGroupDelta {
    let want: Option<BTreeSet<&String>> = desired.subnet_ids.as_ref().map(|s| s.iter().collect());
    let have: BTreeSet<&String> = observed.subnet_ids.iter().collect();
    let subnets_differ = want.as_ref().is_some_and(|w| *w != have);
    let modify = (desired.description != observed.description || subnets_differ).then(|| {
        (
            desired.description.clone(),
            desired
                .subnet_ids
                .clone()
                .unwrap_or_else(|| observed.subnet_ids.clone()),
        )
    });
    SubnetGroupDelta {
        modify,
        tags: desired
            .tags
            .as_ref()
            .map(|t| tag_delta(t, &observed.tags))
            .unwrap_or_default(),
    }
}

/// The spec of an adopted group.
pub fn adopted_spec(name: &str, observed: &ObservedSubnetGroup) -> Value {
    json!({
        "name": name,
        "description": observed.description,
        "subnetIDs": observed.subnet_ids,
        "tags": observed.tags,
    })
}

const SUBNET_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "Subnet",
    plural: "subnets",
    path: &["status", "subnetID"],
};

/// AWS error codes that make a DBSubnetGroup terminal.
pub const TERMINAL_CODES: &[&str] = &[
    "DBSubnetGroupDoesNotCoverEnoughAZs",
    "InvalidSubnet",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "SubnetAlreadyInUse",
    "InvalidSubnetID.NotFound",
];

/// AWS error codes meaning the DB subnet group does not exist.
const NOT_FOUND_CODES: &[&str] = &["DBSubnetGroupNotFoundFault"];

async fn read(
    rds: &aws_sdk_rds::Client,
    name: &str,
) -> Result<Option<ObservedSubnetGroup>, SyncError> {
    let res = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
        .map_err(AwsError::from_sdk);
    let Some(out) = SyncError::unless_not_found("DescribeDBSubnetGroups", res, NOT_FOUND_CODES)?
    else {
        return Ok(None);
    };
    let Some(g) = out.db_subnet_groups().first() else {
        return Ok(None);
    };
    let arn = g.db_subnet_group_arn().map(str::to_owned);
    let tags = match &arn {
        Some(arn) => super::list_tags(rds, arn).await?,
        None => Vec::new(),
    };
    let subnets = subnets_from(g.subnets());
    Ok(Some(ObservedSubnetGroup {
        arn,
        description: g
            .db_subnet_group_description()
            .unwrap_or_default()
            .to_owned(),
        subnet_ids: subnets
            .iter()
            .filter_map(|s| s.subnet_identifier.clone())
            .collect(),
        tags,
        status: DBSubnetGroupStatus {
            subnet_group_status: g.subnet_group_status().map(str::to_owned),
            supported_network_types: Some(g.supported_network_types().to_vec())
                .filter(|v| !v.is_empty()),
            vpc_id: g.vpc_id().map(str::to_owned),
            subnets: Some(subnets),
            ..Default::default()
        },
    }))
}

impl AckKind for DBSubnetGroup {
    const FINALIZER: &'static str = "finalizers.rds.services.k8s.aws/DBSubnetGroup";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[
        "DBSubnetGroupAlreadyExists",
        "DBSubnetGroupAlreadyExistsFault",
    ];
    const ADOPTION_KEY: &'static str = "name";
    type Observed = ObservedSubnetGroup;

    fn identifier(&self) -> String {
        self.spec.name.clone()
    }

    fn has_references(&self) -> bool {
        self.spec
            .subnet_refs
            .as_ref()
            .is_some_and(|r| !r.is_empty())
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        if let Some(subnet_refs) = &self.spec.subnet_refs {
            if self.spec.subnet_ids.as_ref().is_some_and(|s| !s.is_empty()) {
                return Err(SyncError::Terminal(
                    "spec.subnetIDs and spec.subnetRefs are both set: keep only one".into(),
                ));
            }
            let mut ids = Vec::new();
            for r in subnet_refs {
                ids.push(refs::resolve(cx, "spec.subnetRefs", r, SUBNET_REF).await?);
            }
            out.spec.subnet_ids = Some(ids);
        }
        Ok(out)
    }

    async fn read(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
    ) -> Result<Option<ObservedSubnetGroup>, SyncError> {
        read(&cx.aws.rds, id).await
    }

    async fn create(&self, cx: &SyncCx<'_>, id: &str) -> Result<Created, SyncError> {
        cx.aws
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(id)
            .db_subnet_group_description(&self.spec.description)
            .set_subnet_ids(self.spec.subnet_ids.clone())
            .set_tags(self.spec.tags.as_deref().map(super::sdk_tags))
            .send()
            .await
            .map_err(|e| SyncError::aws("CreateDBSubnetGroup", AwsError::from_sdk(e)))?;
        tracing::info!(name = id, "DB subnet group created");
        Ok(Created::default())
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedSubnetGroup,
    ) -> Result<Synced, SyncError> {
        let delta = subnet_group_delta(&self.spec, &observed);
        let mut status = observed.status.clone();
        let mut updated = Vec::new();
        if let Some((description, subnets)) = &delta.modify {
            updated.push("ModifyDBSubnetGroup".to_owned());
            let out = cx
                .aws
                .rds
                .modify_db_subnet_group()
                .db_subnet_group_name(id)
                .db_subnet_group_description(description)
                .set_subnet_ids(Some(subnets.clone()))
                .send()
                .await
                .map_err(|e| SyncError::aws("ModifyDBSubnetGroup", AwsError::from_sdk(e)))?;
            if let Some(g) = out.db_subnet_group() {
                status.subnet_group_status = g.subnet_group_status().map(str::to_owned);
                status.vpc_id = g.vpc_id().map(str::to_owned);
            }
            tracing::info!(name = id, "DB subnet group modified");
        }
        if let (Some(arn), false) = (&observed.arn, delta.tags.is_empty()) {
            super::apply_tags(&cx.aws.rds, arn, &delta.tags).await?;
            updated.push("tags".to_owned());
        }
        Ok(Synced {
            updated,
            arn: observed.arn.clone(),
            status: serde_json::to_value(&status).unwrap_or_default(),
            ..Default::default()
        })
    }

    fn adopted_spec(id: &str, observed: &ObservedSubnetGroup) -> Value {
        adopted_spec(id, observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        _observed: ObservedSubnetGroup,
    ) -> Result<Deleted, SyncError> {
        let res = cx
            .aws
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(id)
            .send()
            .await
            .map_err(AwsError::from_sdk);
        SyncError::unless_not_found("DeleteDBSubnetGroup", res, NOT_FOUND_CODES)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(desc: &str, subnets: Option<&[&str]>, tags: Option<Vec<Tag>>) -> DBSubnetGroupSpec {
        DBSubnetGroupSpec {
            name: "g".into(),
            description: desc.into(),
            subnet_ids: subnets.map(|s| s.iter().map(|x| x.to_string()).collect()),
            subnet_refs: None,
            tags,
        }
    }

    fn observed(desc: &str, subnets: &[&str], tags: Vec<Tag>) -> ObservedSubnetGroup {
        ObservedSubnetGroup {
            description: desc.into(),
            subnet_ids: subnets.iter().map(|x| x.to_string()).collect(),
            tags,
            ..Default::default()
        }
    }

    #[test]
    fn delta_table() {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = vec![
            (
                "in sync",
                spec("d", Some(&["a", "b"]), None),
                observed("d", &["b", "a"], vec![]),
                SubnetGroupDelta::default(),
            ),
            (
                "description changed keeps the subnets",
                spec("new", None, None),
                observed("d", &["a"], vec![]),
                SubnetGroupDelta {
                    modify: Some(("new".into(), owned(&["a"]))),
                    ..Default::default()
                },
            ),
            (
                "subnet added",
                spec("d", Some(&["a", "c"]), None),
                observed("d", &["a"], vec![]),
                SubnetGroupDelta {
                    modify: Some(("d".into(), owned(&["a", "c"]))),
                    ..Default::default()
                },
            ),
            (
                "tags only",
                spec("d", Some(&["a"]), Some(vec![Tag::new("team", "x")])),
                observed("d", &["a"], vec![Tag::new("old", "y")]),
                SubnetGroupDelta {
                    modify: None,
                    tags: TagDelta {
                        add: vec![Tag::new("team", "x")],
                        remove: vec!["old".into()],
                    },
                },
            ),
            (
                "tags absent from the spec are not managed",
                spec("d", Some(&["a"]), None),
                observed("d", &["a"], vec![Tag::new("old", "y")]),
                SubnetGroupDelta::default(),
            ),
        ];
        for (name, desired, obs, want) in cases {
            assert_eq!(subnet_group_delta(&desired, &obs), want, "{name}");
        }
    }

    #[test]
    fn adopted_spec_carries_aws_state() {
        let obs = observed("from aws", &["s1", "s2"], vec![Tag::new("k", "v")]);
        assert_eq!(
            adopted_spec("g", &obs),
            json!({"name": "g", "description": "from aws", "subnetIDs": ["s1", "s2"], "tags": [{"key": "k", "value": "v"}]})
        );
    }
}

//! `ec2.services.k8s.aws/v1alpha1 InternetGateway`: ACK's API and the EC2 calls. The gateway is
//! attached to `vpc` (detached from any other first), `routeTables` are its edge associations
//! (AssociateRouteTable with the gateway), and a deletion detaches it before deleting.

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{aws, check_tags, found, generated_identifier, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
use crate::ack::refs;
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, AwsResourceReferenceWrapper, Tag};

/// Spec of an internet gateway (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "InternetGateway",
    plural = "internetgateways",
    namespaced,
    status = "InternetGatewayStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct InternetGatewaySpec {
    /// References to `RouteTable`s (their `status.routeTableID`), instead of `routeTables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table_refs: Option<Vec<AwsResourceReferenceWrapper>>,
    /// Route tables associated with the gateway (edge associations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_tables: Option<Vec<String>>,
    /// Tags (absent: not managed; `aws:*` keys are AWS's and never touched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// The VPC to attach to (absent: detached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Reference to a `VPC` (its `status.vpcID`), instead of `vpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<AwsResourceReferenceWrapper>,
}

/// Observed state of an internet gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InternetGatewayStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The VPC attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<InternetGatewayAttachment>>,
    /// The gateway id (`igw-…`), assigned by AWS.
    #[serde(
        default,
        rename = "internetGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub internet_gateway_id: Option<String>,
    /// Owner account.
    #[serde(default, rename = "ownerID", skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
}

crate::ack::runtime::impl_ack_status!(InternetGatewayStatus);

/// One VPC attachment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InternetGatewayAttachment {
    /// `attaching`, `attached`, `detaching`, `detached` (moto and AWS report `available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The VPC.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// What EC2 holds for an internet gateway.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedGateway {
    /// The VPC it is attached to (not detaching or detached).
    pub vpc: Option<String>,
    /// Edge associations: (route table id, association id).
    pub route_tables: Vec<(String, String)>,
    /// The user's tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: InternetGatewayStatus,
}

/// The calls that bring a gateway in line with its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatewayDelta {
    /// DetachInternetGateway from this VPC.
    pub detach: Option<String>,
    /// AttachInternetGateway to this VPC.
    pub attach: Option<String>,
    /// DisassociateRouteTable, by association id.
    pub disassociate: Vec<String>,
    /// AssociateRouteTable, by route table id.
    pub associate: Vec<String>,
}

/// Desired vs observed: the attachment follows `vpc` (absent: detached, as in ACK); route tables
/// as a set when the spec lists them.
pub fn gateway_delta(spec: &InternetGatewaySpec, observed: &ObservedGateway) -> GatewayDelta {
    let want = spec.vpc.clone().filter(|v| !v.is_empty());
    let (detach, attach) = if want == observed.vpc {
        (None, None)
    } else {
        (observed.vpc.clone(), want)
    };
    let (associate, disassociate) = match &spec.route_tables {
        None => (Vec::new(), Vec::new()),
        Some(want) => {
            let want: BTreeSet<&String> = want.iter().collect();
            let have: BTreeSet<&String> = observed.route_tables.iter().map(|(r, _)| r).collect();
            (
                want.iter()
                    .filter(|r| !have.contains(*r))
                    .map(|r| r.to_string())
                    .collect(),
                observed
                    .route_tables
                    .iter()
                    .filter(|(r, _)| !want.contains(r))
                    .map(|(_, a)| a.clone())
                    .collect(),
            )
        }
    };
    GatewayDelta {
        detach,
        attach,
        disassociate,
        associate,
    }
}

/// The spec of an adopted gateway.
pub fn adopted_spec(observed: &ObservedGateway) -> Value {
    let mut spec = json!({ "tags": observed.tags });
    if let Some(v) = &observed.vpc {
        spec["vpc"] = json!(v);
    }
    if !observed.route_tables.is_empty() {
        let rts: Vec<&String> = observed.route_tables.iter().map(|(r, _)| r).collect();
        spec["routeTables"] = json!(rts);
    }
    spec
}

/// AWS error codes that make a gateway terminal.
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidVpcID.NotFound",
    "Resource.AlreadyAssociated",
];

const NOT_FOUND: &[&str] = &["InvalidInternetGatewayID.NotFound"];

/// Reads a gateway and its edge associations.
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedGateway>, SyncError> {
    let res = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(id)
        .send()
        .await;
    let Some(out) = found("DescribeInternetGateways", res, NOT_FOUND)? else {
        return Ok(None);
    };
    let Some(g) = out.internet_gateways().first() else {
        return Ok(None);
    };
    let attachments: Vec<InternetGatewayAttachment> = g
        .attachments()
        .iter()
        .map(|a| InternetGatewayAttachment {
            state: a.state().map(|s| s.as_str().to_owned()),
            vpc_id: a.vpc_id().map(str::to_owned),
        })
        .collect();
    let vpc = attachments
        .iter()
        .find(|a| !matches!(a.state.as_deref(), Some("detached" | "detaching")))
        .and_then(|a| a.vpc_id.clone());
    // Edge associations exist only with route tables of the attached VPC: read that VPC's
    // tables (EC2's association.gateway-id filter is not served by every endpoint).
    let mut route_tables = Vec::new();
    if let Some(vpc) = &vpc {
        let rts = ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .send()
            .await
            .map_err(aws("DescribeRouteTables"))?;
        route_tables = rts
            .route_tables()
            .iter()
            .flat_map(|rt| rt.associations())
            .filter(|a| a.gateway_id() == Some(id))
            .map(|a| {
                (
                    a.route_table_id().unwrap_or_default().to_owned(),
                    a.route_table_association_id()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
    }
    Ok(Some(ObservedGateway {
        vpc,
        route_tables,
        tags: user_tags(g.tags()),
        status: InternetGatewayStatus {
            attachments: Some(attachments),
            internet_gateway_id: Some(id.to_owned()),
            owner_id: g.owner_id().map(str::to_owned),
            ..Default::default()
        },
    }))
}

impl AckKind for InternetGateway {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/InternetGateway";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "internetGatewayID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedGateway;

    fn identifier(&self) -> String {
        let status = self.status.as_ref();
        generated_identifier(
            status.and_then(|s| s.ack_resource_metadata.as_ref()),
            status.and_then(|s| s.internet_gateway_id.as_ref()),
        )
    }

    fn has_references(&self) -> bool {
        self.spec.vpc_ref.is_some()
            || self
                .spec
                .route_table_refs
                .as_ref()
                .is_some_and(|r| !r.is_empty())
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        if let Some(r) = &self.spec.vpc_ref {
            if self.spec.vpc.as_ref().is_some_and(|v| !v.is_empty()) {
                return Err(SyncError::Terminal(
                    "spec.vpc and spec.vpcRef are both set: keep only one".into(),
                ));
            }
            out.spec.vpc = Some(refs::resolve(cx, "spec.vpcRef", r, super::subnet::VPC_REF).await?);
        }
        if let Some(rts) = self
            .spec
            .route_table_refs
            .as_ref()
            .filter(|r| !r.is_empty())
        {
            if self
                .spec
                .route_tables
                .as_ref()
                .is_some_and(|r| !r.is_empty())
            {
                return Err(SyncError::Terminal(
                    "spec.routeTables and spec.routeTableRefs are both set: keep only one".into(),
                ));
            }
            let mut ids = Vec::new();
            for (i, r) in rts.iter().enumerate() {
                let field = format!("spec.routeTableRefs[{i}]");
                ids.push(refs::resolve(cx, &field, r, super::subnet::ROUTE_TABLE_REF).await?);
            }
            out.spec.route_tables = Some(ids);
        }
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedGateway>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check_tags(self.spec.tags.as_deref())
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let out = cx
            .aws
            .ec2
            .create_internet_gateway()
            .set_tag_specifications(tag_specs(
                ResourceType::InternetGateway,
                self.spec.tags.as_deref(),
            ))
            .send()
            .await
            .map_err(aws("CreateInternetGateway"))?;
        let id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(str::to_owned);
        tracing::info!(id = ?id, "internet gateway created");
        Ok(Created {
            id,
            ..Default::default()
        })
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedGateway,
    ) -> Result<Synced, SyncError> {
        check_tags(self.spec.tags.as_deref())?;
        let ec2 = &cx.aws.ec2;
        let delta = gateway_delta(&self.spec, &observed);
        let mut updated = Vec::new();
        if let Some(vpc) = &delta.detach {
            ec2.detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
                .map_err(aws("DetachInternetGateway"))?;
            updated.push("DetachInternetGateway".to_owned());
        }
        if let Some(vpc) = &delta.attach {
            ec2.attach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
                .map_err(aws("AttachInternetGateway"))?;
            updated.push("AttachInternetGateway".to_owned());
        }
        for a in &delta.disassociate {
            ec2.disassociate_route_table()
                .association_id(a)
                .send()
                .await
                .map_err(aws("DisassociateRouteTable"))?;
            updated.push("DisassociateRouteTable".to_owned());
        }
        for rt in &delta.associate {
            ec2.associate_route_table()
                .route_table_id(rt)
                .gateway_id(id)
                .send()
                .await
                .map_err(aws("AssociateRouteTable"))?;
            updated.push("AssociateRouteTable".to_owned());
        }
        sync_tags(
            ec2,
            id,
            self.spec.tags.as_deref(),
            &observed.tags,
            &mut updated,
        )
        .await?;
        let observed = if updated.is_empty() {
            observed
        } else {
            read(ec2, id).await?.unwrap_or(observed)
        };
        Ok(Synced {
            updated,
            status: serde_json::to_value(&observed.status).unwrap_or_default(),
            ..Default::default()
        })
    }

    fn adopted_spec(_id: &str, observed: &ObservedGateway) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedGateway,
    ) -> Result<Deleted, SyncError> {
        let ec2 = &cx.aws.ec2;
        for (_, a) in &observed.route_tables {
            ec2.disassociate_route_table()
                .association_id(a)
                .send()
                .await
                .map_err(aws("DisassociateRouteTable"))?;
        }
        if let Some(vpc) = &observed.vpc {
            ec2.detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
                .map_err(aws("DetachInternetGateway"))?;
        }
        let res = ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await;
        found("DeleteInternetGateway", res, NOT_FOUND)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attachment_follows_the_spec() {
        let attached = ObservedGateway {
            vpc: Some("vpc-a".into()),
            ..Default::default()
        };
        let spec = |vpc: Option<&str>| InternetGatewaySpec {
            vpc: vpc.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(
            gateway_delta(&spec(Some("vpc-a")), &attached),
            GatewayDelta::default()
        );
        let d = gateway_delta(&spec(Some("vpc-b")), &attached);
        assert_eq!(
            (d.detach.as_deref(), d.attach.as_deref()),
            (Some("vpc-a"), Some("vpc-b"))
        );
        let d = gateway_delta(&spec(None), &attached);
        assert_eq!((d.detach.as_deref(), d.attach), (Some("vpc-a"), None));
        let d = gateway_delta(&spec(Some("vpc-b")), &ObservedGateway::default());
        assert_eq!((d.detach, d.attach.as_deref()), (None, Some("vpc-b")));
    }
}

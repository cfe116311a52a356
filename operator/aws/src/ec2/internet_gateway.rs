//! `ec2.services.k8s.aws/v1alpha1 InternetGateway`: ACK's API and the EC2 calls. The gateway is
//! attached to `vpc` (detached from any other first), `routeTables` are its edge associations
//! (AssociateRouteTable with the gateway), and a deletion detaches it before deleting.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{
    Edge, association_delta, associations, created, deleted, described, disassociate_all, has_refs,
    reread, resolve_id, resolve_ids, status_identifier, sync_associations, synced,
};
use super::subnet::{ROUTE_TABLE_REF, VPC_REF};
use super::{aws, check_tags, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
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
    let (associate, disassociate) =
        association_delta(spec.route_tables.as_deref(), &observed.route_tables);
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
    let Some(g) = described("DescribeInternetGateways", res, NOT_FOUND, |o| {
        o.internet_gateways().first()
    })?
    else {
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
        route_tables = associations(rts.route_tables(), |a| a.gateway_id() == Some(id));
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

/// DetachInternetGateway of gateway `id` from `vpc`.
async fn detach(ec2: &Client, id: &str, vpc: &str) -> Result<(), SyncError> {
    ec2.detach_internet_gateway()
        .internet_gateway_id(id)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(aws("DetachInternetGateway"))?;
    Ok(())
}

impl AckKind for InternetGateway {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/InternetGateway";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "internetGatewayID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedGateway;

    fn identifier(&self) -> String {
        status_identifier(self.status.as_ref(), |s| s.internet_gateway_id.as_ref())
    }

    fn has_references(&self) -> bool {
        self.spec.vpc_ref.is_some() || has_refs(self.spec.route_table_refs.as_deref())
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        let s = &self.spec;
        let (vpc, rts) = (&mut out.spec.vpc, &mut out.spec.route_tables);
        resolve_id(
            cx,
            vpc,
            "spec.vpc",
            s.vpc_ref.as_ref(),
            "spec.vpcRef",
            VPC_REF,
        )
        .await?;
        let refs = s.route_table_refs.as_deref();
        resolve_ids(
            cx,
            rts,
            "spec.routeTables",
            refs,
            "spec.routeTableRefs",
            ROUTE_TABLE_REF,
        )
        .await?;
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedGateway>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check_tags(self.spec.tags.as_deref())
    }

    async fn find_created(
        &self,
        cx: &SyncCx<'_>,
        token: &crate::ack::types::Tag,
    ) -> Result<Option<String>, SyncError> {
        super::find_tagged!(
            cx,
            token,
            describe_internet_gateways,
            "DescribeInternetGateways",
            internet_gateways,
            internet_gateway_id
        )
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
        let id = out.internet_gateway().and_then(|g| g.internet_gateway_id());
        Ok(created("internet gateway", id))
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
            detach(ec2, id, vpc).await?;
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
        let edge = Edge::Gateway(id);
        sync_associations(
            ec2,
            edge,
            &delta.associate,
            &delta.disassociate,
            &mut updated,
        )
        .await?;
        sync_tags(
            ec2,
            id,
            self.spec.tags.as_deref(),
            &observed.tags,
            &mut updated,
        )
        .await?;
        let observed = reread(&updated, observed, read(ec2, id)).await?;
        Ok(synced(updated, &observed.status, None))
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
        disassociate_all(ec2, &observed.route_tables, &[]).await?;
        if let Some(vpc) = &observed.vpc {
            detach(ec2, id, vpc).await?;
        }
        let res = ec2
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await;
        deleted("DeleteInternetGateway", res, NOT_FOUND)
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

//! `ec2.services.k8s.aws/v1alpha1 NATGateway`: ACK's API and the EC2 calls. A gateway is created
//! once in its subnet (zonal) or VPC (regional), with its Elastic IP address (`allocationID` or
//! `allocationRef`); it is synced only once EC2 reports it `available` (ACK's rule), only its
//! tags change afterwards, and a deletion waits until EC2 reports it `deleted`.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AvailabilityMode, ConnectivityType, NatGateway, ResourceType};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{created, reread, synced};
use super::{aws, check_tags, found, generated_identifier, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, AwsResourceReferenceWrapper, Tag};

/// Spec of a NAT gateway (ACK field names). Every field but `tags` is used at create only, as
/// in ACK.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "NATGateway",
    plural = "natgateways",
    namespaced,
    status = "NATGatewayStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct NATGatewaySpec {
    /// The Elastic IP address (its allocation id) of a public zonal gateway.
    #[serde(
        default,
        rename = "allocationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub allocation_id: Option<String>,
    /// Reference to an `ElasticIPAddress` (its `status.allocationID`), instead of
    /// `allocationID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_ref: Option<AwsResourceReferenceWrapper>,
    /// `zonal` (one zone, the default) or `regional` (every zone of the VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_mode: Option<String>,
    /// Regional gateways only: the zones to serve and the addresses to use in each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone_addresses: Option<Vec<AvailabilityZoneAddress>>,
    /// `public` (the default) or `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_type: Option<String>,
    /// The subnet of a zonal gateway.
    #[serde(default, rename = "subnetID", skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Reference to a `Subnet` (its `status.subnetID`), instead of `subnetID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_ref: Option<AwsResourceReferenceWrapper>,
    /// Tags (absent: not managed; `aws:*` keys are AWS's and never touched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// The VPC of a regional gateway.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Reference to a `VPC` (its `status.vpcID`), instead of `vpcID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<AwsResourceReferenceWrapper>,
}

/// One zone of a regional gateway and the addresses it uses there.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityZoneAddress {
    /// Allocation ids of the Elastic IP addresses for this zone.
    #[serde(
        default,
        rename = "allocationIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub allocation_ids: Option<Vec<String>>,
    /// The zone, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The zone, by id.
    #[serde(
        default,
        rename = "availabilityZoneID",
        skip_serializing_if = "Option::is_none"
    )]
    pub availability_zone_id: Option<String>,
}

/// Observed state of a NAT gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NATGatewayStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// When the gateway was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub create_time: Option<String>,
    /// When the gateway was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub delete_time: Option<String>,
    /// Why the gateway failed (state `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    /// The message of `failureCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Its addresses and network interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_addresses: Option<Vec<NATGatewayAddress>>,
    /// The gateway id (`nat-…`), assigned by AWS.
    #[serde(
        default,
        rename = "natGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub nat_gateway_id: Option<String>,
    /// Reserved bandwidth (AWS Support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_bandwidth: Option<ProvisionedBandwidth>,
    /// `pending`, `failed`, `available`, `deleting` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The VPC the gateway is in.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

crate::ack::runtime::impl_ack_status!(NATGatewayStatus);

/// An address of a NAT gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NATGatewayAddress {
    /// The Elastic IP address's allocation id.
    #[serde(
        default,
        rename = "allocationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub allocation_id: Option<String>,
    /// Its zone (regional gateways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Its zone id (regional gateways).
    #[serde(
        default,
        rename = "availabilityZoneID",
        skip_serializing_if = "Option::is_none"
    )]
    pub availability_zone_id: Option<String>,
    /// The network interface.
    #[serde(
        default,
        rename = "networkInterfaceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_interface_id: Option<String>,
    /// The private address.
    #[serde(default, rename = "privateIP", skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    /// The public address.
    #[serde(default, rename = "publicIP", skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
}

/// Reserved bandwidth of a NAT gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedBandwidth {
    /// When it was provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub provision_time: Option<String>,
    /// What is provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<String>,
    /// When it was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "date_time")]
    pub request_time: Option<String>,
    /// What is requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// The request's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A `date-time` string field.
fn date_time(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "format": "date-time"})
}

/// What EC2 holds for a NAT gateway.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedGateway {
    /// Its subnet.
    pub subnet_id: Option<String>,
    /// `public` or `private`.
    pub connectivity_type: Option<String>,
    /// `zonal` or `regional` (absent: zonal, from endpoints that predate regional gateways).
    pub availability_mode: Option<String>,
    /// The user's tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: NATGatewayStatus,
}

/// Where a `subnetRef` points.
const SUBNET_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "Subnet",
    plural: "subnets",
    path: &["status", "subnetID"],
};
/// Where an `allocationRef` points.
const ALLOCATION_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "ElasticIPAddress",
    plural: "elasticipaddresses",
    path: &["status", "allocationID"],
};
/// Where a `vpcRef` points.
const VPC_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "VPC",
    plural: "vpcs",
    path: &["status", "vpcID"],
};

/// AWS error codes that make a gateway terminal (ACK's).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidSubnet",
    "InvalidElasticIpID.Malformed",
    "MissingParameter",
];

const NOT_FOUND: &[&str] = &["NatGatewayNotFound", "InvalidNatGatewayID.NotFound"];

fn is_set(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

/// True when the spec asks for a regional gateway.
fn regional(spec: &NATGatewaySpec) -> bool {
    spec.availability_mode.as_deref() == Some("regional")
}

/// Checks what a user wrote that AWS would refuse less clearly (or, for a private regional
/// gateway, silently change): the enums, and which fields go with which mode.
pub(crate) fn check(spec: &NATGatewaySpec) -> Result<(), SyncError> {
    check_tags(spec.tags.as_deref())?;
    let terminal = |m: String| Err(SyncError::Terminal(m));
    if let Some(t) = spec
        .connectivity_type
        .as_deref()
        .filter(|t| !matches!(*t, "" | "public" | "private"))
    {
        return terminal(format!(
            "spec.connectivityType {t:?}: write public or private"
        ));
    }
    if let Some(m) = spec
        .availability_mode
        .as_deref()
        .filter(|m| !matches!(*m, "" | "zonal" | "regional"))
    {
        return terminal(format!(
            "spec.availabilityMode {m:?}: write zonal or regional"
        ));
    }
    let private = spec.connectivity_type.as_deref() == Some("private");
    if regional(spec) && private {
        // ACK refuses it too: EC2 would make the gateway public without saying so.
        return terminal(
            "spec.connectivityType private with spec.availabilityMode regional: regional NAT \
             gateways do not support private connectivity; use connectivityType public, or \
             availabilityMode zonal for private connectivity"
                .into(),
        );
    }
    if private && (is_set(&spec.allocation_id) || spec.allocation_ref.is_some()) {
        return terminal(
            "spec.allocationID: a private NAT gateway has no Elastic IP address; remove \
             spec.allocationID (or spec.allocationRef), or make the gateway public"
                .into(),
        );
    }
    if !regional(spec) && spec.availability_zone_addresses.is_some() {
        return terminal(
            "spec.availabilityZoneAddresses is for regional NAT gateways only: set \
             spec.availabilityMode to regional, or remove it"
                .into(),
        );
    }
    Ok(())
}

/// What a create needs besides [`check`]: the subnet of a zonal gateway, the VPC of a regional
/// one.
fn check_create(spec: &NATGatewaySpec) -> Result<(), SyncError> {
    check(spec)?;
    if regional(spec) {
        if !is_set(&spec.vpc_id) {
            return Err(SyncError::Terminal(
                "spec.vpcID is empty: a regional NAT gateway needs spec.vpcID or spec.vpcRef"
                    .into(),
            ));
        }
    } else if !is_set(&spec.subnet_id) {
        return Err(SyncError::Terminal(
            "spec.subnetID is empty: set spec.subnetID or spec.subnetRef to the gateway's subnet"
                .into(),
        ));
    }
    Ok(())
}

/// How a gateway in `state` is reported: `Ok(None)` synced, `Ok(Some(msg))` not synced yet
/// (requeued), an error when it failed (EC2 then deletes it: only a new gateway helps).
pub(crate) fn state_outcome(
    id: &str,
    status: &NATGatewayStatus,
) -> Result<Option<String>, SyncError> {
    match status.state.as_deref() {
        Some("available") => Ok(None),
        Some("failed") => Err(SyncError::Terminal(format!(
            "NAT gateway {id} failed: {}: {}; EC2 deletes a failed gateway: fix the cause, then \
             delete this object and create it again",
            status.failure_code.as_deref().unwrap_or("no failure code"),
            status.failure_message.as_deref().unwrap_or("no message"),
        ))),
        Some(s) => Ok(Some(format!(
            "NAT gateway {id} is {s}: it is synced once EC2 reports it available"
        ))),
        None => Ok(Some(format!("NAT gateway {id} reports no state yet"))),
    }
}

/// The spec of an adopted gateway: its subnet (or VPC), connectivity, mode, Elastic IP address
/// (a public zonal gateway's primary one) and tags.
pub fn adopted_spec(observed: &ObservedGateway) -> Value {
    let mut spec = json!({ "tags": observed.tags });
    let regional = observed.availability_mode.as_deref() == Some("regional");
    if let Some(m) = &observed.availability_mode {
        spec["availabilityMode"] = json!(m);
    }
    if let Some(t) = &observed.connectivity_type {
        spec["connectivityType"] = json!(t);
    }
    if regional {
        if let Some(v) = &observed.status.vpc_id {
            spec["vpcID"] = json!(v);
        }
    } else {
        if let Some(s) = &observed.subnet_id {
            spec["subnetID"] = json!(s);
        }
        let allocation = observed
            .status
            .nat_gateway_addresses
            .iter()
            .flatten()
            .find_map(|a| a.allocation_id.clone());
        if observed.connectivity_type.as_deref() != Some("private")
            && let Some(a) = allocation
        {
            spec["allocationID"] = json!(a);
        }
    }
    spec
}

/// An EC2 timestamp as RFC 3339 (what the CRD's `date-time` fields hold).
fn date(d: Option<&aws_sdk_ec2::primitives::DateTime>) -> Option<String> {
    d.and_then(|d| {
        d.fmt(aws_sdk_ec2::primitives::DateTimeFormat::DateTime)
            .ok()
    })
}

/// What EC2 reports for `g`, as the kind sees it.
pub fn observed(id: &str, g: &NatGateway) -> ObservedGateway {
    let owned = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
    let addresses = g
        .nat_gateway_addresses()
        .iter()
        .map(|a| NATGatewayAddress {
            allocation_id: owned(a.allocation_id()),
            availability_zone: owned(a.availability_zone()),
            availability_zone_id: owned(a.availability_zone_id()),
            network_interface_id: owned(a.network_interface_id()),
            private_ip: owned(a.private_ip()),
            public_ip: owned(a.public_ip()),
        })
        .collect();
    let bandwidth = g.provisioned_bandwidth().map(|b| ProvisionedBandwidth {
        provision_time: date(b.provision_time()),
        provisioned: owned(b.provisioned()),
        request_time: date(b.request_time()),
        requested: owned(b.requested()),
        status: owned(b.status()),
    });
    ObservedGateway {
        subnet_id: owned(g.subnet_id()),
        connectivity_type: g.connectivity_type().map(|t| t.as_str().to_owned()),
        availability_mode: g.availability_mode().map(|m| m.as_str().to_owned()),
        tags: user_tags(g.tags()),
        status: NATGatewayStatus {
            create_time: date(g.create_time()),
            delete_time: date(g.delete_time()),
            failure_code: owned(g.failure_code()),
            failure_message: owned(g.failure_message()),
            nat_gateway_addresses: Some(addresses),
            nat_gateway_id: Some(id.to_owned()),
            provisioned_bandwidth: bandwidth,
            state: g.state().map(|s| s.as_str().to_owned()),
            vpc_id: owned(g.vpc_id()),
            ..Default::default()
        },
    }
}

/// Reads a gateway; one EC2 reports `deleted` is gone (as in ACK).
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedGateway>, SyncError> {
    let res = ec2.describe_nat_gateways().nat_gateway_ids(id).send().await;
    let Some(out) = found("DescribeNatGateways", res, NOT_FOUND)? else {
        return Ok(None);
    };
    let Some(g) = out
        .nat_gateways()
        .iter()
        .find(|g| g.nat_gateway_id() == Some(id))
    else {
        return Ok(None);
    };
    let o = observed(id, g);
    Ok((o.status.state.as_deref() != Some("deleted")).then_some(o))
}

impl NATGateway {
    /// The spec's `field` with its `*Ref` resolved into it (both set is terminal).
    async fn resolve_one(
        cx: &SyncCx<'_>,
        field: (&str, &Option<String>),
        reference: (&str, &Option<AwsResourceReferenceWrapper>),
        target: RefTarget,
    ) -> Result<Option<String>, SyncError> {
        let (name, value) = field;
        let (ref_name, r) = reference;
        let Some(r) = r else {
            return Ok(value.clone());
        };
        if is_set(value) {
            return Err(SyncError::Terminal(format!(
                "spec.{name} and spec.{ref_name} are both set: keep only one"
            )));
        }
        let path = format!("spec.{ref_name}");
        Ok(Some(refs::resolve(cx, &path, r, target).await?))
    }
}

impl AckKind for NATGateway {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/NATGateway";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "natGatewayID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedGateway;

    fn identifier(&self) -> String {
        let status = self.status.as_ref();
        generated_identifier(
            status.and_then(|s| s.ack_resource_metadata.as_ref()),
            status.and_then(|s| s.nat_gateway_id.as_ref()),
        )
    }

    fn has_references(&self) -> bool {
        let s = &self.spec;
        s.allocation_ref.is_some() || s.subnet_ref.is_some() || s.vpc_ref.is_some()
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        let s = &self.spec;
        out.spec.subnet_id = Self::resolve_one(
            cx,
            ("subnetID", &s.subnet_id),
            ("subnetRef", &s.subnet_ref),
            SUBNET_REF,
        )
        .await?;
        out.spec.allocation_id = Self::resolve_one(
            cx,
            ("allocationID", &s.allocation_id),
            ("allocationRef", &s.allocation_ref),
            ALLOCATION_REF,
        )
        .await?;
        out.spec.vpc_id =
            Self::resolve_one(cx, ("vpcID", &s.vpc_id), ("vpcRef", &s.vpc_ref), VPC_REF).await?;
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedGateway>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check_create(&self.spec)
    }

    async fn find_created(
        &self,
        cx: &SyncCx<'_>,
        token: &crate::ack::types::Tag,
    ) -> Result<Option<String>, SyncError> {
        super::find_tagged!(
            cx,
            token,
            describe_nat_gateways,
            filter,
            "DescribeNatGateways",
            nat_gateways,
            nat_gateway_id,
            |n| !matches!(
                n.state(),
                Some(
                    aws_sdk_ec2::types::NatGatewayState::Deleted
                        | aws_sdk_ec2::types::NatGatewayState::Deleting
                )
            )
        )
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let s = &self.spec;
        let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let zones = s.availability_zone_addresses.as_ref().map(|zs| {
            zs.iter()
                .map(|z| {
                    aws_sdk_ec2::types::AvailabilityZoneAddress::builder()
                        .set_availability_zone(z.availability_zone.clone())
                        .set_availability_zone_id(z.availability_zone_id.clone())
                        .set_allocation_ids(z.allocation_ids.clone())
                        .build()
                })
                .collect()
        });
        let out = cx
            .aws
            .ec2
            .create_nat_gateway()
            .set_subnet_id(non_empty(&s.subnet_id))
            .set_allocation_id(non_empty(&s.allocation_id))
            .set_vpc_id(non_empty(&s.vpc_id))
            .set_connectivity_type(
                non_empty(&s.connectivity_type).map(|t| ConnectivityType::from(t.as_str())),
            )
            .set_availability_mode(
                non_empty(&s.availability_mode).map(|m| AvailabilityMode::from(m.as_str())),
            )
            .set_availability_zone_addresses(zones)
            .set_tag_specifications(tag_specs(ResourceType::Natgateway, s.tags.as_deref()))
            .send()
            .await
            .map_err(aws("CreateNatGateway"))?;
        Ok(created(
            "NAT gateway",
            out.nat_gateway().and_then(|g| g.nat_gateway_id()),
        ))
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedGateway,
    ) -> Result<Synced, SyncError> {
        check(&self.spec)?;
        let ec2 = &cx.aws.ec2;
        let mut updated = Vec::new();
        sync_tags(
            ec2,
            id,
            self.spec.tags.as_deref(),
            &observed.tags,
            &mut updated,
        )
        .await?;
        let observed = reread(&updated, observed, read(ec2, id)).await?;
        let waiting = state_outcome(id, &observed.status)?;
        Ok(synced(updated, &observed.status, waiting))
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
        if observed.status.state.as_deref() != Some("deleting") {
            let res = ec2.delete_nat_gateway().nat_gateway_id(id).send().await;
            found("DeleteNatGateway", res, NOT_FOUND)?;
        }
        // The finalizer goes once EC2 reports the gateway deleted: until then it still holds
        // its Elastic IP address and its network interface in the subnet.
        Ok(match read(ec2, id).await? {
            None => Deleted::Done,
            Some(o) => Deleted::Pending(format!(
                "NAT gateway {id} is {}: waiting until EC2 reports it deleted",
                o.status.state.as_deref().unwrap_or("still there")
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{NatGatewayAddress, NatGatewayState};

    fn spec(json: Value) -> NATGatewaySpec {
        serde_json::from_value(json).unwrap()
    }

    fn terminal(s: &NATGatewaySpec) -> String {
        match check_create(s) {
            Err(SyncError::Terminal(m)) => m,
            other => panic!("want a terminal error, got {other:?}"),
        }
    }

    #[test]
    fn what_aws_would_refuse_is_terminal_and_names_the_field() {
        let ok = [
            json!({"subnetID": "subnet-1", "allocationID": "eipalloc-1"}),
            json!({"subnetID": "subnet-1", "connectivityType": "private"}),
            json!({"availabilityMode": "regional", "vpcID": "vpc-1",
                   "availabilityZoneAddresses": [{"availabilityZone": "us-west-2a",
                                                  "allocationIDs": ["eipalloc-1"]}]}),
        ];
        for s in ok {
            assert!(check_create(&spec(s.clone())).is_ok(), "{s}");
        }
        let cases = [
            (
                json!({"subnetID": "s", "connectivityType": "Public"}),
                "spec.connectivityType \"Public\"",
            ),
            (
                json!({"subnetID": "s", "availabilityMode": "multi"}),
                "spec.availabilityMode \"multi\"",
            ),
            (
                json!({"availabilityMode": "regional", "vpcID": "v", "connectivityType": "private"}),
                "spec.connectivityType private with spec.availabilityMode regional",
            ),
            (
                json!({"subnetID": "s", "connectivityType": "private", "allocationRef": {"from": {"name": "ip"}}}),
                "spec.allocationID: a private NAT gateway",
            ),
            (
                json!({"subnetID": "s", "availabilityZoneAddresses": []}),
                "spec.availabilityZoneAddresses is for regional",
            ),
            (
                json!({"allocationID": "eipalloc-1"}),
                "spec.subnetID is empty",
            ),
            (
                json!({"availabilityMode": "regional"}),
                "spec.vpcID is empty",
            ),
            (
                json!({"subnetID": "s", "tags": [{"key": "aws:x", "value": "1"}]}),
                "spec.tags[0].key",
            ),
        ];
        for (s, want) in cases {
            let msg = terminal(&spec(s.clone()));
            assert!(msg.starts_with(want), "{s}: {msg}");
        }
    }

    #[test]
    fn synced_only_when_available() {
        let status = |state: Option<&str>| NATGatewayStatus {
            state: state.map(str::to_owned),
            failure_code: Some("Resource.AlreadyAssociated".into()),
            failure_message: Some("Elastic IP address eipalloc-1 is already associated".into()),
            ..Default::default()
        };
        assert!(matches!(
            state_outcome("nat-1", &status(Some("available"))),
            Ok(None)
        ));
        let pending = state_outcome("nat-1", &status(Some("pending")))
            .unwrap()
            .unwrap();
        assert_eq!(
            pending,
            "NAT gateway nat-1 is pending: it is synced once EC2 reports it available"
        );
        assert!(state_outcome("nat-1", &status(None)).unwrap().is_some());
        let Err(SyncError::Terminal(failed)) = state_outcome("nat-1", &status(Some("failed")))
        else {
            panic!("a failed gateway is terminal");
        };
        assert!(
            failed.starts_with(
                "NAT gateway nat-1 failed: Resource.AlreadyAssociated: Elastic IP address \
                 eipalloc-1 is already associated"
            ),
            "{failed}"
        );
    }

    fn gateway(state: NatGatewayState) -> NatGateway {
        NatGateway::builder()
            .nat_gateway_id("nat-1")
            .subnet_id("subnet-1")
            .vpc_id("vpc-1")
            .state(state)
            .connectivity_type(ConnectivityType::Public)
            .nat_gateway_addresses(
                NatGatewayAddress::builder()
                    .allocation_id("eipalloc-1")
                    .public_ip("198.51.100.7")
                    .private_ip("10.0.0.9")
                    .network_interface_id("eni-1")
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("team")
                    .value("a")
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("aws:system")
                    .value("x")
                    .build(),
            )
            .create_time(aws_sdk_ec2::primitives::DateTime::from_secs(1_700_000_000))
            .build()
    }

    #[test]
    fn status_and_adoption_from_what_ec2_reports() {
        let o = observed("nat-1", &gateway(NatGatewayState::Available));
        assert_eq!(
            serde_json::to_value(&o.status).unwrap(),
            json!({
                "createTime": "2023-11-14T22:13:20Z",
                "natGatewayAddresses": [{"allocationID": "eipalloc-1", "networkInterfaceID": "eni-1",
                                         "privateIP": "10.0.0.9", "publicIP": "198.51.100.7"}],
                "natGatewayID": "nat-1", "state": "available", "vpcID": "vpc-1"
            })
        );
        assert_eq!(
            adopted_spec(&o),
            json!({"subnetID": "subnet-1", "allocationID": "eipalloc-1", "connectivityType": "public",
                   "tags": [{"key": "team", "value": "a"}]})
        );
        let mut private = o.clone();
        private.connectivity_type = Some("private".into());
        assert!(adopted_spec(&private).get("allocationID").is_none());
        let mut regional = o;
        regional.availability_mode = Some("regional".into());
        let spec = adopted_spec(&regional);
        assert_eq!(
            (spec["vpcID"].as_str(), spec.get("subnetID")),
            (Some("vpc-1"), None)
        );
    }
}

//! `ec2.services.k8s.aws/v1alpha1 VPC`: ACK's API, the pure desired-vs-observed logic, and the
//! EC2 calls. The first of `cidrBlocks` is the primary block given to CreateVpc; the others are
//! associated and disassociated one by one; the DNS and address-usage attributes are one
//! ModifyVpcAttribute each; `disallowSecurityGroupDefaultRules` empties the VPC's default
//! security group.

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, IpPermission, ResourceType, Tenancy, VpcAttributeName,
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{created, deleted, described, pending, reread, status_identifier, synced};
use super::security_group::{RuleCall, send_rules};
use super::{aws, check_tags, cidr_field, non_empty, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, Tag};

/// At most this many IPv4 CIDR blocks per VPC (AWS's default quota).
pub const MAX_CIDR_BLOCKS: usize = 5;

/// Spec of a VPC (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "VPC",
    plural = "vpcs",
    namespaced,
    status = "VPCStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct VPCSpec {
    /// Ask for an Amazon-provided /56 IPv6 block (create only).
    #[serde(
        default,
        rename = "amazonProvidedIPv6CIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub amazon_provided_ipv6_cidr_block: Option<bool>,
    /// IPv4 CIDR blocks: the first is the primary one (create only), the others are associated
    /// and disassociated to match.
    pub cidr_blocks: Vec<String>,
    /// Remove every rule of the VPC's default security group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_security_group_default_rules: Option<bool>,
    /// Instances get public DNS hostnames.
    #[serde(
        default,
        rename = "enableDNSHostnames",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_dns_hostnames: Option<bool>,
    /// DNS resolution through the Amazon DNS server.
    #[serde(
        default,
        rename = "enableDNSSupport",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_dns_support: Option<bool>,
    /// Network address usage metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_network_address_usage_metrics: Option<bool>,
    /// `default` or `dedicated` (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_tenancy: Option<String>,
    /// IPAM pool of the IPv4 block (create only).
    #[serde(
        default,
        rename = "ipv4IPAMPoolID",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_ipam_pool_id: Option<String>,
    /// Netmask length of an IPAM-allocated IPv4 block (create only).
    #[serde(
        default,
        rename = "ipv4NetmaskLength",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_netmask_length: Option<i64>,
    /// IPv6 CIDR block from a BYOIP pool (create only).
    #[serde(
        default,
        rename = "ipv6CIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block: Option<String>,
    /// Network border group of the IPv6 block (create only).
    #[serde(
        default,
        rename = "ipv6CIDRBlockNetworkBorderGroup",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block_network_border_group: Option<String>,
    /// IPAM pool of the IPv6 block (create only).
    #[serde(
        default,
        rename = "ipv6IPAMPoolID",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_ipam_pool_id: Option<String>,
    /// Netmask length of an IPAM-allocated IPv6 block (create only).
    #[serde(
        default,
        rename = "ipv6NetmaskLength",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_netmask_length: Option<i64>,
    /// BYOIP IPv6 pool (create only).
    #[serde(default, rename = "ipv6Pool", skip_serializing_if = "Option::is_none")]
    pub ipv6_pool: Option<String>,
    /// Tags (absent: not managed; `aws:*` keys are AWS's and never touched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Observed state of a VPC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VPCStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The IPv4 blocks and their association state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block_association_set: Option<Vec<VPCCIDRBlockAssociation>>,
    /// The DHCP options set.
    #[serde(
        default,
        rename = "dhcpOptionsID",
        skip_serializing_if = "Option::is_none"
    )]
    pub dhcp_options_id: Option<String>,
    /// The IPv6 blocks.
    #[serde(
        default,
        rename = "ipv6CIDRBlockAssociationSet",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block_association_set: Option<Vec<VPCIPv6CIDRBlockAssociation>>,
    /// The account's default VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Owner account.
    #[serde(default, rename = "ownerID", skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Whether the default security group still has rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_default_rules_exist: Option<bool>,
    /// `pending` or `available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The VPC id (`vpc-…`), assigned by AWS.
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

crate::ack::runtime::impl_ack_status!(VPCStatus);

/// One IPv4 block of a VPC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VPCCIDRBlockAssociation {
    /// Association id.
    #[serde(
        default,
        rename = "associationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub association_id: Option<String>,
    /// The block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block_state: Option<VPCCIDRBlockState>,
}

/// State of a block association.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VPCCIDRBlockState {
    /// `associating`, `associated`, `disassociating`, `disassociated`, `failing`, `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// One IPv6 block of a VPC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VPCIPv6CIDRBlockAssociation {
    /// Association id.
    #[serde(
        default,
        rename = "associationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub association_id: Option<String>,
    /// The block.
    #[serde(
        default,
        rename = "ipv6CIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block: Option<String>,
    /// Its state.
    #[serde(
        default,
        rename = "ipv6CIDRBlockState",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block_state: Option<VPCCIDRBlockState>,
    /// Its pool.
    #[serde(default, rename = "ipv6Pool", skip_serializing_if = "Option::is_none")]
    pub ipv6_pool: Option<String>,
    /// Its network border group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_border_group: Option<String>,
}

/// What EC2 holds for a VPC.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedVpc {
    /// The id.
    pub vpc_id: String,
    /// The primary IPv4 block.
    pub primary_cidr: String,
    /// Every IPv4 association: (association id, canonical block, state).
    pub cidrs: Vec<(String, String, String)>,
    /// `enableDnsSupport`.
    pub dns_support: Option<bool>,
    /// `enableDnsHostnames`.
    pub dns_hostnames: Option<bool>,
    /// `enableNetworkAddressUsageMetrics`.
    pub address_usage_metrics: Option<bool>,
    /// The default security group and its rules (ingress, egress).
    pub default_group: Option<(String, Vec<IpPermission>, Vec<IpPermission>)>,
    /// Instance tenancy.
    pub instance_tenancy: Option<String>,
    /// The user's tags (system tags dropped).
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: VPCStatus,
}

/// States of a block association that hold the block.
fn holds(state: &str) -> bool {
    matches!(state, "associating" | "associated")
}

/// The calls that bring a VPC in line with its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VpcDelta {
    /// AssociateVpcCidrBlock, one per block.
    pub associate: Vec<String>,
    /// DisassociateVpcCidrBlock, one per association id.
    pub disassociate: Vec<String>,
    /// ModifyVpcAttribute EnableDnsSupport.
    pub dns_support: Option<bool>,
    /// ModifyVpcAttribute EnableDnsHostnames.
    pub dns_hostnames: Option<bool>,
    /// ModifyVpcAttribute EnableNetworkAddressUsageMetrics.
    pub address_usage_metrics: Option<bool>,
    /// Revoke the default security group's rules.
    pub revoke_default_rules: bool,
}

/// The spec's CIDR blocks, canonical, checked and bounded.
pub(crate) fn desired_cidrs(spec: &VPCSpec) -> Result<Vec<String>, SyncError> {
    if spec.cidr_blocks.is_empty() && spec.ipv4_ipam_pool_id.is_none() {
        return Err(SyncError::Terminal(
            "spec.cidrBlocks is empty: list at least the primary IPv4 block, e.g. 10.0.0.0/16"
                .into(),
        ));
    }
    if spec.cidr_blocks.len() > MAX_CIDR_BLOCKS {
        return Err(SyncError::Terminal(format!(
            "spec.cidrBlocks has {} blocks; a VPC holds at most {MAX_CIDR_BLOCKS} IPv4 blocks",
            spec.cidr_blocks.len()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, c) in spec.cidr_blocks.iter().enumerate() {
        let c = cidr_field(&format!("spec.cidrBlocks[{i}]"), c)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Desired vs observed. Blocks compare canonically; the primary block cannot be removed (a
/// terminal error says so); attributes change only when the spec sets them.
pub(crate) fn vpc_delta(spec: &VPCSpec, observed: &ObservedVpc) -> Result<VpcDelta, SyncError> {
    let want = desired_cidrs(spec)?;
    let primary = super::canonical_cidr(&observed.primary_cidr).unwrap_or_default();
    if !primary.is_empty() && !want.contains(&primary) && !spec.cidr_blocks.is_empty() {
        return Err(SyncError::Terminal(format!(
            "spec.cidrBlocks: the primary block {primary} of {} cannot be removed; keep it in \
             the list (a new primary block needs a new VPC)",
            observed.vpc_id
        )));
    }
    let held: Vec<&(String, String, String)> =
        observed.cidrs.iter().filter(|(_, _, s)| holds(s)).collect();
    let have: BTreeSet<&String> = held.iter().map(|(_, c, _)| c).collect();
    let associate = want.iter().filter(|c| !have.contains(c)).cloned().collect();
    let disassociate = if spec.cidr_blocks.is_empty() {
        Vec::new()
    } else {
        held.iter()
            .filter(|(_, c, _)| !want.contains(c) && *c != primary)
            .map(|(a, _, _)| a.clone())
            .collect()
    };
    let differs = super::bool_change;
    Ok(VpcDelta {
        associate,
        disassociate,
        dns_support: differs(spec.enable_dns_support, observed.dns_support),
        dns_hostnames: differs(spec.enable_dns_hostnames, observed.dns_hostnames),
        address_usage_metrics: differs(
            spec.enable_network_address_usage_metrics,
            observed.address_usage_metrics,
        ),
        revoke_default_rules: spec.disallow_security_group_default_rules == Some(true)
            && observed
                .default_group
                .as_ref()
                .is_some_and(|(_, i, e)| !i.is_empty() || !e.is_empty()),
    })
}

/// The spec of an adopted VPC: AWS's blocks (primary first), attributes and tags.
pub fn adopted_spec(observed: &ObservedVpc) -> Value {
    let mut blocks = vec![observed.primary_cidr.clone()];
    for (_, c, s) in &observed.cidrs {
        if holds(s) && !blocks.contains(c) {
            blocks.push(c.clone());
        }
    }
    let mut spec = json!({
        "cidrBlocks": blocks,
        "tags": observed.tags,
    });
    for (k, v) in [
        ("enableDNSSupport", observed.dns_support),
        ("enableDNSHostnames", observed.dns_hostnames),
        (
            "enableNetworkAddressUsageMetrics",
            observed.address_usage_metrics,
        ),
    ] {
        if let Some(v) = v {
            spec[k] = json!(v);
        }
    }
    if let Some(t) = &observed.instance_tenancy {
        spec["instanceTenancy"] = json!(t);
    }
    spec
}

/// AWS error codes that make a VPC terminal.
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidVpc.Range",
    "InvalidVpcRange",
    "CidrConflict",
];

const NOT_FOUND: &[&str] = &["InvalidVpcID.NotFound"];

async fn attribute(
    ec2: &Client,
    id: &str,
    name: VpcAttributeName,
) -> Result<Option<bool>, SyncError> {
    let out = ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(name.clone())
        .send()
        .await
        .map_err(aws("DescribeVpcAttribute"))?;
    let v = match name {
        VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_network_address_usage_metrics(),
    };
    Ok(v.and_then(AttributeBooleanValue::value))
}

/// The VPC's default security group with its rules.
async fn default_group(
    ec2: &Client,
    id: &str,
) -> Result<Option<(String, Vec<IpPermission>, Vec<IpPermission>)>, SyncError> {
    let out = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(id).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .map_err(aws("DescribeSecurityGroups"))?;
    Ok(out.security_groups().first().map(|g| {
        (
            g.group_id().unwrap_or_default().to_owned(),
            g.ip_permissions().to_vec(),
            g.ip_permissions_egress().to_vec(),
        )
    }))
}

/// Reads a VPC, its attributes and its default security group.
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedVpc>, SyncError> {
    let res = ec2.describe_vpcs().vpc_ids(id).send().await;
    let Some(v) = described("DescribeVpcs", res, NOT_FOUND, |o| o.vpcs().first())? else {
        return Ok(None);
    };
    let assoc: Vec<VPCCIDRBlockAssociation> = v
        .cidr_block_association_set()
        .iter()
        .map(|a| VPCCIDRBlockAssociation {
            association_id: a.association_id().map(str::to_owned),
            cidr_block: a.cidr_block().map(str::to_owned),
            cidr_block_state: a.cidr_block_state().map(|s| VPCCIDRBlockState {
                state: s.state().map(|s| s.as_str().to_owned()),
                status_message: s.status_message().map(str::to_owned),
            }),
        })
        .collect();
    let ipv6: Vec<VPCIPv6CIDRBlockAssociation> = v
        .ipv6_cidr_block_association_set()
        .iter()
        .map(|a| VPCIPv6CIDRBlockAssociation {
            association_id: a.association_id().map(str::to_owned),
            ipv6_cidr_block: a.ipv6_cidr_block().map(str::to_owned),
            ipv6_cidr_block_state: a.ipv6_cidr_block_state().map(|s| VPCCIDRBlockState {
                state: s.state().map(|s| s.as_str().to_owned()),
                status_message: s.status_message().map(str::to_owned),
            }),
            ipv6_pool: a.ipv6_pool().map(str::to_owned),
            network_border_group: a.network_border_group().map(str::to_owned),
        })
        .collect();
    let default_group = default_group(ec2, id).await?;
    Ok(Some(ObservedVpc {
        vpc_id: id.to_owned(),
        primary_cidr: v.cidr_block().unwrap_or_default().to_owned(),
        cidrs: assoc
            .iter()
            .map(|a| {
                let c = a.cidr_block.clone().unwrap_or_default();
                (
                    a.association_id.clone().unwrap_or_default(),
                    super::canonical_cidr(&c).unwrap_or(c),
                    a.cidr_block_state
                        .as_ref()
                        .and_then(|s| s.state.clone())
                        .unwrap_or_else(|| "associated".into()),
                )
            })
            .collect(),
        dns_support: attribute(ec2, id, VpcAttributeName::EnableDnsSupport).await?,
        dns_hostnames: attribute(ec2, id, VpcAttributeName::EnableDnsHostnames).await?,
        address_usage_metrics: attribute(
            ec2,
            id,
            VpcAttributeName::EnableNetworkAddressUsageMetrics,
        )
        .await
        .unwrap_or(None),
        instance_tenancy: v.instance_tenancy().map(|t| t.as_str().to_owned()),
        tags: user_tags(v.tags()),
        status: VPCStatus {
            cidr_block_association_set: non_empty(assoc),
            dhcp_options_id: v.dhcp_options_id().map(str::to_owned),
            ipv6_cidr_block_association_set: non_empty(ipv6),
            is_default: v.is_default(),
            owner_id: v.owner_id().map(str::to_owned),
            security_group_default_rules_exist: default_group
                .as_ref()
                .map(|(_, i, e)| !i.is_empty() || !e.is_empty()),
            state: v.state().map(|s| s.as_str().to_owned()),
            vpc_id: Some(id.to_owned()),
            ..Default::default()
        },
        default_group,
    }))
}

/// An `i64` spec field as the `i32` EC2 takes, or an error naming the field.
pub(crate) fn int32(field: &str, v: Option<i64>) -> Result<Option<i32>, SyncError> {
    v.map(|n| {
        i32::try_from(n).map_err(|_| {
            SyncError::Terminal(format!(
                "{field} {n} is out of range: write a netmask length"
            ))
        })
    })
    .transpose()
}

async fn modify(
    ec2: &Client,
    id: &str,
    name: VpcAttributeName,
    value: bool,
) -> Result<(), SyncError> {
    let v = AttributeBooleanValue::builder().value(value).build();
    let call = ec2.modify_vpc_attribute().vpc_id(id);
    let call = match name {
        VpcAttributeName::EnableDnsSupport => call.enable_dns_support(v),
        VpcAttributeName::EnableDnsHostnames => call.enable_dns_hostnames(v),
        _ => call.enable_network_address_usage_metrics(v),
    };
    call.send().await.map_err(aws("ModifyVpcAttribute"))?;
    Ok(())
}

impl AckKind for VPC {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/VPC";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "vpcID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedVpc;

    fn identifier(&self) -> String {
        status_identifier(self.status.as_ref(), |s| s.vpc_id.as_ref())
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedVpc>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        desired_cidrs(&self.spec)?;
        check_tags(self.spec.tags.as_deref())
    }

    async fn find_created(
        &self,
        cx: &SyncCx<'_>,
        token: &crate::ack::types::Tag,
    ) -> Result<Option<String>, SyncError> {
        super::find_tagged!(cx, token, describe_vpcs, "DescribeVpcs", vpcs, vpc_id)
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let s = &self.spec;
        let cidrs = desired_cidrs(s)?;
        let out = cx
            .aws
            .ec2
            .create_vpc()
            .set_cidr_block(cidrs.first().cloned())
            .set_amazon_provided_ipv6_cidr_block(s.amazon_provided_ipv6_cidr_block)
            .set_instance_tenancy(s.instance_tenancy.as_deref().map(Tenancy::from))
            .set_ipv4_ipam_pool_id(s.ipv4_ipam_pool_id.clone())
            .set_ipv4_netmask_length(int32("spec.ipv4NetmaskLength", s.ipv4_netmask_length)?)
            .set_ipv6_cidr_block(s.ipv6_cidr_block.clone())
            .set_ipv6_cidr_block_network_border_group(
                s.ipv6_cidr_block_network_border_group.clone(),
            )
            .set_ipv6_ipam_pool_id(s.ipv6_ipam_pool_id.clone())
            .set_ipv6_netmask_length(int32("spec.ipv6NetmaskLength", s.ipv6_netmask_length)?)
            .set_ipv6_pool(s.ipv6_pool.clone())
            .set_tag_specifications(tag_specs(ResourceType::Vpc, s.tags.as_deref()))
            .send()
            .await
            .map_err(aws("CreateVpc"))?;
        Ok(created("VPC", out.vpc().and_then(|v| v.vpc_id())))
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedVpc,
    ) -> Result<Synced, SyncError> {
        check_tags(self.spec.tags.as_deref())?;
        let ec2 = &cx.aws.ec2;
        let delta = vpc_delta(&self.spec, &observed)?;
        let mut updated = Vec::new();
        // Disassociate first: a block being replaced may overlap its replacement.
        for a in &delta.disassociate {
            ec2.disassociate_vpc_cidr_block()
                .association_id(a)
                .send()
                .await
                .map_err(aws("DisassociateVpcCidrBlock"))?;
            updated.push("DisassociateVpcCidrBlock".to_owned());
        }
        for c in &delta.associate {
            ec2.associate_vpc_cidr_block()
                .vpc_id(id)
                .cidr_block(c)
                .send()
                .await
                .map_err(aws("AssociateVpcCidrBlock"))?;
            updated.push("AssociateVpcCidrBlock".to_owned());
        }
        for (name, v) in [
            (VpcAttributeName::EnableDnsSupport, delta.dns_support),
            (VpcAttributeName::EnableDnsHostnames, delta.dns_hostnames),
            (
                VpcAttributeName::EnableNetworkAddressUsageMetrics,
                delta.address_usage_metrics,
            ),
        ] {
            if let Some(v) = v {
                modify(ec2, id, name, v).await?;
                updated.push("ModifyVpcAttribute".to_owned());
            }
        }
        if delta.revoke_default_rules
            && let Some((group, ingress, egress)) = &observed.default_group
        {
            for (is_egress, rules) in [(false, ingress), (true, egress)] {
                if !rules.is_empty() {
                    send_rules(ec2, group, RuleCall::Revoke, is_egress, rules.clone()).await?;
                }
            }
            updated.push("RevokeSecurityGroupRules".to_owned());
        }
        sync_tags(
            ec2,
            id,
            self.spec.tags.as_deref(),
            &observed.tags,
            &mut updated,
        )
        .await?;
        let observed = reread(&updated, observed, read(ec2, id)).await?;
        let waiting = pending("VPC", id, observed.status.state.as_deref());
        Ok(synced(updated, &observed.status, waiting))
    }

    fn adopted_spec(_id: &str, observed: &ObservedVpc) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        _observed: ObservedVpc,
    ) -> Result<Deleted, SyncError> {
        let res = cx.aws.ec2.delete_vpc().vpc_id(id).send().await;
        deleted("DeleteVpc", res, NOT_FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(blocks: &[&str]) -> VPCSpec {
        VPCSpec {
            cidr_blocks: blocks.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn observed(primary: &str, blocks: &[(&str, &str, &str)]) -> ObservedVpc {
        ObservedVpc {
            vpc_id: "vpc-1".into(),
            primary_cidr: primary.into(),
            cidrs: blocks
                .iter()
                .map(|(a, c, s)| (a.to_string(), c.to_string(), s.to_string()))
                .collect(),
            dns_support: Some(true),
            dns_hostnames: Some(false),
            ..Default::default()
        }
    }

    #[test]
    fn cidr_blocks_diff_canonically_and_keep_the_primary() {
        let obs = observed(
            "10.0.0.0/16",
            &[
                ("a1", "10.0.0.0/16", "associated"),
                ("a2", "10.1.0.0/16", "associated"),
                ("a3", "10.9.0.0/16", "disassociated"),
            ],
        );
        // Host bits in the spec are AWS's canonical block: nothing to do.
        let d = vpc_delta(&spec(&["10.0.0.7/16", "10.1.2.3/16"]), &obs).unwrap();
        assert_eq!(d, VpcDelta::default());
        let d = vpc_delta(&spec(&["10.0.0.0/16", "10.2.0.0/16"]), &obs).unwrap();
        assert_eq!(d.associate, vec!["10.2.0.0/16".to_owned()]);
        assert_eq!(d.disassociate, vec!["a2".to_owned()]);
        // A disassociated block is not held: listing it again associates it.
        let d = vpc_delta(&spec(&["10.0.0.0/16", "10.1.0.0/16", "10.9.0.0/16"]), &obs).unwrap();
        assert_eq!(d.associate, vec!["10.9.0.0/16".to_owned()]);
        let e = vpc_delta(&spec(&["10.1.0.0/16"]), &obs).unwrap_err();
        assert!(e.to_string().contains("primary block 10.0.0.0/16"), "{e}");
    }

    #[test]
    fn bad_blocks_name_the_field_and_the_bound() {
        let e = desired_cidrs(&spec(&["10.0.0.0/16", "ten/8"])).unwrap_err();
        assert!(
            e.to_string().starts_with("spec.cidrBlocks[1] \"ten/8\""),
            "{e}"
        );
        let e = desired_cidrs(&spec(&[])).unwrap_err();
        assert!(e.to_string().starts_with("spec.cidrBlocks is empty"), "{e}");
        let many = [
            "10.0.0.0/16",
            "10.1.0.0/16",
            "10.2.0.0/16",
            "10.3.0.0/16",
            "10.4.0.0/16",
            "10.5.0.0/16",
        ];
        let e = desired_cidrs(&spec(&many)).unwrap_err();
        assert!(e.to_string().contains("at most 5"), "{e}");
    }

    #[test]
    fn attributes_change_only_when_the_spec_sets_them() {
        let obs = observed("10.0.0.0/16", &[("a1", "10.0.0.0/16", "associated")]);
        let mut s = spec(&["10.0.0.0/16"]);
        assert_eq!(vpc_delta(&s, &obs).unwrap(), VpcDelta::default());
        s.enable_dns_hostnames = Some(true);
        s.enable_dns_support = Some(true);
        s.enable_network_address_usage_metrics = Some(false);
        let d = vpc_delta(&s, &obs).unwrap();
        assert_eq!(
            (d.dns_support, d.dns_hostnames, d.address_usage_metrics),
            (None, Some(true), None),
            "false where AWS reports nothing is no change"
        );
    }

    #[test]
    fn default_group_rules_are_revoked_only_when_asked_and_present() {
        let rule = IpPermission::builder().ip_protocol("-1").build();
        let mut obs = observed("10.0.0.0/16", &[("a1", "10.0.0.0/16", "associated")]);
        obs.default_group = Some(("sg-d".into(), vec![rule], vec![]));
        let mut s = spec(&["10.0.0.0/16"]);
        assert!(!vpc_delta(&s, &obs).unwrap().revoke_default_rules);
        s.disallow_security_group_default_rules = Some(true);
        assert!(vpc_delta(&s, &obs).unwrap().revoke_default_rules);
        obs.default_group = Some(("sg-d".into(), vec![], vec![]));
        assert!(!vpc_delta(&s, &obs).unwrap().revoke_default_rules);
    }

    #[test]
    fn adopted_spec_has_the_primary_first() {
        let mut obs = observed(
            "10.0.0.0/16",
            &[
                ("a2", "10.1.0.0/16", "associated"),
                ("a1", "10.0.0.0/16", "associated"),
                ("a3", "10.9.0.0/16", "disassociated"),
            ],
        );
        obs.tags = vec![Tag::new("k", "v")];
        assert_eq!(
            adopted_spec(&obs),
            json!({"cidrBlocks": ["10.0.0.0/16", "10.1.0.0/16"], "tags": [{"key": "k", "value": "v"}],
                   "enableDNSSupport": true, "enableDNSHostnames": false})
        );
    }
}

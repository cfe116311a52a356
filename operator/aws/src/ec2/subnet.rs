//! `ec2.services.k8s.aws/v1alpha1 Subnet`: ACK's API, the pure desired-vs-observed logic, and
//! the EC2 calls. Placement (VPC, block, zone) is given to CreateSubnet; each launch attribute is
//! one ModifySubnetAttribute (EC2 takes one per call); `routeTables` are associated and
//! disassociated to match.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, HostnameType, ResourceType};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{
    Edge, association_delta, associations, created, deleted, described, disassociate_all, has_refs,
    pending, reread, resolve_id, resolve_ids, status_identifier, sync_associations, synced,
};
use super::{aws, check_tags, cidr_field, non_empty, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
use crate::ack::refs::RefTarget;
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, AwsResourceReferenceWrapper, Tag};

/// At most this many route tables in `routeTables` (a subnet has one association; the list is
/// ACK's shape).
pub const MAX_ROUTE_TABLES: usize = 16;

/// Spec of a subnet (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "Subnet",
    plural = "subnets",
    namespaced,
    status = "SubnetStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct SubnetSpec {
    /// Network interfaces get an IPv6 address.
    #[serde(
        default,
        rename = "assignIPv6AddressOnCreation",
        skip_serializing_if = "Option::is_none"
    )]
    pub assign_ipv6_address_on_creation: Option<bool>,
    /// Availability zone (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Availability zone id (create only).
    #[serde(
        default,
        rename = "availabilityZoneID",
        skip_serializing_if = "Option::is_none"
    )]
    pub availability_zone_id: Option<String>,
    /// IPv4 block (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    /// Customer-owned IPv4 pool (Outposts); setting it maps customer-owned IPs on launch.
    #[serde(
        default,
        rename = "customerOwnedIPv4Pool",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_owned_ipv4_pool: Option<String>,
    /// DNS64 for IPv6-only traffic.
    #[serde(
        default,
        rename = "enableDNS64",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_dns64: Option<bool>,
    /// DNS AAAA records for instance hostnames.
    #[serde(
        default,
        rename = "enableResourceNameDNSAAAARecord",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_resource_name_dns_aaaa_record: Option<bool>,
    /// DNS A records for instance hostnames.
    #[serde(
        default,
        rename = "enableResourceNameDNSARecord",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_resource_name_dns_a_record: Option<bool>,
    /// `ip-name` or `resource-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_type: Option<String>,
    /// IPv6 block (create only).
    #[serde(
        default,
        rename = "ipv6CIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block: Option<String>,
    /// IPv6-only subnet (create only).
    #[serde(
        default,
        rename = "ipv6Native",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_native: Option<bool>,
    /// Instances get a public IPv4 address.
    #[serde(
        default,
        rename = "mapPublicIPOnLaunch",
        skip_serializing_if = "Option::is_none"
    )]
    pub map_public_ip_on_launch: Option<bool>,
    /// Outpost (create only).
    #[serde(
        default,
        rename = "outpostARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub outpost_arn: Option<String>,
    /// References to `RouteTable`s (their `status.routeTableID`), instead of `routeTables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table_refs: Option<Vec<AwsResourceReferenceWrapper>>,
    /// Route table ids to associate with the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_tables: Option<Vec<String>>,
    /// Tags (absent: not managed; `aws:*` keys are AWS's and never touched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// The VPC (create only).
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Reference to a `VPC` (its `status.vpcID`), instead of `vpcID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<AwsResourceReferenceWrapper>,
}

/// Observed state of a subnet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Free IPv4 addresses.
    #[serde(
        default,
        rename = "availableIPAddressCount",
        skip_serializing_if = "Option::is_none"
    )]
    pub available_ip_address_count: Option<i64>,
    /// The zone's default subnet.
    #[serde(
        default,
        rename = "defaultForAZ",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_for_az: Option<bool>,
    /// Device index of local network interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_lni_at_device_index: Option<i64>,
    /// IPv6 blocks.
    #[serde(
        default,
        rename = "ipv6CIDRBlockAssociationSet",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_cidr_block_association_set: Option<Vec<SubnetIPv6CIDRBlockAssociation>>,
    /// Customer-owned IPs mapped on launch.
    #[serde(
        default,
        rename = "mapCustomerOwnedIPOnLaunch",
        skip_serializing_if = "Option::is_none"
    )]
    pub map_customer_owned_ip_on_launch: Option<bool>,
    /// Owner account.
    #[serde(default, rename = "ownerID", skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Hostname options of instances launched here.
    #[serde(
        default,
        rename = "privateDNSNameOptionsOnLaunch",
        skip_serializing_if = "Option::is_none"
    )]
    pub private_dns_name_options_on_launch: Option<PrivateDNSNameOptionsOnLaunch>,
    /// `pending` or `available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The subnet id (`subnet-…`), assigned by AWS.
    #[serde(default, rename = "subnetID", skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

crate::ack::runtime::impl_ack_status!(SubnetStatus);

/// One IPv6 block of a subnet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetIPv6CIDRBlockAssociation {
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
    pub ipv6_cidr_block_state: Option<SubnetCIDRBlockState>,
}

/// State of a block association.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetCIDRBlockState {
    /// e.g. `associated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// Hostname options of instances launched in the subnet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateDNSNameOptionsOnLaunch {
    /// AAAA records.
    #[serde(
        default,
        rename = "enableResourceNameDNSAAAARecord",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_resource_name_dns_aaaa_record: Option<bool>,
    /// A records.
    #[serde(
        default,
        rename = "enableResourceNameDNSARecord",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_resource_name_dns_a_record: Option<bool>,
    /// `ip-name` or `resource-name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_type: Option<String>,
}

/// One launch attribute of a subnet, changed by one ModifySubnetAttribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// `assignIPv6AddressOnCreation`.
    AssignIpv6(bool),
    /// `customerOwnedIPv4Pool` (and mapping customer-owned IPs on launch).
    CustomerOwnedPool(String),
    /// `enableDNS64`.
    Dns64(bool),
    /// `enableResourceNameDNSAAAARecord`.
    AaaaRecord(bool),
    /// `enableResourceNameDNSARecord`.
    ARecord(bool),
    /// `hostnameType`.
    HostnameType(String),
    /// `mapPublicIPOnLaunch`.
    MapPublicIp(bool),
}

/// What EC2 holds for a subnet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedSubnet {
    /// The VPC.
    pub vpc_id: Option<String>,
    /// The IPv4 block.
    pub cidr_block: Option<String>,
    /// Zone name and id.
    pub availability_zone: Option<String>,
    /// Zone id.
    pub availability_zone_id: Option<String>,
    /// The first IPv6 block.
    pub ipv6_cidr_block: Option<String>,
    /// IPv6-only.
    pub ipv6_native: Option<bool>,
    /// Outpost.
    pub outpost_arn: Option<String>,
    /// `assignIpv6AddressOnCreation`.
    pub assign_ipv6: Option<bool>,
    /// Customer-owned pool.
    pub customer_owned_pool: Option<String>,
    /// `enableDns64`.
    pub dns64: Option<bool>,
    /// AAAA records.
    pub aaaa_record: Option<bool>,
    /// A records.
    pub a_record: Option<bool>,
    /// Hostname type.
    pub hostname_type: Option<String>,
    /// `mapPublicIpOnLaunch`.
    pub map_public_ip: Option<bool>,
    /// Route table associations: (route table id, association id).
    pub route_tables: Vec<(String, String)>,
    /// The user's tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: SubnetStatus,
}

/// The calls that bring a subnet in line with its spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubnetDelta {
    /// One ModifySubnetAttribute each.
    pub attributes: Vec<Attribute>,
    /// DisassociateRouteTable, by association id.
    pub disassociate: Vec<String>,
    /// AssociateRouteTable, by route table id.
    pub associate: Vec<String>,
}

/// Desired vs observed: each attribute the spec sets and AWS differs on (a `false` where AWS
/// reports nothing is no change), and the route tables as a set.
pub fn subnet_delta(spec: &SubnetSpec, observed: &ObservedSubnet) -> SubnetDelta {
    let flag = super::bool_change;
    let mut attributes = Vec::new();
    if let Some(v) = flag(spec.assign_ipv6_address_on_creation, observed.assign_ipv6) {
        attributes.push(Attribute::AssignIpv6(v));
    }
    if let Some(p) = spec
        .customer_owned_ipv4_pool
        .as_ref()
        .filter(|p| Some(*p) != observed.customer_owned_pool.as_ref())
    {
        attributes.push(Attribute::CustomerOwnedPool(p.clone()));
    }
    if let Some(v) = flag(spec.enable_dns64, observed.dns64) {
        attributes.push(Attribute::Dns64(v));
    }
    if let Some(v) = flag(
        spec.enable_resource_name_dns_aaaa_record,
        observed.aaaa_record,
    ) {
        attributes.push(Attribute::AaaaRecord(v));
    }
    if let Some(v) = flag(spec.enable_resource_name_dns_a_record, observed.a_record) {
        attributes.push(Attribute::ARecord(v));
    }
    if let Some(t) = spec
        .hostname_type
        .as_ref()
        .filter(|t| Some(*t) != observed.hostname_type.as_ref())
        .filter(|t| !(t.as_str() == "ip-name" && observed.hostname_type.is_none()))
    {
        attributes.push(Attribute::HostnameType(t.clone()));
    }
    if let Some(v) = flag(spec.map_public_ip_on_launch, observed.map_public_ip) {
        attributes.push(Attribute::MapPublicIp(v));
    }
    let (associate, disassociate) =
        association_delta(spec.route_tables.as_deref(), &observed.route_tables);
    SubnetDelta {
        attributes,
        disassociate,
        associate,
    }
}

/// The spec of an adopted subnet.
pub fn adopted_spec(observed: &ObservedSubnet) -> Value {
    let mut spec = json!({ "tags": observed.tags });
    let strings = [
        ("vpcID", &observed.vpc_id),
        ("cidrBlock", &observed.cidr_block),
        ("availabilityZone", &observed.availability_zone),
        ("availabilityZoneID", &observed.availability_zone_id),
        ("ipv6CIDRBlock", &observed.ipv6_cidr_block),
        ("outpostARN", &observed.outpost_arn),
        ("customerOwnedIPv4Pool", &observed.customer_owned_pool),
        ("hostnameType", &observed.hostname_type),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            spec[k] = json!(v);
        }
    }
    let flags = [
        ("ipv6Native", observed.ipv6_native),
        ("assignIPv6AddressOnCreation", observed.assign_ipv6),
        ("enableDNS64", observed.dns64),
        ("enableResourceNameDNSAAAARecord", observed.aaaa_record),
        ("enableResourceNameDNSARecord", observed.a_record),
        ("mapPublicIPOnLaunch", observed.map_public_ip),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            spec[k] = json!(v);
        }
    }
    if !observed.route_tables.is_empty() {
        let rts: Vec<&String> = observed.route_tables.iter().map(|(rt, _)| rt).collect();
        spec["routeTables"] = json!(rts);
    }
    spec
}

pub(crate) const VPC_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "VPC",
    plural: "vpcs",
    path: &["status", "vpcID"],
};

pub(crate) const ROUTE_TABLE_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "RouteTable",
    plural: "routetables",
    path: &["status", "routeTableID"],
};

/// AWS error codes that make a subnet terminal.
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidCustomerOwnedIpv4PoolID.Malformed",
    "InvalidSubnet.Range",
    "InvalidSubnet.Conflict",
    "InvalidVpcID.NotFound",
    "InvalidParameterCombination",
];

const NOT_FOUND: &[&str] = &["InvalidSubnetID.NotFound"];

/// The answer for a route table association that is already gone.
const ASSOCIATION_NOT_FOUND: &[&str] = &["InvalidAssociationID.NotFound"];

/// Reads a subnet and its route table associations.
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedSubnet>, SyncError> {
    let res = ec2.describe_subnets().subnet_ids(id).send().await;
    let Some(s) = described("DescribeSubnets", res, NOT_FOUND, |o| o.subnets().first())? else {
        return Ok(None);
    };
    let rts = ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(id)
                .build(),
        )
        .send()
        .await
        .map_err(aws("DescribeRouteTables"))?;
    let route_tables = associations(rts.route_tables(), |a| a.subnet_id() == Some(id));
    let ipv6: Vec<SubnetIPv6CIDRBlockAssociation> = s
        .ipv6_cidr_block_association_set()
        .iter()
        .map(|a| SubnetIPv6CIDRBlockAssociation {
            association_id: a.association_id().map(str::to_owned),
            ipv6_cidr_block: a.ipv6_cidr_block().map(str::to_owned),
            ipv6_cidr_block_state: a.ipv6_cidr_block_state().map(|st| SubnetCIDRBlockState {
                state: st.state().map(|x| x.as_str().to_owned()),
                status_message: st.status_message().map(str::to_owned),
            }),
        })
        .collect();
    let dns = s.private_dns_name_options_on_launch();
    let dns_status = dns.map(|d| PrivateDNSNameOptionsOnLaunch {
        enable_resource_name_dns_aaaa_record: d.enable_resource_name_dns_aaaa_record(),
        enable_resource_name_dns_a_record: d.enable_resource_name_dns_a_record(),
        hostname_type: d.hostname_type().map(|h| h.as_str().to_owned()),
    });
    Ok(Some(ObservedSubnet {
        vpc_id: s.vpc_id().map(str::to_owned),
        cidr_block: s.cidr_block().map(str::to_owned),
        availability_zone: s.availability_zone().map(str::to_owned),
        availability_zone_id: s.availability_zone_id().map(str::to_owned),
        ipv6_cidr_block: ipv6.first().and_then(|a| a.ipv6_cidr_block.clone()),
        ipv6_native: s.ipv6_native(),
        outpost_arn: s.outpost_arn().map(str::to_owned),
        assign_ipv6: s.assign_ipv6_address_on_creation(),
        customer_owned_pool: s.customer_owned_ipv4_pool().map(str::to_owned),
        dns64: s.enable_dns64(),
        aaaa_record: dns.and_then(|d| d.enable_resource_name_dns_aaaa_record()),
        a_record: dns.and_then(|d| d.enable_resource_name_dns_a_record()),
        hostname_type: dns
            .and_then(|d| d.hostname_type())
            .map(|h| h.as_str().to_owned()),
        map_public_ip: s.map_public_ip_on_launch(),
        route_tables,
        tags: user_tags(s.tags()),
        status: SubnetStatus {
            available_ip_address_count: s.available_ip_address_count().map(i64::from),
            default_for_az: s.default_for_az(),
            enable_lni_at_device_index: s.enable_lni_at_device_index().map(i64::from),
            ipv6_cidr_block_association_set: non_empty(ipv6),
            map_customer_owned_ip_on_launch: s.map_customer_owned_ip_on_launch(),
            owner_id: s.owner_id().map(str::to_owned),
            private_dns_name_options_on_launch: dns_status,
            state: s.state().map(|x| x.as_str().to_owned()),
            subnet_id: Some(id.to_owned()),
            ..Default::default()
        },
    }))
}

async fn modify(ec2: &Client, id: &str, attr: &Attribute) -> Result<(), SyncError> {
    let b = |v: bool| AttributeBooleanValue::builder().value(v).build();
    let call = ec2.modify_subnet_attribute().subnet_id(id);
    let call = match attr {
        Attribute::AssignIpv6(v) => call.assign_ipv6_address_on_creation(b(*v)),
        Attribute::CustomerOwnedPool(p) => call
            .map_customer_owned_ip_on_launch(b(true))
            .customer_owned_ipv4_pool(p),
        Attribute::Dns64(v) => call.enable_dns64(b(*v)),
        Attribute::AaaaRecord(v) => call.enable_resource_name_dns_aaaa_record_on_launch(b(*v)),
        Attribute::ARecord(v) => call.enable_resource_name_dns_a_record_on_launch(b(*v)),
        Attribute::HostnameType(t) => {
            call.private_dns_hostname_type_on_launch(HostnameType::from(t.as_str()))
        }
        Attribute::MapPublicIp(v) => call.map_public_ip_on_launch(b(*v)),
    };
    call.send().await.map_err(aws("ModifySubnetAttribute"))?;
    Ok(())
}

/// Checks what a user wrote that AWS would refuse less clearly.
fn check(spec: &SubnetSpec) -> Result<(), SyncError> {
    check_tags(spec.tags.as_deref())?;
    if let Some(c) = &spec.cidr_block {
        cidr_field("spec.cidrBlock", c)?;
    }
    if let Some(t) = &spec.hostname_type
        && !matches!(t.as_str(), "ip-name" | "resource-name")
    {
        return Err(SyncError::Terminal(format!(
            "spec.hostnameType {t:?}: write ip-name or resource-name"
        )));
    }
    let n = spec.route_tables.as_ref().map_or(0, Vec::len)
        + spec.route_table_refs.as_ref().map_or(0, Vec::len);
    if n > MAX_ROUTE_TABLES {
        return Err(SyncError::Terminal(format!(
            "spec.routeTables has {n} entries; at most {MAX_ROUTE_TABLES} are allowed"
        )));
    }
    Ok(())
}

impl AckKind for Subnet {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/Subnet";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "subnetID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedSubnet;

    fn identifier(&self) -> String {
        status_identifier(self.status.as_ref(), |s| s.subnet_id.as_ref())
    }

    fn has_references(&self) -> bool {
        self.spec.vpc_ref.is_some() || has_refs(self.spec.route_table_refs.as_deref())
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        let s = &self.spec;
        let (vpc, rts) = (&mut out.spec.vpc_id, &mut out.spec.route_tables);
        resolve_id(
            cx,
            vpc,
            "spec.vpcID",
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

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedSubnet>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check(&self.spec)?;
        if self.spec.vpc_id.as_deref().unwrap_or_default().is_empty() {
            return Err(SyncError::Terminal(
                "spec.vpcID is empty: set spec.vpcID or spec.vpcRef to the subnet's VPC".into(),
            ));
        }
        Ok(())
    }

    async fn find_created(
        &self,
        cx: &SyncCx<'_>,
        token: &crate::ack::types::Tag,
    ) -> Result<Option<String>, SyncError> {
        super::find_tagged!(
            cx,
            token,
            describe_subnets,
            "DescribeSubnets",
            subnets,
            subnet_id
        )
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let s = &self.spec;
        let out = cx
            .aws
            .ec2
            .create_subnet()
            .set_vpc_id(s.vpc_id.clone())
            .set_cidr_block(s.cidr_block.clone())
            .set_availability_zone(s.availability_zone.clone())
            .set_availability_zone_id(s.availability_zone_id.clone())
            .set_ipv6_cidr_block(s.ipv6_cidr_block.clone())
            .set_ipv6_native(s.ipv6_native)
            .set_outpost_arn(s.outpost_arn.clone())
            .set_tag_specifications(tag_specs(ResourceType::Subnet, s.tags.as_deref()))
            .send()
            .await
            .map_err(aws("CreateSubnet"))?;
        Ok(created("subnet", out.subnet().and_then(|v| v.subnet_id())))
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedSubnet,
    ) -> Result<Synced, SyncError> {
        check(&self.spec)?;
        let ec2 = &cx.aws.ec2;
        let delta = subnet_delta(&self.spec, &observed);
        let mut updated = Vec::new();
        for a in &delta.attributes {
            modify(ec2, id, a).await?;
            updated.push("ModifySubnetAttribute".to_owned());
        }
        let edge = Edge::Subnet(id);
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
        let waiting = pending("subnet", id, observed.status.state.as_deref());
        Ok(synced(updated, &observed.status, waiting))
    }

    fn adopted_spec(_id: &str, observed: &ObservedSubnet) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedSubnet,
    ) -> Result<Deleted, SyncError> {
        // Its route table associations first (EC2 drops them with the subnet; not every
        // endpoint does, and a leftover one keeps the route table from being deleted).
        let ec2 = &cx.aws.ec2;
        disassociate_all(ec2, &observed.route_tables, ASSOCIATION_NOT_FOUND).await?;
        let res = ec2.delete_subnet().subnet_id(id).send().await;
        deleted("DeleteSubnet", res, NOT_FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed() -> ObservedSubnet {
        ObservedSubnet {
            vpc_id: Some("vpc-1".into()),
            cidr_block: Some("10.0.1.0/24".into()),
            map_public_ip: Some(false),
            assign_ipv6: Some(false),
            route_tables: vec![("rtb-a".into(), "rtbassoc-a".into())],
            ..Default::default()
        }
    }

    #[test]
    fn attributes_are_one_call_each_and_only_when_they_differ() {
        let mut spec = SubnetSpec::default();
        assert_eq!(subnet_delta(&spec, &observed()), SubnetDelta::default());
        spec.map_public_ip_on_launch = Some(true);
        spec.assign_ipv6_address_on_creation = Some(false);
        spec.enable_dns64 = Some(false);
        spec.hostname_type = Some("resource-name".into());
        spec.enable_resource_name_dns_a_record = Some(true);
        let d = subnet_delta(&spec, &observed());
        assert_eq!(
            d.attributes,
            vec![
                Attribute::ARecord(true),
                Attribute::HostnameType("resource-name".into()),
                Attribute::MapPublicIp(true),
            ]
        );
    }

    #[test]
    fn route_tables_diff_as_a_set() {
        let mut spec = SubnetSpec {
            route_tables: Some(vec!["rtb-a".into()]),
            ..Default::default()
        };
        assert_eq!(subnet_delta(&spec, &observed()), SubnetDelta::default());
        spec.route_tables = Some(vec!["rtb-b".into()]);
        let d = subnet_delta(&spec, &observed());
        assert_eq!(d.disassociate, vec!["rtbassoc-a".to_owned()]);
        assert_eq!(d.associate, vec!["rtb-b".to_owned()]);
        spec.route_tables = Some(vec![]);
        let d = subnet_delta(&spec, &observed());
        assert_eq!((d.disassociate.len(), d.associate.len()), (1, 0));
    }

    #[test]
    fn bad_input_names_the_field() {
        let spec = SubnetSpec {
            hostname_type: Some("fancy".into()),
            ..Default::default()
        };
        let e = check(&spec).unwrap_err().to_string();
        assert!(e.starts_with("spec.hostnameType \"fancy\""), "{e}");
        let spec = SubnetSpec {
            cidr_block: Some("10.0.1.0/40".into()),
            ..Default::default()
        };
        let e = check(&spec).unwrap_err().to_string();
        assert!(e.starts_with("spec.cidrBlock"), "{e}");
    }

    #[test]
    fn adopted_spec_carries_placement_and_attributes() {
        let v = adopted_spec(&observed());
        assert_eq!(v["vpcID"], "vpc-1");
        assert_eq!(v["cidrBlock"], "10.0.1.0/24");
        assert_eq!(v["mapPublicIPOnLaunch"], false);
        assert_eq!(v["routeTables"], json!(["rtb-a"]));
    }
}

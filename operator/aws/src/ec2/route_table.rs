//! `ec2.services.k8s.aws/v1alpha1 RouteTable`: ACK's API, the route diff and the EC2 calls.
//! Routes are keyed by destination (canonical block or prefix list): a missing one is created,
//! one with another target replaced, one the spec does not list deleted (first). The `local`
//! route EC2 creates with the table, and propagated routes, are never touched or compared.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::ResourceType;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{created, deleted, described, reread, resolve_id, status_identifier, synced};
use super::subnet::VPC_REF;
use super::{aws, check_tags, non_empty, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, AwsResourceReferenceWrapper, Tag};

/// At most this many routes (AWS's default quota is 50; 1,000 with an increase).
pub const MAX_ROUTES: usize = 1000;

/// Spec of a route table (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "RouteTable",
    plural = "routetables",
    namespaced,
    status = "RouteTableStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableSpec {
    /// Routes (besides the `local` one EC2 manages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<CreateRouteInput>>,
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

/// One route: a destination and exactly one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRouteInput {
    /// Carrier gateway (Wavelength).
    #[serde(
        default,
        rename = "carrierGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier_gateway_id: Option<String>,
    /// Core network (Cloud WAN).
    #[serde(
        default,
        rename = "coreNetworkARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub core_network_arn: Option<String>,
    /// IPv4 destination.
    #[serde(
        default,
        rename = "destinationCIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_cidr_block: Option<String>,
    /// IPv6 destination.
    #[serde(
        default,
        rename = "destinationIPv6CIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_ipv6_cidr_block: Option<String>,
    /// Prefix list destination.
    #[serde(
        default,
        rename = "destinationPrefixListID",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_prefix_list_id: Option<String>,
    /// Egress-only internet gateway.
    #[serde(
        default,
        rename = "egressOnlyInternetGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub egress_only_internet_gateway_id: Option<String>,
    /// Internet or virtual private gateway.
    #[serde(default, rename = "gatewayID", skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    /// Reference to an `InternetGateway` (its `status.internetGatewayID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ref: Option<AwsResourceReferenceWrapper>,
    /// NAT instance.
    #[serde(
        default,
        rename = "instanceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,
    /// Local gateway (Outposts).
    #[serde(
        default,
        rename = "localGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_gateway_id: Option<String>,
    /// NAT gateway.
    #[serde(
        default,
        rename = "natGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub nat_gateway_id: Option<String>,
    /// Reference to a `NATGateway` (its `status.natGatewayID`).
    #[serde(
        default,
        rename = "natGatewayRef",
        skip_serializing_if = "Option::is_none"
    )]
    pub nat_gateway_ref: Option<AwsResourceReferenceWrapper>,
    /// Network interface.
    #[serde(
        default,
        rename = "networkInterfaceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_interface_id: Option<String>,
    /// Transit gateway.
    #[serde(
        default,
        rename = "transitGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub transit_gateway_id: Option<String>,
    /// Reference to a `TransitGateway` (its `status.transitGatewayID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway_ref: Option<AwsResourceReferenceWrapper>,
    /// Gateway VPC endpoint.
    #[serde(
        default,
        rename = "vpcEndpointID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_endpoint_id: Option<String>,
    /// Reference to a `VPCEndpoint` (its `status.vpcEndpointID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_ref: Option<AwsResourceReferenceWrapper>,
    /// VPC peering connection.
    #[serde(
        default,
        rename = "vpcPeeringConnectionID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_peering_connection_id: Option<String>,
    /// Reference to a `VPCPeeringConnection` (its `status.vpcPeeringConnectionID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_peering_connection_ref: Option<AwsResourceReferenceWrapper>,
}

/// Observed state of a route table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Subnet and gateway associations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associations: Option<Vec<RouteTableAssociation>>,
    /// Owner account.
    #[serde(default, rename = "ownerID", skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Virtual private gateways propagating routes.
    #[serde(
        default,
        rename = "propagatingVGWs",
        skip_serializing_if = "Option::is_none"
    )]
    pub propagating_vgws: Option<Vec<PropagatingVGW>>,
    /// Every route as EC2 reports it, `local` included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_statuses: Option<Vec<Route>>,
    /// The route table id (`rtb-…`), assigned by AWS.
    #[serde(
        default,
        rename = "routeTableID",
        skip_serializing_if = "Option::is_none"
    )]
    pub route_table_id: Option<String>,
}

crate::ack::runtime::impl_ack_status!(RouteTableStatus);

/// A route as EC2 reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Carrier gateway.
    #[serde(
        default,
        rename = "carrierGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier_gateway_id: Option<String>,
    /// Core network.
    #[serde(
        default,
        rename = "coreNetworkARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub core_network_arn: Option<String>,
    /// IPv4 destination.
    #[serde(
        default,
        rename = "destinationCIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_cidr_block: Option<String>,
    /// IPv6 destination.
    #[serde(
        default,
        rename = "destinationIPv6CIDRBlock",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_ipv6_cidr_block: Option<String>,
    /// Prefix list destination.
    #[serde(
        default,
        rename = "destinationPrefixListID",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_prefix_list_id: Option<String>,
    /// Egress-only internet gateway.
    #[serde(
        default,
        rename = "egressOnlyInternetGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub egress_only_internet_gateway_id: Option<String>,
    /// Gateway (`local` for the VPC's own route).
    #[serde(default, rename = "gatewayID", skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    /// NAT instance.
    #[serde(
        default,
        rename = "instanceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,
    /// NAT instance's account.
    #[serde(
        default,
        rename = "instanceOwnerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_owner_id: Option<String>,
    /// Local gateway.
    #[serde(
        default,
        rename = "localGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_gateway_id: Option<String>,
    /// NAT gateway.
    #[serde(
        default,
        rename = "natGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub nat_gateway_id: Option<String>,
    /// Network interface.
    #[serde(
        default,
        rename = "networkInterfaceID",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_interface_id: Option<String>,
    /// `CreateRouteTable` (local), `CreateRoute` or `EnableVgwRoutePropagation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `active` or `blackhole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Transit gateway.
    #[serde(
        default,
        rename = "transitGatewayID",
        skip_serializing_if = "Option::is_none"
    )]
    pub transit_gateway_id: Option<String>,
    /// VPC peering connection.
    #[serde(
        default,
        rename = "vpcPeeringConnectionID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_peering_connection_id: Option<String>,
}

/// One association of a route table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableAssociation {
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association_state: Option<RouteTableAssociationState>,
    /// Associated gateway.
    #[serde(default, rename = "gatewayID", skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    /// The VPC's main route table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    /// Association id.
    #[serde(
        default,
        rename = "routeTableAssociationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub route_table_association_id: Option<String>,
    /// Route table.
    #[serde(
        default,
        rename = "routeTableID",
        skip_serializing_if = "Option::is_none"
    )]
    pub route_table_id: Option<String>,
    /// Associated subnet.
    #[serde(default, rename = "subnetID", skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

/// State of an association.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableAssociationState {
    /// e.g. `associated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// A virtual private gateway propagating routes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropagatingVGW {
    /// Its id.
    #[serde(default, rename = "gatewayID", skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
}

/// Where a route goes to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    /// IPv4 block (canonical).
    Ipv4(String),
    /// IPv6 block (canonical).
    Ipv6(String),
    /// Prefix list.
    PrefixList(String),
}

/// What a route sends traffic to: (target kind, id). The kind is the ACK field name.
pub type RouteTarget = (&'static str, String);

/// The one target of a spec route, or an error naming the field.
fn spec_target(field: &str, r: &CreateRouteInput) -> Result<RouteTarget, SyncError> {
    let all = [
        ("carrierGatewayID", &r.carrier_gateway_id),
        ("coreNetworkARN", &r.core_network_arn),
        (
            "egressOnlyInternetGatewayID",
            &r.egress_only_internet_gateway_id,
        ),
        ("gatewayID", &r.gateway_id),
        ("instanceID", &r.instance_id),
        ("localGatewayID", &r.local_gateway_id),
        ("natGatewayID", &r.nat_gateway_id),
        ("networkInterfaceID", &r.network_interface_id),
        ("transitGatewayID", &r.transit_gateway_id),
        ("vpcEndpointID", &r.vpc_endpoint_id),
        ("vpcPeeringConnectionID", &r.vpc_peering_connection_id),
    ];
    let set: Vec<RouteTarget> = all
        .into_iter()
        .filter_map(|(k, v)| v.clone().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    match set.len() {
        1 => Ok(set
            .into_iter()
            .next()
            .unwrap_or(("gatewayID", String::new()))),
        0 => Err(SyncError::Terminal(format!(
            "{field} has no target: set one of gatewayID (or gatewayRef), natGatewayID (or \
             natGatewayRef), transitGatewayID, vpcEndpointID, vpcPeeringConnectionID, \
             networkInterfaceID, instanceID, egressOnlyInternetGatewayID, carrierGatewayID, \
             localGatewayID, coreNetworkARN"
        ))),
        _ => Err(SyncError::Terminal(format!(
            "{field} has {} targets ({}): keep exactly one",
            set.len(),
            set.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn spec_destination(field: &str, r: &CreateRouteInput) -> Result<Destination, SyncError> {
    let mut set = Vec::new();
    if let Some(c) = r
        .destination_cidr_block
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        set.push(Destination::Ipv4(super::cidr_field(
            &format!("{field}.destinationCIDRBlock"),
            c,
        )?));
    }
    if let Some(c) = r
        .destination_ipv6_cidr_block
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        set.push(Destination::Ipv6(super::cidr_field(
            &format!("{field}.destinationIPv6CIDRBlock"),
            c,
        )?));
    }
    if let Some(p) = r
        .destination_prefix_list_id
        .clone()
        .filter(|s| !s.is_empty())
    {
        set.push(Destination::PrefixList(p));
    }
    match set.len() {
        1 => Ok(set.remove(0)),
        0 => Err(SyncError::Terminal(format!(
            "{field} has no destination: set destinationCIDRBlock, destinationIPv6CIDRBlock or \
             destinationPrefixListID"
        ))),
        _ => Err(SyncError::Terminal(format!(
            "{field} has {} destinations: keep exactly one",
            set.len()
        ))),
    }
}

/// The spec's routes by destination (checked: one destination, one target, no duplicates).
pub(crate) fn desired_routes(
    routes: Option<&[CreateRouteInput]>,
) -> Result<BTreeMap<Destination, RouteTarget>, SyncError> {
    let routes = routes.unwrap_or_default();
    if routes.len() > MAX_ROUTES {
        return Err(SyncError::Terminal(format!(
            "spec.routes has {} routes; at most {MAX_ROUTES} are allowed",
            routes.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let f = format!("spec.routes[{i}]");
        let dest = spec_destination(&f, r)?;
        let target = spec_target(&f, r)?;
        if target == ("gatewayID", "local".to_owned()) {
            // The VPC's own route: EC2's, never ours to change.
            continue;
        }
        if out.insert(dest.clone(), target).is_some() {
            return Err(SyncError::Terminal(format!(
                "{f}: another route has the same destination {dest:?}: keep one"
            )));
        }
    }
    Ok(out)
}

/// EC2's routes that the spec manages (neither `local` nor propagated), by destination.
pub fn observed_routes(routes: &[Route]) -> BTreeMap<Destination, RouteTarget> {
    let mut out = BTreeMap::new();
    for r in routes {
        if r.origin.as_deref() != Some("CreateRoute") || r.gateway_id.as_deref() == Some("local") {
            continue;
        }
        let dest = if let Some(c) = &r.destination_cidr_block {
            Destination::Ipv4(super::canonical_cidr(c).unwrap_or_else(|| c.clone()))
        } else if let Some(c) = &r.destination_ipv6_cidr_block {
            Destination::Ipv6(super::canonical_cidr(c).unwrap_or_else(|| c.clone()))
        } else if let Some(p) = &r.destination_prefix_list_id {
            Destination::PrefixList(p.clone())
        } else {
            continue;
        };
        let target = [
            ("carrierGatewayID", &r.carrier_gateway_id),
            ("coreNetworkARN", &r.core_network_arn),
            (
                "egressOnlyInternetGatewayID",
                &r.egress_only_internet_gateway_id,
            ),
            ("gatewayID", &r.gateway_id),
            ("natGatewayID", &r.nat_gateway_id),
            ("transitGatewayID", &r.transit_gateway_id),
            ("vpcPeeringConnectionID", &r.vpc_peering_connection_id),
            ("localGatewayID", &r.local_gateway_id),
            // EC2 reports a route to an instance with its network interface too: the instance
            // wins, as the spec names it.
            ("instanceID", &r.instance_id),
            ("networkInterfaceID", &r.network_interface_id),
        ]
        .into_iter()
        .find_map(|(k, v)| v.clone().filter(|v| !v.is_empty()).map(|v| (k, v)));
        // A route that lost its target (a failed replace can leave one) still holds its
        // destination: it compares as targetless, so the spec's route replaces it.
        let mut t = target.unwrap_or(("none", String::new()));
        // A gateway endpoint's route reports its id as the gateway (vpce-…).
        if t.0 == "gatewayID" && t.1.starts_with("vpce-") {
            t.0 = "vpcEndpointID";
        }
        out.insert(dest, t);
    }
    out
}

/// The route calls: delete first, then replace, then create.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteDelta {
    /// DeleteRoute.
    pub delete: Vec<Destination>,
    /// ReplaceRoute.
    pub replace: Vec<(Destination, RouteTarget)>,
    /// CreateRoute.
    pub create: Vec<(Destination, RouteTarget)>,
}

/// Desired vs observed routes.
pub fn route_delta(
    desired: &BTreeMap<Destination, RouteTarget>,
    observed: &BTreeMap<Destination, RouteTarget>,
) -> RouteDelta {
    let mut d = RouteDelta::default();
    for dest in observed.keys() {
        if !desired.contains_key(dest) {
            d.delete.push(dest.clone());
        }
    }
    for (dest, t) in desired {
        match observed.get(dest) {
            None => d.create.push((dest.clone(), t.clone())),
            Some(o) if o != t => d.replace.push((dest.clone(), t.clone())),
            Some(_) => {}
        }
    }
    d
}

/// ACK's route shape for an adopted table.
fn route_input(dest: &Destination, t: &RouteTarget) -> Value {
    let mut v = match dest {
        Destination::Ipv4(c) => json!({"destinationCIDRBlock": c}),
        Destination::Ipv6(c) => json!({"destinationIPv6CIDRBlock": c}),
        Destination::PrefixList(p) => json!({"destinationPrefixListID": p}),
    };
    v[t.0] = json!(t.1);
    v
}

/// What EC2 holds for a route table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedTable {
    /// VPC.
    pub vpc_id: Option<String>,
    /// Managed routes.
    pub routes: BTreeMap<Destination, RouteTarget>,
    /// The user's tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: RouteTableStatus,
}

/// The spec of an adopted table.
pub fn adopted_spec(observed: &ObservedTable) -> Value {
    let routes: Vec<Value> = observed
        .routes
        .iter()
        .map(|(d, t)| route_input(d, t))
        .collect();
    let mut spec = json!({"routes": routes, "tags": observed.tags});
    if let Some(v) = &observed.vpc_id {
        spec["vpcID"] = json!(v);
    }
    spec
}

const IGW_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "InternetGateway",
    plural: "internetgateways",
    path: &["status", "internetGatewayID"],
};
const NAT_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "NATGateway",
    plural: "natgateways",
    path: &["status", "natGatewayID"],
};
const TGW_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "TransitGateway",
    plural: "transitgateways",
    path: &["status", "transitGatewayID"],
};
const VPCE_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "VPCEndpoint",
    plural: "vpcendpoints",
    path: &["status", "vpcEndpointID"],
};
const PCX_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "VPCPeeringConnection",
    plural: "vpcpeeringconnections",
    path: &["status", "vpcPeeringConnectionID"],
};

/// AWS error codes that make a route table terminal.
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidVpcID.NotFound",
    "RouteAlreadyExists",
    "InvalidRoute.Malformed",
];

const NOT_FOUND: &[&str] = &["InvalidRouteTableID.NotFound"];

fn route_of(r: &aws_sdk_ec2::types::Route) -> Route {
    let s = |v: Option<&str>| v.map(str::to_owned);
    Route {
        carrier_gateway_id: s(r.carrier_gateway_id()),
        core_network_arn: s(r.core_network_arn()),
        destination_cidr_block: s(r.destination_cidr_block()),
        destination_ipv6_cidr_block: s(r.destination_ipv6_cidr_block()),
        destination_prefix_list_id: s(r.destination_prefix_list_id()),
        egress_only_internet_gateway_id: s(r.egress_only_internet_gateway_id()),
        gateway_id: s(r.gateway_id()),
        instance_id: s(r.instance_id()),
        instance_owner_id: s(r.instance_owner_id()),
        local_gateway_id: s(r.local_gateway_id()),
        nat_gateway_id: s(r.nat_gateway_id()),
        network_interface_id: s(r.network_interface_id()),
        origin: r.origin().map(|o| o.as_str().to_owned()),
        state: r.state().map(|o| o.as_str().to_owned()),
        transit_gateway_id: s(r.transit_gateway_id()),
        vpc_peering_connection_id: s(r.vpc_peering_connection_id()),
    }
}

/// Reads a route table.
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedTable>, SyncError> {
    let res = ec2.describe_route_tables().route_table_ids(id).send().await;
    let Some(t) = described("DescribeRouteTables", res, NOT_FOUND, |o| {
        o.route_tables().first()
    })?
    else {
        return Ok(None);
    };
    let routes: Vec<Route> = t.routes().iter().map(route_of).collect();
    let associations: Vec<RouteTableAssociation> = t
        .associations()
        .iter()
        .map(|a| RouteTableAssociation {
            association_state: a.association_state().map(|s| RouteTableAssociationState {
                state: s.state().map(|x| x.as_str().to_owned()),
                status_message: s.status_message().map(str::to_owned),
            }),
            gateway_id: a.gateway_id().map(str::to_owned),
            main: a.main(),
            route_table_association_id: a.route_table_association_id().map(str::to_owned),
            route_table_id: a.route_table_id().map(str::to_owned),
            subnet_id: a.subnet_id().map(str::to_owned),
        })
        .collect();
    let vgws: Vec<PropagatingVGW> = t
        .propagating_vgws()
        .iter()
        .map(|v| PropagatingVGW {
            gateway_id: v.gateway_id().map(str::to_owned),
        })
        .collect();
    Ok(Some(ObservedTable {
        vpc_id: t.vpc_id().map(str::to_owned),
        routes: observed_routes(&routes),
        tags: user_tags(t.tags()),
        status: RouteTableStatus {
            associations: non_empty(associations),
            owner_id: t.owner_id().map(str::to_owned),
            propagating_vgws: non_empty(vgws),
            route_statuses: non_empty(routes),
            route_table_id: Some(id.to_owned()),
            ..Default::default()
        },
    }))
}

/// Builder `b` of a route call with destination `dest`.
macro_rules! to_destination {
    ($b:expr, $dest:expr) => {
        match $dest {
            Destination::Ipv4(c) => $b.destination_cidr_block(c),
            Destination::Ipv6(c) => $b.destination_ipv6_cidr_block(c),
            Destination::PrefixList(p) => $b.destination_prefix_list_id(p),
        }
    };
}

/// Calls CreateRoute (`replace` false) or ReplaceRoute for one route.
async fn put_route(
    ec2: &Client,
    id: &str,
    dest: &Destination,
    t: &RouteTarget,
    replace: bool,
) -> Result<(), SyncError> {
    macro_rules! call {
        ($b:expr, $op:literal) => {{
            let b = to_destination!($b.route_table_id(id), dest);
            let v = t.1.as_str();
            let b = match t.0 {
                "carrierGatewayID" => b.carrier_gateway_id(v),
                "coreNetworkARN" => b.core_network_arn(v),
                "egressOnlyInternetGatewayID" => b.egress_only_internet_gateway_id(v),
                "instanceID" => b.instance_id(v),
                "localGatewayID" => b.local_gateway_id(v),
                "natGatewayID" => b.nat_gateway_id(v),
                "networkInterfaceID" => b.network_interface_id(v),
                "transitGatewayID" => b.transit_gateway_id(v),
                "vpcEndpointID" => b.vpc_endpoint_id(v),
                "vpcPeeringConnectionID" => b.vpc_peering_connection_id(v),
                _ => b.gateway_id(v),
            };
            b.send().await.map(|_| ()).map_err(aws($op))
        }};
    }
    if replace {
        call!(ec2.replace_route(), "ReplaceRoute")
    } else {
        call!(ec2.create_route(), "CreateRoute")
    }
}

/// Resolves the `*Ref`s of one route into its target fields.
async fn resolve_route(
    cx: &SyncCx<'_>,
    i: usize,
    r: &mut CreateRouteInput,
) -> Result<(), SyncError> {
    let pairs: [(&str, &Option<AwsResourceReferenceWrapper>, RefTarget); 5] = [
        ("gatewayRef", &r.gateway_ref, IGW_REF),
        ("natGatewayRef", &r.nat_gateway_ref, NAT_REF),
        ("transitGatewayRef", &r.transit_gateway_ref, TGW_REF),
        ("vpcEndpointRef", &r.vpc_endpoint_ref, VPCE_REF),
        (
            "vpcPeeringConnectionRef",
            &r.vpc_peering_connection_ref,
            PCX_REF,
        ),
    ];
    let mut resolved = Vec::new();
    for (name, w, target) in pairs {
        if let Some(w) = w {
            let field = format!("spec.routes[{i}].{name}");
            resolved.push((name, refs::resolve(cx, &field, w, target).await?));
        }
    }
    for (name, id) in resolved {
        let slot = match name {
            "gatewayRef" => &mut r.gateway_id,
            "natGatewayRef" => &mut r.nat_gateway_id,
            "transitGatewayRef" => &mut r.transit_gateway_id,
            "vpcEndpointRef" => &mut r.vpc_endpoint_id,
            _ => &mut r.vpc_peering_connection_id,
        };
        if slot.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(SyncError::Terminal(format!(
                "spec.routes[{i}]: {name} and the id it stands for are both set: keep only one"
            )));
        }
        *slot = Some(id);
    }
    Ok(())
}

fn route_has_refs(r: &CreateRouteInput) -> bool {
    r.gateway_ref.is_some()
        || r.nat_gateway_ref.is_some()
        || r.transit_gateway_ref.is_some()
        || r.vpc_endpoint_ref.is_some()
        || r.vpc_peering_connection_ref.is_some()
}

impl AckKind for RouteTable {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/RouteTable";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "routeTableID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedTable;

    fn identifier(&self) -> String {
        status_identifier(self.status.as_ref(), |s| s.route_table_id.as_ref())
    }

    fn has_references(&self) -> bool {
        self.spec.vpc_ref.is_some() || self.spec.routes.iter().flatten().any(route_has_refs)
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        let (vpc, r) = (&mut out.spec.vpc_id, self.spec.vpc_ref.as_ref());
        resolve_id(cx, vpc, "spec.vpcID", r, "spec.vpcRef", VPC_REF).await?;
        for (i, r) in out.spec.routes.iter_mut().flatten().enumerate() {
            resolve_route(cx, i, r).await?;
        }
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedTable>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check_tags(self.spec.tags.as_deref())?;
        desired_routes(self.spec.routes.as_deref())?;
        if self.spec.vpc_id.as_deref().unwrap_or_default().is_empty() {
            return Err(SyncError::Terminal(
                "spec.vpcID is empty: set spec.vpcID or spec.vpcRef to the table's VPC".into(),
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
            describe_route_tables,
            "DescribeRouteTables",
            route_tables,
            route_table_id
        )
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let out = cx
            .aws
            .ec2
            .create_route_table()
            .set_vpc_id(self.spec.vpc_id.clone())
            .set_tag_specifications(tag_specs(
                ResourceType::RouteTable,
                self.spec.tags.as_deref(),
            ))
            .send()
            .await
            .map_err(aws("CreateRouteTable"))?;
        let id = out.route_table().and_then(|t| t.route_table_id());
        Ok(created("route table", id))
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedTable,
    ) -> Result<Synced, SyncError> {
        check_tags(self.spec.tags.as_deref())?;
        let ec2 = &cx.aws.ec2;
        let want = desired_routes(self.spec.routes.as_deref())?;
        let delta = route_delta(&want, &observed.routes);
        let mut updated = Vec::new();
        for dest in &delta.delete {
            let b = to_destination!(ec2.delete_route().route_table_id(id), dest);
            b.send().await.map_err(aws("DeleteRoute"))?;
            updated.push("DeleteRoute".to_owned());
        }
        for (dest, t) in &delta.replace {
            put_route(ec2, id, dest, t, true).await?;
            updated.push("ReplaceRoute".to_owned());
        }
        for (dest, t) in &delta.create {
            put_route(ec2, id, dest, t, false).await?;
            updated.push("CreateRoute".to_owned());
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
        Ok(synced(updated, &observed.status, None))
    }

    fn adopted_spec(_id: &str, observed: &ObservedTable) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        _observed: ObservedTable,
    ) -> Result<Deleted, SyncError> {
        let res = cx
            .aws
            .ec2
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await;
        deleted("DeleteRouteTable", res, NOT_FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, gw: &str) -> CreateRouteInput {
        CreateRouteInput {
            destination_cidr_block: Some(dest.into()),
            gateway_id: Some(gw.into()),
            ..Default::default()
        }
    }

    fn aws_route(dest: &str, gw: &str, origin: &str) -> Route {
        Route {
            destination_cidr_block: Some(dest.into()),
            gateway_id: Some(gw.into()),
            origin: Some(origin.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_local_route_is_never_compared() {
        let observed = observed_routes(&[
            aws_route("10.0.0.0/16", "local", "CreateRouteTable"),
            aws_route("0.0.0.0/0", "igw-1", "CreateRoute"),
            aws_route("172.16.0.0/12", "vgw-1", "EnableVgwRoutePropagation"),
        ]);
        let want = desired_routes(Some(&[
            route("0.0.0.5/0", "igw-1"),
            route("10.0.0.0/16", "local"),
        ]))
        .unwrap();
        assert_eq!(route_delta(&want, &observed), RouteDelta::default());
    }

    #[test]
    fn routes_are_created_replaced_and_deleted_by_destination() {
        let observed = observed_routes(&[
            aws_route("0.0.0.0/0", "igw-1", "CreateRoute"),
            aws_route("192.168.0.0/16", "igw-1", "CreateRoute"),
        ]);
        let want = desired_routes(Some(&[
            CreateRouteInput {
                destination_cidr_block: Some("0.0.0.0/0".into()),
                nat_gateway_id: Some("nat-1".into()),
                ..Default::default()
            },
            route("10.9.0.0/16", "igw-2"),
        ]))
        .unwrap();
        let d = route_delta(&want, &observed);
        assert_eq!(d.delete, vec![Destination::Ipv4("192.168.0.0/16".into())]);
        assert_eq!(
            d.replace,
            vec![(
                Destination::Ipv4("0.0.0.0/0".into()),
                ("natGatewayID", "nat-1".to_owned())
            )]
        );
        assert_eq!(
            d.create,
            vec![(
                Destination::Ipv4("10.9.0.0/16".into()),
                ("gatewayID", "igw-2".to_owned())
            )]
        );
    }

    #[test]
    fn bad_routes_name_their_field() {
        let e = |r: CreateRouteInput| desired_routes(Some(&[r])).unwrap_err().to_string();
        let both = CreateRouteInput {
            nat_gateway_id: Some("nat-1".into()),
            ..route("0.0.0.0/0", "igw-1")
        };
        assert!(e(both).starts_with("spec.routes[0] has 2 targets (gatewayID, natGatewayID)"));
        let none = CreateRouteInput {
            destination_cidr_block: Some("0.0.0.0/0".into()),
            ..Default::default()
        };
        assert!(e(none).starts_with("spec.routes[0] has no target"));
        assert!(e(route("nowhere", "igw-1")).starts_with("spec.routes[0].destinationCIDRBlock"));
        let dup = desired_routes(Some(&[
            route("0.0.0.0/0", "igw-1"),
            route("0.0.0.0/0", "igw-2"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(dup.starts_with("spec.routes[1]: another route"), "{dup}");
    }

    #[test]
    fn a_route_without_target_is_replaced_not_created_again() {
        let observed = observed_routes(&[Route {
            destination_cidr_block: Some("0.0.0.0/0".into()),
            origin: Some("CreateRoute".into()),
            ..Default::default()
        }]);
        let want = desired_routes(Some(&[route("0.0.0.0/0", "igw-1")])).unwrap();
        let d = route_delta(&want, &observed);
        assert!(d.create.is_empty() && d.delete.is_empty(), "{d:?}");
        assert_eq!(d.replace.len(), 1);
    }

    #[test]
    fn adopted_routes_round_trip() {
        let observed = ObservedTable {
            routes: observed_routes(&[aws_route("0.0.0.0/0", "igw-1", "CreateRoute")]),
            ..Default::default()
        };
        let spec = adopted_spec(&observed);
        assert_eq!(
            spec["routes"],
            json!([{"destinationCIDRBlock": "0.0.0.0/0", "gatewayID": "igw-1"}])
        );
        let routes: Vec<CreateRouteInput> = serde_json::from_value(spec["routes"].clone()).unwrap();
        assert_eq!(desired_routes(Some(&routes)).unwrap(), observed.routes);
    }
}

//! `ec2.services.k8s.aws/v1alpha1 SecurityGroup`: ACK's API, the rule diff, and the EC2 calls.
//!
//! Rules are compared as single grants (protocol, ports and one source or destination) in the
//! form AWS stores them: protocol numbers become names (`6` → `tcp`), ports of protocols without
//! ports are dropped, CIDR host bits are cleared, a pair naming the group itself or the owner's
//! account compares equal to one that leaves them out. Both rule lists are managed, as in ACK:
//! a grant AWS has and the spec does not is revoked (first), a missing one is authorized, a
//! changed description is updated in place. The allow-all egress rule EC2 adds to a new group
//! goes unless the spec lists it. `groupRef` takes the other group's id as soon as it has one
//! (not waiting for it to be synced), so groups may refer to each other; rules are revoked
//! before the group is deleted, so a group it refers to can be deleted too.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{created, described, reread, resolve_id, status_identifier, synced};
use super::subnet::VPC_REF;
use super::{aws, check_tags, found, non_empty, sync_tags, tag_specs, user_tags};
use crate::ack::condition::{Condition, Status};
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, AwsResourceReferenceWrapper, Tag};

/// At most this many grants (one source or destination each) per direction.
pub const MAX_GRANTS: usize = 1000;

/// Spec of a security group (ACK field names).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "SecurityGroup",
    plural = "securitygroups",
    namespaced,
    status = "SecurityGroupStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupSpec {
    /// Description (create only: EC2 cannot change it).
    pub description: String,
    /// Outbound rules (absent: none; EC2's default allow-all egress rule is revoked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_rules: Option<Vec<IPPermission>>,
    /// Inbound rules (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_rules: Option<Vec<IPPermission>>,
    /// Group name (create only).
    pub name: String,
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

/// One rule: a protocol, a port range and its sources or destinations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPPermission {
    /// First port (or ICMP type; `-1` all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i64>,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a protocol number.
    #[serde(
        default,
        rename = "ipProtocol",
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_protocol: Option<String>,
    /// IPv4 blocks.
    #[serde(default, rename = "ipRanges", skip_serializing_if = "Option::is_none")]
    pub ip_ranges: Option<Vec<IPRange>>,
    /// IPv6 blocks.
    #[serde(
        default,
        rename = "ipv6Ranges",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_ranges: Option<Vec<IPv6Range>>,
    /// Prefix lists.
    #[serde(
        default,
        rename = "prefixListIDs",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_list_ids: Option<Vec<PrefixListID>>,
    /// Last port (or ICMP code; `-1` all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i64>,
    /// Other security groups (or this one, when a pair names no group).
    #[serde(
        default,
        rename = "userIDGroupPairs",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id_group_pairs: Option<Vec<UserIDGroupPair>>,
}

/// An IPv4 block of a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPRange {
    /// The block.
    #[serde(default, rename = "cidrIP", skip_serializing_if = "Option::is_none")]
    pub cidr_ip: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An IPv6 block of a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPv6Range {
    /// The block.
    #[serde(default, rename = "cidrIPv6", skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A prefix list of a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrefixListID {
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The prefix list id.
    #[serde(
        default,
        rename = "prefixListID",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_list_id: Option<String>,
}

/// A security group of a rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserIDGroupPair {
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The group id.
    #[serde(default, rename = "groupID", skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The group name (default VPC only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    /// Reference to a `SecurityGroup` (its `status.id`), instead of `groupID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_ref: Option<AwsResourceReferenceWrapper>,
    /// Peering status (read only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering_status: Option<String>,
    /// The group's account.
    #[serde(default, rename = "userID", skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The group's VPC (peering).
    #[serde(default, rename = "vpcID", skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The peering connection.
    #[serde(
        default,
        rename = "vpcPeeringConnectionID",
        skip_serializing_if = "Option::is_none"
    )]
    pub vpc_peering_connection_id: Option<String>,
    /// Reference to a `VPC` (its `status.vpcID`), instead of `vpcID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_ref: Option<AwsResourceReferenceWrapper>,
}

/// Observed state of a security group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The group id (`sg-…`), assigned by AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group's rules as EC2 lists them (DescribeSecurityGroupRules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<SecurityGroupRule>>,
}

crate::ack::runtime::impl_ack_status!(SecurityGroupStatus);

/// One rule as EC2 lists it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupRule {
    /// IPv4 block.
    #[serde(default, rename = "cidrIPv4", skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    /// IPv6 block.
    #[serde(default, rename = "cidrIPv6", skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// First port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i64>,
    /// Protocol.
    #[serde(
        default,
        rename = "ipProtocol",
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_protocol: Option<String>,
    /// Outbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_egress: Option<bool>,
    /// Prefix list.
    #[serde(
        default,
        rename = "prefixListID",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_list_id: Option<String>,
    /// Rule id (`sgr-…`).
    #[serde(
        default,
        rename = "securityGroupRuleID",
        skip_serializing_if = "Option::is_none"
    )]
    pub security_group_rule_id: Option<String>,
    /// Tags of the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Last port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i64>,
}

/// Where one grant lets traffic come from or go to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// An IPv4 block (canonical).
    Ipv4(String),
    /// An IPv6 block (canonical).
    Ipv6(String),
    /// A prefix list.
    PrefixList(String),
    /// A security group by id, with its account when it is another one's.
    Group {
        /// Group id.
        id: String,
        /// Account, `None` for the owner's own.
        user: Option<String>,
    },
    /// A security group by name (default VPC).
    GroupName(String),
}

/// One grant of a rule, in AWS's canonical form: the unit the diff works on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// Canonical protocol: a name for the well-known numbers, `-1` for all.
    pub protocol: String,
    /// First port, for protocols with ports.
    pub from: Option<i32>,
    /// Last port.
    pub to: Option<i32>,
    /// Source or destination.
    pub target: Target,
}

/// Grants with their descriptions.
pub type Grants = BTreeMap<Grant, Option<String>>;

/// The protocol as AWS reports it: `6` → `tcp`, `17` → `udp`, `1` → `icmp`, `58` → `icmpv6`,
/// `all` and `-1` → `-1`, names lower-cased, other numbers as numbers.
pub fn canonical_protocol(p: &str) -> String {
    let p = p.trim().to_ascii_lowercase();
    match p.as_str() {
        "all" | "-1" => "-1".into(),
        _ => match p.parse::<i32>() {
            Ok(1) => "icmp".into(),
            Ok(6) => "tcp".into(),
            Ok(17) => "udp".into(),
            Ok(58) => "icmpv6".into(),
            Ok(n) => n.to_string(),
            Err(_) => p,
        },
    }
}

/// The ports AWS keeps for `protocol`: none for all-protocols and protocols without ports, none
/// for an ICMPv6 `-1` (all types), as given otherwise.
pub fn canonical_ports(
    protocol: &str,
    from: Option<i32>,
    to: Option<i32>,
) -> (Option<i32>, Option<i32>) {
    match protocol {
        "tcp" | "udp" | "icmp" => (from, to),
        "icmpv6" => (from.filter(|p| *p != -1), to.filter(|p| *p != -1)),
        _ => (None, None),
    }
}

fn port(field: &str, v: Option<i64>) -> Result<Option<i32>, SyncError> {
    match v {
        None => Ok(None),
        Some(n) if (-1..=65535).contains(&n) => Ok(Some(n as i32)),
        Some(n) => Err(SyncError::Terminal(format!(
            "{field} {n} is not a port: write -1 to 65535"
        ))),
    }
}

/// What the desired grants leave out because a `groupRef` has no id yet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pending(pub Vec<String>);

/// The spec's rules of one direction as grants. `field` is `spec.ingressRules` or
/// `spec.egressRules`; `self_id` is the group's own id (a pair without group means the group
/// itself), `owner` its account (a pair naming it compares as one without). Pairs whose
/// `groupRef` did not resolve are left out and named in `pending`.
pub(crate) fn desired_grants(
    field: &str,
    rules: Option<&[IPPermission]>,
    self_id: &str,
    owner: Option<&str>,
    pending: &mut Pending,
) -> Result<Grants, SyncError> {
    let mut out = Grants::new();
    for (i, r) in rules.unwrap_or_default().iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Some(proto) = r.ip_protocol.as_deref().filter(|p| !p.trim().is_empty()) else {
            return Err(SyncError::Terminal(format!(
                "{f}.ipProtocol is empty: write tcp, udp, icmp, icmpv6, -1 (all) or a protocol \
                 number"
            )));
        };
        let protocol = canonical_protocol(proto);
        let from = port(&format!("{f}.fromPort"), r.from_port)?;
        let to = port(&format!("{f}.toPort"), r.to_port)?;
        if matches!(protocol.as_str(), "tcp" | "udp") && (from.is_none() || to.is_none()) {
            return Err(SyncError::Terminal(format!(
                "{f}: a {protocol} rule needs fromPort and toPort"
            )));
        }
        let (from, to) = canonical_ports(&protocol, from, to);
        let mut add = |target: Target, desc: &Option<String>| {
            out.insert(
                Grant {
                    protocol: protocol.clone(),
                    from,
                    to,
                    target,
                },
                desc.clone().filter(|d| !d.is_empty()),
            );
        };
        for (j, ip) in r.ip_ranges.iter().flatten().enumerate() {
            let c = super::cidr_field(
                &format!("{f}.ipRanges[{j}].cidrIP"),
                ip.cidr_ip.as_deref().unwrap_or_default(),
            )?;
            add(Target::Ipv4(c), &ip.description);
        }
        for (j, ip) in r.ipv6_ranges.iter().flatten().enumerate() {
            let c = super::cidr_field(
                &format!("{f}.ipv6Ranges[{j}].cidrIPv6"),
                ip.cidr_ipv6.as_deref().unwrap_or_default(),
            )?;
            add(Target::Ipv6(c), &ip.description);
        }
        for (j, p) in r.prefix_list_ids.iter().flatten().enumerate() {
            let Some(id) = p.prefix_list_id.clone().filter(|s| !s.is_empty()) else {
                return Err(SyncError::Terminal(format!(
                    "{f}.prefixListIDs[{j}].prefixListID is empty: name the prefix list (pl-…)"
                )));
            };
            add(Target::PrefixList(id), &p.description);
        }
        for (j, pair) in r.user_id_group_pairs.iter().flatten().enumerate() {
            let user = pair
                .user_id
                .clone()
                .filter(|u| !u.is_empty() && Some(u.as_str()) != owner);
            let target = match (&pair.group_id, &pair.group_name, &pair.group_ref) {
                (Some(id), _, _) if !id.is_empty() => Target::Group {
                    id: id.clone(),
                    user,
                },
                (_, _, Some(_)) => {
                    pending
                        .0
                        .push(format!("{f}.userIDGroupPairs[{j}].groupRef"));
                    continue;
                }
                (_, Some(name), _) if !name.is_empty() => Target::GroupName(name.clone()),
                _ if self_id.is_empty() => {
                    pending
                        .0
                        .push(format!("{f}.userIDGroupPairs[{j}] (this group)"));
                    continue;
                }
                _ => Target::Group {
                    id: self_id.to_owned(),
                    user: None,
                },
            };
            add(target, &pair.description);
        }
    }
    if out.len() > MAX_GRANTS {
        return Err(SyncError::Terminal(format!(
            "{field} has {} grants (one per block, prefix list or group of each rule); at most \
             {MAX_GRANTS} are allowed",
            out.len()
        )));
    }
    Ok(out)
}

/// The spec's rules of both directions as grants: (ingress, egress); see [`desired_grants`].
pub(crate) fn desired_rules(
    spec: &SecurityGroupSpec,
    self_id: &str,
    owner: Option<&str>,
    pending: &mut Pending,
) -> Result<(Grants, Grants), SyncError> {
    let ingress = spec.ingress_rules.as_deref();
    let ingress = desired_grants("spec.ingressRules", ingress, self_id, owner, pending)?;
    let egress = spec.egress_rules.as_deref();
    let egress = desired_grants("spec.egressRules", egress, self_id, owner, pending)?;
    Ok((ingress, egress))
}

/// EC2's rules of one direction as grants (same canonical form as [`desired_grants`]).
pub fn observed_grants(perms: &[IpPermission], owner: Option<&str>) -> Grants {
    let mut out = Grants::new();
    for p in perms {
        let protocol = canonical_protocol(p.ip_protocol().unwrap_or("-1"));
        let (from, to) = canonical_ports(&protocol, p.from_port(), p.to_port());
        let mut add = |target: Target, desc: Option<&str>| {
            out.insert(
                Grant {
                    protocol: protocol.clone(),
                    from,
                    to,
                    target,
                },
                desc.filter(|d| !d.is_empty()).map(str::to_owned),
            );
        };
        for r in p.ip_ranges() {
            let c = r.cidr_ip().unwrap_or_default();
            add(
                Target::Ipv4(super::canonical_cidr(c).unwrap_or_else(|| c.to_owned())),
                r.description(),
            );
        }
        for r in p.ipv6_ranges() {
            let c = r.cidr_ipv6().unwrap_or_default();
            add(
                Target::Ipv6(super::canonical_cidr(c).unwrap_or_else(|| c.to_owned())),
                r.description(),
            );
        }
        for r in p.prefix_list_ids() {
            add(
                Target::PrefixList(r.prefix_list_id().unwrap_or_default().to_owned()),
                r.description(),
            );
        }
        for g in p.user_id_group_pairs() {
            let target = match (g.group_id(), g.group_name()) {
                (Some(id), _) if !id.is_empty() => Target::Group {
                    id: id.to_owned(),
                    user: g
                        .user_id()
                        .filter(|u| !u.is_empty() && Some(*u) != owner)
                        .map(str::to_owned),
                },
                (_, name) => Target::GroupName(name.unwrap_or_default().to_owned()),
            };
            add(target, g.description());
        }
    }
    out
}

/// The calls for one direction: revoke, then authorize, then update descriptions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GrantDelta {
    /// Grants AWS has and the spec does not, with the description AWS has (sent back with the
    /// revoke: EC2 ignores it, some emulators match on it).
    pub revoke: Vec<(Grant, Option<String>)>,
    /// Grants the spec has and AWS does not, with their descriptions.
    pub authorize: Vec<(Grant, Option<String>)>,
    /// Grants both have with another description.
    pub describe: Vec<(Grant, Option<String>)>,
}

impl GrantDelta {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.revoke.is_empty() && self.authorize.is_empty() && self.describe.is_empty()
    }
}

/// Desired vs observed grants of one direction.
pub fn grant_delta(desired: &Grants, observed: &Grants) -> GrantDelta {
    GrantDelta {
        revoke: observed
            .iter()
            .filter(|(g, _)| !desired.contains_key(*g))
            .map(|(g, d)| (g.clone(), d.clone()))
            .collect(),
        authorize: desired
            .iter()
            .filter(|(g, _)| !observed.contains_key(*g))
            .map(|(g, d)| (g.clone(), d.clone()))
            .collect(),
        describe: desired
            .iter()
            .filter(|(g, d)| observed.get(*g).is_some_and(|o| o != *d))
            .map(|(g, d)| (g.clone(), d.clone()))
            .collect(),
    }
}

/// One grant as EC2's `IpPermission`.
pub fn sdk_permission(g: &Grant, description: Option<&str>) -> IpPermission {
    let b = IpPermission::builder()
        .ip_protocol(&g.protocol)
        .set_from_port(g.from)
        .set_to_port(g.to);
    let desc = description.map(str::to_owned);
    match &g.target {
        Target::Ipv4(c) => b.ip_ranges(IpRange::builder().cidr_ip(c).set_description(desc).build()),
        Target::Ipv6(c) => b.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(desc)
                .build(),
        ),
        Target::PrefixList(p) => b.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(p)
                .set_description(desc)
                .build(),
        ),
        Target::Group { id, user } => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(id)
                .set_user_id(user.clone())
                .set_description(desc)
                .build(),
        ),
        Target::GroupName(n) => b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_name(n)
                .set_description(desc)
                .build(),
        ),
    }
    .build()
}

/// Grants back into ACK's rule shape (for adoption), one rule per protocol and port range.
pub fn rules_of(grants: &Grants) -> Vec<IPPermission> {
    let mut by_key: BTreeMap<(String, Option<i32>, Option<i32>), IPPermission> = BTreeMap::new();
    for (g, d) in grants {
        let r = by_key
            .entry((g.protocol.clone(), g.from, g.to))
            .or_insert_with(|| IPPermission {
                ip_protocol: Some(g.protocol.clone()),
                from_port: g.from.map(i64::from),
                to_port: g.to.map(i64::from),
                ..Default::default()
            });
        let description = d.clone();
        match &g.target {
            Target::Ipv4(c) => r.ip_ranges.get_or_insert_with(Vec::new).push(IPRange {
                cidr_ip: Some(c.clone()),
                description,
            }),
            Target::Ipv6(c) => r.ipv6_ranges.get_or_insert_with(Vec::new).push(IPv6Range {
                cidr_ipv6: Some(c.clone()),
                description,
            }),
            Target::PrefixList(p) => {
                r.prefix_list_ids
                    .get_or_insert_with(Vec::new)
                    .push(PrefixListID {
                        prefix_list_id: Some(p.clone()),
                        description,
                    })
            }
            Target::Group { id, user } => {
                r.user_id_group_pairs
                    .get_or_insert_with(Vec::new)
                    .push(UserIDGroupPair {
                        group_id: Some(id.clone()),
                        user_id: user.clone(),
                        description,
                        ..Default::default()
                    })
            }
            Target::GroupName(n) => {
                r.user_id_group_pairs
                    .get_or_insert_with(Vec::new)
                    .push(UserIDGroupPair {
                        group_name: Some(n.clone()),
                        description,
                        ..Default::default()
                    })
            }
        }
    }
    by_key.into_values().collect()
}

/// What EC2 holds for a security group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedGroup {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// VPC.
    pub vpc_id: Option<String>,
    /// Owner account.
    pub owner: Option<String>,
    /// Inbound grants.
    pub ingress: Grants,
    /// Outbound grants.
    pub egress: Grants,
    /// The user's tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: SecurityGroupStatus,
}

/// The spec of an adopted group.
pub fn adopted_spec(observed: &ObservedGroup) -> Value {
    let mut spec = json!({
        "name": observed.name,
        "description": observed.description,
        "ingressRules": rules_of(&observed.ingress),
        "egressRules": rules_of(&observed.egress),
        "tags": observed.tags,
    });
    if let Some(v) = &observed.vpc_id {
        spec["vpcID"] = json!(v);
    }
    spec
}

const GROUP_REF: RefTarget = RefTarget {
    group: "ec2.services.k8s.aws",
    version: "v1alpha1",
    kind: "SecurityGroup",
    plural: "securitygroups",
    path: &["status", "id"],
};

/// AWS error codes that make a security group terminal.
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidGroup.Duplicate",
    "InvalidGroup.Reserved",
    "InvalidPermission.Malformed",
    "InvalidVpcID.NotFound",
];

const NOT_FOUND: &[&str] = &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"];

/// Reads a security group and its rules.
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedGroup>, SyncError> {
    let res = ec2.describe_security_groups().group_ids(id).send().await;
    let Some(g) = described("DescribeSecurityGroups", res, NOT_FOUND, |o| {
        o.security_groups().first()
    })?
    else {
        return Ok(None);
    };
    let owner = g.owner_id().map(str::to_owned);
    let rules = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(id).build())
        .send()
        .await
        .map_err(aws("DescribeSecurityGroupRules"))?;
    let rules: Vec<SecurityGroupRule> = rules
        .security_group_rules()
        .iter()
        .map(|r| SecurityGroupRule {
            cidr_ipv4: r.cidr_ipv4().map(str::to_owned),
            cidr_ipv6: r.cidr_ipv6().map(str::to_owned),
            description: r.description().map(str::to_owned),
            from_port: r.from_port().map(i64::from),
            ip_protocol: r.ip_protocol().map(str::to_owned),
            is_egress: r.is_egress(),
            prefix_list_id: r.prefix_list_id().map(str::to_owned),
            security_group_rule_id: r.security_group_rule_id().map(str::to_owned),
            tags: non_empty(user_tags(r.tags())),
            to_port: r.to_port().map(i64::from),
        })
        .collect();
    Ok(Some(ObservedGroup {
        name: g.group_name().unwrap_or_default().to_owned(),
        description: g.description().unwrap_or_default().to_owned(),
        vpc_id: g.vpc_id().map(str::to_owned),
        ingress: observed_grants(g.ip_permissions(), owner.as_deref()),
        egress: observed_grants(g.ip_permissions_egress(), owner.as_deref()),
        owner,
        tags: user_tags(g.tags()),
        status: SecurityGroupStatus {
            id: Some(id.to_owned()),
            rules: Some(rules),
            ..Default::default()
        },
    }))
}

fn permissions<'a>(
    grants: impl IntoIterator<Item = (&'a Grant, Option<&'a str>)>,
) -> Vec<IpPermission> {
    grants
        .into_iter()
        .map(|(g, d)| sdk_permission(g, d))
        .collect()
}

/// One of the rule calls of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleCall {
    /// RevokeSecurityGroupIngress/Egress.
    Revoke,
    /// AuthorizeSecurityGroupIngress/Egress.
    Authorize,
    /// UpdateSecurityGroupRuleDescriptionsIngress/Egress.
    Describe,
}

/// Sends rule call `call` of one direction (`egress`, else ingress) with `perms` to group `id`;
/// returns the call's name.
pub(crate) async fn send_rules(
    ec2: &Client,
    id: &str,
    call: RuleCall,
    egress: bool,
    perms: Vec<IpPermission>,
) -> Result<&'static str, SyncError> {
    macro_rules! send {
        ($builder:expr, $op:literal) => {{
            $builder
                .group_id(id)
                .set_ip_permissions(Some(perms))
                .send()
                .await
                .map_err(aws($op))?;
            $op
        }};
    }
    Ok(match (call, egress) {
        (RuleCall::Revoke, false) => send!(
            ec2.revoke_security_group_ingress(),
            "RevokeSecurityGroupIngress"
        ),
        (RuleCall::Revoke, true) => send!(
            ec2.revoke_security_group_egress(),
            "RevokeSecurityGroupEgress"
        ),
        (RuleCall::Authorize, false) => send!(
            ec2.authorize_security_group_ingress(),
            "AuthorizeSecurityGroupIngress"
        ),
        (RuleCall::Authorize, true) => send!(
            ec2.authorize_security_group_egress(),
            "AuthorizeSecurityGroupEgress"
        ),
        (RuleCall::Describe, false) => send!(
            ec2.update_security_group_rule_descriptions_ingress(),
            "UpdateSecurityGroupRuleDescriptionsIngress"
        ),
        (RuleCall::Describe, true) => send!(
            ec2.update_security_group_rule_descriptions_egress(),
            "UpdateSecurityGroupRuleDescriptionsEgress"
        ),
    })
}

/// Applies one direction's delta: revoke, authorize, describe.
async fn apply(
    ec2: &Client,
    id: &str,
    egress: bool,
    delta: &GrantDelta,
    updated: &mut Vec<String>,
) -> Result<(), SyncError> {
    for (call, grants) in [
        (RuleCall::Revoke, &delta.revoke),
        (RuleCall::Authorize, &delta.authorize),
        (RuleCall::Describe, &delta.describe),
    ] {
        if grants.is_empty() {
            continue;
        }
        let perms = permissions(grants.iter().map(|(g, d)| (g, d.as_deref())));
        updated.push(send_rules(ec2, id, call, egress, perms).await?.into());
    }
    Ok(())
}

/// Resolves the `groupRef`s and `vpcRef`s of one direction's pairs in place. A `groupRef` whose
/// group has no id yet stays unresolved (the rule waits; see [`desired_grants`]).
async fn resolve_pairs(
    cx: &SyncCx<'_>,
    field: &str,
    rules: &mut Option<Vec<IPPermission>>,
) -> Result<(), SyncError> {
    for (i, r) in rules.iter_mut().flatten().enumerate() {
        for (j, pair) in r.user_id_group_pairs.iter_mut().flatten().enumerate() {
            let f = format!("{field}[{i}].userIDGroupPairs[{j}]");
            if let Some(g) = &pair.group_ref {
                if pair.group_id.as_ref().is_some_and(|g| !g.is_empty()) {
                    return Err(SyncError::Terminal(format!(
                        "{f}: groupID and groupRef are both set: keep only one"
                    )));
                }
                match refs::resolve_with(cx, &format!("{f}.groupRef"), g, GROUP_REF, false).await {
                    Ok(id) => pair.group_id = Some(id),
                    Err(SyncError::References(Status::Unknown, msg)) => {
                        tracing::debug!(reference = %msg, "groupRef not resolved yet");
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(v) = &pair.vpc_ref {
                if pair.vpc_id.as_ref().is_some_and(|v| !v.is_empty()) {
                    return Err(SyncError::Terminal(format!(
                        "{f}: vpcID and vpcRef are both set: keep only one"
                    )));
                }
                pair.vpc_id = Some(refs::resolve(cx, &format!("{f}.vpcRef"), v, VPC_REF).await?);
            }
        }
    }
    Ok(())
}

fn has_pair_refs(rules: &Option<Vec<IPPermission>>) -> bool {
    rules
        .iter()
        .flatten()
        .flat_map(|r| r.user_id_group_pairs.iter().flatten())
        .any(|p| p.group_ref.is_some() || p.vpc_ref.is_some())
}

impl AckKind for SecurityGroup {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/SecurityGroup";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "id";
    const GENERATED_ID: bool = true;
    type Observed = ObservedGroup;

    fn identifier(&self) -> String {
        status_identifier(self.status.as_ref(), |s| s.id.as_ref())
    }

    fn has_references(&self) -> bool {
        self.spec.vpc_ref.is_some()
            || has_pair_refs(&self.spec.ingress_rules)
            || has_pair_refs(&self.spec.egress_rules)
    }

    async fn resolve(&self, cx: &SyncCx<'_>) -> Result<Self, SyncError> {
        let mut out = self.clone();
        let (vpc, r) = (&mut out.spec.vpc_id, self.spec.vpc_ref.as_ref());
        resolve_id(cx, vpc, "spec.vpcID", r, "spec.vpcRef", VPC_REF).await?;
        resolve_pairs(cx, "spec.ingressRules", &mut out.spec.ingress_rules).await?;
        resolve_pairs(cx, "spec.egressRules", &mut out.spec.egress_rules).await?;
        Ok(out)
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedGroup>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check_tags(self.spec.tags.as_deref())?;
        // The rules are checked before anything exists in AWS.
        let s = &self.spec;
        desired_rules(s, "", None, &mut Pending::default())?;
        if s.name.trim().is_empty() {
            return Err(SyncError::Terminal(
                "spec.name is empty: name the group".into(),
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
            describe_security_groups,
            "DescribeSecurityGroups",
            security_groups,
            group_id
        )
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let s = &self.spec;
        let out = cx
            .aws
            .ec2
            .create_security_group()
            .group_name(&s.name)
            .description(&s.description)
            .set_vpc_id(s.vpc_id.clone())
            .set_tag_specifications(tag_specs(ResourceType::SecurityGroup, s.tags.as_deref()))
            .send()
            .await
            .map_err(aws("CreateSecurityGroup"))?;
        Ok(created("security group", out.group_id()))
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedGroup,
    ) -> Result<Synced, SyncError> {
        check_tags(self.spec.tags.as_deref())?;
        let ec2 = &cx.aws.ec2;
        let owner = observed.owner.as_deref();
        let mut pending = Pending::default();
        let s = &self.spec;
        let (ingress, egress) = desired_rules(s, id, owner, &mut pending)?;
        let mut updated = Vec::new();
        // Both directions revoke before they authorize, so a rule moved between forms (a
        // changed port range, a merged block) never exists twice.
        let din = grant_delta(&ingress, &observed.ingress);
        let dout = grant_delta(&egress, &observed.egress);
        apply(ec2, id, false, &din, &mut updated).await?;
        apply(ec2, id, true, &dout, &mut updated).await?;
        sync_tags(ec2, id, s.tags.as_deref(), &observed.tags, &mut updated).await?;
        let observed = reread(&updated, observed, read(ec2, id)).await?;
        let waiting = (!pending.0.is_empty()).then(|| {
            format!(
                "waiting for the id of the security groups named in {}: their rules are added \
                 once those groups exist",
                pending.0.join(", ")
            )
        });
        Ok(synced(updated, &observed.status, waiting))
    }

    fn adopted_spec(_id: &str, observed: &ObservedGroup) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedGroup,
    ) -> Result<Deleted, SyncError> {
        let ec2 = &cx.aws.ec2;
        // Its own rules first: a rule naming another group keeps that group from being deleted.
        // A revoke that fails does not stop the delete: the rules go with the group, and the
        // revoke only matters to the groups they name. It fails for good when a named group
        // is already gone (an emulator that deletes a group still referenced, or a group
        // deleted by hand): retrying it would keep this group forever.
        let mut calls = Vec::new();
        let revoke_all = |g: &Grants| GrantDelta {
            revoke: g.iter().map(|(g, d)| (g.clone(), d.clone())).collect(),
            ..Default::default()
        };
        let ingress = apply(ec2, id, false, &revoke_all(&observed.ingress), &mut calls).await;
        let egress = apply(ec2, id, true, &revoke_all(&observed.egress), &mut calls).await;
        let res = ec2.delete_security_group().group_id(id).send().await;
        if let Err(e) = found("DeleteSecurityGroup", res, NOT_FOUND) {
            // Deleting failed too (DependencyViolation while another group's rule names this
            // one): say what failed first.
            ingress?;
            egress?;
            return Err(e);
        }
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(from: i64, to: i64, cidrs: &[&str]) -> IPPermission {
        IPPermission {
            ip_protocol: Some("tcp".into()),
            from_port: Some(from),
            to_port: Some(to),
            ip_ranges: Some(
                cidrs
                    .iter()
                    .map(|c| IPRange {
                        cidr_ip: Some(c.to_string()),
                        description: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn desired(rules: &[IPPermission]) -> Grants {
        desired_grants(
            "spec.ingressRules",
            Some(rules),
            "sg-self",
            Some("123"),
            &mut Pending::default(),
        )
        .unwrap()
    }

    #[test]
    fn protocols_and_ports_take_aws_form() {
        let cases = [
            ("6", "tcp"),
            ("TCP", "tcp"),
            ("17", "udp"),
            ("1", "icmp"),
            ("58", "icmpv6"),
            ("all", "-1"),
            ("-1", "-1"),
            ("50", "50"),
            ("esp", "esp"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_protocol(input), want, "{input}");
        }
        assert_eq!(canonical_ports("-1", Some(0), Some(65535)), (None, None));
        assert_eq!(canonical_ports("50", Some(1), Some(2)), (None, None));
        assert_eq!(
            canonical_ports("tcp", Some(80), Some(80)),
            (Some(80), Some(80))
        );
        assert_eq!(
            canonical_ports("icmp", Some(-1), Some(-1)),
            (Some(-1), Some(-1))
        );
        assert_eq!(canonical_ports("icmpv6", Some(-1), Some(-1)), (None, None));
    }

    #[test]
    fn a_spec_written_differently_from_aws_does_not_diff() {
        // AWS stores protocol 6 as tcp, clears host bits and lists one rule per port range.
        let spec = desired(&[
            IPPermission {
                ip_protocol: Some("6".into()),
                ..tcp(443, 443, &["10.0.0.5/8"])
            },
            tcp(443, 443, &["192.168.1.0/24"]),
            IPPermission {
                ip_protocol: Some("-1".into()),
                from_port: Some(0),
                to_port: Some(65535),
                user_id_group_pairs: Some(vec![UserIDGroupPair {
                    // No group: this group itself; the owner's own account is implied.
                    user_id: Some("123".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        ]);
        let aws = vec![
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("192.168.1.0/24").build())
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id("sg-self")
                        .user_id("123")
                        .build(),
                )
                .build(),
        ];
        let observed = observed_grants(&aws, Some("123"));
        assert_eq!(spec.len(), 3);
        assert!(
            grant_delta(&spec, &observed).is_empty(),
            "{:?}",
            grant_delta(&spec, &observed)
        );
    }

    #[test]
    fn rules_diff_grant_by_grant() {
        let have = desired(&[tcp(22, 22, &["10.0.0.0/16"]), tcp(80, 80, &["0.0.0.0/0"])]);
        let want = desired(&[
            tcp(22, 22, &["10.0.0.0/16", "10.1.0.0/16"]),
            tcp(443, 443, &["0.0.0.0/0"]),
        ]);
        let d = grant_delta(&want, &have);
        let show = |g: &Grant| format!("{}:{:?}:{:?}", g.protocol, g.from, g.target);
        assert_eq!(
            d.revoke.iter().map(|(g, _)| show(g)).collect::<Vec<_>>(),
            vec!["tcp:Some(80):Ipv4(\"0.0.0.0/0\")"]
        );
        assert_eq!(
            d.authorize.iter().map(|(g, _)| show(g)).collect::<Vec<_>>(),
            vec![
                "tcp:Some(22):Ipv4(\"10.1.0.0/16\")",
                "tcp:Some(443):Ipv4(\"0.0.0.0/0\")"
            ]
        );
        assert!(d.describe.is_empty());
        // A new description alone is updated in place, not revoked and authorized.
        let mut described = tcp(22, 22, &["10.0.0.0/16"]);
        described.ip_ranges.as_mut().unwrap()[0].description = Some("ssh".into());
        let d = grant_delta(&desired(&[described, tcp(80, 80, &["0.0.0.0/0"])]), &have);
        assert!(d.revoke.is_empty() && d.authorize.is_empty());
        assert_eq!(d.describe.len(), 1);
    }

    #[test]
    fn the_default_egress_rule_goes_unless_listed() {
        let default = vec![
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        ];
        let observed = observed_grants(&default, None);
        let none = desired_grants(
            "spec.egressRules",
            None,
            "sg-1",
            None,
            &mut Pending::default(),
        )
        .unwrap();
        assert_eq!(grant_delta(&none, &observed).revoke.len(), 1);
        let all = desired_grants(
            "spec.egressRules",
            Some(&[IPPermission {
                ip_protocol: Some("-1".into()),
                ip_ranges: Some(vec![IPRange {
                    cidr_ip: Some("0.0.0.0/0".into()),
                    description: None,
                }]),
                ..Default::default()
            }]),
            "sg-1",
            None,
            &mut Pending::default(),
        )
        .unwrap();
        assert!(grant_delta(&all, &observed).is_empty());
    }

    #[test]
    fn unresolved_group_refs_wait_and_bad_rules_name_their_field() {
        let mut pending = Pending::default();
        let rule = IPPermission {
            ip_protocol: Some("tcp".into()),
            from_port: Some(5432),
            to_port: Some(5432),
            user_id_group_pairs: Some(vec![UserIDGroupPair {
                group_ref: Some(AwsResourceReferenceWrapper::default()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let g = desired_grants(
            "spec.ingressRules",
            Some(&[rule]),
            "sg-1",
            None,
            &mut pending,
        )
        .unwrap();
        assert!(g.is_empty());
        assert_eq!(
            pending.0,
            vec!["spec.ingressRules[0].userIDGroupPairs[0].groupRef"]
        );
        let bad = |r: IPPermission| {
            desired_grants(
                "spec.ingressRules",
                Some(&[r]),
                "sg-1",
                None,
                &mut Pending::default(),
            )
            .unwrap_err()
            .to_string()
        };
        let e = bad(tcp(80, 70000, &["0.0.0.0/0"]));
        assert!(e.starts_with("spec.ingressRules[0].toPort 70000"), "{e}");
        let e = bad(tcp(80, 80, &["10.0.0.0/99"]));
        assert!(
            e.starts_with("spec.ingressRules[0].ipRanges[0].cidrIP"),
            "{e}"
        );
        let e = bad(IPPermission {
            ip_protocol: Some("tcp".into()),
            ..Default::default()
        });
        assert!(e.contains("needs fromPort and toPort"), "{e}");
        let e = bad(IPPermission::default());
        assert!(
            e.starts_with("spec.ingressRules[0].ipProtocol is empty"),
            "{e}"
        );
    }

    #[test]
    fn too_many_grants_name_the_bound() {
        let cidrs: Vec<String> = (0..1001)
            .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
            .collect();
        let refs: Vec<&str> = cidrs.iter().map(String::as_str).collect();
        let e = desired_grants(
            "spec.ingressRules",
            Some(&[tcp(1, 1, &refs)]),
            "sg",
            None,
            &mut Pending::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("1001 grants") && e.contains("at most 1000"),
            "{e}"
        );
    }

    #[test]
    fn adopted_rules_round_trip() {
        let g = desired(&[
            tcp(22, 22, &["10.0.0.0/16", "10.1.0.0/16"]),
            tcp(80, 80, &["0.0.0.0/0"]),
        ]);
        let rules = rules_of(&g);
        assert_eq!(rules.len(), 2);
        assert_eq!(desired(&rules), g);
    }
}

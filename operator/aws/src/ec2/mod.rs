//! EC2 (`ec2.services.k8s.aws`): the networking kinds `VPC`, `Subnet`, `SecurityGroup`,
//! `InternetGateway` and `RouteTable`, with ACK's API.
//!
//! EC2 assigns every identifier (`vpc-…`, `subnet-…`, `sg-…`), so these kinds are
//! [`GENERATED_ID`](crate::ack::runtime::AckKind::GENERATED_ID) kinds: the identifier lives in
//! the status and adoption names it in `services.k8s.aws/adoption-fields`.

mod common;
pub mod elastic_ip_address;
pub mod internet_gateway;
pub mod nat_gateway;
#[cfg(test)]
mod replay_tests;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod vpc;

/// The EC2 SDK this crate talks to (re-exported so tests read EC2 state with the same client
/// types without a second copy of the large crate in their dependencies).
pub use aws_sdk_ec2 as sdk;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{ResourceType, TagSpecification};

use crate::ack::error::{AwsError, HttpStatus};
use crate::ack::runtime::SyncError;
use crate::ack::types::{AckResourceMetadata, Tag, tag_delta};

/// The filter selecting resources tagged `tag` (`tag:<key>` = value), for
/// [`AckKind::find_created`](crate::ack::runtime::AckKind::find_created).
pub(crate) fn tagged(tag: &Tag) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(format!("tag:{}", tag.key.as_deref().unwrap_or_default()))
        .values(tag.value.clone().unwrap_or_default())
        .build()
}

/// Whether `tags` hold `tag` (checked on what a tag-filtered describe returns too: an emulator
/// may ignore a filter it does not know).
pub(crate) fn carries(tags: &[aws_sdk_ec2::types::Tag], tag: &Tag) -> bool {
    tags.iter()
        .any(|t| t.key() == tag.key.as_deref() && t.value() == tag.value.as_deref())
}

/// The body of [`AckKind::find_created`](crate::ack::runtime::AckKind::find_created) for an
/// EC2 kind: `$describe` filtered by the token's tag (`$filter` names the builder's filter
/// method), the first resource of `$items` that [`carries`] the token and is `$live`, its id
/// `$id`.
macro_rules! find_tagged {
    ($cx:expr, $token:expr, $describe:ident, $filter:ident, $op:literal, $items:ident, $id:ident, $live:expr) => {{
        let out = $cx
            .aws
            .ec2
            .$describe()
            .$filter($crate::ec2::tagged($token))
            .send()
            .await
            .map_err($crate::ec2::aws($op))?;
        Ok(out
            .$items()
            .iter()
            .filter(|r| $crate::ec2::carries(r.tags(), $token))
            .filter($live)
            .find_map(|r| r.$id())
            .map(str::to_string))
    }};
    ($cx:expr, $token:expr, $describe:ident, $op:literal, $items:ident, $id:ident) => {
        $crate::ec2::find_tagged!($cx, $token, $describe, filters, $op, $items, $id, |_| true)
    };
}
pub(crate) use find_tagged;

/// Maps an SDK error of call `op` to a [`SyncError`].
pub(crate) fn aws<E, R>(
    op: &'static str,
) -> impl FnOnce(aws_sdk_ec2::error::SdkError<E, R>) -> SyncError
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    move |e| SyncError::aws(op, AwsError::from_sdk(e))
}

/// The result of a Describe call, `None` when AWS answered one of `not_found` codes.
pub(crate) fn found<T, E, R>(
    op: &'static str,
    res: Result<T, aws_sdk_ec2::error::SdkError<E, R>>,
    not_found: &[&str],
) -> Result<Option<T>, SyncError>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    SyncError::unless_not_found(op, res.map_err(AwsError::from_sdk), not_found)
}

/// True for a tag key AWS reserves (`aws:*`): never the user's, never diffed or adopted.
pub fn is_system_tag(key: &str) -> bool {
    key.to_ascii_lowercase().starts_with("aws:")
}

/// The user's tags among EC2's (system tags dropped).
pub(crate) fn user_tags(tags: &[aws_sdk_ec2::types::Tag]) -> Vec<Tag> {
    tags.iter()
        .filter(|t| !t.key().is_some_and(is_system_tag))
        .map(|t| Tag {
            key: t.key().map(str::to_owned),
            value: t.value().map(str::to_owned),
        })
        .collect()
}

fn sdk_tags(tags: &[Tag]) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|t| {
            aws_sdk_ec2::types::Tag::builder()
                .set_key(t.key.clone())
                .set_value(Some(t.value.clone().unwrap_or_default()))
                .build()
        })
        .collect()
}

/// The `TagSpecifications` of a create: the spec's tags on the new resource.
pub(crate) fn tag_specs(
    resource: ResourceType,
    tags: Option<&[Tag]>,
) -> Option<Vec<TagSpecification>> {
    let tags: Vec<Tag> = tags?
        .iter()
        .filter(|t| !t.key.as_deref().is_some_and(is_system_tag))
        .cloned()
        .collect();
    if tags.is_empty() {
        return None;
    }
    Some(vec![
        TagSpecification::builder()
            .resource_type(resource)
            .set_tags(Some(sdk_tags(&tags)))
            .build(),
    ])
}

/// The spec's tags as a user sees them: `aws:*` keys are refused, since AWS reserves them.
pub(crate) fn check_tags(tags: Option<&[Tag]>) -> Result<(), SyncError> {
    for (i, t) in tags.unwrap_or_default().iter().enumerate() {
        if let Some(k) = t.key.as_deref().filter(|k| is_system_tag(k)) {
            return Err(SyncError::Terminal(format!(
                "spec.tags[{i}].key {k:?}: keys starting with aws: are reserved by AWS; use \
                 another key"
            )));
        }
    }
    Ok(())
}

/// Brings the tags of `id` to `desired` (when the spec lists tags; absent = not managed):
/// DeleteTags for keys that go, CreateTags for new or changed values. System tags are never
/// touched. Records what it called in `updated`.
pub(crate) async fn sync_tags(
    ec2: &Client,
    id: &str,
    desired: Option<&[Tag]>,
    observed: &[Tag],
    updated: &mut Vec<String>,
) -> Result<(), SyncError> {
    let Some(desired) = desired else {
        return Ok(());
    };
    let delta = tag_delta(desired, observed);
    if !delta.remove.is_empty() {
        let keys = delta
            .remove
            .iter()
            .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
            .collect();
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(keys))
            .send()
            .await
            .map_err(aws("DeleteTags"))?;
        updated.push("DeleteTags".into());
    }
    if !delta.add.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(sdk_tags(&delta.add)))
            .send()
            .await
            .map_err(aws("CreateTags"))?;
        updated.push("CreateTags".into());
    }
    Ok(())
}

/// The identifier of a kind whose id AWS assigns: the ownership marker, else the status field.
pub(crate) fn generated_identifier(
    meta: Option<&AckResourceMetadata>,
    status_id: Option<&String>,
) -> String {
    meta.and_then(|m| m.identifier.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| status_id.cloned())
        .unwrap_or_default()
}

/// The value to set for a boolean attribute: the spec's, when it differs from AWS's (a `false`
/// where AWS reports nothing is no change); `None` when the spec leaves it alone.
pub(crate) fn bool_change(want: Option<bool>, have: Option<bool>) -> Option<bool> {
    want.filter(|w| Some(*w) != have && (*w || have.is_some()))
}

/// `Some(v)` unless `v` is empty.
pub(crate) fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_tags_are_never_the_users() {
        let ec2 = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
        let tags = user_tags(&[
            ec2("team", "a"),
            ec2("aws:cloudformation:stack-name", "s"),
            ec2("AWS:other", "x"),
        ]);
        assert_eq!(tags, vec![Tag::new("team", "a")]);
        assert!(check_tags(Some(&[Tag::new("team", "a")])).is_ok());
        let err = check_tags(Some(&[Tag::new("ok", "1"), Tag::new("aws:x", "2")])).unwrap_err();
        assert!(
            err.to_string().starts_with("spec.tags[1].key \"aws:x\""),
            "{err}"
        );
        assert!(tag_specs(ResourceType::Vpc, Some(&[])).is_none());
        assert!(tag_specs(ResourceType::Vpc, None).is_none());
        let specs = tag_specs(ResourceType::Vpc, Some(&[Tag::new("a", "b")])).unwrap();
        assert_eq!(specs[0].tags().len(), 1);
    }

    #[test]
    fn the_marker_wins_over_the_status_id() {
        let meta = |id: &str| AckResourceMetadata {
            identifier: Some(id.into()),
            ..Default::default()
        };
        let sid = "vpc-status".to_owned();
        assert_eq!(
            generated_identifier(Some(&meta("vpc-1")), Some(&sid)),
            "vpc-1"
        );
        assert_eq!(
            generated_identifier(Some(&meta("")), Some(&sid)),
            "vpc-status"
        );
        assert_eq!(generated_identifier(None, None), "");
    }
}

/// A CIDR block in the form AWS stores it: host bits cleared, the address in its shortest form
/// (`10.0.0.5/8` → `10.0.0.0/8`, `2001:DB8::1/32` → `2001:db8::/32`), so a spec written with host
/// bits never differs from what AWS reads back. `None` when `s` is not a CIDR block.
pub fn canonical_cidr(s: &str) -> Option<String> {
    use std::net::IpAddr;
    let (addr, len) = s.trim().split_once('/')?;
    let len: u8 = len.parse().ok()?;
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let net = std::net::Ipv4Addr::from(u32::from(a) & mask);
            Some(format!("{net}/{len}"))
        }
        IpAddr::V6(a) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            let net = std::net::Ipv6Addr::from(u128::from(a) & mask);
            Some(format!("{net}/{len}"))
        }
        _ => None,
    }
}

/// `canonical_cidr`, or a terminal error naming `field` when `s` is not a CIDR block.
pub(crate) fn cidr_field(field: &str, s: &str) -> Result<String, SyncError> {
    canonical_cidr(s).ok_or_else(|| {
        SyncError::Terminal(format!(
            "{field} {s:?} is not a CIDR block: write an address and a prefix length, e.g. \
             10.0.0.0/16"
        ))
    })
}

#[cfg(test)]
mod cidr_tests {
    use super::canonical_cidr;

    #[test]
    fn host_bits_are_cleared_as_aws_does() {
        let cases = [
            ("10.0.0.0/16", Some("10.0.0.0/16")),
            ("10.0.0.5/8", Some("10.0.0.0/8")),
            (" 192.168.1.77/24 ", Some("192.168.1.0/24")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("1.2.3.4/32", Some("1.2.3.4/32")),
            ("2001:DB8::1/32", Some("2001:db8::/32")),
            ("::/0", Some("::/0")),
            ("10.0.0.0/33", None),
            ("10.0.0.0", None),
            ("banana/8", None),
            ("::1/129", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_cidr(input).as_deref(), want, "{input}");
        }
    }
}

/// Runs the controller of EC2 kind `kind` until `shutdown` resolves.
pub(crate) fn run<F>(
    kind: crate::ControllerKind,
    ctx: std::sync::Arc<crate::ack::runtime::Ctx>,
    shutdown: F,
) -> futures::future::BoxFuture<'static, ()>
where
    F: std::future::Future<Output = ()> + Send + Sync + 'static,
{
    use crate::ControllerKind as C;
    use crate::ack::runtime::run_controller;
    use futures::FutureExt;
    match kind {
        C::Vpc => run_controller::<vpc::VPC>(ctx, shutdown).boxed(),
        C::Subnet => run_controller::<subnet::Subnet>(ctx, shutdown).boxed(),
        C::SecurityGroup => run_controller::<security_group::SecurityGroup>(ctx, shutdown).boxed(),
        C::InternetGateway => {
            run_controller::<internet_gateway::InternetGateway>(ctx, shutdown).boxed()
        }
        C::RouteTable => run_controller::<route_table::RouteTable>(ctx, shutdown).boxed(),
        C::ElasticIpAddress => {
            run_controller::<elastic_ip_address::ElasticIPAddress>(ctx, shutdown).boxed()
        }
        C::NatGateway => run_controller::<nat_gateway::NATGateway>(ctx, shutdown).boxed(),
        other => {
            tracing::error!(controller = other.name(), "not an EC2 controller");
            futures::future::ready(()).boxed()
        }
    }
}

//! `ec2.services.k8s.aws/v1alpha1 ElasticIPAddress`: ACK's API and the EC2 calls. An address is
//! allocated once (AllocateAddress in the VPC domain, as ACK does) and identified by
//! `status.allocationID`; only its tags change afterwards, and a deletion releases it.

use std::net::Ipv4Addr;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{created, reread, synced};
use super::{aws, check_tags, found, generated_identifier, sync_tags, tag_specs, user_tags};
use crate::ack::condition::Condition;
use crate::ack::runtime::{AckKind, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::{AckResourceMetadata, Tag};

/// Spec of an Elastic IP address (ACK field names). Every field but `tags` is used at
/// allocation only, as in ACK.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ec2.services.k8s.aws",
    version = "v1alpha1",
    kind = "ElasticIPAddress",
    plural = "elasticipaddresses",
    namespaced,
    status = "ElasticIPAddressStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct ElasticIPAddressSpec {
    /// The Elastic IP address to recover, or an IPv4 address from an address pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A customer-owned address pool (Outposts) to take the address from.
    #[serde(
        default,
        rename = "customerOwnedIPv4Pool",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_owned_ipv4_pool: Option<String>,
    /// The network border group the address is advertised from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_border_group: Option<String>,
    /// An address pool you own (BYOIP) to take the address from.
    #[serde(
        default,
        rename = "publicIPv4Pool",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_ipv4_pool: Option<String>,
    /// Tags (absent: not managed; `aws:*` keys are AWS's and never touched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

/// Observed state of an Elastic IP address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ElasticIPAddressStatus {
    /// ARN, owner account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_resource_metadata: Option<AckResourceMetadata>,
    /// ACK conditions of the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::ack::condition::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The allocation id (`eipalloc-…`), assigned by AWS: the address's identifier.
    #[serde(
        default,
        rename = "allocationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub allocation_id: Option<String>,
    /// The carrier IP address (Wavelength Zones only).
    #[serde(default, rename = "carrierIP", skip_serializing_if = "Option::is_none")]
    pub carrier_ip: Option<String>,
    /// The customer-owned IP address.
    #[serde(
        default,
        rename = "customerOwnedIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_owned_ip: Option<String>,
    /// The Amazon-owned public IP address.
    #[serde(default, rename = "publicIP", skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
}

crate::ack::runtime::impl_ack_status!(ElasticIPAddressStatus);

/// What EC2 holds for an Elastic IP address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedAddress {
    /// The pools and border group it came from (for adoption).
    pub customer_owned_ipv4_pool: Option<String>,
    /// The network border group.
    pub network_border_group: Option<String>,
    /// The BYOIP pool.
    pub public_ipv4_pool: Option<String>,
    /// The user's tags.
    pub tags: Vec<Tag>,
    /// Status fields.
    pub status: ElasticIPAddressStatus,
}

/// AWS error codes that make an address terminal (ACK's).
pub const TERMINAL_CODES: &[&str] = &["InvalidParameterCombination", "InvalidParameterValue"];

const NOT_FOUND: &[&str] = &["InvalidAllocationID.NotFound", "InvalidAddress.NotFound"];

/// Checks what a user wrote that AWS would refuse less clearly: reserved tag keys, an
/// `address` that is not an IPv4 address, and two pools at once.
pub(crate) fn check(spec: &ElasticIPAddressSpec) -> Result<(), SyncError> {
    check_tags(spec.tags.as_deref())?;
    if let Some(a) = spec.address.as_deref().filter(|a| !a.is_empty())
        && a.parse::<Ipv4Addr>().is_err()
    {
        return Err(SyncError::Terminal(format!(
            "spec.address {a:?} is not an IPv4 address: write one such as 203.0.113.10, or \
             leave it out to let AWS pick one"
        )));
    }
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if set(&spec.public_ipv4_pool) && set(&spec.customer_owned_ipv4_pool) {
        return Err(SyncError::Terminal(
            "spec.publicIPv4Pool and spec.customerOwnedIPv4Pool are both set: an address comes \
             from one pool; keep only one"
                .into(),
        ));
    }
    Ok(())
}

/// The spec of an adopted address: its pools, border group and tags.
pub fn adopted_spec(observed: &ObservedAddress) -> Value {
    let mut spec = json!({ "tags": observed.tags });
    for (key, v) in [
        ("customerOwnedIPv4Pool", &observed.customer_owned_ipv4_pool),
        ("networkBorderGroup", &observed.network_border_group),
        ("publicIPv4Pool", &observed.public_ipv4_pool),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            spec[key] = json!(v);
        }
    }
    spec
}

/// Reads an address by allocation id.
pub(crate) async fn read(ec2: &Client, id: &str) -> Result<Option<ObservedAddress>, SyncError> {
    let res = ec2.describe_addresses().allocation_ids(id).send().await;
    let Some(out) = found("DescribeAddresses", res, NOT_FOUND)? else {
        return Ok(None);
    };
    let Some(a) = out
        .addresses()
        .iter()
        .find(|a| a.allocation_id() == Some(id))
    else {
        return Ok(None);
    };
    let owned = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(Some(ObservedAddress {
        customer_owned_ipv4_pool: owned(a.customer_owned_ipv4_pool()),
        network_border_group: owned(a.network_border_group()),
        public_ipv4_pool: owned(a.public_ipv4_pool()),
        tags: user_tags(a.tags()),
        status: ElasticIPAddressStatus {
            allocation_id: Some(id.to_owned()),
            carrier_ip: owned(a.carrier_ip()),
            customer_owned_ip: owned(a.customer_owned_ip()),
            public_ip: owned(a.public_ip()),
            ..Default::default()
        },
    }))
}

impl AckKind for ElasticIPAddress {
    const FINALIZER: &'static str = "finalizers.ec2.services.k8s.aws/ElasticIPAddress";
    const TERMINAL_CODES: &'static [&'static str] = TERMINAL_CODES;
    const ALREADY_EXISTS_CODES: &'static [&'static str] = &[];
    const ADOPTION_KEY: &'static str = "allocationID";
    const GENERATED_ID: bool = true;
    type Observed = ObservedAddress;

    fn identifier(&self) -> String {
        let status = self.status.as_ref();
        generated_identifier(
            status.and_then(|s| s.ack_resource_metadata.as_ref()),
            status.and_then(|s| s.allocation_id.as_ref()),
        )
    }

    async fn read(&self, cx: &SyncCx<'_>, id: &str) -> Result<Option<ObservedAddress>, SyncError> {
        read(&cx.aws.ec2, id).await
    }

    async fn precheck_create(&self, _cx: &SyncCx<'_>) -> Result<(), SyncError> {
        check(&self.spec)
    }

    async fn find_created(
        &self,
        cx: &SyncCx<'_>,
        token: &crate::ack::types::Tag,
    ) -> Result<Option<String>, SyncError> {
        super::find_tagged!(
            cx,
            token,
            describe_addresses,
            "DescribeAddresses",
            addresses,
            allocation_id
        )
    }

    async fn create(&self, cx: &SyncCx<'_>, _id: &str) -> Result<Created, SyncError> {
        let s = &self.spec;
        let non_empty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let out = cx
            .aws
            .ec2
            .allocate_address()
            // EC2-Classic is retired: every address is a VPC address (ACK sets the same).
            .domain(DomainType::Vpc)
            .set_address(non_empty(&s.address))
            .set_customer_owned_ipv4_pool(non_empty(&s.customer_owned_ipv4_pool))
            .set_network_border_group(non_empty(&s.network_border_group))
            .set_public_ipv4_pool(non_empty(&s.public_ipv4_pool))
            .set_tag_specifications(tag_specs(ResourceType::ElasticIp, s.tags.as_deref()))
            .send()
            .await
            .map_err(aws("AllocateAddress"))?;
        Ok(created("elastic IP address", out.allocation_id()))
    }

    async fn update(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        observed: ObservedAddress,
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
        Ok(synced(updated, &observed.status, None))
    }

    fn adopted_spec(_id: &str, observed: &ObservedAddress) -> Value {
        adopted_spec(observed)
    }

    async fn delete(
        &self,
        cx: &SyncCx<'_>,
        id: &str,
        _observed: ObservedAddress,
    ) -> Result<Deleted, SyncError> {
        // By allocation id only (ACK drops the public IP, EC2-Classic's key). An address still
        // associated (with a NAT gateway being deleted) is refused by AWS and retried.
        let res = cx.aws.ec2.release_address().allocation_id(id).send().await;
        found("ReleaseAddress", res, NOT_FOUND)?;
        Ok(Deleted::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        address: Option<&str>,
        public: Option<&str>,
        owned: Option<&str>,
    ) -> ElasticIPAddressSpec {
        ElasticIPAddressSpec {
            address: address.map(str::to_owned),
            public_ipv4_pool: public.map(str::to_owned),
            customer_owned_ipv4_pool: owned.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn what_aws_would_refuse_is_terminal_and_names_the_field() {
        assert!(check(&spec(None, None, None)).is_ok());
        assert!(check(&spec(Some("203.0.113.10"), Some("ipv4pool-ec2-1"), None)).is_ok());
        assert!(check(&spec(Some(""), None, Some("ipv4pool-coip-1"))).is_ok());
        let e = check(&spec(Some("banana"), None, None)).unwrap_err();
        assert!(
            matches!(&e, SyncError::Terminal(m) if m.starts_with("spec.address \"banana\"")),
            "{e}"
        );
        let e = check(&spec(Some("2001:db8::1"), None, None)).unwrap_err();
        assert!(e.to_string().contains("not an IPv4 address"), "{e}");
        let e = check(&spec(None, Some("p"), Some("c"))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("spec.publicIPv4Pool and spec.customerOwnedIPv4Pool"),
            "{e}"
        );
        let tagged = ElasticIPAddressSpec {
            tags: Some(vec![Tag::new("aws:owner", "x")]),
            ..Default::default()
        };
        assert!(
            check(&tagged)
                .unwrap_err()
                .to_string()
                .starts_with("spec.tags[0].key")
        );
    }

    #[test]
    fn adoption_takes_pools_and_tags() {
        let observed = ObservedAddress {
            public_ipv4_pool: Some("amazon".into()),
            network_border_group: Some("us-west-2".into()),
            customer_owned_ipv4_pool: Some(String::new()),
            tags: vec![Tag::new("team", "a")],
            ..Default::default()
        };
        assert_eq!(
            adopted_spec(&observed),
            json!({"publicIPv4Pool": "amazon", "networkBorderGroup": "us-west-2",
                   "tags": [{"key": "team", "value": "a"}]})
        );
    }

    #[test]
    fn status_has_acks_field_names() {
        let s = ElasticIPAddressStatus {
            allocation_id: Some("eipalloc-1".into()),
            public_ip: Some("198.51.100.7".into()),
            carrier_ip: Some("c".into()),
            customer_owned_ip: Some("o".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"allocationID": "eipalloc-1", "publicIP": "198.51.100.7",
                   "carrierIP": "c", "customerOwnedIP": "o"})
        );
    }
}

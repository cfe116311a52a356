//! e2e: the ACK-compatible EC2 `ElasticIPAddress` and `NATGateway` controllers against the real
//! apiserver and moto over HTTP: create, update of tags, drift corrected at resync, adoption,
//! both deletion policies, a NAT gateway waiting for its Subnet and Elastic IP address then
//! resolving them (and a RouteTable's `natGatewayRef` resolving to it), one terminal and one
//! recoverable error per kind. (moto makes a NAT gateway `available` at once and `deleted` at
//! once: the `pending` and `deleting` waits are unit tests of the kind.)

#![allow(clippy::unwrap_used)]

use anyhow::Result;
use kro_aws::ec2::elastic_ip_address::ElasticIPAddress;
use kro_aws::ec2::nat_gateway::NATGateway;
use kro_aws::ec2::route_table::RouteTable;
use kro_aws::ec2::sdk;
use kro_aws::ec2::subnet::Subnet;
use kro_aws::ec2::vpc::VPC;
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::support::aws::*;
use crate::support::events::wait_event;
use crate::support::{
    condition_is, condition_message, delete_and_wait, wait_condition, wait_for, wait_json,
};

/// What every step of these tests works with: the namespace, EC2, and the APIs of the kinds.
struct Case {
    client: Client,
    ns: String,
    ec2: sdk::Client,
    vpcs: Api<VPC>,
    subnets: Api<Subnet>,
    addresses: Api<ElasticIPAddress>,
    gateways: Api<NATGateway>,
    tables: Api<RouteTable>,
}

/// Controllers on moto for a fresh namespace, and the [`Case`] of its objects.
async fn case(prefix: &str) -> Result<(Case, Controllers)> {
    let (client, ns, controllers) = setup(prefix).await?;
    let api = || client.clone();
    let c = Case {
        ec2: sdk::Client::new(&kro_e2e::aws_config().await),
        vpcs: Api::namespaced(api(), &ns),
        subnets: Api::namespaced(api(), &ns),
        addresses: Api::namespaced(api(), &ns),
        gateways: Api::namespaced(api(), &ns),
        tables: Api::namespaced(api(), &ns),
        client,
        ns,
    };
    Ok((c, controllers))
}

/// The id a synced object carries in `status.<field>`.
fn id_of(obj: &Value, field: &str) -> String {
    obj["status"][field].as_str().unwrap_or_default().to_owned()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn tag(key: &str, value: &str) -> sdk::types::Tag {
    sdk::types::Tag::builder().key(key).value(value).build()
}

async fn address_in_aws(ec2: &sdk::Client, id: &str) -> Option<sdk::types::Address> {
    ec2.describe_addresses()
        .allocation_ids(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.addresses().first().cloned())
}

async fn nat_in_aws(ec2: &sdk::Client, id: &str) -> Option<sdk::types::NatGateway> {
    ec2.describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.nat_gateways().first().cloned())
}

/// The state EC2 reports for NAT gateway `id` (`None`: unknown to EC2).
async fn nat_state(ec2: &sdk::Client, id: &str) -> Option<String> {
    nat_in_aws(ec2, id)
        .await
        .and_then(|g| g.state().map(|s| s.as_str().to_owned()))
}

/// Waits until EC2's tags of resource `id` (read by `read`) are `want`.
async fn wait_tags<F, Fut>(what: &str, want: Vec<(String, String)>, read: F) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Vec<(String, String)>>>,
{
    wait_for(what, || async {
        Ok((read().await.as_ref() == Some(&want)).then_some(()))
    })
    .await
}

#[tokio::test]
async fn elastic_ip_create_update_drift_adopt_delete() -> Result<()> {
    let (c, controllers) = case("aws-eip").await?;
    let id = address_create_and_tags(&c).await?;
    address_errors(&c, &id).await?;
    address_adopted_and_retained(&c).await?;
    delete_and_wait(&c.addresses, "ip").await?;
    assert!(
        address_in_aws(&c.ec2, &id).await.is_none(),
        "address {id} was not released"
    );
    controllers.stop().await;
    Ok(())
}

/// Create: the allocation id AWS assigned, the public IP and the tags; update and drift of tags.
async fn address_create_and_tags(c: &Case) -> Result<String> {
    let Case {
        client,
        ns,
        ec2,
        addresses,
        ..
    } = c;
    create(
        addresses,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "ElasticIPAddress",
            "metadata": {"name": "ip"},
            "spec": {"tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    let obj = wait_condition(addresses, "ip", "ACK.ResourceSynced", "True").await?;
    let id = id_of(&obj, "allocationID");
    assert!(id.starts_with("eipalloc-"), "{obj}");
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.ec2.services.k8s.aws/ElasticIPAddress"])
    );
    let a = address_in_aws(ec2, &id).await.unwrap();
    assert_eq!(obj["status"]["publicIP"].as_str(), a.public_ip(), "{obj}");
    assert_eq!(tags_of(a.tags()), pairs(&[("team", "a")]));
    wait_event(client, ns, "ElasticIPAddress", "ip", "Created", &id).await?;

    // Update: tags replaced.
    patch(
        addresses,
        "ip",
        json!({"spec": {"tags": [{"key": "team", "value": "b"}, {"key": "env", "value": "dev"}]}}),
    )
    .await?;
    let want = pairs(&[("env", "dev"), ("team", "b")]);
    wait_tags("address tags updated", want.clone(), || async {
        address_in_aws(ec2, &id).await.map(|a| tags_of(a.tags()))
    })
    .await?;
    wait_event(
        client,
        ns,
        "ElasticIPAddress",
        "ip",
        "Updated",
        "CreateTags",
    )
    .await?;

    // Drift: a tag changed and one added by hand are put back at resync.
    ec2.create_tags()
        .resources(&id)
        .tags(tag("team", "z"))
        .tags(tag("intruder", "x"))
        .send()
        .await?;
    wait_tags("address tag drift corrected", want, || async {
        address_in_aws(ec2, &id).await.map(|a| tags_of(a.tags()))
    })
    .await?;
    Ok(id)
}

/// Terminal: an `address` that is not an IPv4 address, refused before anything is allocated.
/// Recoverable: more tags than EC2 allows (TagLimitExceeded), retried until the spec is fixed.
async fn address_errors(c: &Case, id: &str) -> Result<()> {
    let Case { ec2, addresses, .. } = c;
    create(
        addresses,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "ElasticIPAddress",
            "metadata": {"name": "bad"},
            "spec": {"address": "banana"}
        }),
    )
    .await?;
    let obj = wait_condition(addresses, "bad", "ACK.Terminal", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Terminal").starts_with("spec.address \"banana\""),
        "{obj}"
    );
    assert!(obj["status"].get("allocationID").is_none(), "{obj}");
    delete_and_wait(addresses, "bad").await?;

    let mut many = vec![
        json!({"key": "team", "value": "b"}),
        json!({"key": "env", "value": "dev"}),
    ];
    many.extend((0..49).map(|i| json!({"key": format!("k{i}"), "value": "v"})));
    patch(addresses, "ip", json!({"spec": {"tags": many}})).await?;
    let obj = wait_condition(addresses, "ip", "ACK.Recoverable", "True").await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(
        msg.starts_with("CreateTags: ") && msg.contains("TagLimitExceeded"),
        "{obj}"
    );
    patch(
        addresses,
        "ip",
        json!({"spec": {"tags": [{"key": "team", "value": "b"}]}}),
    )
    .await?;
    wait_json(addresses, "ip", "recovered", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && !condition_is(o, "ACK.Recoverable", "True")
    })
    .await?;
    wait_tags("address tags back", pairs(&[("team", "b")]), || async {
        address_in_aws(ec2, id).await.map(|a| tags_of(a.tags()))
    })
    .await?;
    Ok(())
}

/// Adoption of an address allocated by hand (its tags become the spec), deleted with retain:
/// the address stays allocated.
async fn address_adopted_and_retained(c: &Case) -> Result<()> {
    let Case { ec2, addresses, .. } = c;
    let made = ec2
        .allocate_address()
        .domain(sdk::types::DomainType::Vpc)
        .tag_specifications(
            sdk::types::TagSpecification::builder()
                .resource_type(sdk::types::ResourceType::ElasticIp)
                .tags(tag("owner", "hand"))
                .build(),
        )
        .send()
        .await?;
    let hand = made.allocation_id().unwrap().to_owned();
    create(
        addresses,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "ElasticIPAddress",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"allocationID\": \"{hand}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {}
        }),
    )
    .await?;
    let obj = wait_json(addresses, "legacy", "adopted", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && o["spec"]["tags"].is_array()
    })
    .await?;
    assert_eq!(
        obj["spec"]["tags"],
        json!([{"key": "owner", "value": "hand"}])
    );
    assert_eq!(obj["status"]["allocationID"], json!(hand));
    assert_eq!(obj["status"]["publicIP"].as_str(), made.public_ip());
    assert_eq!(
        obj["metadata"]["annotations"]["services.k8s.aws/adopted"],
        "true"
    );
    delete_and_wait(addresses, "legacy").await?;
    assert!(
        address_in_aws(ec2, &hand).await.is_some(),
        "a retained address stays allocated"
    );
    ec2.release_address().allocation_id(&hand).send().await?;
    Ok(())
}

#[tokio::test]
async fn nat_gateway_waits_for_subnet_and_address_then_routes() -> Result<()> {
    let (c, controllers) = case("aws-nat").await?;
    let (subnet, eip, nat) = nat_waits_then_created(&c).await?;
    nat_routed_by_ref(&c, &nat).await?;
    nat_tags_and_drift(&c, &nat).await?;
    nat_errors(&c).await?;
    nat_adopted_and_retained(&c, &subnet).await?;
    delete_and_wait(&c.tables, "private").await?;
    delete_and_wait(&c.gateways, "nat").await?;
    assert_eq!(
        nat_state(&c.ec2, &nat).await.as_deref(),
        Some("deleted"),
        "NAT gateway {nat} not deleted"
    );
    delete_and_wait(&c.addresses, "ip").await?;
    assert!(
        address_in_aws(&c.ec2, &eip).await.is_none(),
        "address {eip} not released"
    );
    delete_and_wait(&c.subnets, "public").await?;
    delete_and_wait(&c.vpcs, "net").await?;
    controllers.stop().await;
    Ok(())
}

/// The NAT gateway waits for its Subnet, then for its Elastic IP address, then is created with
/// both. Returns (subnet, allocation, NAT gateway) ids.
async fn nat_waits_then_created(c: &Case) -> Result<(String, String, String)> {
    let Case {
        client,
        ns,
        ec2,
        vpcs,
        subnets,
        addresses,
        gateways,
        ..
    } = c;
    create(
        gateways,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "nat"},
            "spec": {"subnetRef": {"from": {"name": "public"}},
                     "allocationRef": {"from": {"name": "ip"}},
                     "tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    wait_json(gateways, "nat", "waiting for the subnet", |o| {
        condition_is(o, "ACK.ReferencesResolved", "Unknown")
            && condition_message(o, "ACK.ReferencesResolved").starts_with("spec.subnetRef: Subnet")
    })
    .await?;
    create(
        vpcs,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
            "metadata": {"name": "net"}, "spec": {"cidrBlocks": ["10.81.0.0/16"]}
        }),
    )
    .await?;
    create(
        subnets,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "Subnet",
            "metadata": {"name": "public"},
            "spec": {"vpcRef": {"from": {"name": "net"}}, "cidrBlock": "10.81.1.0/24"}
        }),
    )
    .await?;
    let s = wait_condition(subnets, "public", "ACK.ResourceSynced", "True").await?;
    let subnet = id_of(&s, "subnetID");
    let v = wait_condition(vpcs, "net", "ACK.ResourceSynced", "True").await?;
    wait_json(gateways, "nat", "waiting for the address", |o| {
        condition_is(o, "ACK.ReferencesResolved", "Unknown")
            && condition_message(o, "ACK.ReferencesResolved")
                .starts_with("spec.allocationRef: ElasticIPAddress")
    })
    .await?;
    assert!(
        ec2.describe_nat_gateways()
            .filter(
                sdk::types::Filter::builder()
                    .name("subnet-id")
                    .values(&subnet)
                    .build()
            )
            .send()
            .await?
            .nat_gateways()
            .is_empty(),
        "nothing is created while a reference waits"
    );
    create(
        addresses,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "ElasticIPAddress",
            "metadata": {"name": "ip"}, "spec": {}
        }),
    )
    .await?;
    let ip = wait_condition(addresses, "ip", "ACK.ResourceSynced", "True").await?;
    let eip = id_of(&ip, "allocationID");
    let obj = wait_condition(gateways, "nat", "ACK.ResourceSynced", "True").await?;
    assert!(
        condition_is(&obj, "ACK.ReferencesResolved", "True"),
        "{obj}"
    );
    let nat = id_of(&obj, "natGatewayID");
    assert!(nat.starts_with("nat-"), "{obj}");
    assert_eq!(obj["status"]["state"], "available");
    assert_eq!(obj["status"]["vpcID"], v["status"]["vpcID"]);
    let address = &obj["status"]["natGatewayAddresses"][0];
    assert_eq!(address["allocationID"], json!(eip), "{obj}");
    assert_eq!(address["publicIP"], ip["status"]["publicIP"], "{obj}");
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.ec2.services.k8s.aws/NATGateway"])
    );
    let g = nat_in_aws(ec2, &nat).await.unwrap();
    assert_eq!(g.subnet_id(), Some(subnet.as_str()));
    assert_eq!(tags_of(g.tags()), pairs(&[("team", "a")]));
    // The resolved references stay in memory: the spec the user wrote is unchanged.
    assert!(obj["spec"].get("subnetID").is_none(), "{obj}");
    wait_event(client, ns, "NATGateway", "nat", "Created", &nat).await?;
    Ok((subnet, eip, nat))
}

/// A RouteTable's `natGatewayRef` resolves to the NAT gateway's id.
async fn nat_routed_by_ref(c: &Case, nat: &str) -> Result<()> {
    let Case { ec2, tables, .. } = c;
    create(
        tables,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "RouteTable",
            "metadata": {"name": "private"},
            "spec": {"vpcRef": {"from": {"name": "net"}},
                     "routes": [{"destinationCIDRBlock": "0.0.0.0/0",
                                 "natGatewayRef": {"from": {"name": "nat"}}}]}
        }),
    )
    .await?;
    let obj = wait_condition(tables, "private", "ACK.ResourceSynced", "True").await?;
    let rt = id_of(&obj, "routeTableID");
    let out = ec2
        .describe_route_tables()
        .route_table_ids(&rt)
        .send()
        .await?;
    let routes = out.route_tables()[0].routes();
    assert!(
        routes
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.nat_gateway_id() == Some(nat)),
        "{routes:?}"
    );
    Ok(())
}

/// Update of tags, and tags changed by hand put back at resync.
async fn nat_tags_and_drift(c: &Case, nat: &str) -> Result<()> {
    let Case {
        client,
        ns,
        ec2,
        gateways,
        ..
    } = c;
    patch(
        gateways,
        "nat",
        json!({"spec": {"tags": [{"key": "team", "value": "b"}, {"key": "tier", "value": "edge"}]}}),
    )
    .await?;
    let want = pairs(&[("team", "b"), ("tier", "edge")]);
    wait_tags("NAT tags updated", want.clone(), || async {
        nat_in_aws(ec2, nat).await.map(|g| tags_of(g.tags()))
    })
    .await?;
    wait_event(client, ns, "NATGateway", "nat", "Updated", "CreateTags").await?;
    ec2.delete_tags()
        .resources(nat)
        .tags(sdk::types::Tag::builder().key("tier").build())
        .send()
        .await?;
    ec2.create_tags()
        .resources(nat)
        .tags(tag("intruder", "x"))
        .send()
        .await?;
    wait_tags("NAT tag drift corrected", want, || async {
        nat_in_aws(ec2, nat).await.map(|g| tags_of(g.tags()))
    })
    .await?;
    Ok(())
}

/// Terminal: a private regional gateway (EC2 would quietly make it public; ACK refuses it too).
/// Recoverable: a subnet EC2 does not know, retried until the spec names one it does.
async fn nat_errors(c: &Case) -> Result<()> {
    let Case { ec2, gateways, .. } = c;
    create(
        gateways,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "regional"},
            "spec": {"availabilityMode": "regional", "connectivityType": "private",
                     "vpcRef": {"from": {"name": "net"}}}
        }),
    )
    .await?;
    let obj = wait_condition(gateways, "regional", "ACK.Terminal", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Terminal")
            .starts_with("spec.connectivityType private with spec.availabilityMode regional"),
        "{obj}"
    );
    delete_and_wait(gateways, "regional").await?;

    create(
        gateways,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "lost"},
            "spec": {"connectivityType": "private", "subnetID": "subnet-00000000000000000"}
        }),
    )
    .await?;
    let obj = wait_condition(gateways, "lost", "ACK.Recoverable", "True").await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(
        msg.starts_with("CreateNatGateway: ") && msg.contains("InvalidSubnetID.NotFound"),
        "{obj}"
    );
    patch(
        gateways,
        "lost",
        json!({"spec": {"subnetID": null, "subnetRef": {"from": {"name": "public"}}}}),
    )
    .await?;
    let obj = wait_condition(gateways, "lost", "ACK.ResourceSynced", "True").await?;
    let id = id_of(&obj, "natGatewayID");
    let g = nat_in_aws(ec2, &id).await.unwrap();
    assert_eq!(g.connectivity_type().map(|t| t.as_str()), Some("private"));
    delete_and_wait(gateways, "lost").await?;
    assert_eq!(nat_state(ec2, &id).await.as_deref(), Some("deleted"));
    Ok(())
}

/// Adoption of a NAT gateway made by hand (subnet, address and tags become the spec), deleted
/// with retain: the gateway stays available.
async fn nat_adopted_and_retained(c: &Case, subnet: &str) -> Result<()> {
    let Case { ec2, gateways, .. } = c;
    let eip = ec2
        .allocate_address()
        .domain(sdk::types::DomainType::Vpc)
        .send()
        .await?;
    let eip = eip.allocation_id().unwrap().to_owned();
    let made = ec2
        .create_nat_gateway()
        .subnet_id(subnet)
        .allocation_id(&eip)
        .tag_specifications(
            sdk::types::TagSpecification::builder()
                .resource_type(sdk::types::ResourceType::Natgateway)
                .tags(tag("owner", "hand"))
                .build(),
        )
        .send()
        .await?;
    let hand = made
        .nat_gateway()
        .and_then(|g| g.nat_gateway_id())
        .unwrap()
        .to_owned();
    create(
        gateways,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "NATGateway",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"natGatewayID\": \"{hand}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {}
        }),
    )
    .await?;
    let obj = wait_json(gateways, "legacy", "adopted", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && o["spec"]["subnetID"].is_string()
    })
    .await?;
    assert_eq!(obj["spec"]["subnetID"], json!(subnet));
    assert_eq!(obj["spec"]["allocationID"], json!(eip));
    assert_eq!(
        obj["spec"]["tags"],
        json!([{"key": "owner", "value": "hand"}])
    );
    assert_eq!(obj["status"]["natGatewayID"], json!(hand));
    delete_and_wait(gateways, "legacy").await?;
    assert_eq!(
        nat_state(ec2, &hand).await.as_deref(),
        Some("available"),
        "a retained NAT gateway stays"
    );
    ec2.delete_nat_gateway()
        .nat_gateway_id(&hand)
        .send()
        .await?;
    ec2.release_address().allocation_id(&eip).send().await?;
    Ok(())
}

//! e2e: the ACK-compatible EC2 networking controllers (VPC, Subnet, SecurityGroup,
//! InternetGateway, RouteTable) against the real apiserver and moto over HTTP: create, update of
//! each mutable field group, drift corrected at resync, adoption, both deletion policies,
//! references waiting then resolving (also from DBSubnetGroup and DBInstance), one terminal and
//! one recoverable AWS error per kind.

#![allow(clippy::unwrap_used)]

use anyhow::Result;
use kro_aws::ec2::internet_gateway::InternetGateway;
use kro_aws::ec2::route_table::RouteTable;
use kro_aws::ec2::sdk;
use kro_aws::ec2::security_group::SecurityGroup;
use kro_aws::ec2::subnet::Subnet;
use kro_aws::ec2::vpc::VPC;
use kro_aws::rds::db_subnet_group::DBSubnetGroup;
use kube::Client;
use kube::api::Api;
use sdk::types::{AttributeBooleanValue, Filter, IpPermission, IpRange, VpcAttributeName};
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
    groups: Api<SecurityGroup>,
    gateways: Api<InternetGateway>,
    tables: Api<RouteTable>,
}

/// Controllers on moto for a fresh namespace, and the [`Case`] of its objects.
async fn case(prefix: &str) -> Result<(Case, Controllers)> {
    let (client, ns, controllers) = setup(prefix).await?;
    let api = || client.clone();
    let c = Case {
        ec2: ec2().await,
        vpcs: Api::namespaced(api(), &ns),
        subnets: Api::namespaced(api(), &ns),
        groups: Api::namespaced(api(), &ns),
        gateways: Api::namespaced(api(), &ns),
        tables: Api::namespaced(api(), &ns),
        client,
        ns,
    };
    Ok((c, controllers))
}

/// A Subnet of VPC object `net`.
fn subnet_json(name: &str, cidr: &str, zone: &str) -> Value {
    json!({
        "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "Subnet",
        "metadata": {"name": name},
        "spec": {"vpcRef": {"from": {"name": "net"}}, "cidrBlock": cidr,
                 "availabilityZone": zone, "tags": [{"key": "tier", "value": "app"}]}
    })
}

async fn ec2() -> sdk::Client {
    sdk::Client::new(&kro_e2e::aws_config().await)
}

/// The id a synced object carries in `status.<field>`.
fn id_of(obj: &Value, field: &str) -> String {
    obj["status"][field].as_str().unwrap_or_default().to_owned()
}

async fn vpc_in_aws(ec2: &sdk::Client, id: &str) -> Option<sdk::types::Vpc> {
    ec2.describe_vpcs()
        .vpc_ids(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.vpcs().first().cloned())
}

async fn vpc_attribute(ec2: &sdk::Client, id: &str, name: VpcAttributeName) -> Option<bool> {
    let out = ec2
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(name.clone())
        .send()
        .await
        .ok()?;
    let v = match name {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    v.and_then(AttributeBooleanValue::value)
}

fn blocks(vpc: &sdk::types::Vpc) -> Vec<String> {
    let mut b: Vec<String> = vpc
        .cidr_block_association_set()
        .iter()
        .filter(|a| {
            a.cidr_block_state()
                .and_then(|s| s.state())
                .is_some_and(|s| s.as_str() == "associated" || s.as_str() == "associating")
        })
        .filter_map(|a| a.cidr_block().map(str::to_owned))
        .collect();
    b.sort();
    b
}

#[tokio::test]
async fn vpc_create_update_drift_adopt_delete() -> Result<()> {
    let (client, ns, controllers) = setup("aws-vpc").await?;
    let ec2 = ec2().await;
    let api: Api<VPC> = Api::namespaced(client.clone(), &ns);
    let id = vpc_create(&client, &ns, &api, &ec2).await?;
    vpc_update(&client, &ns, &api, &ec2, &id).await?;
    vpc_drift(&ec2, &id).await?;
    vpc_adopt_and_retain(&api, &ec2).await?;
    vpc_terminal_and_recoverable(&api, &ec2).await?;
    delete_and_wait(&api, "net").await?;
    assert!(
        vpc_in_aws(&ec2, &id).await.is_none(),
        "VPC {id} still exists"
    );
    controllers.stop().await;
    Ok(())
}

/// Create: synced with the id AWS assigned, DNS attributes and tags set in EC2.
async fn vpc_create(
    client: &Client,
    ns: &str,
    api: &Api<VPC>,
    ec2: &sdk::Client,
) -> Result<String> {
    create(
        api,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
            "metadata": {"name": "net"},
            "spec": {"cidrBlocks": ["10.20.0.0/16"], "enableDNSSupport": true,
                     "enableDNSHostnames": true, "tags": [{"key": "team", "value": "a"}]}
        }),
    )
    .await?;
    let obj = wait_condition(api, "net", "ACK.ResourceSynced", "True").await?;
    let id = id_of(&obj, "vpcID");
    assert!(id.starts_with("vpc-"), "{obj}");
    assert_eq!(obj["status"]["state"], "available");
    assert_eq!(
        obj["status"]["ackResourceMetadata"]["identifier"],
        json!(id)
    );
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["finalizers.ec2.services.k8s.aws/VPC"])
    );
    let vpc = vpc_in_aws(ec2, &id).await.unwrap();
    assert_eq!(vpc.cidr_block(), Some("10.20.0.0/16"));
    assert_eq!(tags_of(vpc.tags()), vec![("team".into(), "a".into())]);
    assert_eq!(
        vpc_attribute(ec2, &id, VpcAttributeName::EnableDnsHostnames).await,
        Some(true)
    );
    let created = wait_event(client, ns, "VPC", "net", "Created", &id).await?;
    assert_eq!(created.reporter, "kro-rs-ack-ec2");
    Ok(id)
}

/// Update: an extra block is associated, an attribute modified, tags replaced, the default
/// security group emptied.
async fn vpc_update(
    client: &Client,
    ns: &str,
    api: &Api<VPC>,
    ec2: &sdk::Client,
    id: &str,
) -> Result<()> {
    patch(
        api,
        "net",
        json!({"spec": {"cidrBlocks": ["10.20.0.0/16", "10.21.0.0/16"], "enableDNSHostnames": false,
                        "disallowSecurityGroupDefaultRules": true,
                        "tags": [{"key": "team", "value": "b"}]}}),
    )
    .await?;
    wait_for("VPC updated in EC2", || async {
        let vpc = vpc_in_aws(ec2, id).await;
        let hostnames = vpc_attribute(ec2, id, VpcAttributeName::EnableDnsHostnames).await;
        Ok(vpc
            .filter(|v| {
                blocks(v) == ["10.20.0.0/16", "10.21.0.0/16"]
                    && tags_of(v.tags()) == [("team".to_owned(), "b".to_owned())]
                    && hostnames == Some(false)
            })
            .map(|_| ()))
    })
    .await?;
    let obj = wait_json(api, "net", "default rules gone", |o| {
        o["status"]["securityGroupDefaultRulesExist"] == false
            && o["status"]["cidrBlockAssociationSet"]
                .as_array()
                .is_some_and(|a| a.len() == 2)
    })
    .await?;
    assert!(condition_is(&obj, "ACK.ResourceSynced", "True"), "{obj}");
    let default = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(id).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await?;
    let g = &default.security_groups()[0];
    assert!(
        g.ip_permissions().is_empty() && g.ip_permissions_egress().is_empty(),
        "{g:?}"
    );
    wait_event(client, ns, "VPC", "net", "Updated", "AssociateVpcCidrBlock").await?;
    // Dropping the extra block disassociates it.
    patch(
        api,
        "net",
        json!({"spec": {"cidrBlocks": ["10.20.0.0/16"]}}),
    )
    .await?;
    wait_for("extra block disassociated", || async {
        Ok(vpc_in_aws(ec2, id)
            .await
            .filter(|v| blocks(v) == ["10.20.0.0/16"])
            .map(|_| ()))
    })
    .await?;
    Ok(())
}

/// Drift: an attribute and a tag changed behind the controller's back are put back at resync;
/// an `aws:` system tag is left alone.
async fn vpc_drift(ec2: &sdk::Client, id: &str) -> Result<()> {
    ec2.modify_vpc_attribute()
        .vpc_id(id)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await?;
    ec2.create_tags()
        .resources(id)
        .tags(
            sdk::types::Tag::builder()
                .key("intruder")
                .value("x")
                .build(),
        )
        .send()
        .await?;
    wait_for("VPC drift corrected", || async {
        let hostnames = vpc_attribute(ec2, id, VpcAttributeName::EnableDnsHostnames).await;
        let tags = vpc_in_aws(ec2, id).await.map(|v| tags_of(v.tags()));
        Ok(
            (hostnames == Some(false) && tags == Some(vec![("team".into(), "b".into())]))
                .then_some(()),
        )
    })
    .await?;
    Ok(())
}

/// Adopt a VPC made by hand (its blocks and tags become the spec), then delete with retain:
/// the VPC stays.
async fn vpc_adopt_and_retain(api: &Api<VPC>, ec2: &sdk::Client) -> Result<()> {
    let made = ec2
        .create_vpc()
        .cidr_block("10.30.0.0/16")
        .tag_specifications(
            sdk::types::TagSpecification::builder()
                .resource_type(sdk::types::ResourceType::Vpc)
                .tags(
                    sdk::types::Tag::builder()
                        .key("owner")
                        .value("hand")
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;
    let existing = made.vpc().and_then(|v| v.vpc_id()).unwrap().to_owned();
    create(
        api,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"vpcID\": \"{existing}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"cidrBlocks": ["10.99.0.0/16"]}
        }),
    )
    .await?;
    let obj = wait_json(api, "legacy", "adopted", |o| {
        condition_is(o, "ACK.ResourceSynced", "True")
            && o["spec"]["cidrBlocks"] == json!(["10.30.0.0/16"])
    })
    .await?;
    assert_eq!(
        obj["spec"]["tags"],
        json!([{"key": "owner", "value": "hand"}])
    );
    assert_eq!(obj["status"]["vpcID"], json!(existing));
    assert_eq!(
        obj["metadata"]["annotations"]["services.k8s.aws/adopted"],
        "true"
    );
    delete_and_wait(api, "legacy").await?;
    assert!(
        vpc_in_aws(ec2, &existing).await.is_some(),
        "a retained VPC survives"
    );
    ec2.delete_vpc().vpc_id(&existing).send().await?;
    Ok(())
}

/// Terminal: a block EC2 refuses (a /8) stops with ACK.Terminal and no finalizer. Recoverable: a
/// VPC with a subnet made by hand cannot be deleted yet (DependencyViolation, retried) and goes
/// once the subnet does.
async fn vpc_terminal_and_recoverable(api: &Api<VPC>, ec2: &sdk::Client) -> Result<()> {
    create(
        api,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
            "metadata": {"name": "too-big"},
            "spec": {"cidrBlocks": ["10.0.0.0/8"]}
        }),
    )
    .await?;
    let obj = wait_condition(api, "too-big", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("CreateVpc: InvalidVpc.Range"), "{msg}");
    assert!(obj["metadata"]["finalizers"].is_null(), "{obj}");
    delete_and_wait(api, "too-big").await?;

    create(
        api,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
            "metadata": {"name": "busy"},
            "spec": {"cidrBlocks": ["10.40.0.0/16"]}
        }),
    )
    .await?;
    let obj = wait_condition(api, "busy", "ACK.ResourceSynced", "True").await?;
    let id = id_of(&obj, "vpcID");
    let subnet = ec2
        .create_subnet()
        .vpc_id(&id)
        .cidr_block("10.40.1.0/24")
        .send()
        .await?;
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_owned();
    api.delete("busy", &Default::default()).await?;
    let obj = wait_condition(api, "busy", "ACK.Recoverable", "True").await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(msg.contains("DeleteVpc: DependencyViolation"), "{msg}");
    ec2.delete_subnet().subnet_id(&subnet_id).send().await?;
    crate::support::wait_gone(api, "busy").await?;
    assert!(vpc_in_aws(ec2, &id).await.is_none());
    Ok(())
}

/// A VPC object named `name` with one block, synced; returns its id.
async fn synced_vpc(api: &Api<VPC>, name: &str, cidr: &str) -> Result<String> {
    create(
        api,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "VPC",
            "metadata": {"name": name},
            "spec": {"cidrBlocks": [cidr]}
        }),
    )
    .await?;
    let obj = wait_condition(api, name, "ACK.ResourceSynced", "True").await?;
    Ok(id_of(&obj, "vpcID"))
}

async fn subnet_in_aws(ec2: &sdk::Client, id: &str) -> Option<sdk::types::Subnet> {
    ec2.describe_subnets()
        .subnet_ids(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.subnets().first().cloned())
}

#[tokio::test]
async fn subnet_waits_for_its_vpc_then_syncs_updates_and_feeds_a_db_subnet_group() -> Result<()> {
    let (c, controllers) = case("aws-subnet").await?;
    let (vpc_id, id) = subnet_waits_then_syncs(&c).await?;
    let rt_id = subnet_updates_drift_and_recovers(&c, &vpc_id, &id).await?;
    ec2_tag_updates(&c.subnets, "app-a", &c.ec2, &id, &[("tier", "app")]).await?;
    subnet_terminal_and_db_subnet_group(&c, &vpc_id, &id).await?;
    subnet_adopt_and_retain(&c, &vpc_id).await?;
    subnet_delete(&c, &id, &rt_id).await?;
    controllers.stop().await;
    Ok(())
}

/// The subnet names a VPC that does not exist yet: it waits, then syncs; returns (vpc, subnet).
async fn subnet_waits_then_syncs(c: &Case) -> Result<(String, String)> {
    let Case {
        ec2, vpcs, subnets, ..
    } = c;
    // The subnet names a VPC that does not exist yet: it waits.
    create(subnets, subnet_json("app-a", "10.50.1.0/24", "us-west-2a")).await?;
    let obj = wait_condition(subnets, "app-a", "ACK.ReferencesResolved", "Unknown").await?;
    let msg = condition_message(&obj, "ACK.ReferencesResolved");
    assert!(
        msg.contains("spec.vpcRef: VPC") && msg.contains("does not exist yet"),
        "{msg}"
    );
    let vpc_id = synced_vpc(vpcs, "net", "10.50.0.0/16").await?;
    let obj = wait_condition(subnets, "app-a", "ACK.ResourceSynced", "True").await?;
    assert!(
        condition_is(&obj, "ACK.ReferencesResolved", "True"),
        "{obj}"
    );
    let id = id_of(&obj, "subnetID");
    let s = subnet_in_aws(ec2, &id).await.unwrap();
    assert_eq!(
        (s.vpc_id(), s.cidr_block()),
        (Some(vpc_id.as_str()), Some("10.50.1.0/24"))
    );
    assert_eq!(s.availability_zone(), Some("us-west-2a"));
    assert_eq!(tags_of(s.tags()), vec![("tier".into(), "app".into())]);
    assert_eq!(obj["status"]["state"], "available");
    Ok((vpc_id, id))
}

/// Attributes, drift, and a recoverable error; returns the route table made by hand.
async fn subnet_updates_drift_and_recovers(c: &Case, vpc_id: &str, id: &str) -> Result<String> {
    let vpc_id = vpc_id.to_owned();
    let id = id.to_owned();
    let Case { ec2, subnets, .. } = c;
    // Update: one attribute call each.
    patch(
        subnets,
        "app-a",
        json!({"spec": {"mapPublicIPOnLaunch": true, "enableResourceNameDNSARecord": true}}),
    )
    .await?;
    wait_for("subnet attributes set", || async {
        Ok(subnet_in_aws(ec2, &id)
            .await
            .filter(|s| {
                let dns = s.private_dns_name_options_on_launch();
                s.map_public_ip_on_launch() == Some(true)
                    && dns.and_then(|d| d.enable_resource_name_dns_a_record()) == Some(true)
            })
            .map(|_| ()))
    })
    .await?;
    // Drift: put back at resync.
    ec2.modify_subnet_attribute()
        .subnet_id(&id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await?;
    wait_for("subnet drift corrected", || async {
        Ok(subnet_in_aws(ec2, &id)
            .await
            .filter(|s| s.map_public_ip_on_launch() == Some(true))
            .map(|_| ()))
    })
    .await?;

    // Recoverable: a route table that does not exist; fixed by naming a real one.
    patch(
        subnets,
        "app-a",
        json!({"spec": {"routeTables": ["rtb-0000000000000000"]}}),
    )
    .await?;
    let obj = wait_condition(subnets, "app-a", "ACK.Recoverable", "True").await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(
        msg.starts_with("AssociateRouteTable: InvalidRouteTableID.NotFound"),
        "{msg}"
    );
    let rt = ec2.create_route_table().vpc_id(&vpc_id).send().await?;
    let rt_id = rt
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap()
        .to_owned();
    patch(subnets, "app-a", json!({"spec": {"routeTables": [rt_id]}})).await?;
    wait_for("route table associated", || async {
        let out = ec2
            .describe_route_tables()
            .route_table_ids(&rt_id)
            .send()
            .await?;
        let associated = out.route_tables()[0]
            .associations()
            .iter()
            .any(|a| a.subnet_id() == Some(id.as_str()));
        Ok(associated.then_some(()))
    })
    .await?;
    wait_condition(subnets, "app-a", "ACK.ResourceSynced", "True").await?;
    Ok(rt_id)
}

/// A terminal error, and a DBSubnetGroup on these Subnets.
async fn subnet_terminal_and_db_subnet_group(c: &Case, vpc_id: &str, id: &str) -> Result<()> {
    let vpc_id = vpc_id.to_owned();
    let id = id.to_owned();
    let Case {
        client,
        ns,
        subnets,
        ..
    } = c;
    // Terminal: a block outside the VPC.
    create(
        subnets,
        subnet_json("outside", "10.51.1.0/24", "us-west-2a"),
    )
    .await?;
    let obj = wait_condition(subnets, "outside", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(msg.contains("CreateSubnet: InvalidSubnet.Range"), "{msg}");
    delete_and_wait(subnets, "outside").await?;

    // DBSubnetGroup.subnetRefs resolve to these Subnets.
    create(subnets, subnet_json("app-b", "10.50.2.0/24", "us-west-2b")).await?;
    let b = wait_condition(subnets, "app-b", "ACK.ResourceSynced", "True").await?;
    let db_groups: Api<DBSubnetGroup> = Api::namespaced(client.clone(), ns);
    let group_name = kro_e2e::unique_name("kro-ec2-sng").to_ascii_lowercase();
    create(
        &db_groups,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBSubnetGroup",
            "metadata": {"name": "db"},
            "spec": {"name": group_name, "description": "on kro-rs subnets",
                     "subnetRefs": [{"from": {"name": "app-a"}}, {"from": {"name": "app-b"}}]}
        }),
    )
    .await?;
    let g = wait_condition(&db_groups, "db", "ACK.ResourceSynced", "True").await?;
    assert_eq!(g["status"]["vpcID"], json!(vpc_id));
    let mut ids: Vec<String> = g["status"]["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subnetIdentifier"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want = vec![id.clone(), id_of(&b, "subnetID")];
    want.sort();
    assert_eq!(ids, want);
    delete_and_wait(&db_groups, "db").await?;
    Ok(())
}

/// Adoption of a subnet made by hand, deleted with retain.
async fn subnet_adopt_and_retain(c: &Case, vpc_id: &str) -> Result<()> {
    let vpc_id = vpc_id.to_owned();
    let Case { ec2, subnets, .. } = c;
    // Adoption of a subnet made by hand, deleted with retain.
    let made = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.50.9.0/24")
        .send()
        .await?;
    let existing = made
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_owned();
    create(
        subnets,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "Subnet",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"subnetID\": \"{existing}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {}
        }),
    )
    .await?;
    let obj = wait_json(subnets, "legacy", "adopted", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && o["spec"]["cidrBlock"] == "10.50.9.0/24"
    })
    .await?;
    assert_eq!(obj["spec"]["vpcID"], json!(vpc_id));
    delete_and_wait(subnets, "legacy").await?;
    assert!(
        subnet_in_aws(ec2, &existing).await.is_some(),
        "a retained subnet survives"
    );
    ec2.delete_subnet().subnet_id(&existing).send().await?;
    Ok(())
}

/// Delete (default policy), then the VPC; the association goes first, through the spec.
async fn subnet_delete(c: &Case, id: &str, rt_id: &str) -> Result<()> {
    let id = id.to_owned();
    let rt_id = rt_id.to_owned();
    let Case {
        ec2, vpcs, subnets, ..
    } = c;
    // Delete (default policy), then the VPC; the association goes first, through the spec.
    patch(subnets, "app-a", json!({"spec": {"routeTables": []}})).await?;
    wait_for("route table disassociated", || async {
        let out = ec2
            .describe_route_tables()
            .route_table_ids(&rt_id)
            .send()
            .await?;
        Ok(out.route_tables()[0]
            .associations()
            .is_empty()
            .then_some(()))
    })
    .await?;
    delete_and_wait(subnets, "app-a").await?;
    delete_and_wait(subnets, "app-b").await?;
    assert!(
        subnet_in_aws(ec2, &id).await.is_none(),
        "subnet {id} still exists"
    );
    ec2.delete_route_table()
        .route_table_id(&rt_id)
        .send()
        .await?;
    delete_and_wait(vpcs, "net").await?;
    Ok(())
}

async fn group_in_aws(ec2: &sdk::Client, id: &str) -> Option<sdk::types::SecurityGroup> {
    ec2.describe_security_groups()
        .group_ids(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.security_groups().first().cloned())
}

/// A group's rules of one direction as sorted `protocol from-to target` lines.
fn rule_lines(perms: &[IpPermission]) -> Vec<String> {
    let mut out = Vec::new();
    for p in perms {
        let head = format!(
            "{} {}-{}",
            p.ip_protocol().unwrap_or_default(),
            p.from_port().map(|v| v.to_string()).unwrap_or_default(),
            p.to_port().map(|v| v.to_string()).unwrap_or_default()
        );
        for r in p.ip_ranges() {
            out.push(format!(
                "{head} {} {}",
                r.cidr_ip().unwrap_or_default(),
                r.description().unwrap_or_default()
            ));
        }
        for g in p.user_id_group_pairs() {
            out.push(format!("{head} {}", g.group_id().unwrap_or_default()));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn security_group_rules_diff_rule_by_rule_and_groups_may_refer_to_each_other() -> Result<()> {
    let (c, controllers) = case("aws-sg").await?;
    let (vpc_id, web) = group_create(&c).await?;
    group_update_and_drift(&c, &web).await?;
    ec2_tag_updates(&c.groups, "web", &c.ec2, &web, &[("tier", "web")]).await?;
    let (app, db) = group_refs_and_errors(&c, &vpc_id, &web).await?;
    group_adopt_and_retain(&c, &vpc_id).await?;
    group_delete(&c, &web, &app, &db).await?;
    controllers.stop().await;
    Ok(())
}

/// Create, written as a user might; returns (vpc, group).
async fn group_create(c: &Case) -> Result<(String, String)> {
    let Case {
        client,
        ns,
        ec2,
        vpcs,
        groups,
        ..
    } = c;
    let vpc_id = synced_vpc(vpcs, "net", "10.60.0.0/16").await?;

    // Written as a user might: protocol number, host bits, ports on an all-protocols rule.
    create(
        groups,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "SecurityGroup",
            "metadata": {"name": "web"},
            "spec": {"name": "web", "description": "web tier", "vpcRef": {"from": {"name": "net"}},
                     "ingressRules": [
                        {"ipProtocol": "6", "fromPort": 443, "toPort": 443,
                         "ipRanges": [{"cidrIP": "10.60.7.9/16", "description": "vpc"}]},
                        {"ipProtocol": "-1", "fromPort": 0, "toPort": 65535,
                         "userIDGroupPairs": [{"description": "self"}]}],
                     "tags": [{"key": "tier", "value": "web"}]}
        }),
    )
    .await?;
    let obj = wait_condition(groups, "web", "ACK.ResourceSynced", "True").await?;
    let web = id_of(&obj, "id");
    let g = group_in_aws(ec2, &web).await.unwrap();
    assert_eq!(g.vpc_id(), Some(vpc_id.as_str()));
    assert_eq!(
        rule_lines(g.ip_permissions()),
        vec![
            "-1 - ".to_owned() + &web,
            "tcp 443-443 10.60.0.0/16 vpc".to_owned()
        ]
    );
    assert!(
        g.ip_permissions_egress().is_empty(),
        "the default egress rule is revoked: {g:?}"
    );
    assert_eq!(obj["status"]["rules"].as_array().unwrap().len(), 2, "{obj}");
    wait_event(client, ns, "SecurityGroup", "web", "Created", &web).await?;
    Ok((vpc_id, web))
}

/// Update rule by rule, and drift.
async fn group_update_and_drift(c: &Case, web: &str) -> Result<()> {
    let web = web.to_owned();
    let Case {
        client,
        ns,
        ec2,
        groups,
        ..
    } = c;
    // Update: a port range changes (revoke, then authorize), a description changes in place,
    // egress is added.
    patch(
        groups,
        "web",
        json!({"spec": {"ingressRules": [
                  {"ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443,
                   "ipRanges": [{"cidrIP": "10.60.0.0/16", "description": "vpc"}]},
                  {"ipProtocol": "-1", "userIDGroupPairs": [{"description": "self"}]}],
               "egressRules": [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432,
                                "ipRanges": [{"cidrIP": "10.60.0.0/16"}]}]}}),
    )
    .await?;
    wait_for("rules updated", || async {
        let g = group_in_aws(ec2, &web).await;
        Ok(g.filter(|g| {
            rule_lines(g.ip_permissions())
                == [
                    "-1 - ".to_owned() + &web,
                    "tcp 8443-8443 10.60.0.0/16 vpc".to_owned(),
                ]
                && rule_lines(g.ip_permissions_egress()) == ["tcp 5432-5432 10.60.0.0/16 "]
        })
        .map(|_| ()))
    })
    .await?;
    let updated = wait_event(
        client,
        ns,
        "SecurityGroup",
        "web",
        "Updated",
        "RevokeSecurityGroupIngress",
    )
    .await?;
    assert!(
        updated.message.contains("AuthorizeSecurityGroupIngress"),
        "{}",
        updated.message
    );
    // A new description alone is changed in place.
    patch(
        groups,
        "web",
        json!({"spec": {"ingressRules": [
                  {"ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443,
                   "ipRanges": [{"cidrIP": "10.60.0.0/16", "description": "whole vpc"}]},
                  {"ipProtocol": "-1", "userIDGroupPairs": [{"description": "self"}]}]}}),
    )
    .await?;
    wait_event(
        client,
        ns,
        "SecurityGroup",
        "web",
        "Updated",
        "UpdateSecurityGroupRuleDescriptionsIngress",
    )
    .await?;
    let lines = rule_lines(group_in_aws(ec2, &web).await.unwrap().ip_permissions());
    assert_eq!(
        lines,
        vec![
            "-1 - ".to_owned() + &web,
            "tcp 8443-8443 10.60.0.0/16 whole vpc".to_owned()
        ]
    );

    // Drift: a rule added by hand is revoked at resync.
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await?;
    wait_for("hand-made rule revoked", || async {
        Ok(group_in_aws(ec2, &web)
            .await
            .filter(|g| {
                !rule_lines(g.ip_permissions())
                    .iter()
                    .any(|l| l.contains("22-22"))
            })
            .map(|_| ()))
    })
    .await?;
    Ok(())
}

/// References from a DBInstance and between groups, one terminal and one recoverable error.
async fn group_refs_and_errors(c: &Case, vpc_id: &str, web: &str) -> Result<(String, String)> {
    let vpc_id = vpc_id.to_owned();
    let web = web.to_owned();
    let Case {
        client,
        ns,
        ec2,
        groups,
        ..
    } = c;
    // DBInstance.vpcSecurityGroupRefs resolve to this SecurityGroup.
    db_instance_uses_the_group(client, ns, &web).await?;

    // groupRef cycle: app allows db and db allows app; each waits only for the other's id.
    let pair_rule = |port: u16, other: &str| {
        json!({"ipProtocol": "tcp", "fromPort": port, "toPort": port,
               "userIDGroupPairs": [{"groupRef": {"from": {"name": other}}}]})
    };
    let pair_group = |name: &str, port: u16, other: &str| {
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "SecurityGroup",
            "metadata": {"name": name},
            "spec": {"name": name, "description": name, "vpcID": vpc_id,
                     "ingressRules": [pair_rule(port, other)]}
        })
    };
    // app first: the group is created, its rule waits (not synced, saying which groupRef) until
    // db exists and has an id.
    create(groups, pair_group("app", 8080, "db")).await?;
    let waiting = wait_json(groups, "app", "the rule waiting for db's id", |o| {
        condition_is(o, "ACK.ResourceSynced", "False")
            && condition_message(o, "ACK.ResourceSynced").starts_with(
                "waiting for the id of the security groups named in \
                 spec.ingressRules[0].userIDGroupPairs[0].groupRef",
            )
    })
    .await?;
    let early = id_of(&waiting, "id");
    assert!(early.starts_with("sg-"), "the group exists: {waiting}");
    let early = group_in_aws(ec2, &early).await.unwrap();
    assert!(early.ip_permissions().is_empty(), "{early:?}");
    create(groups, pair_group("db", 5432, "app")).await?;
    let app = wait_condition(groups, "app", "ACK.ResourceSynced", "True").await?;
    let db = wait_condition(groups, "db", "ACK.ResourceSynced", "True").await?;
    let (app, db) = (id_of(&app, "id"), id_of(&db, "id"));
    assert_eq!(
        rule_lines(group_in_aws(ec2, &app).await.unwrap().ip_permissions()),
        vec![format!("tcp 8080-8080 {db}")]
    );
    assert_eq!(
        rule_lines(group_in_aws(ec2, &db).await.unwrap().ip_permissions()),
        vec![format!("tcp 5432-5432 {app}")]
    );

    // Terminal: a second group of the same name in the VPC.
    create(
        groups,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "SecurityGroup",
            "metadata": {"name": "web-again"},
            "spec": {"name": "web", "description": "dup", "vpcID": vpc_id}
        }),
    )
    .await?;
    let obj = wait_condition(groups, "web-again", "ACK.Terminal", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Terminal").contains("InvalidGroup.Duplicate"),
        "{obj}"
    );
    delete_and_wait(groups, "web-again").await?;

    // Recoverable: a rule naming a group that does not exist, retried until fixed.
    patch(
        groups,
        "app",
        json!({"spec": {"ingressRules": [{"ipProtocol": "tcp", "fromPort": 1, "toPort": 1,
                         "userIDGroupPairs": [{"groupID": "sg-00000000000000000"}]}]}}),
    )
    .await?;
    let obj = wait_condition(groups, "app", "ACK.Recoverable", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Recoverable").contains("InvalidGroup.NotFound"),
        "{obj}"
    );
    patch(
        groups,
        "app",
        json!({"spec": {"ingressRules": [pair_rule(8080, "db")]}}),
    )
    .await?;
    wait_condition(groups, "app", "ACK.ResourceSynced", "True").await?;
    Ok((app, db))
}

/// Adoption of a group made by hand, retained on delete.
async fn group_adopt_and_retain(c: &Case, vpc_id: &str) -> Result<()> {
    let vpc_id = vpc_id.to_owned();
    let Case { ec2, groups, .. } = c;
    // Adoption: a group made by hand, its rules become the spec; retained on delete.
    let made = ec2
        .create_security_group()
        .group_name("legacy")
        .description("by hand")
        .vpc_id(&vpc_id)
        .send()
        .await?;
    let existing = made.group_id().unwrap().to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&existing)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("udp")
                .from_port(53)
                .to_port(53)
                .ip_ranges(IpRange::builder().cidr_ip("10.60.0.0/16").build())
                .build(),
        )
        .send()
        .await?;
    create(
        groups,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "SecurityGroup",
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"id\": \"{existing}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {"name": "legacy", "description": "by hand"}
        }),
    )
    .await?;
    let obj = wait_json(groups, "legacy", "adopted", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && o["spec"]["ingressRules"].is_array()
    })
    .await?;
    assert_eq!(
        obj["spec"]["ingressRules"],
        json!([{"ipProtocol": "udp", "fromPort": 53, "toPort": 53, "ipRanges": [{"cidrIP": "10.60.0.0/16"}]}])
    );
    // The default egress rule EC2 gave the hand-made group is AWS's state: adopted, kept.
    assert_eq!(obj["spec"]["egressRules"][0]["ipProtocol"], "-1");
    assert!(
        !rule_lines(
            group_in_aws(ec2, &existing)
                .await
                .unwrap()
                .ip_permissions_egress()
        )
        .is_empty()
    );
    delete_and_wait(groups, "legacy").await?;
    assert!(
        group_in_aws(ec2, &existing).await.is_some(),
        "a retained group survives"
    );
    ec2.delete_security_group()
        .group_id(&existing)
        .send()
        .await?;
    Ok(())
}

/// Delete: each group revokes its own rules first.
async fn group_delete(c: &Case, web: &str, app: &str, db: &str) -> Result<()> {
    let web = web.to_owned();
    let app = app.to_owned();
    let db = db.to_owned();
    let Case {
        ec2, vpcs, groups, ..
    } = c;
    // Delete: each group revokes its own rules first, so the cycle comes apart (on AWS one of
    // them waits, DependencyViolation, until the other's rules are gone).
    groups.delete("app", &Default::default()).await?;
    groups.delete("db", &Default::default()).await?;
    crate::support::wait_gone(groups, "app").await?;
    crate::support::wait_gone(groups, "db").await?;
    assert!(group_in_aws(ec2, &app).await.is_none());
    delete_and_wait(groups, "web").await?;
    assert!(group_in_aws(ec2, &web).await.is_none() && group_in_aws(ec2, &db).await.is_none());
    delete_and_wait(vpcs, "net").await?;
    Ok(())
}

/// A DBInstance whose `vpcSecurityGroupRefs` name the kro-rs SecurityGroup `web` gets its id.
async fn db_instance_uses_the_group(client: &Client, ns: &str, web: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::Secret;
    use kro_aws::rds::db_instance::DBInstance;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password"},
               "stringData": {"password": "not-a-real-secret-1"}}),
    )
    .await?;
    let instances: Api<DBInstance> = Api::namespaced(client.clone(), ns);
    let id = kro_e2e::unique_name("kro-ec2-db").to_ascii_lowercase();
    create(
        &instances,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance",
            "metadata": {"name": "app-db"},
            "spec": {"dbInstanceIdentifier": id, "dbInstanceClass": "db.t3.micro",
                     "engine": "postgres", "allocatedStorage": 20, "masterUsername": "app",
                     "masterUserPassword": {"name": "db-password", "key": "password"},
                     "vpcSecurityGroupRefs": [{"from": {"name": "web"}}]}
        }),
    )
    .await?;
    let obj = wait_condition(&instances, "app-db", "ACK.ResourceSynced", "True").await?;
    assert_eq!(
        obj["status"]["vpcSecurityGroups"][0]["vpcSecurityGroupID"],
        json!(web),
        "{obj}"
    );
    delete_and_wait(&instances, "app-db").await?;
    Ok(())
}

async fn table_in_aws(ec2: &sdk::Client, id: &str) -> Option<sdk::types::RouteTable> {
    ec2.describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.route_tables().first().cloned())
}

fn route_lines(t: &sdk::types::RouteTable) -> Vec<String> {
    let mut out: Vec<String> = t
        .routes()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.destination_cidr_block().unwrap_or_default(),
                r.gateway_id().or(r.nat_gateway_id()).unwrap_or_default()
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn internet_gateway_and_route_table_with_refs() -> Result<()> {
    let (c, controllers) = case("aws-rt").await?;
    let (vpc_id, igw, rt) = table_waits_then_routes(&c).await?;
    ec2_tag_updates(&c.tables, "public", &c.ec2, &rt, &[("tier", "public")]).await?;
    ec2_tag_updates(&c.gateways, "igw", &c.ec2, &igw, &[]).await?;
    table_updates_and_errors(&c, &igw, &rt).await?;
    table_terminal_from_ec2(&c).await?;
    gateway_waits_for_its_vpc(&c).await?;
    gateway_attachment(&c, &vpc_id, &igw).await?;
    gateway_route_tables(&c, &igw).await?;
    gateway_and_table_adopted(&c, &vpc_id, &igw).await?;
    table_and_gateway_deleted(&c, &igw, &rt).await?;
    controllers.stop().await;
    Ok(())
}

/// The route table waits for its VPC and gateway; a subnet joins it. Returns (vpc, igw, rtb).
async fn table_waits_then_routes(c: &Case) -> Result<(String, String, String)> {
    let Case {
        client,
        ns,
        ec2,
        vpcs,
        subnets,
        gateways,
        tables,
        ..
    } = c;
    // The route table names a gateway that does not exist yet: it waits for it.
    create(
        tables,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "RouteTable",
            "metadata": {"name": "public"},
            "spec": {"vpcRef": {"from": {"name": "net"}},
                     "routes": [{"destinationCIDRBlock": "0.0.0.0/0", "gatewayRef": {"from": {"name": "igw"}}}],
                     "tags": [{"key": "tier", "value": "public"}]}
        }),
    )
    .await?;
    let vpc_id = synced_vpc(vpcs, "net", "10.70.0.0/16").await?;
    wait_json(tables, "public", "waiting for the gateway", |o| {
        condition_is(o, "ACK.ReferencesResolved", "Unknown")
            && condition_message(o, "ACK.ReferencesResolved")
                .starts_with("spec.routes[0].gatewayRef: InternetGateway")
    })
    .await?;
    create(
        gateways,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "InternetGateway",
            "metadata": {"name": "igw"},
            "spec": {"vpcRef": {"from": {"name": "net"}}}
        }),
    )
    .await?;
    let gw = wait_condition(gateways, "igw", "ACK.ResourceSynced", "True").await?;
    let igw = id_of(&gw, "internetGatewayID");
    assert_eq!(gw["status"]["attachments"][0]["vpcID"], json!(vpc_id));
    let obj = wait_condition(tables, "public", "ACK.ResourceSynced", "True").await?;
    let rt = id_of(&obj, "routeTableID");
    let t = table_in_aws(ec2, &rt).await.unwrap();
    assert_eq!(
        route_lines(&t),
        vec![format!("0.0.0.0/0 {igw}"), "10.70.0.0/16 local".to_owned()]
    );
    assert!(
        obj["status"]["routeStatuses"]
            .as_array()
            .is_some_and(|r| r.len() == 2),
        "{obj}"
    );
    wait_event(client, ns, "RouteTable", "public", "Created", &rt).await?;

    // A subnet joins the table through routeTableRefs.
    create(
        subnets,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "Subnet",
            "metadata": {"name": "edge"},
            "spec": {"vpcRef": {"from": {"name": "net"}}, "cidrBlock": "10.70.1.0/24",
                     "routeTableRefs": [{"from": {"name": "public"}}]}
        }),
    )
    .await?;
    let s = wait_condition(subnets, "edge", "ACK.ResourceSynced", "True").await?;
    let subnet_id = id_of(&s, "subnetID");
    let t = table_in_aws(ec2, &rt).await.unwrap();
    assert!(
        t.associations()
            .iter()
            .any(|a| a.subnet_id() == Some(subnet_id.as_str())),
        "{t:?}"
    );
    Ok((vpc_id, igw, rt))
}

/// Routes updated, drift undone, one terminal and one recoverable error.
async fn table_updates_and_errors(c: &Case, igw: &str, rt: &str) -> Result<()> {
    let igw = igw.to_owned();
    let rt = rt.to_owned();
    let Case { ec2, tables, .. } = c;
    // Update: a route is added with a literal gateway id; drift: a route deleted by hand comes back.
    patch(
        tables,
        "public",
        json!({"spec": {"routes": [
            {"destinationCIDRBlock": "0.0.0.0/0", "gatewayRef": {"from": {"name": "igw"}}},
            {"destinationCIDRBlock": "192.168.0.0/16", "gatewayID": igw}]}}),
    )
    .await?;
    wait_for("route added", || async {
        Ok(table_in_aws(ec2, &rt)
            .await
            .filter(|t| route_lines(t).contains(&format!("192.168.0.0/16 {igw}")))
            .map(|_| ()))
    })
    .await?;
    ec2.delete_route()
        .route_table_id(&rt)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await?;
    wait_for("deleted route recreated", || async {
        Ok(table_in_aws(ec2, &rt)
            .await
            .filter(|t| route_lines(t).contains(&format!("0.0.0.0/0 {igw}")))
            .map(|_| ()))
    })
    .await?;

    // Terminal: a route with two targets names the field. Recoverable: a gateway that does not
    // exist is retried.
    patch(
        tables,
        "public",
        json!({"spec": {"routes": [{"destinationCIDRBlock": "0.0.0.0/0", "gatewayID": igw, "natGatewayID": "nat-1"}]}}),
    )
    .await?;
    let obj = wait_condition(tables, "public", "ACK.Terminal", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Terminal").starts_with("spec.routes[0] has 2 targets"),
        "{obj}"
    );
    patch(
        tables,
        "public",
        json!({"spec": {"routes": [{"destinationCIDRBlock": "0.0.0.0/0", "gatewayID": "igw-00000000000000000"}]}}),
    )
    .await?;
    let obj = wait_condition(tables, "public", "ACK.Recoverable", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Recoverable").starts_with("ReplaceRoute: "),
        "{obj}"
    );
    patch(
        tables,
        "public",
        json!({"spec": {"routes": [{"destinationCIDRBlock": "0.0.0.0/0", "gatewayRef": {"from": {"name": "igw"}}}]}}),
    )
    .await?;
    wait_for("routes back to the spec", || async {
        Ok(table_in_aws(ec2, &rt)
            .await
            .filter(|t| {
                route_lines(t) == [format!("0.0.0.0/0 {igw}"), "10.70.0.0/16 local".to_owned()]
            })
            .map(|_| ()))
    })
    .await?;
    Ok(())
}

/// The gateway's attachment follows its spec.
async fn gateway_attachment(c: &Case, vpc_id: &str, igw: &str) -> Result<()> {
    let vpc_id = vpc_id.to_owned();
    let igw = igw.to_owned();
    let Case { ec2, gateways, .. } = c;
    // Gateway: detached when spec.vpcRef goes; drift (attached by hand) undone; terminal: a VPC
    // that does not exist.
    patch(gateways, "igw", json!({"spec": {"vpcRef": null}})).await?;
    wait_json(gateways, "igw", "detached", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && o["status"]["attachments"] == json!([])
    })
    .await?;
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc_id)
        .send()
        .await?;
    wait_for("hand attachment undone", || async {
        let out = ec2
            .describe_internet_gateways()
            .internet_gateway_ids(&igw)
            .send()
            .await?;
        Ok(out.internet_gateways()[0]
            .attachments()
            .is_empty()
            .then_some(()))
    })
    .await?;
    patch(
        gateways,
        "igw",
        json!({"spec": {"vpc": "vpc-00000000000000000"}}),
    )
    .await?;
    let obj = wait_condition(gateways, "igw", "ACK.Terminal", "True").await?;
    assert!(
        condition_message(&obj, "ACK.Terminal")
            .contains("AttachInternetGateway: InvalidVpcID.NotFound"),
        "{obj}"
    );
    patch(
        gateways,
        "igw",
        json!({"spec": {"vpc": null, "vpcRef": {"from": {"name": "net"}}}}),
    )
    .await?;
    wait_json(gateways, "igw", "attached again", |o| {
        condition_is(o, "ACK.ResourceSynced", "True")
            && o["status"]["attachments"][0]["vpcID"] == json!(vpc_id)
    })
    .await?;
    Ok(())
}

/// Terminal from EC2 itself: a table in a VPC EC2 does not know (CreateRouteTable answers
/// InvalidVpcID.NotFound); nothing is created and no finalizer is kept.
async fn table_terminal_from_ec2(c: &Case) -> Result<()> {
    let Case { tables, .. } = c;
    create(
        tables,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "RouteTable",
            "metadata": {"name": "nowhere"},
            "spec": {"vpcID": "vpc-00000000000000000"}
        }),
    )
    .await?;
    let obj = wait_condition(tables, "nowhere", "ACK.Terminal", "True").await?;
    let msg = condition_message(&obj, "ACK.Terminal");
    assert!(
        msg.contains("CreateRouteTable: InvalidVpcID.NotFound"),
        "{msg}"
    );
    assert!(obj["status"].get("routeTableID").is_none(), "{obj}");
    assert!(
        obj["metadata"]
            .get("finalizers")
            .is_none_or(|f| f == &json!([])),
        "{obj}"
    );
    delete_and_wait(tables, "nowhere").await?;
    Ok(())
}

/// A gateway whose `vpcRef` names a VPC that does not exist yet waits, with nothing created,
/// then is created and attached once the VPC is.
async fn gateway_waits_for_its_vpc(c: &Case) -> Result<()> {
    let Case {
        ec2,
        vpcs,
        gateways,
        ..
    } = c;
    create(
        gateways,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "InternetGateway",
            "metadata": {"name": "late"},
            "spec": {"vpcRef": {"from": {"name": "net-late"}}}
        }),
    )
    .await?;
    let obj = wait_condition(gateways, "late", "ACK.ReferencesResolved", "Unknown").await?;
    let msg = condition_message(&obj, "ACK.ReferencesResolved");
    assert!(
        msg.starts_with("spec.vpcRef: VPC") && msg.ends_with("/net-late does not exist yet"),
        "{msg}"
    );
    assert!(obj["status"].get("internetGatewayID").is_none(), "{obj}");
    let vpc_id = synced_vpc(vpcs, "net-late", "10.71.0.0/16").await?;
    let obj = wait_condition(gateways, "late", "ACK.ResourceSynced", "True").await?;
    assert!(
        condition_is(&obj, "ACK.ReferencesResolved", "True"),
        "{obj}"
    );
    let igw = id_of(&obj, "internetGatewayID");
    let out = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&igw)
        .send()
        .await?;
    let attached: Vec<&str> = out.internet_gateways()[0]
        .attachments()
        .iter()
        .filter_map(|a| a.vpc_id())
        .collect();
    assert_eq!(attached, [vpc_id.as_str()]);
    delete_and_wait(gateways, "late").await?;
    delete_and_wait(vpcs, "net-late").await?;
    Ok(())
}

/// The gateway's edge associations follow `routeTables` and `routeTableRefs`. Recoverable: a
/// route table EC2 does not know (InvalidRouteTableID.NotFound), retried until the spec names
/// one it does.
async fn gateway_route_tables(c: &Case, igw: &str) -> Result<()> {
    let igw = igw.to_owned();
    let Case {
        ec2,
        gateways,
        tables,
        ..
    } = c;
    create(
        tables,
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": "RouteTable",
            "metadata": {"name": "ingress"},
            "spec": {"vpcRef": {"from": {"name": "net"}}}
        }),
    )
    .await?;
    let obj = wait_condition(tables, "ingress", "ACK.ResourceSynced", "True").await?;
    let rt = id_of(&obj, "routeTableID");
    patch(
        gateways,
        "igw",
        json!({"spec": {"routeTables": ["rtb-00000000000000000"]}}),
    )
    .await?;
    let obj = wait_condition(gateways, "igw", "ACK.Recoverable", "True").await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert!(
        msg.starts_with("AssociateRouteTable: InvalidRouteTableID.NotFound"),
        "{msg}"
    );
    patch(
        gateways,
        "igw",
        json!({"spec": {"routeTables": null, "routeTableRefs": [{"from": {"name": "ingress"}}]}}),
    )
    .await?;
    wait_for("the edge association made", || async {
        Ok(table_in_aws(ec2, &rt)
            .await
            .filter(|t| {
                t.associations()
                    .iter()
                    .any(|a| a.gateway_id() == Some(igw.as_str()))
            })
            .map(|_| ()))
    })
    .await?;
    wait_json(gateways, "igw", "recovered", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && !condition_is(o, "ACK.Recoverable", "True")
    })
    .await?;
    // An empty list: no edge association.
    patch(
        gateways,
        "igw",
        json!({"spec": {"routeTableRefs": null, "routeTables": []}}),
    )
    .await?;
    wait_for("the edge association gone", || async {
        Ok(table_in_aws(ec2, &rt)
            .await
            .filter(|t| t.associations().is_empty())
            .map(|_| ()))
    })
    .await?;
    delete_and_wait(tables, "ingress").await?;
    Ok(())
}

/// Adoption of a gateway and a table made by hand, retained on delete.
async fn gateway_and_table_adopted(c: &Case, vpc_id: &str, igw: &str) -> Result<()> {
    let vpc_id = vpc_id.to_owned();
    let igw = igw.to_owned();
    let Case {
        ec2,
        gateways,
        tables,
        ..
    } = c;
    // Adoption (gateway and table made by hand), retained on delete.
    let made = ec2.create_internet_gateway().send().await?;
    let hand_igw = made
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap()
        .to_owned();
    let made = ec2.create_route_table().vpc_id(&vpc_id).send().await?;
    let hand_rt = made
        .route_table()
        .and_then(|t| t.route_table_id())
        .unwrap()
        .to_owned();
    ec2.create_route()
        .route_table_id(&hand_rt)
        .destination_cidr_block("172.16.0.0/12")
        .gateway_id(&igw)
        .send()
        .await?;
    let adopt = |kind: &str, key: &str, id: &str| {
        json!({
            "apiVersion": "ec2.services.k8s.aws/v1alpha1", "kind": kind,
            "metadata": {"name": "legacy", "annotations": {
                "services.k8s.aws/adoption-policy": "adopt",
                "services.k8s.aws/adoption-fields": format!("{{\"{key}\": \"{id}\"}}"),
                "services.k8s.aws/deletion-policy": "retain"
            }},
            "spec": {}
        })
    };
    create(
        gateways,
        adopt("InternetGateway", "internetGatewayID", &hand_igw),
    )
    .await?;
    create(tables, adopt("RouteTable", "routeTableID", &hand_rt)).await?;
    wait_condition(gateways, "legacy", "ACK.ResourceSynced", "True").await?;
    let obj = wait_json(tables, "legacy", "adopted", |o| {
        condition_is(o, "ACK.ResourceSynced", "True") && o["spec"]["routes"].is_array()
    })
    .await?;
    assert_eq!(
        obj["spec"]["routes"],
        json!([{"destinationCIDRBlock": "172.16.0.0/12", "gatewayID": igw}])
    );
    assert_eq!(obj["spec"]["vpcID"], json!(vpc_id));
    delete_and_wait(tables, "legacy").await?;
    delete_and_wait(gateways, "legacy").await?;
    assert!(
        table_in_aws(ec2, &hand_rt).await.is_some(),
        "a retained table survives"
    );
    ec2.delete_route_table()
        .route_table_id(&hand_rt)
        .send()
        .await?;
    ec2.delete_internet_gateway()
        .internet_gateway_id(&hand_igw)
        .send()
        .await?;
    Ok(())
}

/// Delete in dependency order: the gateway detaches itself before it goes.
async fn table_and_gateway_deleted(c: &Case, igw: &str, rt: &str) -> Result<()> {
    let igw = igw.to_owned();
    let rt = rt.to_owned();
    let Case {
        ec2,
        vpcs,
        subnets,
        gateways,
        tables,
        ..
    } = c;
    // Delete in dependency order: the gateway detaches itself before it goes.
    delete_and_wait(subnets, "edge").await?;
    delete_and_wait(tables, "public").await?;
    assert!(table_in_aws(ec2, &rt).await.is_none());
    delete_and_wait(gateways, "igw").await?;
    let gone = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&igw)
        .send()
        .await;
    assert!(gone.is_err(), "gateway {igw} still exists");
    delete_and_wait(vpcs, "net").await?;
    Ok(())
}

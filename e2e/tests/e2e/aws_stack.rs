//! The shipped `examples/aws-stack` RGD and instance, read from disk, on the local control plane
//! and moto with only kro-rs running (the kro controllers and the AWS controllers in-process): a
//! VPC with two private subnets, the app's and the database's security groups, a DB subnet group
//! and DB instance, a bucket, an IAM role and policy, and the app's ServiceAccount, Deployment and
//! Service. The instance goes ACTIVE; every AWS resource is checked in moto with the SDK and the
//! app's objects carry the values CEL wired; deleting the instance leaves nothing behind, in moto
//! or in the cluster.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use kro_aws::ec2::sdk as ec2;
use kro_aws::iam::document;
use kro_aws::iam::sdk as iam;
use kube::Client;
use serde_json::{Value, json};

use crate::support::aws::{self, synced};
use crate::support::operator::{
    KRO_API, Operator, example_instance, example_rgd, make_deployment_ready, wait_rgd_active,
};
use crate::support::{apply, get, wait_object, wait_object_gone, wait_state};

/// The instance's name in `instance.yaml`, and so the name of its Kubernetes objects.
const APP: &str = "shop";
/// The Secret the instance names for the master password.
const PASSWORD_SECRET: &str = "shop-db-master";

/// Every child the RGD creates (apiVersion, kind, name), in its topological order.
const CHILDREN: &[(&str, &str, &str)] = &[
    ("ec2.services.k8s.aws/v1alpha1", "VPC", "shop"),
    ("ec2.services.k8s.aws/v1alpha1", "Subnet", "shop-a"),
    ("ec2.services.k8s.aws/v1alpha1", "Subnet", "shop-b"),
    ("ec2.services.k8s.aws/v1alpha1", "SecurityGroup", "shop-app"),
    ("ec2.services.k8s.aws/v1alpha1", "SecurityGroup", "shop-db"),
    ("rds.services.k8s.aws/v1alpha1", "DBSubnetGroup", "shop"),
    ("rds.services.k8s.aws/v1alpha1", "DBInstance", "shop"),
    ("s3.services.k8s.aws/v1alpha1", "Bucket", "shop"),
    ("iam.services.k8s.aws/v1alpha1", "Policy", "shop-bucket"),
    ("iam.services.k8s.aws/v1alpha1", "Role", "shop"),
    ("v1", "ServiceAccount", "shop"),
    ("apps/v1", "Deployment", "shop"),
    ("v1", "Service", "shop"),
];

/// What the test learned of the stack while it ran: the AWS identifiers to look for afterwards.
struct Stack {
    client: Client,
    ns: String,
    /// `<namespace>-shop`: the name of the account-wide AWS resources, and the `app` tag.
    base: String,
    vpc: String,
    subnets: Vec<String>,
    app_group: String,
    db_group: String,
    bucket_arn: String,
    role_arn: String,
    policy_arn: String,
}

impl Stack {
    /// A child of the instance, which must exist.
    async fn child(&self, api_version: &str, kind: &str, name: &str) -> Result<Value> {
        get(&self.client, api_version, kind, Some(&self.ns), name)
            .await?
            .with_context(|| format!("the {kind} {name} of the instance"))
    }

    /// A string the AWS controllers wrote in a child's status (an id, an ARN).
    async fn status(&self, api_version: &str, kind: &str, name: &str, at: &str) -> Result<String> {
        let obj = self.child(api_version, kind, name).await?;
        obj.pointer(at)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("{at} of {kind} {name}: {obj}"))
    }
}

#[tokio::test]
async fn aws_stack_example_builds_network_database_bucket_role_and_app_then_leaves_nothing()
-> Result<()> {
    let (client, ns, controllers) = aws::setup("aws-stack").await?;
    let op = Operator::start(client.clone());

    let stack = stack_goes_active(client, ns, &op).await?;
    network_in_aws(&stack).await?;
    database_in_aws(&stack).await?;
    bucket_role_and_policy_in_aws(&stack).await?;
    app_is_wired(&stack).await?;
    delete_leaves_nothing(&stack).await?;

    op.stop().await?;
    controllers.stop().await;
    Ok(())
}

/// Applies the example RGD and instance (the password Secret first, as its README says), waits
/// for every AWS child to sync and for the instance to be ACTIVE, and records the identifiers.
async fn stack_goes_active(client: Client, ns: String, op: &Operator) -> Result<Stack> {
    apply(&client, &example_rgd("aws-stack/rgd.yaml", op)?).await?;
    let rgd = wait_rgd_active(&client, "aws-stack").await?;
    assert_eq!(
        rgd["status"]["topologicalOrder"].as_array().map(Vec::len),
        Some(CHILDREN.len()),
        "{rgd}"
    );
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": PASSWORD_SECRET, "namespace": ns},
                "stringData": {"password": "not-a-real-password-18"}}),
    )
    .await?;
    apply(
        &client,
        &example_instance("aws-stack/instance.yaml", &ns, json!({}))?,
    )
    .await?;

    // Each AWS child syncs in the graph's order (each wait has its own deadline); the app comes
    // last: it needs the database's endpoint and the role's ARN.
    for (api_version, kind, name) in &CHILDREN[..10] {
        wait_object(&client, api_version, kind, Some(&ns), name, synced).await?;
    }
    make_deployment_ready(&client, &ns, APP).await?;
    let done = wait_state(&client, KRO_API, "AppStack", Some(&ns), APP, "ACTIVE").await?;
    let base = format!("{ns}-{APP}");
    let mut stack = Stack {
        client,
        ns,
        base,
        vpc: String::new(),
        subnets: Vec::new(),
        app_group: String::new(),
        db_group: String::new(),
        bucket_arn: String::new(),
        role_arn: String::new(),
        policy_arn: String::new(),
    };
    let (ec2_api, iam_api) = (
        "ec2.services.k8s.aws/v1alpha1",
        "iam.services.k8s.aws/v1alpha1",
    );
    let arn = "/status/ackResourceMetadata/arn";
    stack.vpc = stack.status(ec2_api, "VPC", APP, "/status/vpcID").await?;
    for name in ["shop-a", "shop-b"] {
        let subnet = stack
            .status(ec2_api, "Subnet", name, "/status/subnetID")
            .await?;
        stack.subnets.push(subnet);
    }
    stack.app_group = stack
        .status(ec2_api, "SecurityGroup", "shop-app", "/status/id")
        .await?;
    stack.db_group = stack
        .status(ec2_api, "SecurityGroup", "shop-db", "/status/id")
        .await?;
    let s3_api = "s3.services.k8s.aws/v1alpha1";
    stack.bucket_arn = stack.status(s3_api, "Bucket", APP, arn).await?;
    stack.role_arn = stack.status(iam_api, "Role", APP, arn).await?;
    stack.policy_arn = stack.status(iam_api, "Policy", "shop-bucket", arn).await?;

    assert_eq!(done["status"]["vpcID"], json!(stack.vpc), "{done}");
    assert_eq!(done["status"]["roleARN"], json!(stack.role_arn), "{done}");
    assert_eq!(
        done["status"]["bucketName"],
        json!(format!("{}-assets", stack.base)),
        "{done}"
    );
    assert_eq!(
        stack.bucket_arn,
        format!("arn:aws:s3:::{}-assets", stack.base)
    );
    Ok(stack)
}

async fn ec2_client() -> ec2::Client {
    ec2::Client::new(&kro_e2e::aws_config().await)
}

async fn iam_client() -> iam::Client {
    iam::Client::new(&kro_e2e::aws_config().await)
}

/// The `tag:app` filter every EC2 resource of the stack matches.
fn app_tag(stack: &Stack) -> ec2::types::Filter {
    ec2::types::Filter::builder()
        .name("tag:app")
        .values(&stack.base)
        .build()
}

/// The VPC's block, each subnet's block and zone, and the database's group admitting the
/// database port from the app's group only.
async fn network_in_aws(stack: &Stack) -> Result<()> {
    let ec2 = ec2_client().await;
    let vpcs = ec2.describe_vpcs().filters(app_tag(stack)).send().await?;
    let [vpc] = vpcs.vpcs() else {
        anyhow::bail!("one VPC tagged app={}: {vpcs:?}", stack.base)
    };
    assert_eq!(vpc.vpc_id(), Some(stack.vpc.as_str()));
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));

    let subnets = ec2
        .describe_subnets()
        .filters(app_tag(stack))
        .send()
        .await?;
    let mut placed: Vec<(String, String, String)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            assert_eq!(s.vpc_id(), Some(stack.vpc.as_str()), "{s:?}");
            assert_eq!(s.map_public_ip_on_launch(), Some(false), "private: {s:?}");
            (
                s.subnet_id().unwrap_or_default().to_owned(),
                s.cidr_block().unwrap_or_default().to_owned(),
                s.availability_zone().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    placed.sort();
    let mut want = vec![
        (
            stack.subnets[0].clone(),
            "10.0.1.0/24".into(),
            "us-west-2a".into(),
        ),
        (
            stack.subnets[1].clone(),
            "10.0.2.0/24".into(),
            "us-west-2b".into(),
        ),
    ];
    want.sort();
    assert_eq!(placed, want);

    let groups = ec2
        .describe_security_groups()
        .group_ids(&stack.db_group)
        .send()
        .await?;
    let db = groups.security_groups().first().context("the db group")?;
    assert_eq!(db.vpc_id(), Some(stack.vpc.as_str()));
    let [rule] = db.ip_permissions() else {
        anyhow::bail!("one ingress rule on the db group: {db:?}")
    };
    assert_eq!(
        (rule.ip_protocol(), rule.from_port(), rule.to_port()),
        (Some("tcp"), Some(5432), Some(5432)),
        "{rule:?}"
    );
    let sources: Vec<&str> = rule
        .user_id_group_pairs()
        .iter()
        .filter_map(|p| p.group_id())
        .collect();
    assert_eq!(sources, [stack.app_group.as_str()], "{rule:?}");
    assert!(
        rule.ip_ranges().is_empty() && rule.ipv6_ranges().is_empty(),
        "from the app's group only: {rule:?}"
    );
    assert!(db.ip_permissions_egress().is_empty(), "{db:?}");
    Ok(())
}

/// The subnet group holds the two subnets; the DB instance is in it, with the db group.
async fn database_in_aws(stack: &Stack) -> Result<()> {
    let rds = kro_e2e::rds_client().await;
    let groups = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&stack.base)
        .send()
        .await?;
    let group = groups
        .db_subnet_groups()
        .first()
        .context("the subnet group")?;
    let members: BTreeSet<&str> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    let want: BTreeSet<&str> = stack.subnets.iter().map(String::as_str).collect();
    assert_eq!(members, want, "{group:?}");
    assert_eq!(group.vpc_id(), Some(stack.vpc.as_str()), "{group:?}");

    let dbs = rds
        .describe_db_instances()
        .db_instance_identifier(&stack.base)
        .send()
        .await?;
    let db = dbs.db_instances().first().context("the DB instance")?;
    let sgs: Vec<&str> = db
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(sgs, [stack.db_group.as_str()], "{db:?}");
    assert_eq!(
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
        Some(stack.base.as_str())
    );
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.publicly_accessible(), Some(false));
    Ok(())
}

/// The bucket exists; the role trusts the app's ServiceAccount only and has the policy, whose
/// document names the bucket's ARN and its objects, nothing else.
async fn bucket_role_and_policy_in_aws(stack: &Stack) -> Result<()> {
    let s3 = kro_e2e::s3_client().await;
    s3.head_bucket()
        .bucket(format!("{}-assets", stack.base))
        .send()
        .await
        .context("the bucket in S3")?;

    let iam = iam_client().await;
    let role = iam.get_role().role_name(&stack.base).send().await?;
    let role = role.role().context("the role")?;
    assert_eq!(role.arn(), stack.role_arn);
    let trust: Value = serde_json::from_str(&document::decode(
        role.assume_role_policy_document().context("trust policy")?,
    ))?;
    let statement = &trust["Statement"][0];
    assert_eq!(
        statement["Action"], "sts:AssumeRoleWithWebIdentity",
        "{trust}"
    );
    let provider = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    assert_eq!(
        statement["Principal"]["Federated"],
        json!(format!(
            "arn:aws:iam::111122223333:oidc-provider/{provider}"
        )),
        "{trust}"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"][format!("{provider}:sub")],
        json!(format!("system:serviceaccount:{}:{APP}", stack.ns)),
        "{trust}"
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(&stack.base)
        .send()
        .await?;
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, [stack.policy_arn.as_str()]);

    let policy = iam
        .get_policy()
        .policy_arn(&stack.policy_arn)
        .send()
        .await?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .context("default version")?;
    let v = iam
        .get_policy_version()
        .policy_arn(&stack.policy_arn)
        .version_id(version)
        .send()
        .await?;
    let text = v
        .policy_version()
        .and_then(|v| v.document())
        .context("policy document")?;
    let doc: Value = serde_json::from_str(&document::decode(text))?;
    let resources: BTreeSet<&str> = doc["Statement"]
        .as_array()
        .context("statements")?
        .iter()
        .map(|s| s["Resource"].as_str().unwrap_or("<not one string>"))
        .collect();
    let objects = format!("{}/*", stack.bucket_arn);
    assert_eq!(
        resources,
        BTreeSet::from([stack.bucket_arn.as_str(), objects.as_str()]),
        "{doc}"
    );
    Ok(())
}

/// The ServiceAccount carries the role's ARN; the Deployment runs as it, with the database's
/// endpoint, the password from the instance's Secret and the bucket's name; the Service targets
/// the app's port.
async fn app_is_wired(stack: &Stack) -> Result<()> {
    let sa = stack.child("v1", "ServiceAccount", APP).await?;
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        json!(stack.role_arn),
        "{sa}"
    );
    let db = stack
        .child("rds.services.k8s.aws/v1alpha1", "DBInstance", APP)
        .await?;
    let host = db["status"]["endpoint"]["address"]
        .as_str()
        .context("endpoint address")?;
    assert!(host.starts_with(&format!("{}.", stack.base)), "{host}");

    let deployment = stack.child("apps/v1", "Deployment", APP).await?;
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], APP, "{pod}");
    let env: Vec<(String, Value)> = pod["containers"][0]["env"]
        .as_array()
        .context("env")?
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap_or_default().to_owned();
            let value = e
                .get("value")
                .cloned()
                .unwrap_or_else(|| e["valueFrom"].clone());
            (name, value)
        })
        .collect();
    let password = json!({"secretKeyRef": {"name": PASSWORD_SECRET, "key": "password"}});
    let want: Vec<(String, Value)> = [
        ("DB_HOST", json!(host)),
        ("DB_PORT", json!("5432")),
        ("DB_NAME", json!("app")),
        ("DB_USER", json!("app")),
        ("DB_PASSWORD", password),
        ("BUCKET_NAME", json!(format!("{}-assets", stack.base))),
        ("AWS_REGION", json!("us-west-2")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(env, want);

    let service = stack.child("v1", "Service", APP).await?;
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 80, "{service}");
    assert_eq!(
        service["spec"]["selector"],
        json!({"app": APP}),
        "{service}"
    );
    Ok(())
}

/// Deletes the instance; once it is gone, none of its children is left in the cluster and
/// nothing of the stack is left in moto.
async fn delete_leaves_nothing(stack: &Stack) -> Result<()> {
    let client = &stack.client;
    let ns = Some(stack.ns.as_str());
    crate::support::delete(client, KRO_API, "AppStack", ns, APP).await?;
    // Children go in reverse topological waves, the AWS ones once their resource is deleted:
    // one wait (and deadline) per child, then the instance itself.
    for (api_version, kind, name) in CHILDREN.iter().rev() {
        wait_object_gone(client, api_version, kind, ns, name).await?;
    }
    wait_object_gone(client, KRO_API, "AppStack", ns, APP).await?;
    for (api_version, kind, name) in CHILDREN {
        let left = get(client, api_version, kind, ns, name).await?;
        assert!(left.is_none(), "{kind} {name} is left: {left:?}");
    }
    ec2_left(stack).await?;

    let rds = kro_e2e::rds_client().await;
    let db = rds
        .describe_db_instances()
        .db_instance_identifier(&stack.base)
        .send()
        .await;
    assert!(db.is_err(), "the DB instance is left: {db:?}");
    let group = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&stack.base)
        .send()
        .await;
    assert!(group.is_err(), "the DB subnet group is left: {group:?}");

    let s3 = kro_e2e::s3_client().await;
    let bucket = s3
        .head_bucket()
        .bucket(format!("{}-assets", stack.base))
        .send()
        .await;
    assert!(bucket.is_err(), "the bucket is left");

    let iam = iam_client().await;
    let role = iam.get_role().role_name(&stack.base).send().await;
    assert!(role.is_err(), "the role is left: {role:?}");
    let policy = iam.get_policy().policy_arn(&stack.policy_arn).send().await;
    assert!(policy.is_err(), "the policy is left: {policy:?}");
    Ok(())
}

/// No VPC, subnet or security group of the stack is left in EC2, by tag or by id.
async fn ec2_left(stack: &Stack) -> Result<()> {
    let ec2 = ec2_client().await;
    let vpcs = ec2.describe_vpcs().filters(app_tag(stack)).send().await?;
    assert!(vpcs.vpcs().is_empty(), "VPCs left: {vpcs:?}");
    let subnets = ec2
        .describe_subnets()
        .filters(app_tag(stack))
        .send()
        .await?;
    assert!(subnets.subnets().is_empty(), "subnets left: {subnets:?}");
    let groups = ec2
        .describe_security_groups()
        .filters(app_tag(stack))
        .send()
        .await?;
    assert!(
        groups.security_groups().is_empty(),
        "security groups left: {groups:?}"
    );
    // By id too: a resource that lost its tags would not be found above.
    let by_id = ec2.describe_vpcs().vpc_ids(&stack.vpc).send().await;
    assert!(
        by_id.as_ref().map_or(true, |o| o.vpcs().is_empty()),
        "the VPC is left: {by_id:?}"
    );
    let in_vpc = ec2::types::Filter::builder()
        .name("vpc-id")
        .values(&stack.vpc)
        .build();
    let groups = ec2
        .describe_security_groups()
        .filters(in_vpc)
        .send()
        .await?;
    assert!(
        groups.security_groups().is_empty(),
        "groups of the VPC left: {groups:?}"
    );
    Ok(())
}

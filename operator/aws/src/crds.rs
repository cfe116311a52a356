//! The ACK CRDs this crate serves, generated from the Rust types and post-processed to carry
//! ACK's CEL immutability rules and printer columns.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, JSONSchemaProps, ValidationRule,
};
use kro_api::crds::StaticCrd;
use kube::CustomResourceExt;

use crate::rds::db_cluster::DBCluster;
use crate::rds::db_cluster_parameter_group::DBClusterParameterGroup;
use crate::rds::db_instance::DBInstance;
use crate::rds::db_parameter_group::DBParameterGroup;
use crate::rds::db_subnet_group::DBSubnetGroup;
use crate::s3::bucket::Bucket;

/// The ACK CRDs, with their `crds/` file names.
///
/// Names and plurals are ACK's. Printer columns, short names and categories are ours (ACK ships
/// only DBInstance's `STATUS` column, kept first): `kubectl get` shows whether each object is in
/// sync, and `kubectl get ack` (or `aws`, `s3`, `rds`) lists them together.
pub fn static_crds() -> Vec<StaticCrd> {
    let mut bucket = Bucket::crd();
    spec_optional(&mut bucket, "name");
    immutable(&mut bucket, "name", "Value is immutable once set");
    names(&mut bucket, "bkt", "s3");
    columns(
        &mut bucket,
        vec![
            column("BUCKET", ".spec.name", "The AWS bucket name", 0),
            column(
                "REGION",
                ".status.ackResourceMetadata.region",
                "The AWS region the bucket is in",
                1,
            ),
        ],
    );
    let mut subnet_group = DBSubnetGroup::crd();
    names(&mut subnet_group, "dbsng", "rds");
    columns(
        &mut subnet_group,
        vec![
            column(
                "STATUS",
                ".status.subnetGroupStatus",
                "The DB subnet group's status in AWS",
                0,
            ),
            column("VPC", ".status.vpcID", "The VPC of the subnets", 1),
        ],
    );
    let mut instance = DBInstance::crd();
    immutable(
        &mut instance,
        "availabilityZone",
        "Value is immutable once set",
    );
    names(&mut instance, "dbi", "rds");
    columns(
        &mut instance,
        vec![
            column(
                "STATUS",
                ".status.dbInstanceStatus",
                "The DB instance's status in AWS",
                0,
            ),
            column("ENGINE", ".spec.engine", "The database engine", 0),
            column("CLASS", ".spec.dbInstanceClass", "The DB instance class", 1),
            column(
                "ENDPOINT",
                ".status.endpoint.address",
                "The address to connect to",
                1,
            ),
        ],
    );
    let [parameter_group, cluster_parameter_group] = parameter_group_crds();
    let mut cluster = DBCluster::crd();
    names(&mut cluster, "dbc", "rds");
    columns(
        &mut cluster,
        vec![
            column(
                "STATUS",
                ".status.status",
                "The DB cluster's status in AWS",
                0,
            ),
            column("ENGINE", ".spec.engine", "The database engine", 0),
            column(
                "ENDPOINT",
                ".status.endpoint",
                "The writer endpoint to connect to",
                1,
            ),
        ],
    );
    #[allow(unused_mut)]
    let mut all = vec![
        StaticCrd::new(bucket),
        StaticCrd::new(subnet_group),
        StaticCrd::new(parameter_group),
        StaticCrd::new(cluster_parameter_group),
        StaticCrd::new(cluster),
        StaticCrd::new(instance),
    ];
    #[cfg(feature = "ec2")]
    all.extend(ec2_crds());
    #[cfg(feature = "iam")]
    all.extend(iam_crds());
    all
}

/// The parameter-group CRDs. RDS cannot rename a group or change its family or description,
/// so those are immutable (ACK would silently leave them as they were).
fn parameter_group_crds() -> [CustomResourceDefinition; 2] {
    let mut instance = DBParameterGroup::crd();
    let mut cluster = DBClusterParameterGroup::crd();
    for (crd, short) in [(&mut instance, "dbpg"), (&mut cluster, "dbcpg")] {
        for field in ["name", "family", "description"] {
            immutable(crd, field, "Value is immutable once set");
        }
        names(crd, short, "rds");
        columns(
            crd,
            vec![
                column("NAME", ".spec.name", "The group's name in AWS", 0),
                column("FAMILY", ".spec.family", "The parameter group family", 0),
            ],
        );
    }
    [instance, cluster]
}

/// The IAM CRDs. ACK ships them without printer columns or short names; the columns and
/// categories are ours (as for S3 and RDS), and no short name is added. Names and paths are
/// immutable (IAM cannot rename or move a role or policy), and so is a policy's description
/// (IAM cannot change it).
#[cfg(feature = "iam")]
fn iam_crds() -> Vec<StaticCrd> {
    use crate::iam;
    let mut policy = iam::policy::Policy::crd();
    for field in ["name", "path", "description"] {
        immutable(&mut policy, field, "Value is immutable once set");
    }
    categories(&mut policy, "iam");
    columns(
        &mut policy,
        vec![
            column("POLICY", ".spec.name", "The IAM policy name", 0),
            column(
                "VERSION",
                ".status.defaultVersionID",
                "The policy version in force",
                0,
            ),
            column(
                "ARN",
                ".status.ackResourceMetadata.arn",
                "The policy's ARN",
                1,
            ),
        ],
    );
    let mut role = iam::role::Role::crd();
    for field in ["name", "path"] {
        immutable(&mut role, field, "Value is immutable once set");
    }
    categories(&mut role, "iam");
    columns(
        &mut role,
        vec![
            column("ROLE", ".spec.name", "The IAM role name", 0),
            column(
                "ARN",
                ".status.ackResourceMetadata.arn",
                "The role's ARN",
                1,
            ),
        ],
    );
    vec![StaticCrd::new(policy), StaticCrd::new(role)]
}

/// The EC2 CRDs. ACK's printer columns (`ID`, and `state` where ACK has it) come first; ACK
/// gives these kinds no short names, so neither does kro-rs (`vpc`, `subnet` already work as
/// kubectl's singular names); the categories are ours as above.
#[cfg(feature = "ec2")]
fn ec2_crds() -> Vec<StaticCrd> {
    use crate::ec2;
    let mut vpc = ec2::vpc::VPC::crd();
    categories(&mut vpc, "ec2");
    columns(
        &mut vpc,
        vec![
            column("ID", ".status.vpcID", "The VPC id", 0),
            column("state", ".status.state", "The VPC's state", 0),
        ],
    );
    let mut subnet = ec2::subnet::Subnet::crd();
    categories(&mut subnet, "ec2");
    columns(
        &mut subnet,
        vec![
            column("ID", ".status.subnetID", "The subnet id", 0),
            column("state", ".status.state", "The subnet's state", 0),
        ],
    );
    let mut group = ec2::security_group::SecurityGroup::crd();
    // EC2 cannot rename a group or change its description: say so at admission.
    immutable(&mut group, "name", "Value is immutable once set");
    immutable(&mut group, "description", "Value is immutable once set");
    categories(&mut group, "ec2");
    columns(
        &mut group,
        vec![column("ID", ".status.id", "The security group id", 0)],
    );
    let mut gateway = ec2::internet_gateway::InternetGateway::crd();
    categories(&mut gateway, "ec2");
    columns(
        &mut gateway,
        vec![column(
            "ID",
            ".status.internetGatewayID",
            "The internet gateway id",
            0,
        )],
    );
    let mut table = ec2::route_table::RouteTable::crd();
    categories(&mut table, "ec2");
    columns(
        &mut table,
        vec![column(
            "ID",
            ".status.routeTableID",
            "The route table id",
            0,
        )],
    );
    let mut address = ec2::elastic_ip_address::ElasticIPAddress::crd();
    categories(&mut address, "ec2");
    columns(
        &mut address,
        vec![
            column(
                "ALLOCATION-ID",
                ".status.allocationID",
                "The allocation id",
                0,
            ),
            column("PUBLIC-IP", ".status.publicIP", "The public address", 0),
        ],
    );
    let mut nat = ec2::nat_gateway::NATGateway::crd();
    categories(&mut nat, "ec2");
    columns(
        &mut nat,
        vec![
            column("ID", ".status.natGatewayID", "The NAT gateway id", 0),
            column("state", ".status.state", "The NAT gateway's state", 0),
        ],
    );
    vec![
        StaticCrd::new(vpc),
        StaticCrd::new(subnet),
        StaticCrd::new(group),
        StaticCrd::new(gateway),
        StaticCrd::new(table),
        StaticCrd::new(address),
        StaticCrd::new(nat),
    ]
}

/// The categories `ack`, `aws` and the service's.
#[cfg(any(feature = "ec2", feature = "iam"))]
fn categories(crd: &mut CustomResourceDefinition, service: &str) {
    crd.spec.names.categories = Some(vec!["ack".into(), "aws".into(), service.into()]);
}

/// A short name, and the categories `ack`, `aws` and the service's.
fn names(crd: &mut CustomResourceDefinition, short: &str, service: &str) {
    crd.spec.names.short_names = Some(vec![short.into()]);
    crd.spec.names.categories = Some(vec!["ack".into(), "aws".into(), service.into()]);
}

fn column(
    name: &str,
    path: &str,
    description: &str,
    priority: i32,
) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.into(),
        type_: "string".into(),
        json_path: path.into(),
        description: Some(description.into()),
        priority: (priority > 0).then_some(priority),
        format: None,
    }
}

/// The kind's own columns, then SYNCED (`ACK.ResourceSynced`), READY and AGE, which every ACK
/// kind here shares.
fn columns(crd: &mut CustomResourceDefinition, own: Vec<CustomResourceColumnDefinition>) {
    let mut all = own;
    all.push(column(
        "SYNCED",
        ".status.conditions[?(@.type==\"ACK.ResourceSynced\")].status",
        "Whether the AWS resource matches the spec",
        0,
    ));
    all.push(column(
        "READY",
        ".status.conditions[?(@.type==\"Ready\")].status",
        "Whether the resource is ready",
        0,
    ));
    all.push(CustomResourceColumnDefinition {
        type_: "date".into(),
        ..column("AGE", ".metadata.creationTimestamp", "Age of the object", 0)
    });
    for v in &mut crd.spec.versions {
        v.additional_printer_columns = Some(all.clone());
    }
}

fn spec_schema(crd: &mut CustomResourceDefinition) -> impl Iterator<Item = &mut JSONSchemaProps> {
    crd.spec.versions.iter_mut().filter_map(|v| {
        v.schema
            .as_mut()?
            .open_api_v3_schema
            .as_mut()?
            .properties
            .as_mut()?
            .get_mut("spec")
    })
}

/// ACK's CRDs do not require `spec`: an adoption manifest may carry only the annotations, and
/// the controller fills the spec in. An absent spec is stored as `{}` (the default, so the Rust
/// type always has one to decode), and the identifier `field` is not required either: the API
/// server cannot see the adoption-fields annotation that makes it optional, so an empty one is
/// refused by the controller instead, as a terminal error naming the field.
fn spec_optional(crd: &mut CustomResourceDefinition, field: &str) {
    for v in &mut crd.spec.versions {
        let Some(root) = v
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        if let Some(required) = root.required.as_mut() {
            required.retain(|f| f != "spec");
        }
        if root.required.as_ref().is_some_and(Vec::is_empty) {
            root.required = None;
        }
        let Some(spec) = root.properties.as_mut().and_then(|p| p.get_mut("spec")) else {
            continue;
        };
        spec.default = Some(
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON(
                serde_json::json!({}),
            ),
        );
        if let Some(required) = spec.required.as_mut() {
            required.retain(|f| f != field);
        }
        // No default for the field either: the API server would write `""`, and the
        // immutability rule would then refuse the adopted name.
        if let Some(prop) = spec.properties.as_mut().and_then(|p| p.get_mut(field)) {
            prop.default = None;
        }
        if spec.required.as_ref().is_some_and(Vec::is_empty) {
            spec.required = None;
        }
    }
}

fn immutable(crd: &mut CustomResourceDefinition, field: &str, message: &str) {
    for spec in spec_schema(crd) {
        if let Some(prop) = spec.properties.as_mut().and_then(|p| p.get_mut(field)) {
            prop.x_kubernetes_validations = Some(vec![ValidationRule {
                rule: "self == oldSelf".into(),
                message: Some(message.into()),
                ..Default::default()
            }]);
        }
    }
}

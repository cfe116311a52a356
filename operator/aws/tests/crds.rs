//! Checks that `crds/` holds exactly the ACK CRD YAML generated from the Rust types, and that the
//! CRDs carry ACK's identity, printer columns and immutability rules.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kro_aws::static_crds;

const REGENERATE: &str = "UPDATE_CRDS=1 cargo test -p kro-aws --test crds";

fn crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crds")
}

#[test]
fn crds_dir_is_up_to_date() {
    let dir = crds_dir();
    let update = std::env::var_os("UPDATE_CRDS").is_some_and(|v| v == "1");
    let mut problems = Vec::new();
    for c in static_crds() {
        let want = c.to_yaml().unwrap();
        let path = dir.join(&c.file_name);
        if update {
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            Ok(_) => problems.push(format!("crds/{} is out of date", c.file_name)),
            Err(_) => problems.push(format!("crds/{} is missing", c.file_name)),
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nregenerate with: {REGENERATE}",
        problems.join("\n")
    );
}

fn find(kind: &str) -> CustomResourceDefinition {
    static_crds()
        .into_iter()
        .find(|c| c.crd.spec.names.kind == kind)
        .unwrap()
        .crd
}

#[test]
fn identity_matches_ack() {
    let files: Vec<String> = static_crds().into_iter().map(|c| c.file_name).collect();
    assert_eq!(
        files,
        vec![
            "s3.services.k8s.aws_buckets.yaml",
            "rds.services.k8s.aws_dbsubnetgroups.yaml",
            "rds.services.k8s.aws_dbinstances.yaml"
        ]
    );
    for (kind, group, plural) in [
        ("Bucket", "s3.services.k8s.aws", "buckets"),
        ("DBSubnetGroup", "rds.services.k8s.aws", "dbsubnetgroups"),
        ("DBInstance", "rds.services.k8s.aws", "dbinstances"),
    ] {
        let crd = find(kind);
        assert_eq!(crd.spec.group, group);
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.scope, "Namespaced");
        let v = &crd.spec.versions[0];
        assert_eq!(
            (v.name.as_str(), v.served, v.storage),
            ("v1alpha1", true, true)
        );
        assert!(v.subresources.as_ref().unwrap().status.is_some(), "{kind}");
    }
}

fn spec_schema(kind: &str) -> serde_json::Value {
    let crd = find(kind);
    let schema = crd.spec.versions[0]
        .schema
        .clone()
        .unwrap()
        .open_api_v3_schema
        .unwrap();
    serde_json::to_value(schema).unwrap()["properties"]["spec"].clone()
}

#[test]
fn required_fields_and_rules_match_ack() {
    let cases = [
        ("Bucket", vec!["name"]),
        ("DBSubnetGroup", vec!["description", "name"]),
        (
            "DBInstance",
            vec!["dbInstanceClass", "dbInstanceIdentifier", "engine"],
        ),
    ];
    for (kind, want) in cases {
        let mut got: Vec<String> =
            serde_json::from_value(spec_schema(kind)["required"].clone()).unwrap();
        got.sort();
        assert_eq!(got, want, "{kind}");
    }
    assert_eq!(
        spec_schema("Bucket")["properties"]["name"]["x-kubernetes-validations"][0]["rule"],
        "self == oldSelf"
    );
    assert_eq!(
        spec_schema("DBInstance")["properties"]["availabilityZone"]["x-kubernetes-validations"][0]
            ["rule"],
        "self == oldSelf"
    );
    let cols = find("DBInstance").spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap();
    assert_eq!(cols.len(), 1);
    assert_eq!(
        (cols[0].name.as_str(), cols[0].json_path.as_str()),
        ("STATUS", ".status.dbInstanceStatus")
    );
}

#[test]
fn ack_field_names_are_in_the_schemas() {
    let cases: [(&str, &[&str]); 3] = [
        (
            "Bucket",
            &[
                "tagging",
                "versioning",
                "encryption",
                "publicAccessBlock",
                "policy",
                "lifecycle",
                "cors",
                "ownershipControls",
                "grantReadACP",
                "objectLockEnabledForBucket",
                "createBucketConfiguration",
            ],
        ),
        (
            "DBSubnetGroup",
            &["name", "description", "subnetIDs", "subnetRefs", "tags"],
        ),
        (
            "DBInstance",
            &[
                "engineVersion",
                "allocatedStorage",
                "masterUsername",
                "masterUserPassword",
                "dbSubnetGroupName",
                "dbSubnetGroupRef",
                "vpcSecurityGroupIDs",
                "vpcSecurityGroupRefs",
                "deletionProtection",
                "dbName",
                "port",
                "publiclyAccessible",
                "storageType",
                "multiAZ",
                "backupRetentionPeriod",
                "kmsKeyID",
                "enableIAMDatabaseAuthentication",
                "tags",
            ],
        ),
    ];
    for (kind, fields) in cases {
        let spec = spec_schema(kind);
        for f in fields {
            assert!(
                spec["properties"].get(*f).is_some(),
                "{kind} spec lacks {f}"
            );
        }
    }
    let pab = &spec_schema("Bucket")["properties"]["publicAccessBlock"]["properties"];
    for f in [
        "blockPublicACLs",
        "blockPublicPolicy",
        "ignorePublicACLs",
        "restrictPublicBuckets",
    ] {
        assert!(pab.get(f).is_some(), "publicAccessBlock lacks {f}");
    }
    let crd = find("DBInstance");
    let status = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .clone()
            .unwrap()
            .open_api_v3_schema
            .unwrap(),
    )
    .unwrap()["properties"]["status"]["properties"]
        .clone();
    for f in [
        "ackResourceMetadata",
        "conditions",
        "dbInstanceStatus",
        "endpoint",
    ] {
        assert!(status.get(f).is_some(), "DBInstance status lacks {f}");
    }
    for f in ["arn", "ownerAccountID", "region"] {
        assert!(
            status["ackResourceMetadata"]["properties"].get(f).is_some(),
            "ackResourceMetadata lacks {f}"
        );
    }
    for f in ["address", "port", "hostedZoneID"] {
        assert!(
            status["endpoint"]["properties"].get(f).is_some(),
            "endpoint lacks {f}"
        );
    }
}

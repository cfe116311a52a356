//! Table tests of the Bucket desired-vs-observed logic.

use serde_json::json;

use super::*;

fn spec(v: serde_json::Value) -> BucketSpec {
    let mut base = json!({"name": "b"});
    crate::ack::runtime::merge(&mut base, &v);
    serde_json::from_value(base).unwrap()
}

fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs.iter().map(|(k, v)| Tag::new(*k, *v)).collect()
}

fn aes() -> ServerSideEncryptionConfiguration {
    serde_json::from_value(
        json!({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
    )
    .unwrap()
}

#[test]
fn delta_table() {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#;
    let policy_reformatted = r#"{ "Statement": [ { "Action": "s3:*", "Effect": "Deny", "Principal": "*", "Resource": "arn:aws:s3:::b/*" } ], "Version": "2012-10-17" }"#;
    let cases: Vec<(&str, BucketSpec, ObservedBucket, Vec<BucketCall>)> = vec![
        ("bare spec on a bare bucket calls nothing", spec(json!({})), ObservedBucket::default(), vec![]),
        (
            "tags added",
            spec(json!({"tagging": {"tagSet": [{"key": "team", "value": "a"}]}})),
            ObservedBucket::default(),
            vec![BucketCall::PutTagging(tags(&[("team", "a")]))],
        ),
        (
            "tags equal as sets",
            spec(json!({"tagging": {"tagSet": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}})),
            ObservedBucket { tags: Some(tags(&[("b", "2"), ("a", "1")])), ..Default::default() },
            vec![],
        ),
        (
            "tag drift corrected",
            spec(json!({"tagging": {"tagSet": [{"key": "a", "value": "1"}]}})),
            ObservedBucket { tags: Some(tags(&[("a", "changed"), ("extra", "x")])), ..Default::default() },
            vec![BucketCall::PutTagging(tags(&[("a", "1")]))],
        ),
        (
            "empty tag set removes tags",
            spec(json!({"tagging": {"tagSet": []}})),
            ObservedBucket { tags: Some(tags(&[("a", "1")])), ..Default::default() },
            vec![BucketCall::DeleteTagging],
        ),
        (
            "empty tag set on an untagged bucket does nothing",
            spec(json!({"tagging": {}})),
            ObservedBucket::default(),
            vec![],
        ),
        (
            "versioning enabled",
            spec(json!({"versioning": {"status": "Enabled"}})),
            ObservedBucket::default(),
            vec![BucketCall::PutVersioning("Enabled".into())],
        ),
        (
            "suspended equals never enabled",
            spec(json!({"versioning": {"status": "Suspended"}})),
            ObservedBucket::default(),
            vec![],
        ),
        (
            "versioning drift",
            spec(json!({"versioning": {"status": "Enabled"}})),
            ObservedBucket { versioning: Some("Suspended".into()), ..Default::default() },
            vec![BucketCall::PutVersioning("Enabled".into())],
        ),
        (
            "encryption set",
            spec(json!({"encryption": {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}})),
            ObservedBucket::default(),
            vec![BucketCall::PutEncryption(aes())],
        ),
        (
            "encryption equal",
            spec(json!({"encryption": {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}})),
            ObservedBucket { encryption: Some(aes()), ..Default::default() },
            vec![],
        ),
        (
            "empty encryption rules remove it",
            spec(json!({"encryption": {"rules": []}})),
            ObservedBucket { encryption: Some(aes()), ..Default::default() },
            vec![BucketCall::DeleteEncryption],
        ),
        (
            "public access block before policy",
            spec(json!({"publicAccessBlock": {"blockPublicACLs": true}, "policy": policy})),
            ObservedBucket::default(),
            vec![
                BucketCall::PutPublicAccessBlock(PublicAccessBlockConfiguration { block_public_acls: Some(true), ..Default::default() }),
                BucketCall::PutPolicy(policy.into()),
            ],
        ),
        (
            "all-false block equals none",
            spec(json!({"publicAccessBlock": {"blockPublicACLs": false}})),
            ObservedBucket::default(),
            vec![],
        ),
        (
            "policy compared as JSON",
            spec(json!({"policy": policy})),
            ObservedBucket { policy: Some(policy_reformatted.into()), ..Default::default() },
            vec![],
        ),
        (
            "empty policy deletes it",
            spec(json!({"policy": ""})),
            ObservedBucket { policy: Some(policy.into()), ..Default::default() },
            vec![BucketCall::DeletePolicy],
        ),
        (
            "lifecycle and cors",
            spec(json!({
                "lifecycle": {"rules": [{"id": "expire", "status": "Enabled", "filter": {"prefix": "tmp/"}, "expiration": {"days": 7}}]},
                "cors": {"corsRules": [{"allowedMethods": ["GET"], "allowedOrigins": ["*"]}]}
            })),
            ObservedBucket::default(),
            vec![
                BucketCall::PutLifecycle(serde_json::from_value(json!({"rules": [{"id": "expire", "status": "Enabled", "filter": {"prefix": "tmp/"}, "expiration": {"days": 7}}]})).unwrap()),
                BucketCall::PutCors(serde_json::from_value(json!({"corsRules": [{"allowedMethods": ["GET"], "allowedOrigins": ["*"]}]})).unwrap()),
            ],
        ),
        (
            "empty cors and lifecycle delete",
            spec(json!({"lifecycle": {"rules": []}, "cors": {}})),
            ObservedBucket {
                lifecycle: Some(BucketLifecycleConfiguration { rules: Some(vec![LifecycleRule::default()]) }),
                cors: Some(CorsConfiguration { cors_rules: Some(vec![CorsRule::default()]) }),
                ..Default::default()
            },
            vec![BucketCall::DeleteLifecycle, BucketCall::DeleteCors],
        ),
        (
            "ownership controls",
            spec(json!({"ownershipControls": {"rules": [{"objectOwnership": "BucketOwnerEnforced"}]}})),
            ObservedBucket {
                ownership_controls: Some(OwnershipControls { rules: Some(vec![OwnershipControlsRule { object_ownership: Some("ObjectWriter".into()) }]) }),
                ..Default::default()
            },
            vec![BucketCall::PutOwnershipControls(OwnershipControls { rules: Some(vec![OwnershipControlsRule { object_ownership: Some("BucketOwnerEnforced".into()) }]) })],
        ),
    ];
    for (name, desired, observed, want) in cases {
        assert_eq!(bucket_delta(&desired, &observed), want, "{name}");
    }
}

/// ACK's update: a sub-resource absent from the spec while AWS has it is deleted (versioning
/// goes back to Suspended); the late-initialized encryption and ownership controls are not.
#[test]
fn absent_sub_resources_are_removed_as_ack() {
    let configured = ObservedBucket {
        tags: Some(tags(&[("a", "1")])),
        versioning: Some("Enabled".into()),
        encryption: Some(aes()),
        public_access_block: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(true),
            ..Default::default()
        }),
        policy: Some("{}".into()),
        lifecycle: Some(BucketLifecycleConfiguration {
            rules: Some(vec![LifecycleRule::default()]),
        }),
        cors: Some(CorsConfiguration {
            cors_rules: Some(vec![CorsRule::default()]),
        }),
        ownership_controls: Some(OwnershipControls {
            rules: Some(vec![OwnershipControlsRule {
                object_ownership: Some("ObjectWriter".into()),
            }]),
        }),
    };
    assert_eq!(
        bucket_delta(&spec(json!({})), &configured),
        vec![
            BucketCall::DeleteTagging,
            BucketCall::PutVersioning("Suspended".into()),
            BucketCall::DeletePublicAccessBlock,
            BucketCall::DeletePolicy,
            BucketCall::DeleteLifecycle,
            BucketCall::DeleteCors,
        ]
    );
    // Only what the spec dropped goes: cors and policy here.
    let kept = spec(json!({
        "tagging": {"tagSet": [{"key": "a", "value": "1"}]},
        "versioning": {"status": "Enabled"},
        "publicAccessBlock": {"blockPublicACLs": true},
        "lifecycle": {"rules": [{}]},
    }));
    assert_eq!(
        bucket_delta(&kept, &configured),
        vec![BucketCall::DeletePolicy, BucketCall::DeleteCors]
    );
    // The adopted spec of that bucket keeps everything.
    let adopted: BucketSpec = serde_json::from_value(adopted_spec("b", &configured)).unwrap();
    assert_eq!(bucket_delta(&adopted, &configured), vec![]);
}

/// `aws:*` tags are never sent nor compared; ACK's default keys not in the spec stay (sent back,
/// since PutBucketTagging replaces the set); neither is copied into an adopted spec.
#[test]
fn system_and_default_tags_in_the_bucket_delta() {
    let observed = ObservedBucket {
        tags: Some(tags(&[
            ("aws:cloudformation:stack-name", "legacy"),
            ("services.k8s.aws/namespace", "old"),
            ("team", "a"),
        ])),
        ..Default::default()
    };
    let same = spec(json!({"tagging": {"tagSet": [{"key": "team", "value": "a"}]}}));
    assert_eq!(bucket_delta(&same, &observed), vec![]);
    let retagged = spec(json!({"tagging": {"tagSet": [{"key": "team", "value": "b"}]}}));
    assert_eq!(
        bucket_delta(&retagged, &observed),
        vec![BucketCall::PutTagging(tags(&[
            ("team", "b"),
            ("services.k8s.aws/namespace", "old"),
        ]))]
    );
    let with_defaults = spec(json!({"tagging": {"tagSet": [
        {"key": "team", "value": "a"},
        {"key": "services.k8s.aws/namespace", "value": "prod"},
        {"key": "aws:x", "value": "never sent"}
    ]}}));
    assert_eq!(
        bucket_delta(&with_defaults, &observed),
        vec![BucketCall::PutTagging(tags(&[
            ("team", "a"),
            ("services.k8s.aws/namespace", "prod"),
        ]))]
    );
    let only_system = ObservedBucket {
        tags: Some(tags(&[("aws:cloudformation:stack-name", "legacy")])),
        ..Default::default()
    };
    assert_eq!(bucket_delta(&spec(json!({})), &only_system), vec![]);
    assert_eq!(
        adopted_spec("b", &observed)["tagging"],
        json!({"tagSet": [{"key": "team", "value": "a"}]})
    );
}

/// ACK's adoption manifest: annotations only, no spec; the API server stores it with the CRD's
/// default `spec: {}`. It decodes, with an empty name (the identifier then comes from
/// `services.k8s.aws/adoption-fields`).
#[test]
fn a_bucket_with_the_defaulted_spec_decodes() {
    let b: Bucket = serde_json::from_value(json!({
        "apiVersion": "s3.services.k8s.aws/v1alpha1",
        "kind": "Bucket",
        "metadata": {"name": "adopted", "annotations": {
            "services.k8s.aws/adoption-policy": "adopt",
            "services.k8s.aws/adoption-fields": "{\"name\": \"existing\"}"
        }},
        "spec": {}
    }))
    .unwrap();
    assert_eq!(b.spec, BucketSpec::default());
    assert_eq!(b.identifier(), "");
}

#[test]
fn late_initialization_copies_only_absent_defaults() {
    let observed = ObservedBucket {
        encryption: Some(aes()),
        ownership_controls: Some(OwnershipControls {
            rules: Some(vec![OwnershipControlsRule {
                object_ownership: Some("BucketOwnerEnforced".into()),
            }]),
        }),
        tags: Some(tags(&[("a", "1")])),
        ..Default::default()
    };
    assert_eq!(
        late_initialize(&spec(json!({})), &observed),
        Some(json!({
            "encryption": {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
            "ownershipControls": {"rules": [{"objectOwnership": "BucketOwnerEnforced"}]}
        }))
    );
    let set = spec(json!({"encryption": {"rules": []}, "ownershipControls": {"rules": []}}));
    assert_eq!(late_initialize(&set, &observed), None);
    assert_eq!(
        late_initialize(&spec(json!({})), &ObservedBucket::default()),
        None
    );
}

#[test]
fn adopted_spec_is_aws_state() {
    let observed = ObservedBucket {
        tags: Some(tags(&[("a", "1")])),
        versioning: Some("Enabled".into()),
        ..Default::default()
    };
    assert_eq!(
        adopted_spec("existing", &observed),
        json!({"name": "existing", "tagging": {"tagSet": [{"key": "a", "value": "1"}]}, "versioning": {"status": "Enabled"}})
    );
    let back: BucketSpec = serde_json::from_value(adopted_spec("existing", &observed)).unwrap();
    assert!(
        bucket_delta(&back, &observed).is_empty(),
        "an adopted spec is in sync"
    );
}

#[test]
fn location_constraint_and_arn() {
    assert_eq!(
        location_constraint(&spec(json!({})), "us-west-2"),
        Some("us-west-2".into())
    );
    assert_eq!(location_constraint(&spec(json!({})), "us-east-1"), None);
    assert_eq!(
        location_constraint(
            &spec(json!({"createBucketConfiguration": {"locationConstraint": "eu-west-1"}})),
            "us-west-2"
        ),
        Some("eu-west-1".into())
    );
    assert_eq!(bucket_arn("us-west-2", "b"), "arn:aws:s3:::b");
    assert_eq!(bucket_arn("cn-northwest-1", "b"), "arn:aws-cn:s3:::b");
    assert_eq!(bucket_arn("us-gov-east-1", "b"), "arn:aws-us-gov:s3:::b");
}

#[test]
fn ack_field_names_round_trip() {
    let v = json!({
        "name": "b",
        "acl": "private",
        "grantReadACP": "id=x",
        "grantWriteACP": "id=y",
        "publicAccessBlock": {"blockPublicACLs": true, "ignorePublicACLs": true, "blockPublicPolicy": true, "restrictPublicBuckets": true},
        "encryption": {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": "k"}, "bucketKeyEnabled": true}]},
        "cors": {"corsRules": [{"id": "r", "maxAgeSeconds": 5, "exposeHeaders": ["ETag"]}]},
        "lifecycle": {"rules": [{"abortIncompleteMultipartUpload": {"daysAfterInitiation": 1}, "noncurrentVersionExpiration": {"noncurrentDays": 3}, "transitions": [{"days": 30, "storageClass": "GLACIER"}]}]},
        "createBucketConfiguration": {"locationConstraint": "us-west-2"},
        "objectLockEnabledForBucket": false,
        "objectOwnership": "BucketOwnerEnforced"
    });
    let s: BucketSpec = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&s).unwrap(), v);
}

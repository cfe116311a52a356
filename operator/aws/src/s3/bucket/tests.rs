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

fn logging_to(bucket: &str) -> LoggingEnabled {
    LoggingEnabled {
        target_bucket: Some(bucket.into()),
        ..Default::default()
    }
}

fn index_site() -> WebsiteConfiguration {
    WebsiteConfiguration {
        index_document: Some(IndexDocument {
            suffix: Some("index.html".into()),
        }),
        ..Default::default()
    }
}

fn queue_notification() -> NotificationConfiguration {
    NotificationConfiguration {
        queue_configurations: Some(vec![QueueConfiguration {
            queue_arn: Some("arn:aws:sqs:us-west-2:123456789012:q".into()),
            events: Some(vec!["s3:ObjectCreated:*".into()]),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn lock_days(days: i64) -> ObjectLockConfiguration {
    ObjectLockConfiguration {
        rule: Some(ObjectLockRule {
            default_retention: Some(DefaultRetention {
                days: Some(days),
                mode: Some("GOVERNANCE".into()),
                years: None,
            }),
        }),
    }
}

/// Acceleration, logging, website, notification and Object Lock: when each calls S3.
#[test]
fn settings_delta_table() {
    let bare = ObservedBucket::default();
    let cases: Vec<(&str, BucketSpec, ObservedBucket, Vec<BucketCall>)> = vec![
        (
            "acceleration enabled",
            spec(json!({"accelerate": {"status": "Enabled"}})),
            bare.clone(),
            vec![BucketCall::PutAccelerate("Enabled".into())],
        ),
        (
            "acceleration suspended on a bucket that never had it calls nothing",
            spec(json!({"accelerate": {"status": "Suspended"}})),
            bare.clone(),
            vec![],
        ),
        (
            "logging turned on",
            spec(
                json!({"logging": {"loggingEnabled": {"targetBucket": "logs", "targetPrefix": "b/"}}}),
            ),
            bare.clone(),
            vec![BucketCall::PutLogging(Some(LoggingEnabled {
                target_bucket: Some("logs".into()),
                target_prefix: Some("b/".into()),
                ..Default::default()
            }))],
        ),
        (
            "logging {} on a bucket without logging calls nothing",
            spec(json!({"logging": {}})),
            bare.clone(),
            vec![],
        ),
        (
            "logging target changed",
            spec(json!({"logging": {"loggingEnabled": {"targetBucket": "other"}}})),
            ObservedBucket {
                logging: Some(logging_to("logs")),
                ..Default::default()
            },
            vec![BucketCall::PutLogging(Some(logging_to("other")))],
        ),
        (
            "a website with an index document",
            spec(json!({"website": {"indexDocument": {"suffix": "index.html"}}})),
            bare.clone(),
            vec![BucketCall::PutWebsite(index_site())],
        ),
        (
            "a redirect-only website needs no index document",
            spec(json!({"website": {"redirectAllRequestsTo": {"hostName": "example.com"}}})),
            bare.clone(),
            vec![BucketCall::PutWebsite(WebsiteConfiguration {
                redirect_all_requests_to: Some(RedirectAllRequestsTo {
                    host_name: Some("example.com".into()),
                    protocol: None,
                }),
                ..Default::default()
            })],
        ),
        (
            "a website with neither is deleted",
            spec(json!({"website": {"errorDocument": {"key": "404.html"}}})),
            ObservedBucket {
                website: Some(index_site()),
                ..Default::default()
            },
            vec![BucketCall::DeleteWebsite],
        ),
        (
            "an error document added",
            spec(
                json!({"website": {"indexDocument": {"suffix": "index.html"}, "errorDocument": {"key": "404.html"}}}),
            ),
            ObservedBucket {
                website: Some(index_site()),
                ..Default::default()
            },
            vec![BucketCall::PutWebsite(WebsiteConfiguration {
                error_document: Some(ErrorDocument {
                    key: Some("404.html".into()),
                }),
                ..index_site()
            })],
        ),
        (
            "an empty notification on a quiet bucket calls nothing",
            spec(json!({"notification": {"queueConfigurations": []}})),
            bare.clone(),
            vec![],
        ),
        (
            "a notification added",
            spec(
                json!({"notification": {"queueConfigurations": [{"queueARN": "arn:aws:sqs:us-west-2:123456789012:q", "events": ["s3:ObjectCreated:*"]}]}}),
            ),
            bare.clone(),
            vec![BucketCall::PutNotification(Some(queue_notification()))],
        ),
    ];
    for (name, desired, observed, want) in cases {
        assert_eq!(bucket_delta(&desired, &observed), want, "{name}");
    }
}

/// Object Lock's default retention and lifecycle dates: when each calls S3.
#[test]
fn object_lock_and_lifecycle_dates_delta_table() {
    let lock_on = ObservedBucket {
        object_lock: Some(ObjectLockConfiguration::default()),
        ..Default::default()
    };
    let cases: Vec<(&str, BucketSpec, ObservedBucket, Vec<BucketCall>)> = vec![
        (
            "a default retention on a locked bucket",
            spec(
                json!({"objectLockConfiguration": {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 1}}}}),
            ),
            lock_on.clone(),
            vec![BucketCall::PutObjectLock(Some(lock_days(1)))],
        ),
        (
            "retention days changed",
            spec(
                json!({"objectLockConfiguration": {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 7}}}}),
            ),
            ObservedBucket {
                object_lock: Some(lock_days(1)),
                ..Default::default()
            },
            vec![BucketCall::PutObjectLock(Some(lock_days(7)))],
        ),
        (
            "no configuration asks nothing of a locked bucket without a rule",
            spec(json!({})),
            lock_on,
            vec![],
        ),
        (
            "lifecycle dates compare as dates",
            spec(
                json!({"lifecycle": {"rules": [{"status": "Enabled", "expiration": {"date": "2027-01-01T00:00:00.000Z"}, "transitions": [{"date": "2026-12-31T00:00:00+00:00", "storageClass": "GLACIER"}]}]}}),
            ),
            ObservedBucket {
                lifecycle: Some(BucketLifecycleConfiguration {
                    rules: Some(vec![LifecycleRule {
                        status: Some("Enabled".into()),
                        expiration: Some(LifecycleExpiration {
                            date: Some("2027-01-01T00:00:00Z".into()),
                            ..Default::default()
                        }),
                        transitions: Some(vec![Transition {
                            date: Some("2026-12-31T00:00:00Z".into()),
                            days: None,
                            storage_class: Some("GLACIER".into()),
                        }]),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (name, desired, observed, want) in cases {
        assert_eq!(bucket_delta(&desired, &observed), want, "{name}");
    }
    assert_eq!(canonical_date("not a date"), None);
    assert_eq!(
        canonical_date("2027-01-01T00:00:00+00:00").as_deref(),
        Some("2027-01-01T00:00:00Z")
    );
}

/// A daily CSV inventory `id` of current versions into bucket `inv`.
fn daily_inventory(id: &str) -> InventoryConfiguration {
    InventoryConfiguration {
        id: Some(id.into()),
        is_enabled: Some(true),
        included_object_versions: Some("Current".into()),
        schedule: Some(InventorySchedule {
            frequency: Some("Daily".into()),
        }),
        destination: Some(InventoryDestination {
            s3_bucket_destination: Some(InventoryS3BucketDestination {
                bucket: Some("arn:aws:s3:::inv".into()),
                format: Some("CSV".into()),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// Inventory goes configuration by configuration: a changed one is put, one the spec does
/// not list is deleted, the others are left alone.
#[test]
fn inventory_calls_by_id() {
    let observed = ObservedBucket {
        inventory: Some(vec![daily_inventory("a"), daily_inventory("b")]),
        ..Default::default()
    };
    let mut changed = daily_inventory("a");
    changed.is_enabled = Some(false);
    let mut desired = spec(json!({}));
    desired.inventory = Some(vec![changed.clone(), daily_inventory("c")]);
    assert_eq!(
        bucket_delta(&desired, &observed),
        vec![
            BucketCall::PutInventory(changed),
            BucketCall::PutInventory(daily_inventory("c")),
            BucketCall::DeleteInventory("b".into()),
        ]
    );
    desired.inventory = Some(vec![daily_inventory("b"), daily_inventory("a")]);
    assert_eq!(
        bucket_delta(&desired, &observed),
        vec![],
        "order does not matter"
    );
}

/// A replication configuration with one rule to bucket `to`.
fn replication_to(to: &str) -> ReplicationConfiguration {
    ReplicationConfiguration {
        role: Some("arn:aws:iam::123456789012:role/rep".into()),
        role_ref: None,
        rules: Some(vec![ReplicationRule {
            id: Some("r".into()),
            status: Some("Enabled".into()),
            destination: Some(Destination {
                bucket: Some(format!("arn:aws:s3:::{to}")),
                ..Default::default()
            }),
            ..Default::default()
        }]),
    }
}

/// Replication compares without `roleRef` (resolved into `role` before), and a configuration
/// without rules is none.
#[test]
fn replication_compares_without_its_ref_and_needs_rules() {
    let observed = ObservedBucket {
        replication: Some(replication_to("dst")),
        ..Default::default()
    };
    let mut desired = spec(json!({}));
    desired.replication = Some(ReplicationConfiguration {
        role_ref: Some(serde_json::from_value(json!({"from": {"name": "rep"}})).unwrap()),
        ..replication_to("dst")
    });
    assert_eq!(bucket_delta(&desired, &observed), vec![]);
    desired.replication = Some(replication_to("other"));
    assert_eq!(
        bucket_delta(&desired, &observed),
        vec![BucketCall::PutReplication(replication_to("other"))]
    );
    desired.replication = Some(ReplicationConfiguration {
        rules: Some(vec![]),
        ..replication_to("dst")
    });
    assert_eq!(
        bucket_delta(&desired, &observed),
        vec![BucketCall::DeleteReplication]
    );
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
        accelerate: Some("Enabled".into()),
        logging: Some(logging_to("logs")),
        website: Some(index_site()),
        notification: Some(queue_notification()),
        object_lock: Some(lock_days(1)),
        replication: Some(replication_to("dst")),
        inventory: Some(vec![daily_inventory("weekly-list")]),
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
            BucketCall::PutAccelerate("Suspended".into()),
            BucketCall::PutLogging(None),
            BucketCall::DeleteWebsite,
            BucketCall::PutNotification(None),
            BucketCall::PutObjectLock(None),
            BucketCall::DeleteReplication,
            BucketCall::DeleteInventory("weekly-list".into()),
        ]
    );
    // Only what the spec dropped goes: cors and policy here.
    let kept = spec(json!({
        "tagging": {"tagSet": [{"key": "a", "value": "1"}]},
        "versioning": {"status": "Enabled"},
        "publicAccessBlock": {"blockPublicACLs": true},
        "lifecycle": {"rules": [{}]},
        "accelerate": {"status": "Enabled"},
        "logging": {"loggingEnabled": {"targetBucket": "logs", "targetPrefix": ""}},
        "website": {"indexDocument": {"suffix": "index.html"}, "routingRules": []},
        "notification": {"queueConfigurations": [{"queueARN": "arn:aws:sqs:us-west-2:123456789012:q", "events": ["s3:ObjectCreated:*"]}]},
        "objectLockConfiguration": {"rule": {"defaultRetention": {"mode": "GOVERNANCE", "days": 1}}},
        "replication": {"role": "arn:aws:iam::123456789012:role/rep", "rules": [{"id": "r", "status": "Enabled",
                        "destination": {"bucket": "arn:aws:s3:::dst"}}]},
        "inventory": [{"id": "weekly-list", "isEnabled": true, "includedObjectVersions": "Current",
                       "schedule": {"frequency": "Daily"},
                       "destination": {"s3BucketDestination": {"bucket": "arn:aws:s3:::inv", "format": "CSV"}}}],
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
        "lifecycle": {"rules": [{"abortIncompleteMultipartUpload": {"daysAfterInitiation": 1}, "noncurrentVersionExpiration": {"noncurrentDays": 3}, "transitions": [{"days": 30, "storageClass": "GLACIER"}, {"date": "2027-01-01T00:00:00Z", "storageClass": "DEEP_ARCHIVE"}], "noncurrentVersionTransitions": [{"noncurrentDays": 30, "newerNoncurrentVersions": 2, "storageClass": "STANDARD_IA"}], "expiration": {"date": "2028-01-01T00:00:00Z"}, "filter": {"and": {"prefix": "logs/", "tags": [{"key": "k", "value": "v"}], "objectSizeGreaterThan": 1, "objectSizeLessThan": 9}}}]},
        "accelerate": {"status": "Enabled"},
        "logging": {"loggingEnabled": {"targetBucket": "logs", "targetPrefix": "b/", "targetGrants": [{"grantee": {"type_": "Group", "uRI": "http://acs.amazonaws.com/groups/global/AllUsers", "id": "i", "displayName": "d", "emailAddress": "e"}, "permission": "READ"}]}},
        "website": {"indexDocument": {"suffix": "index.html"}, "errorDocument": {"key": "404.html"}, "redirectAllRequestsTo": {"hostName": "h", "protocol": "https"}, "routingRules": [{"condition": {"httpErrorCodeReturnedEquals": "404", "keyPrefixEquals": "docs/"}, "redirect": {"hostName": "h", "httpRedirectCode": "301", "protocol": "https", "replaceKeyPrefixWith": "d/", "replaceKeyWith": "x"}}]},
        "notification": {
            "lambdaFunctionConfigurations": [{"id": "l", "lambdaFunctionARN": "arn:aws:lambda:us-west-2:123456789012:function:f", "events": ["s3:ObjectRemoved:*"]}],
            "queueConfigurations": [{"id": "q", "queueARN": "arn:aws:sqs:us-west-2:123456789012:q", "events": ["s3:ObjectCreated:*"], "filter": {"key": {"filterRules": [{"name": "prefix", "value": "in/"}]}}}],
            "topicConfigurations": [{"id": "t", "topicARN": "arn:aws:sns:us-west-2:123456789012:t", "events": ["s3:ObjectCreated:Put"]}]
        },
        "objectLockConfiguration": {"rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": 1}}},
        "createBucketConfiguration": {"locationConstraint": "us-west-2"},
        "objectLockEnabledForBucket": false,
        "objectOwnership": "BucketOwnerEnforced"
    });
    let s: BucketSpec = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&s).unwrap(), v);
}

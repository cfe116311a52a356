use super::*;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn spec() -> RoleSpec {
    RoleSpec {
        name: "app".into(),
        assume_role_policy_document: TRUST.into(),
        ..Default::default()
    }
}

fn observed() -> ObservedRole {
    ObservedRole {
        arn: "arn:aws:iam::123456789012:role/app".into(),
        path: "/".into(),
        assume_role_policy_document: TRUST.into(),
        max_session_duration: Some(3600),
        ..Default::default()
    }
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn delta_table_of_trust_policy_and_update_role() {
    let changed_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    // The trust policy as GetRole returns it (URL-encoded), reformatted and with lists.
    let same_trust = r#"{"Statement":[{"Action":["sts:AssumeRole"],"Principal":{"Service":["ec2.amazonaws.com"]},"Effect":"Allow"}],"Version":"2012-10-17"}"#;
    type Case = (&'static str, RoleSpec, ObservedRole, RoleDelta);
    let cases: Vec<Case> = vec![
        ("in sync", spec(), observed(), RoleDelta::default()),
        (
            "the same trust policy written otherwise",
            RoleSpec {
                assume_role_policy_document: same_trust.into(),
                ..spec()
            },
            observed(),
            RoleDelta::default(),
        ),
        (
            "a new trust policy",
            RoleSpec {
                assume_role_policy_document: changed_trust.into(),
                ..spec()
            },
            observed(),
            RoleDelta {
                trust_policy: Some(changed_trust.into()),
                ..Default::default()
            },
        ),
        (
            "description and session duration through one UpdateRole",
            RoleSpec {
                description: Some("web".into()),
                max_session_duration: Some(7200),
                ..spec()
            },
            observed(),
            RoleDelta {
                update: Some(RoleUpdate {
                    description: Some("web".into()),
                    max_session_duration: Some(7200),
                }),
                ..Default::default()
            },
        ),
        (
            "an absent description is left alone",
            spec(),
            ObservedRole {
                description: Some("set elsewhere".into()),
                ..observed()
            },
            RoleDelta::default(),
        ),
    ];
    for (name, desired, obs, want) in cases {
        assert_eq!(role_delta(&desired, &obs), want, "{name}");
    }
}

#[test]
fn delta_table_of_policies_boundary_and_tags() {
    type Case = (&'static str, RoleSpec, ObservedRole, RoleDelta);
    let cases: Vec<Case> = vec![
        (
            "managed policies as a set",
            RoleSpec {
                policies: Some(owned(&["arn:b", "arn:a"])),
                ..spec()
            },
            ObservedRole {
                policies: owned(&["arn:a", "arn:c"]),
                ..observed()
            },
            RoleDelta {
                attach: owned(&["arn:b"]),
                detach: owned(&["arn:c"]),
                ..Default::default()
            },
        ),
        (
            "absent policies detach every one (ACK)",
            spec(),
            ObservedRole {
                policies: owned(&["arn:a"]),
                ..observed()
            },
            RoleDelta {
                detach: owned(&["arn:a"]),
                ..Default::default()
            },
        ),
        (
            "inline policies: put the new and changed, delete the gone, keep the same",
            RoleSpec {
                inline_policies: Some(BTreeMap::from([
                    ("same".to_owned(), READ.to_owned()),
                    ("changed".to_owned(), READ.replace("GetObject", "PutObject")),
                    ("new".to_owned(), READ.to_owned()),
                ])),
                ..spec()
            },
            ObservedRole {
                inline_policies: BTreeMap::from([
                    (
                        "same".to_owned(),
                        // reformatted: the same policy
                        READ.replace(r#""Resource":"*""#, r#""Resource": ["*"]"#),
                    ),
                    ("changed".to_owned(), READ.to_owned()),
                    ("gone".to_owned(), READ.to_owned()),
                ]),
                ..observed()
            },
            RoleDelta {
                put_inline: vec![
                    ("changed".into(), READ.replace("GetObject", "PutObject")),
                    ("new".into(), READ.into()),
                ],
                delete_inline: owned(&["gone"]),
                ..Default::default()
            },
        ),
        (
            "a boundary put, then removed when absent",
            RoleSpec {
                permissions_boundary: Some("arn:boundary".into()),
                ..spec()
            },
            observed(),
            RoleDelta {
                boundary: Some(Some("arn:boundary".into())),
                ..Default::default()
            },
        ),
        (
            "an absent boundary is deleted",
            spec(),
            ObservedRole {
                permissions_boundary: Some("arn:boundary".into()),
                ..observed()
            },
            RoleDelta {
                boundary: Some(None),
                ..Default::default()
            },
        ),
        (
            "tags as a set; absent tags remove the user's",
            RoleSpec {
                tags: Some(vec![Tag::new("team", "b")]),
                ..spec()
            },
            ObservedRole {
                tags: vec![Tag::new("team", "a"), Tag::new("old", "x")],
                ..observed()
            },
            RoleDelta {
                tags: TagDelta {
                    add: vec![Tag::new("team", "b")],
                    remove: vec!["old".into()],
                },
                ..Default::default()
            },
        ),
    ];
    for (name, desired, obs, want) in cases {
        assert_eq!(role_delta(&desired, &obs), want, "{name}");
    }
}

#[test]
fn check_names_the_field_and_the_bound() {
    let cases: Vec<(RoleSpec, &str)> = vec![
        (
            RoleSpec {
                max_session_duration: Some(100),
                ..spec()
            },
            "spec.maxSessionDuration is 100: IAM accepts 3600 to 43200",
        ),
        (
            RoleSpec {
                max_session_duration: Some(50_000),
                ..spec()
            },
            "spec.maxSessionDuration is 50000",
        ),
        (
            RoleSpec {
                policies: Some((0..21).map(|i| format!("arn:p{i}")).collect()),
                ..spec()
            },
            "spec.policies has 21 policies: IAM attaches at most 20",
        ),
        (
            RoleSpec {
                inline_policies: Some(BTreeMap::from([(
                    "big".to_owned(),
                    format!(r#"{{"Statement":"{}"}}"#, "x".repeat(MAX_INLINE_SIZE)),
                )])),
                ..spec()
            },
            "spec.inlinePolicies hold ",
        ),
        (
            RoleSpec {
                inline_policies: Some(BTreeMap::from([(String::new(), READ.to_owned())])),
                ..spec()
            },
            "spec.inlinePolicies has a policy with an empty name",
        ),
        (
            RoleSpec {
                tags: Some(vec![Tag::new("aws:reserved", "x")]),
                ..spec()
            },
            "spec.tags[0].key \"aws:reserved\"",
        ),
    ];
    for (s, want) in cases {
        let err = check(&s).unwrap_err();
        assert!(matches!(err, SyncError::Terminal(_)), "{err:?}");
        assert!(err.to_string().starts_with(want), "{err}");
    }
    assert!(
        check(&RoleSpec {
            max_session_duration: Some(43200),
            policies: Some(owned(&["arn:a"])),
            ..spec()
        })
        .is_ok()
    );
}

#[test]
fn late_initialization_fills_path_and_session_duration() {
    assert_eq!(
        late_init(&spec(), &observed()),
        Some(json!({"path": "/", "maxSessionDuration": 3600}))
    );
    let full = RoleSpec {
        path: Some("/".into()),
        max_session_duration: Some(7200),
        ..spec()
    };
    assert_eq!(late_init(&full, &observed()), None, "the spec says");
}

#[test]
fn adopted_spec_carries_iams_state() {
    let obs = ObservedRole {
        description: Some("d".into()),
        permissions_boundary: Some("arn:b".into()),
        policies: owned(&["arn:a"]),
        inline_policies: BTreeMap::from([("p".to_owned(), READ.to_owned())]),
        tags: vec![Tag::new("k", "v")],
        ..observed()
    };
    let spec = adopted_spec("app", &obs);
    assert_eq!(
        spec,
        json!({
            "name": "app",
            "assumeRolePolicyDocument": TRUST,
            "path": "/",
            "description": "d",
            "maxSessionDuration": 3600,
            "permissionsBoundary": "arn:b",
            "policies": ["arn:a"],
            "inlinePolicies": {"p": READ},
            "tags": [{"key": "k", "value": "v"}],
        })
    );
    // Adopting and then diffing against the adopted spec changes nothing in IAM.
    let parsed: RoleSpec = serde_json::from_value(spec).unwrap();
    assert!(role_delta(&parsed, &obs).is_empty());
}

/// AWS managed policies (which moto has only with `MOTO_IAM_LOAD_MANAGED_POLICIES=true`) are
/// ARNs like any other: attached, detached and adopted by ARN, in any partition.
#[test]
fn aws_managed_policies_are_attached_by_arn() {
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let cn = "arn:aws-cn:iam::aws:policy/AmazonS3ReadOnlyAccess";
    let desired = RoleSpec {
        policies: Some(owned(&[read_only, cn])),
        ..spec()
    };
    let delta = role_delta(&desired, &observed());
    assert_eq!(delta.attach, owned(&[cn, read_only]));
    let attached = ObservedRole {
        policies: owned(&[read_only, cn]),
        ..observed()
    };
    assert!(role_delta(&desired, &attached).is_empty());
    assert_eq!(
        adopted_spec("app", &attached)["policies"],
        json!([read_only, cn])
    );
}

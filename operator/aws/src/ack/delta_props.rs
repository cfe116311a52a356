//! Property tests of the ACK spec deltas (issue 15.3), at high case counts: what a delta sends
//! makes AWS match the spec, and what AWS keeps of a spec in its own canonical form shows no
//! difference, so nothing is sent again and again. Each case is small and pure (no AWS).

use proptest::prelude::*;

use crate::ack::types::{Tag, is_ignored_tag, is_system_tag, tag_delta, tag_map};

/// Tag keys from a small alphabet, so desired and observed share keys often; AWS's `aws:*`
/// system keys and ACK's `services.k8s.aws/*` keys among them.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("team".to_string()),
        Just("env".to_string()),
        Just("Name".to_string()),
        Just("aws:cloudformation:stack-name".to_string()),
        Just("AWS:x".to_string()),
        Just("services.k8s.aws/namespace".to_string()),
        Just("services.k8s.aws/creation-token".to_string()),
        "[a-z]{1,3}",
    ]
}

fn tags() -> impl Strategy<Value = Vec<Tag>> {
    prop::collection::vec((key(), "[a-c]{0,2}"), 0..8)
        .prop_map(|pairs| pairs.into_iter().map(|(k, v)| Tag::new(k, v)).collect())
}

/// What AWS holds after the delta's calls: the removed keys gone, the added tags set.
fn apply(observed: &[Tag], delta: &crate::ack::types::TagDelta) -> Vec<Tag> {
    let mut map = tag_map(observed);
    for key in &delta.remove {
        map.remove(key);
    }
    for tag in &delta.add {
        map.insert(
            tag.key.clone().unwrap_or_default(),
            tag.value.clone().unwrap_or_default(),
        );
    }
    map.into_iter().map(|(k, v)| Tag::new(k, v)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// One round of tag calls converges, touches no AWS system tag, and removes none of ACK's
    /// own keys that the spec does not list.
    #[test]
    fn tag_calls_converge_in_one_round_and_leave_system_and_ack_tags(
        desired in tags(),
        observed in tags(),
    ) {
        let delta = tag_delta(&desired, &observed);
        prop_assert!(delta.add.iter().all(|t| !t.key.as_deref().is_some_and(is_system_tag)));
        let listed = tag_map(&desired);
        for key in &delta.remove {
            prop_assert!(!is_ignored_tag(key) || listed.contains_key(key), "removed {key}");
        }
        let after = apply(&observed, &delta);
        let again = tag_delta(&desired, &after);
        prop_assert!(again.add.is_empty() && again.remove.is_empty(), "{again:?}");
        // Every system tag AWS had is still there.
        let before = tag_map(&observed);
        let kept = tag_map(&after);
        for (k, v) in before.iter().filter(|(k, _)| is_system_tag(k)) {
            prop_assert_eq!(kept.get(k), Some(v));
        }
    }
}

#[cfg(feature = "ec2")]
mod security_group {
    use proptest::prelude::*;

    use crate::ec2::security_group::{
        IPPermission, IPRange, Pending, desired_grants, grant_delta, observed_grants,
        sdk_permission,
    };

    /// A rule as users write it: protocol by name or number in any case, ports where the
    /// protocol has them, IPv4 blocks with host bits set or not, descriptions or none.
    fn rule() -> impl Strategy<Value = IPPermission> {
        let protocol = prop_oneof![
            Just("tcp"),
            Just("TCP"),
            Just("6"),
            Just("udp"),
            Just("17"),
            Just("icmp"),
            Just("1"),
            Just("-1"),
            Just("all"),
        ];
        let block = (any::<[u8; 4]>(), 8u8..=32, prop::option::of("[a-z ]{1,8}")).prop_map(
            |(ip, prefix, description)| IPRange {
                cidr_ip: Some(format!("{}.{}.{}.{}/{prefix}", ip[0], ip[1], ip[2], ip[3])),
                description,
            },
        );
        (
            protocol,
            0i64..1024,
            0i64..64,
            prop::collection::vec(block, 1..4),
        )
            .prop_map(|(protocol, from, span, ranges)| {
                let icmp = matches!(protocol, "icmp" | "1");
                let all = matches!(protocol, "-1" | "all");
                let (from, to) = if icmp {
                    (from % 40, (from % 40 + span) % 16)
                } else {
                    (from, from + span)
                };
                IPPermission {
                    ip_protocol: Some(protocol.to_string()),
                    from_port: (!all).then_some(from),
                    to_port: (!all).then_some(to),
                    ip_ranges: Some(ranges),
                    ..Default::default()
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// What EC2 stores of the spec's rules (each grant sent as the authorize call sends
        /// it, read back as a describe reports it) equals the spec's own grants: no rule is
        /// authorized or revoked again at the next sync.
        #[test]
        fn rules_as_ec2_keeps_them_show_no_difference(rules in prop::collection::vec(rule(), 0..5)) {
            let mut pending = Pending::default();
            let desired = desired_grants("spec.ingressRules", Some(&rules), "sg-self", Some("123"), &mut pending)
                .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let sent: Vec<_> = desired
                .iter()
                .map(|(grant, description)| sdk_permission(grant, description.as_deref()))
                .collect();
            let observed = observed_grants(&sent, Some("123"));
            let delta = grant_delta(&desired, &observed);
            prop_assert!(delta.is_empty(), "{delta:?}");
        }

        /// From any rules AWS has to any the spec has: revoking and authorizing what the delta
        /// names leaves exactly the spec's grants.
        #[test]
        fn one_round_of_rule_calls_converges(
            want in prop::collection::vec(rule(), 0..4),
            have in prop::collection::vec(rule(), 0..4),
        ) {
            let mut pending = Pending::default();
            let desired = desired_grants("spec.ingressRules", Some(&want), "sg-self", None, &mut pending)
                .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let mut observed = desired_grants("spec.ingressRules", Some(&have), "sg-self", None, &mut pending)
                .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let delta = grant_delta(&desired, &observed);
            for (grant, _) in &delta.revoke {
                observed.remove(grant);
            }
            for (grant, description) in delta.authorize.iter().chain(&delta.describe) {
                observed.insert(grant.clone(), description.clone());
            }
            prop_assert_eq!(&observed, &desired);
        }
    }
}

#[cfg(feature = "iam")]
mod policy_document {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::iam::document::equal;

    /// Percent-encodes every byte but letters and digits, as IAM returns documents.
    fn url_encode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    fn statement() -> impl Strategy<Value = Value> {
        (
            prop::sample::select(vec!["Allow", "Deny"]),
            prop::collection::vec("s3:[A-Z][a-z]{1,6}", 1..4),
            prop::collection::vec("arn:aws:s3:::[a-z]{1,5}", 1..3),
        )
            .prop_map(|(effect, actions, resources)| {
                json!({"Effect": effect, "Action": actions, "Resource": resources})
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The same policy written another way (URL-encoded as IAM returns it, statements,
        /// actions and resources reordered, a lone statement not in a list) is equal, so it is
        /// never sent again; a changed action is not.
        #[test]
        fn the_same_policy_in_any_form_is_equal_and_a_changed_one_is_not(
            statements in prop::collection::vec(statement(), 1..4),
        ) {
            let desired = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
            let mut reordered: Vec<Value> = statements.clone();
            reordered.reverse();
            for s in &mut reordered {
                if let Some(actions) = s["Action"].as_array_mut() {
                    actions.reverse();
                }
                if let Some(resources) = s["Resource"].as_array_mut() {
                    resources.reverse();
                }
            }
            let statement_field = if reordered.len() == 1 {
                reordered[0].clone()
            } else {
                Value::Array(reordered)
            };
            let observed = url_encode(
                &serde_json::to_string_pretty(&json!({"Statement": statement_field, "Version": "2012-10-17"}))
                    .unwrap(),
            );
            prop_assert!(equal(&desired, &observed), "{desired} vs {observed}");
            let mut changed = statements.clone();
            changed[0]["Action"] = json!(["s3:ChangedAction"]);
            let changed = json!({"Version": "2012-10-17", "Statement": changed}).to_string();
            prop_assert!(!equal(&changed, &observed), "{changed} vs {observed}");
        }
    }
}

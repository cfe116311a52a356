//! Pure tests of the instance controller's helpers: the wake predicate, observed objects,
//! condition bookkeeping.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kro_api::condition::{reasons, types};
use kro_api::metadata::{FINALIZER, annotations, labels};
use kro_api::{Condition, ConditionStatus};
use kro_runtime::{Observed, ObservedNode};
use kube::api::DynamicObject;
use serde_json::{Value, json};

use super::observe::{find_observed, record_observed};
use super::status::set_condition;
use super::wake_hash;

fn instance(patch: impl FnOnce(&mut DynamicObject)) -> DynamicObject {
    let mut o: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "e2e.kro.run/v1alpha1",
        "kind": "Web",
        "metadata": {
            "name": "a", "namespace": "ns", "uid": "u1", "generation": 1,
            "resourceVersion": "10", "labels": {"team": "x"},
        },
        "spec": {"replicas": 1},
    }))
    .expect("valid instance");
    patch(&mut o);
    o
}

#[test]
fn kros_own_writes_do_not_wake_the_instance_but_users_changes_do() {
    let base = wake_hash(&instance(|_| {}));
    let kro_wrote = instance(|o| {
        o.metadata.resource_version = Some("12".into());
        o.data["status"] = json!({"state": "ACTIVE"});
        o.metadata.finalizers = Some(vec![FINALIZER.into()]);
        let l = o.metadata.labels.get_or_insert_with(Default::default);
        l.insert(labels::OWNED.into(), labels::OWNED_VALUE.into());
        l.insert(labels::APPLYSET_ID.into(), "applyset-x-v1".into());
        o.metadata.annotations = Some(
            [
                (annotations::APPLYSET_TOOLING, "kro/v0"),
                (annotations::APPLYSET_CONTAINS_GROUP_KINDS, "ConfigMap"),
                (annotations::APPLYSET_INVENTORY_HASH, "sha256:x"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
    });
    assert_eq!(wake_hash(&kro_wrote), base);
    let user_changes: [fn(&mut DynamicObject); 4] = [
        |o| o.metadata.generation = Some(2),
        |o| o.metadata.deletion_timestamp = Some(Time(Default::default())),
        |o| {
            o.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("team".into(), "y".into());
        },
        |o| {
            o.metadata.annotations =
                Some([(annotations::RECONCILE.to_string(), "suspended".to_string())].into());
        },
    ];
    for change in user_changes {
        assert_ne!(wake_hash(&instance(change)), base);
    }
}

fn obj(ns: &str, name: &str, v: i64) -> Value {
    json!({"metadata": {"namespace": ns, "name": name}, "data": {"v": v}})
}

#[test]
fn observed_objects_are_found_by_identity() {
    let mut o = Observed::new();
    o.insert("single", obj("a", "x", 1));
    o.insert_list("coll", vec![obj("a", "i0", 1), obj("a", "i1", 2)]);
    for (node, ns, name, want) in [
        ("single", Some("a"), "x", Some(1)),
        ("single", Some("b"), "x", None),
        ("single", Some("a"), "y", None),
        ("coll", Some("a"), "i1", Some(2)),
        ("coll", Some("a"), "i9", None),
        ("missing", Some("a"), "x", None),
    ] {
        let got = find_observed(&o, node, ns, name).map(|v| v["data"]["v"].as_i64().unwrap());
        assert_eq!(got, want, "{node} {ns:?} {name}");
    }
}

#[test]
fn applied_results_replace_or_extend_what_was_observed() {
    let mut o = Observed::new();
    record_observed(&mut o, "single", false, obj("a", "x", 1));
    record_observed(&mut o, "single", false, obj("a", "x", 2));
    assert_eq!(
        find_observed(&o, "single", Some("a"), "x").unwrap()["data"]["v"],
        2
    );
    record_observed(&mut o, "coll", true, obj("a", "i0", 1));
    record_observed(&mut o, "coll", true, obj("a", "i1", 1));
    record_observed(&mut o, "coll", true, obj("a", "i0", 5));
    match o.nodes.get("coll") {
        Some(ObservedNode::List(items)) => {
            assert_eq!(items.len(), 2);
            assert_eq!(items[0]["data"]["v"], 5);
        }
        other => panic!("expected a list, got {other:?}"),
    }
}

#[test]
fn set_condition_keeps_transition_time_while_status_holds() {
    let mut status = json!({});
    let c = || {
        Condition::new(
            types::READY,
            ConditionStatus::Unknown,
            reasons::UNDER_DELETION,
            "m",
        )
    };
    let now = Time("2026-01-01T00:00:00Z".parse().unwrap());
    let later = Time("2026-01-01T00:05:00Z".parse().unwrap());
    set_condition(&mut status, c(), 2, &now);
    let first = status.clone();
    set_condition(&mut status, c(), 2, &later);
    assert_eq!(first, status);
    assert_eq!(status["conditions"][0]["observedGeneration"], 2);
    let mut flipped = c();
    flipped.status = ConditionStatus::False;
    set_condition(&mut status, flipped, 2, &later);
    assert_eq!(status["conditions"].as_array().unwrap().len(), 1);
    assert_eq!(status["conditions"][0]["status"], "False");
}

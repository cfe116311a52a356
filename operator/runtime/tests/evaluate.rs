//! Runtime behaviour a user sees: what is applied, what waits and why, what is skipped,
//! readiness, status, collections, external refs and pruning.

#![allow(clippy::unwrap_used)]

use kro_api::{InstanceState, NodeState};
use kro_graph::{CompileOptions, CompiledGraph, NoSchemas};
use kro_runtime::{ObjectRef, Observed, evaluate};
use serde_json::{Value, json};

fn graph(resources: Value, status: Value) -> CompiledGraph {
    let mut schema = json!({"apiVersion": "v1alpha1", "kind": "App",
        "spec": {"name": "string", "enabled": "boolean | default=true", "regions": "[]string", "tiers": "[]string"}});
    if !status.is_null() {
        schema["status"] = status;
    }
    let opts = CompileOptions {
        omit_enabled: true,
        ..CompileOptions::default()
    };
    kro_graph::compile(
        &json!({"spec": {"schema": schema, "resources": resources}}),
        &NoSchemas,
        &opts,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn instance(spec: Value) -> Value {
    json!({"apiVersion": "kro.run/v1alpha1", "kind": "App",
        "metadata": {"name": "demo", "namespace": "team", "uid": "u-1", "generation": 4}, "spec": spec})
}

fn cm(id: &str, name: &str, data: Value) -> Value {
    json!({"id": id, "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}})
}

fn state(p: &kro_runtime::Plan, id: &str) -> (NodeState, Option<String>) {
    let n = p.node(id).unwrap();
    (n.state, n.message.clone())
}

#[test]
fn dependents_wait_until_dependencies_are_observed_and_ready() {
    let g = graph(
        json!([
            {"id": "a", "readyWhen": ["${a.data.ready == 'yes'}"],
             "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${schema.spec.name}-a"}, "data": {"ready": "no"}}},
            cm("b", "${a.metadata.name}-b", json!({"from": "${a.data.ready}"})),
        ]),
        json!({"aName": "${a.metadata.name}", "bFrom": "${b.data.from}"}),
    );
    let inst = instance(json!({"name": "demo"}));

    // First pass: nothing observed. a is applied, b waits for a.
    let p = evaluate(&g, &inst, &Observed::new());
    assert_eq!(p.apply.len(), 1);
    assert_eq!(p.apply[0].name(), "demo-a");
    assert_eq!(p.apply[0].namespace(), Some("team"));
    assert_eq!(state(&p, "a").0, NodeState::WaitingForReadiness);
    assert_eq!(
        state(&p, "b"),
        (
            NodeState::InProgress,
            Some("waiting for dependency \"a\" to be ready".into())
        )
    );
    assert_eq!(p.state, InstanceState::InProgress);
    assert!(p.requeue && !p.prune_allowed);
    assert_eq!(
        p.status.get("bFrom"),
        None,
        "pending status fields are left out"
    );

    // a observed but its readyWhen is false.
    let mut obs = Observed::new();
    obs.insert("a", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo-a", "namespace": "team"}, "data": {"ready": "no"}}));
    let p = evaluate(&g, &inst, &obs);
    assert_eq!(state(&p, "a").0, NodeState::WaitingForReadiness);
    assert!(state(&p, "a").1.unwrap().contains("readyWhen is false"));
    assert_eq!(p.status["aName"], "demo-a");

    // a ready: b is rendered from a's observed data.
    obs.insert("a", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "demo-a", "namespace": "team"}, "data": {"ready": "yes"}}));
    let p = evaluate(&g, &inst, &obs);
    assert_eq!(state(&p, "a").0, NodeState::Synced);
    assert_eq!(p.apply[1].object["data"]["from"], "yes");
    assert_eq!(p.apply[1].name(), "demo-a-b");

    // Everything observed: ACTIVE with kro's conditions.
    obs.insert("b", p.apply[1].object.clone());
    let p = evaluate(&g, &inst, &obs);
    assert_eq!(p.state, InstanceState::Active);
    assert!(p.prune_allowed && !p.requeue);
    let types: Vec<(&str, &str, &str)> = p
        .conditions
        .iter()
        .map(|c| {
            (
                c.type_.as_str(),
                c.status.as_str(),
                c.reason.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        types,
        vec![
            ("InstanceManaged", "True", "Managed"),
            ("GraphResolved", "True", "Resolved"),
            ("ResourcesReady", "True", "AllResourcesReady"),
            ("Ready", "True", "Ready"),
        ]
    );
    assert!(p.conditions.iter().all(|c| c.observed_generation == 4));
    assert_eq!(p.status["state"], "ACTIVE");
    assert_eq!(p.status["bFrom"], "yes");
}

#[test]
fn include_when_false_skips_the_node_and_its_dependents() {
    let g = graph(
        json!([
            {"id": "a", "includeWhen": ["${schema.spec.enabled}"], "template":
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}},
            cm("b", "${a.metadata.name}-b", json!({})),
            cm("c", "c", json!({})),
        ]),
        Value::Null,
    );
    let p = evaluate(
        &g,
        &instance(json!({"name": "x", "enabled": false})),
        &Observed::new(),
    );
    assert_eq!(state(&p, "a").0, NodeState::Skipped);
    assert_eq!(
        state(&p, "b"),
        (
            NodeState::Skipped,
            Some("dependency \"a\" is not included".into())
        )
    );
    let names: Vec<&str> = p.apply.iter().map(|d| d.name()).collect();
    assert_eq!(names, vec!["c"]);

    // Default (enabled=true) includes it.
    let p = evaluate(
        &g,
        &instance(json!({"name": "x", "enabled": true})),
        &Observed::new(),
    );
    assert_eq!(p.apply[0].name(), "a");
}

#[test]
fn collections_expand_the_cartesian_product_in_order() {
    let g = graph(
        json!([{"id": "cms", "forEach": [{"region": "${schema.spec.regions}"}, {"tier": "${schema.spec.tiers}"}],
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${region}-${tier}"}, "data": {"r": "${region}"}}}]),
        Value::Null,
    );
    let inst =
        instance(json!({"name": "x", "regions": ["us", "eu"], "tiers": ["web", "db", "cache"]}));
    let p = evaluate(&g, &inst, &Observed::new());
    let names: Vec<&str> = p.apply.iter().map(|d| d.name()).collect();
    assert_eq!(
        names,
        vec!["us-web", "us-db", "us-cache", "eu-web", "eu-db", "eu-cache"]
    );
    let l = &p.apply[4].object["metadata"]["labels"];
    assert_eq!(l["kro.run/collection-index"], "4");
    assert_eq!(l["kro.run/collection-size"], "6");
    assert_eq!(l["kro.run/node-id"], "cms");

    // Observing every item makes the collection ready.
    let mut obs = Observed::new();
    obs.insert_list("cms", p.apply.iter().map(|d| d.object.clone()).collect());
    let p = evaluate(&g, &inst, &obs);
    assert_eq!(state(&p, "cms").0, NodeState::Synced);

    // An empty dimension gives an empty (ready) collection.
    let p = evaluate(
        &g,
        &instance(json!({"name": "x", "regions": [], "tiers": ["a"]})),
        &Observed::new(),
    );
    assert!(p.apply.is_empty());
    assert_eq!(state(&p, "cms").0, NodeState::Synced);
}

#[test]
fn duplicate_identities_and_non_lists_are_errors() {
    let g = graph(
        json!([{"id": "cms", "forEach": [{"r": "${schema.spec.regions}"}],
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${r == 'a' ? 'same' : 'same'}"}}}]),
        Value::Null,
    );
    let p = evaluate(
        &g,
        &instance(json!({"name": "x", "regions": ["a", "b"]})),
        &Observed::new(),
    );
    let (s, m) = state(&p, "cms");
    assert_eq!(s, NodeState::Error);
    assert!(m.unwrap().contains("duplicate identity"));
    assert_eq!(p.state, InstanceState::Error);
    let rr = p
        .conditions
        .iter()
        .find(|c| c.type_ == "ResourcesReady")
        .unwrap();
    assert!(
        rr.message
            .as_deref()
            .unwrap()
            .starts_with("resource error: cms: ")
    );
}

#[test]
fn external_refs_are_read_not_applied() {
    let g = graph(
        json!([
            {"id": "settings", "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${schema.spec.name}"}}},
            cm("app", "app", json!({"v": "${settings.data.value}"})),
        ]),
        Value::Null,
    );
    let inst = instance(json!({"name": "shared"}));
    let p = evaluate(&g, &inst, &Observed::new());
    assert!(p.apply.is_empty());
    assert_eq!(p.external_reads.len(), 1);
    assert_eq!(p.external_reads[0].name.as_deref(), Some("shared"));
    assert_eq!(p.external_reads[0].namespace.as_deref(), Some("team"));
    assert_eq!(
        state(&p, "settings"),
        (
            NodeState::InProgress,
            Some("waiting for external reference \"settings\": not found".into())
        )
    );
    let mut obs = Observed::new();
    obs.insert("settings", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"value": "42"}}));
    let p = evaluate(&g, &inst, &obs);
    assert_eq!(p.apply.len(), 1);
    assert_eq!(p.apply[0].object["data"]["v"], "42");
}

#[test]
fn missing_data_waits_and_omit_removes_fields() {
    let g = graph(
        json!([cm(
            "a",
            "a",
            json!({"x": "${schema.spec.?name.orValue('') == '' ? omit() : schema.spec.name}", "y": "fixed"})
        )]),
        Value::Null,
    );
    let p = evaluate(&g, &instance(json!({})), &Observed::new());
    assert_eq!(p.apply[0].object["data"], json!({"y": "fixed"}));
    let p = evaluate(&g, &instance(json!({"name": "n"})), &Observed::new());
    assert_eq!(p.apply[0].object["data"], json!({"x": "n", "y": "fixed"}));

    let g = graph(
        json!([cm("a", "${schema.spec.name}", json!({}))]),
        Value::Null,
    );
    let p = evaluate(&g, &instance(json!({})), &Observed::new());
    let (s, m) = state(&p, "a");
    assert_eq!(s, NodeState::InProgress);
    assert!(m.unwrap().contains("no such key"));
    assert!(p.apply.is_empty() && p.requeue);
}

#[test]
fn prune_lists_objects_that_dropped_out_dependents_first() {
    let g = graph(
        json!([
            cm("a", "a", json!({})),
            {"id": "b", "includeWhen": ["${schema.spec.enabled}"], "template":
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"a": "${a.metadata.name}"}}},
        ]),
        Value::Null,
    );
    let mut obs = Observed::new();
    obs.insert("a", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "team"}}));
    let r = |name: &str, node: &str| ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("team".into()),
        name: name.into(),
        node_id: node.into(),
    };
    let previous = vec![r("a", "a"), r("b", "b"), r("old", "gone")];
    let p = evaluate(&g, &instance(json!({"name": "x", "enabled": false})), &obs);
    assert_eq!(
        kro_runtime::prune(&previous, &p),
        vec![r("old", "gone"), r("b", "b")]
    );
    // Nothing is pruned while something waits on data.
    let p = evaluate(
        &g,
        &instance(json!({"name": "x", "enabled": true})),
        &Observed::new(),
    );
    assert!(kro_runtime::prune(&previous, &p).is_empty());
}

#[test]
fn evaluation_is_deterministic() {
    let g = graph(
        json!([{"id": "a", "template": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": "${{'z': 'x', 'a': 'y', 'm': schema.spec.name}}"},
            "data": "${{'k2': 'v', 'k1': 'w'}}"}}]),
        Value::Null,
    );
    let inst = instance(json!({"name": "x"}));
    let first = serde_json::to_string(&evaluate(&g, &inst, &Observed::new())).unwrap();
    for _ in 0..5 {
        assert_eq!(
            first,
            serde_json::to_string(&evaluate(&g, &inst, &Observed::new())).unwrap()
        );
    }
}

#[test]
fn merge_conditions_keeps_transition_times() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kro_api::{Condition, ConditionStatus, Conditions};
    let at = |text: &str| Time(text.parse().unwrap());
    let old = vec![Condition::new("Ready", ConditionStatus::True, "Ready", "")];
    let mut old = Conditions::merge(&[], old, &at("2026-01-01T00:00:00Z")).into_vec();
    let stamped = old[0].last_transition_time.clone();
    assert!(stamped.is_some());
    let same = Conditions::merge(&old, old.clone(), &at("2026-02-02T00:00:00Z")).into_vec();
    assert_eq!(same[0].last_transition_time, stamped);
    old[0].status = ConditionStatus::False;
    let flipped = Conditions::merge(
        &same,
        [Condition::new(
            "Ready",
            ConditionStatus::False,
            "NotReady",
            "x",
        )],
        &at("2026-02-02T00:00:00Z"),
    )
    .into_vec();
    assert_ne!(flipped[0].last_transition_time, stamped);
}

#[test]
fn author_conditions_replace_the_built_in_ones() {
    let g = graph(
        json!([cm("a", "a", json!({"v": "${schema.spec.name}"}))]),
        json!({"conditions": [
            "${runtime.newCondition({type: 'ConfigReady', status: has(a.data) ? 'True' : 'False', reason: 'Checked', message: 'config ' + a.metadata.name})}",
            "${[runtime.newCondition({type: 'Named', status: schema.spec.name == 'x' ? 'True' : 'False'})]}"
        ]}),
    );
    let inst = instance(json!({"name": "x"}));
    let mut obs = Observed::new();
    obs.insert("a", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"v": "x"}}));
    let p = evaluate(&g, &inst, &obs);
    let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = p
        .conditions
        .iter()
        .map(|c| {
            (
                c.type_.as_str(),
                c.status.as_str(),
                c.reason.as_deref(),
                c.message.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("ConfigReady", "True", Some("Checked"), Some("config a")),
            ("Named", "True", None, None),
        ]
    );
    assert_eq!(p.status["conditions"][0]["type"], "ConfigReady");
    assert_eq!(p.state, InstanceState::Active);
}

#[test]
fn readiness_of_applied_objects() {
    let g = graph(
        json!([{"id": "a", "readyWhen": ["${a.data.ok == 'yes'}"],
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}}, cm("b", "b", json!({}))]),
        Value::Null,
    );
    let ready = |id: &str, o: Value| kro_runtime::readiness_of(&g, id, &[o]).unwrap();
    assert!(ready("a", json!({"data": {"ok": "yes"}})).ready);
    let not = ready("a", json!({"data": {"ok": "no"}}));
    assert_eq!(
        (not.state, not.ready),
        (NodeState::WaitingForReadiness, false)
    );
    assert_eq!(ready("b", json!({})).state, NodeState::Synced);
    assert!(kro_runtime::readiness_of(&g, "nope", &[]).is_none());
}

#[test]
fn orphan_deletion_policy_is_recorded_on_every_child() {
    let g = graph(
        json!([
            {"id": "kept", "deletionPolicy": "Orphan",
             "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}}},
            {"id": "regional", "deletionPolicy": "Orphaned", "forEach": [{"region": "${schema.spec.regions}"}],
             "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${region}"}}},
            {"id": "plain",
             "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}}}
        ]),
        Value::Null,
    );
    let p = evaluate(
        &g,
        &instance(json!({"name": "x", "regions": ["us", "eu"]})),
        &Observed::new(),
    );
    let policy = |name: &str| {
        let desired = p.apply.iter().find(|d| d.name() == name).unwrap();
        desired.object["metadata"]["annotations"]["internal.kro.run/deletion-policy"].clone()
    };
    assert_eq!(policy("kept"), "Orphan");
    assert_eq!(policy("us"), "Orphan");
    assert_eq!(policy("eu"), "Orphan");
    assert_eq!(policy("plain"), Value::Null);
}

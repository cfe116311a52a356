//! What one evaluation of one instance may spend: desired objects and their bytes across every
//! node (`--instance-max-objects`, `--instance-max-desired-bytes`), stopped as the objects are
//! built, and a wall-clock deadline (`--instance-evaluation-timeout`) that stops even an
//! expression that would run for hours. A stopped plan applies nothing, reads nothing, prunes
//! nothing, and says in the instance's status which bound, node and flag.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use kro_api::{InstanceState, NodeState};
use kro_graph::{CompileOptions, CompiledGraph, NoSchemas};
use kro_runtime::{
    EvaluationDeadline, Observed, Options, Plan, StoppedBy, evaluate_with, json_size,
};
use serde_json::{Value, json};

/// About 10^10 comprehension steps: only a deadline stops it (the budget below is 10^15).
const ENDLESS: &str = "lists.range(100000).all(i, lists.range(100000).all(j, i + j >= 0))";

fn graph(resources: Value, status: Value) -> CompiledGraph {
    let schema = json!({"apiVersion": "v1alpha1", "kind": "App",
        "spec": {"blob": "string | default=\"\"", "count": "integer | default=1"},
        "status": status});
    let opts = CompileOptions {
        cel_cost_limit: 1_000_000_000_000_000,
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
        "metadata": {"name": "demo", "namespace": "team", "uid": "u-1", "generation": 2},
        "spec": spec,
        "status": {"state": "ACTIVE", "endpoint": "kept"}})
}

fn cm(id: &str, name: &str, data: Value) -> Value {
    json!({"id": id, "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}})
}

/// A forEach of `${schema.spec.count}` ConfigMaps, each carrying a copy of `schema.spec.blob`.
fn copies() -> Value {
    json!({"id": "copies", "forEach": [{"i": "${lists.range(schema.spec.count)}"}],
        "template": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${'copy-' + string(i)}"},
            "data": {"blob": "${schema.spec.blob}"}}})
}

fn options(max_bytes: u64, max_objects: usize) -> Options {
    Options {
        max_desired_bytes: max_bytes,
        max_objects,
        ..Options::default()
    }
}

fn ready_condition(plan: &Plan) -> (String, String) {
    let ready = plan.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    (
        format!("{:?}", ready.status),
        ready.message.clone().unwrap_or_default(),
    )
}

/// What every stopped plan has in common: nothing to apply or read, no prune, ERROR.
fn assert_stopped_cleanly(plan: &Plan) {
    assert!(plan.apply.is_empty(), "nothing is applied");
    assert!(plan.external_reads.is_empty());
    assert!(!plan.prune_allowed, "nothing is pruned");
    assert_eq!(plan.state, InstanceState::Error);
    assert_eq!(plan.status["state"], "ERROR");
    assert_eq!(
        plan.status["endpoint"], "kept",
        "status fields projected before stay as they were"
    );
}

#[test]
fn a_foreach_copying_a_large_field_stops_at_the_byte_budget_not_after_it() {
    let g = graph(
        json!([cm("first", "first", json!({"k": "v"})), copies()]),
        json!({}),
    );
    // 1,000 copies of 100 kB would be 100 MB; the budget is 1 MiB.
    let blob = "x".repeat(100_000);
    let inst = instance(json!({"blob": blob, "count": 1000}));
    let plan = evaluate_with(&g, &inst, &Observed::new(), &options(1024 * 1024, 5000));
    assert_stopped_cleanly(&plan);
    let stopped = plan.stopped.as_ref().unwrap();
    assert_eq!(stopped.by, StoppedBy::Budget);
    assert_eq!(stopped.at, "copies");
    // Ten items fit in 1 MiB; the 11th passes it while its field is set: nothing past it is
    // built.
    for part in [
        "at forEach item 11 of 1000",
        "1048576 bytes (1 MiB)",
        "--instance-max-desired-bytes",
        "nothing is applied",
    ] {
        assert!(
            stopped.message.contains(part),
            "{part}: {}",
            stopped.message
        );
    }
    assert!(
        !stopped.message.contains(&blob[..100]),
        "no data in the message"
    );
    // The status names the node and the flag, as other evaluation errors do.
    let (status, message) = ready_condition(&plan);
    assert_eq!(status, "False");
    assert!(
        message.contains("copies: desired objects over budget")
            && message.contains("--instance-max-desired-bytes"),
        "{message}"
    );
    assert_eq!(plan.node("copies").unwrap().state, NodeState::Error);
    assert_eq!(
        plan.node("first").unwrap().state,
        NodeState::WaitingForReadiness,
        "the nodes before it keep their state"
    );
}

#[test]
fn the_same_graph_under_the_budget_applies_everything() {
    let g = graph(
        json!([cm("first", "first", json!({"k": "v"})), copies()]),
        json!({}),
    );
    let inst = instance(json!({"blob": "x".repeat(1_000), "count": 100}));
    let plan = evaluate_with(&g, &inst, &Observed::new(), &options(1024 * 1024, 5000));
    assert!(plan.stopped.is_none());
    assert_eq!(plan.apply.len(), 101);
    let total: u64 = plan.apply.iter().map(|d| json_size(&d.object)).sum();
    assert!(total > 100_000 && total <= 1024 * 1024, "{total}");
    assert_eq!(total, {
        let bytes: usize = plan
            .apply
            .iter()
            .map(|d| serde_json::to_string(&d.object).unwrap().len())
            .sum();
        bytes as u64
    });
}

#[test]
fn a_single_object_with_many_large_fields_stops_at_the_field_that_passes_the_budget() {
    let data: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("f{i}"), json!("${schema.spec.blob}")))
        .collect();
    let g = graph(json!([cm("wide", "wide", Value::Object(data))]), json!({}));
    let inst = instance(json!({"blob": "y".repeat(100_000)}));
    let plan = evaluate_with(&g, &inst, &Observed::new(), &options(1024 * 1024, 5000));
    assert_stopped_cleanly(&plan);
    let stopped = plan.stopped.unwrap();
    assert_eq!(
        (stopped.by, stopped.at.as_str()),
        (StoppedBy::Budget, "wide")
    );
    assert!(
        stopped.message.contains("--instance-max-desired-bytes")
            && !stopped.message.contains("forEach item"),
        "{}",
        stopped.message
    );
}

#[test]
fn the_object_budget_counts_every_node_and_stops_a_foreach_before_it_expands() {
    let second = json!({"id": "more", "forEach": [{"i": "${lists.range(600)}"}],
        "template": {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "${'more-' + string(i)}"}, "data": {}}});
    let g = graph(json!([copies(), second]), json!({}));
    let inst = instance(json!({"count": 600, "blob": ""}));
    let plan = evaluate_with(&g, &inst, &Observed::new(), &options(u64::MAX, 1000));
    assert_stopped_cleanly(&plan);
    let stopped = plan.stopped.unwrap();
    assert_eq!(
        (stopped.by, stopped.at.as_str()),
        (StoppedBy::Budget, "more")
    );
    for part in [
        "its forEach expands to 600 objects",
        "1200 desired objects (600 before this node)",
        "more than the 1000 of --instance-max-objects",
    ] {
        assert!(
            stopped.message.contains(part),
            "{part}: {}",
            stopped.message
        );
    }
    // 400 fit.
    let plan = evaluate_with(
        &g,
        &instance(json!({"count": 400, "blob": ""})),
        &Observed::new(),
        &options(u64::MAX, 1000),
    );
    assert!(plan.stopped.is_none());
    assert_eq!(plan.apply.len(), 1000);
}

#[test]
fn an_endless_expression_stops_at_the_deadline_naming_node_timeout_and_flag() {
    let g = graph(
        json!([
            cm("before", "before", json!({"k": "v"})),
            cm(
                "slow",
                "slow",
                json!({"v": format!("${{string({ENDLESS})}}")})
            ),
            cm("after", "after", json!({"k": "v"})),
        ]),
        json!({}),
    );
    let options = Options {
        deadline: Some(EvaluationDeadline::after(Duration::from_millis(300))),
        ..Options::default()
    };
    let plan = evaluate_with(&g, &instance(json!({})), &Observed::new(), &options);
    assert_stopped_cleanly(&plan);
    let stopped = plan.stopped.as_ref().unwrap();
    assert_eq!(
        (stopped.by, stopped.at.as_str()),
        (StoppedBy::Deadline, "slow")
    );
    for part in [
        "300ms",
        "--instance-evaluation-timeout",
        "retried with backoff",
    ] {
        assert!(
            stopped.message.contains(part),
            "{part}: {}",
            stopped.message
        );
    }
    assert!(
        plan.node("after").is_none(),
        "nothing after it is evaluated"
    );
    let (_, message) = ready_condition(&plan);
    assert!(
        message.contains("slow: evaluation stopped at its deadline"),
        "{message}"
    );
}

#[test]
fn a_deadline_error_hidden_by_or_still_stops_the_evaluation() {
    // `error || true` is true in CEL: the deadline must not turn into an included node.
    let g = graph(
        json!([{"id": "gated", "includeWhen": [format!("${{{ENDLESS} || true}}")],
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gated"}, "data": {}}}]),
        json!({}),
    );
    let options = Options {
        deadline: Some(EvaluationDeadline::after(Duration::from_millis(200))),
        ..Options::default()
    };
    let plan = evaluate_with(&g, &instance(json!({})), &Observed::new(), &options);
    assert_stopped_cleanly(&plan);
    assert_eq!(plan.stopped.unwrap().at, "gated");
}

#[test]
fn a_slow_status_field_stops_at_the_deadline_in_the_status() {
    let g = graph(
        json!([cm("cfg", "cfg", json!({"k": "v"}))]),
        json!({"slow": format!("${{cfg.data.k + string({ENDLESS})}}")}),
    );
    let mut observed = Observed::new();
    observed.insert(
        "cfg",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "team"}, "data": {"k": "v"}}),
    );
    let options = Options {
        deadline: Some(EvaluationDeadline::after(Duration::from_millis(200))),
        ..Options::default()
    };
    let plan = evaluate_with(&g, &instance(json!({})), &observed, &options);
    assert_stopped_cleanly(&plan);
    let stopped = plan.stopped.clone().unwrap();
    assert_eq!(
        (stopped.by, stopped.at.as_str()),
        (StoppedBy::Deadline, "status")
    );
    assert_eq!(plan.node("cfg").unwrap().state, NodeState::Synced);
}

#[test]
fn a_passed_deadline_stops_before_the_first_node_and_leaves_the_next_evaluation_alone() {
    let g = graph(json!([cm("cfg", "cfg", json!({"k": "v"}))]), json!({}));
    let passed = Options {
        deadline: Some(EvaluationDeadline {
            at: Instant::now(),
            timeout: Duration::from_secs(30),
        }),
        ..Options::default()
    };
    let plan = evaluate_with(&g, &instance(json!({})), &Observed::new(), &passed);
    let stopped = plan.stopped.unwrap();
    assert_eq!(
        (stopped.by, stopped.at.as_str()),
        (StoppedBy::Deadline, "cfg")
    );
    assert!(stopped.message.contains("30s"), "{}", stopped.message);
    // The next instance on the same thread has no deadline left over, and a far deadline
    // changes nothing in its plan.
    let free = evaluate_with(
        &g,
        &instance(json!({})),
        &Observed::new(),
        &Options::default(),
    );
    let far = Options {
        deadline: Some(EvaluationDeadline::after(Duration::from_secs(3600))),
        ..Options::default()
    };
    let bounded = evaluate_with(&g, &instance(json!({})), &Observed::new(), &far);
    assert!(free.stopped.is_none());
    assert_eq!(free, bounded);
    assert_eq!(free.apply.len(), 1);
}

//! Property tests: the topological order respects every edge, every cycle is reported, and
//! malformed YAML, templates and expressions never panic the compiler.

#![allow(clippy::unwrap_used)]

use kro_graph::{CompileOptions, Dag, NoSchemas, compile, scan};
use proptest::prelude::*;
use serde_json::{Value, json};

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r{i}")).collect()
}

proptest! {
    #[test]
    fn topological_order_respects_edges(n in 1usize..12, edges in proptest::collection::vec((0usize..12, 0usize..12), 0..40)) {
        // Only edges from a higher index to a lower one: always acyclic.
        let mut d = Dag::new(ids(n));
        let mut kept = Vec::new();
        for (a, b) in edges {
            let (a, b) = (a % n, b % n);
            if a > b {
                d.add_dependencies(&format!("r{a}"), [format!("r{b}").as_str()]);
                kept.push((a, b));
            }
        }
        let order = d.topological_order().unwrap();
        prop_assert_eq!(order.len(), n);
        let pos = |i: usize| order.iter().position(|x| *x == format!("r{i}")).unwrap();
        for (a, b) in kept {
            prop_assert!(pos(b) < pos(a), "r{} must come before r{}", b, a);
        }
    }

    #[test]
    fn every_cycle_is_reported(n in 2usize..10, extra in proptest::collection::vec((0usize..10, 0usize..10), 0..20)) {
        // A ring r0 -> r1 -> ... -> r(n-1) -> r0, plus random edges.
        let mut d = Dag::new(ids(n));
        for i in 0..n {
            d.add_dependencies(&format!("r{i}"), [format!("r{}", (i + 1) % n).as_str()]);
        }
        for (a, b) in extra {
            d.add_dependencies(&format!("r{}", a % n), [format!("r{}", b % n).as_str()]);
        }
        let err = d.topological_order().unwrap_err();
        // The reported path is a real cycle: closed, and every step is an edge.
        prop_assert!(err.path.len() >= 2);
        prop_assert_eq!(err.path.first(), err.path.last());
        for w in err.path.windows(2) {
            prop_assert!(d.dependencies(&w[0]).contains(&w[1]), "{} -> {} is not an edge", w[0], w[1]);
        }
        prop_assert!(err.to_string().starts_with("graph contains a cycle: "));
    }

    #[test]
    fn scanner_never_panics(s in ".{0,64}") {
        let _ = scan::classify(&s);
        let _ = scan::extract_expressions(&s);
    }

    #[test]
    fn compiler_never_panics_on_expressions(e in ".{0,48}") {
        let doc = json!({"spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App", "spec": {"name": "string"},
            "status": {"x": format!("${{{e}}}")}},
            "resources": [{"id": "config", "readyWhen": [format!("${{{e}}}")], "includeWhen": [format!("${{{e}}}")],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("${{{e}}}")},
                    "data": {"a": format!("x-${{{e}}}-y")}}}]}});
        let _ = compile(&doc, &NoSchemas, &CompileOptions::default());
    }

    #[test]
    fn compiler_never_panics_on_malformed_yaml(text in "[ -~\n]{0,200}") {
        if let Ok(docs) = serde_saphyr::from_multiple::<Value>(&text) {
            for d in docs {
                let _ = compile(&d, &NoSchemas, &CompileOptions::default());
            }
        }
    }

    #[test]
    fn compiler_never_panics_on_arbitrary_shapes(v in arb_json(3)) {
        let _ = compile(&v, &NoSchemas, &CompileOptions::default());
        let doc = json!({"spec": {"schema": {"apiVersion": "v1alpha1", "kind": "App", "spec": v.clone(), "status": v.clone()},
            "resources": [v.clone(), {"id": "x", "template": v.clone(), "forEach": v.clone(), "readyWhen": v}]}});
        let _ = compile(&doc, &NoSchemas, &CompileOptions::default());
    }
}

fn arb_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z${}.]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

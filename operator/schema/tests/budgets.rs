//! Budgets of SimpleSchema expansion: schema bombs (types that each use the next twice),
//! chains of thousands of types and deep nesting are rejected before anything is built, with
//! errors naming the type, the count and the limit, on a 2 MiB stack (tokio's worker size).

#![allow(clippy::unwrap_used)]

use kro_schema::simple_schema_to_openapi;
use serde_json::{Map, Value, json};

/// Runs `f` on a thread with tokio's default worker stack.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn errors(spec: Value, types: Value) -> Vec<String> {
    on_small_stack(
        move || match simple_schema_to_openapi(Some(&spec), Some(&types)) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        },
    )
}

/// `T0` uses `T1` twice, ..., the last type has two string fields.
fn bomb(n: usize) -> Value {
    let mut types = Map::new();
    for i in 0..n {
        let next = if i + 1 == n {
            "string".to_string()
        } else {
            format!("T{}", i + 1)
        };
        types.insert(format!("T{i}"), json!({"a": next, "b": next}));
    }
    Value::Object(types)
}

#[test]
fn a_schema_bomb_is_rejected_before_it_is_built() {
    for n in [16, 40, 200] {
        let errs = errors(json!({"root": "T0"}), bomb(n));
        assert_eq!(errs.len(), 1, "{errs:?}");
        let first = n - 15;
        assert_eq!(
            errs[0],
            format!(
                "spec.schema.types.T{first}: expanding type \"T{first}\" would create 131,053 schema nodes for this RGD, more than the budget of 100,000; simplify the types, or use `object` for parts that need no schema"
            )
        );
    }
    // Fifteen levels fit.
    assert_eq!(
        errors(json!({"root": "T0"}), bomb(14)),
        Vec::<String>::new()
    );
}

#[test]
fn a_spec_over_the_node_budget_is_rejected() {
    let fields: Map<String, Value> = (0..100_001)
        .map(|i| (format!("f{i}"), json!("string")))
        .collect();
    let errs = errors(Value::Object(fields), json!({}));
    assert_eq!(
        errs,
        vec![
            "spec.schema.spec: expanding the instance spec would create 100,002 schema nodes for this RGD, more than the budget of 100,000; simplify the types, or use `object` for parts that need no schema"
        ]
    );
}

#[test]
fn markers_copied_by_every_use_count_against_a_byte_budget() {
    let mut types = bomb(10);
    let description = format!("string | description=\"{}\"", "d".repeat(10_000));
    types["T9"] = json!({"a": description, "b": "string"});
    let errs = errors(json!({"root": "T0"}), types);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("would copy")
            && errs[0].contains("bytes of field names and markers")
            && errs[0].contains("more than the budget of 4,194,304"),
        "{errs:?}"
    );
}

#[test]
fn a_chain_of_ten_thousand_types_is_rejected_without_recursion() {
    for object in [false, true] {
        let mut types = Map::new();
        for i in 0..10_000 {
            let next = if i == 9_999 {
                "string".to_string()
            } else {
                format!("A{}", i + 1)
            };
            let def = if object {
                json!({ "next": next })
            } else {
                json!(next)
            };
            types.insert(format!("A{i}"), def);
        }
        let errs = errors(json!({"root": "A0"}), Value::Object(types));
        assert_eq!(
            errs,
            vec![
                "spec.schema.types.A9967: type \"A9967\" refers to other custom types 33 levels deep (A9967 -> A9968 -> A9969 -> A9970 -> A9971 -> A9972 -> ...), more than the limit of 32; flatten the chain of types"
            ],
            "object types: {object}"
        );
    }
}

#[test]
fn a_cycle_among_many_types_is_still_found() {
    let mut types = Map::new();
    for i in 0..5_000 {
        types.insert(
            format!("A{i:04}"),
            json!(format!("A{:04}", (i + 1) % 5_000)),
        );
    }
    let errs = errors(json!({"root": "A0000"}), Value::Object(types));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("spec.schema.types.A4999: cyclic dependency in type A4999: graph contains a cycle: A0000 -> A0001 -> "),
        "{}",
        &errs[0][..200.min(errs[0].len())]
    );
}

fn nested(levels: usize) -> Value {
    nested_to(levels, "string")
}

/// `levels` nested field maps around the field type `leaf`.
fn nested_to(levels: usize, leaf: &str) -> Value {
    let mut spec = json!(leaf);
    for _ in 0..levels {
        spec = json!({ "x": spec });
    }
    spec
}

#[test]
fn the_expanded_schema_depth_is_limited() {
    assert_eq!(
        errors(nested(50), json!({})),
        vec![
            "spec.schema.spec: expanding the instance spec would nest the schema 50 levels deep, more than the limit of 48; flatten the nested fields and types (Kubernetes clients cannot read back a CRD nested much deeper)"
        ]
    );
    // Through types: each nests 20 levels and uses the one before at the bottom.
    let types = json!({"A": nested(20), "B": nested_to(20, "A"), "C": nested_to(20, "B")});
    assert_eq!(
        errors(json!({"root": "C"}), types),
        vec![
            "spec.schema.types.C: expanding type \"C\" would nest the schema 60 levels deep, more than the limit of 48; flatten the nested fields and types (Kubernetes clients cannot read back a CRD nested much deeper)"
        ]
    );
    let types = json!({"A": nested(20), "B": nested_to(20, "A"), "C": {"c": "[]B"}});
    assert_eq!(errors(json!({"root": "C"}), types), Vec::<String>::new());
}

#[test]
fn a_schema_at_the_limits_builds_serializes_and_drops_on_a_small_stack() {
    let spec = nested(48);
    let built = on_small_stack(move || {
        let schema = simple_schema_to_openapi(Some(&spec), None).unwrap();
        let json = serde_json::to_value(&schema).unwrap();
        let copy = schema.clone();
        drop(schema);
        (json.to_string().len(), copy.properties.is_some())
    });
    assert!(built.1 && built.0 > 48 * 10, "{built:?}");
}

//! Value conversion, evaluation errors, cost limits and references: what the graph and
//! runtime crates rely on.

mod common;

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use kro_cel::{Activation, CelError, CelValue, Environment, FieldPath, Rendered};
use serde_json::{Value as Json, json};

fn render(v: &CelValue) -> Json {
    match v.to_json() {
        Ok(Rendered::Value(j)) => j,
        other => panic!("{other:?}"),
    }
}

#[test]
fn json_round_trips_and_integers_are_cel_ints() {
    for j in [
        json!(null),
        json!(true),
        json!(3),
        json!(-7),
        json!(0.25),
        json!("text"),
        json!([1, "a", [true], {"k": null}]),
        json!({"a": {"b": [1, 2, {"c": "d"}]}, "e": 9_007_199_254_740_993i64}),
        common::deployment_json(),
    ] {
        assert_eq!(render(&CelValue::from_json(&j)), j);
    }
    let v = CelValue::from_json(&json!({"replicas": 3}));
    let a = Activation::new().with("spec", v);
    let env = Environment::new();
    let eval = |e: &str| env.compile(e).and_then(|p| p.eval_json(&a));
    assert_eq!(eval("spec.replicas + 1"), Ok(Rendered::Value(json!(4))));
    assert_eq!(
        eval("type(spec.replicas) == int"),
        Ok(Rendered::Value(json!(true)))
    );
    let huge = CelValue::from_json(&json!(u64::MAX));
    assert_eq!(huge.type_name(), "uint");
    assert!(
        huge.to_json()
            .is_err_and(|e| e.contains("larger than the largest integer"))
    );
}

#[test]
fn schema_aware_conversion_follows_formats() {
    let schema: JSONSchemaProps = serde_json::from_value(json!({
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "data": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}},
            "timeout": {"type": "string", "format": "duration"},
            "count": {"type": "integer"},
            "port": {"x-kubernetes-int-or-string": true},
            "name": {"type": "string"}
        }
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let obj = json!({"when": "2026-01-02T03:04:05Z", "day": "2026-03-04", "data": {"k": "aGVsbG8="},
                     "timeout": "90s", "count": 3.0, "port": "http", "name": "n"});
    let v = CelValue::from_json_with_schema(&obj, &schema);
    let a = Activation::new().with("o", v.clone());
    let env = Environment::new();
    let eval = |e: &str| match env.compile(e).and_then(|p| p.eval_json(&a)) {
        Ok(Rendered::Value(j)) => j,
        other => panic!("{e}: {other:?}"),
    };
    assert_eq!(
        eval("type(o.when) == google.protobuf.Timestamp"),
        json!(true)
    );
    assert_eq!(eval("o.when.getFullYear()"), json!(2026));
    assert_eq!(eval("o.day"), json!("2026-03-04T00:00:00Z"));
    assert_eq!(eval("string(o.data.k)"), json!("hello"));
    assert_eq!(eval("o.timeout"), json!("1m30s"));
    assert_eq!(eval("o.count + 1"), json!(4));
    assert_eq!(eval("o.port"), json!("http"));
    // Bytes cannot be written back into an object without an explicit encoding.
    assert!(
        v.to_json()
            .is_err_and(|e| e.contains("encode it explicitly"))
    );
}

#[test]
fn runtime_errors_are_classified_for_the_runtime() {
    let env = Environment::new();
    let a = common::activation();
    let err = |e: &str| match env.compile(e).and_then(|p| p.eval(&a)) {
        Ok(v) => panic!("{e} evaluated to {v:?}"),
        Err(err) => err,
    };
    let e = err("deployment.status.loadBalancer.ingress");
    assert!(
        matches!(&e, CelError::NoSuchKey { key, .. } if key == "loadBalancer"),
        "{e:?}"
    );
    assert!(e.is_data_pending());
    assert!(
        e.to_string()
            .contains("deployment.status.loadBalancer.ingress"),
        "{e}"
    );
    let e = err("deployment.spec.template.spec.containers[5].image");
    assert!(matches!(e, CelError::IndexOutOfBounds { .. }), "{e:?}");
    assert!(e.is_data_pending());
    let e = err("database.status.endpoint");
    assert!(
        matches!(&e, CelError::UnboundVariable { name, .. } if name == "database"),
        "{e:?}"
    );
    assert!(e.is_data_pending());
    let e = err("schema.spec.name + 1");
    assert!(matches!(e, CelError::Evaluation { .. }), "{e:?}");
    assert!(!e.is_data_pending());
    let e = err("1 +");
    assert!(matches!(e, CelError::Parse { .. }), "{e:?}");
    assert!(e.to_string().contains("1 +"), "{e}");
}

#[test]
fn condition_and_list_evaluation() {
    let env = Environment::new();
    let a = common::activation();
    let b = |e: &str| env.compile(e).and_then(|p| p.eval_bool(&a));
    assert_eq!(
        b("deployment.status.availableReplicas == schema.spec.replicas"),
        Ok(true)
    );
    assert_eq!(b("deployment.status.?nope.orValue(false)"), Ok(false));
    assert_eq!(b("optional.of(true)"), Ok(true));
    assert_eq!(b("optional.none()"), Ok(false));
    assert!(matches!(
        b("schema.spec.name"),
        Err(CelError::Conversion { .. })
    ));
    let l = env
        .compile("schema.spec.tags.distinct()")
        .and_then(|p| p.eval_list(&a))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        l.iter().map(render).collect::<Vec<_>>(),
        vec![json!("b"), json!("a"), json!("c")]
    );
    // Elements bind as iterators in further evaluations.
    let it = Activation::new().with("tag", l[0].clone());
    let p = env
        .compile("'tag-' + tag")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.eval_json(&it), Ok(Rendered::Value(json!("tag-b"))));
    assert!(matches!(
        env.compile("schema.spec.name")
            .and_then(|p| p.eval_list(&a)),
        Err(CelError::Conversion { .. })
    ));
    let d = CelValue::from_json(&common::deployment_json());
    let collection = CelValue::list(vec![d.clone(), d.clone(), d]);
    let a2 = Activation::new().with("workers", collection);
    let all_ready = env
        .compile("workers.all(w, w.status.readyReplicas == w.spec.replicas)")
        .and_then(|p| p.eval_bool(&a2));
    assert_eq!(all_ready, Ok(true));
}

#[test]
fn cost_limit_stops_runaway_expressions() {
    let env = Environment::new().with_cost_limit(10_000);
    let a = Activation::new();
    for expr in [
        "lists.range(1000000).map(x, x)",
        "lists.range(200).map(x, lists.range(200).map(y, x * y))",
        "lists.range(50).map(i, 'x').join('').replace('x', 'xxxxxxxxxx').replace('x', 'xxxxxxxxxx').replace('x', 'xxxxxxxxxx')",
        "cel.bind(a, 'xxxxxxxxxx', cel.bind(b, a + a + a + a + a, cel.bind(c, b + b + b + b + b, cel.bind(d, c + c + c + c + c, d + d + d + d + d))))",
        "lists.range(100).all(x, lists.range(100).all(y, x * y >= 0))",
        "random.seededString(100000, 'x')",
    ] {
        let e = env.compile(expr).and_then(|p| p.eval(&a));
        assert!(
            matches!(&e, Err(CelError::CostLimitExceeded { limit: 10_000, .. })),
            "{expr}: {}",
            format!("{e:?}").chars().take(200).collect::<String>()
        );
        if let Err(err) = &e {
            assert!(
                err.to_string().contains("exceeded its cost limit of 10000"),
                "{err}"
            );
        }
    }
    // Ordinary expressions stay far below the default budget.
    let p = Environment::new()
        .compile("lists.range(1000).map(x, x * 2).filter(x, x % 3 == 0).size()")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.eval_json(&a), Ok(Rendered::Value(json!(334))));
    // The limit can also be given per evaluation.
    let p = Environment::new()
        .compile("lists.range(100).map(x, x)")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.eval_with_limit(&a, 10).is_err());
    assert!(p.eval_with_limit(&a, 1_000).is_ok());
}

fn paths(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let p = Environment::new()
        .compile(expr)
        .unwrap_or_else(|e| panic!("{e}"));
    let r = p.references();
    (
        r.identifiers.clone(),
        r.paths.iter().map(FieldPath::to_string).collect(),
    )
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn references_list_roots_and_paths_without_bound_variables() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("schema.spec.name", &["schema"], &["schema.spec.name"]),
        (
            "schema.spec.name + '-' + deployment.status.readyReplicas",
            &["deployment", "schema"],
            &["deployment.status.readyReplicas", "schema.spec.name"],
        ),
        (
            "deployment.spec.template.spec.containers.map(c, c.name)",
            &["deployment"],
            &["deployment.spec.template.spec.containers"],
        ),
        (
            "db.status.conditions.exists(c, c.type == cfg.data.wanted)",
            &["cfg", "db"],
            &["cfg.data.wanted", "db.status.conditions"],
        ),
        ("cel.bind(x, a.b, x.c + y)", &["a", "y"], &["a.b", "y"]),
        (
            "m.transformMap(k, v, v + other.f)",
            &["m", "other"],
            &["m", "other.f"],
        ),
        ("a['b'].?c.d", &["a"], &["a.b.c.d"]),
        (
            "a.list[idx.value].name",
            &["a", "idx"],
            &["a.list", "idx.value"],
        ),
        ("optional.of(x).orValue(lists.range(3))", &["x"], &["x"]),
        ("has(a.b.c) ? a.b.c : d", &["a", "d"], &["a.b.c", "d"]),
        ("[1, 2].map(schema, schema + 1)", &[], &[]),
    ];
    for (expr, ids, ps) in cases {
        let (got_ids, got_paths) = paths(expr);
        assert_eq!(got_ids, set(ids), "{expr}");
        assert_eq!(got_paths, set(ps), "{expr}");
    }
    let p = Environment::new()
        .compile("random.seededString(4, schema.metadata.uid) + base64.encode(b'x')")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.references().functions.contains("random.seededString"));
    assert!(p.references().functions.contains("base64.encode"));
    assert!(!p.references().reads("random"));
}

#[test]
fn values_and_programs_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Environment>();
    assert_send_sync::<kro_cel::Program>();
    assert_send_sync::<CelValue>();
    assert_send_sync::<Activation>();
    let p = Environment::new()
        .compile("x + 1")
        .unwrap_or_else(|e| panic!("{e}"));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || p.eval_json(&Activation::new().with("x", CelValue::int(i))))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let got = h.join().unwrap_or_else(|_| panic!("thread panicked"));
        assert_eq!(got, Ok(Rendered::Value(json!(i as i64 + 1))));
    }
}

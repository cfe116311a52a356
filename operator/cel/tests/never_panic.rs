//! Malformed expressions never panic: random strings go through compile, check and eval.

use kro_cel::{Activation, CelType, CelValue, Environment, TypeEnv};
use proptest::prelude::*;
use serde_json::json;

fn run(src: &str) {
    let env = Environment::new().with_cost_limit(10_000);
    let typed: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps =
        serde_json::from_value(json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "array", "items": {"type": "integer"}}, "b": {"type": "string"},
                           "m": {"type": "object", "additionalProperties": {"type": "string"}}}}}}))
        .unwrap_or_default();
    let types = TypeEnv::new()
        .with("schema", CelType::resource("schema", &typed))
        .with("x", CelType::List(Box::new(CelType::Int)));
    let a = Activation::new()
        .with(
            "schema",
            CelValue::from_json(&json!({"spec": {"a": [1, 2], "b": "s"}})),
        )
        .with("x", CelValue::from_json(&json!([1, 2, 3])));
    if let Ok(p) = env.compile(src) {
        let _ = p.check(&types);
        let _ = p.references();
        let _ = p.eval_json(&a);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(src in "\\PC{0,40}") {
        run(&src);
    }

    #[test]
    fn cel_like_strings_never_panic(src in "[a-z.\\[\\]()?:!,'{}<>=+*/%&|0-9 _-]{0,60}") {
        run(&src);
    }

    #[test]
    fn spliced_expressions_never_panic(
        parts in proptest::collection::vec(prop_oneof![
            Just("schema.spec.a"), Just(".map(v, v + 1)"), Just(".all(k, v, k > 0)"),
            Just("cel.bind(q, "), Just(")"), Just("x[?0]"), Just(".?b"), Just(" + "),
            Just("optional.of("), Just("{a: 1}"), Just("runtime.newCondition("), Just("'s'"),
            Just(".transformMap(i, v, v)"), Just("lists.range(3)"), Just("omit()"), Just(","),
            Just("schema.spec.m"), Just("schema.spec.b"), Just(".nope"), Just("[0]"), Just("has("),
            Just(".exists(e, e == 1)"), Just(" ? 1 : 'a'"), Just(".orValue(2)"), Just("size("),
        ], 0..8)
    ) {
        run(&parts.concat());
    }
}

#[test]
fn known_tricky_inputs() {
    for src in [
        "",
        " ",
        "(",
        ")",
        "[",
        "{",
        "}",
        "a.",
        ".a",
        "a..b",
        "1 +",
        "has()",
        "has(a)",
        "a.all()",
        "a.map(1, 2)",
        "a.all(k, v)",
        "a.all(1, 2, 3)",
        "a.all(k, k, k)",
        "cel.bind(1, 2, 3)",
        "x.bind(a, 1, a)",
        "{?a: 1}",
        "[?1]",
        "a.?1",
        "a[?]",
        "optional.of()",
        "\"unterminated",
        "'\\u'",
        "b'\\xff'",
        "0x",
        "1e999",
        "99999999999999999999",
        "-9223372036854775808",
        "runtime.newCondition({})",
        "runtime.newCondition({1: 2})",
        "x.transformMapEntry(i, v, 1)",
        "x.transformMap(i, v, i, v, v)",
        "[].sortBy(x, x)",
        "x.sortBy(1, 2)",
        "x.optMap(1, 2)",
        "Foo{a: 1}",
        "google.protobuf.Timestamp{}",
        "x.y.z()",
        "a.b.c.d.e.f.g()",
    ] {
        run(src);
    }
}

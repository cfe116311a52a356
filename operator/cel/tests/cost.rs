//! The cost budget charges work before it is done: each built-in whose work grows with its
//! input stops on a large input with the cost error (before any large allocation), and still
//! works on ordinary inputs.

use kro_cel::{Activation, CelError, CelValue, Environment, Rendered};
use serde_json::{Value as Json, json};

/// 40,000 distinct tags (about 300 KB, the size of a large instance) and a 300 KB string.
fn big() -> Activation {
    let tags: Vec<Json> = (0..40_000).map(|i| json!(format!("tag-{i}"))).collect();
    let text = "a".repeat(300_000);
    Activation::new()
        .with("tags", CelValue::from_json(&Json::Array(tags)))
        .with("s", CelValue::from_json(&json!(text)))
        .with("fmt", CelValue::from_json(&json!("%.100f".repeat(5_000))))
        .with(
            "nums",
            CelValue::from_json(&Json::Array(
                (0..5_000).map(|i| json!(f64::from(i))).collect(),
            )),
        )
}

fn eval(env: &Environment, expr: &str, a: &Activation) -> Result<Json, CelError> {
    match env.compile(expr)?.eval_json(a)? {
        Rendered::Value(v) => Ok(v),
        Rendered::Omit => Ok(Json::Null),
    }
}

#[test]
fn large_inputs_hit_the_cost_limit_before_the_work() {
    let env = Environment::new();
    let a = big();
    let limit = env.cost_limit();
    let mut failures = Vec::new();
    for expr in [
        // Comparisons and membership, in a loop over a large value.
        "lists.range(100).all(i, tags == tags)",
        "lists.range(100).all(i, tags != [])",
        "lists.range(100).all(i, s <= s)",
        "lists.range(100).all(i, s > '')",
        "lists.range(100).filter(i, string(i) in tags).size() >= 0",
        "lists.range(100).all(i, s in [s])",
        // Functions charged by their input.
        "tags.sort().size()",
        "lists.range(100).all(i, s.contains('zz') == false)",
        "lists.range(100).all(i, s.indexOf('zz') == -1)",
        "lists.range(100).all(i, tags.indexOf('x') == -1)",
        "lists.range(100).all(i, s.matches('^a+$'))",
        "lists.range(100).all(i, s.find('b+') == '')",
        "lists.range(100).all(i, s.reverse() != '')",
        "lists.range(100).all(i, tags.reverse().size() > 0)",
        "lists.range(100).all(i, size(tags.distinct()) > 0)",
        "lists.range(100).all(i, s.split('').size() > 0)",
        // Output-growing functions, charged their output before allocating it: these would
        // need 90 GB, 300 MB and 2 MB.
        "s.replace('', s)",
        "lists.range(1000).map(i, 'x').join(s)",
        "fmt.format(nums)",
        "s + s + s + s",
    ] {
        match eval(&env, expr, &a) {
            Err(CelError::CostLimitExceeded { limit: l, .. }) if l == limit => {}
            other => failures.push(format!(
                "{expr}: {}",
                format!("{other:?}").chars().take(200).collect::<String>()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let err = eval(&env, "s.replace('', s)", &a).unwrap_err();
    assert!(
        err.to_string()
            .contains("exceeded its cost limit of 1000000"),
        "{err}"
    );
}

#[test]
fn large_inputs_still_work_once() {
    let env = Environment::new();
    let a = big();
    // distinct is linear: the 40,000 tags of the issue pass (they took 7.9 s, quadratic).
    assert_eq!(
        eval(&env, "string(size(tags.distinct()))", &a),
        Ok(json!("40000"))
    );
    assert_eq!(eval(&env, "'tag-7' in tags", &a), Ok(json!(true)));
    assert_eq!(eval(&env, "size(tags.join(','))", &a), Ok(json!(388_889)));
    assert_eq!(
        eval(&env, "size(s.replace('a', 'b'))", &a),
        Ok(json!(300_000))
    );
}

#[test]
fn ordinary_inputs_are_unchanged() {
    let env = Environment::new();
    let a = Activation::new();
    for (expr, want) in [
        ("[1, 2] == [1, 2]", json!(true)),
        ("{'a': [1]} != {'a': [1]}", json!(false)),
        ("'abc' < 'abd'", json!(true)),
        ("2 in [1, 2, 3]", json!(true)),
        ("'k' in {'k': 1}", json!(true)),
        ("[3, 1, 2].sort()", json!([1, 2, 3])),
        ("['b', 'a'].sortBy(x, x)", json!(["a", "b"])),
        ("'hello'.contains('ell')", json!(true)),
        ("'hello'.indexOf('l')", json!(2)),
        ("[1, 2, 3].indexOf(2)", json!(1)),
        ("'hello'.matches('^h')", json!(true)),
        ("matches('hello', 'o$')", json!(true)),
        ("'hello'.find('l+')", json!("ll")),
        ("'abc'.reverse()", json!("cba")),
        ("[1, 2].reverse()", json!([2, 1])),
        (
            "[1, 1u, 1.0, 2, 'a', 'a', [1], [1.0], {'k': 1}, {'k': 1}].distinct()",
            json!([1, 2, "a", [1], {"k": 1}]),
        ),
        ("[].distinct()", json!([])),
        ("'abc'.replace('', '-')", json!("-a-b-c-")),
        ("'a-b-c'.replace('-', '_', 1)", json!("a_b-c")),
        ("'a-b-c'.replace('-', '_', -1)", json!("a_b_c")),
        ("'a-b-c'.replace('-', '')", json!("abc")),
        ("['a', 'b'].join()", json!("ab")),
        ("['a', 'b'].join('-')", json!("a-b")),
        ("[].join('-')", json!("")),
        ("'%s-%d'.format(['a', 1])", json!("a-1")),
        ("'%.2f'.format([1.5])", json!("1.50")),
        ("size('héllo')", json!(5)),
        ("{'a': 1}['a']", json!(1)),
        ("optional.of(1).hasValue()", json!(true)),
        ("base64.encode(b'hi')", json!("aGk=")),
        ("lists.range(3)", json!([0, 1, 2])),
        ("'x' + 'y' + 'z'", json!("xyz")),
    ] {
        assert_eq!(eval(&env, expr, &a), Ok(want), "{expr}");
    }
    let err = eval(&env, "[1, 2].join('-')", &a).unwrap_err();
    assert!(err.to_string().contains("join"), "{err}");
    let err = eval(&env, "dyn(1).distinct()", &a).unwrap_err();
    assert!(err.to_string().contains("distinct"), "{err}");
}

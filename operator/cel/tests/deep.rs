//! Deeply nested or very long expressions are evaluated on a grown stack or rejected with a
//! clear message; none overflows the stack (a crash no `catch_unwind` could stop).

use kro_cel::{Activation, CelError, CelType, Environment, Rendered, TypeEnv};
use serde_json::json;

fn eval(src: &str) -> Result<Rendered, CelError> {
    let p = Environment::new().compile(src)?;
    p.check(&TypeEnv::new().with("a", CelType::Dyn))?;
    p.eval_json(&Activation::new())
}

#[test]
fn long_chains_within_the_limits_evaluate() {
    assert_eq!(
        eval(&vec!["1"; 400].join(" + ")),
        Ok(Rendered::Value(json!(400)))
    );
    let s = vec!["'x'"; 300].join(" + ");
    assert_eq!(eval(&format!("size({s})")), Ok(Rendered::Value(json!(300))));
    assert_eq!(
        eval(&format!("{}true", "!".repeat(400))),
        Ok(Rendered::Value(json!(true)))
    );
    let nested = format!("{}1{}", "[".repeat(30), "]".repeat(30));
    assert!(eval(&nested).is_ok());
    let maps = format!("{}0{}", "[1].map(x, ".repeat(15), ")".repeat(15));
    assert!(eval(&maps).is_ok());
    let binds = format!("{}1{}", "cel.bind(x, 1, ".repeat(15), ")".repeat(15));
    assert_eq!(eval(&binds), Ok(Rendered::Value(json!(1))));
}

#[test]
fn oversized_expressions_are_rejected_before_parsing() {
    for (src, fragment) in [
        (
            format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)),
            "nests brackets",
        ),
        (
            format!("{}1{}", "[".repeat(100), "]".repeat(100)),
            "nests brackets",
        ),
        (vec!["1"; 10_000].join("+"), "operators"),
        (format!("a{}", ".b".repeat(10_000)), "operators"),
        (format!("{}true", "!".repeat(10_000)), "operators"),
        ("'x' + ".repeat(20_000) + "'x'", "bytes long"),
    ] {
        match eval(&src) {
            Err(CelError::Parse { message, .. }) => {
                assert!(message.contains(fragment), "{message}")
            }
            other => panic!("{}: {other:?}", &src[..40]),
        }
    }
}

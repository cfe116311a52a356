//! `${…}` scanning. Beyond not panicking: the pieces put back together are the input, and the
//! three entry points agree on the expressions.
#![no_main]

use kro_graph::scan::{FieldValue, Part, classify, extract_expressions, standalone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _bounds = kro_fuzz::bound();
    let classified = classify(s);
    let extracted = extract_expressions(s);
    let alone = standalone(s);
    match classified {
        Err(e) => {
            assert_eq!(
                extracted,
                Err(e.clone()),
                "extract_expressions disagrees on {s:?}"
            );
            assert_eq!(alone, Err(e), "standalone disagrees on {s:?}");
        }
        Ok(value) => {
            let expressions: Vec<String> =
                value.expressions().into_iter().map(str::to_owned).collect();
            assert_eq!(extracted.as_ref(), Ok(&expressions), "on {s:?}");
            let rebuilt = match &value {
                FieldValue::Literal => s.to_owned(),
                FieldValue::Standalone(e) => {
                    assert_eq!(alone.as_ref(), Ok(&Some(e.clone())), "on {s:?}");
                    format!("${{{e}}}")
                }
                FieldValue::Template(parts) => parts
                    .iter()
                    .map(|part| match part {
                        Part::Text(t) => t.clone(),
                        Part::Expr(e) => format!("${{{e}}}"),
                    })
                    .collect(),
            };
            assert_eq!(rebuilt, s, "the pieces of {s:?} do not make it up again");
        }
    }
});

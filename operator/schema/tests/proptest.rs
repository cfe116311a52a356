//! Malformed schemas never panic: random strings and random JSON documents through the
//! SimpleSchema parser, the markers and the whole conversion.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};

/// Strings biased towards SimpleSchema syntax.
fn schema_like_string() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "string",
        "integer",
        "boolean",
        "float",
        "object",
        "[]",
        "map[",
        "map[string]",
        "]",
        "[",
        "{",
        "}",
        "|",
        " ",
        "=",
        "\"",
        "\\",
        ",",
        "required",
        "default",
        "enum",
        "minimum",
        "pattern",
        "listType",
        "listMapKey",
        "uniqueItems",
        "true",
        "1",
        "-1.5",
        "(",
        "é",
        "\t",
        "validation",
        "immutable",
        "minItems",
        "maxLength",
        "Port",
        "A",
    ]);
    prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        schema_like_string().prop_map(Value::String),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_field_never_panics(s in ".*") {
        let _ = kro_schema::parse_field(&s);
        let _ = kro_schema::parse_markers(&s);
    }

    #[test]
    fn schema_like_fields_never_panic(s in schema_like_string()) {
        let spec = json!({ "f": s.clone() });
        let types = json!({ "Port": s, "A": {"x": "Port"} });
        let _ = kro_schema::simple_schema_to_openapi(Some(&spec), Some(&types));
    }

    #[test]
    fn random_documents_never_panic(spec in json_value(), types in json_value()) {
        if let Ok(schema) = kro_schema::simple_schema_to_openapi(Some(&spec), Some(&types)) {
            // Whatever is accepted serializes and compares with itself without changes.
            prop_assert!(kro_schema::compare_schemas(&schema, &schema).is_compatible());
            prop_assert!(!kro_schema::compare_schemas(&schema, &schema).has_changes());
        }
    }

    #[test]
    fn quoted_values_round_trip(v in "[^\"\\\\]{0,20}") {
        let ms = kro_schema::parse_markers(&format!("description=\"{v}\" required=true")).unwrap();
        prop_assert_eq!(&ms[0].value, &v);
        prop_assert_eq!(ms.len(), 2);
    }

    #[test]
    fn pluralize_never_panics(s in ".{0,12}") {
        let _ = kro_schema::pluralize(&s);
    }
}

//! Table test of the breaking-change check between an old and a new instance schema.

#![allow(clippy::unwrap_used)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use kro_schema::{
    ChangeType, breaking_changes, compare_crds, compare_schemas, simple_schema_to_openapi,
};
use serde_json::{Value, json};

use ChangeType::*;

fn spec(v: Value) -> JSONSchemaProps {
    simple_schema_to_openapi(Some(&v), None).unwrap()
}

/// (breaking change types, non-breaking change types) between two SimpleSchema specs.
type Changes = Vec<(String, ChangeType)>;

fn diff(old: Value, new: Value) -> (Changes, Changes) {
    let r = compare_schemas(&spec(old), &spec(new));
    let f = |v: Vec<kro_schema::Change>| v.into_iter().map(|c| (c.path, c.change_type)).collect();
    (f(r.breaking), f(r.non_breaking))
}

fn p(s: &str, t: ChangeType) -> (String, ChangeType) {
    (s.to_string(), t)
}

#[test]
#[allow(clippy::too_many_lines)] // one table of cases, one entry per rule
fn compatibility_table() {
    let cases: Vec<(&str, Value, Value, Changes, Changes)> = vec![
        (
            "no change",
            json!({"a": "string"}),
            json!({"a": "string"}),
            vec![],
            vec![],
        ),
        (
            "property removed",
            json!({"a": "string", "b": "integer"}),
            json!({"a": "string"}),
            vec![p(".properties.b", PropertyRemoved)],
            vec![],
        ),
        (
            "optional property added",
            json!({"a": "string"}),
            json!({"a": "string", "b": "integer"}),
            vec![],
            vec![p(".properties.b", PropertyAdded)],
        ),
        (
            "required property added without default",
            json!({"a": "string"}),
            json!({"a": "string", "b": "integer | required=true"}),
            vec![p(".properties.b", PropertyAdded)],
            vec![],
        ),
        (
            "required property added with default",
            json!({"a": "string"}),
            json!({"a": "string", "b": "integer | required=true default=1"}),
            vec![],
            vec![p(".properties.b", PropertyAdded)],
        ),
        (
            "type changed",
            json!({"a": "string"}),
            json!({"a": "integer"}),
            vec![p(".properties.a.type", TypeChanged)],
            vec![],
        ),
        (
            "existing field made required",
            json!({"a": "string"}),
            json!({"a": "string | required=true"}),
            vec![p(".required", RequiredAdded)],
            vec![],
        ),
        (
            "required removed",
            json!({"a": "string | required=true"}),
            json!({"a": "string"}),
            vec![],
            vec![p(".required", RequiredRemoved)],
        ),
        (
            "default removed from required field",
            json!({"a": "string | required=true default=x"}),
            json!({"a": "string | required=true"}),
            vec![p(".required", RequiredDefaultRemoved)],
            vec![p(".properties.a.default", DefaultChanged)],
        ),
        (
            "default changed",
            json!({"a": "integer | default=1"}),
            json!({"a": "integer | default=2"}),
            vec![],
            vec![p(".properties.a.default", DefaultChanged)],
        ),
        (
            "description changed",
            json!({"a": "string | description=old"}),
            json!({"a": "string | description=new"}),
            vec![],
            vec![p(".properties.a.description", DescriptionChanged)],
        ),
        (
            "enum restricted",
            json!({"a": "string | enum=\"x,y\""}),
            json!({"a": "string | enum=\"x\""}),
            vec![p(".properties.a.enum", EnumRestricted)],
            vec![],
        ),
        (
            "enum expanded",
            json!({"a": "string | enum=\"x\""}),
            json!({"a": "string | enum=\"x,y\""}),
            vec![],
            vec![p(".properties.a.enum", EnumExpanded)],
        ),
        (
            "pattern added",
            json!({"a": "string"}),
            json!({"a": "string | pattern=\"^a\""}),
            vec![p(".properties.a.pattern", PatternAdded)],
            vec![],
        ),
        (
            "pattern changed",
            json!({"a": "string | pattern=\"^a\""}),
            json!({"a": "string | pattern=\"^b\""}),
            vec![p(".properties.a.pattern", PatternChanged)],
            vec![],
        ),
        (
            "pattern removed",
            json!({"a": "string | pattern=\"^a\""}),
            json!({"a": "string"}),
            vec![],
            vec![p(".properties.a.pattern", PatternRemoved)],
        ),
        (
            "minimum added / maximum added",
            json!({"a": "integer"}),
            json!({"a": "integer | minimum=1 maximum=5"}),
            vec![
                p(".properties.a.minimum", MinimumAdded),
                p(".properties.a.maximum", MaximumAdded),
            ],
            vec![],
        ),
        (
            "minimum increased / maximum decreased",
            json!({"a": "integer | minimum=1 maximum=5"}),
            json!({"a": "integer | minimum=2 maximum=4"}),
            vec![
                p(".properties.a.minimum", MinimumIncreased),
                p(".properties.a.maximum", MaximumDecreased),
            ],
            vec![],
        ),
        (
            "minimum decreased / maximum increased",
            json!({"a": "integer | minimum=2 maximum=4"}),
            json!({"a": "integer | minimum=1 maximum=5"}),
            vec![],
            vec![
                p(".properties.a.minimum", MinimumDecreased),
                p(".properties.a.maximum", MaximumIncreased),
            ],
        ),
        (
            "minimum / maximum removed",
            json!({"a": "integer | minimum=2 maximum=4"}),
            json!({"a": "integer"}),
            vec![],
            vec![
                p(".properties.a.minimum", MinimumRemoved),
                p(".properties.a.maximum", MaximumRemoved),
            ],
        ),
        (
            "length constraints tightened",
            json!({"a": "string | minLength=1 maxLength=10"}),
            json!({"a": "string | minLength=2 maxLength=5"}),
            vec![
                p(".properties.a.minLength", MinLengthIncreased),
                p(".properties.a.maxLength", MaxLengthDecreased),
            ],
            vec![],
        ),
        (
            "length constraints added",
            json!({"a": "string"}),
            json!({"a": "string | minLength=1 maxLength=10"}),
            vec![
                p(".properties.a.minLength", MinLengthAdded),
                p(".properties.a.maxLength", MaxLengthAdded),
            ],
            vec![],
        ),
        (
            "length constraints relaxed",
            json!({"a": "string | minLength=2 maxLength=5"}),
            json!({"a": "string | maxLength=6"}),
            vec![],
            vec![
                p(".properties.a.minLength", MinLengthRemoved),
                p(".properties.a.maxLength", MaxLengthIncreased),
            ],
        ),
        (
            "items constraints tightened",
            json!({"a": "[]string | minItems=1 maxItems=10"}),
            json!({"a": "[]string | minItems=2 maxItems=5"}),
            vec![
                p(".properties.a.minItems", MinItemsIncreased),
                p(".properties.a.maxItems", MaxItemsDecreased),
            ],
            vec![],
        ),
        (
            "items constraints added / relaxed",
            json!({"a": "[]string | maxItems=3", "b": "[]string | minItems=2 maxItems=3"}),
            json!({"a": "[]string | minItems=1 maxItems=3", "b": "[]string | minItems=1"}),
            vec![p(".properties.a.minItems", MinItemsAdded)],
            vec![
                p(".properties.b.minItems", MinItemsDecreased),
                p(".properties.b.maxItems", MaxItemsRemoved),
            ],
        ),
        (
            "array element type changed",
            json!({"a": "[]string"}),
            json!({"a": "[]integer"}),
            vec![p(".properties.a.items.type", TypeChanged)],
            vec![],
        ),
        (
            "map value type changed (kro-rs also checks additionalProperties)",
            json!({"a": "map[string]string"}),
            json!({"a": "map[string]integer"}),
            vec![p(".properties.a.additionalProperties.type", TypeChanged)],
            vec![],
        ),
        (
            "nested field removed and added",
            json!({"db": {"host": "string", "port": "integer"}}),
            json!({"db": {"host": "string", "user": "string"}}),
            vec![p(".properties.db.properties.port", PropertyRemoved)],
            vec![p(".properties.db.properties.user", PropertyAdded)],
        ),
        (
            "object became a scalar",
            json!({"db": {"host": "string"}}),
            json!({"db": "string"}),
            vec![p(".properties.db.type", TypeChanged)],
            vec![],
        ),
    ];
    for (name, old, new, want_breaking, want_non_breaking) in cases {
        let (b, nb) = diff(old, new);
        assert_eq!(b, want_breaking, "{name}: breaking");
        assert_eq!(nb, want_non_breaking, "{name}: non-breaking");
    }
}

#[test]
fn summary_and_descriptions() {
    let old =
        spec(json!({"a": "string", "b": "string", "c": "string", "d": "string", "e": "integer"}));
    let new = spec(json!({"e": "string"}));
    let report = compare_schemas(&old, &new);
    assert!(!report.is_compatible());
    assert_eq!(
        report.summary(),
        "Property a was removed; Property b was removed; Property c was removed; and 2 more changes"
    );
    let descs: Vec<String> = breaking_changes(&old, &new)
        .iter()
        .map(|c| c.description())
        .collect();
    assert_eq!(descs[3], "Property d was removed");
    assert_eq!(descs[4], "Type changed from integer to string");
    assert_eq!(compare_schemas(&old, &old).summary(), "no breaking changes");
    assert!(!compare_schemas(&old, &old).has_changes());

    let r = compare_schemas(
        &spec(json!({"a": "integer | minimum=1", "s": "string | enum=\"x,y\""})),
        &spec(
            json!({"a": "integer | minimum=3", "s": "string | enum=\"x\"", "n": "string | required=true"}),
        ),
    );
    let descs: Vec<String> = r.breaking.iter().map(|c| c.description()).collect();
    assert_eq!(
        descs,
        vec![
            "Minimum was increased from 1 to 3",
            "Enum value \"y\" was removed",
            "Required property n was added",
        ]
    );
    assert_eq!(
        ChangeType::RequiredDefaultRemoved.as_str(),
        "REQUIRED_DEFAULT_REMOVED"
    );
}

#[test]
fn compare_generated_crds() {
    let owner = kro_schema::CrdOwner {
        rgd_name: "x",
        rgd_uid: "",
        kro_version: "dev",
    };
    let mut schema: kro_api::Schema = serde_json::from_value(json!({
        "kind": "App", "apiVersion": "v1alpha1", "spec": {"name": "string"}
    }))
    .unwrap();
    let old = kro_schema::build_instance_crd(&schema, vec![], &owner).unwrap();
    schema.spec = Some(json!({"name": "integer"}));
    let new = kro_schema::build_instance_crd(&schema, vec![], &owner).unwrap();
    let r = compare_crds(&old, &new);
    assert_eq!(r.breaking.len(), 1);
    assert_eq!(r.breaking[0].path, ".properties.spec.properties.name.type");
    assert!(compare_crds(&old, &old).is_compatible());
}

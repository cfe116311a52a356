//! Table tests of SimpleSchema → OpenAPI: every type, every marker (valid and invalid), custom
//! types, `required` / `default: {}` rules, and error paths.

#![allow(clippy::unwrap_used)]

use kro_schema::{ErrorKind, SchemaError, simple_schema_to_openapi};
use serde_json::{Value, json};

/// The OpenAPI schema of the instance spec for a SimpleSchema `spec` and `types`, as JSON.
fn convert(spec: Value, types: Option<Value>) -> Result<Value, Vec<SchemaError>> {
    simple_schema_to_openapi(Some(&spec), types.as_ref())
        .map(|s| serde_json::to_value(s).unwrap())
        .map_err(|e| e.0)
}

/// Schema of a single field `f: <field>`, and the spec's `required` list.
fn field(field: &str) -> Result<(Value, Value), String> {
    match convert(json!({ "f": field }), None) {
        Ok(v) => Ok((
            v["properties"]["f"].clone(),
            v.get("required").cloned().unwrap_or(Value::Null),
        )),
        Err(errs) => Err(errs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

#[test]
fn every_type() {
    let cases: Vec<(&str, Value)> = vec![
        ("string", json!({"type": "string"})),
        ("integer", json!({"type": "integer"})),
        ("boolean", json!({"type": "boolean"})),
        ("float", json!({"type": "number"})),
        ("  string  ", json!({"type": "string"})),
        (
            "object",
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "[]string",
            json!({"type": "array", "items": {"type": "string"}}),
        ),
        (
            "[][]integer",
            json!({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}),
        ),
        (
            "[]object",
            json!({"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}),
        ),
        (
            "map[string]string",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
        ),
        (
            "map[string] float",
            json!({"type": "object", "additionalProperties": {"type": "number"}}),
        ),
        (
            "map[string][]string",
            json!({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}),
        ),
        (
            "[]map[string]boolean",
            json!({"type": "array", "items": {"type": "object", "additionalProperties": {"type": "boolean"}}}),
        ),
        (
            "map[string]map[string]integer",
            json!({"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}}),
        ),
        (
            "map[string]object",
            json!({"type": "object", "additionalProperties": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(field(input).map(|(s, _)| s), Ok(want), "type {input:?}");
    }
}

#[test]
fn invalid_types() {
    let cases = [
        ("", "spec.schema.spec.f: empty type"),
        ("   | required=true", "spec.schema.spec.f: empty type"),
        ("[]", "spec.schema.spec.f: empty slice element type"),
        (
            "map[int]string",
            "spec.schema.spec.f: map key must be string",
        ),
        (
            "map[string]",
            "spec.schema.spec.f: map value type is required",
        ),
        (
            "int",
            "spec.schema.spec.f: unknown type: int; did you mean `integer`?",
        ),
        (
            "number",
            "spec.schema.spec.f: unknown type: number; did you mean `float`?",
        ),
        (
            "bool",
            "spec.schema.spec.f: unknown type: bool; did you mean `boolean`?",
        ),
        (
            "[]Port",
            "spec.schema.spec.f: unknown type: Port; use a built-in type",
        ),
        ("map[string]Foo", "spec.schema.spec.f: unknown type: Foo"),
        (
            "string |",
            "spec.schema.spec.f: marker key '' without a value",
        ),
    ];
    for (input, want) in cases {
        let got = field(input).unwrap_err();
        assert!(
            got.starts_with(want),
            "type {input:?}: got {got:?}, want prefix {want:?}"
        );
    }
    let deep = format!("{}string", "[]".repeat(17));
    assert!(
        field(&deep)
            .unwrap_err()
            .contains("type nesting too deep (max 16)")
    );
    let ok_depth = format!("{}string", "[]".repeat(16));
    assert!(field(&ok_depth).is_ok());
}

#[test]
#[allow(clippy::too_many_lines)] // one table of cases, one entry per rule
fn every_marker_valid() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "string | required=true",
            json!({"type": "string"}),
            json!(["f"]),
        ),
        (
            "string | required=True",
            json!({"type": "string"}),
            json!(["f"]),
        ),
        (
            "string | required=false",
            json!({"type": "string"}),
            Value::Null,
        ),
        (
            "string | default=hello",
            json!({"type": "string", "default": "hello"}),
            Value::Null,
        ),
        (
            r#"string | default="hello world""#,
            json!({"type": "string", "default": "hello world"}),
            Value::Null,
        ),
        (
            r#"string | default="say \"x\"""#,
            json!({"type": "string", "default": "say \"x\""}),
            Value::Null,
        ),
        (
            "integer | default=3",
            json!({"type": "integer", "default": 3}),
            Value::Null,
        ),
        (
            "integer | default=-3",
            json!({"type": "integer", "default": -3}),
            Value::Null,
        ),
        (
            "float | default=0.5",
            json!({"type": "number", "default": 0.5}),
            Value::Null,
        ),
        (
            "float | default=2",
            json!({"type": "number", "default": 2}),
            Value::Null,
        ),
        (
            "boolean | default=true",
            json!({"type": "boolean", "default": true}),
            Value::Null,
        ),
        (
            "boolean | default=F",
            json!({"type": "boolean", "default": false}),
            Value::Null,
        ),
        (
            "[]integer | default=[80, 443]",
            json!({"type": "array", "items": {"type": "integer"}, "default": [80, 443]}),
            Value::Null,
        ),
        (
            "map[string]string | default={}",
            json!({"type": "object", "additionalProperties": {"type": "string"}, "default": {}}),
            Value::Null,
        ),
        (
            r#"object | default={"a": 1}"#,
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "default": {"a": 1}}),
            Value::Null,
        ),
        (
            r#"string | description="The name of the app""#,
            json!({"type": "string", "description": "The name of the app"}),
            Value::Null,
        ),
        (
            r#"string | enum="a, b,c""#,
            json!({"type": "string", "enum": ["a", "b", "c"]}),
            Value::Null,
        ),
        (
            r#"integer | enum="1,2,3""#,
            json!({"type": "integer", "enum": [1, 2, 3]}),
            Value::Null,
        ),
        (
            "integer | minimum=1 maximum=10",
            json!({"type": "integer", "minimum": 1.0, "maximum": 10.0}),
            Value::Null,
        ),
        (
            "float | minimum=-0.5",
            json!({"type": "number", "minimum": -0.5}),
            Value::Null,
        ),
        (
            r#"string | pattern="^[a-z]+\d*$""#,
            json!({"type": "string", "pattern": "^[a-z]+\\d*$"}),
            Value::Null,
        ),
        (
            "string | minLength=1 maxLength=63",
            json!({"type": "string", "minLength": 1, "maxLength": 63}),
            Value::Null,
        ),
        (
            "[]string | uniqueItems=true",
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}),
            Value::Null,
        ),
        (
            "[]string | uniqueItems=false",
            json!({"type": "array", "items": {"type": "string"}}),
            Value::Null,
        ),
        (
            "[]string | minItems=1 maxItems=5",
            json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}),
            Value::Null,
        ),
        (
            "[]string | listType=atomic",
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"}),
            Value::Null,
        ),
        (
            "[]string | uniqueItems=true listType=set",
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}),
            Value::Null,
        ),
        (
            "[]object | listType=map listMapKey=name listMapKey=port",
            json!({"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                   "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "port"]}),
            Value::Null,
        ),
        (
            "string | immutable=true",
            json!({"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "field is immutable"}]}),
            Value::Null,
        ),
        (
            "string | immutable=false",
            json!({"type": "string"}),
            Value::Null,
        ),
        (
            r#"string | validation="self.startsWith('a')""#,
            json!({"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('a')", "message": "validation failed"}]}),
            Value::Null,
        ),
        (
            r#"integer | immutable=true validation="self > 0""#,
            json!({"type": "integer", "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "field is immutable"},
                {"rule": "self > 0", "message": "validation failed"}
            ]}),
            Value::Null,
        ),
        // Later markers override earlier ones.
        (
            "string | default=a default=b",
            json!({"type": "string", "default": "b"}),
            Value::Null,
        ),
    ];
    for (input, want, required) in cases {
        let got = field(input);
        // A field with a default makes the spec default to {} (tested separately).
        assert_eq!(
            got.as_ref().map(|(s, _)| s.clone()),
            Ok(want),
            "field {input:?}"
        );
        assert_eq!(got.unwrap().1, required, "required of {input:?}");
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one table of cases, one entry per rule
fn every_marker_invalid() {
    let cases = [
        (
            "string | required=yes",
            "invalid required marker: \"yes\" is not a boolean; write required=true or required=false",
        ),
        (
            "integer | default=abc",
            "invalid default marker: \"abc\" is not an integer",
        ),
        (
            "integer | default=1.5",
            "invalid default marker: \"1.5\" is not an integer",
        ),
        (
            "float | default=x",
            "invalid default marker: \"x\" is not a finite number",
        ),
        (
            "boolean | default=yes",
            "invalid default marker: \"yes\" is not a boolean",
        ),
        ("[]string | default=[a", "unclosed bracket/brace"),
        (
            "[]string | default=a",
            "invalid default marker: \"a\" is not valid JSON for an array field",
        ),
        (
            "map[string]string | default=x",
            "invalid default marker: \"x\" is not valid JSON for an object field",
        ),
        (
            "float | enum=\"1,2\"",
            "invalid enum marker: enum values only supported for string and integer types, got type: number",
        ),
        (
            "string | enum=\"a,,b\"",
            "invalid enum marker: empty enum values are not allowed",
        ),
        (
            "integer | enum=\"1,x\"",
            "invalid enum marker: \"x\" is not an integer",
        ),
        (
            "integer | minimum=low",
            "invalid minimum marker: \"low\" is not a finite number",
        ),
        (
            "integer | maximum=inf",
            "invalid maximum marker: \"inf\" is not a finite number",
        ),
        (
            "integer | minLength=1",
            "invalid minLength marker: minLength only applies to string fields, but this field is integer",
        ),
        (
            "[]string | maxLength=1",
            "invalid maxLength marker: maxLength only applies to string fields, but this field is array",
        ),
        (
            "string | minLength=-x",
            "invalid minLength marker: \"-x\" is not an integer",
        ),
        (
            "integer | pattern=\"^a$\"",
            "invalid pattern marker: pattern only applies to string fields",
        ),
        (
            "string | pattern=\"\"",
            "invalid pattern marker: pattern marker value cannot be empty",
        ),
        (
            "string | pattern=\"([a-z\"",
            "invalid pattern marker: invalid pattern regex",
        ),
        (
            "string | uniqueItems=true",
            "invalid uniqueItems marker: uniqueItems only applies to array fields, but this field is string",
        ),
        (
            "[]string | uniqueItems=maybe",
            "invalid uniqueItems marker: \"maybe\" is not a boolean",
        ),
        (
            "string | minItems=1",
            "invalid minItems marker: minItems only applies to array fields",
        ),
        (
            "[]string | maxItems=many",
            "invalid maxItems marker: \"many\" is not an integer",
        ),
        (
            "[]string | listType=list",
            "invalid listType marker: \"list\" is not a list type; write listType=atomic, listType=set or listType=map",
        ),
        (
            "string | listType=set",
            "invalid listType marker: listType only applies to array fields",
        ),
        (
            "[]string | uniqueItems=true listType=atomic",
            "invalid listType marker: conflicts with listType=set",
        ),
        (
            "[]string | listType=map uniqueItems=true",
            "invalid uniqueItems marker: conflicts with listType=map",
        ),
        (
            "[]object | listMapKey=name",
            "invalid listMapKey marker: listMapKey requires listType=map",
        ),
        (
            "[]object | listType=map listMapKey=a listMapKey=a",
            "invalid listMapKey marker: duplicate listMapKey \"a\"",
        ),
        (
            "string | listMapKey=a",
            "invalid listMapKey marker: listMapKey only applies to array fields",
        ),
        (
            "string | immutable=sometimes",
            "invalid immutable marker: \"sometimes\" is not a boolean",
        ),
        (
            "string | validation=\"  \"",
            "invalid validation marker: the CEL rule is empty",
        ),
        (
            "string | format=date",
            "invalid marker key \"format\": unknown marker: format",
        ),
    ];
    for (input, want) in cases {
        let got = field(input).unwrap_err();
        let want = format!("spec.schema.spec.f: {want}");
        assert!(
            got.starts_with(&want),
            "field {input:?}:\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn nested_objects_required_and_default() {
    let got = convert(
        json!({
            "name": "string | required=true",
            "replicas": "integer | default=1",
            "ingress": {
                "enabled": "boolean | default=false",
                "host": "string"
            },
            "db": {
                "user": "string | required=true",
                "port": "integer | default=5432"
            },
            "empty": {},
            "b": "string | required=true",
        }),
        None,
    )
    .unwrap();
    assert_eq!(
        got,
        json!({
            "type": "object",
            "required": ["b", "name"],
            "properties": {
                "b": {"type": "string"},
                "name": {"type": "string"},
                "replicas": {"type": "integer", "default": 1},
                // No required children and a child default: default {} so defaults apply.
                "ingress": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "enabled": {"type": "boolean", "default": false},
                        "host": {"type": "string"}
                    }
                },
                // A required child: never default {}.
                "db": {
                    "type": "object",
                    "required": ["user"],
                    "properties": {
                        "user": {"type": "string"},
                        "port": {"type": "integer", "default": 5432}
                    }
                },
                "empty": {"type": "object"}
            }
        })
    );
    // The spec itself gets default {} when nothing is required and something has a default.
    assert_eq!(
        convert(json!({"replicas": "integer | default=1"}), None).unwrap()["default"],
        json!({})
    );
    assert_eq!(convert(json!({}), None).unwrap(), json!({"type": "object"}));
    assert_eq!(
        serde_json::to_value(simple_schema_to_openapi(None, None).unwrap()).unwrap(),
        json!({"type": "object"})
    );
}

#[test]
fn custom_types() {
    let types = json!({
        "Port": "integer | default=8080 minimum=1 maximum=65535",
        "Name": "string | required=true minLength=1",
        "Server": {
            "host": "string | required=true",
            "port": "Port",
        },
        "Cluster": {
            "servers": "[]Server",
            "byName": "map[string]Server",
            "primary": "Server",
        },
    });
    let got = convert(
        json!({
            "name": "Name",
            "port": "Port | description=\"the port\"",
            "cluster": "Cluster | required=true",
        }),
        Some(types),
    )
    .unwrap();
    let server = json!({
        "type": "object",
        "required": ["host"],
        "properties": {
            "host": {"type": "string"},
            "port": {"type": "integer", "default": 8080, "minimum": 1.0, "maximum": 65535.0}
        }
    });
    assert_eq!(
        got,
        json!({
            "type": "object",
            // `Name` is an alias with required=true: every field of that type is required.
            "required": ["cluster", "name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "port": {"type": "integer", "default": 8080, "minimum": 1.0, "maximum": 65535.0, "description": "the port"},
                "cluster": {
                    "type": "object",
                    "properties": {
                        "servers": {"type": "array", "items": server},
                        "byName": {"type": "object", "additionalProperties": server},
                        "primary": server
                    }
                }
            }
        })
    );
}

#[test]
fn custom_type_errors() {
    let err = |spec: Value, types: Value| -> Vec<String> {
        convert(spec, Some(types))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        err(
            json!({"a": "A"}),
            json!({"A": {"b": "B"}, "B": {"a": "[]A"}})
        ),
        vec![
            "spec.schema.types.B: cyclic dependency in type B: graph contains a cycle: A -> B -> A; recursive types are not supported, break the cycle (e.g. use `object` for the recursive field)"
        ]
    );
    assert_eq!(
        err(json!({}), json!({"Node": {"children": "[]Node"}})),
        vec![
            "spec.schema.types.Node: cyclic dependency in type Node: graph contains a cycle: Node -> Node; recursive types are not supported, break the cycle (e.g. use `object` for the recursive field)"
        ]
    );
    // Errors inside types name the type and field; fields using a broken type do not repeat it.
    assert_eq!(
        err(
            json!({"s": "Server", "t": "Missing"}),
            json!({"Server": {"port": "integer | minimum=x"}})
        ),
        vec![
            "spec.schema.types.Server.port: invalid minimum marker: \"x\" is not a finite number; write e.g. minimum=1 or minimum=0.5".to_string(),
            "spec.schema.spec.t: unknown type: Missing; use a built-in type (string, integer, boolean, float, object, []T, map[string]T) or one of spec.schema.types: Server".to_string(),
        ]
    );
    assert_eq!(
        err(
            json!({"a": "server"}),
            json!({"Server": {"host": "string"}})
        ),
        vec![
            "spec.schema.spec.a: unknown type: server; did you mean `Server` (type names are case-sensitive)?"
        ]
    );
    assert_eq!(
        err(json!({}), json!({"Bad": 5})),
        vec![
            "spec.schema.types.Bad: expected a type string such as \"string | required=true\" or a nested map of fields, got a number"
        ]
    );
    assert_eq!(
        err(json!({}), json!(["not", "a", "map"])),
        vec!["spec.schema.types: expected a map of field names to types, got a list"]
    );
}

#[test]
fn all_errors_are_reported_with_paths() {
    let errs = convert(
        json!({
            "a": "int",
            "b": {"c": "[]", "d": 5, "e": ["x"], "f": null},
            "g": "string | minimum=1 pattern=\"(\"",
        }),
        None,
    )
    .unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "spec.schema.spec.a",
            "spec.schema.spec.b.c",
            "spec.schema.spec.b.d",
            "spec.schema.spec.b.e",
            "spec.schema.spec.b.f",
            "spec.schema.spec.g",
        ]
    );
    assert_eq!(errs[3].kind, ErrorKind::InvalidFieldValue("a list"));
    assert_eq!(
        convert(json!("string"), None).unwrap_err()[0].to_string(),
        "spec.schema.spec: expected a map of field names to types, got a string"
    );
}

#[test]
fn deeply_nested_objects_are_rejected_not_overflowed() {
    let mut spec = json!("string");
    for _ in 0..70 {
        spec = json!({ "x": spec });
    }
    let errs = convert(spec, None).unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .contains("object nesting too deep (max 64 levels)"),
        "{}",
        errs[0]
    );
}

/// The required/default interactions kro's e2e suite checks on a generated CRD (custom type
/// aliases with `required`, structs with and without required fields, arrays of structs).
#[test]
fn required_and_default_interactions_like_kro() {
    let types = json!({
        "MustString": "string | required=true",
        "Replicas": "integer | default=2 minimum=1 maximum=50",
        "Queue": {
            "url": "string | required=true",
            "replicas": "Replicas",
            "region": "string | default=\"eu-west-1\"",
        },
        "Backoff": {
            "attempts": "integer | default=5 minimum=0",
            "jitter": "boolean | default=false",
        },
        "Route": {
            "path": "MustString",
            "port": "integer | default=80",
        },
    });
    let spec = json!({
        "owner": "MustString",
        "mode": "string | default=\"dev\" enum=\"dev,prod\"",
        "queue": "Queue",
        "backoff": "Backoff",
        "routes": "[]Route | minItems=1",
        "labels": "map[string]string",
        "zone": "string | immutable=true",
        "workers": "integer | default=1 validation=\"self % 2 == 1\"",
        "limits": {"cpu": "string | default=\"1\"", "memory": "string | default=\"1Gi\""},
    });
    let got = convert(spec, Some(types)).unwrap();
    let props = &got["properties"];
    // Only the alias-required field is required at the top; so no default {} on spec.
    assert_eq!(got["required"], json!(["owner"]));
    assert_eq!(got.get("default"), None);
    assert_eq!(props["owner"], json!({"type": "string"}));
    assert_eq!(
        props["mode"],
        json!({"type": "string", "default": "dev", "enum": ["dev", "prod"]})
    );
    // A struct with required fields never defaults to {}.
    assert_eq!(props["queue"]["required"], json!(["url"]));
    assert_eq!(props["queue"].get("default"), None);
    assert_eq!(
        props["queue"]["properties"]["replicas"],
        json!({"type": "integer", "default": 2, "minimum": 1.0, "maximum": 50.0})
    );
    // A struct whose fields all have defaults defaults to {} so they materialize.
    assert_eq!(props["backoff"]["default"], json!({}));
    assert_eq!(props["limits"]["default"], json!({}));
    // Arrays of structs: the alias-required field is required in the item.
    assert_eq!(props["routes"]["minItems"], json!(1));
    assert_eq!(props["routes"]["items"]["required"], json!(["path"]));
    assert_eq!(props["routes"]["items"].get("default"), None);
    assert_eq!(
        props["zone"]["x-kubernetes-validations"],
        json!([{"rule": "self == oldSelf", "message": "field is immutable"}])
    );
    assert_eq!(
        props["workers"]["x-kubernetes-validations"],
        json!([{"rule": "self % 2 == 1", "message": "validation failed"}])
    );
}

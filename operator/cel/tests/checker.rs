//! The static checker: types expressions against OpenAPI schemas of the instance and the
//! resources, as kro does at RGD time.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use kro_cel::{CelError, CelType, CheckErrorKind, Environment, TypeEnv};
use serde_json::json;

fn schema(v: serde_json::Value) -> JSONSchemaProps {
    serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
}

fn instance_schema() -> JSONSchemaProps {
    schema(json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {
                "name": {"type": "string"},
                "replicas": {"type": "integer"},
                "enabled": {"type": "boolean"},
                "ratio": {"type": "number"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": true},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "ingress": {"type": "object", "properties": {
                    "enabled": {"type": "boolean"},
                    "host": {"type": "string"}
                }},
                "when": {"type": "string", "format": "date-time"},
                "secretData": {"type": "string", "format": "byte"}
            }}
        }
    }))
}

fn deployment_schema() -> JSONSchemaProps {
    schema(json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {
                "replicas": {"type": "integer"},
                "template": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "containers": {"type": "array", "items": {"type": "object", "properties": {
                            "name": {"type": "string"},
                            "image": {"type": "string"},
                            "ports": {"type": "array", "items": {"type": "object", "properties": {
                                "containerPort": {"type": "integer"}
                            }}}
                        }}}
                    }}
                }}
            }},
            "status": {"type": "object", "properties": {
                "availableReplicas": {"type": "integer"},
                "readyReplicas": {"type": "integer"},
                "conditions": {"type": "array", "items": {"type": "object", "properties": {
                    "type": {"type": "string"}, "status": {"type": "string"}
                }}}
            }}
        }
    }))
}

fn types() -> TypeEnv {
    let mut t = TypeEnv::new();
    t.declare("schema", CelType::resource("schema", &instance_schema()))
        .declare(
            "deployment",
            CelType::resource("deployment", &deployment_schema()),
        )
        .declare("config", CelType::Dyn)
        .declare(
            "workers",
            CelType::List(Box::new(CelType::resource("workers", &deployment_schema()))),
        );
    t
}

fn ty(expr: &str) -> Result<CelType, CelError> {
    Environment::new()
        .compile_checked(expr, &types())
        .map(|(_, t)| t)
}

fn ok(expr: &str) -> String {
    match ty(expr) {
        Ok(t) => t.to_string(),
        Err(e) => panic!("{expr}: {e}"),
    }
}

fn errors(expr: &str) -> Vec<kro_cel::CheckError> {
    match ty(expr) {
        Ok(t) => panic!("{expr} type-checked as {t}, expected an error"),
        Err(CelError::Check { errors, .. }) => errors.0,
        Err(e) => panic!("{expr}: expected a check error, got {e}"),
    }
}

#[test]
fn result_types_of_well_typed_expressions() {
    let cases = [
        ("schema.spec.name", "string"),
        ("schema.spec.replicas + 1", "int"),
        ("schema.spec.ratio * 2.0", "double"),
        (
            "schema.spec.name + '-' + string(schema.spec.replicas)",
            "string",
        ),
        ("schema.spec.tags", "list(string)"),
        ("schema.spec.tags[0]", "string"),
        ("schema.spec.labels", "map(string, string)"),
        ("schema.spec.labels['x']", "string"),
        ("schema.spec.labels.team", "string"),
        ("schema.spec.port", "dyn"),
        ("schema.spec.extra.anything.deeper", "dyn"),
        ("schema.spec.when", "google.protobuf.Timestamp"),
        ("schema.spec.secretData", "bytes"),
        ("schema.metadata.name", "string"),
        ("schema.metadata.labels", "map(string, string)"),
        ("schema.apiVersion", "string"),
        ("deployment.status.availableReplicas > 0", "bool"),
        (
            "deployment.spec.template.spec.containers.map(c, c.name)",
            "list(string)",
        ),
        (
            "deployment.spec.template.spec.containers.filter(c, c.name != 'x')",
            "list(__type_deployment.spec.template.spec.containers.@idx)",
        ),
        (
            "deployment.spec.template.spec.containers[0].ports[0].containerPort",
            "int",
        ),
        (
            "deployment.status.conditions.exists(c, c.type == 'Available')",
            "bool",
        ),
        ("deployment.status.?readyReplicas", "optional_type(int)"),
        ("deployment.status.?readyReplicas.orValue(0) > 0", "bool"),
        ("schema.spec.?ingress.?host.orValue('none')", "string"),
        ("has(schema.spec.ingress.host)", "bool"),
        ("schema.spec.enabled ? 'a' : 'b'", "string"),
        ("{'app': schema.spec.name}", "map(string, string)"),
        ("[schema.spec.replicas, 2]", "list(int)"),
        ("cel.bind(n, schema.spec.name, n + n)", "string"),
        (
            "schema.spec.labels.transformMap(k, v, v + k)",
            "map(string, string)",
        ),
        ("schema.spec.tags.transformList(i, t, i)", "list(int)"),
        ("schema.spec.labels.all(k, v, k != v)", "bool"),
        ("schema.spec.tags.first()", "optional_type(string)"),
        ("lists.range(3)", "list(int)"),
        ("random.seededString(8, schema.metadata.uid)", "string"),
        ("hash.sha256(schema.spec.name)", "bytes"),
        ("base64.encode(hash.sha256(schema.spec.name))", "string"),
        ("json.unmarshal(config.data.settings)", "dyn"),
        (
            "schema.spec.labels.merge({'a': 'b'})",
            "map(string, string)",
        ),
        ("lists.setAtIndex(schema.spec.tags, 0, 'x')", "list(string)"),
        ("omit()", "kro.omit"),
        ("quantity('1').add(2)", "kubernetes.Quantity"),
        ("url('https://x').getQuery()", "map(string, list(string))"),
        ("ip('1.2.3.4').family()", "int"),
        ("cidr('10.0.0.0/8').containsIP('10.0.0.1')", "bool"),
        ("semver('1.0.0').major()", "int"),
        ("'a,b'.split(',')", "list(string)"),
        ("schema.spec.tags.join('-')", "string"),
        ("workers.map(w, w.status.availableReplicas)", "list(int)"),
        ("optional.of(1)", "optional_type(int)"),
        ("dyn(schema.spec.name)", "dyn"),
        ("config.data.DATABASE_URL", "dyn"),
        ("size(schema.spec.tags)", "int"),
        (
            "timestamp('2026-01-01T00:00:00Z') + duration('1h')",
            "google.protobuf.Timestamp",
        ),
        ("schema.spec.tags.sortBy(t, t.size())", "list(string)"),
        ("schema.spec.name.matches('^a')", "bool"),
        ("matches(schema.spec.name, '^a')", "bool"),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        match ty(expr) {
            Ok(t) if t.to_string() == want => {}
            Ok(t) => failures.push(format!("{expr}: want {want}, got {t}")),
            Err(e) => failures.push(format!("{expr}: want {want}, error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn root_objects_always_have_object_meta() {
    let partial = schema(json!({"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
        "spec": {"type": "object", "properties": {"a": {"type": "string"}}}
    }}));
    let types = TypeEnv::new().with("svc", CelType::resource("svc", &partial));
    let env = Environment::new();
    for (expr, want) in [
        ("svc.metadata.name", "string"),
        ("svc.metadata.labels", "map(string, string)"),
        ("svc.metadata.generation", "int"),
        ("svc.kind + svc.apiVersion", "string"),
    ] {
        let (_, t) = env
            .compile_checked(expr, &types)
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(t.to_string(), want, "{expr}");
    }
    assert!(env.compile_checked("svc.metadata.nope", &types).is_err());
}

#[test]
fn unknown_fields_are_reported_with_the_path_and_the_known_fields() {
    let errs = errors("schema.spec.nmae");
    assert_eq!(errs.len(), 1);
    match &errs[0].kind {
        CheckErrorKind::UndefinedField { path, field, known } => {
            assert_eq!(path, "schema.spec");
            assert_eq!(field, "nmae");
            assert_eq!(
                known.first().map(String::as_str),
                Some("name"),
                "closest first: {known:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        errs[0].message.contains("undefined field 'nmae'"),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].position, Some((1, 12)));

    for (expr, field) in [
        ("deployment.status.availableReplica > 0", "availableReplica"),
        (
            "deployment.spec.template.spec.containers.map(c, c.imag)",
            "imag",
        ),
        ("deployment.status.?ready.orValue(0)", "ready"),
        ("has(schema.spec.nope)", "nope"),
        ("schema.spec['nope']", "nope"),
        ("workers[0].spec.replica", "replica"),
    ] {
        let errs = errors(expr);
        assert!(
            errs.iter().any(
                |e| matches!(&e.kind, CheckErrorKind::UndefinedField { field: f, .. } if f == field)
            ),
            "{expr}: {errs:?}"
        );
    }
}

#[test]
fn type_mismatches_and_undeclared_references() {
    let cases: &[(&str, &str)] = &[
        (
            "schema.spec.name + 1",
            "found no matching overload for '_+_' applied to '(string, int)'",
        ),
        (
            "schema.spec.replicas + 'x'",
            "no matching overload for '_+_'",
        ),
        (
            "'app-' + schema.spec.replicas",
            "no matching overload for '_+_'",
        ),
        (
            "schema.spec.name.size() > 'a'",
            "no matching overload for '_>_'",
        ),
        (
            "schema.spec.replicas == 'three'",
            "no matching overload for '_==_'",
        ),
        (
            "schema.spec.name && true",
            "no matching overload for '_&&_'",
        ),
        (
            "schema.spec.name.startsWith(1)",
            "no matching overload for 'startsWith'",
        ),
        ("nothere.x", "undeclared reference to 'nothere'"),
        (
            "schema.spec.name.nofunc()",
            "undeclared reference to 'nofunc'",
        ),
        ("unknownFn(1)", "undeclared reference to 'unknownFn'"),
        (
            "schema.spec.replicas.matches('x')",
            "no matching overload for 'matches'",
        ),
        (
            "schema.spec.replicas.name",
            "does not support field selection",
        ),
        ("schema.spec.name[0]", "no matching overload for '_[_]'"),
        (
            "schema.spec.replicas.map(x, x)",
            "cannot be range of a comprehension",
        ),
        (
            "schema.spec.tags.map(t, t + 1)",
            "no matching overload for '_+_'",
        ),
        ("cel.bind(x, 1, x + 'a')", "no matching overload for '_+_'"),
        (
            "schema.spec.labels.all(k, v, v + 1 > 0)",
            "no matching overload for '_+_'",
        ),
    ];
    for (expr, fragment) in cases {
        let errs = errors(expr);
        assert!(
            errs.iter().any(|e| e.message.contains(fragment)),
            "{expr}: want {fragment:?}, got {errs:?}"
        );
    }
}

#[test]
fn comprehension_variables_do_not_leak_and_shadow_correctly() {
    // `c` is bound inside the macro only.
    assert!(
        errors("deployment.spec.template.spec.containers.map(c, c.name) + [c]")
            .iter()
            .any(|e| e.message.contains("undeclared reference to 'c'"))
    );
    // An inner variable shadows an outer one of another type.
    assert_eq!(
        ok("schema.spec.tags.map(x, [1].map(x, x + 1))"),
        "list(list(int))"
    );
}

#[test]
fn conditions_and_foreach_requirements() {
    for cond in [
        "deployment.status.availableReplicas > 0",
        "deployment.status.?ready2.orValue(true)",
    ] {
        let _ = cond;
    }
    assert!(ty("schema.spec.enabled").is_ok_and(|t| t.is_bool_like()));
    assert!(ty("schema.spec.?enabled").is_ok_and(|t| t.is_bool_like()));
    assert!(ty("config.enabled").is_ok_and(|t| t.is_bool_like()));
    assert!(ty("schema.spec.name").is_ok_and(|t| !t.is_bool_like()));
    assert_eq!(
        ty("schema.spec.tags").ok().and_then(|t| t.list_element()),
        Some(CelType::String)
    );
    assert_eq!(
        ty("schema.spec.name").ok().and_then(|t| t.list_element()),
        None
    );
}

#[test]
fn assignability_follows_kro_compatibility_rules() {
    let s = |v| CelType::from_schema("t", &schema(v));
    let int = CelType::Int;
    assert!(int.assignable_to(&CelType::Dyn).is_ok());
    assert!(
        CelType::Optional(Box::new(CelType::Int))
            .assignable_to(&int)
            .is_ok()
    );
    assert!(CelType::String.assignable_to(&int).is_err());
    assert!(
        CelType::List(Box::new(CelType::String))
            .assignable_to(&s(json!({"type": "array", "items": {"type": "string"}})))
            .is_ok()
    );
    assert!(
        CelType::List(Box::new(CelType::Int))
            .assignable_to(&s(json!({"type": "array", "items": {"type": "string"}})))
            .is_err()
    );
    let labels = CelType::Map(Box::new(CelType::String), Box::new(CelType::String));
    assert!(
        labels
            .assignable_to(&s(
                json!({"type": "object", "additionalProperties": {"type": "string"}})
            ))
            .is_ok()
    );
    let obj = s(
        json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}),
    );
    let smaller = s(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let extra = s(json!({"type": "object", "properties": {"c": {"type": "string"}}}));
    assert!(
        smaller.assignable_to(&obj).is_ok(),
        "subset of fields is fine"
    );
    assert!(
        extra.assignable_to(&obj).is_err(),
        "extra fields are rejected"
    );
    assert!(
        labels.assignable_to(&smaller).is_ok(),
        "map values suit every field"
    );
    assert!(
        labels.assignable_to(&obj).is_err(),
        "string values do not suit integer b"
    );
}

#[test]
fn status_schema_inference() {
    let cases = [
        ("schema.spec.replicas", json!({"type": "integer"})),
        ("schema.spec.name", json!({"type": "string"})),
        ("schema.spec.enabled", json!({"type": "boolean"})),
        ("schema.spec.ratio", json!({"type": "number"})),
        (
            "schema.spec.tags",
            json!({"type": "array", "items": {"type": "string"}}),
        ),
        (
            "schema.spec.labels",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
        ),
        (
            "config.data",
            json!({"x-kubernetes-preserve-unknown-fields": true}),
        ),
        (
            "hash.sha256('x')",
            json!({"type": "string", "format": "byte"}),
        ),
        (
            "schema.spec.when",
            json!({"type": "string", "format": "date-time"}),
        ),
        (
            "schema.spec.ingress",
            json!({"type": "object", "properties": {"enabled": {"type": "boolean"}, "host": {"type": "string"}}}),
        ),
        (
            "deployment.status.?readyReplicas",
            json!({"type": "integer"}),
        ),
    ];
    for (expr, want) in cases {
        let t = ty(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(
            serde_json::to_value(t.to_schema()).ok(),
            Some(want),
            "{expr}"
        );
    }
}

//! Table tests: every graph error kro reports, with the message a user sees, and that all errors
//! of an RGD are reported at once.

#![allow(clippy::unwrap_used)]

use kro_graph::{CompileOptions, ErrorCode, NoSchemas, SchemaStore, compile};
use serde_json::{Value, json};

fn rgd(resources: Value) -> Value {
    rgd_with(json!({"name": "string"}), resources, json!(null))
}

fn rgd_with(spec: Value, resources: Value, status: Value) -> Value {
    let mut schema = json!({"apiVersion": "v1alpha1", "kind": "App", "spec": spec});
    if !status.is_null() {
        schema["status"] = status;
    }
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "ResourceGraphDefinition",
        "metadata": {"name": "app"},
        "spec": {"schema": schema, "resources": resources}
    })
}

fn cm(id: &str, name: &str, data: Value) -> Value {
    json!({"id": id, "template": {"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": data}})
}

fn errors_of(doc: &Value) -> Vec<(ErrorCode, String)> {
    match compile(doc, &NoSchemas, &CompileOptions::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.into_iter().map(|e| (e.code, e.message)).collect(),
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one table of cases, one entry per rule
fn every_graph_error() {
    let cases: Vec<(&str, Value, ErrorCode, &str)> = vec![
        (
            "kind not UpperCamelCase",
            json!({"spec": {"schema": {"apiVersion": "v1alpha1", "kind": "myApp", "spec": {}}}}),
            ErrorCode::InvalidSchema,
            "naming convention violation: kind 'myApp' is not a valid KRO kind name: must be UpperCamelCase",
        ),
        (
            "bad version",
            json!({"spec": {"schema": {"apiVersion": "version1", "kind": "App", "spec": {}}}}),
            ErrorCode::InvalidSchema,
            "version version1 is not a valid Kubernetes version",
        ),
        (
            "reserved id",
            rgd(json!([cm("schema", "x", json!({}))])),
            ErrorCode::InvalidId,
            "naming convention violation: id schema is a reserved keyword in KRO",
        ),
        (
            "CEL reserved id",
            rgd(json!([cm("while", "x", json!({}))])),
            ErrorCode::InvalidId,
            "naming convention violation: id while is a reserved keyword in KRO",
        ),
        (
            "id not lower camelCase",
            rgd(json!([cm("my-config", "x", json!({}))])),
            ErrorCode::InvalidId,
            "naming convention violation: id my-config is not a valid KRO resource id: must be lower camelCase",
        ),
        (
            "duplicate id",
            rgd(json!([
                cm("config", "a", json!({})),
                cm("config", "b", json!({}))
            ])),
            ErrorCode::InvalidId,
            "naming convention violation: found duplicate resource IDs config",
        ),
        (
            "neither template nor externalRef",
            rgd(json!([{"id": "config"}])),
            ErrorCode::InvalidCombination,
            "invalid combination of resource fields: resource \"config\": exactly one of template or externalRef must be provided",
        ),
        (
            "template and externalRef",
            rgd(
                json!([{"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
                "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidCombination,
            "invalid combination of resource fields: resource \"config\": cannot use externalRef with template",
        ),
        (
            "externalRef with forEach",
            rgd(
                json!([{"id": "config", "forEach": [{"x": "${schema.spec.items}"}],
                "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidCombination,
            "invalid combination of resource fields: resource \"config\": cannot use externalRef with forEach",
        ),
        (
            "externalRef with deletionPolicy",
            rgd(json!([{"id": "config", "deletionPolicy": "Orphan",
                "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidCombination,
            "invalid combination of resource fields: resource \"config\": cannot use externalRef with deletionPolicy: kro never deletes what an externalRef reads",
        ),
        (
            "externalRef with adoptionPolicy",
            rgd(json!([{"id": "config", "adoptionPolicy": "AdoptOrCreate",
                "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidCombination,
            "invalid combination of resource fields: resource \"config\": cannot use externalRef with adoptionPolicy: kro never writes what an externalRef reads",
        ),
        (
            "externalRef with externalFields",
            rgd(json!([{"id": "config", "externalFields": ["data.x"],
                "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidCombination,
            "invalid combination of resource fields: resource \"config\": cannot use externalRef with externalFields: kro never writes what an externalRef reads",
        ),
        (
            "externalFields path malformed",
            rgd(json!([{"id": "config", "externalFields": ["data..x"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidTemplate,
            "resource \"config\": externalFields[0] \"data..x\" is not a field kro can hand to another field manager: it has an empty segment (a leading, trailing or doubled '.')",
        ),
        (
            "externalFields on kro's metadata",
            rgd(
                json!([{"id": "config", "externalFields": ["metadata.labels"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidTemplate,
            "resource \"config\": externalFields[0] \"metadata.labels\" is not a field kro can hand to another field manager: metadata cannot be handed to another field manager: kro keeps apiVersion, kind and metadata, and never applies status",
        ),
        (
            "externalFields not a list",
            rgd(json!([{"id": "config", "externalFields": "data.x",
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidDocument,
            "resource \"config\": externalFields must be a list of field paths",
        ),
        (
            "deletionPolicy not one of the values",
            rgd(json!([{"id": "config", "deletionPolicy": "Retain",
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidDocument,
            "resource \"config\": deletionPolicy must be one of Delete, Orphan, Orphaned, got \"Retain\"",
        ),
        (
            "adoptionPolicy not one of the values",
            rgd(json!([{"id": "config", "adoptionPolicy": true,
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidDocument,
            "resource \"config\": adoptionPolicy must be one of Never, AdoptOrCreate, got a value that is not a string",
        ),
        (
            "externalRef with name and selector",
            rgd(json!([{"id": "config",
                "externalRef": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "selector": {"matchLabels": {"a": "b"}}}}}])),
            ErrorCode::InvalidTemplate,
            "failed to build external ref resource config: exactly one of name or selector must be provided",
        ),
        (
            "template without apiVersion",
            rgd(
                json!([{"id": "config", "template": {"kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidTemplate,
            "resource config is not a valid Kubernetes object: apiVersion field not found",
        ),
        (
            "template kind not a string",
            rgd(
                json!([{"id": "config", "template": {"apiVersion": "v1", "kind": 3, "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidTemplate,
            "resource config is not a valid Kubernetes object: kind field is not a string",
        ),
        (
            "template without metadata",
            rgd(json!([{"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap"}}])),
            ErrorCode::InvalidTemplate,
            "resource config is not a valid Kubernetes object: metadata field not found",
        ),
        (
            "cluster-scoped with namespace",
            rgd(
                json!([{"id": "ns", "template": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": "y"}}}]),
            ),
            ErrorCode::InvalidMetadata,
            "resource \"ns\" is cluster-scoped and must not set metadata.namespace",
        ),
        (
            "reserved label",
            rgd(
                json!([{"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"kro.run/owned": "false"}}}}]),
            ),
            ErrorCode::InvalidMetadata,
            "invalid label for resource \"config\". labels with prefix \"kro.run/\" are reserved for internal use",
        ),
        (
            "reserved annotation",
            rgd(
                json!([{"id": "config", "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "annotations": {"internal.kro.run/apply-order": "1"}}}}]),
            ),
            ErrorCode::InvalidMetadata,
            "invalid annotation for resource \"config\". annotations with prefix \"internal.kro.run/\" are reserved for internal use",
        ),
        (
            "nested expression",
            rgd(json!([cm("config", "${a(${b})}", json!({}))])),
            ErrorCode::InvalidExpression,
            "nested expressions are not allowed unless inside string literals",
        ),
        (
            "CEL syntax error",
            rgd(json!([cm("config", "${schema.spec.name +}", json!({}))])),
            ErrorCode::CelSyntax,
            "failed to compile expression \"schema.spec.name +\"",
        ),
        (
            "unknown identifier",
            rgd(json!([cm("config", "${nope.metadata.name}", json!({}))])),
            ErrorCode::UnknownIdentifier,
            "references unknown identifiers: [nope]",
        ),
        (
            "self reference",
            rgd(json!([cm("config", "${config.metadata.name}", json!({}))])),
            ErrorCode::SelfReference,
            "self references are not allowed",
        ),
        (
            "runtime outside status.conditions",
            rgd(json!([cm("config", "${runtime.x}", json!({}))])),
            ErrorCode::UnknownIdentifier,
            "runtime is only available in status.conditions expressions",
        ),
        (
            "cycle",
            rgd(json!([
                cm("a", "${b.metadata.name}", json!({})),
                cm("b", "${a.metadata.name}", json!({}))
            ])),
            ErrorCode::Cycle,
            "failed to build dependency graph: graph contains a cycle: a -> b -> a",
        ),
        (
            "readyWhen not standalone",
            rgd(json!([{"id": "config", "readyWhen": ["x ${config.data.a}"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidExpression,
            "failed to parse readyWhen expressions: only standalone expressions are allowed",
        ),
        (
            "includeWhen not standalone",
            rgd(json!([{"id": "config", "includeWhen": ["true"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::InvalidExpression,
            "failed to parse includeWhen expressions: only standalone expressions are allowed",
        ),
        (
            "readyWhen reads another resource",
            rgd(
                json!([cm("a", "a", json!({})), {"id": "b", "readyWhen": ["${a.data.x == 'y'}"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}}]),
            ),
            ErrorCode::UnknownIdentifier,
            "resource \"b\" readyWhen: references unknown identifiers: [a]",
        ),
        (
            "readyWhen of a collection uses the node id",
            rgd(
                json!([{"id": "items", "forEach": [{"n": "${schema.spec.names}"}], "readyWhen": ["${items.size() > 0}"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${n}"}}}]),
            ),
            ErrorCode::UnknownIdentifier,
            "resource \"items\" readyWhen: references unknown identifiers: [items]",
        ),
        (
            "includeWhen unknown identifier",
            rgd(json!([{"id": "config", "includeWhen": ["${other.enabled}"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}])),
            ErrorCode::UnknownIdentifier,
            "resource \"config\" includeWhen: references unknown identifiers: [other]",
        ),
        (
            "omit without feature gate",
            rgd(json!([cm("config", "x", json!({"a": "${omit()}"}))])),
            ErrorCode::InvalidFunction,
            "omit() requires the CELOmitFunction feature gate to be enabled",
        ),
        (
            "too many forEach dimensions",
            rgd(
                json!([{"id": "items", "forEach": (0..11).map(|i| json!({format!("d{i}"): "${schema.spec.names}"})).collect::<Vec<_>>(),
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "resource \"items\": forEach cannot have more than 10 dimensions, got 11",
        ),
        (
            "iterator name not lowerCamelCase",
            rgd(
                json!([{"id": "items", "forEach": [{"My": "${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${My}"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "resource \"items\": forEach iterator name \"My\" is not valid: must be lowerCamelCase",
        ),
        (
            "iterator name reserved",
            rgd(
                json!([{"id": "items", "forEach": [{"item": "${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${item}"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "resource \"items\": forEach iterator name \"item\" is a reserved keyword",
        ),
        (
            "iterator name is a resource id",
            rgd(
                json!([cm("other", "o", json!({})), {"id": "items", "forEach": [{"other": "${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "resource \"items\": forEach iterator name \"other\" conflicts with resource ID",
        ),
        (
            "iterator not in identity",
            rgd(
                json!([{"id": "items", "forEach": [{"n": "${schema.spec.names}"}, {"m": "${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${n}"}, "data": {"m": "${m}"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "node \"items\": all forEach dimensions must be used to produce a unique resource identity, missing: [m]",
        ),
        (
            "iterator reads another iterator",
            rgd(
                json!([{"id": "items", "forEach": [{"n": "${schema.spec.names}"}, {"m": "${[n]}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${n}-${m}"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "node \"items\": forEach iterator \"m\" cannot reference other iterators [n] - forEach iterators are independent (cartesian product)",
        ),
        (
            "forEach not standalone",
            rgd(
                json!([{"id": "items", "forEach": [{"n": "a-${schema.spec.names}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${n}"}}}]),
            ),
            ErrorCode::InvalidForEach,
            "invalid forEach expression for dimension \"n\": only standalone expressions are allowed",
        ),
        (
            "forEach not a list",
            rgd_with(
                json!({"name": "string"}),
                json!([{"id": "items", "forEach": [{"n": "${schema.spec.name}"}],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "${n}"}}}]),
                json!(null),
            ),
            ErrorCode::InvalidForEach,
            "forEach iterator \"n\" must return a list, got \"string\"",
        ),
        (
            "status literal",
            rgd_with(
                json!({"name": "string"}),
                json!([cm("config", "x", json!({}))]),
                json!({"phase": "ready"}),
            ),
            ErrorCode::InvalidStatus,
            "status fields without expressions are not supported: [phase]",
        ),
        (
            "status without reference",
            rgd_with(
                json!({"name": "string"}),
                json!([cm("config", "x", json!({}))]),
                json!({"n": "${1 + 1}"}),
            ),
            ErrorCode::InvalidStatus,
            "instance status field must refer to a resource or schema: status.n",
        ),
        (
            "unknown schema field",
            rgd(json!([cm("config", "${schema.spec.nope}", json!({}))])),
            ErrorCode::TypeMismatch,
            "nope",
        ),
        (
            "string template with an int",
            rgd_with(
                json!({"replicas": "integer"}),
                json!([cm("config", "x", json!({"a": "n-${schema.spec.replicas}"}))]),
                json!(null),
            ),
            ErrorCode::TypeMismatch,
            "every expression inside a string template must be a string",
        ),
        (
            "includeWhen not bool",
            rgd(
                json!([{"id": "config", "includeWhen": ["${schema.spec.name}"],
                "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]),
            ),
            ErrorCode::TypeMismatch,
            "includeWhen must return bool",
        ),
        (
            "SimpleSchema unknown type",
            rgd_with(json!({"name": "strin"}), json!([]), json!(null)),
            ErrorCode::SimpleSchema,
            "strin",
        ),
        (
            "CRD template with CEL outside metadata",
            rgd(
                json!([{"id": "crd", "template": {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "x"}, "spec": {"group": "${schema.spec.name}"}}}]),
            ),
            ErrorCode::InvalidExpression,
            "CEL expressions in CRDs are only supported for metadata fields, found in path \"spec.group\", resource crd",
        ),
    ];
    for (name, doc, code, want) in cases {
        let errs = errors_of(&doc);
        assert!(
            errs.iter().any(|(c, m)| *c == code && m.contains(want)),
            "{name}: want {code:?} containing {want:?}, got {errs:#?}"
        );
    }
}

#[test]
fn cluster_scoped_instance_needs_namespaces() {
    let mut doc = rgd(json!([cm("config", "x", json!({}))]));
    doc["spec"]["schema"]["scope"] = json!("Cluster");
    let errs = errors_of(&doc);
    assert_eq!(
        errs,
        vec![(
            ErrorCode::InvalidMetadata,
            "resource \"config\" is namespaced and must set metadata.namespace when the instance CRD is cluster-scoped".to_string()
        )]
    );
}

#[test]
fn all_errors_reported_at_once() {
    let doc = rgd(json!([
        cm("schema", "a", json!({})),
        cm("config", "${nope.x}", json!({})),
        {"id": "bad", "template": {"apiVersion": "v1", "kind": "ConfigMap"}},
        cm("a", "${b.metadata.name}", json!({})),
        cm("b", "${a.metadata.name}", json!({})),
    ]));
    let errs = match compile(&doc, &NoSchemas, &CompileOptions::default()) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    };
    let codes: Vec<ErrorCode> = errs.errors.iter().map(|e| e.code).collect();
    for c in [
        ErrorCode::InvalidId,
        ErrorCode::UnknownIdentifier,
        ErrorCode::InvalidTemplate,
        ErrorCode::Cycle,
    ] {
        assert!(codes.contains(&c), "{c:?} missing from {codes:?}");
    }
    // Each error names its resource.
    let bad = errs
        .errors
        .iter()
        .find(|e| e.code == ErrorCode::InvalidTemplate)
        .unwrap();
    assert_eq!(bad.resource.as_deref(), Some("bad"));
    let unknown = errs
        .errors
        .iter()
        .find(|e| e.code == ErrorCode::UnknownIdentifier)
        .unwrap();
    assert_eq!(unknown.resource.as_deref(), Some("config"));
    assert_eq!(unknown.path.as_deref(), Some("metadata.name"));
}

fn store() -> SchemaStore {
    let mut s = SchemaStore::new();
    s.add_document(&json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget"},
            "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "size": {"type": "integer"},
                    "color": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}}}},
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}
    }))
    .unwrap();
    s
}

fn widget(spec: Value) -> Value {
    json!({"id": "widget", "template": {"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": spec}})
}

#[test]
fn type_checks_against_known_schemas() {
    let cases: Vec<(&str, Value, Value, Option<&str>)> = vec![
        (
            "ok",
            json!({"n": "integer"}),
            json!({"size": "${schema.spec.n}"}),
            None,
        ),
        (
            "expression type mismatch",
            json!({"n": "string"}),
            json!({"size": "${schema.spec.n}"}),
            Some(
                "type mismatch in resource \"widget\" at path \"spec.size\": expression \"schema.spec.n\" returns type \"string\" but expected \"int\"",
            ),
        ),
        (
            "literal type mismatch",
            json!({"n": "string"}),
            json!({"size": "big"}),
            Some("expected integer type for path spec.size, got string"),
        ),
        (
            "unknown field",
            json!({"n": "string"}),
            json!({"shape": "round"}),
            Some(
                "error getting field schema for path spec.shape: schema not found for field shape",
            ),
        ),
        (
            "list element",
            json!({"n": "string"}),
            json!({"tags": ["${schema.spec.n}", 3]}),
            Some("expected string type for path spec.tags[1], got integer"),
        ),
    ];
    for (name, spec, wspec, want) in cases {
        let doc = rgd_with(spec, json!([widget(wspec)]), json!(null));
        let res = compile(&doc, &store(), &CompileOptions::default());
        match (res, want) {
            (Ok(g), None) => assert!(g.warnings.is_empty(), "{name}: {:?}", g.warnings),
            (Err(e), Some(w)) => assert!(
                e.errors.iter().any(|x| x.message.contains(w)),
                "{name}: want {w:?}, got {e}"
            ),
            (Ok(_), Some(w)) => panic!("{name}: expected error {w:?}"),
            (Err(e), None) => panic!("{name}: unexpected {e}"),
        }
    }
}

#[test]
fn readywhen_and_status_typed_from_schema() {
    let doc = rgd_with(
        json!({"n": "integer"}),
        json!([{"id": "widget", "readyWhen": ["${widget.status.ready}"],
            "template": {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": "${schema.spec.n}"}}}]),
        json!({"ready": "${widget.status.ready}", "size": "${widget.spec.size}", "label": "w-${widget.spec.color}"}),
    );
    let g = compile(&doc, &store(), &CompileOptions::default()).unwrap();
    let crd = serde_json::to_value(g.crd.as_ref().expect("instance CRD")).unwrap();
    let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    assert_eq!(status["ready"]["type"], "boolean");
    assert_eq!(status["size"]["type"], "integer");
    assert_eq!(status["label"]["type"], "string");
    assert!(status.get("state").is_some() && status.get("conditions").is_some());
    assert_eq!(crd["metadata"]["name"], "apps.kro.run");

    let bad = rgd_with(
        json!({"n": "integer"}),
        json!([{"id": "widget", "readyWhen": ["${widget.status.nope}"],
            "template": {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}}]),
        json!(null),
    );
    let e = compile(&bad, &store(), &CompileOptions::default()).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn unknown_kinds_warn_and_order_is_kept() {
    let doc = rgd(json!([
        cm("b", "${a.metadata.name}", json!({})),
        cm("a", "a", json!({})),
        cm("c", "c", json!({})),
    ]));
    let g = compile(&doc, &NoSchemas, &CompileOptions::default()).unwrap();
    assert_eq!(g.topological_order, vec!["a", "b", "c"]);
    assert_eq!(g.warnings.len(), 3);
    assert!(
        g.warnings[0]
            .message
            .contains("no schema known for v1 ConfigMap")
    );
    assert_eq!(g.node("b").unwrap().dependencies, vec!["a"]);
    assert_eq!(g.node("b").unwrap().apply_order, 2);
    assert_eq!(g.node("a").unwrap().apply_order, 1);
    let info = g.resource_information();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].id, "b");
    assert_eq!(info[0].dependencies[0].id, "a");
}

#[test]
fn status_conditions_must_be_standalone_conditions() {
    let doc = rgd_with(
        json!({"name": "string"}),
        json!([cm("a", "a", json!({}))]),
        json!({"conditions": ["Ready", "${schema.spec.name}", "${runtime.newCondition({type: 'A', status: 'True'})}"]}),
    );
    let errs = errors_of(&doc);
    assert!(
        errs.iter().any(|(c, m)| *c == ErrorCode::InvalidStatus
            && m == "status.conditions[0]: only standalone expressions are allowed"),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|(c, m)| *c == ErrorCode::TypeMismatch
            && m.contains("status.conditions[1]")
            && m.contains("\"string\"")),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
}

#[test]
fn only_read_paths_are_kept_for_cel() {
    let doc = rgd_with(
        json!({"name": "string"}),
        json!([
            {"id": "a", "readyWhen": ["${a.status.phase == 'Ready'}"],
             "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}},
            cm("b", "${a.metadata.name}", json!({"x": "${a.data[schema.spec.name]}"})),
            cm("c", "c", json!({})),
        ]),
        json!({"labels": "${a.metadata.labels}"}),
    );
    let g = compile(&doc, &NoSchemas, &CompileOptions::default()).unwrap();
    let a = g.node("a").unwrap();
    let mut reads = a.reads.clone();
    reads.sort();
    assert_eq!(
        reads,
        vec![
            vec!["data".to_string()],
            vec!["metadata".into(), "labels".into()],
            vec!["metadata".into(), "name".into()],
            vec!["status".into(), "phase".into()],
        ]
    );
    let observed = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "uid": "u", "labels": {"k": "v"}, "annotations": {"big": "x"}},
        "data": {"n": "1"}, "status": {"phase": "Ready", "other": 1}});
    assert_eq!(
        a.readable_part(&observed),
        json!({"metadata": {"name": "a", "labels": {"k": "v"}}, "data": {"n": "1"}, "status": {"phase": "Ready"}})
    );
    // Nothing reads c.
    assert_eq!(g.node("c").unwrap().readable_part(&observed), json!({}));
}

#[test]
fn deletion_and_adoption_policies_reach_the_nodes() {
    let doc = rgd(json!([
        {"id": "kept", "deletionPolicy": "Orphaned", "adoptionPolicy": "AdoptOrCreate",
         "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}},
        {"id": "plain",
         "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}},
    ]));
    let graph = compile(&doc, &NoSchemas, &CompileOptions::default()).unwrap();
    let node = |id: &str| graph.nodes.iter().find(|n| n.id == id).unwrap();
    assert_eq!(
        node("kept").deletion_policy,
        kro_api::DeletionPolicy::Orphan
    );
    assert_eq!(
        node("kept").adoption_policy,
        kro_api::AdoptionPolicy::AdoptOrCreate
    );
    assert_eq!(
        node("plain").deletion_policy,
        kro_api::DeletionPolicy::Delete
    );
    assert_eq!(
        node("plain").adoption_policy,
        kro_api::AdoptionPolicy::Never
    );
}

#[test]
fn external_fields_are_checked_against_the_kind() {
    let compile_with = |fields: Value| {
        let mut resource = widget(json!({"size": 3}));
        resource["externalFields"] = fields;
        compile(
            &rgd(json!([resource])),
            &store(),
            &CompileOptions::default(),
        )
    };
    let graph = compile_with(json!(["spec.size"])).unwrap();
    assert_eq!(
        graph.node("widget").unwrap().external_fields,
        vec![vec!["spec".to_string(), "size".to_string()]]
    );
    for (fields, want) in [
        (json!(["spec.sizes"]), "the kind has no field spec.sizes"),
        (
            json!(["spec.size", "spec.tags.first"]),
            "externalFields[1] \"spec.tags.first\" is not a field kro can hand to another field manager: spec.tags is a list",
        ),
    ] {
        let errors = compile_with(fields.clone()).unwrap_err().errors;
        assert_eq!(errors.len(), 1, "{fields}: {errors:?}");
        assert!(
            errors[0].message.contains(want),
            "{fields}: {}",
            errors[0].message
        );
        assert_eq!(errors[0].resource.as_deref(), Some("widget"));
    }
}

//! The generated instance CRD (snapshot), kro's pluralization, printer columns, labels, and the
//! inferred status schema.

#![allow(clippy::unwrap_used)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, JSONSchemaProps,
};
use kro_api::{CrdMetadata, ResourceScope, Schema};
use kro_schema::{CrdOwner, build_instance_crd, crd_names, pluralize, status_schema};
use serde_json::{Value, json};

const OWNER: CrdOwner<'static> = CrdOwner {
    rgd_name: "webapp",
    rgd_uid: "0d6a3c7e-1111-2222-3333-444455556666",
    kro_version: "v0.1.0+dev",
};

fn schema_from(v: Value) -> JSONSchemaProps {
    serde_json::from_value(v).unwrap()
}

fn webapp_schema() -> Schema {
    serde_json::from_value(json!({
        "kind": "WebApp",
        "apiVersion": "v1alpha1",
        "group": "apps.example.com",
        "spec": {
            "name": "string | required=true description=\"Name of the app\"",
            "image": "string | default=nginx",
            "replicas": "integer | default=1 minimum=0 maximum=10",
            "ports": "[]Port",
            "ingress": {
                "enabled": "boolean | default=false",
                "host": "string | pattern=\"^[a-z.]+$\""
            },
            "env": "map[string]string",
            "tier": "string | enum=\"frontend,backend\" immutable=true"
        },
        "types": {
            "Port": {"name": "string | required=true", "port": "integer | minimum=1 maximum=65535"}
        },
        "status": {
            "availableReplicas": "${deployment.status.availableReplicas}",
            "endpoint": {"host": "${service.spec.clusterIP}"}
        },
        "shortNames": ["wa"],
        "categories": ["all", "apps"],
        "metadata": {"labels": {"team": "platform", "kro.run/owned": "false"}, "annotations": {"docs": "https://example.com"}}
    }))
    .unwrap()
}

fn webapp_status_fields() -> Vec<(Vec<String>, JSONSchemaProps)> {
    vec![
        (
            vec!["availableReplicas".into()],
            schema_from(json!({"type": "integer"})),
        ),
        (
            vec!["endpoint".into(), "host".into()],
            schema_from(json!({"type": "string"})),
        ),
    ]
}

#[test]
fn instance_crd_snapshot() {
    let crd = build_instance_crd(&webapp_schema(), webapp_status_fields(), &OWNER).unwrap();
    insta::assert_yaml_snapshot!("webapp_instance_crd", crd);
}

#[test]
fn instance_crd_identity_labels_and_columns() {
    let crd = build_instance_crd(&webapp_schema(), webapp_status_fields(), &OWNER).unwrap();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("webapps.apps.example.com")
    );
    let labels = crd.metadata.labels.clone().unwrap();
    assert_eq!(
        labels["kro.run/owned"], "true",
        "kro's labels win over the user's"
    );
    assert_eq!(labels["kro.run/kro-version"], "v0.1.0-dev");
    assert_eq!(labels["kro.run/resource-graph-definition-name"], "webapp");
    assert_eq!(
        labels["kro.run/resource-graph-definition-id"],
        "0d6a3c7e-1111-2222-3333-444455556666"
    );
    assert_eq!(labels["team"], "platform");
    assert_eq!(
        crd.metadata.annotations.unwrap()["docs"],
        "https://example.com"
    );
    let names = &crd.spec.names;
    assert_eq!(names.plural, "webapps");
    assert_eq!(names.singular.as_deref(), Some("webapp"));
    assert_eq!(names.list_kind.as_deref(), Some("WebAppList"));
    assert_eq!(names.short_names, Some(vec!["wa".into()]));
    // The RGD's categories, then `kro` so `kubectl get kro` lists every instance.
    assert_eq!(
        names.categories,
        Some(vec!["all".into(), "apps".into(), "kro".into()])
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let v = &crd.spec.versions[0];
    assert_eq!(
        (v.name.as_str(), v.served, v.storage),
        ("v1alpha1", true, true)
    );
    assert!(v.subresources.as_ref().unwrap().status.is_some());
    let cols: Vec<&str> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(cols, vec!["State", "Ready", "Age"]);

    // additionalPrinterColumns replace the defaults; scope and default group are honoured.
    let mut s = webapp_schema();
    s.group = String::new();
    s.scope = ResourceScope::Cluster;
    s.metadata = Some(CrdMetadata::default());
    s.short_names = vec![];
    s.categories = vec![];
    s.additional_printer_columns = vec![CustomResourceColumnDefinition {
        name: "Replicas".into(),
        type_: "integer".into(),
        json_path: ".spec.replicas".into(),
        ..Default::default()
    }];
    let crd = build_instance_crd(&s, vec![], &OWNER).unwrap();
    assert_eq!(crd.metadata.name.as_deref(), Some("webapps.kro.run"));
    assert_eq!(crd.spec.group, "kro.run");
    assert_eq!(crd.spec.scope, "Cluster");
    let cols: Vec<&str> = crd.spec.versions[0]
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(cols, vec!["Replicas"]);
    // No short names unless the RGD gives some; always the `kro` category, listed once.
    assert_eq!(crd.spec.names.short_names, None);
    assert_eq!(crd.spec.names.categories, Some(vec!["kro".into()]));
}

#[test]
fn kro_category_is_added_once() {
    assert_eq!(kro_schema::categories(&[]), ["kro"]);
    let listed = ["kro".to_owned(), "apps".to_owned()];
    assert_eq!(kro_schema::categories(&listed), ["kro", "apps"]);
}

#[test]
fn instance_crd_reports_every_problem() {
    let mut s = webapp_schema();
    s.kind = "webApp".into();
    s.api_version = "v1.0".into();
    s.spec = Some(json!({"a": "int", "b": "string | minimum=x"}));
    let fields = vec![
        (vec!["x".into()], schema_from(json!({"type": "string"}))),
        (vec!["x".into()], schema_from(json!({"type": "integer"}))),
    ];
    let err = build_instance_crd(&s, fields, &OWNER).unwrap_err();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "spec.schema.kind: kind \"webApp\" is not valid: write an UpperCamelCase name of letters and digits, at most 63 characters, e.g. WebApplication",
            "spec.schema.apiVersion: apiVersion \"v1.0\" is not valid: write a version such as v1, v1alpha1 or v2beta3 (without the group)",
            "spec.schema.spec.a: unknown type: int; did you mean `integer`?",
            "spec.schema.spec.b: invalid minimum marker: \"x\" is not a finite number; write e.g. minimum=1 or minimum=0.5",
            "spec.schema.status.x: conflicting status field: spec.schema.status.x is defined more than once",
        ]
    );
}

#[test]
fn api_version_and_kind_patterns() {
    let ok = |kind: &str, version: &str| {
        let mut s = webapp_schema();
        s.kind = kind.into();
        s.api_version = version.into();
        build_instance_crd(&s, vec![], &OWNER).is_ok()
    };
    for v in ["v1", "v10", "v1alpha1", "v2beta3"] {
        assert!(ok("WebApp", v), "{v}");
    }
    for v in [
        "", "1", "v", "valpha1", "v1alpha", "v1gamma1", "v1beta1x", "apps/v1",
    ] {
        assert!(!ok("WebApp", v), "{v}");
    }
    for k in ["A", "WebApp2", "X1y"] {
        assert!(ok(k, "v1"), "{k}");
    }
    let long = format!("A{}", "b".repeat(63));
    for k in ["", "webApp", "Web-App", "Web App", "1App", long.as_str()] {
        assert!(!ok(k, "v1"), "{k}");
    }
}

#[test]
fn pluralization_matches_flect() {
    let cases = [
        ("WebApp", "webapps"),
        ("Deployment", "deployments"),
        ("Database", "databases"),
        ("Policy", "policies"),
        ("Ingress", "ingresses"),
        ("Proxy", "proxies"),
        ("Box", "boxes"),
        ("Cache", "caches"),
        ("Match", "matches"),
        ("Mesh", "meshes"),
        ("Index", "indices"),
        ("Person", "people"),
        ("Child", "children"),
        ("Status", "statuses"),
        ("Bus", "buses"),
        ("Series", "series"),
        ("Data", "data"),
        ("Analysis", "analyses"),
        ("Leaf", "leafs"),
        ("Wolf", "wolves"),
        ("Knife", "knives"),
        ("Potato", "potatoes"),
        ("Radio", "radios"),
        ("Key", "keys"),
        ("Day", "days"),
        ("Quiz", "quizzes"),
        ("Woman", "women"),
        ("Api", "apis"),
        ("Dns", "dnses"),
        ("Vpc", "vpcs"),
        ("Sheep", "sheep"),
        ("Gateway", "gateways"),
        ("Bucket", "buckets"),
        ("DBInstance", "dbinstances"),
        ("Address", "addresses"),
        ("Alias", "aliases"),
        ("Criterion", "criteria"),
        ("Size", "sizes"),
        ("News", "news"),
    ];
    for (kind, want) in cases {
        assert_eq!(pluralize(&kind.to_lowercase()), want, "{kind}");
    }
    let n = crd_names("", "WebApp");
    assert_eq!(
        (
            n.crd_name.as_str(),
            n.plural.as_str(),
            n.singular.as_str(),
            n.list_kind.as_str()
        ),
        ("webapps.kro.run", "webapps", "webapp", "WebAppList")
    );
}

#[test]
fn status_schema_injects_state_and_conditions() {
    let s = status_schema(vec![
        (vec!["url".into()], schema_from(json!({"type": "string"}))),
        (
            vec!["db".into(), "port".into()],
            schema_from(json!({"type": "integer"})),
        ),
        (
            vec!["db".into(), "tags".into()],
            schema_from(json!({"type": "array", "items": {"type": "string"}})),
        ),
    ])
    .unwrap();
    assert_eq!(
        serde_json::to_value(s).unwrap(),
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "db": {"type": "object", "properties": {
                    "port": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}}
                }},
                "state": {"type": "string"},
                "conditions": {"type": "array", "items": {"type": "object", "properties": {
                    "type": {"type": "string"},
                    "status": {"type": "string"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "lastTransitionTime": {"type": "string"},
                    "observedGeneration": {"type": "integer"}
                }}}
            }
        })
    );
    // An author's own `state` / `conditions` are kept.
    let s = status_schema(vec![(
        vec!["state".into()],
        schema_from(json!({"type": "integer"})),
    )])
    .unwrap();
    let v = serde_json::to_value(s).unwrap();
    assert_eq!(v["properties"]["state"], json!({"type": "integer"}));
    assert_eq!(v["properties"]["conditions"]["type"], json!("array"));
    // No fields: just kro's.
    let v = serde_json::to_value(status_schema(Vec::new()).unwrap()).unwrap();
    let keys: Vec<&String> = v["properties"].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["conditions", "state"]);
}

#[test]
fn status_schema_conflicts() {
    let msg = |fields: Vec<Vec<&str>>| {
        status_schema(fields.into_iter().map(|p| {
            (
                p.into_iter().map(String::from).collect(),
                schema_from(json!({"type": "string"})),
            )
        }))
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        msg(vec![vec!["a"], vec!["a", "b"]]),
        "spec.schema.status.a.b: conflicting status field: spec.schema.status.a is already a value, it cannot also hold fields"
    );
    assert_eq!(
        msg(vec![vec!["a", "b"], vec!["a"]]),
        "spec.schema.status.a: conflicting status field: spec.schema.status.a already holds nested fields, it cannot also be a value"
    );
    assert_eq!(
        msg(vec![vec![]]),
        "spec.schema.status: conflicting status field: a status field needs a name"
    );
    assert_eq!(
        msg(vec![
            vec!["a", "b", "c"],
            vec!["a", "b"],
            vec!["a", "b", "c"]
        ]),
        "spec.schema.status.a.b: conflicting status field: spec.schema.status.a.b already holds nested fields, it cannot also be a value\nspec.schema.status.a.b.c: conflicting status field: spec.schema.status.a.b.c is defined more than once"
    );
}

//! Compiling a 50-resource RGD (target: at most 50 ms).

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use kro_graph::{CompileOptions, NoSchemas, compile};
use serde_json::{Value, json};

/// 50 resources: a chain of ConfigMaps, each reading the previous one and the instance, with
/// readyWhen, includeWhen and a string template.
fn rgd(n: usize) -> Value {
    let resources: Vec<Value> = (0..n)
        .map(|i| {
            let prev = if i == 0 {
                "schema.spec.name".to_string()
            } else {
                format!("r{}.metadata.name", i - 1)
            };
            json!({
                "id": format!("r{i}"),
                "includeWhen": ["${schema.spec.enabled}"],
                "readyWhen": [format!("${{r{i}.data.ready == 'true'}}")],
                "template": {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("${{{prev}}}-{i}"), "labels": {"app": "${schema.spec.name}"}},
                    "data": {"replicas": "${string(schema.spec.replicas * 2)}", "ready": "true",
                             "url": format!("https://${{schema.spec.name}}.example.com/{i}")}
                }
            })
        })
        .collect();
    json!({"metadata": {"name": "bench"}, "spec": {
        "schema": {"apiVersion": "v1alpha1", "kind": "Bench",
            "spec": {"name": "string | required=true", "replicas": "integer | default=1", "enabled": "boolean | default=true"},
            "status": {"last": format!("${{r{}.metadata.name}}", n - 1)}},
        "resources": resources}})
}

fn bench(c: &mut Criterion) {
    let doc = rgd(50);
    let opts = CompileOptions::default();
    assert!(compile(&doc, &NoSchemas, &opts).is_ok());
    c.bench_function("compile 50-resource RGD", |b| {
        b.iter(|| compile(&doc, &NoSchemas, &opts))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

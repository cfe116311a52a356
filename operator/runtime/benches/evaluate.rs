//! Evaluating one instance of a 10-resource RGD with every resource observed (target: at most
//! 200 µs).

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use kro_graph::{CompileOptions, NoSchemas};
use kro_runtime::{Observed, evaluate};
use serde_json::{Value, json};

fn bench(c: &mut Criterion) {
    let n = 10;
    let resources: Vec<Value> = (0..n)
        .map(|i| {
            let prev = if i == 0 {
                "schema.spec.name".to_string()
            } else {
                format!("r{}.metadata.name", i - 1)
            };
            json!({
                "id": format!("r{i}"),
                "readyWhen": [format!("${{r{i}.data.ready == 'true'}}")],
                "template": {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("${{{prev}}}-{i}")},
                    "data": {"replicas": "${string(schema.spec.replicas * 2)}", "ready": "true",
                             "url": format!("https://${{schema.spec.name}}.example.com/{i}")}
                }
            })
        })
        .collect();
    let doc = json!({"spec": {"schema": {"apiVersion": "v1alpha1", "kind": "Bench",
        "spec": {"name": "string", "replicas": "integer | default=1"},
        "status": {"last": format!("${{r{}.metadata.name}}", n - 1)}}, "resources": resources}});
    let g = kro_graph::compile(&doc, &NoSchemas, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let instance = json!({"apiVersion": "kro.run/v1alpha1", "kind": "Bench",
        "metadata": {"name": "demo", "namespace": "default", "uid": "u", "generation": 1},
        "spec": {"name": "demo", "replicas": 2}});
    // Observe everything the first passes would create.
    let mut observed = Observed::new();
    for _ in 0..=n {
        let plan = evaluate(&g, &instance, &observed);
        for d in &plan.apply {
            observed.insert(d.node_id.clone(), d.object.clone());
        }
    }
    let plan = evaluate(&g, &instance, &observed);
    assert_eq!(plan.state, kro_api::InstanceState::Active);
    c.bench_function("evaluate 10-resource instance", |b| {
        b.iter(|| evaluate(&g, &instance, &observed))
    });
    // Where the time goes: converting one observed object, and one expression.
    let one = plan.apply[3].object.clone();
    c.bench_function("convert one observed object to CEL", |b| {
        b.iter(|| kro_cel::CelValue::from_json(&one))
    });
    let e = &g.nodes[3].fields[0];
    let mut act = kro_cel::Activation::new();
    act.bind("r2", kro_cel::CelValue::from_json(&plan.apply[2].object));
    act.bind("schema", kro_cel::CelValue::from_json(&instance));
    c.bench_function("evaluate one template expression", |b| {
        b.iter(|| match &e.value {
            kro_graph::CompiledValue::Expr(x) => x.program().eval_json(&act).is_ok(),
            kro_graph::CompiledValue::Template(p) => p.len() > 1,
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

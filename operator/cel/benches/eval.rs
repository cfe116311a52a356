//! Criterion benchmarks of kro-cel: typical expression evaluations against pre-converted
//! objects, object conversion, compilation and type checking.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kro_cel::{Activation, CelType, CelValue, Environment, TypeEnv};
use serde_json::json;

fn fixtures() -> (serde_json::Value, serde_json::Value) {
    let schema = json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "WebApp",
        "metadata": {"name": "my-app", "namespace": "default", "uid": "6f1c0c1e"},
        "spec": {"name": "awesome-app", "replicas": 3, "image": "nginx:1.27.1"}
    });
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "awesome-app", "namespace": "default", "generation": 4,
                     "labels": {"app": "awesome-app"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.27.1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "envoy:1.30"}]}}},
        "status": {"availableReplicas": 3, "readyReplicas": 3, "observedGeneration": 4,
                   "conditions": [{"type": "Available", "status": "True"},
                                  {"type": "Progressing", "status": "True"}]}
    });
    (schema, deployment)
}

fn bench(c: &mut Criterion) {
    let env = Environment::new();
    let (schema, deployment) = fixtures();
    let activation = Activation::new()
        .with("schema", CelValue::from_json(&schema))
        .with("deployment", CelValue::from_json(&deployment));
    for (name, expr) in [
        (
            "eval/string_concat",
            "schema.spec.name + \"-\" + string(schema.spec.replicas)",
        ),
        (
            "eval/deployment_field",
            "deployment.status.availableReplicas",
        ),
        (
            "eval/ready_when",
            "deployment.status.availableReplicas == schema.spec.replicas && deployment.status.observedGeneration == deployment.metadata.generation",
        ),
        (
            "eval/container_image",
            "deployment.spec.template.spec.containers[0].image",
        ),
        (
            "eval/conditions_exists",
            "deployment.status.conditions.exists(c, c.type == 'Available' && c.status == 'True')",
        ),
        ("eval/optional_default", "schema.spec.?missing.orValue(3)"),
        (
            "eval/matches",
            "schema.spec.name.matches('^[a-z][a-z0-9-]*$')",
        ),
    ] {
        let program = env.compile(expr).unwrap_or_else(|e| panic!("{e}"));
        c.bench_function(name, |b| {
            b.iter(|| black_box(program.eval_json(black_box(&activation))))
        });
    }
    c.bench_function("convert/deployment", |b| {
        b.iter(|| black_box(CelValue::from_json(black_box(&deployment))))
    });
    c.bench_function("compile/string_concat", |b| {
        b.iter(|| black_box(env.compile("schema.spec.name + \"-\" + string(schema.spec.replicas)")))
    });
    let types = TypeEnv::new()
        .with("schema", CelType::Dyn)
        .with("deployment", CelType::Dyn);
    let program = env
        .compile("deployment.status.conditions.exists(c, c.type == 'Available')")
        .unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("check/conditions_exists", |b| {
        b.iter(|| black_box(program.check(&types)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

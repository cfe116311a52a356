//! The per-child work of an idle reconcile: stamp the desired object with its hash, and decide
//! from the cached live object whether it needs an apply (it does not: the live object holds
//! everything, plus what the apiserver added). Also the read of a cached child as JSON.

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use kro_controller::diff;
use kube::api::DynamicObject;
use serde_json::{Value, json};

/// A Deployment as kro would apply it.
fn desired_deployment() -> Value {
    let containers: Vec<Value> = (0..2)
        .map(|i| {
            json!({
                "name": format!("app-{i}"),
                "image": "registry.example.com/team/app:1.2.3",
                "ports": [{"containerPort": 8080 + i, "name": format!("http-{i}")}],
                "env": (0..8).map(|e| json!({"name": format!("VAR_{e}"), "value": format!("value-{e}")})).collect::<Vec<_>>(),
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            })
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "demo", "namespace": "default",
            "labels": {
                "kro.run/owned": "true", "kro.run/instance-id": "7f1c", "kro.run/instance-name": "demo",
                "kro.run/node-id": "deployment", "app.kubernetes.io/managed-by": "kro",
                "applyset.kubernetes.io/part-of": "applyset-abc-v1",
            },
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": {
                "metadata": {"labels": {"app": "demo"}},
                "spec": {"containers": containers},
            },
        },
    })
}

/// The same Deployment as the apiserver returns it: defaults, metadata and status added.
fn live_of(desired: &Value) -> Value {
    let mut live = desired.clone();
    let meta = live["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!("0d6f1b7e-3c1a-4c7e-9a39-4f2c8f0e9b11"));
    meta.insert("resourceVersion".into(), json!("123456"));
    meta.insert("generation".into(), json!(4));
    meta.insert("creationTimestamp".into(), json!("2026-11-25T01:00:00Z"));
    let spec = live["spec"].as_object_mut().unwrap();
    spec.insert("revisionHistoryLimit".into(), json!(10));
    spec.insert("progressDeadlineSeconds".into(), json!(600));
    spec.insert(
        "strategy".into(),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
    );
    for c in live["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
    {
        let c = c.as_object_mut().unwrap();
        c.insert("imagePullPolicy".into(), json!("IfNotPresent"));
        c.insert(
            "terminationMessagePath".into(),
            json!("/dev/termination-log"),
        );
        c.insert("terminationMessagePolicy".into(), json!("File"));
    }
    live["status"] = json!({
        "observedGeneration": 4, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "updatedReplicas": 3,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    });
    live
}

fn bench(c: &mut Criterion) {
    let key = kro_controller::hash_key::HashKey::random();
    let desired = diff::with_hash(desired_deployment(), &key);
    let live = live_of(&desired);
    assert!(diff::is_up_to_date(&desired, &live));
    c.bench_function("diff: stamp desired Deployment with its hash", |b| {
        b.iter(|| diff::with_hash(desired_deployment(), &key))
    });
    c.bench_function("diff: Deployment up to date against live", |b| {
        b.iter(|| diff::is_up_to_date(&desired, &live))
    });

    let secret = diff::with_hash(
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "demo", "namespace": "default"},
            "stringData": {"username": "admin", "password": "s3cr3t-passw0rd", "url": "postgres://db:5432/app"},
        }),
        &key,
    );
    let mut live_secret = secret.clone();
    live_secret.as_object_mut().unwrap().remove("stringData");
    live_secret["data"] = json!({
        "username": "YWRtaW4=", "password": "czNjcjN0LXBhc3N3MHJk",
        "url": "cG9zdGdyZXM6Ly9kYjo1NDMyL2FwcA==",
    });
    assert!(diff::is_up_to_date(&secret, &live_secret));
    c.bench_function("diff: Secret stringData up to date against data", |b| {
        b.iter(|| diff::is_up_to_date(&secret, &live_secret))
    });

    let cached: DynamicObject = serde_json::from_value(live.clone()).unwrap();
    c.bench_function("diff: cached Deployment to JSON for evaluation", |b| {
        b.iter(|| serde_json::to_value(&cached).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

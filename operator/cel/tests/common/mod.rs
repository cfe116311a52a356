//! Shared fixtures for the kro-cel integration tests: an instance, a Deployment, a ConfigMap.
#![allow(dead_code)]

use kro_cel::{Activation, CelError, CelValue, Environment, Rendered};
use serde_json::{Value as Json, json};

pub(crate) fn schema_json() -> Json {
    json!({
        "apiVersion": "kro.run/v1alpha1", "kind": "WebApp",
        "metadata": {"name": "my-app", "namespace": "default",
                     "uid": "6f1c0c1e-8b7e-4c43-9e0e-2b1d2b9f1a10", "labels": {"team": "a"}},
        "spec": {"name": "awesome-app", "replicas": 3, "image": "nginx:1.27.1", "enabled": true,
                 "tags": ["b", "a", "c", "a"], "ports": [80, 443], "extraLabels": {"x": "1"},
                 "cpu": "250m", "endpoint": "https://example.com:8443/api?x=1&x=2&y=z",
                 "ratio": 0.5}
    })
}

pub(crate) fn deployment_json() -> Json {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "awesome-app", "namespace": "default", "generation": 4,
                     "labels": {"app": "awesome-app"}, "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "awesome-app"}},
                 "template": {"metadata": {"labels": {"app": "awesome-app"}},
                              "spec": {"containers": [
                                  {"name": "app", "image": "nginx:1.27.1", "ports": [{"containerPort": 80}]},
                                  {"name": "sidecar", "image": "envoy:1.30", "ports": [{"containerPort": 9901}]}]}}},
        "status": {"availableReplicas": 3, "readyReplicas": 3, "replicas": 3, "observedGeneration": 4,
                   "conditions": [
                       {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "ok"},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}
    })
}

pub(crate) fn configmap_json() -> Json {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
           "data": {"DATABASE_URL": "postgres://db:5432/app", "settings": "{\"database\":{\"host\":\"db\",\"port\":5432}}"}})
}

pub(crate) fn activation() -> Activation {
    let mut a = Activation::new();
    a.bind("schema", CelValue::from_json(&schema_json()))
        .bind("deployment", CelValue::from_json(&deployment_json()))
        .bind("config", CelValue::from_json(&configmap_json()))
        .bind_runtime(Vec::new());
    a
}

/// Compiles and evaluates `expr` against the fixtures, rendered as kro renders it.
pub(crate) fn eval(expr: &str) -> Result<Json, CelError> {
    let program = Environment::new().compile(expr)?;
    match program.eval_json(&activation())? {
        Rendered::Value(v) => Ok(v),
        Rendered::Omit => Ok(json!("<omit>")),
    }
}

//! The Argo CD health checks in `docs/argocd/`, without a cluster: the `argocd-cm` snippet is
//! exactly what the `.lua` files make, Argo CD finds the right script for each kind, and each
//! script gives the expected health for objects captured from real runs
//! (`e2e/tests/fixtures/argocd/`, written by `CAPTURE_ARGOCD_FIXTURES=1 cargo test -p kro-e2e
//! --test e2e argocd_live::`) and for the edge cases below.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::support::argocd_lua::{self, ENTRIES, HealthConfig, evaluate, render_configmap, script};

#[test]
fn the_configmap_snippet_is_made_of_the_lua_files() {
    let path = argocd_lua::docs_dir().join("argocd-cm.yaml");
    let want = render_configmap();
    if std::env::var_os("UPDATE_ARGOCD").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/argocd/argocd-cm.yaml and docs/argocd/health/*.lua differ; regenerate with: \
         UPDATE_ARGOCD=1 cargo test -p kro-e2e --test e2e argocd_health::"
    );
}

#[test]
fn the_snippet_reads_back_as_the_same_scripts() {
    // What Argo CD reads from the ConfigMap (YAML block scalars, nested YAML) is byte for byte
    // the .lua file, for every entry.
    let cm = HealthConfig::load().unwrap();
    let scripts = cm.scripts();
    assert_eq!(scripts.len(), ENTRIES.len());
    for (key, name) in ENTRIES {
        let found = scripts
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("{key} is not in argocd-cm.yaml"));
        assert_eq!(found.1, script(name), "{key}");
    }
}

#[test]
fn argo_cd_picks_the_script_by_group_and_kind() {
    let cm = HealthConfig::load().unwrap();
    let rgd = script("rgd");
    let instance = script("instance");
    let ack = script("ack");
    let db = script("dbinstance");
    let cases = [
        ("kro.run", "ResourceGraphDefinition", Some(&rgd)),
        ("kro.run", "WebApp", Some(&instance)),
        ("kro.run", "AnyOtherKind", Some(&instance)),
        ("s3.services.k8s.aws", "Bucket", Some(&ack)),
        ("rds.services.k8s.aws", "DBSubnetGroup", Some(&ack)),
        ("rds.services.k8s.aws", "DBParameterGroup", Some(&ack)),
        (
            "rds.services.k8s.aws",
            "DBClusterParameterGroup",
            Some(&ack),
        ),
        ("rds.services.k8s.aws", "DBInstance", Some(&db)),
        // Instances of an RGD with its own group need their own `<group>/*` entry.
        ("apps.example.com", "WebApp", None),
        ("rds.services.k8s.aws", "DBCluster", None),
    ];
    for (group, kind, want) in cases {
        assert_eq!(
            cm.script_for(group, kind),
            want.map(String::as_str),
            "{group}/{kind}"
        );
    }
}

#[test]
fn the_vm_has_no_string_library_like_argo_cd() {
    // Argo CD opens only the base, table and package libraries: a script calling string.* works
    // in a plain Lua but fails there, so it must fail here too.
    let obj = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}});
    let err = evaluate(
        "hs = {}\nhs.status = string.upper('healthy')\nreturn hs",
        &obj,
    )
    .unwrap_err();
    assert!(err.to_string().contains("string"), "{err}");
    let err = evaluate("local s = 'x'\nreturn {status = s:upper()}", &obj).unwrap_err();
    assert!(err.to_string().contains("health script failed"), "{err}");
    // Arrays are 1-based tables, as Argo CD converts them.
    let hs = evaluate(
        "return {status = obj.items[1] .. '', message = tostring(#obj.items)}",
        &json!({"items": ["Healthy", "x"]}),
    )
    .unwrap();
    assert_eq!((hs.status.as_str(), hs.message.as_str()), ("Healthy", "2"));
}

fn health(obj: &Value) -> (String, String) {
    let h = HealthConfig::load().unwrap().health(obj).unwrap();
    (h.status, h.message)
}

fn instance(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "WebApp",
        "metadata": {"name": "w", "namespace": "n", "generation": generation},
        "spec": {},
        "status": status,
    })
}

fn cond(type_: &str, status: &str, reason: &str, message: &str, generation: i64) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message, "observedGeneration": generation})
}

#[test]
fn instance_edge_cases() {
    let no_status = json!({"apiVersion": "kro.run/v1alpha1", "kind": "WebApp", "metadata": {"name": "w", "generation": 1}});
    assert_eq!(
        health(&no_status),
        (
            "Progressing".into(),
            "Waiting for kro to report the instance's status".into()
        )
    );
    // Active and Ready for generation 1, but the spec is at generation 2: not yet reconciled.
    let lagging = instance(
        2,
        json!({"state": "ACTIVE", "conditions": [cond("Ready", "True", "Ready", "all good", 1)]}),
    );
    assert_eq!(
        health(&lagging),
        (
            "Progressing".into(),
            "Waiting for kro to reconcile generation 2 (status is for generation 1)".into()
        )
    );
    let active = instance(
        2,
        json!({"state": "ACTIVE", "conditions": [cond("Ready", "True", "Ready", "all good", 2)]}),
    );
    assert_eq!(health(&active), ("Healthy".into(), "all good".into()));
    // Ready=False with an error reason is Degraded even before the state says ERROR.
    let failed = instance(
        1,
        json!({"state": "IN_PROGRESS", "conditions": [cond("GraphResolved", "False", "ResolutionFailed", "no such field", 1), cond("Ready", "False", "ResolutionFailed", "cannot resolve the graph", 1)]}),
    );
    assert_eq!(
        health(&failed),
        ("Degraded".into(), "cannot resolve the graph".into())
    );
    let deleting = instance(
        1,
        json!({"state": "DELETING", "conditions": [cond("Ready", "False", "Deleting", "deleting 2 resources", 1)]}),
    );
    assert_eq!(
        health(&deleting),
        ("Progressing".into(), "deleting 2 resources".into())
    );
}

#[test]
fn ack_edge_cases() {
    let bucket = |conditions: Value| json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "b", "generation": 1}, "spec": {"name": "b"}, "status": {"conditions": conditions}});
    let fresh = json!({"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket", "metadata": {"name": "b"}, "spec": {"name": "b"}});
    assert_eq!(health(&fresh).0, "Progressing");
    let recoverable = bucket(json!([
        {"type": "ACK.Recoverable", "status": "True", "message": "throttled"},
        {"type": "ACK.ResourceSynced", "status": "Unknown", "message": "Unable to determine"}
    ]));
    assert_eq!(
        health(&recoverable),
        ("Progressing".into(), "throttled".into())
    );
    let db = |rds: &str| {
        json!({"apiVersion": "rds.services.k8s.aws/v1alpha1", "kind": "DBInstance", "metadata": {"name": "d"}, "spec": {}, "status": {
            "dbInstanceStatus": rds,
            "conditions": [{"type": "ACK.ResourceSynced", "status": "False", "message": "waiting"}]}})
    };
    assert_eq!(
        health(&db("storage-full")),
        (
            "Degraded".into(),
            "DB instance status is storage-full".into()
        )
    );
    assert_eq!(
        health(&db("backing-up")),
        (
            "Progressing".into(),
            "DB instance status is backing-up: waiting".into()
        )
    );
}

/// One entry of `fixtures/argocd/expected.yaml`.
#[derive(serde::Deserialize)]
struct Expected {
    file: String,
    status: String,
    message: String,
}

#[test]
fn objects_captured_from_real_runs() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/argocd");
    let expected: Vec<Expected> =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("expected.yaml")).unwrap())
            .unwrap();
    assert!(expected.len() >= 8, "fixtures went missing");
    let mut seen = std::collections::BTreeSet::new();
    for e in &expected {
        let obj: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join(&e.file)).unwrap()).unwrap();
        let (status, message) = health(&obj);
        assert_eq!(
            (status.as_str(), message.as_str()),
            (e.status.as_str(), e.message.as_str()),
            "{}",
            e.file
        );
        seen.insert(status);
    }
    for s in ["Healthy", "Progressing", "Degraded"] {
        assert!(seen.contains(s), "no fixture is {s}");
    }
}

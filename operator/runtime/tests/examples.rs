//! Compiles every RGD under `examples/` and renders every instance (with the objects of its
//! `observed/` directory standing in for the cluster); the rendered YAML is snapshotted.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use kro_graph::{CompileOptions, CompiledGraph, SchemaStore};
use kro_runtime::Options;
use kro_runtime::offline::render_with_objects;
use serde_json::Value;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    v.sort();
    v
}

/// Every example directory, with its RGD files compiled; RGDs are compiled in name order and
/// each instance CRD is learned, so a chained RGD sees the kinds of the others.
fn compile_all() -> Vec<(String, PathBuf, CompiledGraph)> {
    let mut store = SchemaStore::new();
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    // Two passes: the second sees every kind the first pass defined.
    for pass in 0..2 {
        out.clear();
        for d in &dirs {
            for f in yaml_files(d) {
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                if !name.starts_with("rgd") {
                    continue;
                }
                for doc in docs(&f) {
                    let g = kro_graph::compile(&doc, &store, &CompileOptions::default())
                        .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                    if pass == 0
                        && let Some(crd) = &g.crd
                    {
                        store.add_crd(&serde_json::to_value(crd).unwrap()).unwrap();
                    }
                    out.push((
                        d.file_name().unwrap().to_string_lossy().to_string(),
                        f.clone(),
                        g,
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_example_compiles_and_renders() {
    let graphs = compile_all();
    assert!(graphs.len() >= 6, "expected at least six example RGDs");
    let options = Options {
        kro_version: "v0.0.0-test".into(),
        ..Options::default()
    };
    let mut rendered = 0;
    for (dir, rgd_file, g) in &graphs {
        let base = rgd_file.parent().unwrap();
        let suffix = rgd_file
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("rgd")
            .to_string();
        let instance_file = base.join(format!("instance{suffix}.yaml"));
        if !instance_file.exists() {
            continue;
        }
        let instance = docs(&instance_file).remove(0);
        let mut objects = Vec::new();
        for f in yaml_files(&base.join("observed")) {
            objects.extend(docs(&f));
        }
        let (_, plan) = render_with_objects(g, &instance, &objects, &options);
        assert!(
            !plan
                .nodes
                .iter()
                .any(|n| n.state == kro_api::NodeState::Error),
            "{dir}: {:?}",
            plan.nodes
        );
        let mut out = String::new();
        for n in &plan.nodes {
            out.push_str(&format!(
                "# {}: {}{}\n",
                n.id,
                n.state,
                n.message
                    .as_ref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ));
        }
        for d in &plan.apply {
            out.push_str("---\n");
            out.push_str(&serde_saphyr::to_string(&d.object).unwrap());
        }
        out.push_str("--- # status\n");
        out.push_str(&serde_saphyr::to_string(&plan.status).unwrap());
        insta::assert_snapshot!(format!("{dir}{suffix}"), out);
        rendered += 1;
    }
    assert!(rendered >= 6, "rendered {rendered} instances");
}

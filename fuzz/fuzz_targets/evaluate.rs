//! Instance evaluation: `{"rgd": ..., "instance": ..., "objects": [...]}` compiled, then the
//! instance rendered against it as `kro render` does (the objects stand in for the cluster),
//! with the instance budgets on and a 100 ms evaluation deadline.
#![no_main]

use kro_graph::{CompileOptions, NoSchemas};
use kro_runtime::Options;
use kro_runtime::offline::render_with_objects;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some(doc) = kro_fuzz::json(data) else {
        return;
    };
    let (Some(rgd), Some(instance)) = (doc.get("rgd"), doc.get("instance")) else {
        return;
    };
    let objects: Vec<Value> = doc
        .get("objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let _bounds = kro_fuzz::bound();
    let Ok(graph) = kro_graph::compile(rgd, &NoSchemas, &CompileOptions::default()) else {
        return;
    };
    let options = Options {
        deadline: Some(kro_fuzz::evaluation_deadline()),
        ..Options::default()
    };
    let (_observed, plan) = render_with_objects(&graph, instance, &objects, &options);
    let _ = plan.apply.len();
});

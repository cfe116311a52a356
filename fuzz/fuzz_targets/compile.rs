//! RGD compile: a JSON ResourceGraphDefinition (or its spec) through the whole compiler
//! (schema, `${}` scan, CEL parse and check, DAG, CRD), with no cluster schemas.
#![no_main]

use kro_graph::{CompileOptions, NoSchemas};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(rgd) = kro_fuzz::json(data) else {
        return;
    };
    let _bounds = kro_fuzz::bound();
    if let Ok(graph) = kro_graph::compile(&rgd, &NoSchemas, &CompileOptions::default()) {
        let _ = serde_json::to_vec(&graph.crd);
    }
});

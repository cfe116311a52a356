//! SimpleSchema parsing and expansion: a JSON `{"spec": ..., "types": ...}` through
//! `spec_schema` (custom types inlined, markers applied), then the instance CRD around it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some(doc) = kro_fuzz::json(data) else {
        return;
    };
    let _bounds = kro_fuzz::bound();
    let schema = json!({
        "kind": "Fuzz",
        "apiVersion": "v1alpha1",
        "spec": doc.get("spec").cloned().unwrap_or(Value::Null),
        "types": doc.get("types").cloned().unwrap_or(Value::Null),
    });
    let Ok(schema) = serde_json::from_value::<kro_api::Schema>(schema) else {
        return;
    };
    if let Ok(spec) = kro_schema::spec_schema(&schema) {
        let whole = kro_schema::instance_schema(spec, kro_schema::default_state_schema());
        let _ = serde_json::to_vec(&whole);
    }
});

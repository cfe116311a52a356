//! CEL parse, type-check and evaluate with the default cost budget and a 100 ms deadline.
//!
//! Input: the expression, then optionally a NUL byte and a JSON value bound as `schema` (the
//! instance); without it `schema` is `{"spec": {}}`.
#![no_main]

use kro_cel::{Activation, CelType, CelValue, Environment, TypeEnv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (expr, rest) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let instance = match rest {
        Some(rest) => match kro_fuzz::json(rest) {
            Some(v) => v,
            None => return,
        },
        None => serde_json::json!({"spec": {}}),
    };
    let _bounds = kro_fuzz::bound();
    let env = Environment::new();
    let Ok(program) = env.compile(expr) else {
        return;
    };
    let mut types = TypeEnv::new();
    types.declare("schema", CelType::Dyn).declare_runtime();
    let _ = program.check(&types);
    let mut activation = Activation::new();
    activation.bind("schema", CelValue::from_json(&instance));
    activation.bind_runtime(Vec::new());
    let _ = program.eval_json(&activation);
    let _ = program.eval_bool(&activation);
});

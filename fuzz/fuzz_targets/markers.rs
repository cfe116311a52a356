//! SimpleSchema field strings: the type grammar and the marker grammar (`type | key=value ...`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _bounds = kro_fuzz::bound();
    let _ = kro_schema::parse_markers(s);
    let _ = kro_schema::parse_type(s);
    if let Ok((ty, _markers)) = kro_schema::parse_field(s) {
        let _ = ty.custom_refs();
    }
});

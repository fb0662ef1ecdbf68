//! The control protocol's decoders on any bytes (a request byte, C's
//! binary state, the JSON replies): an answer, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::control;

fuzz_target!(|data: &[u8]| {
    for &b in data.iter().take(8) {
        if let Some(r) = control::Request::from_byte(b) {
            assert_eq!(control::Request::from_byte(r.byte()), Some(r));
        }
    }
    if let Ok(vifs) = control::decode_state(data) {
        let _ = control::format_listing(&vifs);
    }
    if let Ok(v) = control::decode_json(data) {
        // What parses prints and parses back the same.
        assert_eq!(control::json::Value::parse(&v.to_string()).ok(), Some(v));
    }
    let _ = control::decode_reload(data);
});

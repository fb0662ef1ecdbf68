//! The config parser on any text: an answer (a config or errors with
//! places), never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match wackamole::config::parse(&text, Path::new("fuzz.conf")) {
        Ok(l) => {
            let _ = l.config.summary();
            // A reload of the same text changes nothing.
            assert!(l.config.diff(&l.config).summary().is_empty());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

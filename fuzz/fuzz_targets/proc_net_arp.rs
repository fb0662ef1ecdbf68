//! The `/proc/net/arp` parser on any text, and the shared cache fed what
//! it finds: never a panic, never more than its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::net::arpcache::{self, SharedCache, MAX_PER_SENDER};

fuzz_target!(|data: &[u8]| {
    let records = arpcache::parse_proc_net_arp(&String::from_utf8_lossy(data));
    let mut c = SharedCache::new();
    c.learn("#a#d1", &records, 0);
    c.learn("#b#d2", &records, 1);
    assert!(c.len() <= 2 * MAX_PER_SENDER);
    c.expire(5);
    assert!(c.is_empty());
});

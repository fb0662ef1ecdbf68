//! MAC addresses as `ip` prints them (`02:00:00:00:00:01`), both ways:
//! tests compare the MAC a namespace reports with what a neighbour
//! learnt.

#![allow(dead_code)]

/// `[2, 0, 0, 0, 0, 1]` as `02:00:00:00:00:01`.
pub fn mac_string(m: [u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

/// The first six colon-separated hex bytes of `s` (`ip` output).
pub fn parse_mac(s: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (m, h) in mac.iter_mut().zip(s.split(':')) {
        *m = u8::from_str_radix(h, 16).expect("hex");
    }
    mac
}

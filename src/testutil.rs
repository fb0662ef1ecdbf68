//! Helpers for the unit tests.

/// Bytes from a hex string such as the captures print (`"80 00 01 80"`
/// written without spaces).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

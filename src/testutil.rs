//! Helpers for the unit tests.

/// Bytes from a hex string such as the captures print (`"80 00 01 80"`
/// written without spaces).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// A configured IPv4 VIP address `ifname:addr/prefix`, in a network of
/// `net_prefix` bits.
pub(crate) fn vip4(ifname: &str, addr: &str, prefix: u8, net_prefix: u8) -> crate::config::VipAddr {
    crate::config::VipAddr::V4(crate::config::IfAddr {
        ifname: ifname.into(),
        addr: addr.parse().expect("an IPv4 address"),
        prefix,
        net_prefix,
    })
}

/// A configured IPv6 VIP address `ifname:[addr]/prefix`.
pub(crate) fn vip6(ifname: &str, addr: &str, prefix: u8) -> crate::config::VipAddr {
    crate::config::VipAddr::V6(crate::config::If6Addr {
        ifname: ifname.into(),
        addr: addr.parse().expect("an IPv6 address"),
        prefix,
    })
}

/// The daemon's side of a Spread handshake for the private name `x`
/// (no authentication, accepted as `#x#d`), on a fake daemon's stream.
pub(crate) fn accept_spread_x(s: &mut (impl std::io::Read + std::io::Write)) {
    // The connect request for "x": 5 + 1 bytes.
    let mut b = [0u8; 6];
    s.read_exact(&mut b).unwrap();
    s.write_all(b"\x05NULL ").unwrap();
    let mut b = [0u8; 90];
    s.read_exact(&mut b).unwrap();
    s.write_all(b"\x01\x05\x00\x01\x04#x#d").unwrap();
}

//! `Prefer` entries to the addresses a STATE message carries, and what C
//! 2.1.4 would have carried instead (its range expansion is broken, spec
//! §10), so that `-t` can say where the two differ.

use std::net::Ipv4Addr;

use super::addr::mask;
use super::{PreferEntry, Vif, VipAddr};

/// C keeps at most this many prefer addresses (MAX_PSEUDO).
pub(super) const C_MAX_PREFER: usize = 254;

/// What we send for one entry: 0.0.0.0 for `None`; a /32's own address
/// (as C, whether or not it is a master); for a wider block, the
/// configured masters inside it, in table order.
pub(super) fn ours(entry: &PreferEntry, vifs: &[Vif]) -> Vec<Ipv4Addr> {
    match entry {
        PreferEntry::None => vec![Ipv4Addr::UNSPECIFIED],
        PreferEntry::Range { addr, .. } if addr.prefix >= 32 => vec![addr.addr],
        PreferEntry::Range { addr, .. } => vifs
            .iter()
            .filter(|v| matches!(v.first(), VipAddr::V4(_)))
            .map(|v| v.id().wire())
            .filter(|&m| addr.contains(m))
            .collect(),
        PreferEntry::Exact6 { addr } => vifs
            .iter()
            .filter(|v| matches!(v.first(), VipAddr::V6(a) if a.addr == *addr))
            .map(|v| v.id().wire())
            .collect(),
    }
}

/// What C 2.1.4 on a little-endian host sends for one entry, at most
/// `limit` addresses. Prefixes are 1–32 here (`/0` was read as 32).
///
/// The bare form masks correctly but steps the network-order value as a
/// host integer, so it only walks the first octet, and only below /8.
/// The braced form applies a host-order mask to the network-order value,
/// so it clears and walks the low bits of the *first* octets instead.
pub(super) fn c_x86(entry: &PreferEntry, limit: usize) -> Vec<Ipv4Addr> {
    let (addr, braced) = match entry {
        PreferEntry::None => return vec![Ipv4Addr::UNSPECIFIED],
        PreferEntry::Range { addr, braced } => (addr, *braced),
        // C has no IPv6 at all: nothing to compare with.
        PreferEntry::Exact6 { .. } => return Vec::new(),
    };
    let prefix = u32::from(addr.prefix.clamp(1, 32));
    let span = |bits: u32| -> usize { 1usize.checked_shl(bits).unwrap_or(usize::MAX) };
    if braced {
        let raw = u32::from_le_bytes(addr.addr.octets());
        let host_mask = mask(prefix as u8);
        let base = raw & host_mask;
        (0..span(32 - prefix).min(limit))
            .map(|i| Ipv4Addr::from((base | i as u32).to_le_bytes()))
            .collect()
    } else {
        let base = u32::from(addr.addr) & mask(prefix as u8);
        if prefix >= 8 {
            return vec![Ipv4Addr::from(base)];
        }
        let first = base >> 24;
        (0..span(8 - prefix).min(limit))
            .map(|i| Ipv4Addr::from((first + i as u32) << 24))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{IfAddr, Pos};
    use super::*;

    fn range(s: &str, braced: bool) -> PreferEntry {
        PreferEntry::Range {
            addr: super::super::addr::parse(s).unwrap().addr,
            braced,
        }
    }

    fn vif(a: [u8; 4]) -> Vif {
        Vif {
            addrs: vec![VipAddr::V4(IfAddr {
                ifname: "eth0".into(),
                addr: Ipv4Addr::from(a),
                prefix: 32,
                net_prefix: 24,
            })],
            pos: Pos { line: 1, col: 1 },
        }
    }

    #[test]
    fn slash_32_is_the_address_in_every_form() {
        let vifs = [vif([10, 0, 0, 1])];
        for braced in [false, true] {
            let e = range("eth0:10.0.0.9/32", braced);
            assert_eq!(ours(&e, &vifs), vec![Ipv4Addr::new(10, 0, 0, 9)]);
            assert_eq!(c_x86(&e, 254), vec![Ipv4Addr::new(10, 0, 0, 9)]);
        }
    }

    #[test]
    fn none_is_zero() {
        assert_eq!(ours(&PreferEntry::None, &[]), vec![Ipv4Addr::UNSPECIFIED]);
        assert_eq!(c_x86(&PreferEntry::None, 254), vec![Ipv4Addr::UNSPECIFIED]);
    }

    #[test]
    fn ranges_take_the_masters_inside() {
        let vifs = [vif([10, 1, 2, 5]), vif([10, 1, 3, 5]), vif([10, 1, 2, 9])];
        let e = range("eth0:10.1.2.3/24", true);
        assert_eq!(
            ours(&e, &vifs),
            vec![Ipv4Addr::new(10, 1, 2, 5), Ipv4Addr::new(10, 1, 2, 9)]
        );
    }

    #[test]
    fn c_bare_range_is_the_masked_address() {
        // Spec §10: bare 10.3.4.5/8 prefers only 10.0.0.0.
        let e = range("eth0:10.3.4.5/8", false);
        assert_eq!(c_x86(&e, 254), vec![Ipv4Addr::new(10, 0, 0, 0)]);
        let e = range("eth0:10.3.4.5/24", false);
        assert_eq!(c_x86(&e, 254), vec![Ipv4Addr::new(10, 3, 4, 0)]);
        // Below /8 it walks the first octet.
        let e = range("e:13.3.4.5/6", false);
        assert_eq!(
            c_x86(&e, 254),
            (12..16)
                .map(|o| Ipv4Addr::new(o, 0, 0, 0))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn c_braced_range_walks_the_first_octet() {
        // Spec §10: { 10.1.2.3/24 } enumerates 0.1.2.3 ... 255.1.2.3,
        // capped at 254 entries.
        let e = range("eth0:10.1.2.3/24", true);
        let c = c_x86(&e, 254);
        assert_eq!(c.len(), 254);
        assert_eq!(c[0], Ipv4Addr::new(0, 1, 2, 3));
        assert_eq!(c[1], Ipv4Addr::new(1, 1, 2, 3));
        assert_eq!(c[253], Ipv4Addr::new(253, 1, 2, 3));
        let e = range("eth0:10.1.2.3/31", true);
        assert_eq!(
            c_x86(&e, 254),
            vec![Ipv4Addr::new(10, 1, 2, 3), Ipv4Addr::new(11, 1, 2, 3)]
        );
        // A huge block stays cheap: only `limit` are built.
        assert_eq!(c_x86(&range("e:1.2.3.4/1", true), 3).len(), 3);
    }
}

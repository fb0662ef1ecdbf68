//! The GET_STATE reply of C wackamole 2.1.4, byte for byte: its encoder
//! (the daemon), its decoder and the `wackatrl -l` listing.
//!
//! Per VIF, 900 bytes: the claim priority (4 bytes, big-endian), then 32
//! interface records of 28 bytes — name (16 bytes, NUL padded), address,
//! broadcast, netmask (4 bytes each, network order). Record 0 is the
//! owner (its address only), record 1 the master, 2..31 the extras,
//! zeros where unused. The whole is preceded by its length, 4 bytes
//! big-endian.
//!
//! The records hold IPv4 only: IPv6 addresses of a VIF are left out (the
//! JSON status shows them), and the master record of a VIF whose first
//! address is IPv6 carries the interface name and zeros.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::{frame, DecodeError, Snapshot};
use crate::config::VipAddr;

/// `IFNAMSIZ`: the name field of a record.
pub const IFNAMSIZ: usize = 16;
/// One interface record: name, address, broadcast, netmask.
pub const RECORD_LEN: usize = IFNAMSIZ + 12;
/// Records per VIF: owner, master and 30 extras (C's `MAX_DEP_IF + 2`).
pub const RECORDS: usize = 32;
/// The bytes of one VIF: priority and records.
pub const VIF_LEN: usize = 4 + RECORDS * RECORD_LEN;

/// One interface record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyIf {
    /// The name up to its first NUL.
    pub ifname: String,
    pub addr: Ipv4Addr,
    pub broadcast: Ipv4Addr,
    pub netmask: Ipv4Addr,
}

impl LegacyIf {
    /// The prefix length of the netmask (its leading one bits). C's
    /// wackatrl printed /32 for most masks on little-endian hosts.
    pub fn prefix(&self) -> u32 {
        u32::from(self.netmask).leading_ones()
    }
}

/// One VIF of a GET_STATE reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyVif {
    /// The wire claim priority.
    pub priority: i32,
    /// The holder's real address, 0.0.0.0 when nobody holds it.
    pub owner: Ipv4Addr,
    pub master: LegacyIf,
    /// The extras up to the first record with address 0.0.0.0 (where C's
    /// wackatrl stops too).
    pub extras: Vec<LegacyIf>,
}

fn put_record(out: &mut Vec<u8>, ifname: &str, addr: Ipv4Addr, bcast: Ipv4Addr, mask: Ipv4Addr) {
    let mut name = [0u8; IFNAMSIZ];
    // At most 15 bytes (the config refuses longer names): the NUL stays.
    let n = ifname.len().min(IFNAMSIZ - 1);
    name[..n].copy_from_slice(&ifname.as_bytes()[..n]);
    out.extend_from_slice(&name);
    out.extend_from_slice(&addr.octets());
    out.extend_from_slice(&bcast.octets());
    out.extend_from_slice(&mask.octets());
}

const ZERO: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

/// The GET_STATE reply for a snapshot: length, then 900 bytes per VIF.
pub fn encode_state(s: &Snapshot) -> Vec<u8> {
    let mut body = Vec::with_capacity(VIF_LEN * s.vifs.len());
    for v in &s.vifs {
        let start = body.len();
        body.extend_from_slice(&(v.priority as i32).to_be_bytes());
        put_record(&mut body, "", v.owner, ZERO, ZERO);
        match v.addrs.first() {
            Some(VipAddr::V4(a)) => {
                put_record(&mut body, &a.ifname, a.addr, a.broadcast(), a.netmask())
            }
            Some(VipAddr::V6(a)) => put_record(&mut body, &a.ifname, ZERO, ZERO, ZERO),
            None => put_record(&mut body, "", ZERO, ZERO, ZERO),
        }
        let extras = v.addrs.iter().skip(1).filter_map(|a| match a {
            VipAddr::V4(a) => Some(a),
            VipAddr::V6(_) => None,
        });
        for a in extras.take(RECORDS - 2) {
            put_record(&mut body, &a.ifname, a.addr, a.broadcast(), a.netmask());
        }
        body.resize(start + VIF_LEN, 0);
    }
    frame(&body)
}

fn be32(b: &[u8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

fn record(b: &[u8]) -> LegacyIf {
    let name = &b[..IFNAMSIZ];
    let end = name.iter().position(|&c| c == 0).unwrap_or(IFNAMSIZ);
    let at = |i: usize| Ipv4Addr::from(be32(&b[IFNAMSIZ + 4 * i..]));
    LegacyIf {
        ifname: String::from_utf8_lossy(&name[..end]).into_owned(),
        addr: at(0),
        broadcast: at(1),
        netmask: at(2),
    }
}

/// Reads a GET_STATE reply body (the bytes after the length).
pub fn decode_state(body: &[u8]) -> Result<Vec<LegacyVif>, DecodeError> {
    if body.len() % VIF_LEN != 0 {
        return Err(DecodeError::StateLength(body.len()));
    }
    Ok(body
        .chunks_exact(VIF_LEN)
        .map(|v| {
            let rec = |i: usize| record(&v[4 + i * RECORD_LEN..4 + (i + 1) * RECORD_LEN]);
            LegacyVif {
                priority: i32::from_be_bytes(be32(v)),
                owner: rec(0).addr,
                master: rec(1),
                extras: (2..RECORDS)
                    .map(rec)
                    .take_while(|r| !r.addr.is_unspecified())
                    .collect(),
            }
        })
        .collect())
}

/// The `wackatrl -l` listing, as C prints it but with the real prefix
/// lengths. A master without an IPv4 address (an IPv6 VIF) says so.
pub fn format_listing(vifs: &[LegacyVif]) -> String {
    let mut out = String::new();
    for v in vifs {
        if v.owner.is_unspecified() {
            out.push_str("Owner: not acquired\n");
        } else {
            let _ = writeln!(out, "Owner: {}", v.owner);
        }
        let m = &v.master;
        if m.addr.is_unspecified() && !m.ifname.is_empty() {
            let _ = writeln!(out, "\t*   {:>5}:IPv6 (see wackatrl -j)", m.ifname);
        } else {
            let _ = writeln!(out, "\t*   {:>5}:{}/{}", m.ifname, m.addr, m.prefix());
        }
        for e in &v.extras {
            let _ = writeln!(out, "\t -> {:>5}:{}/{}", e.ifname, e.addr, e.prefix());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::msg::Priority;
    use crate::control::VifInfo;
    use crate::testutil::hex;
    use crate::testutil::{vip4, vip6};

    fn snap(vifs: Vec<VifInfo>) -> Snapshot {
        Snapshot {
            vifs,
            ..Snapshot::default()
        }
    }

    #[test]
    fn one_vif_byte_for_byte() {
        let s = snap(vec![VifInfo {
            addrs: vec![
                vip4("eth0", "192.168.1.10", 24, 24),
                vip4("eth1", "10.1.2.3", 32, 24),
            ],
            owner: "192.168.1.2".parse().unwrap(),
            priority: Priority::Claimed,
            held_here: false,
        }]);
        let b = encode_state(&s);
        assert_eq!(b.len(), 4 + 900);
        let mut want = hex("00000384"); // 900
        want.extend(hex("00000002"));
        // Record 0: the owner, address only.
        want.extend([0; 16]);
        want.extend(hex("c0a80102"));
        want.extend([0; 8]);
        // Record 1: the master, with broadcast and netmask.
        want.extend(b"eth0\0\0\0\0\0\0\0\0\0\0\0\0");
        want.extend(hex("c0a8010ac0a801ffffffff00"));
        // Record 2: one extra; the rest zeros.
        want.extend(b"eth1\0\0\0\0\0\0\0\0\0\0\0\0");
        want.extend(hex("0a0102030a010203ffffffff"));
        want.resize(4 + 900, 0);
        assert_eq!(b, want);

        let d = decode_state(&b[4..]).unwrap();
        assert_eq!(
            d,
            [LegacyVif {
                priority: 2,
                owner: "192.168.1.2".parse().unwrap(),
                master: LegacyIf {
                    ifname: "eth0".into(),
                    addr: "192.168.1.10".parse().unwrap(),
                    broadcast: "192.168.1.255".parse().unwrap(),
                    netmask: "255.255.255.0".parse().unwrap(),
                },
                extras: vec![LegacyIf {
                    ifname: "eth1".into(),
                    addr: "10.1.2.3".parse().unwrap(),
                    broadcast: "10.1.2.3".parse().unwrap(),
                    netmask: "255.255.255.255".parse().unwrap(),
                }],
            }]
        );
        assert_eq!(
            format_listing(&d),
            "Owner: 192.168.1.2\n\t*    eth0:192.168.1.10/24\n\t ->  eth1:10.1.2.3/32\n"
        );
    }

    #[test]
    fn ipv6_is_left_out_of_the_records() {
        let s = snap(vec![
            VifInfo {
                addrs: vec![
                    vip6("eth0", "2001:db8::1", 64),
                    vip4("eth0", "10.0.0.5", 8, 24),
                ],
                owner: Ipv4Addr::UNSPECIFIED,
                priority: Priority::Unclaimed,
                held_here: false,
            },
            VifInfo {
                addrs: vec![
                    vip4("bond0", "10.0.0.6", 16, 24),
                    vip6("bond0", "2001:db8::2", 64),
                    vip4("bond0", "10.0.0.7", 16, 24),
                ],
                owner: "10.9.9.9".parse().unwrap(),
                priority: Priority::PreferClaimed,
                held_here: true,
            },
        ]);
        let b = encode_state(&s);
        assert_eq!(&b[..4], &1800u32.to_be_bytes());
        let d = decode_state(&b[4..]).unwrap();
        assert_eq!(d[0].master.ifname, "eth0");
        assert!(d[0].master.addr.is_unspecified());
        assert_eq!(d[0].extras.len(), 1);
        assert_eq!(d[1].extras.len(), 1);
        assert_eq!(d[1].extras[0].addr, "10.0.0.7".parse::<Ipv4Addr>().unwrap());
        assert_eq!(
            format_listing(&d),
            concat!(
                "Owner: not acquired\n",
                "\t*    eth0:IPv6 (see wackatrl -j)\n",
                "\t ->  eth0:10.0.0.5/8\n",
                "Owner: 10.9.9.9\n",
                "\t*   bond0:10.0.0.6/16\n",
                "\t -> bond0:10.0.0.7/16\n",
            )
        );
    }

    #[test]
    fn thirty_extras_fill_every_record() {
        let addrs = (0..31)
            .map(|i| vip4("eth0", &format!("10.0.0.{}", i + 1), 32, 24))
            .collect();
        let s = snap(vec![VifInfo {
            addrs,
            owner: Ipv4Addr::UNSPECIFIED,
            priority: Priority::Unclaimed,
            held_here: false,
        }]);
        let b = encode_state(&s);
        assert_eq!(b.len(), 904);
        let d = decode_state(&b[4..]).unwrap();
        assert_eq!(d[0].extras.len(), 30);
        assert_eq!(
            d[0].extras[29].addr,
            "10.0.0.31".parse::<Ipv4Addr>().unwrap()
        );
    }

    #[test]
    fn garbage_after_the_nul_and_odd_lengths() {
        let s = snap(vec![VifInfo {
            addrs: vec![vip4("eth0", "10.0.0.1", 32, 24)],
            owner: Ipv4Addr::UNSPECIFIED,
            priority: Priority::Unclaimed,
            held_here: false,
        }]);
        let mut b = encode_state(&s);
        // C copied IFNAMSIZ raw bytes: what follows the NUL is ignored.
        b[4 + 4 + 28 + 6] = b'x';
        assert_eq!(decode_state(&b[4..]).unwrap()[0].master.ifname, "eth0");
        assert_eq!(decode_state(&b[4..903]), Err(DecodeError::StateLength(899)));
        assert_eq!(decode_state(&[]).unwrap(), []);
    }

    #[test]
    fn prefixes_are_real() {
        let r = |m: &str| LegacyIf {
            ifname: String::new(),
            addr: ZERO,
            broadcast: ZERO,
            netmask: m.parse().unwrap(),
        };
        assert_eq!(r("255.0.0.0").prefix(), 8);
        assert_eq!(r("255.255.255.255").prefix(), 32);
        assert_eq!(r("255.255.254.0").prefix(), 23);
        assert_eq!(r("0.0.0.0").prefix(), 0);
    }
}

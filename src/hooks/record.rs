//! C's `struct interface` (defines.h of wackamole 2.1.4), the record a
//! `RunDynamic module:func` function receives, and the three arguments
//! of that call (master, 30 extras, owner) as the bytes the parent hands
//! to the hook runner child.
//!
//! ```c
//! struct interface {
//!   char ifname[IFNAMSIZ];          /* 16, NUL-padded            */
//!   struct in_addr ipaddr;          /* network order, from 16    */
//!   struct in_addr bcast;           /* 20                        */
//!   struct in_addr netmask;         /* 24                        */
//!   struct in_addr network;         /* 28: the nNET mask         */
//!   unsigned char mac[ETH_ALEN];    /* 32..38, then 2 bytes pad  */
//! };                                /* 40 bytes, aligned to 4    */
//! ```

use std::net::Ipv4Addr;

use crate::config::IfAddr;

/// Records in the `extras` array C passes (`MAX_DEP_IF`), whatever the
/// VIF holds; unused ones are all zero.
pub const MAX_EXTRAS: usize = 30;

/// `sizeof(struct interface)` with the C compilers of Linux.
pub const RECORD_SIZE: usize = 40;

/// The bytes of one call's arguments: master, the extras, owner.
pub const ARGS_SIZE: usize = RECORD_SIZE * (MAX_EXTRAS + 2);

// Field offsets, as C lays them out.
const IFNAME: usize = 0;
const IPADDR: usize = 16;
const BCAST: usize = 20;
const NETMASK: usize = 24;
const NETWORK: usize = 28;
const MAC: usize = 32;

/// C's `struct interface`, laid out as C does. Addresses are
/// `in_addr.s_addr`: the octets in memory order (network byte order),
/// whatever the host's.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CInterface {
    pub ifname: [libc::c_char; 16],
    pub ipaddr: u32,
    pub bcast: u32,
    pub netmask: u32,
    pub network: u32,
    pub mac: [u8; 6],
}

/// An address as `in_addr.s_addr` holds it.
fn s_addr(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

fn from_s_addr(v: u32) -> Ipv4Addr {
    Ipv4Addr::from(v.to_ne_bytes())
}

impl CInterface {
    /// All zero: what C passes for "none" (and for `post` events).
    pub const ZERO: CInterface = CInterface {
        ifname: [0; 16],
        ipaddr: 0,
        bcast: 0,
        netmask: 0,
        network: 0,
        mac: [0; 6],
    };

    /// A VIF address as C's parser filled it: name, address, netmask,
    /// broadcast (address | ~mask) and `network` (the `nNET` mask). The
    /// name is cut to 15 bytes (the config allows no more).
    pub fn from_ifaddr(a: &IfAddr) -> CInterface {
        let mut r = CInterface::ZERO;
        for (d, s) in r.ifname.iter_mut().take(15).zip(a.ifname.bytes()) {
            *d = s as libc::c_char;
        }
        r.ipaddr = s_addr(a.addr);
        r.bcast = s_addr(a.broadcast());
        r.netmask = s_addr(a.netmask());
        r.network = s_addr(a.net_mask());
        r
    }

    /// An owner record: only the address is known (C's `real_if`).
    pub fn owner(a: Option<Ipv4Addr>) -> CInterface {
        CInterface {
            ipaddr: a.map_or(0, s_addr),
            ..CInterface::ZERO
        }
    }

    pub fn ip(&self) -> Ipv4Addr {
        from_s_addr(self.ipaddr)
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        from_s_addr(self.bcast)
    }
    pub fn netmask(&self) -> Ipv4Addr {
        from_s_addr(self.netmask)
    }

    /// The name up to its first NUL.
    pub fn name(&self) -> String {
        let bytes: Vec<u8> = self
            .ifname
            .iter()
            .map(|&c| c as u8)
            .take_while(|&b| b != 0)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The C bytes of the record, padding zeroed.
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        for (d, &s) in b[IFNAME..IFNAME + 16].iter_mut().zip(&self.ifname) {
            *d = s as u8;
        }
        b[IPADDR..IPADDR + 4].copy_from_slice(&self.ipaddr.to_ne_bytes());
        b[BCAST..BCAST + 4].copy_from_slice(&self.bcast.to_ne_bytes());
        b[NETMASK..NETMASK + 4].copy_from_slice(&self.netmask.to_ne_bytes());
        b[NETWORK..NETWORK + 4].copy_from_slice(&self.network.to_ne_bytes());
        b[MAC..MAC + 6].copy_from_slice(&self.mac);
        b
    }

    pub fn from_bytes(b: &[u8; RECORD_SIZE]) -> CInterface {
        let word = |at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut r = CInterface::ZERO;
        for (d, &s) in r.ifname.iter_mut().zip(&b[IFNAME..IFNAME + 16]) {
            *d = s as libc::c_char;
        }
        r.ipaddr = word(IPADDR);
        r.bcast = word(BCAST);
        r.netmask = word(NETMASK);
        r.network = word(NETWORK);
        r.mac.copy_from_slice(&b[MAC..MAC + 6]);
        r
    }
}

/// The three arguments of one C hook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallArgs {
    pub master: CInterface,
    pub extras: [CInterface; MAX_EXTRAS],
    pub owner: CInterface,
}

impl CallArgs {
    /// All zero, as `post up` and `post down` hooks get them.
    pub const ZERO: CallArgs = CallArgs {
        master: CInterface::ZERO,
        extras: [CInterface::ZERO; MAX_EXTRAS],
        owner: CInterface::ZERO,
    };

    /// The extras up to the first unused one, as C's Perl glue walked
    /// them.
    pub fn used_extras(&self) -> impl Iterator<Item = &CInterface> {
        self.extras.iter().take_while(|e| e.ipaddr != 0)
    }

    /// master, extras, owner, as lowercase hex (for the runner's argv).
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(ARGS_SIZE * 2);
        let records = std::iter::once(&self.master)
            .chain(&self.extras)
            .chain(std::iter::once(&self.owner));
        for r in records {
            for b in r.to_bytes() {
                out.push_str(&format!("{b:02x}"));
            }
        }
        out
    }

    pub fn from_hex(s: &str) -> Option<CallArgs> {
        if s.len() != ARGS_SIZE * 2 || !s.is_ascii() {
            return None;
        }
        let mut bytes = Vec::with_capacity(ARGS_SIZE);
        for i in (0..s.len()).step_by(2) {
            bytes.push(u8::from_str_radix(&s[i..i + 2], 16).ok()?);
        }
        let record = |i: usize| {
            let chunk: &[u8; RECORD_SIZE] = bytes[i * RECORD_SIZE..(i + 1) * RECORD_SIZE]
                .try_into()
                .expect("RECORD_SIZE bytes");
            CInterface::from_bytes(chunk)
        };
        let mut args = CallArgs::ZERO;
        args.master = record(0);
        for (n, e) in args.extras.iter_mut().enumerate() {
            *e = record(n + 1);
        }
        args.owner = record(MAX_EXTRAS + 1);
        Some(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn layout_is_that_of_c() {
        assert_eq!(size_of::<CInterface>(), RECORD_SIZE);
        assert_eq!(align_of::<CInterface>(), 4);
        assert_eq!(offset_of!(CInterface, ifname), IFNAME);
        assert_eq!(offset_of!(CInterface, ipaddr), IPADDR);
        assert_eq!(offset_of!(CInterface, bcast), BCAST);
        assert_eq!(offset_of!(CInterface, netmask), NETMASK);
        assert_eq!(offset_of!(CInterface, network), NETWORK);
        assert_eq!(offset_of!(CInterface, mac), MAC);
        // Two bytes of tail padding, as C has.
        assert_eq!(MAC + 6 + 2, RECORD_SIZE);
    }

    fn eth0(text: &str) -> IfAddr {
        let (addr, rest) = text.split_once('/').unwrap();
        let (prefix, net) = rest.split_once('n').unwrap_or((rest, "24"));
        IfAddr {
            ifname: "eth0:1".into(),
            addr: addr.parse().unwrap(),
            prefix: prefix.parse().unwrap(),
            net_prefix: net.parse().unwrap(),
        }
    }

    #[test]
    fn records_hold_what_c_parser_put_there() {
        let r = CInterface::from_ifaddr(&eth0("192.0.2.10/24n16"));
        let b = r.to_bytes();
        assert_eq!(&b[..7], b"eth0:1\0");
        assert_eq!(&b[IPADDR..IPADDR + 4], &[192, 0, 2, 10]);
        assert_eq!(&b[BCAST..BCAST + 4], &[192, 0, 2, 255]);
        assert_eq!(&b[NETMASK..NETMASK + 4], &[255, 255, 255, 0]);
        assert_eq!(&b[NETWORK..NETWORK + 4], &[255, 255, 0, 0]);
        assert_eq!(&b[MAC..], &[0; 8]);
        assert_eq!(r.name(), "eth0:1");
        assert_eq!(r.ip(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(r.broadcast(), Ipv4Addr::new(192, 0, 2, 255));
        assert_eq!(r.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        let o = CInterface::owner(Some(Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(&o.to_bytes()[IPADDR..IPADDR + 4], &[10, 0, 0, 7]);
        assert_eq!(CInterface::owner(None), CInterface::ZERO);
    }

    #[test]
    fn args_round_trip_through_hex() {
        let mut a = CallArgs::ZERO;
        a.master = CInterface::from_ifaddr(&eth0("192.0.2.10/32"));
        a.extras[0] = CInterface::from_ifaddr(&eth0("192.0.2.11/24"));
        a.extras[0].mac = [2, 0, 0, 0, 0, 1];
        a.owner = CInterface::owner(Some(Ipv4Addr::new(10, 0, 0, 7)));
        let hex = a.to_hex();
        assert_eq!(hex.len(), ARGS_SIZE * 2);
        assert!(hex.starts_with("657468303a3100")); // "eth0:1\0"
        assert_eq!(CallArgs::from_hex(&hex), Some(a.clone()));
        assert_eq!(a.used_extras().count(), 1);
        assert_eq!(CallArgs::from_hex(&hex[2..]), None);
        assert_eq!(CallArgs::from_hex(&hex.replace('6', "g")), None);
        assert_eq!(
            CallArgs::from_hex(&CallArgs::ZERO.to_hex()),
            Some(CallArgs::ZERO)
        );
    }
}

//! Interface addresses as the config writes them:
//! `[IFNAME:]a.b.c.d/PREFIX[nNET]`, with C's meaning of every part.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::MAX_IFNAME;

/// The `nNET` default: the network ARP notifications may reach.
pub const DEFAULT_NET_PREFIX: u8 = 24;

/// One address of a VIF, a Prefer or a Notify entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IfAddr {
    /// Interface name; empty when the entry names none (Prefer, Notify).
    pub ifname: String,
    pub addr: Ipv4Addr,
    /// Netmask length, 1–32.
    pub prefix: u8,
    /// The `nNET` suffix (default 24): whom ARP notifications may reach.
    pub net_prefix: u8,
}

pub fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

impl IfAddr {
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    /// The block this entry covers (`addr & netmask`).
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        let m = mask(self.prefix);
        u32::from(a) & m == u32::from(self.addr) & m
    }

    /// The `nNET` network notifications stay inside, as a mask.
    pub fn net_mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.net_prefix))
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.ifname.is_empty() {
            write!(f, "{}:", self.ifname)?;
        }
        write!(f, "{}/{}", self.addr, self.prefix)?;
        if self.net_prefix != DEFAULT_NET_PREFIX {
            write!(f, "n{}", self.net_prefix)?;
        }
        Ok(())
    }
}

/// An IPv6 address of a VIF (`IF:[2001:db8::10]/64`): beyond C 2.1.4.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct If6Addr {
    pub ifname: String,
    pub addr: Ipv6Addr,
    /// 1–128.
    pub prefix: u8,
}

impl fmt::Display for If6Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.ifname.is_empty() {
            write!(f, "{}:", self.ifname)?;
        }
        write!(f, "[{}]/{}", self.addr, self.prefix)
    }
}

/// One address of a VIF, either family.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VipAddr {
    V4(IfAddr),
    V6(If6Addr),
}

impl VipAddr {
    pub fn ifname(&self) -> &str {
        match self {
            VipAddr::V4(a) => &a.ifname,
            VipAddr::V6(a) => &a.ifname,
        }
    }

    pub fn ip(&self) -> IpAddr {
        match self {
            VipAddr::V4(a) => IpAddr::V4(a.addr),
            VipAddr::V6(a) => IpAddr::V6(a.addr),
        }
    }
}

impl fmt::Display for VipAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VipAddr::V4(a) => a.fmt(f),
            VipAddr::V6(a) => a.fmt(f),
        }
    }
}

/// The 4-byte identity STATE and BALANCE carry for a VIF whose first
/// address is IPv6 (the wire has room for IPv4 only): a hash of the
/// address in 240.0.0.0/4, a range no host uses. The same on every node.
pub fn wire_id_v6(a: Ipv6Addr) -> Ipv4Addr {
    // FNV-1a, 32 bits: fixed forever, as it is on the wire.
    let mut h: u32 = 0x811c_9dc5;
    for b in a.octets() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    Ipv4Addr::from(0xf000_0000 | (h & 0x0fff_ffff))
}

/// Why a word is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrProblem {
    /// Nothing like an address: the caller reports a syntax error.
    NotAnAddress,
    /// Meant as an address, but wrong; the reason is for the operator.
    Invalid(String),
    InterfaceNameTooLong(String),
    /// An IPv6 address (`[...]`) where only IPv4 is allowed.
    Ipv6,
}

/// An address word, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub addr: IfAddr,
    /// `/0` or `n0` was written; C (on x86) reads either as 32.
    pub zero_prefix: bool,
}

fn digits(s: &str, what: &str, max_digits: usize) -> Result<u32, AddrProblem> {
    if s.is_empty() {
        return Err(AddrProblem::Invalid(format!("missing {what}")));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrProblem::Invalid(format!(
            "{what} '{s}' is not a number"
        )));
    }
    if s.len() > max_digits {
        return Err(AddrProblem::Invalid(format!(
            "{what} '{s}' has more than {max_digits} digits"
        )));
    }
    Ok(s.parse().expect("at most 3 ASCII digits"))
}

fn prefix_part(s: &str, what: &str) -> Result<(u8, bool), AddrProblem> {
    let v = digits(s, what, 2)?;
    if v > 32 {
        return Err(AddrProblem::Invalid(format!(
            "{what} {v} is out of range 0-32"
        )));
    }
    // C computes `0xffffffff << (32 - 0)`, which x86 reads as a shift by
    // zero: a zero prefix means /32 there.
    Ok(if v == 0 { (32, true) } else { (v as u8, false) })
}

/// `IF:` before an address. An IPv6 address holds ':' too, but only
/// inside its brackets.
fn split_ifname(word: &str) -> (&str, &str) {
    match word.find(':') {
        Some(i) if !word[..i].contains('[') => (&word[..i], &word[i + 1..]),
        _ => ("", word),
    }
}

/// An address of either family: IPv4 as [`parse`], IPv6 as
/// `[IF:][ADDR]/PREFIX`.
pub fn parse_any(word: &str) -> Result<(VipAddr, bool), AddrProblem> {
    match parse(word) {
        Ok(p) => Ok((VipAddr::V4(p.addr), p.zero_prefix)),
        Err(AddrProblem::Ipv6) => parse_v6(word).map(|a| (VipAddr::V6(a), false)),
        Err(e) => Err(e),
    }
}

fn parse_v6(word: &str) -> Result<If6Addr, AddrProblem> {
    let (ifname, rest) = split_ifname(word);
    let inner = rest.strip_prefix('[').expect("checked by parse");
    let Some((addr, tail)) = inner.split_once(']') else {
        return Err(AddrProblem::Invalid("no ']' after the IPv6 address".into()));
    };
    let addr: Ipv6Addr = addr
        .parse()
        .map_err(|_| AddrProblem::Invalid(format!("'{addr}' is not an IPv6 address")))?;
    let Some(prefix) = tail.strip_prefix('/') else {
        return Err(AddrProblem::Invalid(
            "the /PREFIX is required (for example /64)".into(),
        ));
    };
    let prefix = digits(prefix, "prefix", 3)?;
    if !(1..=128).contains(&prefix) {
        return Err(AddrProblem::Invalid(format!(
            "prefix {prefix} is out of range 1-128"
        )));
    }
    if addr.is_unspecified() || addr.is_loopback() || addr.is_multicast() {
        return Err(AddrProblem::Invalid(format!(
            "{addr} cannot be a virtual address"
        )));
    }
    if ifname.len() > MAX_IFNAME {
        return Err(AddrProblem::InterfaceNameTooLong(ifname.to_string()));
    }
    Ok(If6Addr {
        ifname: ifname.to_string(),
        addr,
        prefix: prefix as u8,
    })
}

/// Parses one bare word of the config as an address, the way C's
/// scanner and `toCIDR` read it, with range checks C lacks.
pub fn parse(word: &str) -> Result<Parsed, AddrProblem> {
    let (ifname, rest) = split_ifname(word);
    if rest.starts_with('[') {
        return Err(AddrProblem::Ipv6);
    }
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(AddrProblem::NotAnAddress);
    }
    if word.starts_with(':') {
        return Err(AddrProblem::Invalid(
            "empty interface name before ':'".into(),
        ));
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '.' | '/' | 'n')))
    {
        return Err(AddrProblem::Invalid(format!("unexpected '{c}'")));
    }
    let Some((quad, tail)) = rest.split_once('/') else {
        return Err(AddrProblem::Invalid(
            "the /PREFIX is required (for example /32)".into(),
        ));
    };
    let parts: Vec<&str> = quad.split('.').collect();
    if parts.len() != 4 {
        return Err(AddrProblem::Invalid(
            "expected four dotted octets (a.b.c.d)".into(),
        ));
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        let v = digits(p, "octet", 3)?;
        *o = u8::try_from(v)
            .map_err(|_| AddrProblem::Invalid(format!("octet {v} is out of range 0-255")))?;
    }
    let (prefix_s, net_s) = match tail.split_once('n') {
        Some((p, n)) => (p, Some(n)),
        None => (tail, None),
    };
    let (prefix, zp) = prefix_part(prefix_s, "prefix")?;
    let (net_prefix, zn) = match net_s {
        Some(n) => prefix_part(n, "network prefix (nNET)")?,
        None => (DEFAULT_NET_PREFIX, false),
    };
    if ifname.len() > MAX_IFNAME {
        return Err(AddrProblem::InterfaceNameTooLong(ifname.to_string()));
    }
    Ok(Parsed {
        addr: IfAddr {
            ifname: ifname.to_string(),
            addr: Ipv4Addr::from(octets),
            prefix,
            net_prefix,
        },
        zero_prefix: zp || zn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(w: &str) -> IfAddr {
        parse(w).unwrap().addr
    }

    fn invalid(w: &str) -> String {
        match parse(w) {
            Err(AddrProblem::Invalid(r)) => r,
            other => panic!("{w}: {other:?}"),
        }
    }

    #[test]
    fn full_form() {
        let a = ok("eth0:192.168.1.10/24n16");
        assert_eq!(a.ifname, "eth0");
        assert_eq!(a.addr, Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(a.prefix, 24);
        assert_eq!(a.net_prefix, 16);
        assert_eq!(a.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(a.broadcast(), Ipv4Addr::new(192, 168, 1, 255));
        assert_eq!(a.net_mask(), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(a.to_string(), "eth0:192.168.1.10/24n16");
    }

    #[test]
    fn defaults_and_bare() {
        let a = ok("10.0.0.1/32");
        assert_eq!(a.ifname, "");
        assert_eq!(a.net_prefix, 24);
        assert_eq!(a.broadcast(), a.addr);
        assert_eq!(a.to_string(), "10.0.0.1/32");
        // Leading zeros are decimal, as atoi reads them.
        assert_eq!(ok("e:010.001.0.9/08").addr, Ipv4Addr::new(10, 1, 0, 9));
        assert_eq!(ok("e:010.001.0.9/08").prefix, 8);
        // Interface names may hold what C's scanner allows.
        assert_eq!(ok("eth0.100:1.2.3.4/32").ifname, "eth0.100");
    }

    #[test]
    fn zero_prefixes_read_as_32() {
        let p = parse("e:1.2.3.4/0").unwrap();
        assert!(p.zero_prefix);
        assert_eq!(p.addr.prefix, 32);
        let p = parse("e:1.2.3.4/24n0").unwrap();
        assert!(p.zero_prefix);
        assert_eq!(p.addr.net_prefix, 32);
        assert!(!parse("e:1.2.3.4/24").unwrap().zero_prefix);
    }

    #[test]
    fn contains() {
        let a = ok("10.1.2.0/23");
        assert!(a.contains(Ipv4Addr::new(10, 1, 3, 255)));
        assert!(!a.contains(Ipv4Addr::new(10, 1, 4, 0)));
    }

    #[test]
    fn problems() {
        assert_eq!(parse("Notify"), Err(AddrProblem::NotAnAddress));
        assert_eq!(parse("eth0:x"), Err(AddrProblem::NotAnAddress));
        assert_eq!(parse("eth0"), Err(AddrProblem::NotAnAddress));
        assert!(invalid("eth0:10.0.0.1").contains("/PREFIX is required"));
        assert!(invalid("eth0:10.0.0/24").contains("four dotted octets"));
        assert!(invalid("eth0:10.0.0.1.5/24").contains("four dotted octets"));
        assert!(invalid("eth0:10.0.0.256/24").contains("octet 256 is out of range"));
        assert!(invalid("eth0:10.0.0.1000/24").contains("more than 3 digits"));
        assert!(invalid("eth0:10..0.1/24").contains("missing octet"));
        assert!(invalid("eth0:10.0.0.1/33").contains("prefix 33 is out of range"));
        assert!(invalid("eth0:10.0.0.1/").contains("missing prefix"));
        assert!(invalid("eth0:10.0.0.1/032").contains("more than 2 digits"));
        assert!(invalid("eth0:10.0.0.1/24n33").contains("out of range"));
        assert!(invalid("eth0:10.0.0.1/24n").contains("missing network prefix"));
        assert!(invalid("eth0:10.0.0.1/24n1n2").contains("not a number"));
        assert!(invalid("eth0:10.0.0.1/24x").contains("unexpected 'x'"));
        assert!(invalid(":10.0.0.1/24").contains("empty interface name"));
        assert_eq!(
            parse("abcdefghijklmnop:10.0.0.1/24"),
            Err(AddrProblem::InterfaceNameTooLong("abcdefghijklmnop".into()))
        );
        assert!(parse("abcdefghijklmno:10.0.0.1/24").is_ok());
    }

    #[test]
    fn ipv6_addresses() {
        let (a, _) = parse_any("eth0:[2001:db8::10]/64").unwrap();
        let VipAddr::V6(a6) = &a else { panic!("{a:?}") };
        assert_eq!(a6.ifname, "eth0");
        assert_eq!(a6.addr, "2001:db8::10".parse::<Ipv6Addr>().unwrap());
        assert_eq!(a6.prefix, 64);
        assert_eq!(a.to_string(), "eth0:[2001:db8::10]/64");
        assert_eq!(a.ifname(), "eth0");
        let (b, _) = parse_any("[fd00::1]/128").unwrap();
        assert_eq!(b.ifname(), "");
        assert_eq!(parse("eth0:[2001:db8::10]/64"), Err(AddrProblem::Ipv6));
        let bad = |w: &str| match parse_any(w) {
            Err(AddrProblem::Invalid(r)) => r,
            other => panic!("{w}: {other:?}"),
        };
        assert!(bad("eth0:[2001:db8::10/64").contains("no ']'"));
        assert!(bad("eth0:[2001:db8::zz]/64").contains("not an IPv6 address"));
        assert!(bad("eth0:[2001:db8::10]").contains("/PREFIX is required"));
        assert!(bad("eth0:[2001:db8::10]/129").contains("out of range 1-128"));
        assert!(bad("eth0:[2001:db8::10]/0").contains("out of range 1-128"));
        assert!(bad("eth0:[ff02::1]/64").contains("cannot be a virtual address"));
        assert!(matches!(
            parse_any("abcdefghijklmnop:[2001:db8::1]/64"),
            Err(AddrProblem::InterfaceNameTooLong(_))
        ));
    }

    #[test]
    fn ipv6_wire_ids_are_fixed_and_in_class_e() {
        let id = wire_id_v6("2001:db8::10".parse().unwrap());
        assert_eq!(id.octets()[0] & 0xf0, 0xf0);
        // Fixed forever: it is what nodes of every version send.
        assert_eq!(id, wire_id_v6("2001:db8::10".parse().unwrap()));
        assert_eq!(
            id,
            Ipv4Addr::from(
                0xf000_0000
                    | (fnv(&"2001:db8::10".parse::<Ipv6Addr>().unwrap().octets()) & 0x0fff_ffff)
            )
        );
        assert_ne!(id, wire_id_v6("2001:db8::11".parse().unwrap()));
    }

    fn fnv(b: &[u8]) -> u32 {
        b.iter().fold(0x811c_9dc5u32, |h, &x| {
            (h ^ u32::from(x)).wrapping_mul(16_777_619)
        })
    }

    #[test]
    fn agrees_with_c_scanner_on_valid_words() {
        use super::super::lexer::c_lexes_as_address;
        for w in [
            "eth0:1.2.3.4/32",
            "1.2.3.4/8n16",
            "e:0.0.0.0/0",
            "e:1.2.3.4/0n0",
        ] {
            assert!(parse(w).is_ok() && c_lexes_as_address(w), "{w}");
        }
        for w in ["e:1.2.3.4/320", "e:1.2.3.4", "e:1.2.3.4/24n100"] {
            assert!(parse(w).is_err() && !c_lexes_as_address(w), "{w}");
        }
    }
}

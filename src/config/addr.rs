//! Interface addresses as the config writes them:
//! `[IFNAME:]a.b.c.d/PREFIX[nNET]`, with C's meaning of every part.

use std::fmt;
use std::net::Ipv4Addr;

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

/// Why a word is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrProblem {
    /// Nothing like an address: the caller reports a syntax error.
    NotAnAddress,
    /// Meant as an address, but wrong; the reason is for the operator.
    Invalid(String),
    InterfaceNameTooLong(String),
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

/// Parses one bare word of the config as an address, the way C's
/// scanner and `toCIDR` read it, with range checks C lacks.
pub fn parse(word: &str) -> Result<Parsed, AddrProblem> {
    let (ifname, rest) = match word.split_once(':') {
        Some((i, r)) => (i, r),
        None => ("", word),
    };
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

//! This node's identity (spec §2): its "real address", the IPv4 address
//! every node of the cluster knows it by in STATE, BALANCE and the
//! allocation table.
//!
//! C wackamole 2.1.4 took the first IPv4 address of
//! `gethostbyname(gethostname())`, and so, on a host whose name maps to
//! 127.0.1.1 (Debian's default), every node had the same identity and the
//! cluster broke without a word. Here the rules are, first match wins:
//!
//! 1. `-a ADDRESS` on the command line;
//! 2. `NodeAddress = ADDRESS` in the configuration;
//! 3. the first IPv4 address the host name resolves to that is not
//!    loopback (nor 0.0.0.0, multicast or broadcast);
//! 4. the first such address of an interface that is up and is not a
//!    loopback interface, in the kernel's order;
//! 5. otherwise an error that says how to set it.
//!
//! [`resolve`] applies the rules to inputs given as values (tested
//! without a network); [`identify`] gathers the inputs from the system
//! and calls it. The host name is resolved with the system resolver
//! (`getaddrinfo`, as `std` does): for a name with several IPv4
//! addresses its order may differ from C's `gethostbyname`; set
//! `NodeAddress` to be explicit.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// Why an address cannot identify a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// 127.0.0.0/8: every host has it.
    Loopback,
    /// 0.0.0.0.
    Unspecified,
    /// 224.0.0.0/4.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
}

impl Unusable {
    /// `None` when `a` may identify a node.
    pub fn of(a: Ipv4Addr) -> Option<Unusable> {
        if a.is_loopback() {
            Some(Unusable::Loopback)
        } else if a.is_unspecified() {
            Some(Unusable::Unspecified)
        } else if a.is_multicast() {
            Some(Unusable::Multicast)
        } else if a.is_broadcast() {
            Some(Unusable::Broadcast)
        } else {
            None
        }
    }

    /// The adjective: "loopback", "multicast", ...
    pub fn as_str(self) -> &'static str {
        match self {
            Unusable::Loopback => "loopback",
            Unusable::Unspecified => "unspecified",
            Unusable::Multicast => "multicast",
            Unusable::Broadcast => "broadcast",
        }
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `NodeAddress` value or a `-a` argument is not a node address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing like `a.b.c.d`.
    NotAnAddress,
    /// An octet of one to three digits over 255.
    OctetOutOfRange(u32),
    /// `eth0:a.b.c.d` or `a.b.c.d/32`: an address with more around it.
    Decorated { bare: Ipv4Addr },
    /// A well-formed address that cannot identify a node.
    Unusable { addr: Ipv4Addr, why: Unusable },
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::NotAnAddress => {
                write!(f, "expected a dotted IPv4 address such as 192.0.2.1")
            }
            AddressError::OctetOutOfRange(v) => write!(f, "octet {v} is out of range 0-255"),
            AddressError::Decorated { bare } => write!(
                f,
                "a node address is a bare IPv4 address, without interface name or /PREFIX: write {bare}"
            ),
            AddressError::Unusable { why, .. } => match why {
                Unusable::Loopback => write!(
                    f,
                    "a loopback address (127.0.0.0/8) is the same on every host and cannot identify a node"
                ),
                Unusable::Unspecified => {
                    write!(f, "the unspecified address 0.0.0.0 cannot identify a node")
                }
                Unusable::Multicast => write!(
                    f,
                    "a multicast address (224.0.0.0/4) cannot identify a node"
                ),
                Unusable::Broadcast => write!(
                    f,
                    "the broadcast address 255.255.255.255 cannot identify a node"
                ),
            },
        }
    }
}

impl std::error::Error for AddressError {}

/// `a.b.c.d` with one to three decimal digits an octet (leading zeros
/// are decimal, as everywhere in wackamole.conf).
fn dotted_quad(s: &str) -> Result<Ipv4Addr, AddressError> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(AddressError::NotAnAddress);
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AddressError::NotAnAddress);
        }
        let v: u32 = p.parse().map_err(|_| AddressError::NotAnAddress)?;
        *o = u8::try_from(v).map_err(|_| AddressError::OctetOutOfRange(v))?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// Parses an explicit node address (`NodeAddress` or `-a`): a dotted
/// IPv4 address, not loopback, 0.0.0.0, multicast or broadcast.
pub fn parse_node_address(s: &str) -> Result<Ipv4Addr, AddressError> {
    let addr = match dotted_quad(s) {
        Ok(a) => a,
        Err(AddressError::NotAnAddress) => {
            // `eth0:a.b.c.d/nn`, as a VIF is written: say what to write.
            let core = s.rsplit_once(':').map_or(s, |(_, r)| r);
            let core = core.split_once('/').map_or(core, |(l, _)| l);
            return match dotted_quad(core) {
                Ok(bare) if core != s => Err(AddressError::Decorated { bare }),
                Err(e @ AddressError::OctetOutOfRange(_)) if core != s => Err(e),
                _ => Err(AddressError::NotAnAddress),
            };
        }
        Err(e) => return Err(e),
    };
    match Unusable::of(addr) {
        Some(why) => Err(AddressError::Unusable { addr, why }),
        None => Ok(addr),
    }
}

/// What looking up the host name gave ([`resolve`]'s input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostLookup {
    /// `gethostname` failed (or gave nothing usable as a name).
    NoName { reason: String },
    /// The name does not resolve.
    Unresolved { name: String, reason: String },
    /// The name's addresses, in the resolver's order.
    Resolved {
        name: String,
        addresses: Vec<IpAddr>,
    },
}

/// One network interface of this host ([`resolve`]'s input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInterface {
    pub name: String,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_LOOPBACK` (`lo`): never used, whatever addresses it carries
    /// (load balancers in direct-routing mode put service addresses there).
    pub loopback: bool,
    /// Its IPv4 addresses, primary first.
    pub addresses: Vec<Ipv4Addr>,
}

/// Why the interfaces could not be listed: `getifaddrs` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfacesError(pub nix::errno::Errno);

impl fmt::Display for InterfacesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InterfacesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The interface list, or why there is none ([`resolve`]'s input).
pub type InterfaceList = Result<Vec<LocalInterface>, InterfacesError>;

/// Why the host name gave no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFinding {
    NoName {
        reason: String,
    },
    Unresolved {
        name: String,
        reason: String,
    },
    NoIpv4 {
        name: String,
    },
    /// Every IPv4 address of the name is unusable; the first is named.
    Unusable {
        name: String,
        addr: Ipv4Addr,
        why: Unusable,
    },
}

impl fmt::Display for HostFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostFinding::NoName { reason } => {
                write!(f, "the host name cannot be read ({reason})")
            }
            HostFinding::Unresolved { name, reason } => {
                write!(f, "the host name {name} does not resolve ({reason})")
            }
            HostFinding::NoIpv4 { name } => {
                write!(f, "the host name {name} has no IPv4 address")
            }
            HostFinding::Unusable { name, addr, why } => {
                write!(f, "the host name {name} resolves to {why} {addr}")
            }
        }
    }
}

/// Which rule chose the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `-a ADDRESS`.
    Flag,
    /// `NodeAddress = ADDRESS`.
    Directive,
    /// The host name resolves to it (C's rule).
    HostName { name: String },
    /// The first usable address of an interface that is up, because the
    /// host name gave none.
    Interface { ifname: String, host: HostFinding },
}

impl fmt::Display for Source {
    /// For `-t` and the start-up log line: `from -a`, `from NodeAddress`,
    /// `host name tb1 resolves to it`, `first address of eth0; the host
    /// name tb1 resolves to loopback 127.0.1.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => write!(f, "from -a"),
            Source::Directive => write!(f, "from NodeAddress"),
            Source::HostName { name } => write!(f, "host name {name} resolves to it"),
            Source::Interface { ifname, host } => {
                write!(f, "first address of {ifname}; {host}")
            }
        }
    }
}

/// No identity could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// The host name gave none, and no interface that is up has a usable
    /// IPv4 address.
    NoAddress { host: HostFinding },
    /// The host name gave none, and the interfaces could not be listed.
    InterfacesUnreadable {
        host: HostFinding,
        reason: InterfacesError,
    },
}

const HOW_TO_SET: &str =
    "set it with 'NodeAddress = a.b.c.d' in the configuration or with -a ADDRESS";

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::NoAddress { host } => write!(
                f,
                "cannot determine this node's address: {host}, and no interface that is up has a non-loopback IPv4 address; {HOW_TO_SET}"
            ),
            IdentityError::InterfacesUnreadable { host, reason } => write!(
                f,
                "cannot determine this node's address: {host}, and the network interfaces cannot be listed ({reason}); {HOW_TO_SET}"
            ),
        }
    }
}

impl std::error::Error for IdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdentityError::InterfacesUnreadable { reason, .. } => Some(reason),
            IdentityError::NoAddress { .. } => None,
        }
    }
}

/// Rules 1 and 2: `-a`, then `NodeAddress` (both checked where parsed).
fn explicit(flag: Option<Ipv4Addr>, directive: Option<Ipv4Addr>) -> Option<(Ipv4Addr, Source)> {
    flag.map(|a| (a, Source::Flag))
        .or_else(|| directive.map(|a| (a, Source::Directive)))
}

/// Rule 3: the first usable IPv4 address of the host name, or why there
/// is none.
fn from_host_name(host: &HostLookup) -> Result<(Ipv4Addr, Source), HostFinding> {
    let (name, addresses) = match host {
        HostLookup::NoName { reason } => {
            return Err(HostFinding::NoName {
                reason: reason.clone(),
            })
        }
        HostLookup::Unresolved { name, reason } => {
            return Err(HostFinding::Unresolved {
                name: name.clone(),
                reason: reason.clone(),
            })
        }
        HostLookup::Resolved { name, addresses } => (name, addresses),
    };
    let v4: Vec<Ipv4Addr> = addresses
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    if let Some(&a) = v4.iter().find(|a| Unusable::of(**a).is_none()) {
        return Ok((a, Source::HostName { name: name.clone() }));
    }
    Err(match v4.first() {
        None => HostFinding::NoIpv4 { name: name.clone() },
        Some(&addr) => HostFinding::Unusable {
            name: name.clone(),
            addr,
            why: Unusable::of(addr).unwrap_or(Unusable::Loopback),
        },
    })
}

/// Rule 4: the first usable address of an interface that is up.
fn from_interfaces(
    host: HostFinding,
    interfaces: &InterfaceList,
) -> Result<(Ipv4Addr, Source), IdentityError> {
    let list = match interfaces {
        Ok(list) => list,
        Err(reason) => {
            return Err(IdentityError::InterfacesUnreadable {
                host,
                reason: *reason,
            })
        }
    };
    let found = list.iter().filter(|i| i.up && !i.loopback).find_map(|i| {
        i.addresses
            .iter()
            .find(|a| Unusable::of(**a).is_none())
            .map(|&a| (a, i.name.clone()))
    });
    match found {
        Some((a, ifname)) => Ok((a, Source::Interface { ifname, host })),
        None => Err(IdentityError::NoAddress { host }),
    }
}

/// Applies the rules (see the module doc) to the flag (`-a`), the
/// directive (`NodeAddress`), the host name's lookup and the interface
/// list (`Err` when it could not be read). Pure: no I/O. The explicit
/// addresses are trusted: [`parse_node_address`] checked them.
pub fn resolve(
    flag: Option<Ipv4Addr>,
    directive: Option<Ipv4Addr>,
    host: &HostLookup,
    interfaces: &InterfaceList,
) -> Result<(Ipv4Addr, Source), IdentityError> {
    if let Some(found) = explicit(flag, directive) {
        return Ok(found);
    }
    match from_host_name(host) {
        Ok(found) => Ok(found),
        Err(finding) => from_interfaces(finding, interfaces),
    }
}

/// Looks the host name up: `gethostname`, then the system resolver.
pub fn lookup_host_name() -> HostLookup {
    let name = match nix::unistd::gethostname() {
        Ok(n) => n,
        Err(e) => {
            return HostLookup::NoName {
                reason: e.to_string(),
            }
        }
    };
    let name = match name.into_string() {
        Ok(n) if !n.is_empty() => n,
        Ok(_) => {
            return HostLookup::NoName {
                reason: "it is empty".into(),
            }
        }
        Err(raw) => {
            return HostLookup::NoName {
                reason: format!("{raw:?} is not UTF-8"),
            }
        }
    };
    match (name.as_str(), 0).to_socket_addrs() {
        Ok(addrs) => HostLookup::Resolved {
            addresses: addrs.map(|sa| sa.ip()).collect(),
            name,
        },
        Err(e) => HostLookup::Unresolved {
            reason: e.to_string(),
            name,
        },
    }
}

/// The interfaces with their IPv4 addresses, in the kernel's order.
pub fn list_interfaces() -> InterfaceList {
    use nix::net::if_::InterfaceFlags;
    let mut out: Vec<LocalInterface> = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(InterfacesError)? {
        let at = match out.iter().position(|i| i.name == ifa.interface_name) {
            Some(at) => at,
            None => {
                out.push(LocalInterface {
                    name: ifa.interface_name.clone(),
                    up: ifa.flags.contains(InterfaceFlags::IFF_UP),
                    loopback: ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK),
                    addresses: Vec::new(),
                });
                out.len() - 1
            }
        };
        if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
            out[at].addresses.push(sin.ip());
        }
    }
    Ok(out)
}

/// The interface list without the configured VIPs: a VIP moves between
/// nodes and cannot be one's identity (the interface fallback would
/// otherwise take whichever VIP happens to be up first).
pub fn without_vips(interfaces: InterfaceList, vips: &[Ipv4Addr]) -> InterfaceList {
    interfaces.map(|list| {
        list.into_iter()
            .map(|mut i| {
                i.addresses.retain(|a| !vips.contains(a));
                i
            })
            .collect()
    })
}

/// This node's identity, from the system: [`resolve`] on
/// [`lookup_host_name`] and [`list_interfaces`] (less the configured
/// `vips`). With `flag` or `directive` set, nothing is looked up (no
/// resolver delay).
/// [`identify`] for a configuration: `-a` (`flag`), then its
/// `NodeAddress`, never one of its VIPs.
pub fn for_config(
    flag: Option<Ipv4Addr>,
    cfg: &crate::config::Config,
) -> Result<(Ipv4Addr, Source), IdentityError> {
    identify(flag, cfg.node_address(), &cfg.vip_addrs())
}

pub fn identify(
    flag: Option<Ipv4Addr>,
    directive: Option<Ipv4Addr>,
    vips: &[Ipv4Addr],
) -> Result<(Ipv4Addr, Source), IdentityError> {
    if let Some(found) = explicit(flag, directive) {
        return Ok(found);
    }
    let interfaces = without_vips(list_interfaces(), vips);
    resolve(None, None, &lookup_host_name(), &interfaces)
}

#[cfg(test)]
mod tests;

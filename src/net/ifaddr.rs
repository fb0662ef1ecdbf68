//! Adding and removing VIPs on interfaces with ioctls, as C wackamole
//! does, without its defects (spec §9.1): always on an alias label
//! (`eth0:N`, the first free N from 1), never touching the base
//! interface's own address or flags, idempotent (an address already up
//! counts as held; releasing an absent one is no error), and with
//! `promote_secondaries` on so that removing a primary address keeps
//! the others.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::{If6Addr, IfAddr};
use crate::sys::net::{self as sys, IoctlSocket};

/// Why an address could not be added or removed, in the operator's terms.
#[derive(Debug)]
pub enum IfError {
    NoSuchInterface {
        ifname: String,
    },
    InterfaceDown {
        ifname: String,
    },
    PermissionDenied {
        what: String,
    },
    /// No alias label `IF:N` fits in 15 bytes.
    NoFreeLabel {
        ifname: String,
    },
    Io {
        what: String,
        source: io::Error,
    },
}

impl fmt::Display for IfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfError::NoSuchInterface { ifname } => {
                write!(f, "no interface '{ifname}' on this host")
            }
            IfError::InterfaceDown { ifname } => write!(f, "interface '{ifname}' is down"),
            IfError::PermissionDenied { what } => {
                write!(f, "{what}: permission denied (wackamole must run as root)")
            }
            IfError::NoFreeLabel { ifname } => {
                write!(
                    f,
                    "no free alias label on '{ifname}' (IF:N must fit in 15 bytes)"
                )
            }
            IfError::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for IfError {}

fn io_err(what: impl Into<String>, e: io::Error) -> IfError {
    let what = what.into();
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => IfError::PermissionDenied { what },
        _ => IfError::Io { what, source: e },
    }
}

/// What `acquire` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Added on this alias label.
    Added { label: String },
    /// Already up (on this label): counted as held, nothing changed.
    AlreadyUp { label: String },
}

/// What `release` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    Removed {
        label: String,
    },
    /// Not on this host: nothing to do.
    NotPresent,
    /// On a base interface: left alone (taking it down would down the
    /// interface; this is not an address wackamole added).
    OnBaseInterface {
        ifname: String,
    },
}

/// IPv4 addresses on this host, by label (`eth0`, `eth0:1`, ...).
pub fn list_v4() -> io::Result<Vec<(String, Ipv4Addr)>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
            out.push((ifa.interface_name, sin.ip()));
        }
    }
    Ok(out)
}

/// IPv6 addresses on this host, by interface.
pub fn list_v6() -> io::Result<Vec<(String, Ipv6Addr)>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        if let Some(sin6) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in6()) {
            out.push((ifa.interface_name, sin6.ip()));
        }
    }
    Ok(out)
}

/// The base interface of a label (`eth0:3` → `eth0`).
pub fn base_of(label: &str) -> &str {
    label.split(':').next().unwrap_or(label)
}

/// The first free alias label `IF:N`, N from 1, among `used` labels.
pub fn free_label(ifname: &str, used: &[String]) -> Option<String> {
    (1..10_000u32)
        .map(|n| format!("{ifname}:{n}"))
        .take_while(|l| l.len() <= sys::MAX_NAME)
        .find(|l| !used.contains(l))
}

/// The interface ioctls wackamole needs, on one socket each.
#[derive(Debug)]
pub struct Interfaces {
    v4: IoctlSocket,
}

impl Interfaces {
    pub fn open() -> Result<Interfaces, IfError> {
        Ok(Interfaces {
            v4: IoctlSocket::inet().map_err(|e| io_err("opening an AF_INET socket", e))?,
        })
    }

    /// The label `a` is up on, if any.
    pub fn find(&self, a: Ipv4Addr) -> Result<Option<String>, IfError> {
        let list = list_v4().map_err(|e| io_err("listing addresses", e))?;
        Ok(list.into_iter().find(|(_, x)| *x == a).map(|(l, _)| l))
    }

    fn check_interface(&self, ifname: &str) -> Result<(), IfError> {
        if sys::ifindex(ifname).is_err() {
            return Err(IfError::NoSuchInterface {
                ifname: ifname.to_string(),
            });
        }
        let flags = sys::flags(&self.v4, ifname)
            .map_err(|e| io_err(format!("reading the flags of {ifname}"), e))?;
        if flags & libc::IFF_UP == 0 {
            return Err(IfError::InterfaceDown {
                ifname: ifname.to_string(),
            });
        }
        Ok(())
    }

    /// Brings `a` up on a free alias label of its interface.
    pub fn acquire(&self, a: &IfAddr) -> Result<Acquired, IfError> {
        let list = list_v4().map_err(|e| io_err("listing addresses", e))?;
        if let Some((label, _)) = list.iter().find(|(_, x)| *x == a.addr) {
            return Ok(Acquired::AlreadyUp {
                label: label.clone(),
            });
        }
        self.check_interface(&a.ifname)?;
        let used: Vec<String> = list.into_iter().map(|(l, _)| l).collect();
        let label = free_label(&a.ifname, &used).ok_or_else(|| IfError::NoFreeLabel {
            ifname: a.ifname.clone(),
        })?;
        let what = |op: &str| format!("{op} {} on {label}", a.addr);
        sys::set_addr(&self.v4, &label, a.addr).map_err(|e| io_err(what("adding"), e))?;
        sys::set_netmask(&self.v4, &label, a.netmask())
            .map_err(|e| io_err(what("setting the netmask of"), e))?;
        // Always: the kernel first gives the label the classful
        // broadcast of the address (10.255.255.255 for a 10/8 address).
        sys::set_broadcast(&self.v4, &label, a.broadcast())
            .map_err(|e| io_err(what("setting the broadcast of"), e))?;
        let flags =
            sys::flags(&self.v4, &label).map_err(|e| io_err(what("reading the flags of"), e))?;
        if flags & libc::IFF_UP == 0 {
            sys::set_flags(&self.v4, &label, flags | libc::IFF_UP)
                .map_err(|e| io_err(what("bringing up"), e))?;
        }
        Ok(Acquired::Added { label })
    }

    /// Takes `a` down: clears IFF_UP on its alias label, which deletes
    /// that address alone.
    pub fn release(&self, a: Ipv4Addr) -> Result<Released, IfError> {
        let Some(label) = self.find(a)? else {
            return Ok(Released::NotPresent);
        };
        if !label.contains(':') {
            return Ok(Released::OnBaseInterface { ifname: label });
        }
        let what = format!("removing {a} from {label}");
        let flags = sys::flags(&self.v4, &label).map_err(|e| io_err(what.clone(), e))?;
        sys::set_flags(&self.v4, &label, flags & !libc::IFF_UP).map_err(|e| io_err(what, e))?;
        Ok(Released::Removed { label })
    }

    /// Re-adds any of `held` that vanished (the kernel deletes the
    /// secondaries of a removed primary unless `promote_secondaries` is
    /// on). Returns what had to be re-added.
    pub fn ensure(&self, held: &[&IfAddr]) -> Vec<(Ipv4Addr, Result<Acquired, IfError>)> {
        let present: Vec<Ipv4Addr> = match list_v4() {
            Ok(l) => l.into_iter().map(|(_, a)| a).collect(),
            Err(e) => {
                return held
                    .iter()
                    .map(|h| {
                        (
                            h.addr,
                            Err(io_err(
                                "listing addresses",
                                io::Error::new(e.kind(), e.to_string()),
                            )),
                        )
                    })
                    .collect()
            }
        };
        held.iter()
            .filter(|h| !present.contains(&h.addr))
            .map(|h| (h.addr, self.acquire(h)))
            .collect()
    }

    /// Removes configured VIPs a crashed run left on alias labels.
    /// Returns what it removed (addresses on a base interface are left).
    pub fn remove_stale(
        &self,
        configured: &[&IfAddr],
    ) -> Vec<(Ipv4Addr, Result<Released, IfError>)> {
        configured
            .iter()
            .map(|c| (c.addr, self.release(c.addr)))
            .filter(|(_, r)| !matches!(r, Ok(Released::NotPresent)))
            .collect()
    }
}

/// Turns `promote_secondaries` on for `ifname`; `Ok(true)` if it was off.
pub fn promote_secondaries(ifname: &str) -> io::Result<bool> {
    if ifname.contains('/') || ifname.contains("..") || ifname.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let path = format!("/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries");
    if std::fs::read_to_string(&path)?.trim() == "1" {
        return Ok(false);
    }
    std::fs::write(&path, "1\n")?;
    Ok(true)
}

/// IPv6 VIPs: added and deleted by (interface index, address, prefix).
#[derive(Debug)]
pub struct Interfaces6 {
    v6: IoctlSocket,
}

impl Interfaces6 {
    pub fn open() -> Result<Interfaces6, IfError> {
        Ok(Interfaces6 {
            v6: IoctlSocket::inet6().map_err(|e| io_err("opening an AF_INET6 socket", e))?,
        })
    }

    pub fn acquire(&self, ifname: &str, a: Ipv6Addr, prefix: u8) -> Result<(), IfError> {
        let idx = sys::ifindex(ifname).map_err(|_| IfError::NoSuchInterface {
            ifname: ifname.to_string(),
        })?;
        match sys::add_addr6(&self.v6, idx, a, prefix) {
            Ok(()) => Ok(()),
            // Already there: held.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(io_err(format!("adding {a}/{prefix} on {ifname}"), e)),
        }
    }

    /// Re-adds any of `held` that is not on its interface. Returns what
    /// had to be re-added, or could not be.
    pub fn ensure(&self, held: &[&If6Addr]) -> Vec<(Ipv6Addr, Result<(), IfError>)> {
        let present = match list_v6() {
            Ok(l) => l,
            Err(e) => {
                return held
                    .iter()
                    .map(|h| {
                        let e = io::Error::new(e.kind(), e.to_string());
                        (h.addr, Err(io_err("listing addresses", e)))
                    })
                    .collect()
            }
        };
        held.iter()
            .filter(|h| !present.iter().any(|(n, a)| *n == h.ifname && *a == h.addr))
            .map(|h| (h.addr, self.acquire(&h.ifname, h.addr, h.prefix)))
            .collect()
    }

    pub fn release(&self, ifname: &str, a: Ipv6Addr, prefix: u8) -> Result<(), IfError> {
        let idx = sys::ifindex(ifname).map_err(|_| IfError::NoSuchInterface {
            ifname: ifname.to_string(),
        })?;
        match sys::del_addr6(&self.v6, idx, a, prefix) {
            Ok(()) => Ok(()),
            // Not there: nothing to do.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(io_err(format!("removing {a}/{prefix} from {ifname}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(free_label("eth0", &[]), Some("eth0:1".into()));
        let used = vec!["eth0".into(), "eth0:1".into(), "eth0:3".into()];
        assert_eq!(free_label("eth0", &used), Some("eth0:2".into()));
        // 15 bytes at most: a 13-byte name has room for :1 to :9 only.
        let long = "abcdefghijklm";
        let used: Vec<String> = (1..10).map(|n| format!("{long}:{n}")).collect();
        assert_eq!(free_label(long, &used), None);
        assert_eq!(base_of("eth0:7"), "eth0");
        assert_eq!(base_of("eth0"), "eth0");
    }

    #[test]
    fn errors_read_well() {
        let e = io_err(
            "adding 10.0.0.1 on eth0:1",
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert_eq!(
            e.to_string(),
            "adding 10.0.0.1 on eth0:1: permission denied (wackamole must run as root)"
        );
        assert_eq!(
            IfError::NoSuchInterface {
                ifname: "eth9".into()
            }
            .to_string(),
            "no interface 'eth9' on this host"
        );
    }

    #[test]
    fn unknown_interfaces_are_named() {
        let Ok(i) = Interfaces::open() else { return };
        let a = IfAddr {
            ifname: "nosuchif0".into(),
            addr: Ipv4Addr::new(192, 0, 2, 77),
            prefix: 32,
            net_prefix: 24,
        };
        // Fails before touching anything: the interface does not exist.
        assert!(matches!(
            i.acquire(&a),
            Err(IfError::NoSuchInterface { .. })
        ));
    }
}

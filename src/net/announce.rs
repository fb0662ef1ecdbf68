//! Telling the neighbours that a VIP moved (spec §9.3): ARP replies and
//! ICMP echoes for IPv4 (to Notify destinations, or gratuitous to the
//! whole segment), unsolicited neighbour advertisements for IPv6,
//! sent on `AF_PACKET` sockets bound to the VIP's interface. What to send
//! is [`super::frame`]'s; whom to, and when, [`super::notify`]'s.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::frame;
use super::ifaddr::IfError;
use crate::sys::net::{self as sys, IoctlSocket, PacketSocket};

fn err(what: String, e: std::io::Error) -> IfError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => IfError::PermissionDenied { what },
        _ => IfError::Io { what, source: e },
    }
}

/// One packet socket and the MAC of each interface used so far.
#[derive(Debug)]
pub struct Announcer {
    ioctl: IoctlSocket,
    links: HashMap<String, (PacketSocket, [u8; 6])>,
}

impl Announcer {
    pub fn new() -> Result<Announcer, IfError> {
        Ok(Announcer {
            ioctl: IoctlSocket::inet().map_err(|e| err("opening an AF_INET socket".into(), e))?,
            links: HashMap::new(),
        })
    }

    fn link(&mut self, ifname: &str) -> Result<&(PacketSocket, [u8; 6]), IfError> {
        if !self.links.contains_key(ifname) {
            let idx = sys::ifindex(ifname).map_err(|_| IfError::NoSuchInterface {
                ifname: ifname.to_string(),
            })?;
            let mac = sys::hw_addr(&self.ioctl, ifname)
                .map_err(|e| err(format!("reading the MAC of {ifname}"), e))?;
            let sock = PacketSocket::open(idx)
                .map_err(|e| err(format!("opening a packet socket on {ifname}"), e))?;
            self.links.insert(ifname.to_string(), (sock, mac));
        }
        Ok(&self.links[ifname])
    }

    /// Forgets the socket of `ifname` (after an error, or when it went away).
    pub fn forget(&mut self, ifname: &str) {
        self.links.remove(ifname);
    }

    /// Tells `dest` that `vip` is at this interface's MAC: two broadcast
    /// ARP replies; with `dest_mac` known (the shared ARP cache), two more
    /// sent to it; with `ping`, an ICMP echo from the VIP to it.
    pub fn announce(
        &mut self,
        ifname: &str,
        vip: Ipv4Addr,
        dest: Ipv4Addr,
        dest_mac: Option<[u8; 6]>,
        ping: bool,
    ) -> Result<(), IfError> {
        let (sock, mac) = self.link(ifname)?;
        let what = || format!("announcing {vip} to {dest} on {ifname}");
        let b = frame::arp_reply(*mac, vip, frame::ETH_BROADCAST, dest);
        for _ in 0..2 {
            sock.send(&b).map_err(|e| err(what(), e))?;
        }
        if let Some(m) = dest_mac {
            let u = frame::arp_reply(*mac, vip, m, dest);
            for _ in 0..2 {
                sock.send(&u).map_err(|e| err(what(), e))?;
            }
            if ping {
                sock.send(&frame::icmp_echo(*mac, m, vip, dest))
                    .map_err(|e| err(what(), e))?;
            }
        }
        Ok(())
    }

    /// Tells every host of the segment that `vip` is here: `copies`
    /// gratuitous ARP replies ([`frame::gratuitous_arp_reply`]).
    pub fn gratuitous(
        &mut self,
        ifname: &str,
        vip: Ipv4Addr,
        copies: usize,
    ) -> Result<(), IfError> {
        let (sock, mac) = self.link(ifname)?;
        let f = frame::gratuitous_arp_reply(*mac, vip);
        for _ in 0..copies {
            sock.send(&f)
                .map_err(|e| err(format!("announcing {vip} on {ifname}"), e))?;
        }
        Ok(())
    }

    /// Announces an IPv6 VIP to all nodes: `copies` unsolicited
    /// neighbour advertisements with the Override flag.
    pub fn announce6(&mut self, ifname: &str, vip: Ipv6Addr, copies: usize) -> Result<(), IfError> {
        let (sock, mac) = self.link(ifname)?;
        let na = frame::neighbor_advert(*mac, vip);
        for _ in 0..copies {
            sock.send(&na)
                .map_err(|e| err(format!("announcing {vip} on {ifname}"), e))?;
        }
        Ok(())
    }
}

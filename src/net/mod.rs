//! The network stack: this node's identity ([`identity`]); to come:
//! adding and removing VIPs with ioctls, gratuitous ARP and IPv6
//! neighbour advertisements, `/proc/net/arp` sampling and the shared ARP
//! cache, and the notification schedule.
//!
//! Owns: every syscall that changes or announces an address. The only
//! module where `unsafe` is allowed, each block in a small wrapper with
//! its reason.

pub mod identity;

//! The network stack: this node's identity ([`identity`]); pure frame
//! building ([`frame`]), rtnetlink address messages ([`netlink`]), the
//! notification schedule ([`notify`]), the
//! `ArpRefresh` pacing ([`refresh`]) and the shared ARP cache
//! ([`arpcache`]); and the syscalls that add, remove
//! and announce addresses ([`ifaddr`], [`announce`], over the ioctls
//! and packet sockets of [`crate::sys::net`], and the netlink socket
//! of [`crate::sys::netlink`]).
//!
//! Owns: every change or announcement of an address. No `unsafe` here:
//! the syscalls behind it are in [`crate::sys`].

pub mod announce;
pub mod arpcache;
pub mod frame;
pub mod identity;
pub mod ifaddr;
pub mod netlink;
pub mod notify;
pub mod refresh;

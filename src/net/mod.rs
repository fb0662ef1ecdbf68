//! The network stack: this node's identity ([`identity`]); pure frame
//! building ([`frame`]), the notification schedule ([`notify`]) and the
//! shared ARP cache ([`arpcache`]); and the syscalls that add, remove
//! and announce addresses ([`ifaddr`], [`announce`], over [`sys`]).
//!
//! Owns: every syscall that changes or announces an address. The only
//! module where `unsafe` is allowed: in [`sys`] alone, each block in a
//! small wrapper with its reason.

pub mod announce;
pub mod arpcache;
pub mod frame;
pub mod identity;
pub mod ifaddr;
pub mod notify;
pub mod sys;

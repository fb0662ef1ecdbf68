//! wackamole: IP failover over Spread, a drop-in re-implementation of
//! wackamole 2.1.4 (Johns Hopkins, C).
//!
//! A cluster of hosts shares a set of virtual IPs. Every host joins one
//! Spread group; from Spread's agreed-order messages and membership
//! notices every instance computes the same allocation, so that each VIP
//! is held by exactly one live host.
//!
//! The crate is split by concern. The decision-making parts (`config`,
//! the wire codecs, `cluster`) are pure: bytes or events in, values out.
//! I/O lives at the edges (`net`, `control`, `daemon`, `hooks`); the
//! few syscalls that need `unsafe` live in `sys` alone.

#![deny(unsafe_code)]

pub mod auth;
pub mod cluster;
pub mod config;
pub mod control;
pub mod daemon;
pub mod group;
pub mod health;
pub mod hooks;
pub mod io;
pub mod net;
pub mod spread;
pub mod sys;
pub mod trust;

#[cfg(test)]
mod testutil;

/// The version banner of `-v`.
pub fn version_banner() -> String {
    format!(
        "wackamole {} (Rust), a drop-in replacement for wackamole 2.1.4\n\
         Spread group-communication based IP failover\n\
         membership backends: {}",
        env!("CARGO_PKG_VERSION"),
        config::Backend::built_list()
    )
}

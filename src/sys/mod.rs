//! The crate's only `unsafe` code: every syscall or FFI call that the
//! standard library and `nix` do not wrap safely, each block behind a
//! small safe function with a `// SAFETY:` line saying why it holds.
//!
//! * [`net`]: interface ioctls and `AF_PACKET` sockets (for `net`);
//! * [`netlink`]: a `NETLINK_ROUTE` socket (for `net::ifaddr`'s IPv6
//!   VIPs);
//! * [`process`]: `dlopen` of `RunDynamic` modules, process-group kill
//!   and the signal mask of hook children (for `hooks`);
//! * [`socket`]: the supplementary groups of a Unix socket's peer (for
//!   `control`);
//! * `cpg` (feature `corosync`): libcpg, Corosync's process groups (for
//!   `group::corosync`).
//!
//! The rest of the crate is `#![deny(unsafe_code)]` (see `lib.rs`).

#![allow(unsafe_code)]

#[cfg(feature = "corosync")]
pub mod cpg;
pub mod net;
pub mod netlink;
pub mod process;
pub mod socket;

//! The link to Spread: daemon addresses ([`addr`]), error codes
//! ([`error`]), the rules for names ([`name`]), the client wire protocol
//! (sans-I/O, in [`wire`], the authoritative copy of Spread's rules for
//! the client), whom a local socket is trusted from ([`local`]), and the
//! non-blocking connection ([`client`]) that the daemon's Spread backend
//! (`group::spread`) drives.
//!
//! Owns: everything that knows Spread's framing and rules. Nothing
//! outside this module sees a Spread header.

pub mod addr;
pub mod client;
pub mod error;
pub mod local;
pub mod name;
pub mod wire;

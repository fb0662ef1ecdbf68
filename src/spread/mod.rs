//! The link to Spread: daemon addresses, error codes, the client wire
//! protocol (sans-I/O, in [`wire`]), and (to come) the non-blocking
//! connection the daemon polls.
//!
//! Owns: everything that knows Spread's framing and rules. Nothing
//! outside this module sees a Spread header.

pub mod addr;
pub mod client;
pub mod error;
pub mod name;
pub mod wire;

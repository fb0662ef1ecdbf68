//! The link to Spread: daemon addresses, and (to come) the client wire
//! protocol codec and the non-blocking connection the daemon polls.
//!
//! Owns: everything that knows Spread's framing and rules. Nothing
//! outside this module sees a Spread header.

pub mod addr;

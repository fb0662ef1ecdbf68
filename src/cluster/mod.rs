//! The cluster engine: the BOOT/GATHER/RUN/BALANCE automaton of
//! wackamole 2.1.4, its allocation table and claim/balance rules
//! ([`engine`]), and the STATE, MATURING, BALANCE and ARPCACHE message
//! bodies ([`msg`]).
//!
//! Owns: every decision about who holds which VIP. Pure: it takes views,
//! messages and timer events and returns actions; it never touches a
//! socket, a clock or an interface, and knows nothing of Spread's types
//! (a view is a list of member names and an id).

pub mod engine;
pub mod msg;

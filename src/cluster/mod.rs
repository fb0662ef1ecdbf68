//! The cluster engine (to come): the BOOT/GATHER/RUN/BALANCE automaton of
//! wackamole 2.1.4, its allocation table and claim/balance rules, and the
//! STATE, MATURING, BALANCE and ARPCACHE message bodies.
//!
//! Owns: every decision about who holds which VIP. Pure: it takes
//! memberships, messages and timer events and returns actions; it never
//! touches a socket, a clock or an interface.

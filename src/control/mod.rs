//! The control socket (to come): the one-byte request protocol that the
//! C `wackatrl` speaks (GET_STATE, FAILURE, SUCCESS) and its extensions
//! (JSON status, reload), and the client side used by `wackatrl`.
//!
//! Owns: the control wire format and the non-blocking sessions.

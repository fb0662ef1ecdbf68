//! The control socket: the one-byte request protocol that C `wackatrl`
//! speaks, its extensions, and both ends of it.
//!
//! Owns: the request bytes ([`Request`]); what the daemon shows
//! ([`Snapshot`]) and every reply built from it (the C GET_STATE layout
//! in `legacy`, the JSON status and reload result in `status`, with the
//! small JSON writer and reader in [`json`]); the daemon's non-blocking
//! sessions ([`Server`], driven by the daemon's mio loop), who may open
//! one ([`Access`], [`decide`]) and how the socket file is made
//! ([`BindError`] says why it could not be); and the blocking client
//! `wackatrl` uses ([`client`]).
//!
//! The protocol (C wackamole 2.1.4, kept byte for byte, plus two new
//! request bytes that a C daemon refuses by closing the connection):
//!
//! | byte | request | reply |
//! |---|---|---|
//! | 0 | GET_STATE | length (4 bytes BE), 900 bytes per VIF ([`encode_state`]) |
//! | 1 | FAILURE | 4 bytes BE 0, once the daemon has acted |
//! | 2 | SUCCESS | 4 bytes BE 0, once the daemon has acted; 1 when a health check keeps the node out (refused) |
//! | 3 | STATUS_JSON | length, compact UTF-8 JSON ([`encode_status`]) |
//! | 4 | RELOAD | length, `{"ok":bool,"message":"..."}` ([`encode_reload`]) |
//!
//! A connection may send several requests; they are answered in order.
//! Any other byte closes the connection (after the replies to the
//! requests before it).
//!
//! The encoders and decoders are pure; only `server` and `client` touch
//! sockets.

use std::fmt;

mod access;
mod bind;
mod checks;
pub mod client;
pub mod json;
mod legacy;
mod server;
mod status;

pub use access::{
    decide, groups_from_status, read_peer, resolve_group, user_text, Access, ControlGroup,
    GroupError, Peer, RefusalLog, Verdict, REFUSAL_LOG_WINDOW,
};
pub use bind::{check_dir_chain, BindError, DirProblem, DirStat, MAX_PATH};
pub use checks::{check_value, checks_of_status, format_checks, refusal};
pub use legacy::{
    decode_state, encode_state, format_listing, LegacyIf, LegacyVif, IFNAMSIZ, RECORDS, RECORD_LEN,
    VIF_LEN,
};
pub use server::{Server, SessionId, MAX_PENDING, MAX_SESSIONS, MAX_UNSENT, SESSION_DEADLINE};
pub use status::{
    address_text, decode_json, decode_reload, encode_ack, encode_refused, encode_reload,
    encode_status, status_value, view_id_text, MemberInfo, NodeState, QuorumInfo, Snapshot,
    VifInfo, REFUSED,
};

/// One request of the control protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Request {
    /// C's GET_WACK_STATE: the VIF table in C's binary layout.
    GetState,
    /// C's WACK_SERVICE_FAILURE: leave Spread, release everything, stay
    /// away until SUCCESS.
    Failure,
    /// C's WACK_SERVICE_SUCCESS: end a simulated failure.
    Success,
    /// New: the status as JSON.
    StatusJson,
    /// New: re-read the config and apply it.
    Reload,
}

impl Request {
    /// Every request, in byte order.
    pub const ALL: [Request; 5] = [
        Request::GetState,
        Request::Failure,
        Request::Success,
        Request::StatusJson,
        Request::Reload,
    ];

    /// The request a byte stands for; `None` closes the connection.
    pub fn from_byte(b: u8) -> Option<Request> {
        Some(match b {
            0 => Request::GetState,
            1 => Request::Failure,
            2 => Request::Success,
            3 => Request::StatusJson,
            4 => Request::Reload,
            _ => return None,
        })
    }

    pub fn byte(self) -> u8 {
        match self {
            Request::GetState => 0,
            Request::Failure => 1,
            Request::Success => 2,
            Request::StatusJson => 3,
            Request::Reload => 4,
        }
    }

    /// Not known to C wackamole 2.1.4 (which closes the connection).
    pub fn is_extension(self) -> bool {
        matches!(self, Request::StatusJson | Request::Reload)
    }

    /// The name in logs: C's names for C's requests.
    pub fn name(self) -> &'static str {
        match self {
            Request::GetState => "GET_STATE",
            Request::Failure => "FAILURE",
            Request::Success => "SUCCESS",
            Request::StatusJson => "STATUS_JSON",
            Request::Reload => "RELOAD",
        }
    }

    /// Whether the reply is a length and a body (`false`: the 4-byte
    /// status of FAILURE and SUCCESS).
    pub fn reply_is_framed(self) -> bool {
        !matches!(self, Request::Failure | Request::Success)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `body` preceded by its length, 4 bytes big-endian.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("a control reply under 4 GiB");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Why a reply body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A GET_STATE body that is not a whole number of 900-byte VIFs.
    StateLength(usize),
    NotUtf8,
    Json(json::JsonError),
    /// A JSON reply without this field (or of the wrong type).
    MissingField(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::StateLength(n) => write!(
                f,
                "a state of {n} bytes, not a multiple of {VIF_LEN} (one VIF)"
            ),
            DecodeError::NotUtf8 => f.write_str("the reply is not UTF-8"),
            DecodeError::Json(e) => e.fmt(f),
            DecodeError::MissingField(k) => write!(f, "the reply has no valid \"{k}\" field"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        for r in Request::ALL {
            assert_eq!(Request::from_byte(r.byte()), Some(r));
        }
        let bytes: Vec<u8> = Request::ALL.iter().map(|r| r.byte()).collect();
        assert_eq!(bytes, [0, 1, 2, 3, 4]);
        for b in 5..=255 {
            assert_eq!(Request::from_byte(b), None);
        }
        // C's READ_COMMAND (100) is a state, not a request.
        assert_eq!(Request::from_byte(100), None);
        assert!(!Request::GetState.is_extension());
        assert!(Request::Reload.is_extension());
        assert!(!Request::Failure.reply_is_framed());
        assert_eq!(Request::StatusJson.to_string(), "STATUS_JSON");
    }

    #[test]
    fn frames() {
        assert_eq!(frame(b""), [0, 0, 0, 0]);
        assert_eq!(frame(b"ab"), [0, 0, 0, 2, b'a', b'b']);
    }
}

//! Connecting: the connect request, the authentication exchange and the
//! accept reply. Both sides, incrementally: the daemon writes its replies
//! one byte per `send`, so nothing here assumes a read returns a whole
//! reply.

use super::{check_private_name, VERSION};
use crate::spread::error::SpreadError;
use crate::spread::name;

/// Authentication method name slots of the choice message.
pub const MAX_AUTH_METHODS: usize = 3;
pub const MAX_AUTH_NAME: usize = 30;
pub const AUTH_CHOICE_LEN: usize = MAX_AUTH_METHODS * MAX_AUTH_NAME;
/// The accept byte.
pub const ACCEPT_SESSION: u8 = 1;

/// The connect request: version 5.0.1, flags, private name. The daemon
/// reads it with single `recv`s, so it must go out in one write.
pub fn connect_request(name: &str, membership: bool) -> Result<Vec<u8>, SpreadError> {
    check_private_name(name)?;
    let (major, minor, patch) = VERSION;
    let mut v = vec![major, minor, patch, u8::from(membership)];
    v.push(name.len() as u8);
    v.extend_from_slice(name.as_bytes());
    Ok(v)
}

/// The choice of the NULL method, the only one this library speaks.
pub fn null_auth_choice() -> [u8; AUTH_CHOICE_LEN] {
    let mut v = [0u8; AUTH_CHOICE_LEN];
    v[..4].copy_from_slice(b"NULL");
    v
}

/// What the client side of the handshake asks of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStep {
    /// Send these bytes (the 90-byte auth choice) in one write.
    Send(Vec<u8>),
    /// The session is open.
    Accepted {
        daemon_version: (u8, u8, u8),
        private_group: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    AuthList,
    Accept,
    Done,
}

/// The client side of the handshake, after the connect request went out.
#[derive(Debug)]
pub struct ClientHandshake {
    buf: Vec<u8>,
    state: ClientState,
}

impl Default for ClientHandshake {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientHandshake {
    pub fn new() -> Self {
        ClientHandshake {
            buf: Vec::new(),
            state: ClientState::AuthList,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received after the accept reply (the first messages).
    pub fn leftover(self) -> Vec<u8> {
        self.buf
    }

    /// The next step, once enough bytes are in; `Ok(None)` means wait
    /// for more.
    pub fn step(&mut self) -> Result<Option<ClientStep>, SpreadError> {
        match self.state {
            ClientState::AuthList => {
                let Some(&len) = self.buf.first() else {
                    return Ok(None);
                };
                let len = len as i8;
                if len < 0 {
                    return Err(SpreadError::from_code(i32::from(len)));
                }
                let len = len as usize;
                if len > AUTH_CHOICE_LEN {
                    return Err(SpreadError::RejectAuth);
                }
                if self.buf.len() < 1 + len {
                    return Ok(None);
                }
                let list = String::from_utf8_lossy(&self.buf[1..1 + len]).into_owned();
                self.buf.drain(..1 + len);
                if !list.split(' ').any(|m| m == "NULL") {
                    return Err(SpreadError::RejectAuth);
                }
                self.state = ClientState::Accept;
                Ok(Some(ClientStep::Send(null_auth_choice().to_vec())))
            }
            ClientState::Accept => {
                let Some(&first) = self.buf.first() else {
                    return Ok(None);
                };
                if first != ACCEPT_SESSION {
                    return Err(SpreadError::from_code(i32::from(first as i8)));
                }
                // accept, major, minor, patch (we announce > 3.14), length.
                if self.buf.len() < 5 {
                    return Ok(None);
                }
                let version = (self.buf[1], self.buf[2], self.buf[3]);
                let len = self.buf[4] as usize;
                if len >= super::MAX_GROUP_NAME {
                    return Err(SpreadError::IllegalMessage);
                }
                if self.buf.len() < 5 + len {
                    return Ok(None);
                }
                if version.0 < 3 {
                    return Err(SpreadError::RejectVersion);
                }
                let name = String::from_utf8_lossy(&self.buf[5..5 + len]).into_owned();
                self.buf.drain(..5 + len);
                self.state = ClientState::Done;
                Ok(Some(ClientStep::Accepted {
                    daemon_version: version,
                    private_group: name,
                }))
            }
            ClientState::Done => Ok(None),
        }
    }
}

/// A connect request as a daemon reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub version: (u8, u8, u8),
    pub membership: bool,
    pub priority: bool,
    pub name: String,
}

/// Parses a whole connect request; `Ok(None)` if more bytes are needed.
/// Returns the request and how many bytes it took.
pub fn parse_connect_request(b: &[u8]) -> Result<Option<(ConnectRequest, usize)>, SpreadError> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (major, minor) = (b[0], b[1]);
    if (major, minor) < (3, 1) {
        return Err(SpreadError::RejectVersion);
    }
    let has_patch = (major, minor) > (3, 14);
    let head = if has_patch { 5 } else { 4 };
    if b.len() < head {
        return Ok(None);
    }
    let patch = if has_patch { b[2] } else { 0 };
    let flags = b[head - 2];
    let len = b[head - 1] as usize;
    if len > super::MAX_PRIVATE_NAME {
        return Err(SpreadError::RejectIllegalName);
    }
    if b.len() < head + len {
        return Ok(None);
    }
    let name = &b[head..head + len];
    if !name.iter().all(|&c| name::is_name_byte(c)) {
        return Err(SpreadError::RejectIllegalName);
    }
    Ok(Some((
        ConnectRequest {
            version: (major, minor, patch),
            membership: flags & 0x01 != 0,
            priority: flags & 0x10 != 0,
            name: String::from_utf8_lossy(name).into_owned(),
        },
        head + len,
    )))
}

/// The daemon's auth list: length, then the names, each followed by a
/// space.
pub fn auth_list(methods: &[&str]) -> Vec<u8> {
    let text: String = methods.iter().map(|m| format!("{m} ")).collect();
    let mut v = vec![text.len() as u8];
    v.extend_from_slice(text.as_bytes());
    v
}

/// Whether a 90-byte auth choice picks NULL.
pub fn chooses_null(choice: &[u8]) -> bool {
    choice.len() == AUTH_CHOICE_LEN && super::get_name(&choice[..MAX_AUTH_NAME]) == "NULL"
}

/// The accept reply for a client that announced `client_version`.
pub fn accept_reply(
    client_version: (u8, u8, u8),
    daemon_version: (u8, u8, u8),
    private_group: &str,
) -> Vec<u8> {
    let mut v = vec![ACCEPT_SESSION, daemon_version.0, daemon_version.1];
    if (client_version.0, client_version.1) > (3, 14) {
        v.push(daemon_version.2);
    }
    v.push(private_group.len() as u8);
    v.extend_from_slice(private_group.as_bytes());
    v
}

/// A one-byte rejection (negative code).
pub fn reject(e: SpreadError) -> u8 {
    e.code() as i8 as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_request_as_seen() {
        // Seen: 05 00 01 01 05 "wack1".
        assert_eq!(
            connect_request("wack1", true).unwrap(),
            [0x05, 0x00, 0x01, 0x01, 0x05, b'w', b'a', b'c', b'k', b'1']
        );
        assert_eq!(connect_request("x", false).unwrap()[3], 0);
        assert_eq!(
            connect_request("elevenbytes", true),
            Err(SpreadError::RejectIllegalName)
        );
        let (r, n) = parse_connect_request(&connect_request("wack1", true).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(n, 10);
        assert_eq!(
            r,
            ConnectRequest {
                version: (5, 0, 1),
                membership: true,
                priority: false,
                name: "wack1".into()
            }
        );
        // An old client sends no patch byte.
        let (r, n) = parse_connect_request(&[3, 14, 1, 2, b'a', b'b'])
            .unwrap()
            .unwrap();
        assert_eq!((r.version, r.name.as_str(), n), ((3, 14, 0), "ab", 6));
        assert_eq!(parse_connect_request(&[5, 0, 1, 1]), Ok(None));
        assert_eq!(
            parse_connect_request(&[5, 0, 1, 1, 11]),
            Err(SpreadError::RejectIllegalName)
        );
        assert_eq!(
            parse_connect_request(&[3, 0]),
            Err(SpreadError::RejectVersion)
        );
        assert_eq!(
            parse_connect_request(&[5, 0, 1, 1, 1, b' ']),
            Err(SpreadError::RejectIllegalName)
        );
    }

    /// Feeds the handshake one byte at a time, as the daemon writes it.
    #[test]
    fn client_handshake_byte_by_byte() {
        let mut wire = auth_list(&["NULL"]);
        assert_eq!(wire, b"\x05NULL ");
        wire.extend(accept_reply((5, 0, 1), (5, 0, 1), "#wack1#cap"));
        assert_eq!(&wire[6..], b"\x01\x05\x00\x01\x0a#wack1#cap");
        let mut h = ClientHandshake::new();
        let mut steps = Vec::new();
        for b in wire {
            h.feed(&[b]);
            while let Some(s) = h.step().unwrap() {
                steps.push(s);
            }
        }
        assert_eq!(
            steps,
            [
                ClientStep::Send(null_auth_choice().to_vec()),
                ClientStep::Accepted {
                    daemon_version: (5, 0, 1),
                    private_group: "#wack1#cap".into()
                }
            ]
        );
        assert!(chooses_null(&null_auth_choice()));
    }

    #[test]
    fn client_handshake_rejections() {
        let mut h = ClientHandshake::new();
        h.feed(&[reject(SpreadError::RejectNotUnique)]);
        assert_eq!(h.feed_and_step_err(), SpreadError::RejectNotUnique);
        assert_eq!(reject(SpreadError::RejectNotUnique), 0xfa);
        let mut h = ClientHandshake::new();
        h.feed(b"\x06KERB4 ");
        assert_eq!(h.feed_and_step_err(), SpreadError::RejectAuth);
        let mut h = ClientHandshake::new();
        h.feed(b"\x05NULL \xf7");
        assert!(matches!(h.step(), Ok(Some(ClientStep::Send(_)))));
        assert_eq!(h.feed_and_step_err(), SpreadError::RejectAuth);
        let mut h = ClientHandshake::new();
        h.feed(b"\x05NULL \x01\x02\x00\x01\x01x");
        h.step().unwrap();
        assert_eq!(h.feed_and_step_err(), SpreadError::RejectVersion);
    }

    impl ClientHandshake {
        fn feed_and_step_err(&mut self) -> SpreadError {
            self.step().unwrap_err()
        }
    }
}

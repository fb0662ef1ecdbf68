//! A connection to a Spread daemon: the handshake, then non-blocking
//! sends and receives for the daemon's `mio` loop.
//!
//! [`Connecting`] drives the handshake without blocking (the daemon
//! reconnects from its event loop); [`Client::connect`] wraps it in a
//! private poll with a deadline for tools and tests. After the
//! handshake nothing blocks: requests are queued and written as the
//! socket allows, and [`Client::receive`] reads what is there.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UnixStream};
use mio::{Events, Interest, Poll, Registry, Token};

use super::addr::SpreadAddr;
use super::error::SpreadError;
use super::local::{self, Refusal};
use super::wire::handshake::{self, ClientHandshake, ClientStep};
use super::wire::message::{Decoder, Message};
use super::wire::{request, Order};
use crate::io::WriteBuf;
use crate::trust::Owners;

/// Request bytes the daemon may leave unread before the session is
/// given up (about seven of the largest messages).
pub const MAX_UNSENT: usize = 1 << 20;

/// A Spread failure, with what the system said where that helps.
#[derive(Debug)]
pub struct ClientError {
    pub code: SpreadError,
    pub detail: Option<String>,
    /// A local socket this client would not trust (the code is then
    /// `CouldNotConnect`); it says all there is to say.
    pub refused: Option<Refusal>,
}

impl ClientError {
    fn new(code: SpreadError) -> Self {
        ClientError {
            code,
            detail: None,
            refused: None,
        }
    }

    fn io(code: SpreadError, e: &io::Error) -> Self {
        ClientError {
            code,
            detail: Some(e.to_string()),
            refused: None,
        }
    }

    fn refused(r: Refusal) -> Self {
        ClientError {
            code: SpreadError::CouldNotConnect,
            detail: None,
            refused: Some(r),
        }
    }
}

impl From<SpreadError> for ClientError {
    fn from(code: SpreadError) -> Self {
        ClientError::new(code)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.refused, &self.detail) {
            (Some(r), _) => r.fmt(f),
            (None, Some(d)) => write!(f, "{} ({d})", self.code),
            (None, None) => write!(f, "{}", self.code),
        }
    }
}

impl std::error::Error for ClientError {}

/// The socket: a Unix stream to a local daemon or TCP.
#[derive(Debug)]
pub enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => s.read(buf),
            Socket::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => s.write(buf),
            Socket::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl mio::event::Source for Socket {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.register(r, t, i),
            Socket::Tcp(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.reregister(r, t, i),
            Socket::Tcp(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.deregister(r),
            Socket::Tcp(s) => s.deregister(r),
        }
    }
}

impl Socket {
    /// Starts connecting; a local socket only if `owners` (if given)
    /// own it.
    fn open(addr: &SpreadAddr, owners: Option<&Owners>) -> Result<Socket, ClientError> {
        match addr {
            SpreadAddr::Unix { path } => {
                if let Some(owners) = owners {
                    local::check_socket_file(path, owners).map_err(ClientError::refused)?;
                }
                UnixStream::connect(path)
                    .map(Socket::Unix)
                    .map_err(|e| ClientError::io(SpreadError::CouldNotConnect, &e))
            }
            SpreadAddr::Tcp { host, port } => {
                // As the C library: the first address the name resolves to.
                let sa = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| ClientError::io(SpreadError::CouldNotConnect, &e))?
                    .next()
                    .ok_or_else(|| ClientError {
                        code: SpreadError::CouldNotConnect,
                        detail: Some(format!("{host} has no address")),
                        refused: None,
                    })?;
                let s = TcpStream::connect(sa)
                    .map_err(|e| ClientError::io(SpreadError::CouldNotConnect, &e))?;
                // Small messages, sent as they come.
                let _ = s.set_nodelay(true);
                Ok(Socket::Tcp(s))
            }
        }
    }

    /// A non-blocking connect has finished (or failed).
    fn connected(&self) -> io::Result<bool> {
        match self {
            Socket::Unix(s) => s.take_error().map(|e| e.is_none()),
            Socket::Tcp(s) => {
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                match s.peer_addr() {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

fn closed_or(e: &io::Error) -> ClientError {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ClientError::io(SpreadError::ConnectionClosed, e),
        _ => ClientError::io(SpreadError::NetErrorOnSession, e),
    }
}

#[derive(Debug)]
enum Stage {
    /// Waiting for the socket to connect; then the request goes out.
    Connect,
    /// Request sent, the daemon's replies come in.
    Handshake,
}

/// A handshake in progress. Register [`Connecting::socket`] for
/// readable and writable events and call [`Connecting::advance`] on
/// each; it never blocks.
#[derive(Debug)]
pub struct Connecting {
    socket: Socket,
    /// Where a local socket is, and who may serve it (if anybody is
    /// checked).
    local: Option<(PathBuf, Owners)>,
    request: Vec<u8>,
    hs: ClientHandshake,
    stage: Stage,
    accepted: Option<((u8, u8, u8), String)>,
}

impl Connecting {
    /// Starts connecting with private name `name` (0–10 bytes; empty
    /// lets the daemon invent one). `membership`: receive membership
    /// messages. Whoever owns a local socket is trusted, as by Spread's
    /// own library: for tools and tests run by hand. The daemon, which
    /// runs as root, uses [`Connecting::start_trusting`].
    pub fn start(
        addr: &SpreadAddr,
        name: &str,
        membership: bool,
    ) -> Result<Connecting, ClientError> {
        Connecting::begin(addr, name, membership, None)
    }

    /// [`Connecting::start`], with a local socket used only if it is a
    /// socket that `owners` own, served by a process running as one of
    /// them (see [`local`]).
    pub fn start_trusting(
        addr: &SpreadAddr,
        name: &str,
        membership: bool,
        owners: &Owners,
    ) -> Result<Connecting, ClientError> {
        Connecting::begin(addr, name, membership, Some(owners))
    }

    fn begin(
        addr: &SpreadAddr,
        name: &str,
        membership: bool,
        owners: Option<&Owners>,
    ) -> Result<Connecting, ClientError> {
        let request = handshake::connect_request(name, membership)?;
        let local = match (addr, owners) {
            (SpreadAddr::Unix { path }, Some(owners)) => Some((path.clone(), owners.clone())),
            _ => None,
        };
        Ok(Connecting {
            socket: Socket::open(addr, owners)?,
            local,
            request,
            hs: ClientHandshake::new(),
            stage: Stage::Connect,
            accepted: None,
        })
    }

    pub fn socket(&mut self) -> &mut Socket {
        &mut self.socket
    }

    /// Makes what progress the socket allows. `Ok(true)` when the session
    /// is open: then call [`Connecting::finish`].
    pub fn advance(&mut self) -> Result<bool, ClientError> {
        if let Stage::Connect = self.stage {
            match self.socket.connected() {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(e) => return Err(ClientError::io(SpreadError::CouldNotConnect, &e)),
            }
            // Whoever owned the name when it was looked at, the process
            // now at the other end is what matters.
            if let (Socket::Unix(s), Some((path, owners))) = (&self.socket, &self.local) {
                local::check_peer(s, path, owners).map_err(ClientError::refused)?;
            }
            // The daemon reads the request with single recvs: one write.
            match self.socket.write(&self.request) {
                Ok(n) if n == self.request.len() => self.stage = Stage::Handshake,
                Ok(_) => return Err(ClientError::new(SpreadError::NetErrorOnSession)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => return Err(ClientError::io(SpreadError::CouldNotConnect, &e)),
            }
        }
        let mut buf = [0u8; 512];
        loop {
            while let Some(step) = self.hs.step()? {
                match step {
                    ClientStep::Send(choice) => match self.socket.write(&choice) {
                        // The 90-byte choice must arrive whole; an empty
                        // socket buffer takes it.
                        Ok(n) if n == choice.len() => {}
                        Ok(_) => return Err(ClientError::new(SpreadError::NetErrorOnSession)),
                        Err(e) => return Err(closed_or(&e)),
                    },
                    ClientStep::Accepted {
                        daemon_version,
                        private_group,
                    } => {
                        self.accepted = Some((daemon_version, private_group));
                        return Ok(true);
                    }
                }
            }
            match self.socket.read(&mut buf) {
                Ok(0) => return Err(ClientError::new(SpreadError::ConnectionClosed)),
                Ok(n) => self.hs.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(closed_or(&e)),
            }
        }
    }

    /// The open session, once [`Connecting::advance`] said so.
    pub fn finish(self) -> Client {
        let (daemon_version, private_group) = self
            .accepted
            .expect("finish() after advance() returned true");
        let mut decoder = Decoder::new(daemon_version.0);
        decoder.feed(&self.hs.leftover());
        Client {
            socket: self.socket,
            private_group,
            daemon_version,
            decoder,
            out: WriteBuf::new(),
        }
    }
}

/// An open session.
#[derive(Debug)]
pub struct Client {
    socket: Socket,
    private_group: String,
    daemon_version: (u8, u8, u8),
    decoder: Decoder,
    /// Requests not yet written.
    out: WriteBuf,
}

impl Client {
    /// Connects and completes the handshake within `timeout`, blocking
    /// (for tools and tests; the daemon drives [`Connecting`] itself).
    pub fn connect(
        addr: &SpreadAddr,
        name: &str,
        membership: bool,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut c = Connecting::start(addr, name, membership)?;
        let poll_err = |e: io::Error| ClientError::io(SpreadError::CouldNotConnect, &e);
        let mut poll = Poll::new().map_err(poll_err)?;
        poll.registry()
            .register(
                c.socket(),
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(poll_err)?;
        let mut events = Events::with_capacity(4);
        loop {
            if c.advance()? {
                poll.registry().deregister(c.socket()).map_err(poll_err)?;
                return Ok(c.finish());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError {
                    code: SpreadError::CouldNotConnect,
                    detail: Some(format!("no answer within {timeout:?}")),
                    refused: None,
                });
            }
            match poll.poll(&mut events, Some(left)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(poll_err(e)),
            }
        }
    }

    /// `#name#daemon`: this session's private group.
    pub fn private_group(&self) -> &str {
        &self.private_group
    }

    pub fn daemon_version(&self) -> (u8, u8, u8) {
        self.daemon_version
    }

    /// For registering with the caller's poll (readable, and writable
    /// while [`Client::wants_write`]).
    pub fn socket(&mut self) -> &mut Socket {
        &mut self.socket
    }

    pub fn join(&mut self, group: &str) -> Result<(), ClientError> {
        let r = request::join(Order::NATIVE, &self.private_group, group)?;
        self.send(r)
    }

    pub fn leave(&mut self, group: &str) -> Result<(), ClientError> {
        let r = request::leave(Order::NATIVE, &self.private_group, group)?;
        self.send(r)
    }

    /// Multicasts `data` with `service_type` (one service, maybe with
    /// SELF_DISCARD) and a 16-bit message type.
    pub fn multicast(
        &mut self,
        service_type: u32,
        groups: &[&str],
        mess_type: i16,
        data: &[u8],
    ) -> Result<(), ClientError> {
        let r = request::multicast(
            Order::NATIVE,
            &self.private_group,
            service_type,
            groups,
            mess_type,
            data,
        )?;
        self.send(r)
    }

    fn send(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        // A daemon that stops reading must not grow this without end:
        // past the bound the session is as good as lost.
        if self.out.len() + bytes.len() > MAX_UNSENT {
            return Err(ClientError {
                code: SpreadError::ConnectionClosed,
                detail: Some(format!(
                    "the daemon has not read {} bytes of requests",
                    self.out.len()
                )),
                refused: None,
            });
        }
        self.out.push(&bytes);
        self.flush()
    }

    /// Writes queued requests as far as the socket takes them.
    pub fn flush(&mut self) -> Result<(), ClientError> {
        match self.out.write_to(&mut self.socket) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WriteZero => {
                Err(ClientError::new(SpreadError::ConnectionClosed))
            }
            Err(e) => Err(closed_or(&e)),
        }
    }

    /// Requests are waiting for the socket to take them.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next message, reading what the socket has; `Ok(None)` when
    /// nothing whole is there and the socket is drained (it is
    /// edge-triggered: stopping earlier could leave bytes unseen until
    /// the next arrival). Call until `Ok(None)` on each readable event.
    /// A closed connection is CONNECTION_CLOSED.
    pub fn receive(&mut self) -> Result<Option<Message>, ClientError> {
        if let Some(m) = self.decoder.next_message()? {
            return Ok(Some(m));
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.socket.read(&mut buf) {
                Ok(0) => return Err(ClientError::new(SpreadError::ConnectionClosed)),
                Ok(n) => {
                    // The decoder refuses absurd lengths, so this reads
                    // at most one message's worth before returning it.
                    self.decoder.feed(&buf[..n]);
                    if let Some(m) = self.decoder.next_message()? {
                        return Ok(Some(m));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(closed_or(&e)),
            }
        }
    }

    /// Leaves Spread cleanly: the KILL request, written if the socket
    /// takes it now, then the socket closes. Never blocks.
    pub fn disconnect(mut self) {
        let kill = request::kill(Order::NATIVE, &self.private_group);
        let _ = self.send(kill);
    }
}

#[cfg(test)]
mod tests {
    //! The client against a fake daemon that replays the bytes of a real
    //! Spread 5.0.1 session, written in small pieces as the daemon does.

    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;
    use std::thread;

    use super::*;
    use crate::spread::wire::capture;
    use crate::spread::wire::message::Cause;
    use crate::spread::wire::service;

    fn socket_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "wackamole-client-{tag}-{}.sock",
            std::process::id()
        ))
    }

    /// Plays the daemon side of client A of join-multicast-leave on `s`.
    fn replay<S: Read + Write>(mut s: S) -> Vec<u8> {
        let (_, stream) = capture::streams(capture::JOIN_MULTICAST_LEAVE)
            .into_iter()
            .find(|(l, _)| l == "A")
            .unwrap();
        let daemon = &stream.to_client;
        let mut got = Vec::new();
        let read_n = |s: &mut S, n: usize, got: &mut Vec<u8>| {
            let mut b = vec![0u8; n];
            s.read_exact(&mut b).unwrap();
            got.extend_from_slice(&b);
        };
        read_n(&mut s, 10, &mut got);
        // Auth list, then the accept, one byte per write.
        for b in &daemon[..6] {
            s.write_all(&[*b]).unwrap();
        }
        read_n(&mut s, 90, &mut got);
        for b in &daemon[6..21] {
            s.write_all(&[*b]).unwrap();
        }
        // The join, then every delivery in uneven pieces.
        read_n(&mut s, 80, &mut got);
        for chunk in daemon[21..].chunks(37) {
            s.write_all(chunk).unwrap();
        }
        // The client's multicast (80 + 5 bytes) and kill (80).
        read_n(&mut s, 85 + 80, &mut got);
        got
    }

    fn drive(mut c: Client) -> (Vec<Message>, Client) {
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(c.socket(), Token(1), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(4);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 4 && Instant::now() < deadline {
            while let Some(m) = c.receive().unwrap() {
                got.push(m);
            }
            poll.poll(&mut events, Some(Duration::from_millis(200)))
                .unwrap();
        }
        poll.registry().deregister(c.socket()).unwrap();
        (got, c)
    }

    fn check_session(mut c: Client) {
        assert_eq!(c.private_group(), "#wack1#cap");
        assert_eq!(c.daemon_version(), (5, 0, 1));
        let (got, c2) = drive(c);
        c = c2;
        assert_eq!(got.len(), 4, "{got:?}");
        let Message::Membership(m) = &got[1] else {
            panic!("{:?}", got[1])
        };
        assert_eq!(
            (m.cause, m.index_of(c.private_group())),
            (Cause::Join, Some(0))
        );
        assert!(matches!(&got[2], Message::Data(d) if d.data == b"hello-wackamole\n"));
        c.multicast(service::AGREED, &["wack"], 7, b"bytes")
            .unwrap();
        c.disconnect();
    }

    #[test]
    fn a_session_over_a_unix_socket() {
        let path = socket_path("unix");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let daemon = thread::spawn(move || replay(listener.accept().unwrap().0));
        let addr = SpreadAddr::Unix { path: path.clone() };
        let mut c = Client::connect(&addr, "wack1", true, Duration::from_secs(10)).unwrap();
        c.join("wack").unwrap();
        check_session(c);
        let sent = daemon.join().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(&sent[..10], b"\x05\x00\x01\x01\x05wack1");
        assert_eq!(&sent[10..14], b"NULL");
        assert_eq!(&sent[100..104], [0x80, 0x00, 0x01, 0x80], "the join");
        assert_eq!(
            &sent[180..184],
            [0x90, 0x00, 0x00, 0x80],
            "an AGREED multicast"
        );
        assert_eq!(&sent[220..224], [0x80, 0x07, 0x00, 0x80], "mess_type 7");
        assert_eq!(&sent[265..269], [0x80, 0x00, 0x04, 0x80], "the kill");
    }

    #[test]
    fn a_session_over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let daemon = thread::spawn(move || replay(listener.accept().unwrap().0));
        let addr = SpreadAddr::parse(&format!("{port}@127.0.0.1")).unwrap();
        let mut c = Client::connect(&addr, "wack1", true, Duration::from_secs(10)).unwrap();
        c.join("wack").unwrap();
        check_session(c);
        daemon.join().unwrap();
    }

    #[test]
    fn a_name_in_use_is_refused() {
        let path = socket_path("dup");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let daemon = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut b = [0u8; 10];
            s.read_exact(&mut b).unwrap();
            s.write_all(&[0xfa]).unwrap();
        });
        let addr = SpreadAddr::Unix { path: path.clone() };
        let e = Client::connect(&addr, "wack1", true, Duration::from_secs(10)).unwrap_err();
        assert_eq!(e.code, SpreadError::RejectNotUnique);
        daemon.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn no_daemon_and_silent_daemon() {
        let addr = SpreadAddr::Unix {
            path: socket_path("none"),
        };
        let e = Client::connect(&addr, "x", true, Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.code, SpreadError::CouldNotConnect);
        assert!(e.to_string().contains("No such file"), "{e}");
        // A daemon that accepts and never answers: the deadline holds.
        let path = socket_path("silent");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let addr = SpreadAddr::Unix { path: path.clone() };
        let e = Client::connect(&addr, "x", true, Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.code, SpreadError::CouldNotConnect);
        drop(listener);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_daemon_that_goes_away_is_connection_closed() {
        let path = socket_path("gone");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let daemon = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            crate::testutil::accept_spread_x(&mut s);
        });
        let addr = SpreadAddr::Unix { path: path.clone() };
        let mut c = Client::connect(&addr, "x", true, Duration::from_secs(10)).unwrap();
        daemon.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = loop {
            match c.receive() {
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(m) => panic!("unexpected {m:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(e.code, SpreadError::ConnectionClosed);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_daemon_that_stops_reading_costs_at_most_max_unsent() {
        let path = socket_path("deaf");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let daemon = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            crate::testutil::accept_spread_x(&mut s);
            // Then reads nothing more, and keeps the connection.
            let _ = done_rx.recv_timeout(Duration::from_secs(30));
        });
        let addr = SpreadAddr::Unix { path: path.clone() };
        let mut c = Client::connect(&addr, "x", true, Duration::from_secs(10)).unwrap();
        let body = vec![7u8; 60_000];
        let mut sent = 0;
        let e = loop {
            match c.multicast(service::AGREED, &["wack"], 1, &body) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1000, "never refused");
            assert!(c.out.len() <= MAX_UNSENT, "{} queued", c.out.len());
        };
        assert_eq!(e.code, SpreadError::ConnectionClosed);
        assert!(e.to_string().contains("has not read"), "{e}");
        done_tx.send(()).unwrap();
        daemon.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}

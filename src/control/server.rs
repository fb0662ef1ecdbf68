//! The daemon's end of the control socket: a listener and its sessions,
//! non-blocking, inside the daemon's one mio loop.
//!
//! The server never decides anything: [`Server::ready`] turns bytes into
//! requests, the daemon acts and hands back the reply bytes with
//! [`Server::reply`], in request order. A client that misbehaves (an
//! unknown byte, a flood of requests, replies it never reads) loses its
//! session; nothing it does can block the daemon.
//!
//! Who may connect is checked on every connection ([`Access`], by the
//! peer's credentials); anyone else is closed before it has a session.
//! A session that completes no request for [`SESSION_DEADLINE`] is
//! closed. The server reads no clock: the daemon passes the time in and
//! asks for the next deadline ([`Server::next_deadline`]) and to close
//! the sessions past it ([`Server::expire`]).

use std::io::{self, ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use nix::sys::socket::{send, MsgFlags};

use super::access::{decide, read_peer, user_text, Access, Peer, RefusalLog};
use super::bind::{self, BindError, Ident};
use super::Request;
use crate::io::WriteBuf;

/// Sessions at once; a connection beyond closes the oldest session. The
/// session tokens are `first_session_token .. first_session_token +
/// MAX_SESSIONS`.
pub const MAX_SESSIONS: usize = 64;
/// Reply bytes a session may leave unread before it is dropped.
pub const MAX_UNSENT: usize = 1 << 20;
/// Requests a session may have unanswered before it is dropped.
pub const MAX_PENDING: usize = 64;
/// How long a session may go without completing a request (from its
/// connection, its last request or reply, or the last reply bytes the
/// client took) before it is closed. No request keeps a session open
/// longer: every reply is sent at once.
pub const SESSION_DEADLINE: Duration = Duration::from_secs(5);

/// A session, as the daemon names it in [`Server::reply`]. A reply to a
/// session that has gone (or whose slot has been reused) is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId {
    slot: usize,
    generation: u64,
}

struct Session {
    stream: UnixStream,
    generation: u64,
    /// Who connected (checked again when the policy changes).
    peer: Peer,
    /// Closed at this time unless a request comes (or a reply moves).
    deadline: Instant,
    /// Replies not yet written.
    out: WriteBuf,
    /// Requests handed to the daemon and not yet answered.
    pending: usize,
    /// No more reading (EOF or an unknown byte): close once every reply
    /// is written.
    closing: bool,
}

impl Session {
    fn unsent(&self) -> usize {
        self.out.len()
    }

    /// Writes as much as the socket takes. `Err` when the session is
    /// broken. `MSG_NOSIGNAL`: a client gone away is an error here, never
    /// a SIGPIPE for the daemon.
    fn flush(&mut self) -> io::Result<()> {
        let fd = self.stream.as_raw_fd();
        self.out
            .write_with(|b| send(fd, b, MsgFlags::MSG_NOSIGNAL).map_err(io::Error::from))
    }

    fn finished(&self) -> bool {
        self.closing && self.pending == 0 && self.unsent() == 0
    }
}

/// What reading a session gave.
enum ReadOutcome {
    /// Requests (possibly none); the session lives on.
    Requests(Vec<Request>),
    /// The session must go, with the reason for the log.
    Drop(String),
}

/// The listening control socket and its sessions.
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket we created, so that `remove` does
    /// not unlink a successor's socket.
    ident: Ident,
    access: Access,
    refusals: RefusalLog,
    registry: Option<Registry>,
    listener_token: Token,
    first_session_token: usize,
    sessions: Vec<Option<Session>>,
    next_generation: u64,
}

impl Server {
    /// Creates the control socket at `path`, with the mode and group
    /// `access` gives it from the start (see [`bind`](super::bind)): a
    /// stale socket there is replaced; a socket some process still
    /// serves, anything that is not a socket, a path over 107 bytes or a
    /// directory others may write is an error.
    pub fn bind(path: &Path, access: Access) -> Result<Server, BindError> {
        let (listener, ident) = bind::create(path, &access)?;
        let io = |source| BindError::Io {
            doing: "listen on",
            path: path.to_path_buf(),
            source,
        };
        listener.set_nonblocking(true).map_err(io)?;
        Ok(Server {
            listener: UnixListener::from_std(listener),
            path: path.to_path_buf(),
            ident,
            access,
            refusals: RefusalLog::default(),
            registry: None,
            listener_token: Token(usize::MAX),
            first_session_token: usize::MAX - MAX_SESSIONS,
            sessions: Vec::new(),
            next_generation: 0,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who may connect.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Applies a new policy (a reload that changed `ControlGroup`): the
    /// socket's group and mode, then every open session whose peer the
    /// new policy refuses is closed. `Err` (nothing changed) when the
    /// socket at the path is no longer ours or cannot be changed.
    pub fn set_access(&mut self, access: Access) -> Result<(), BindError> {
        bind::reapply(&self.path, self.ident, &access)?;
        self.access = access;
        for slot in 0..self.sessions.len() {
            let Some(sess) = self.sessions[slot].as_ref() else {
                continue;
            };
            let allowed = read_peer(&sess.stream, &self.access)
                .map(|p| decide(&p, &self.access).allowed())
                .unwrap_or(false);
            if !allowed {
                log::info!(
                    "control: closing the session of uid {}: the new ControlGroup does not allow it",
                    user_text(sess.peer.uid)
                );
                self.close(slot);
            }
        }
        Ok(())
    }

    /// Registers the listener under `listener_token`; sessions take the
    /// tokens `first_session_token .. first_session_token +
    /// MAX_SESSIONS`, which the daemon leaves to the server.
    pub fn register(
        &mut self,
        registry: &Registry,
        listener_token: Token,
        first_session_token: usize,
    ) -> io::Result<()> {
        let end = first_session_token.checked_add(MAX_SESSIONS);
        let overlaps = (first_session_token..end.unwrap_or(usize::MAX)).contains(&listener_token.0);
        if end.is_none() || overlaps {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "the listener token lies in the session token range",
            ));
        }
        registry.register(&mut self.listener, listener_token, Interest::READABLE)?;
        self.registry = Some(registry.try_clone()?);
        self.listener_token = listener_token;
        self.first_session_token = first_session_token;
        Ok(())
    }

    /// Whether `t` is the listener's or a session's token.
    pub fn owns(&self, t: Token) -> bool {
        t == self.listener_token
            || (self.first_session_token..self.first_session_token + MAX_SESSIONS).contains(&t.0)
    }

    /// Open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.iter().flatten().count()
    }

    /// Handles a readiness event on one of our tokens at `now`: accepts
    /// on the listener (checking each peer), reads on a session (until
    /// the socket is drained, as the registration is edge-triggered).
    /// Returns the whole requests read, in order; answer each with
    /// [`Server::reply`]. Also flushes, so calling it for writable events
    /// is harmless.
    pub fn ready(
        &mut self,
        t: Token,
        registry: &Registry,
        now: Instant,
    ) -> Vec<(SessionId, Request)> {
        let mut out = Vec::new();
        if t == self.listener_token {
            self.accept_all(registry, &mut out, now);
        } else if let Some(slot) = self.slot_of(t) {
            self.read_session(slot, &mut out, now);
            self.flush_slot(slot, now);
        }
        out
    }

    /// Writes what a session has queued (on a writable event at `now`).
    pub fn writable(&mut self, t: Token, now: Instant) {
        if let Some(slot) = self.slot_of(t) {
            self.flush_slot(slot, now);
        }
    }

    /// Queues the reply to one request of `s` and writes what the socket
    /// takes. Replies must come in the order of the requests; the
    /// session's deadline runs again from `now`.
    pub fn reply(&mut self, s: SessionId, bytes: &[u8], now: Instant) {
        let Some(sess) = self.session_mut(s) else {
            log::debug!("control: reply to a closed session dropped");
            return;
        };
        sess.pending = sess.pending.saturating_sub(1);
        sess.out.push(bytes);
        sess.deadline = now + SESSION_DEADLINE;
        self.flush_slot(s.slot, now);
    }

    /// The earliest session deadline: when [`Server::expire`] has work.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sessions.iter().flatten().map(|s| s.deadline).min()
    }

    /// Closes every session whose deadline is at or before `now`;
    /// returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let late: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].as_ref().is_some_and(|s| s.deadline <= now))
            .collect();
        for &slot in &late {
            log::debug!("control: session {slot}: no request within the deadline");
            self.close(slot);
        }
        if !late.is_empty() {
            log::info!(
                "control: closed {} session(s) idle for {} s",
                late.len(),
                SESSION_DEADLINE.as_secs()
            );
        }
        late.len()
    }

    /// Closes every session (the listener stays).
    pub fn close_all(&mut self) {
        for slot in 0..self.sessions.len() {
            self.close(slot);
        }
    }

    /// Closes everything and unlinks the socket, if it is still ours.
    /// (Dropping a `Server` does not unlink: a forked parent must not
    /// remove its child's socket.)
    pub fn remove(mut self) {
        self.close_all();
        if let Some(r) = &self.registry {
            let _ = r.deregister(&mut self.listener);
        }
        if bind::ident_at(&self.path) == Some(self.ident) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                log::warn!(
                    "control: cannot remove the socket {}: {e}",
                    self.path.display()
                );
            }
        }
    }

    fn free_slot(&self) -> Option<usize> {
        (0..MAX_SESSIONS).find(|&i| self.sessions.get(i).map_or(true, Option::is_none))
    }

    /// The slot of the session opened first (the table is full).
    fn oldest_slot(&self) -> usize {
        (0..self.sessions.len())
            .min_by_key(|&i| self.sessions[i].as_ref().map_or(0, |s| s.generation))
            .unwrap_or(0)
    }

    fn slot_of(&self, t: Token) -> Option<usize> {
        let slot = t.0.checked_sub(self.first_session_token)?;
        (slot < MAX_SESSIONS).then_some(slot)
    }

    fn session_mut(&mut self, s: SessionId) -> Option<&mut Session> {
        self.sessions
            .get_mut(s.slot)?
            .as_mut()
            .filter(|x| x.generation == s.generation)
    }

    fn accept_all(
        &mut self,
        registry: &Registry,
        out: &mut Vec<(SessionId, Request)>,
        now: Instant,
    ) {
        loop {
            let mut stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("control: accept on {}: {e}", self.path.display());
                    return;
                }
            };
            // Before it takes a slot: a refused peer never closes a
            // session to make room.
            let Some(peer) = self.admit(&stream, now) else {
                continue;
            };
            let slot = match self.free_slot() {
                Some(slot) => slot,
                None => {
                    // A stuck or stopped client must not lock the
                    // operator out: the oldest session makes room.
                    let oldest = self.oldest_slot();
                    log::warn!(
                        "control: {MAX_SESSIONS} sessions open; closing the oldest for a new one"
                    );
                    self.close(oldest);
                    oldest
                }
            };
            let token = Token(self.first_session_token + slot);
            if let Err(e) =
                registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            {
                log::warn!("control: cannot watch a new session: {e}");
                continue;
            }
            if self.sessions.len() <= slot {
                self.sessions.resize_with(slot + 1, || None);
            }
            self.next_generation += 1;
            self.sessions[slot] = Some(Session {
                stream,
                generation: self.next_generation,
                peer,
                deadline: now + SESSION_DEADLINE,
                out: WriteBuf::new(),
                pending: 0,
                closing: false,
            });
            log::debug!("control: session {slot} opened");
            // Bytes may have arrived with the connection.
            self.read_session(slot, out, now);
        }
    }

    /// The peer of a new connection if the policy allows it; `None`
    /// (the connection is closed as it is dropped) otherwise, logged at
    /// most once per uid and [`REFUSAL_LOG_WINDOW`](super::REFUSAL_LOG_WINDOW).
    fn admit(&mut self, stream: &UnixStream, now: Instant) -> Option<Peer> {
        let peer = match read_peer(stream, &self.access) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("control: connection closed: cannot read its credentials: {e}");
                return None;
            }
        };
        let verdict = decide(&peer, &self.access);
        if verdict.allowed() {
            log::debug!(
                "control: connection from uid {} pid {} ({verdict:?})",
                peer.uid,
                peer.pid
            );
            return Some(peer);
        }
        if let Some(left_out) = self.refusals.refused(peer.uid, now) {
            let more = if left_out > 0 {
                format!(
                    " ({left_out} more from this uid in the last {} s)",
                    super::REFUSAL_LOG_WINDOW.as_secs()
                )
            } else {
                String::new()
            };
            let who = match self.access.group() {
                Some(g) => format!(
                    "only root and members of ControlGroup {} may use it",
                    g.name
                ),
                None => "only root may use it (ControlGroup lets a group in)".to_string(),
            };
            log::warn!(
                "control: refused a connection from uid {}, pid {}, to {}: {who}{more}",
                user_text(peer.uid),
                peer.pid,
                self.path.display()
            );
        }
        None
    }

    fn read_session(&mut self, slot: usize, out: &mut Vec<(SessionId, Request)>, now: Instant) {
        let Some(sess) = self.sessions.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let id = SessionId {
            slot,
            generation: sess.generation,
        };
        match read_requests(sess) {
            ReadOutcome::Requests(reqs) => {
                if !reqs.is_empty() {
                    sess.deadline = now + SESSION_DEADLINE;
                }
                sess.pending += reqs.len();
                out.extend(reqs.into_iter().map(|r| (id, r)));
                if sess.finished() {
                    self.close(slot);
                }
            }
            ReadOutcome::Drop(why) => {
                log::warn!("control: session dropped: {why}");
                self.close(slot);
            }
        }
    }

    fn flush_slot(&mut self, slot: usize, now: Instant) {
        let Some(sess) = self.sessions.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let before = sess.unsent();
        let flushed = sess.flush();
        if sess.unsent() < before {
            // A client taking a long reply is not idle.
            sess.deadline = now + SESSION_DEADLINE;
        }
        if let Err(e) = flushed {
            log::debug!("control: session {slot} write: {e}");
            self.close(slot);
        } else if sess.unsent() > MAX_UNSENT {
            log::warn!("control: session dropped: over {MAX_UNSENT} reply bytes left unread");
            self.close(slot);
        } else if sess.finished() {
            self.close(slot);
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut sess) = self.sessions.get_mut(slot).and_then(Option::take) {
            if let Some(r) = &self.registry {
                let _ = r.deregister(&mut sess.stream);
            }
            log::debug!("control: session {slot} closed");
        }
    }
}

/// Reads until the socket would block, EOF or an unknown byte.
fn read_requests(sess: &mut Session) -> ReadOutcome {
    let mut reqs = Vec::new();
    let mut buf = [0u8; 256];
    while !sess.closing {
        match sess.stream.read(&mut buf) {
            Ok(0) => sess.closing = true,
            Ok(n) => {
                for &b in &buf[..n] {
                    match Request::from_byte(b) {
                        Some(r) => reqs.push(r),
                        None => {
                            log::debug!("control: unknown request byte {b}; closing the session");
                            sess.closing = true;
                            break;
                        }
                    }
                }
                if sess.pending + reqs.len() > MAX_PENDING {
                    return ReadOutcome::Drop(format!("over {MAX_PENDING} requests unanswered"));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return ReadOutcome::Drop(format!("read: {e}")),
        }
    }
    ReadOutcome::Requests(reqs)
}

#[cfg(test)]
mod tests;

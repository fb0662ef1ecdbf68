//! The daemon side of Spread's client protocol, without I/O: for every
//! client connection the handshake (connect request, NULL
//! authentication, accept or refusal) and then the session (requests in,
//! deliveries out), over the [`World`] model. Bytes in, [`Action`]s out;
//! `shell.rs` owns the sockets and performs the actions in order.
//!
//! The bytes are those of the library's `spread::wire` codec, the
//! authority on what a client sends and receives; what happens to a
//! request is the model's.

use std::collections::HashMap;

use wackamole::spread::error::SpreadError;
use wackamole::spread::wire::handshake::{self, AUTH_CHOICE_LEN};
use wackamole::spread::wire::message::{self, Membership};
use wackamole::spread::wire::request::{self, Request};
use wackamole::spread::wire::{service, GroupId, Order};

use super::model::{self, DaemonId, Delivery, Out, PartitionError, Reject, SessionId, World};

/// What this double announces: a 5.0.1 daemon.
pub const DAEMON_VERSION: (u8, u8, u8) = (5, 0, 1);

/// A client connection, numbered by the shell (never reused).
pub type ConnId = usize;

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue `bytes` on the connection.
    Send { conn: ConnId, bytes: Vec<u8> },
    /// Close once what is queued is written: a refused handshake.
    CloseWhenSent { conn: ConnId },
    /// Close now, dropping what is queued: the session is over.
    Close { conn: ConnId },
    /// A line for the verbose log.
    Log(String),
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the connect request.
    Request,
    /// The auth list went out; waiting for the 90-byte choice.
    Auth {
        version: (u8, u8, u8),
        membership: bool,
        name: String,
    },
    Open {
        session: SessionId,
        /// For the log once the model has forgotten the session.
        private_group: String,
    },
}

struct Conn {
    daemon: DaemonId,
    phase: Phase,
    inbuf: Vec<u8>,
}

/// The simulated daemons' protocol state and the world behind them.
pub struct Server {
    world: World,
    conns: HashMap<ConnId, Conn>,
    by_session: HashMap<SessionId, ConnId>,
    /// Whether to report every connection and request as [`Action::Log`].
    verbose: bool,
    /// While `Some` (control `hold`), multicasts wait here, unordered,
    /// in arrival order, until `release` orders them.
    held: Option<Vec<Held>>,
}

/// A multicast received while held: the [`World::multicast`] arguments.
struct Held {
    session: SessionId,
    service: u32,
    groups: Vec<String>,
    hint: u32,
    data: Vec<u8>,
}

impl Server {
    pub fn new(world: World, verbose: bool) -> Server {
        Server {
            world,
            conns: HashMap::new(),
            by_session: HashMap::new(),
            verbose,
            held: None,
        }
    }

    /// From now on, multicasts are received but not ordered (nobody gets
    /// them) until [`Server::release`]; joins, leaves, disconnects and
    /// the control commands go on. Already holding: nothing changes.
    pub fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Orders every held multicast now, in the order they arrived, and
    /// stops holding. One whose sender has gone meanwhile is dropped
    /// (real Spread would have ordered it before the sender's
    /// disconnect). With `by_member`, the senders take turns in member
    /// order instead (all of the first member's, in the order it sent
    /// them, then the next member's): an order Spread may choose too,
    /// and one a test can know beforehand. Returns how many were
    /// ordered and the actions.
    pub fn release(&mut self, by_member: bool) -> (usize, Vec<Action>) {
        let mut held = self.held.take().unwrap_or_default();
        if by_member {
            let w = &self.world;
            held.sort_by(|a, b| w.member_key(a.session).cmp(&w.member_key(b.session)));
        }
        let mut out = Vec::new();
        let mut n = 0;
        for h in held {
            if self.world.private_group(h.session).is_none() {
                continue;
            }
            n += 1;
            let outs = self
                .world
                .multicast(h.session, h.service, &h.groups, h.hint, &h.data);
            self.deliver(outs, &mut out);
        }
        (n, out)
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// A client connected to daemon `daemon` as `conn`.
    pub fn accepted(&mut self, conn: ConnId, daemon: DaemonId) {
        let c = Conn {
            daemon,
            phase: Phase::Request,
            inbuf: Vec::new(),
        };
        self.conns.insert(conn, c);
    }

    /// Bytes from a client. A refused or closed connection's are ignored.
    pub fn received(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(c) = self.conns.get_mut(&conn) else {
            return out;
        };
        if bytes.is_empty() {
            return out;
        }
        c.inbuf.extend_from_slice(bytes);
        match c.phase {
            Phase::Request => self.connect_request(conn, &mut out),
            Phase::Auth { .. } => self.auth_choice(conn, &mut out),
            Phase::Open { .. } => self.requests(conn, &mut out),
        }
        out
    }

    /// The connection is gone (closed by the client, a write failed, too
    /// far behind): [`Action::Close`] for it, and if its session was
    /// open, the others hear of the disconnect.
    pub fn closed(&mut self, conn: ConnId, why: &str) -> Vec<Action> {
        let mut out = Vec::new();
        self.drop_conn(conn, why, &mut out);
        out
    }

    /// See [`World::partition`].
    pub fn partition(&mut self, comps: &[Vec<DaemonId>]) -> Result<Vec<Action>, PartitionError> {
        let outs = self.world.partition(comps)?;
        Ok(self.deliver_all(outs))
    }

    pub fn heal(&mut self) -> Vec<Action> {
        let outs = self.world.heal();
        self.deliver_all(outs)
    }

    /// Daemon `d` dies: its sessions' connections close.
    pub fn crash(&mut self, d: DaemonId) -> Vec<Action> {
        let outs = self.world.crash(d);
        self.deliver_all(outs)
    }

    pub fn restart(&mut self, d: DaemonId) -> Vec<Action> {
        let outs = self.world.restart(d);
        self.deliver_all(outs)
    }

    fn log(&self, out: &mut Vec<Action>, what: impl FnOnce() -> String) {
        if self.verbose {
            out.push(Action::Log(what()));
        }
    }

    /// The connect request. The daemon reads it with single recvs: it
    /// must arrive whole, and alone.
    fn connect_request(&mut self, conn: ConnId, out: &mut Vec<Action>) {
        let c = self.conns.get_mut(&conn).expect("the caller found it");
        match handshake::parse_connect_request(&c.inbuf) {
            Ok(Some((r, n))) if n == c.inbuf.len() => {
                c.inbuf.clear();
                if (r.version.0, r.version.1) < (3, 16) {
                    // Older clients get no auth step; out of scope.
                    return self.refuse(conn, SpreadError::RejectVersion, out);
                }
                c.phase = Phase::Auth {
                    version: r.version,
                    membership: r.membership,
                    name: r.name,
                };
                let bytes = handshake::auth_list(&["NULL"]);
                out.push(Action::Send { conn, bytes });
            }
            Ok(_) => self.refuse(conn, SpreadError::RejectIllegalName, out),
            Err(e) => self.refuse(conn, e, out),
        }
    }

    /// The 90-byte authentication choice, whole and alone; then the
    /// model decides whether the session opens.
    fn auth_choice(&mut self, conn: ConnId, out: &mut Vec<Action>) {
        let c = self.conns.get_mut(&conn).expect("the caller found it");
        if c.inbuf.len() != AUTH_CHOICE_LEN || !handshake::chooses_null(&c.inbuf) {
            return self.refuse(conn, SpreadError::RejectAuth, out);
        }
        c.inbuf.clear();
        let Phase::Auth {
            version,
            membership,
            ref name,
        } = c.phase
        else {
            unreachable!("auth_choice in the Auth phase only")
        };
        match self.world.connect(c.daemon, name, membership) {
            Ok((session, private_group)) => {
                let bytes = handshake::accept_reply(version, DAEMON_VERSION, &private_group);
                out.push(Action::Send { conn, bytes });
                if self.verbose {
                    out.push(Action::Log(format!("{private_group} connected")));
                }
                self.by_session.insert(session, conn);
                c.phase = Phase::Open {
                    session,
                    private_group,
                };
            }
            Err(r) => {
                let e = match r {
                    Reject::NotUnique => SpreadError::RejectNotUnique,
                    Reject::IllegalName => SpreadError::RejectIllegalName,
                    Reject::DaemonDown => SpreadError::ConnectionClosed,
                };
                self.refuse(conn, e, out);
            }
        }
    }

    /// Every whole request in the buffer, in order.
    fn requests(&mut self, conn: ConnId, out: &mut Vec<Action>) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Phase::Open { session, .. } = c.phase else {
                return;
            };
            let (sender, req, n) = match request::parse(&c.inbuf) {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(e) => return self.drop_conn(conn, &format!("bad request: {e}"), out),
            };
            c.inbuf.drain(..n);
            if self.world.private_group(session) != Some(sender.as_str()) {
                let why = format!("request from '{sender}', not its own private group");
                return self.drop_conn(conn, &why, out);
            }
            self.log(out, || format!("{sender}: {}", describe(&req)));
            let outs = match req {
                Request::Join(g) => self.world.join(session, &g),
                Request::Leave(g) => self.world.leave(session, &g),
                Request::Multicast {
                    service_type,
                    groups,
                    hint,
                    data,
                } => {
                    let hint = u32::from_ne_bytes(hint);
                    if let Some(held) = &mut self.held {
                        held.push(Held {
                            session,
                            service: service_type,
                            groups,
                            hint,
                            data,
                        });
                        continue;
                    }
                    self.world
                        .multicast(session, service_type, &groups, hint, &data)
                }
                Request::Kill => return self.drop_conn(conn, "disconnected", out),
            };
            self.deliver(outs, out);
        }
    }

    /// A handshake refused: the code byte, then close.
    fn refuse(&mut self, conn: ConnId, e: SpreadError, out: &mut Vec<Action>) {
        self.log(out, || format!("handshake refused: {e}"));
        self.conns.remove(&conn);
        let bytes = vec![handshake::reject(e)];
        out.push(Action::Send { conn, bytes });
        out.push(Action::CloseWhenSent { conn });
    }

    /// The connection closes; an open session ends and the others hear
    /// of it.
    fn drop_conn(&mut self, conn: ConnId, why: &str, out: &mut Vec<Action>) {
        out.push(Action::Close { conn });
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Phase::Open {
            session,
            private_group,
        } = c.phase
        {
            self.log(out, || format!("{private_group}: {why}"));
            self.by_session.remove(&session);
            let outs = self.world.disconnect(session);
            self.deliver(outs, out);
        }
    }

    fn deliver_all(&mut self, outs: Vec<Out>) -> Vec<Action> {
        let mut out = Vec::new();
        self.deliver(outs, &mut out);
        out
    }

    /// The model's outputs as actions, in order.
    fn deliver(&mut self, outs: Vec<Out>, out: &mut Vec<Action>) {
        for o in outs {
            match o {
                Out::Deliver { to, msg } => {
                    if let Some(&conn) = self.by_session.get(&to) {
                        let bytes = encode(&msg);
                        out.push(Action::Send { conn, bytes });
                    }
                }
                Out::Close { session } => {
                    let Some(conn) = self.by_session.remove(&session) else {
                        continue;
                    };
                    if let Some(c) = self.conns.remove(&conn) {
                        out.push(Action::Close { conn });
                        if let Phase::Open { private_group, .. } = c.phase {
                            self.log(out, || format!("{private_group}: its daemon crashed"));
                        }
                    }
                }
            }
        }
    }
}

/// A request, for the log.
fn describe(r: &Request) -> String {
    match r {
        Request::Join(g) => format!("join {g}"),
        Request::Leave(g) => format!("leave {g}"),
        Request::Kill => "kill".into(),
        Request::Multicast {
            service_type,
            groups,
            data,
            ..
        } => format!(
            "multicast {} to {} ({} bytes)",
            service::name(*service_type),
            groups.join(","),
            data.len()
        ),
    }
}

/// A delivery in this daemon's byte order (the hint as the sender wrote it).
pub fn encode(d: &Delivery) -> Vec<u8> {
    let o = Order::NATIVE;
    match d {
        Delivery::Regular {
            service,
            sender,
            groups,
            hint,
            data,
        } => message::encode_data(o, *service, sender, groups, hint.to_ne_bytes(), data),
        Delivery::Membership {
            group,
            cause,
            group_id,
            members,
            vs_sets,
            local_vs_set,
        } => message::encode_membership(
            o,
            &Membership {
                group: group.clone(),
                cause: match cause {
                    model::Cause::Join => message::Cause::Join,
                    model::Cause::Leave => message::Cause::Leave,
                    model::Cause::Disconnect => message::Cause::Disconnect,
                    model::Cause::Network => message::Cause::Network,
                },
                group_id: GroupId(*group_id),
                members: members.clone(),
                vs_sets: vs_sets.clone(),
                local_vs_set: *local_vs_set,
            },
        ),
        Delivery::Transition { group, group_id } => {
            message::encode_transition(o, group, GroupId(*group_id))
        }
        Delivery::SelfLeave { group } => message::encode_self_leave(o, group),
    }
}

#[cfg(test)]
mod tests;

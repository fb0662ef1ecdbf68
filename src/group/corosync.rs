//! The Corosync backend of the membership seam (`Membership =
//! corosync`, cargo feature `corosync`): the node joins the CPG group
//! `Group` on the local corosync, polls libcpg's socket, and turns its
//! configuration changes and deliveries into [`GroupEvent`]s with the
//! pure mapping of `group::cpg` (views sorted and named alike on every
//! node, the message type framed beside the body). libcpg's calls are in
//! `sys::cpg`.
//!
//! What differs from Spread, and why it is enough: CPG delivers every
//! message in one agreed order with the configuration changes, so
//! RELIABLE (ARPCACHE) is sent AGREED too; it has no transitional
//! membership (the engine does nothing with one); corosync answers
//! `cpg_join` and `cpg_mcast_joined` with "try again" while it syncs or
//! throttles, so those are retried every [`RETRY`] (the loop wakes for
//! them, see [`Membership::retry_in`]) and unsent messages are kept, in
//! order, up to [`MAX_UNSENT`] bytes. A corosync that dies makes
//! dispatch fail: the link is lost, as when Spread dies.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::time::Duration;

use log::{debug, warn};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use super::cpg::{self, Change, Member, Reason};
use super::{Delivered, Delivery, GroupError, GroupEvent, LinkState, Membership, Stage, MAX_BATCH};
use crate::sys::cpg::{Address, Callback, Cpg, CsError};
use crate::trust::Owners;

/// How soon a refused join or send is tried again.
pub const RETRY: Duration = Duration::from_millis(10);
/// Unsent bytes past which the session counts as lost (as Spread's).
pub const MAX_UNSENT: usize = 1 << 20;

/// libcpg's socket, for the loop to poll.
struct CpgSource(RawFd);

impl mio::event::Source for CpgSource {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> std::io::Result<()> {
        SourceFd(&self.0).register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> std::io::Result<()> {
        SourceFd(&self.0).reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> std::io::Result<()> {
        SourceFd(&self.0).deregister(r)
    }
}

struct Session {
    cpg: Cpg,
    source: CpgSource,
    me: Member,
    name: String,
    joined: bool,
    /// A call failed: corosync is gone, there is nothing to leave.
    failed: bool,
    /// Framed messages corosync refused for now, in order.
    unsent: VecDeque<Vec<u8>>,
    unsent_bytes: usize,
}

/// Why a session failed, in words for the log.
#[derive(Debug)]
pub enum CorosyncError {
    Cs(CsError),
    /// The socket is not served by root or `SpreadUser`.
    Owner(u32),
    Peer(nix::Error),
    TooMuchUnsent(usize),
}

impl std::fmt::Display for CorosyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CorosyncError::Cs(e) => e.fmt(f),
            CorosyncError::Owner(uid) => write!(
                f,
                "the corosync socket is served by uid {uid}, not root or SpreadUser"
            ),
            CorosyncError::Peer(e) => write!(f, "cannot tell who serves the corosync socket: {e}"),
            CorosyncError::TooMuchUnsent(n) => {
                write!(f, "corosync took none of {n} bytes waiting to be sent")
            }
        }
    }
}

impl std::error::Error for CorosyncError {}

fn cs(stage: Stage, e: CsError) -> GroupError {
    GroupError::new(stage, CorosyncError::Cs(e))
}

/// One node's link to its group over the local corosync.
pub struct CorosyncLink {
    group: String,
    owners: Owners,
    session: Option<Session>,
    backlog: bool,
    /// Per sender: a message without our header was logged in this view.
    strangers_logged: std::collections::HashSet<String>,
}

impl CorosyncLink {
    pub fn new(group: String, owners: Owners) -> CorosyncLink {
        CorosyncLink {
            group,
            owners,
            session: None,
            backlog: false,
            strangers_logged: Default::default(),
        }
    }

    fn event(&mut self, cb: Callback, me: Member) -> Option<GroupEvent> {
        match cb {
            Callback::Confchg {
                members,
                left,
                joined,
            } => {
                let members: Vec<Member> = members.iter().map(member).collect();
                let reasons = |l: &[Address]| -> Vec<Reason> {
                    l.iter().map(|a| Reason::from_raw(a.reason)).collect()
                };
                match cpg::change(me, &members, &reasons(&joined), &reasons(&left)) {
                    Change::View(v) => {
                        self.strangers_logged.clear();
                        Some(GroupEvent::View(v))
                    }
                    Change::NotMember => {
                        debug!("a configuration change of {} without this node", self.group);
                        None
                    }
                }
            }
            Callback::Deliver { nodeid, pid, msg } => {
                let sender = Member { nodeid, pid }.name();
                match cpg::unframe(&msg) {
                    Ok(f) => Some(GroupEvent::Message {
                        mess_type: f.mess_type,
                        swapped: f.swapped,
                        delivered: Delivered::Agreed,
                        body: f.body.to_vec(),
                        sender,
                    }),
                    Err(e) => {
                        if self.strangers_logged.insert(sender.clone()) {
                            warn!(
                                "{sender} sent {} a message that is not wackamole's ({e}); \
                                 ignoring its others in this view",
                                self.group
                            );
                        }
                        None
                    }
                }
            }
        }
    }
}

fn member(a: &Address) -> Member {
    Member {
        nodeid: a.nodeid,
        pid: a.pid,
    }
}

impl Session {
    /// Sends what waits, in order, while corosync takes it.
    fn flush(&mut self) -> Result<(), GroupError> {
        while let Some(m) = self.unsent.front() {
            match self.cpg.mcast(&[m]) {
                Ok(()) => {
                    self.unsent_bytes -= m.len();
                    self.unsent.pop_front();
                }
                Err(e) if e.is_try_again() => return Ok(()),
                Err(e) => return Err(cs(Stage::Session, e)),
            }
        }
        Ok(())
    }
}

impl Membership for CorosyncLink {
    fn system(&self) -> &'static str {
        "Corosync"
    }

    fn address(&self) -> String {
        "local".into()
    }

    fn describe(&self) -> String {
        "the local corosync".into()
    }

    fn group(&self) -> &str {
        &self.group
    }

    fn state(&self) -> LinkState {
        match &self.session {
            None => LinkState::Down,
            Some(s) if s.joined => LinkState::Up,
            Some(_) => LinkState::Connecting,
        }
    }

    fn me(&self) -> Option<&str> {
        self.session
            .as_ref()
            .filter(|s| s.joined)
            .map(|s| s.name.as_str())
    }

    fn connect(&mut self) -> Result<(), GroupError> {
        let cpg = Cpg::initialize().map_err(|e| cs(Stage::Connect, e))?;
        // Who serves the socket: the race-free check, as for Spread's.
        let cred = getsockopt(&cpg.borrowed_fd(), PeerCredentials)
            .map_err(|e| GroupError::new(Stage::Connect, CorosyncError::Peer(e)))?;
        if !self.owners.allows(cred.uid()) {
            return Err(GroupError::new(
                Stage::Connect,
                CorosyncError::Owner(cred.uid()),
            ));
        }
        let nodeid = cpg.local_nodeid().map_err(|e| cs(Stage::Connect, e))?;
        let me = Member {
            nodeid,
            pid: std::process::id(),
        };
        self.backlog = false;
        self.session = Some(Session {
            source: CpgSource(cpg.fd()),
            cpg,
            name: me.name(),
            me,
            joined: false,
            failed: false,
            unsent: VecDeque::new(),
            unsent_bytes: 0,
        });
        Ok(())
    }

    fn set_owners(&mut self, owners: Owners) {
        self.owners = owners;
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        self.session
            .as_mut()
            .map(|s| &mut s.source as &mut dyn mio::event::Source)
    }

    fn ready(&mut self, out: &mut Vec<GroupEvent>) -> Result<(), GroupError> {
        let Some(s) = self.session.as_mut() else {
            return Ok(());
        };
        if !s.joined {
            match s.cpg.join(&self.group) {
                Ok(()) => {
                    s.joined = true;
                    out.push(GroupEvent::Joined { me: s.name.clone() });
                }
                // Syncing: `retry_in` brings the loop back.
                Err(e) if e.is_try_again() => return Ok(()),
                Err(e) => return Err(cs(Stage::Join, e)),
            }
        }
        let me = s.me;
        let mut got = Vec::new();
        self.backlog = false;
        let result = loop {
            if got.len() == MAX_BATCH {
                self.backlog = true;
                break Ok(());
            }
            match s.cpg.dispatch_one() {
                Ok(Some(cb)) => got.push(cb),
                Ok(None) => break Ok(()),
                Err(e) => break Err(cs(Stage::Session, e)),
            }
        };
        let flushed = s.flush();
        s.failed = result.is_err() || flushed.is_err();
        out.extend(got.into_iter().filter_map(|cb| self.event(cb, me)));
        result.and(flushed)
    }

    fn backlog(&self) -> bool {
        self.backlog && self.state() == LinkState::Up
    }

    fn retry_in(&self) -> Option<Duration> {
        let s = self.session.as_ref()?;
        (!s.joined || !s.unsent.is_empty()).then_some(RETRY)
    }

    fn multicast(&mut self, _how: Delivery, mess_type: i16, body: &[u8]) -> Result<(), GroupError> {
        let Some(s) = self.session.as_mut().filter(|s| s.joined) else {
            // Nothing to send to: the engine learns of the loss anyway.
            return Ok(());
        };
        let framed = cpg::frame(mess_type, body);
        s.unsent_bytes += framed.len();
        s.unsent.push_back(framed);
        if s.unsent_bytes > MAX_UNSENT {
            return Err(GroupError::new(
                Stage::Session,
                CorosyncError::TooMuchUnsent(s.unsent_bytes),
            ));
        }
        let flushed = s.flush();
        s.failed = flushed.is_err();
        flushed
    }

    fn close(&mut self) {
        if let Some(s) = self.session.take() {
            if s.joined && !s.failed {
                // A clean leave (peers see LEAVE, not PROCDOWN); the
                // handle is finalized as it drops.
                if let Err(e) = s.cpg.leave(&self.group) {
                    debug!("leaving {}: {e}", self.group);
                }
            }
        }
        self.backlog = false;
    }
}

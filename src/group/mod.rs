//! The membership seam: how the daemon reaches its group. A backend
//! (Spread, [`spread::SpreadLink`]; Corosync CPG with the `corosync`
//! feature, `corosync::CorosyncLink`) connects without blocking,
//! hands the daemon one socket to poll, turns what arrives into
//! [`GroupEvent`]s in delivery order, and multicasts the engine's
//! messages. No backend type crosses this seam: the daemon and the
//! engine see member names, views and message bodies, so a second
//! backend is a new file here, not an edit of the loop.
//!
//! Owns: the [`Membership`] trait and the events and errors every
//! backend shares. The link's life around it (reconnect timers, the
//! handshake deadline, what a loss means) is `daemon::link`'s.

#[cfg(feature = "corosync")]
pub mod corosync;
pub mod cpg;
pub mod spread;

use std::fmt;

pub use crate::cluster::engine::{Cause, Delivered, View};

/// What the group says, in the order it says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// The session is open and the group joined; `me` is this node's
    /// name in the group (Spread's private group).
    Joined { me: String },
    /// A regular view of the group, this node in it, and why it came.
    View(View),
    /// The current view is ending (a transitional membership).
    Transition,
    /// A message to the group (or to this node alone); `swapped`: the
    /// sender's byte order is not ours; `delivered`: in which order and
    /// to whom it was sent.
    Message {
        sender: String,
        mess_type: i16,
        swapped: bool,
        delivered: Delivered,
        body: Vec<u8>,
    },
}

/// How a multicast is to be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In one total order at every member (STATE, BALANCE, MATURING).
    Agreed,
    /// Reliably, in no particular order (ARPCACHE).
    Reliable,
}

/// Which step of the link failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Join,
    Session,
}

/// A backend's failure: the link is gone (or never came up).
#[derive(Debug)]
pub struct GroupError {
    pub stage: Stage,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl GroupError {
    pub fn new(stage: Stage, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        GroupError {
            stage,
            source: Box::new(source),
        }
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The backend's words: what the daemon's log line wraps.
        self.source.fmt(f)
    }
}

impl std::error::Error for GroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Down,
    Connecting,
    Up,
}

/// Deliveries one [`Membership::ready`] turns into events at most.
pub const MAX_BATCH: usize = 64;

/// One membership backend. Every call returns at once.
pub trait Membership {
    /// The group system's name for logs (`Spread`).
    fn system(&self) -> &'static str;
    /// Where the group system is, as the status shows it (`4803`).
    fn address(&self) -> String;
    /// The group system and address, for logs (`Spread at 4803`).
    fn describe(&self) -> String {
        format!("{} at {}", self.system(), self.address())
    }
    /// The group's name.
    fn group(&self) -> &str;
    fn state(&self) -> LinkState;
    /// This node's name in the group, while up.
    fn me(&self) -> Option<&str>;
    /// Starts connecting (from `Down`). The socket is then
    /// [`source`](Self::source), to poll for reading and writing.
    fn connect(&mut self) -> Result<(), GroupError>;
    /// Who may own and serve the group system's local socket (root, and
    /// the user the configuration names), from the next connect on. A
    /// backend without a local socket has nothing to check.
    fn set_owners(&mut self, owners: crate::trust::Owners);
    /// The socket to poll while connecting or up.
    fn source(&mut self) -> Option<&mut dyn mio::event::Source>;
    /// Makes what progress the socket allows after a readiness event:
    /// finishes the handshake and joins, reads what arrived, writes what
    /// waits. Appends events in delivery order to `out`; an error means
    /// the link is gone (the events before it still count).
    ///
    /// At most [`MAX_BATCH`] deliveries per call, so that a flood cannot
    /// starve the other sources of the loop; [`backlog`](Self::backlog)
    /// then says more may be waiting (the socket is edge-triggered, so
    /// no new readiness event would come for it).
    fn ready(&mut self, out: &mut Vec<GroupEvent>) -> Result<(), GroupError>;
    /// The last [`ready`](Self::ready) stopped at [`MAX_BATCH`]: call it
    /// again soon, without waiting for an event.
    fn backlog(&self) -> bool {
        false
    }
    /// The group system refused a step for now (a join or a send it
    /// answered "try again"): call [`ready`](Self::ready) again after
    /// this long, even without an event.
    fn retry_in(&self) -> Option<std::time::Duration> {
        None
    }
    /// Queues a message to the group and writes what the socket takes.
    fn multicast(&mut self, how: Delivery, mess_type: i16, body: &[u8]) -> Result<(), GroupError>;
    /// Closes the link (leaving cleanly if it was up). The caller has
    /// stopped polling the source.
    fn close(&mut self);
}

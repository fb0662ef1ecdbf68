//! A model of Spread as its clients see it: a deterministic model of
//! several Spread daemons and their client sessions, with no I/O, clock,
//! threads or randomness. It is the core of the `spread-sim` test daemon
//! (its [`server`](super::server) turns client requests into calls here
//! and the returned [`Out`]s into bytes for the sockets, in order) and
//! of the cluster simulator in the tests (`tests/cluster_sim.rs`
//! includes this file). Not part of the wackamole library: production
//! uses real Spread. Semantics: `spec/spread-client-protocol.md` §5 and
//! §7, checked against the Spread 5.0.1 captures in `vectors/spread-5.0.1/`.
//!
//! Authority: this model is the authoritative statement of what the test
//! double does (orders, views, group ids). What a client must send and
//! may receive stays the library's `spread::wire` codec, and the name
//! rules `spread::name`; the double uses both rather than restating them.
//!
//! Model: the live daemons form connected components. A component has a
//! view identity (representative, time) that is new whenever its daemon set
//! changes; each group with members in a component has a group id there.
//! Every call is one atomic step of every component's total order, so the
//! returned Vec is the delivery order.

use std::collections::{BTreeMap, BTreeSet};

use wackamole::spread::name::{check_daemon_name, check_private_name};

/// Index of a daemon in the configuration (configuration order).
pub type DaemonId = usize;
/// A client session, assigned by [`World::connect`] and never reused.
pub type SessionId = u64;
/// A Spread group id: (representative's proc id, view time, counter).
pub type GroupId = [u32; 3];

/// The SELF_DISCARD service bit: the sender does not get its own message.
pub const SELF_DISCARD: u32 = 0x40;

/// Why [`World::connect`] refused a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// The private name is already in use on that daemon (REJECT_NOT_UNIQUE).
    NotUnique,
    /// The private name is over 10 bytes or has a byte outside 0x24..=0x7E
    /// (REJECT_ILLEGAL_NAME).
    IllegalName,
    /// The daemon is crashed or not configured: nobody is there to answer.
    DaemonDown,
}

/// The cause of a regular membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// CAUSED_BY_JOIN: the one VS set holds the joiner.
    Join,
    /// CAUSED_BY_LEAVE: the one VS set holds the leaver.
    Leave,
    /// CAUSED_BY_DISCONNECT: the one VS set holds the client that went away.
    Disconnect,
    /// CAUSED_BY_NETWORK: one VS set per previous component that is in the view.
    Network,
}

/// A message for one client, before wire encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A data message, `service` and `hint` exactly as the sender gave them.
    Regular {
        /// The sender's service bits (SELF_DISCARD included if it was set).
        service: u32,
        /// The sender's private group `#name#daemon`.
        sender: String,
        /// The whole destination list, as sent.
        groups: Vec<String>,
        /// The sender's raw hint word (the shell keeps its byte order).
        hint: u32,
        /// The payload.
        data: Vec<u8>,
    },
    /// A regular membership (REG_MEMB_MESS | cause) of `group`.
    Membership {
        /// The group whose view this is.
        group: String,
        /// Why the view changed.
        cause: Cause,
        /// The new view's id.
        group_id: GroupId,
        /// Members' private groups in member order (the same at every member).
        members: Vec<String>,
        /// The VS sets, each in member order.
        vs_sets: Vec<Vec<String>>,
        /// Index into `vs_sets` of the set holding the receiver's daemon
        /// (0 for JOIN/LEAVE/DISCONNECT).
        local_vs_set: usize,
    },
    /// A transitional membership; carries the id of the view it closes.
    Transition {
        /// The group.
        group: String,
        /// The id of the view being closed.
        group_id: GroupId,
    },
    /// The receiver's own LEAVE of `group` (CAUSED_BY_LEAVE, no member list).
    SelfLeave {
        /// The group left.
        group: String,
    },
}

/// One thing the shell must do; perform them in Vec order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Deliver `msg` to session `to`.
    Deliver {
        /// The receiving session.
        to: SessionId,
        /// What it receives.
        msg: Delivery,
    },
    /// Close this session's socket (its daemon crashed); it is already gone.
    Close {
        /// The session to close.
        session: SessionId,
    },
}

struct Daemon {
    name: String,
    up: bool,
    /// Counter for invented private names.
    invented: u32,
}

struct Session {
    daemon: DaemonId,
    name: String,
    private: String,
    membership: bool,
    groups: BTreeSet<String>,
}

/// A connected component of live daemons and its view.
struct Comp {
    /// Sorted daemon ids.
    daemons: Vec<DaemonId>,
    rep: u32,
    time: u32,
    /// Ids of the groups that have members in this component.
    groups: BTreeMap<String, GroupId>,
    /// Last id of each group that emptied in this component.
    retired: BTreeMap<String, GroupId>,
}

impl Comp {
    /// The id of a group created now: (rep, time, 1) — but if the same group
    /// already lived and died in this very view, continue its counter, so
    /// that no id ever names two different member lists (Spread itself
    /// would restart at 1 here).
    fn new_group_id(&self, group: &str) -> GroupId {
        match self.retired.get(group) {
            Some(r) if r[0] == self.rep && r[1] == self.time => [self.rep, self.time, r[2] + 1],
            _ => [self.rep, self.time, 1],
        }
    }
}

/// Several simulated Spread daemons and their clients.
pub struct World {
    daemons: Vec<Daemon>,
    comps: Vec<Comp>,
    /// Component index of each live daemon.
    comp_of: Vec<Option<usize>>,
    sessions: BTreeMap<SessionId, Session>,
    /// All sessions keyed in member order: daemon position, then name bytes.
    by_name: BTreeMap<(DaemonId, String), SessionId>,
    next_session: SessionId,
    /// View time source: bumped for every new component view.
    clock: u32,
}

impl World {
    /// A world of `daemon_names.len()` live daemons (configuration order), all
    /// in one component, with no clients.
    ///
    /// # Panics
    /// If there are no daemons, or a name is not 1..=19 bytes of 0x24..=0x7E,
    /// or a name is repeated (a configuration error of the test).
    pub fn new(daemon_names: &[&str]) -> World {
        assert!(
            !daemon_names.is_empty(),
            "spread-sim: no daemons configured"
        );
        for (i, n) in daemon_names.iter().enumerate() {
            assert!(
                check_daemon_name(n).is_ok(),
                "spread-sim: bad daemon name {n:?}"
            );
            assert!(
                !daemon_names[..i].contains(n),
                "spread-sim: daemon {n:?} twice"
            );
        }
        let mut w = World {
            daemons: daemon_names
                .iter()
                .map(|n| Daemon {
                    name: n.to_string(),
                    up: true,
                    invented: 0,
                })
                .collect(),
            comps: Vec::new(),
            comp_of: vec![None; daemon_names.len()],
            sessions: BTreeMap::new(),
            by_name: BTreeMap::new(),
            next_session: 1,
            clock: 0,
        };
        let all: Vec<DaemonId> = (0..daemon_names.len()).collect();
        w.reconfigure(vec![all]);
        w
    }

    /// A client finished the handshake on `daemon` asking for private name
    /// `name` (1..=10 bytes of 0x24..=0x7E, or empty: one is invented,
    /// `r<n>-<daemon>`). Returns the session and its private group
    /// `#name#daemon`. A daemon id out of range counts as down.
    pub fn connect(
        &mut self,
        daemon: DaemonId,
        name: &str,
        membership: bool,
    ) -> Result<(SessionId, String), Reject> {
        if !self.daemons.get(daemon).is_some_and(|d| d.up) {
            return Err(Reject::DaemonDown);
        }
        let name = if name.is_empty() {
            self.invent_name(daemon)
        } else if check_private_name(name).is_err() {
            return Err(Reject::IllegalName);
        } else if self.by_name.contains_key(&(daemon, name.to_string())) {
            return Err(Reject::NotUnique);
        } else {
            name.to_string()
        };
        let private = format!("#{name}#{}", self.daemons[daemon].name);
        let s = self.next_session;
        self.next_session += 1;
        self.by_name.insert((daemon, name.clone()), s);
        let groups = BTreeSet::new();
        let sess = Session {
            daemon,
            name,
            private: private.clone(),
            membership,
            groups,
        };
        self.sessions.insert(s, sess);
        Ok((s, private))
    }

    fn invent_name(&mut self, daemon: DaemonId) -> String {
        loop {
            let d = &mut self.daemons[daemon];
            d.invented = (d.invented + 1) % 1_000_000; // keeps it ≤ 10 bytes
            let name = format!("r{}-{}", d.invented, daemon % 100);
            if !self.by_name.contains_key(&(daemon, name.clone())) {
                return name;
            }
        }
    }

    /// Session `s` joins `group`. Already a member, an unknown session, or a
    /// name that is empty or starts with `#` (a private group): no output.
    /// Group names are otherwise not validated here (the shell does, §4).
    pub fn join(&mut self, s: SessionId, group: &str) -> Vec<Out> {
        if group.is_empty() || group.starts_with('#') {
            return Vec::new();
        }
        let Some(sess) = self.sessions.get_mut(&s) else {
            return Vec::new();
        };
        if !sess.groups.insert(group.to_string()) {
            return Vec::new();
        }
        let c = self.comp_of[sess.daemon].expect("a live session's daemon is in a component");
        let comp = &mut self.comps[c];
        let id = match comp.groups.get_mut(group) {
            Some(id) => {
                id[2] += 1;
                *id
            }
            None => {
                let id = comp.new_group_id(group);
                comp.groups.insert(group.to_string(), id);
                id
            }
        };
        self.memb_outs(c, group, Cause::Join, id, &[vec![s]])
    }

    /// Session `s` leaves `group`: a self-leave to it, then a LEAVE membership
    /// to the remaining members (none when it was the last). Not a member or
    /// an unknown session: no output.
    pub fn leave(&mut self, s: SessionId, group: &str) -> Vec<Out> {
        let Some(sess) = self.sessions.get_mut(&s) else {
            return Vec::new();
        };
        if !sess.groups.remove(group) {
            return Vec::new();
        }
        let mut out = Vec::new();
        if sess.membership {
            let msg = Delivery::SelfLeave {
                group: group.to_string(),
            };
            out.push(Out::Deliver { to: s, msg });
        }
        let d = sess.daemon;
        out.extend(self.depart(d, group, s, Cause::Leave));
        out
    }

    /// Session `s` multicasts. `service`: the sender's service bits (the
    /// shell has checked that exactly one of 0x01..=0x20 is set), maybe with
    /// SELF_DISCARD; `groups`: the destinations, where `#name#daemon` is a
    /// private group (unicast); `hint`: the raw hint word, forwarded as is.
    /// Every session in the sender's component that is a member of a
    /// destination group or is named by one gets it once, in member order —
    /// the sender too (if so) unless SELF_DISCARD. No receivers: dropped.
    pub fn multicast(
        &mut self,
        s: SessionId,
        service: u32,
        groups: &[String],
        hint: u32,
        data: &[u8],
    ) -> Vec<Out> {
        let Some(sender) = self.sessions.get(&s) else {
            return Vec::new();
        };
        let c = self.comp_of[sender.daemon];
        let discard = service & SELF_DISCARD != 0;
        let msg = Delivery::Regular {
            service,
            sender: sender.private.clone(),
            groups: groups.to_vec(),
            hint,
            data: data.to_vec(),
        };
        let wanted = |r: SessionId| {
            let rs = &self.sessions[&r];
            self.comp_of[rs.daemon] == c
                && !(discard && r == s)
                && groups
                    .iter()
                    .any(|g| *g == rs.private || rs.groups.contains(g))
        };
        let to = self.by_name.values().copied().filter(|&r| wanted(r));
        to.map(|to| Out::Deliver {
            to,
            msg: msg.clone(),
        })
        .collect()
    }

    /// Session `s` went away — a KILL request or a closed socket, the same
    /// thing to Spread: it leaves every group (DISCONNECT membership to the
    /// remaining members, nothing to it) and its name is free again.
    pub fn disconnect(&mut self, s: SessionId) -> Vec<Out> {
        let Some(sess) = self.sessions.get_mut(&s) else {
            return Vec::new();
        };
        let groups = std::mem::take(&mut sess.groups);
        let d = sess.daemon;
        let mut out = Vec::new();
        for g in &groups {
            out.extend(self.depart(d, g, s, Cause::Disconnect));
        }
        self.remove_session(s);
        out
    }

    /// The private groups of `ids`, in the same order.
    fn privates(&self, ids: &[SessionId]) -> Vec<String> {
        ids.iter()
            .map(|s| self.sessions[s].private.clone())
            .collect()
    }

    /// Members of `group` on the daemons `on` accepts, in member order.
    fn members_where(&self, group: &str, on: impl Fn(DaemonId) -> bool) -> Vec<SessionId> {
        let is_member = |s: &SessionId| self.sessions[s].groups.contains(group);
        let iter = self
            .by_name
            .iter()
            .filter(|((d, _), s)| on(*d) && is_member(s));
        iter.map(|(_, s)| *s).collect()
    }

    /// Members of `group` in component `c`, in member order.
    fn members(&self, c: usize, group: &str) -> Vec<SessionId> {
        self.members_where(group, |d| self.comp_of[d] == Some(c))
    }

    fn remove_session(&mut self, s: SessionId) {
        if let Some(sess) = self.sessions.remove(&s) {
            self.by_name.remove(&(sess.daemon, sess.name));
        }
    }

    /// `gone` (on daemon `d`) is no longer in `group`: LEAVE or DISCONNECT
    /// membership to the rest, or retire the group if nobody is left.
    fn depart(&mut self, d: DaemonId, group: &str, gone: SessionId, cause: Cause) -> Vec<Out> {
        let c = self.comp_of[d].expect("a live session's daemon is in a component");
        let empty = self.members(c, group).is_empty();
        let comp = &mut self.comps[c];
        if empty {
            if let Some(id) = comp.groups.remove(group) {
                comp.retired.insert(group.to_string(), id);
            }
            return Vec::new();
        }
        let id = comp
            .groups
            .get_mut(group)
            .expect("a group with members has an id");
        id[2] += 1;
        let id = *id;
        self.memb_outs(c, group, cause, id, &[vec![gone]])
    }

    /// The regular membership of `group` in component `c` with these VS sets,
    /// to every member that asked for membership messages, in member order.
    fn memb_outs(
        &self,
        c: usize,
        group: &str,
        cause: Cause,
        id: GroupId,
        vs: &[Vec<SessionId>],
    ) -> Vec<Out> {
        let members = self.members(c, group);
        let names = self.privates(&members);
        let vs_names: Vec<Vec<String>> = vs.iter().map(|v| self.privates(v)).collect();
        let to = members.into_iter().filter(|m| self.sessions[m].membership);
        to.map(|m| {
            let local = match cause {
                Cause::Network => vs
                    .iter()
                    .position(|v| v.contains(&m))
                    .expect("every member is in a VS set"),
                _ => 0,
            };
            let msg = Delivery::Membership {
                group: group.to_string(),
                cause,
                group_id: id,
                members: names.clone(),
                vs_sets: vs_names.clone(),
                local_vs_set: local,
            };
            Out::Deliver { to: m, msg }
        })
        .collect()
    }
}

// Small read-only accessors for the shell and control interface.
impl World {
    /// The daemon configured under `name`.
    pub fn daemon_by_name(&self, name: &str) -> Option<DaemonId> {
        self.daemons.iter().position(|d| d.name == name)
    }

    /// Whether daemon `d` is configured and running.
    pub fn is_up(&self, d: DaemonId) -> bool {
        self.daemons.get(d).is_some_and(|x| x.up)
    }

    /// The private group `#name#daemon` of a live session.
    pub fn private_group(&self, s: SessionId) -> Option<&str> {
        self.sessions.get(&s).map(|x| x.private.as_str())
    }

    /// Where a live session stands in member order: its daemon's
    /// position, then its name.
    pub fn member_key(&self, s: SessionId) -> Option<(DaemonId, &str)> {
        self.sessions.get(&s).map(|x| (x.daemon, x.name.as_str()))
    }
}

// Paths that hold wherever this file is included from.
#[path = "model/views.rs"]
mod views;
pub use views::PartitionError;

#[cfg(test)]
#[path = "model/tests.rs"]
mod tests;

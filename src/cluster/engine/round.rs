//! Closing a state exchange that a silent member holds open (not in C).
//!
//! C ends a round only when every member's STATE is in, so one member
//! that never sends one (an idle client in the group, a hung daemon, a
//! STATE the rules refuse) freezes every failover. Here a participant
//! whose round is still open [`Settings::gather_timeout`] after its own
//! STATE multicasts CLOSE; at the first CLOSE in the group's total order
//! every node ends the round with exactly the members whose STATE came
//! before it. The others own nothing and are given nothing in that view;
//! the first participant leads. A member whose STATE comes after the
//! CLOSE is admitted with nothing, and the leader's balance gives it its
//! share; its own node released everything at the CLOSE. The claim rules
//! never count a late member, so that a node that matures after the
//! CLOSE computes what the others computed at it.
//!
//! C nodes do not know CLOSE, and would finish the round later with
//! other STATEs than the Rust nodes used. So every Rust node sends HELLO
//! just before its STATE, naming the members it has seen send a STATE
//! without one; a round with a member so known (or seen in this view)
//! to be a C node is never closed: a mixed group waits, as C does.

use std::collections::HashSet;

use super::reject::Reject;
use super::{Action, Engine, Level, Member, Phase, Timer};
use crate::cluster::msg::{self, MessType};

/// What a view's round knows beyond its members.
#[derive(Debug, Clone, Default)]
pub(super) struct Round {
    /// Every member of the view, in Spread's order.
    pub view: Vec<String>,
    /// Members whose HELLO came (before their STATE).
    pub hello: HashSet<String>,
    /// Why this round may not be closed: a C node among the members.
    pub blocked_by: Option<String>,
    /// A CLOSE ended the round: `members` are its participants.
    pub closed: bool,
    /// This node asked for a close in this view (logged once).
    pub asked: bool,
    /// Members whose STATE came after the CLOSE, with nothing: the claim
    /// rules never count them (a node that matures later must compute
    /// what the others computed at the CLOSE), the balance does.
    pub late: Vec<Member>,
}

impl Engine {
    /// At a new view: HELLO (before the STATE that follows it).
    pub(super) fn start_round(&mut self) {
        let view: Vec<String> = self.members.iter().map(|m| m.name.clone()).collect();
        self.c_nodes.retain(|n| view.contains(n));
        self.round = Round {
            view,
            ..Round::default()
        };
        if self.c_exact {
            return;
        }
        let mut c_members: Vec<String> = self.c_nodes.iter().cloned().collect();
        c_members.sort();
        let hello = msg::Hello {
            group_id: self.view_id.unwrap_or_default(),
            c_members,
            vifs: Some(self.own_list()),
        };
        self.out.push(Action::Multicast {
            mess_type: MessType::Hello,
            body: hello.encode(),
        });
    }

    pub(super) fn on_hello(&mut self, sender: &str, swapped: bool, body: &[u8]) {
        if self.c_exact || !self.round.view.iter().any(|n| n == sender) {
            let text = format!("ignoring HELLO from {sender}, not a member");
            return self.reject(
                Reject::NotMember(MessType::Hello),
                sender,
                Level::Warn,
                text,
            );
        }
        let h = match msg::Hello::decode(body, swapped) {
            Ok(h) => h,
            Err(e) => {
                let text = format!("ignoring a malformed HELLO from {sender}: {e}");
                return self.reject(
                    Reject::Malformed(MessType::Hello),
                    sender,
                    Level::Warn,
                    text,
                );
            }
        };
        if Some(h.group_id) != self.view_id || self.has_state(sender) {
            return;
        }
        self.round.hello.insert(sender.to_string());
        self.c_nodes.remove(sender);
        self.learn_list(sender, h.vifs);
        if let Some(c) = h.c_members.iter().find(|n| self.round.view.contains(n)) {
            let why = format!("{sender} knows {c} for a C node");
            self.block_closing(c.clone(), why);
        }
    }

    fn has_state(&self, name: &str) -> bool {
        self.members.iter().any(|m| m.name == name && m.got_state)
    }

    fn block_closing(&mut self, c_node: String, why: String) {
        if self.round.blocked_by.is_none() && self.s.gather_timeout.is_some() {
            self.log(
                Level::Info,
                format!("{why}: this view's state exchange waits for every member, as C does"),
            );
        }
        self.round.blocked_by.get_or_insert(c_node);
    }

    /// A STATE that the rules accepted, before it is applied: notes a C
    /// node, and starts the bound once this node's own STATE is in.
    pub(super) fn state_arrived(&mut self, sender: &str, idx: usize) {
        if !self.c_exact && !self.round.hello.contains(sender) {
            self.c_nodes.insert(sender.to_string());
            let why = format!("{sender} sent a STATE without HELLO (a C node)");
            self.block_closing(sender.to_string(), why);
        }
        if idx == self.my_index {
            if let Some(t) = self.s.gather_timeout.filter(|_| !self.c_exact) {
                self.out.push(Action::StartTimer(Timer::Gather, t));
            }
        }
    }

    /// A STATE in the name of another participant's address: refused
    /// (its sender is then a member that sent nothing, and the round
    /// closes without it), so that nobody can make a node release by
    /// taking its identity. Where a C node keeps the round from closing,
    /// the STATE is taken as C takes it (and the clash logged at the end
    /// of the exchange).
    pub(super) fn duplicate_identity(&mut self, sender: &str, st: &msg::State) -> bool {
        if self.c_exact || self.round.blocked_by.is_some() {
            return false;
        }
        let Some(first) = (self.members.iter())
            .find(|m| m.got_state && m.addr == st.real)
            .map(|m| m.name.clone())
        else {
            return false;
        };
        let text = format!(
            "ignoring the STATE of {sender}: {first} sent {} first; give each node its own identity (NodeAddress or -a)",
            st.real
        );
        self.reject(Reject::DuplicateAddress, sender, Level::Error, text);
        true
    }

    /// The bound passed with the round still open: ask the group to
    /// close it (again later, if this CLOSE cannot take effect).
    pub(super) fn gather_timed_out(&mut self) {
        let open = self.phase == Phase::Gather && !self.round.closed;
        let (Some(id), Some(t), true) = (self.view_id, self.s.gather_timeout, open) else {
            return;
        };
        if self.c_exact {
            return;
        }
        self.out.push(Action::StartTimer(Timer::Gather, t));
        if self.round.blocked_by.is_some() {
            return;
        }
        let silent: Vec<&str> = (self.members.iter())
            .filter(|m| !m.got_state)
            .map(|m| m.name.as_str())
            .collect();
        let text = format!(
            "no STATE from {} within {t:?}: asking the group to close the state exchange",
            silent.join(" ")
        );
        // Once per view at Info: Spread can take a few seconds to order
        // a CLOSE after a failure, and the ask is repeated each bound.
        let level = if self.round.asked {
            Level::Debug
        } else {
            Level::Info
        };
        self.round.asked = true;
        self.log(level, text);
        self.out.push(Action::Multicast {
            mess_type: MessType::Close,
            body: msg::Close { group_id: id }.encode(),
        });
    }

    pub(super) fn on_close(&mut self, sender: &str, swapped: bool, body: &[u8]) {
        if self.c_exact {
            return;
        }
        let c = match msg::Close::decode(body, swapped) {
            Ok(c) => c,
            Err(e) => {
                let text = format!("ignoring a malformed CLOSE from {sender}: {e}");
                return self.reject(
                    Reject::Malformed(MessType::Close),
                    sender,
                    Level::Warn,
                    text,
                );
            }
        };
        if Some(c.group_id) != self.view_id || self.phase != Phase::Gather || self.round.closed {
            // A close that crossed the end of the round: normal.
            return;
        }
        if !self.has_state(sender) {
            let text = format!("ignoring CLOSE from {sender}, which sent no STATE in this view");
            return self.reject(
                Reject::NotMember(MessType::Close),
                sender,
                Level::Warn,
                text,
            );
        }
        if self.round.blocked_by.is_some() {
            return;
        }
        let left_out: Vec<String> = (self.members.iter())
            .filter(|m| !m.got_state)
            .map(|m| m.name.clone())
            .collect();
        self.log(
            Level::Warn,
            format!(
                "state exchange closed by {sender} without {}: no STATE in time; they hold nothing in this view",
                left_out.join(" ")
            ),
        );
        self.members.retain(|m| m.got_state);
        self.round.closed = true;
        self.out.push(Action::CancelTimer(Timer::Gather));
        match self.members.iter().position(|m| m.name == self.my_name) {
            Some(i) => self.my_index = i,
            None => {
                self.my_index = usize::MAX;
                self.log(
                    Level::Warn,
                    "this node's STATE came after the exchange closed: it holds nothing until the balance gives it a share".into(),
                );
                self.release_all();
            }
        }
        self.exchange_done();
    }

    /// A STATE after the round closed: its sender, if it is a Rust node
    /// that was only late, joins with nothing and the leader balances.
    pub(super) fn late_state(&mut self, sender: &str, st: &msg::State) {
        let place = self.round.view.iter().position(|n| n == sender);
        if place != usize::try_from(st.index).ok() || place.is_none() {
            let text = format!("ignoring a late STATE from {sender}: not its place in the view");
            return self.reject(Reject::WrongIndex, sender, Level::Warn, text);
        }
        let known = |m: &Member| m.name == sender;
        if self.members.iter().any(known) || self.round.late.iter().any(known) {
            let text = format!("ignoring a second STATE from {sender} in this view");
            return self.reject(Reject::SecondState, sender, Level::Warn, text);
        }
        if !self.round.hello.contains(sender) {
            self.log(
                Level::Warn,
                format!("{sender} (a C node) sent its STATE after the exchange closed: it is left out until the next membership"),
            );
            return;
        }
        let same = |m: &Member| m.addr == st.real;
        if self.members.iter().any(same) || self.round.late.iter().any(same) {
            self.log(
                Level::Error,
                format!(
                    "ignoring a late STATE from {sender}: {} is a participant's address",
                    st.real
                ),
            );
            return;
        }
        self.log(
            Level::Info,
            format!("{sender} sent its STATE after the exchange closed: it joins with nothing, the balance gives it its share"),
        );
        self.round.late.push(Member {
            name: sender.to_string(),
            addr: st.real,
            count: 0,
            got_state: true,
        });
        if self.mature && self.phase == Phase::Run {
            self.arm_balance();
        }
    }
}

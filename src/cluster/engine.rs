//! The automaton of wackamole 2.1.4 (spec §5): from views, agreed
//! messages and timers, every node computes the same allocation of VIFs.
//!
//! [`Engine::handle`] takes one [`Event`] and returns the [`Action`]s it
//! decides; nothing else changes the engine, and it does no I/O. The
//! decisions are C's, on C's wire bytes, so that C and Rust nodes can
//! share a group: the same claim priorities, conflict rules, tie rules
//! and the leader's choice of moves. C's defects are fixed only where
//! the fix cannot change a decision a C node makes (spec §10): inputs
//! are validated (an index out of range, an unknown VIP, a STATE from a
//! non-member are logged and ignored), a BALANCE carries only the moves
//! it has, and `post up` hooks run after any round that acquired.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use super::msg::{self, MessType, Priority};
use crate::config::{Config, VifId};

/// What the engine needs of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This node's identity: its real address.
    pub me: Ipv4Addr,
    /// The VIF table, in config order.
    pub vifs: Vec<VifId>,
    /// The prefer list STATE carries.
    pub prefer: Vec<Ipv4Addr>,
    /// Moves per balance round (already capped at VIFs/2).
    pub balance_rate: u32,
    /// `AcquisitionsPerRound = all`: balance right after each exchange.
    pub complete_balance: bool,
    pub balance_interval: Duration,
    pub mature: Duration,
    pub arp_cache: Duration,
    /// Close a state exchange this long after this node's own STATE,
    /// without the members that sent none; `None`: wait for all (C).
    pub gather_timeout: Option<Duration>,
    /// In a view of fewer members than this, hold nothing (`Quorum`;
    /// 0 or 1: off). Not in C.
    pub quorum: usize,
}

impl Settings {
    pub fn new(cfg: &Config, me: Ipv4Addr) -> Settings {
        let b = cfg.balance();
        Settings {
            me,
            vifs: cfg.vifs().iter().map(|v| v.id()).collect(),
            prefer: cfg.preferred().to_vec(),
            balance_rate: b.effective_rate(cfg.vifs().len()),
            complete_balance: b.timer().is_none(),
            balance_interval: b.interval,
            mature: cfg.mature(),
            arp_cache: cfg.arp_cache(),
            gather_timeout: cfg.gather_timeout(),
            quorum: cfg.quorum().unwrap_or(0),
        }
    }
}

/// A regular view of the group: its id (compare all three words) and its
/// members in the group communication system's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub id: [u32; 3],
    pub members: Vec<String>,
    /// This node's place in `members`.
    pub my_index: usize,
    /// Why the view changed.
    pub cause: Cause,
}

/// Why a view replaced the last one, as the group system says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A member joined the group.
    Join,
    /// A member left the group.
    Leave,
    /// A member's connection to the group system went away.
    Disconnect,
    /// The network split or merged: whole components came or went, and
    /// neighbours may have heard from both sides of a split.
    Network,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Fires once `Mature` after connecting: multicast MATURING.
    Maturity,
    /// The leader's balance round.
    Balance,
    /// Share the local ARP cache again.
    ArpCache,
    /// The state exchange is still open this long after this node's own
    /// STATE: ask the group to close it (see `round`).
    Gather,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// Joined the group as `private_group`.
    Connected {
        private_group: &'a str,
    },
    /// The link to the group is gone.
    Disconnected,
    View(View),
    /// A transitional view: ignored, as in C.
    Transition,
    /// A message of the group; `swapped`: the sender's byte order is not
    /// ours.
    Message {
        sender: &'a str,
        mess_type: i16,
        swapped: bool,
        delivered: Delivered,
        body: &'a [u8],
    },
    Timer(Timer),
    /// The daemon is stopping.
    Shutdown,
}

/// How a message reached this node, as far as the rules care: only
/// messages every member sees in one order may change the allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// In the group's total order (AGREED or stronger), to the group
    /// alone.
    Agreed,
    /// To the group alone, in a weaker order (RELIABLE, FIFO, CAUSAL).
    Unordered,
    /// Not to the group alone: to one member, or to other groups too.
    Elsewhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Multicast to the group: AGREED, except ARPCACHE (RELIABLE).
    Multicast {
        mess_type: MessType,
        body: Vec<u8>,
    },
    /// Bring the VIF up and announce it (and run its `on up` hooks); with
    /// the node that held it before the change, when there was one (the
    /// hooks' `owner`).
    Acquire(VifId, Option<Ipv4Addr>),
    /// Take the VIF down (and run its `on down` hooks). After a reload,
    /// by the definition the VIF had when it was brought up.
    Release(VifId),
    /// A round acquired something: `post up` hooks.
    PostUp,
    /// A round released something: `post down` hooks.
    PostDown,
    /// (Re)start a timer; re-arming replaces it.
    StartTimer(Timer, Duration),
    CancelTimer(Timer),
    /// Sample the local ARP cache and multicast it (ARPCACHE).
    ShareArpCache,
    /// Records of a member's (maybe our own) ARP cache.
    LearnArp {
        from: String,
        records: Vec<msg::ArpRecord>,
    },
    /// Announce these held VIFs again, as an acquire announces (no
    /// hooks): after a network change, neighbours may still point at
    /// the other side of a split. Not in C.
    Reannounce(Vec<VifId>),
    Log(Level, String),
}

/// BOOT, GATHER, RUN; BALANCE only while the leader computes its moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Boot,
    Gather,
    Run,
    Balance,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Boot => "BOOT",
            Phase::Gather => "GATHER",
            Phase::Run => "RUN",
            Phase::Balance => "BALANCE",
        })
    }
}

/// One entry of the allocation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The owner's real address; 0.0.0.0 for none (as in C).
    pub owner: Ipv4Addr,
    pub priority: Priority,
}

const FREE: Slot = Slot {
    owner: Ipv4Addr::UNSPECIFIED,
    priority: Priority::Unclaimed,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// From its STATE; 0.0.0.0 until then.
    pub addr: Ipv4Addr,
    /// VIFs it holds, as C counts them.
    pub count: i32,
    pub got_state: bool,
}

#[derive(Debug, Clone)]
pub struct Engine {
    s: Settings,
    by_master: HashMap<Ipv4Addr, usize>,
    connected: bool,
    my_name: String,
    phase: Phase,
    mature: bool,
    /// C's Old_maturity: counts are rebuilt the first time mature.
    old_mature: bool,
    table: Vec<Slot>,
    old: Vec<Slot>,
    /// Per VIF, the claimant a preference displaced in this exchange
    /// (0.0.0.0: none): the previous holder the `on up` hooks are told
    /// of when `old` does not know it (this node just joined). Not in C.
    displaced: Vec<Ipv4Addr>,
    members: Vec<Member>,
    my_index: usize,
    view_id: Option<[u32; 3]>,
    /// What this node has up right now.
    held: Vec<bool>,
    /// Decide exactly as C 2.1.4, defects included (see [`Engine::c_exact`]).
    c_exact: bool,
    /// This view's refused messages.
    rejections: reject::Rejections,
    /// This view's round beyond its members (HELLOs, closing).
    round: round::Round,
    /// Members seen sending a STATE without HELLO: C nodes.
    c_nodes: HashSet<String>,
    /// This view has fewer members than `Quorum`: nothing is held or
    /// claimed in it (see `quorum`).
    below: bool,
    /// This view's prefer lists by sender, in the order the STATEs
    /// came: applied when a reload brings quorum back mid-view.
    prefers: Vec<(Ipv4Addr, Vec<Ipv4Addr>)>,
    /// A view caused by a network change came since the last exchange
    /// ended: re-announce what is still held when the next one ends.
    network_change: bool,
    /// This node, leading, sent a BALANCE that has not come back yet.
    balance_in_flight: bool,
    /// The members' VIF lists, and the table's entries for VIFs only
    /// others have (see `vifs`).
    known: vifs::Known,
    out: Vec<Action>,
}

impl Engine {
    pub fn new(s: Settings) -> Engine {
        let n = s.vifs.len();
        // Standby placeholders all have the id 0.0.0.0: as C, which
        // matches STATE, BALANCE and prefer entries to the first VIF of
        // that master, every entry naming 0.0.0.0 is the first
        // placeholder's. The others are claimed slot by slot like any
        // unclaimed VIF at each exchange (a STATE cannot name them).
        let by_master = s
            .vifs
            .iter()
            .enumerate()
            .rev()
            .map(|(i, a)| (a.wire(), i))
            .collect();
        Engine {
            s,
            by_master,
            connected: false,
            my_name: String::new(),
            phase: Phase::Boot,
            mature: false,
            old_mature: false,
            table: vec![FREE; n],
            old: vec![FREE; n],
            displaced: vec![Ipv4Addr::UNSPECIFIED; n],
            members: Vec::new(),
            my_index: 0,
            view_id: None,
            held: vec![false; n],
            c_exact: false,
            rejections: Default::default(),
            round: Default::default(),
            c_nodes: HashSet::new(),
            below: false,
            prefers: Vec::new(),
            network_change: false,
            balance_in_flight: false,
            known: Default::default(),
            out: Vec::new(),
        }
    }

    /// An engine that decides exactly as C 2.1.4, with the two defects
    /// the fixed engine avoids: member counts kept from the STATEs and
    /// each node's own `old` (so nodes from different components can
    /// claim differently), and no reconciling of what is up with the
    /// table (so a VIF can stay up on two nodes, or on none). For tests
    /// that show where C goes wrong; never for the daemon.
    pub fn c_exact(s: Settings) -> Engine {
        Engine {
            c_exact: true,
            ..Engine::new(s)
        }
    }

    /// This engine as C 2.1.4 would go on from here (see
    /// [`Engine::c_exact`]): for tests that check that a node in a view
    /// with C nodes decides as a C node in its place.
    pub fn c_twin(&self) -> Engine {
        Engine {
            c_exact: true,
            ..self.clone()
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.s
    }
    pub fn phase(&self) -> Phase {
        self.phase
    }
    pub fn is_mature(&self) -> bool {
        self.mature
    }
    pub fn is_connected(&self) -> bool {
        self.connected
    }
    /// The allocation table of this node's VIFs, in config order, as
    /// this node sees it now (partial in GATHER).
    pub fn table(&self) -> &[Slot] {
        &self.table[..self.local()]
    }
    /// The entries this node keeps for VIFs only other members have
    /// (see `vifs`), by master address.
    pub fn shadow_table(&self) -> impl Iterator<Item = (Ipv4Addr, Slot)> + '_ {
        (self.known.shadow.iter())
            .zip(&self.table[self.local()..])
            .map(|(&a, &s)| (a, s))
    }
    /// Every participant of this view sent HELLO: the claim rules work
    /// over the members' VIF lists (see `vifs`).
    pub fn rust_view(&self) -> bool {
        self.known.rust_view
    }
    pub fn members(&self) -> &[Member] {
        &self.members
    }
    pub fn my_index(&self) -> usize {
        self.my_index
    }
    pub fn view_id(&self) -> Option<[u32; 3]> {
        self.view_id
    }
    /// How many members the current view has (every member of the
    /// group, those that sent no STATE included); 0 without a view.
    pub fn view_size(&self) -> usize {
        self.round.view.len()
    }
    /// The current view has fewer members than `Quorum`: this node
    /// holds nothing and claims nothing until one has enough.
    pub fn below_quorum(&self) -> bool {
        self.below
    }
    /// The VIFs this node holds, in config order.
    pub fn held(&self) -> impl Iterator<Item = VifId> + '_ {
        self.held
            .iter()
            .zip(&self.s.vifs)
            .filter(|(h, _)| **h)
            .map(|(_, id)| *id)
    }
    /// The table entry of a VIF (partial in GATHER); `None` for a VIF
    /// the configuration does not have.
    pub fn slot(&self, id: VifId) -> Option<Slot> {
        (self.by_master.get(&id.wire()))
            .filter(|&&i| !self.is_shadow(i))
            .map(|&i| self.table[i])
    }

    pub fn handle(&mut self, ev: Event<'_>) -> Vec<Action> {
        match ev {
            Event::Connected { private_group } => self.on_connected(private_group),
            Event::Disconnected => self.on_disconnected("the link to the group is gone"),
            Event::Shutdown => self.on_disconnected("shutting down"),
            Event::View(v) => self.on_view(v),
            Event::Transition => {}
            Event::Message {
                sender,
                mess_type,
                swapped,
                delivered,
                body,
            } => self.on_message(sender, mess_type, swapped, delivered, body),
            Event::Timer(t) => self.on_timer(t),
        }
        std::mem::take(&mut self.out)
    }

    fn log(&mut self, level: Level, text: String) {
        self.out.push(Action::Log(level, text));
    }

    fn vip(&self, i: usize) -> Ipv4Addr {
        match self.s.vifs.get(i) {
            Some(v) => v.wire(),
            None => self.known.shadow[i - self.local()],
        }
    }

    /// `from`: who held VIF `i` before (0.0.0.0 or this node: nobody).
    /// A VIF this node does not have is never brought up.
    fn acquire(&mut self, i: usize, from: Ipv4Addr) -> bool {
        if self.held[i] || self.is_shadow(i) {
            return false;
        }
        self.held[i] = true;
        let from = Some(from).filter(|&a| !a.is_unspecified() && a != self.s.me);
        self.out.push(Action::Acquire(self.s.vifs[i], from));
        true
    }

    fn release(&mut self, i: usize) -> bool {
        if !self.held[i] {
            return false;
        }
        self.held[i] = false;
        self.out.push(Action::Release(self.s.vifs[i]));
        true
    }

    /// Releases everything held (a lost link, a shutdown).
    fn release_all(&mut self) {
        let mut any = false;
        for i in 0..self.held.len() {
            if self.held[i] {
                self.held[i] = false;
                self.out.push(Action::Release(self.s.vifs[i]));
                any = true;
            }
        }
        if any {
            self.out.push(Action::PostDown);
        }
    }

    fn on_connected(&mut self, private_group: &str) {
        // As C's Clean_up and reconnect: a fresh, immature start.
        self.release_all();
        self.connected = true;
        self.my_name = private_group.to_string();
        self.phase = Phase::Boot;
        self.mature = false;
        self.old_mature = false;
        self.table.fill(FREE);
        self.old.fill(FREE);
        self.members.clear();
        self.view_id = None;
        self.forget_view_extras();
        self.forget_vif_lists();
        self.out
            .push(Action::StartTimer(Timer::Maturity, self.s.mature));
        self.out.push(Action::ShareArpCache);
        self.out
            .push(Action::StartTimer(Timer::ArpCache, self.s.arp_cache));
    }

    fn on_disconnected(&mut self, why: &str) {
        self.report_rejections();
        self.log(Level::Info, format!("releasing every VIP: {why}"));
        self.release_all();
        self.connected = false;
        self.phase = Phase::Boot;
        self.table.fill(FREE);
        self.old.fill(FREE);
        self.members.clear();
        self.view_id = None;
        self.round = round::Round::default();
        self.forget_view_extras();
        self.forget_vif_lists();
        for t in [
            Timer::Maturity,
            Timer::Balance,
            Timer::ArpCache,
            Timer::Gather,
        ] {
            self.out.push(Action::CancelTimer(t));
        }
    }

    fn on_view(&mut self, v: View) {
        if !self.connected {
            return;
        }
        if v.my_index >= v.members.len() {
            self.log(
                Level::Error,
                format!(
                    "ignoring a view of {} members that does not list this node",
                    v.members.len()
                ),
            );
            return;
        }
        self.report_rejections();
        let [a, b, c] = v.id;
        self.log(
            Level::Info,
            format!(
                "membership {}:{}:{}: {} members, this node is #{}: {}",
                a as i32,
                b as i32,
                c as i32,
                v.members.len(),
                v.my_index,
                v.members.join(" ")
            ),
        );
        self.view_id = Some(v.id);
        // Kept until an exchange ends: a view that follows before it
        // does must not lose the re-announce.
        self.network_change |= v.cause == Cause::Network;
        let size = v.members.len();
        self.members = v
            .members
            .into_iter()
            .map(|name| Member {
                name,
                addr: Ipv4Addr::UNSPECIFIED,
                count: 0,
                got_state: false,
            })
            .collect();
        self.my_index = v.my_index;
        self.forget_vif_lists();
        if matches!(self.phase, Phase::Run | Phase::Balance) {
            self.old.clone_from(&self.table);
        }
        self.table.fill(FREE);
        self.displaced.fill(Ipv4Addr::UNSPECIFIED);
        self.prefers.clear();
        self.balance_in_flight = false;
        // Before the STATE: below quorum it must claim nothing.
        self.quorum_for_view(size);
        self.start_round();
        self.send_state();
        self.phase = Phase::Gather;
        self.out.push(Action::CancelTimer(Timer::Balance));
        self.out.push(Action::ShareArpCache);
    }

    /// What the engine keeps of views beyond C's state, forgotten when
    /// the link goes or comes back.
    fn forget_view_extras(&mut self) {
        self.balance_in_flight = false;
        self.below = false;
        self.prefers.clear();
        self.network_change = false;
    }

    /// STATE: what `old` says we hold, with its priorities.
    fn send_state(&mut self) {
        let me = self.s.me;
        let held: Vec<(Ipv4Addr, Priority)> = self.old[..self.local()]
            .iter()
            .enumerate()
            .filter(|(_, o)| o.owner == me)
            .map(|(i, o)| (self.vip(i), o.priority))
            .collect();
        let state = msg::State {
            group_id: self.view_id.unwrap_or_default(),
            real: me,
            index: self.my_index as i32,
            mature: self.mature,
            held,
            prefer: self.s.prefer.clone(),
        };
        self.out.push(Action::Multicast {
            mess_type: MessType::State,
            body: state.encode(),
        });
    }

    /// A member of the current view (a participant of its round or
    /// not).
    fn in_view(&self, name: &str) -> bool {
        self.round.view.iter().any(|n| n == name)
    }

    fn on_message(
        &mut self,
        sender: &str,
        mess_type: i16,
        swapped: bool,
        delivered: Delivered,
        body: &[u8],
    ) {
        if !self.connected {
            return;
        }
        let Some(t) = MessType::from_wire(mess_type) else {
            return;
        };
        // Only what every member sees, in one order, may move a VIF:
        // anything else could make two nodes compute different tables.
        let ordered = !matches!(t, MessType::ArpCache | MessType::Operator);
        match delivered {
            Delivered::Elsewhere if t != MessType::Operator => {
                let text = format!(
                    "ignoring a {} from {sender}: not sent to the group alone",
                    t.name()
                );
                return self.reject(Reject::NotToGroup(t), sender, Level::Warn, text);
            }
            Delivered::Unordered if ordered => {
                let text = format!("ignoring a {} from {sender}: not sent AGREED", t.name());
                return self.reject(Reject::NotAgreed(t), sender, Level::Warn, text);
            }
            _ => {}
        }
        match t {
            MessType::State => self.on_state(sender, swapped, body),
            MessType::Maturing => {
                if self.in_view(sender) {
                    self.become_mature();
                } else {
                    let text = format!("ignoring MATURING from {sender}, not a member");
                    self.reject(Reject::NotMember(t), sender, Level::Warn, text);
                }
            }
            MessType::Balance => self.on_balance(sender, swapped, body),
            MessType::ArpCache => {
                if !self.in_view(sender) {
                    let text = format!("ignoring ARPCACHE from {sender}, not a member");
                    return self.reject(Reject::NotMember(t), sender, Level::Warn, text);
                }
                let records = msg::decode_arp_cache(body);
                self.out.push(Action::LearnArp {
                    from: sender.to_string(),
                    records,
                });
            }
            MessType::Hello => self.on_hello(sender, swapped, body),
            MessType::Close => self.on_close(sender, swapped, body),
            MessType::Vifs => self.on_vifs(sender, swapped, body),
            MessType::Operator => {}
        }
    }

    fn on_state(&mut self, sender: &str, swapped: bool, body: &[u8]) {
        let st = match msg::State::decode(body, swapped) {
            Ok(s) => s,
            Err(e) => {
                let text = format!("ignoring a malformed STATE from {sender}: {e}");
                return self.reject(
                    Reject::Malformed(MessType::State),
                    sender,
                    Level::Warn,
                    text,
                );
            }
        };
        if Some(st.group_id) != self.view_id {
            // From an earlier view: normal during quick changes.
            self.log(
                Level::Debug,
                format!("ignoring a STATE of another view from {sender}"),
            );
            return;
        }
        if self.round.closed {
            return self.late_state(sender, &st);
        }
        let idx = st.index;
        let valid = usize::try_from(idx)
            .ok()
            .filter(|&i| i < self.members.len() && self.members[i].name == sender);
        let Some(idx) = valid else {
            let text = format!("ignoring a STATE from {sender} claiming index {idx}, which is not its place in the view");
            return self.reject(Reject::WrongIndex, sender, Level::Warn, text);
        };
        if self.members[idx].got_state {
            let text = format!("ignoring a second STATE from {sender} in this view");
            return self.reject(Reject::SecondState, sender, Level::Warn, text);
        }
        self.state_arrived(sender, idx);
        if self.duplicate_identity(sender, &st) {
            return;
        }
        if let Some(&(vip, _)) = st
            .held
            .iter()
            .find(|(v, _)| !self.by_master.contains_key(v))
        {
            // Configs differ between nodes: say so, keep the rest.
            self.log(
                Level::Error,
                format!("{sender} holds {vip}, which is not a VIF here: are the VirtualInterfaces lists identical?"),
            );
        }
        let below = self.below;
        let m = &mut self.members[idx];
        m.addr = st.real;
        m.count = if below { 0 } else { st.held.len() as i32 };
        m.got_state = true;
        if !st.prefer.is_empty() {
            self.prefers.push((st.real, st.prefer.clone()));
        }
        if below {
            // Nobody holds anything in this view: its table stays empty
            // on every node (see `quorum`).
            self.state_below_quorum(sender, &st);
        } else {
            self.apply_claims(idx, &st);
        }
        if !self.mature && st.mature {
            self.become_mature();
        }
        if self.members.iter().all(|m| m.got_state) {
            self.exchange_done();
        }
    }

    /// A STATE's claims and preferences, into this exchange's table
    /// (spec 5.3, steps 3 to 5).
    fn apply_claims(&mut self, idx: usize, st: &msg::State) {
        let me = self.s.me;
        let mut released = false;
        for &(vip, prio) in &st.held {
            let Some(&j) = self.by_master.get(&vip) else {
                continue;
            };
            let cur = self.table[j];
            if cur.owner.is_unspecified() {
                self.table[j] = Slot {
                    owner: st.real,
                    priority: prio,
                };
            } else if cur.priority == Priority::PreferClaimed || cur.priority == prio {
                // The sender loses it. (C has no entry for a VIF only
                // others have: its counts never see that conflict.)
                if !self.is_shadow(j) {
                    self.members[idx].count -= 1;
                }
                // ...unless its own preference below takes it straight
                // back: then keep it up rather than drop and re-add it
                // (the table is the same either way).
                let taken_back = cur.priority < Priority::Prefer && st.prefer.contains(&vip);
                // A sender naming one VIF twice (several placeholders)
                // keeps it by its first entry: the table is C's, and
                // nothing goes down here only to come back up.
                let own_twice = cur.owner == st.real;
                if st.real == me && (self.c_exact || !(taken_back || own_twice)) {
                    released |= self.release(j);
                }
                self.old[j] = cur;
            } else if cur.priority == Priority::Claimed && prio > Priority::Prefer {
                // The current owner loses it.
                if cur.owner == me {
                    released |= self.release(j);
                }
                let shadow = self.is_shadow(j);
                for k in self.members.iter_mut().filter(|_| !shadow) {
                    if k.addr == cur.owner {
                        k.count -= 1;
                    }
                }
                self.table[j] = Slot {
                    owner: st.real,
                    priority: prio,
                };
                self.old[j] = self.table[j];
            } else if cur.priority == Priority::Prefer && cur.owner != st.real {
                // A preference came first: this sender is what it displaces.
                self.displaced[j] = st.real;
            }
        }
        if released {
            self.out.push(Action::PostDown);
        }
        self.apply_prefer(st.real, &st.prefer);
    }

    /// A member's prefer list: each VIF in it below PREFER is its, by
    /// preference.
    fn apply_prefer(&mut self, who: Ipv4Addr, prefer: &[Ipv4Addr]) {
        for p in prefer {
            if let Some(&j) = self.by_master.get(p) {
                if self.table[j].priority < Priority::Prefer {
                    self.displaced[j] = self.table[j].owner;
                    self.table[j] = Slot {
                        owner: who,
                        priority: Priority::Prefer,
                    };
                }
            }
        }
    }

    /// Every member's STATE is in.
    fn exchange_done(&mut self) {
        self.out.push(Action::CancelTimer(Timer::Gather));
        self.check_identities();
        self.settle_vif_lists();
        if self.mature {
            let before = self.held.clone();
            self.claim_round();
            self.phase = Phase::Run;
            self.arm_balance();
            self.reannounce_after_network_change(&before);
        } else {
            self.phase = Phase::Boot;
        }
        // An immature node holds nothing: nothing to tell anyone.
        self.network_change = false;
    }

    /// The exchange after a network change ended: what this node held
    /// before it and still holds is announced again (what it just
    /// acquired, the acquire announced). During a split both sides
    /// announced their claims, and the side that keeps a VIF after the
    /// merge would otherwise say nothing: neighbours that last heard the
    /// other side would keep its MAC until their cache expires.
    fn reannounce_after_network_change(&mut self, before: &[bool]) {
        if !self.network_change {
            return;
        }
        let ids: Vec<VifId> = (0..self.held.len())
            .filter(|&i| self.held[i] && before[i])
            .map(|i| self.s.vifs[i])
            .collect();
        if ids.is_empty() {
            return;
        }
        self.log(
            Level::Info,
            format!("network change: re-announcing {} VIPs", ids.len()),
        );
        self.out.push(Action::Reannounce(ids));
    }

    fn arm_balance(&mut self) {
        let delay = if self.s.complete_balance {
            Duration::ZERO
        } else {
            self.s.balance_interval
        };
        self.out.push(Action::StartTimer(Timer::Balance, delay));
    }

    /// Two members with one address break the cluster silently in C.
    fn check_identities(&mut self) {
        let mut seen: HashMap<Ipv4Addr, &str> = HashMap::new();
        let mut dups = Vec::new();
        for m in &self.members {
            if let Some(first) = seen.insert(m.addr, &m.name) {
                dups.push(format!(
                    "{first} and {} both report real address {}",
                    m.name, m.addr
                ));
            }
        }
        for d in dups {
            self.log(
                Level::Error,
                format!("{d}: give each node its own identity (NodeAddress or -a)"),
            );
        }
    }

    fn become_mature(&mut self) {
        if self.mature {
            return;
        }
        self.mature = true;
        self.log(Level::Info, "this node is mature".into());
        self.out.push(Action::CancelTimer(Timer::Maturity));
        if self.phase != Phase::Gather {
            self.claim_round();
            self.phase = Phase::Run;
            self.arm_balance();
        }
    }
}

mod balance;
mod claim;
mod quorum;
mod reject;
mod reload;
mod round;
mod vifs;

use reject::Reject;

pub use reload::Reconfigured;

#[cfg(test)]
mod tests;

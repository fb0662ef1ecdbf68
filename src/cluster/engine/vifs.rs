//! Which VIFs each member has (not in C), so that a VIF only some nodes
//! have is held by one of them, and nodes agree on every VIF they share.
//!
//! C assumes every node has the same VIF list. When the lists differ (a
//! reload done one node at a time, or configs that simply differ) C
//! gives a VIF to the least-loaded member whether it has that VIF or
//! not, and each node counts only its own VIFs, so claims can differ.
//!
//! Rust nodes say what they have: HELLO carries the sender's list (its
//! masters in config order) and VIFS a new one after a reload, both
//! Rust-only (C ignores their types). Every Rust node then keeps one
//! table over the union of the participants' VIFs: its own VIFs first,
//! in config order, then *shadow* entries for VIFs only others have,
//! which it records (claims, moves, counts) but never brings up.
//!
//! A view is a *Rust view* when every participant sent HELLO before its
//! STATE (decided when the exchange ends, alike on every node: HELLO and
//! STATE come in one total order). In a Rust view:
//! - an owner that does not have its VIF loses it (its list changed);
//! - the counts are rebuilt from the union table, the same everywhere;
//! - claims walk the union in one order (member 0's list, then each
//!   next member's new VIFs: config order when the lists are the same),
//!   and give a VIF to the least-loaded member that has it;
//! - the leader moves a VIF only to a member that has it, and a move to
//!   a member without it is skipped;
//! - a VIFS takes effect at once, on every node in the same place of the
//!   total order: the sender's dropped VIFs and its new ones are dealt
//!   out again by the claim rules.
//!
//! Standby placeholders (0.0.0.0, any number) are in no list: every
//! member has every placeholder, none becomes a shadow entry (they
//! would all collapse into one: entries are keyed by master address),
//! and the claim order puts each of this node's placeholders right
//! after the VIF it follows in the config. Nodes are expected to have
//! the same placeholders, as C expects the same VIF list.
//!
//! With a C node among the participants everything is as in C, on this
//! node's own VIFs only: C's counts (from the STATEs, shadows not
//! counted, kept for the view), claims to any member, moves applied as
//! C applies them. Mixed views thus decide as C nodes do, including C's
//! outcome for lists that differ.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use super::reject::Reject;
use super::{Engine, Level, Phase, FREE};
use crate::cluster::msg::{self, MessType};

/// A member's VIF list, in its order and as a set.
type List = (Vec<Ipv4Addr>, HashSet<Ipv4Addr>);

/// What this view knows of the members' VIF lists.
#[derive(Debug, Clone, Default)]
pub(super) struct Known {
    /// Per member: its list from HELLO or VIFS, in its order; `None`:
    /// a HELLO without one (an older Rust node, which has the same VIFs
    /// as everyone). No entry: no HELLO (a C node).
    lists: HashMap<String, Option<List>>,
    /// Masters of the table entries past this node's own VIFs.
    pub shadow: Vec<Ipv4Addr>,
    /// Every participant is a Rust node (see the module's doc).
    pub rust_view: bool,
    /// The order of claims and moves in a Rust view.
    pub order: Vec<Ipv4Addr>,
}

impl Engine {
    /// This node's own VIFs: the first entries of the table.
    pub(super) fn local(&self) -> usize {
        self.s.vifs.len()
    }

    /// A shadow entry: a VIF only other members have.
    pub(super) fn is_shadow(&self, i: usize) -> bool {
        i >= self.local()
    }

    /// This node's VIF list, as HELLO and VIFS carry it: its masters in
    /// config order, standby placeholders left out (see the module's doc).
    pub(super) fn own_list(&self) -> Vec<Ipv4Addr> {
        (self.s.vifs.iter().map(|v| v.wire()))
            .filter(|a| !a.is_unspecified())
            .collect()
    }

    /// Whether member `name` has the VIF of master `vip`: a member that
    /// sent no list has every VIF, and every member has every standby
    /// placeholder.
    pub(super) fn has_vif(&self, name: &str, vip: Ipv4Addr) -> bool {
        if vip.is_unspecified() {
            return true;
        }
        match self.known.lists.get(name) {
            Some(Some((_, set))) => set.contains(&vip),
            _ => true,
        }
    }

    /// A table entry for a VIF only others have, unless there is one.
    /// Never for a placeholder (0.0.0.0).
    fn add_shadow(&mut self, vip: Ipv4Addr) {
        if vip.is_unspecified() || self.by_master.contains_key(&vip) {
            return;
        }
        self.by_master.insert(vip, self.table.len());
        self.known.shadow.push(vip);
        self.table.push(FREE);
        self.old.push(FREE);
        self.displaced.push(Ipv4Addr::UNSPECIFIED);
        self.held.push(false);
    }

    /// A new view (or link): the lists and shadows of the last one go;
    /// this view's HELLOs bring them back.
    pub(super) fn forget_vif_lists(&mut self) {
        let n = self.local();
        for vip in std::mem::take(&mut self.known.shadow) {
            self.by_master.remove(&vip);
        }
        self.table.truncate(n);
        self.old.truncate(n);
        self.displaced.truncate(n);
        self.held.truncate(n);
        self.known = Known::default();
    }

    /// A member's list, from its HELLO or VIFS.
    pub(super) fn learn_list(&mut self, name: &str, list: Option<Vec<Ipv4Addr>>) {
        if let Some(l) = &list {
            for &vip in l {
                self.add_shadow(vip);
            }
        }
        let entry = list.map(|mut l| {
            // A placeholder is nobody's to list (see the module's doc).
            l.retain(|a| !a.is_unspecified());
            let set = l.iter().copied().collect();
            (l, set)
        });
        self.known.lists.insert(name.to_string(), entry);
    }

    /// At the end of an exchange: whether this is a Rust view, and if
    /// so the union's order, with owners that lack their VIF cleared.
    pub(super) fn settle_vif_lists(&mut self) {
        let me = self.my_name.clone();
        self.known.rust_view = !self.c_exact
            && (self.members.iter()).all(|m| m.name == me || self.round.hello.contains(&m.name));
        if self.known.rust_view {
            self.union_order();
            self.drop_owners_without_vif();
        }
    }

    /// Member 0's list, then each next member's VIFs not seen yet; a
    /// member without a list brings this node's (it has the same).
    fn union_order(&mut self) {
        let mut seen = HashSet::new();
        let mut order = Vec::new();
        let own = self.own_list();
        for m in &self.members {
            let list = match self.known.lists.get(&m.name) {
                Some(Some((l, _))) => l,
                _ => &own,
            };
            for &vip in list {
                if seen.insert(vip) {
                    order.push(vip);
                }
            }
        }
        self.known.order = order;
    }

    /// In a Rust view, an entry whose owner does not have its VIF (its
    /// list changed, or a preference named a VIF it lacks) is unclaimed
    /// again, so the claims give it to a member that has it.
    fn drop_owners_without_vif(&mut self) {
        for i in 0..self.table.len() {
            let owner = self.table[i].owner;
            if owner.is_unspecified() {
                continue;
            }
            let vip = self.vip(i);
            let lacks = (self.members.iter().chain(&self.round.late))
                .any(|m| m.addr == owner && !self.has_vif(&m.name, vip));
            if lacks {
                self.table[i] = FREE;
            }
        }
    }

    /// The table entries claim-unclaimed walks, in its order: in a Rust
    /// view the union's, with this node's standby placeholders each
    /// right after the VIF it follows in the config (first if none
    /// does): config order when the lists are the same; else this
    /// node's own VIFs in config order, as C.
    pub(super) fn claim_order(&self) -> Vec<usize> {
        if !self.known.rust_view {
            return (0..self.local()).collect();
        }
        // Placeholders by the own real VIF they follow (None: first).
        let mut after: HashMap<Option<Ipv4Addr>, Vec<usize>> = HashMap::new();
        let mut last = None;
        for (i, v) in self.s.vifs.iter().enumerate() {
            if v.wire().is_unspecified() {
                after.entry(last).or_default().push(i);
            } else {
                last = Some(v.wire());
            }
        }
        let mut order = after.remove(&None).unwrap_or_default();
        for &vip in &self.known.order {
            if let Some(&i) = self.by_master.get(&vip) {
                order.push(i);
            }
            if let Some(p) = after.remove(&Some(vip)) {
                order.extend(p);
            }
        }
        // Those after a VIF not in the union yet (this node's reload,
        // before its VIFS comes back): last, in config order.
        let mut rest: Vec<usize> = after.into_values().flatten().collect();
        rest.sort_unstable();
        order.extend(rest);
        order
    }

    /// The member claim-unclaimed gives entry `i` to: the fewest VIFs,
    /// lowest index on ties; in a Rust view among those that have it.
    pub(super) fn claimant(&self, i: usize) -> Option<usize> {
        let vip = self.vip(i);
        let rust = self.known.rust_view;
        let mut best: Option<usize> = None;
        for (j, m) in self.members.iter().enumerate() {
            if rust && !self.has_vif(&m.name, vip) {
                continue;
            }
            if best.map_or(true, |b| m.count < self.members[b].count) {
                best = Some(j);
            }
        }
        best
    }

    /// The moves of a BALANCE that this node can apply, as (entry, new
    /// owner): as C, a move of a VIF it does not have is skipped (and
    /// logged once per view); so is a move to an address no member has
    /// (C would give the VIF to nobody), and in a Rust view a move to a
    /// member without that VIF.
    pub(super) fn matching_moves(
        &mut self,
        sender: &str,
        moves: Vec<(Ipv4Addr, Ipv4Addr)>,
    ) -> Vec<(usize, Ipv4Addr)> {
        let mut ok = Vec::with_capacity(moves.len());
        for (owner, vip) in moves {
            let entry = (self.by_master.get(&vip).copied())
                .filter(|&i| self.known.rust_view || !self.is_shadow(i));
            let member = (self.members.iter().chain(&self.round.late))
                .find(|m| m.addr == owner && !owner.is_unspecified())
                .map(|m| m.name.clone());
            let why = match (entry, &member) {
                (None, _) => "a VIF this node does not have",
                (_, None) => "an address no member has",
                (Some(_), Some(name)) if self.known.rust_view && !self.has_vif(name, vip) => {
                    "a member that does not have that VIF"
                }
                (Some(i), Some(_)) => {
                    ok.push((i, owner));
                    continue;
                }
            };
            let text = format!(
                "skipping a move of a BALANCE from {sender}: it gives {vip} to {owner}, {why} (the other moves apply; said once per view)"
            );
            self.reject(Reject::BadMove, sender, Level::Warn, text);
        }
        ok
    }

    /// VIFS: a member's list changed (it reloaded). In a Rust view in
    /// RUN, its dropped VIFs and new ones are dealt out again at once,
    /// alike on every node; otherwise the list counts from here on (the
    /// end of this exchange, or the next view).
    pub(super) fn on_vifs(&mut self, sender: &str, swapped: bool, body: &[u8]) {
        if self.c_exact {
            return;
        }
        let v = match msg::Vifs::decode(body, swapped) {
            Ok(v) => v,
            Err(e) => {
                let text = format!("ignoring a malformed VIFS from {sender}: {e}");
                let kind = Reject::Malformed(MessType::Vifs);
                return self.reject(kind, sender, Level::Warn, text);
            }
        };
        if !self.round.view.iter().any(|n| n == sender) {
            let text = format!("ignoring VIFS from {sender}, not a member");
            let kind = Reject::NotMember(MessType::Vifs);
            return self.reject(kind, sender, Level::Warn, text);
        }
        if Some(v.group_id) != self.view_id {
            return;
        }
        self.log(
            Level::Info,
            format!("{sender} now has {} VIFs", v.vifs.len()),
        );
        self.learn_list(sender, Some(v.vifs));
        if !self.known.rust_view {
            return;
        }
        self.union_order();
        self.drop_owners_without_vif();
        if self.mature && !self.below && matches!(self.phase, Phase::Run | Phase::Balance) {
            self.claim_round();
            self.arm_balance();
        }
    }
}

//! The claim rules of a state exchange (spec §5): priority claims, then
//! claim-unclaimed, and the reconciling of what is up here with the
//! table that every node computes alike.

use std::net::Ipv4Addr;

use super::*;

impl Engine {
    /// Priority claim, then claim-unclaimed; `post up` after the round if
    /// it acquired anything (C ran them only after a BALANCE). Below
    /// quorum there is nothing to claim: the table is empty and stays so.
    pub(super) fn claim_round(&mut self) {
        if self.below {
            return;
        }
        let acquired = self.priority_claim() | self.claim_unclaimed();
        let (fixed_up, fixed_down) = self.reconcile();
        if acquired || fixed_up {
            self.out.push(Action::PostUp);
        }
        if fixed_down {
            self.out.push(Action::PostDown);
        }
    }

    /// Makes what is up here match the table. C can leave a VIF up on a
    /// node whose claim was ignored (its STATE lost to a preference it
    /// did not outrank, and its `old` then names another owner), so two
    /// nodes hold it; or down everywhere. The table, the same on every
    /// node, is not touched: this changes no cluster-wide decision.
    pub(super) fn reconcile(&mut self) -> (bool, bool) {
        if self.c_exact {
            return (false, false);
        }
        let me = self.s.me;
        let (mut up, mut down) = (false, false);
        for i in 0..self.local() {
            let mine = self.table[i].owner == me;
            if mine != self.held[i] {
                let vip = self.vip(i);
                let owner = self.table[i].owner;
                if mine {
                    self.log(
                        Level::Warn,
                        format!(
                            "{vip} is this node's by the table but is not up here: acquiring it"
                        ),
                    );
                    up |= self.acquire(i, Ipv4Addr::UNSPECIFIED);
                } else {
                    // A standby placeholder after the first: no STATE
                    // can name it (0.0.0.0 is the first), so every
                    // exchange deals it out again. Expected, not a fault.
                    let level = if self.by_master.get(&vip) == Some(&i) {
                        Level::Warn
                    } else {
                        Level::Debug
                    };
                    self.log(
                        level,
                        format!("{vip} is up here but the table gives it to {owner}: releasing it"),
                    );
                    down |= self.release(i);
                }
            }
        }
        (up, down)
    }

    pub(super) fn priority_claim(&mut self) -> bool {
        let me = self.s.me;
        let (mut acquired, mut released) = (false, false);
        for i in 0..self.table.len() {
            if self.table[i].priority != Priority::Prefer {
                continue;
            }
            if self.is_shadow(i) {
                // Not in C's table; a Rust view recounts.
                self.table[i].priority = Priority::PreferClaimed;
                continue;
            }
            let new = self.table[i].owner;
            let was = self.old[i].owner;
            if me == new && me != was {
                // Who really gave it up: the claimant seen in this
                // exchange, else the last view's holder if it is still
                // here (a failed node's VIF had no one to give it up).
                let from = if !self.displaced[i].is_unspecified() {
                    self.displaced[i]
                } else if self.members.iter().any(|m| m.addr == was) {
                    was
                } else {
                    Ipv4Addr::UNSPECIFIED
                };
                acquired |= self.acquire(i, from);
            }
            if me == was && me != new {
                released |= self.release(i);
            }
            for m in &mut self.members {
                if m.addr == was && m.addr != new {
                    m.count -= 1;
                }
                if m.addr == new && m.addr != was {
                    m.count += 1;
                }
            }
            self.table[i].priority = Priority::PreferClaimed;
        }
        if released {
            self.out.push(Action::PostDown);
        }
        if self.mature && !self.old_mature {
            self.old_mature = true;
            self.recount();
        }
        acquired
    }

    /// Every member's count, from the table: in a Rust view the union
    /// of the members' VIFs (the same on every node), else this node's
    /// own VIFs, as C.
    pub(super) fn recount(&mut self) {
        let n = if self.known.rust_view {
            self.table.len()
        } else {
            self.local()
        };
        for m in &mut self.members {
            m.count = self.table[..n].iter().filter(|s| s.owner == m.addr).count() as i32;
        }
    }

    pub(super) fn claim_unclaimed(&mut self) -> bool {
        let mut acquired = false;
        if self.members.is_empty() {
            return false;
        }
        if self.known.rust_view {
            // C rebuilds the counts from the table only the first time a
            // node is mature; otherwise they come from the STATEs and are
            // adjusted against each node's own `old`, which differs
            // between nodes that come from different components, so
            // their claims can differ. The table itself is the same on
            // every node: count from it. With a C node in the view, C's
            // counts, so that this node claims as its C peers do.
            self.recount();
        }
        for i in self.claim_order() {
            if self.table[i].priority != Priority::Unclaimed {
                continue;
            }
            // Fewest VIFs, lowest index on ties (in a Rust view, among
            // the members that have it).
            let Some(m) = self.claimant(i) else {
                continue;
            };
            if m == self.my_index {
                // Unclaimed: nobody holds it in this view.
                acquired |= self.acquire(i, Ipv4Addr::UNSPECIFIED);
            }
            self.members[m].count += 1;
            self.table[i] = Slot {
                owner: self.members[m].addr,
                priority: Priority::Claimed,
            };
        }
        acquired
    }
}

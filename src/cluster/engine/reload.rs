//! A reload, as the engine sees it: a new VIF table and the
//! configuration [`Diff`] that produced it, turned into actions. This is
//! the one place that maps the table across a reload: every VIF keeps its
//! claim, previous claim and holding under its [`VifId`] wherever the new
//! file puts it.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::{Action, Engine, Phase, Settings, FREE};
use crate::cluster::msg::{self, MessType};
use crate::config::{Diff, VifId};

/// What a reload makes the node do, in two steps around the swap of the
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconfigured {
    /// Under the OLD configuration: release the held VIFs that the new
    /// one removes or redefines, by the definitions they were brought up
    /// with.
    pub before: Vec<Action>,
    /// Under the NEW configuration: bring the redefined VIFs up again
    /// (and announce them) by their new definitions, then what the claim
    /// rules decide.
    pub after: Vec<Action>,
}

impl Engine {
    /// Takes a new configuration without touching a VIF whose definition
    /// stays. In RUN, new VIFs are claimed at once by the claim-unclaimed
    /// rule, which every node that loads the same configuration computes
    /// alike; the next view exchanges states as usual. A new `Quorum`
    /// applies to the current view at once: below it everything is
    /// released; back above it, the claims run as after an exchange.
    pub fn reconfigure(&mut self, s: Settings, diff: &Diff) -> Reconfigured {
        let removed: HashSet<VifId> = diff.removed.iter().map(|v| v.id()).collect();
        let redefined: HashSet<VifId> = diff.redefined.iter().map(|(o, _)| o.id()).collect();
        let mut out = Reconfigured::default();
        // A new Quorum counts at once, against the current view. Going
        // below it, everything goes, by the definitions it came up with.
        let below = self.below_after_reload(s.quorum);
        if below && !self.below {
            self.release_all_into(&mut out.before);
        }
        let held_before: Vec<VifId> = self.held().collect();
        let mut released_removed = false;
        for &id in &held_before {
            if removed.contains(&id) || !s.vifs.contains(&id) {
                out.before.push(Action::Release(id));
                released_removed = true;
            } else if redefined.contains(&id) {
                out.before.push(Action::Release(id));
            }
        }

        let list_changed = s
            .vifs
            .iter()
            .map(|v| v.wire())
            .filter(|a| !a.is_unspecified())
            .ne(self.own_list());
        // The new VIFs first, then every other entry the table had (a
        // dropped VIF becomes one that only others have: the members
        // learn of the change from the VIFS below, all at one point).
        // Standby placeholders (all 0.0.0.0) never become shadows; the
        // k-th of the new file keeps what the k-th of the old one had.
        let local = s.vifs.len();
        let new: HashSet<Ipv4Addr> = s.vifs.iter().map(|v| v.wire()).collect();
        let mut seen = HashSet::new();
        let shadows: Vec<Ipv4Addr> = (0..self.table.len())
            .map(|j| self.vip(j))
            .filter(|a| !a.is_unspecified() && !new.contains(a) && seen.insert(*a))
            .collect();
        let old_placeholders: Vec<usize> = (0..self.local())
            .filter(|&j| self.vip(j).is_unspecified())
            .collect();
        let mut placeholders = old_placeholders.into_iter();
        let from: Vec<Option<usize>> = (s.vifs.iter().map(|v| v.wire()))
            .chain(shadows.iter().copied())
            .map(|a| {
                if a.is_unspecified() {
                    placeholders.next()
                } else {
                    self.by_master.get(&a).copied()
                }
            })
            .collect();
        let n = from.len();
        let mut table = vec![FREE; n];
        let mut old = vec![FREE; n];
        let mut held = vec![false; n];
        let mut displaced = vec![Ipv4Addr::UNSPECIFIED; n];
        for (i, j) in from.into_iter().enumerate() {
            if let Some(j) = j {
                table[i] = self.table[j];
                old[i] = self.old[j];
                held[i] = self.held[j] && i < local;
                displaced[i] = self.displaced[j];
            }
        }
        // As C, an entry naming 0.0.0.0 is the first placeholder's.
        let masters: Vec<Ipv4Addr> = (s.vifs.iter().map(|v| v.wire()))
            .chain(shadows.iter().copied())
            .collect();
        self.by_master = masters
            .iter()
            .enumerate()
            .rev()
            .map(|(i, &a)| (a, i))
            .collect();
        self.known.shadow = shadows;
        self.table = table;
        self.old = old;
        self.held = held;
        self.displaced = displaced;
        self.s = s;
        if list_changed && self.connected && !self.c_exact {
            if let Some(group_id) = self.view_id {
                // Rust-only: C ignores it.
                let vifs = self.own_list();
                self.out.push(Action::Multicast {
                    mess_type: MessType::Vifs,
                    body: msg::Vifs { group_id, vifs }.encode(),
                });
            }
        }

        // Still held: up again with their new addresses.
        for &id in &held_before {
            if redefined.contains(&id) && self.s.vifs.contains(&id) {
                self.out.push(Action::Acquire(id, None));
            }
        }
        if released_removed {
            self.out.push(Action::PostDown);
        }
        self.quorum_reloaded(below);
        if self.connected && self.mature && self.phase == Phase::Run {
            self.claim_round();
            // The balance settings may have changed.
            self.arm_balance();
        }
        out.after = std::mem::take(&mut self.out);
        out
    }
}

//! `Quorum = N` (not in C): in a view of fewer than N members this node
//! holds no VIF. A host cut off alone (or a minority of the hosts) then
//! gives everything up instead of taking every VIP that the majority
//! side also takes.
//!
//! Every member of a view sees the same member list, so every node of a
//! view decides alike (when all run the same `Quorum`): below it, each
//! releases what it holds as the view arrives, sends a STATE that claims
//! nothing, records no claim or preference from the STATEs, and claims
//! nothing when the exchange ends. The table of such a view is empty on
//! every node, so the view that brings quorum back starts from what the
//! nodes really hold: the side that kept quorum keeps its VIFs, and the
//! usual claims and the leader's balance give the rest out. The
//! exchange itself runs as usual (HELLO, STATE, CLOSE), and so does
//! maturity: a group that reaches quorum after `Mature` claims at once.
//!
//! The view counts every member of the group, as the group system lists
//! them: a client that joins without being a wackamole node counts too.

use super::reject::Reject;
use super::{Action, Engine, Level, FREE};
use crate::cluster::msg;

impl Engine {
    /// Whether a view of `size` members is below `quorum` (0 or 1: off).
    pub(super) fn short_of(quorum: usize, size: usize) -> bool {
        quorum > 1 && size < quorum
    }

    /// At a new view of `size` members, before this node's STATE: below
    /// quorum, everything goes at once (the other side of a split may be
    /// taking it over right now) and the STATE will claim nothing.
    pub(super) fn quorum_for_view(&mut self, size: usize) {
        let below = Self::short_of(self.s.quorum, size);
        self.say_quorum(below, size);
        self.below = below;
        if below {
            self.release_all();
            self.old.fill(FREE);
        }
    }

    /// One line when this node goes below quorum or back above it.
    fn say_quorum(&mut self, below: bool, size: usize) {
        let q = self.s.quorum;
        let members = if size == 1 { "member" } else { "members" };
        if below && !self.below {
            self.log(
                Level::Warn,
                format!("below quorum: {size} {members} in this view, Quorum = {q}: releasing every VIP and claiming none until a view of {q} or more"),
            );
        } else if !below && self.below {
            self.log(
                Level::Info,
                format!("quorum regained: {size} {members} in this view (Quorum = {q}): claiming as usual"),
            );
        }
    }

    /// A STATE in a view below quorum: recorded as a member's, its
    /// claims and preferences not. A node that runs `Quorum` as this one
    /// does claims nothing here; one that claims something does not
    /// (another `Quorum`, a C node): said once per sender and view.
    pub(super) fn state_below_quorum(&mut self, sender: &str, st: &msg::State) {
        // Its own STATE claims something only when a reload took this
        // node below quorum after sending it: nothing to warn about.
        if st.held.is_empty() || sender == self.my_name {
            return;
        }
        let text = format!(
            "{sender} claims {} VIPs in a view below quorum: does every node run Quorum = {}? Its claims are not counted here",
            st.held.len(),
            self.s.quorum
        );
        self.reject(Reject::ClaimBelowQuorum, sender, Level::Warn, text);
    }

    /// Whether the current view is below `quorum` (a reload's new one).
    pub(super) fn below_after_reload(&self, quorum: usize) -> bool {
        self.view_id.is_some() && Self::short_of(quorum, self.round.view.len())
    }

    /// After a reload's swap: the current view crossed the new `Quorum`.
    /// Going below, the held VIFs were released already and the table
    /// empties; going above, the preferences this view's STATEs carried
    /// are applied as the exchange would have, and the claims follow
    /// (in RUN) as after any reload.
    pub(super) fn quorum_reloaded(&mut self, below: bool) {
        if below == self.below {
            return;
        }
        self.say_quorum(below, self.round.view.len());
        self.below = below;
        if below {
            self.table.fill(FREE);
            self.old.fill(FREE);
            for m in self.members.iter_mut().chain(&mut self.round.late) {
                m.count = 0;
            }
        } else {
            for (who, list) in std::mem::take(&mut self.prefers) {
                self.apply_prefer(who, &list);
                self.prefers.push((who, list));
            }
        }
    }

    /// Releases every held VIF into `out` (a reload's releases under the
    /// old configuration), as a view below quorum does.
    pub(super) fn release_all_into(&mut self, out: &mut Vec<Action>) {
        let mut any = false;
        for i in 0..self.held.len() {
            if self.held[i] {
                self.held[i] = false;
                out.push(Action::Release(self.s.vifs[i]));
                any = true;
            }
        }
        if any {
            out.push(Action::PostDown);
        }
    }
}

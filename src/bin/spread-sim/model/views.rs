//! How the daemons' components change: crashes, restarts, partitions
//! and heals, and what each group's members hear when their component's
//! view changes (TRANSITION, then a NETWORK membership with one VS set
//! per previous component).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use super::{Cause, Comp, DaemonId, Delivery, GroupId, Out, SessionId, World};

/// Why [`World::partition`] refused a list of components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionError {
    /// A component with no daemon.
    Empty,
    /// A daemon number that is not configured.
    Unknown(DaemonId),
    /// A daemon that is crashed.
    Down(String),
    /// A daemon in two components (or twice in one).
    Twice(String),
    /// A live daemon in no component.
    Left(String),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::Empty => f.write_str("an empty component"),
            PartitionError::Unknown(d) => write!(f, "no daemon number {d}"),
            PartitionError::Down(n) => write!(f, "daemon {n} is down"),
            PartitionError::Twice(n) => write!(f, "daemon {n} is listed twice"),
            PartitionError::Left(n) => write!(f, "live daemon {n} is in no component"),
        }
    }
}

/// One group's members arriving in a new view from one previous component.
struct VsSet {
    /// Spread's VS-set order: previous view's (rep, time), then config order.
    key: (u32, u32, DaemonId),
    old_id: GroupId,
    stayed: Vec<SessionId>,
    /// Some members of this previous view did not come along.
    lost: bool,
}

impl World {
    /// Daemon `d` crashes: a Close for each of its sessions (they are gone),
    /// then TRANSITION + NETWORK to the members of every group that lost
    /// members with it — never DISCONNECT. Already down: no output.
    pub fn crash(&mut self, d: DaemonId) -> Vec<Out> {
        if !self.daemons.get(d).is_some_and(|x| x.up) {
            return Vec::new();
        }
        let victims: Vec<SessionId> = self
            .by_name
            .range((d, String::new())..)
            .take_while(|((e, _), _)| *e == d)
            .map(|(_, s)| *s)
            .collect();
        self.daemons[d].up = false;
        let parts = self
            .comps
            .iter()
            .map(|c| {
                c.daemons
                    .iter()
                    .copied()
                    .filter(|&e| e != d)
                    .collect::<Vec<_>>()
            })
            .filter(|p| !p.is_empty())
            .collect();
        let mut out: Vec<Out> = victims
            .iter()
            .map(|&session| Out::Close { session })
            .collect();
        // The victims still exist here, so the reconfiguration sees them lost.
        out.extend(self.reconfigure(parts));
        for s in victims {
            self.remove_session(s);
        }
        out
    }

    /// A crashed daemon comes back with no clients. It joins the single
    /// component if the live daemons are all in one, otherwise it starts as
    /// a component of its own (a later `partition` or `heal` places it).
    /// Either way no group hears of it. Not down: no output.
    pub fn restart(&mut self, d: DaemonId) -> Vec<Out> {
        if !self.daemons.get(d).is_some_and(|x| !x.up) {
            return Vec::new();
        }
        self.daemons[d].up = true;
        let mut parts: Vec<Vec<DaemonId>> = self.comps.iter().map(|c| c.daemons.clone()).collect();
        match parts.as_mut_slice() {
            [one] => one.push(d),
            _ => parts.push(vec![d]),
        }
        self.reconfigure(parts)
    }

    /// Regroup the live daemons into `components` (every live daemon in
    /// exactly one, no empty or unknown entries; order is free). Groups that
    /// lost members get TRANSITION then NETWORK; groups whose members come
    /// from several previous components get one NETWORK with a VS set per
    /// previous component; a component whose daemon set is unchanged keeps
    /// its view and hears nothing.
    pub fn partition(&mut self, components: &[Vec<DaemonId>]) -> Result<Vec<Out>, PartitionError> {
        let mut seen = vec![false; self.daemons.len()];
        for comp in components {
            if comp.is_empty() {
                return Err(PartitionError::Empty);
            }
            for &d in comp {
                let Some(daemon) = self.daemons.get(d) else {
                    return Err(PartitionError::Unknown(d));
                };
                if !daemon.up {
                    return Err(PartitionError::Down(daemon.name.clone()));
                }
                if std::mem::replace(&mut seen[d], true) {
                    return Err(PartitionError::Twice(daemon.name.clone()));
                }
            }
        }
        if let Some(d) = (0..seen.len()).find(|&d| self.daemons[d].up && !seen[d]) {
            return Err(PartitionError::Left(self.daemons[d].name.clone()));
        }
        Ok(self.reconfigure(components.to_vec()))
    }

    /// All live daemons in one component again: a merge (NETWORK with several
    /// VS sets, no TRANSITION) for every group that spanned several.
    pub fn heal(&mut self) -> Vec<Out> {
        let live: Vec<DaemonId> = (0..self.daemons.len())
            .filter(|&d| self.daemons[d].up)
            .collect();
        if live.is_empty() {
            return Vec::new();
        }
        self.reconfigure(vec![live])
    }

    /// Replace the components by `parts` (live daemons only) and produce the
    /// group notifications. Sessions of a crashed daemon must still exist
    /// (with its daemon left out of `parts`) so that they count as lost.
    pub(super) fn reconfigure(&mut self, mut parts: Vec<Vec<DaemonId>>) -> Vec<Out> {
        for p in &mut parts {
            p.sort_unstable();
        }
        parts.sort();
        let old_of = std::mem::replace(&mut self.comp_of, vec![None; self.daemons.len()]);
        let mut old: Vec<Option<Comp>> = std::mem::take(&mut self.comps)
            .into_iter()
            .map(Some)
            .collect();
        let old_ids: Vec<BTreeMap<String, GroupId>> = old
            .iter()
            .map(|c| c.as_ref().map(|c| c.groups.clone()).unwrap_or_default())
            .collect();
        let mut out = Vec::new();
        for part in parts {
            let c = self.comps.len();
            for &d in &part {
                self.comp_of[d] = Some(c);
            }
            // The same daemons as before: the same view, nothing happens.
            if let Some(k) = old
                .iter()
                .position(|o| o.as_ref().is_some_and(|o| o.daemons == part))
            {
                self.comps.push(old[k].take().expect("found just above"));
                continue;
            }
            self.clock += 1;
            let rep = part[0] as u32 + 1; // proc id of the lowest daemon: never 0
            let (groups, retired) = (BTreeMap::new(), BTreeMap::new());
            let from: BTreeSet<usize> = part.iter().filter_map(|&d| old_of[d]).collect();
            self.comps.push(Comp {
                daemons: part,
                rep,
                time: self.clock,
                groups,
                retired,
            });
            let names: BTreeSet<&String> = from.iter().flat_map(|&k| old_ids[k].keys()).collect();
            for g in names {
                out.extend(self.regroup(c, g, &from, &old_of, &old_ids));
            }
        }
        out
    }

    /// Carry `group` into the new component `c` made of (parts of) the old
    /// components `from`: keep its id if nothing changed, else TRANSITION to
    /// those who lost members, then NETWORK to all with a new id.
    fn regroup(
        &mut self,
        c: usize,
        group: &str,
        from: &BTreeSet<usize>,
        old_of: &[Option<usize>],
        old_ids: &[BTreeMap<String, GroupId>],
    ) -> Vec<Out> {
        let mut sets = Vec::new();
        for &k in from {
            let Some(&old_id) = old_ids[k].get(group) else {
                continue;
            };
            let before = self.members_where(group, |d| old_of[d] == Some(k));
            let stayed: Vec<SessionId> = before
                .iter()
                .copied()
                .filter(|s| self.comp_of[self.sessions[s].daemon] == Some(c))
                .collect();
            if let Some(first) = stayed.first() {
                let key = (old_id[0], old_id[1], self.sessions[first].daemon);
                sets.push(VsSet {
                    key,
                    old_id,
                    lost: stayed.len() < before.len(),
                    stayed,
                });
            }
        }
        sets.sort_by_key(|v| v.key);
        if sets.is_empty() {
            return Vec::new();
        }
        if let [only] = sets.as_slice() {
            if !only.lost {
                self.comps[c].groups.insert(group.to_string(), only.old_id);
                return Vec::new();
            }
        }
        let mut out = Vec::new();
        for set in sets.iter().filter(|v| v.lost) {
            for &m in set.stayed.iter().filter(|m| self.sessions[m].membership) {
                let msg = Delivery::Transition {
                    group: group.to_string(),
                    group_id: set.old_id,
                };
                out.push(Out::Deliver { to: m, msg });
            }
        }
        let id = self.comps[c].new_group_id(group);
        self.comps[c].groups.insert(group.to_string(), id);
        let vs: Vec<Vec<SessionId>> = sets.into_iter().map(|v| v.stayed).collect();
        out.extend(self.memb_outs(c, group, Cause::Network, id, &vs));
        out
    }

    /// A human-readable dump for the control interface: per component its
    /// view, daemons and sessions, and every group with its id and members
    /// (in member order); then the daemons that are down.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, c) in self.comps.iter().enumerate() {
            let names: Vec<&str> = c
                .daemons
                .iter()
                .map(|&d| self.daemons[d].name.as_str())
                .collect();
            let _ = writeln!(
                s,
                "component {i} view {}.{}: {}",
                c.rep,
                c.time,
                names.join(" ")
            );
            let in_c = self
                .by_name
                .values()
                .filter(|r| self.comp_of[self.sessions[r].daemon] == Some(i));
            let _ = writeln!(
                s,
                "  sessions: {}",
                self.privates(&in_c.copied().collect::<Vec<_>>()).join(" ")
            );
            for (g, id) in &c.groups {
                let members = self.privates(&self.members(i, g)).join(" ");
                let _ = writeln!(s, "  group {g} id {}.{}.{}: {members}", id[0], id[1], id[2]);
            }
        }
        let down: Vec<&str> = self
            .daemons
            .iter()
            .filter(|d| !d.up)
            .map(|d| d.name.as_str())
            .collect();
        if !down.is_empty() {
            let _ = writeln!(s, "down: {}", down.join(" "));
        }
        s
    }
}

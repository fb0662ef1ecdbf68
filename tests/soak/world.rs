//! What the soak believes of its cluster: which daemons run, which are
//! forced out, which simulated Spread daemons are up, which links are
//! cut, how the switch is split, and whether the extra VIP is
//! configured. It changes only by [`World::apply`], so the schedule
//! and the expected picture follow from the seed alone. Pure: the
//! driver in `soak.rs` carries each disturbance out.

use std::fmt;

/// Hosts in the soak.
pub const HOSTS: usize = 5;

/// One change the schedule makes to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disturbance {
    /// The host's wackamole is SIGKILLed (its addresses stay behind).
    Kill(usize),
    /// A killed host's wackamole is started again.
    Start(usize),
    /// The host's link to the switch goes down: its Spread daemon is
    /// alone.
    CutLink(usize),
    /// A cut link comes back.
    HealLink(usize),
    /// The switch splits: these hosts on one side, the rest on the
    /// other.
    Split(Vec<usize>),
    /// The split is over.
    Merge,
    /// The host's Spread daemon crashes.
    SpreadCrash(usize),
    /// A crashed Spread daemon comes back.
    SpreadRestart(usize),
    /// `wackatrl -f` on the host.
    ForceOff(usize),
    /// `wackatrl -s` on a forced-off host.
    ForceOn(usize),
    /// Every host's config gets (true) or loses (false) the extra VIP,
    /// then every running daemon gets SIGHUP.
    Reload(bool),
}

impl Disturbance {
    /// Whether it ends a fault (rather than making one).
    pub fn is_repair(&self) -> bool {
        matches!(
            self,
            Disturbance::Start(_)
                | Disturbance::HealLink(_)
                | Disturbance::Merge
                | Disturbance::SpreadRestart(_)
                | Disturbance::ForceOn(_)
        )
    }
}

impl fmt::Display for Disturbance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = |i: &usize| format!("h{}", i + 1);
        match self {
            Disturbance::Kill(i) => write!(f, "kill -9 wackamole on {}", h(i)),
            Disturbance::Start(i) => write!(f, "start wackamole on {}", h(i)),
            Disturbance::CutLink(i) => write!(f, "cut {}'s link", h(i)),
            Disturbance::HealLink(i) => write!(f, "heal {}'s link", h(i)),
            Disturbance::Split(side) => {
                let a: Vec<String> = side.iter().map(h).collect();
                let b: Vec<String> = (0..HOSTS)
                    .filter(|i| !side.contains(i))
                    .map(|i| h(&i))
                    .collect();
                write!(f, "split the switch: {} | {}", a.join(" "), b.join(" "))
            }
            Disturbance::Merge => write!(f, "merge the switch"),
            Disturbance::SpreadCrash(i) => write!(f, "crash {}'s Spread daemon", h(i)),
            Disturbance::SpreadRestart(i) => write!(f, "restart {}'s Spread daemon", h(i)),
            Disturbance::ForceOff(i) => write!(f, "wackatrl -f on {}", h(i)),
            Disturbance::ForceOn(i) => write!(f, "wackatrl -s on {}", h(i)),
            Disturbance::Reload(true) => write!(f, "reload all: add the extra VIP"),
            Disturbance::Reload(false) => write!(f, "reload all: remove the extra VIP"),
        }
    }
}

/// The cluster as the schedule made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    /// The host's wackamole runs.
    pub running: [bool; HOSTS],
    /// `wackatrl -f` is in force on it.
    pub forced: [bool; HOSTS],
    /// Its simulated Spread daemon is up.
    pub spread_up: [bool; HOSTS],
    /// Its link to the switch is up.
    pub linked: [bool; HOSTS],
    /// Its side of a split switch (all false when not split).
    pub side: [bool; HOSTS],
    /// The extra VIP is configured.
    pub extra: bool,
}

impl Default for World {
    /// Everything up and joined, no extra VIP.
    fn default() -> Self {
        World {
            running: [true; HOSTS],
            forced: [false; HOSTS],
            spread_up: [true; HOSTS],
            linked: [true; HOSTS],
            side: [false; HOSTS],
            extra: false,
        }
    }
}

impl World {
    pub fn apply(&mut self, d: &Disturbance) {
        match *d {
            Disturbance::Kill(i) => {
                self.running[i] = false;
                // The next process starts without the hold.
                self.forced[i] = false;
            }
            Disturbance::Start(i) => self.running[i] = true,
            Disturbance::CutLink(i) => self.linked[i] = false,
            Disturbance::HealLink(i) => self.linked[i] = true,
            Disturbance::Split(ref side) => {
                self.side = [false; HOSTS];
                for &i in side {
                    self.side[i] = true;
                }
            }
            Disturbance::Merge => self.side = [false; HOSTS],
            Disturbance::SpreadCrash(i) => self.spread_up[i] = false,
            Disturbance::SpreadRestart(i) => self.spread_up[i] = true,
            Disturbance::ForceOff(i) => self.forced[i] = true,
            Disturbance::ForceOn(i) => self.forced[i] = false,
            Disturbance::Reload(extra) => self.extra = extra,
        }
    }

    pub fn split(&self) -> bool {
        self.side.iter().any(|&s| s)
    }

    /// Faults in force: killed daemons, cut links, a split, crashed
    /// Spread daemons, forced-off hosts.
    pub fn faults(&self) -> usize {
        let count = |a: &[bool; HOSTS], want: bool| a.iter().filter(|&&x| x == want).count();
        count(&self.running, false)
            + count(&self.linked, false)
            + usize::from(self.split())
            + count(&self.spread_up, false)
            + count(&self.forced, true)
    }

    /// The live Spread daemons' components (host indexes, sorted): a
    /// host whose link is cut is alone, the others go by their side of
    /// the switch.
    pub fn spread_components(&self) -> Vec<Vec<usize>> {
        let mut comps: Vec<Vec<usize>> = Vec::new();
        for side in [false, true] {
            let c: Vec<usize> = (0..HOSTS)
                .filter(|&i| self.spread_up[i] && self.linked[i] && self.side[i] == side)
                .collect();
            if !c.is_empty() {
                comps.push(c);
            }
        }
        for i in 0..HOSTS {
            if self.spread_up[i] && !self.linked[i] {
                comps.push(vec![i]);
            }
        }
        comps.sort();
        comps
    }

    /// Whether host `i` takes part in its component: its daemon runs,
    /// is not forced out, and its Spread daemon is up.
    pub fn serves(&self, i: usize) -> bool {
        self.running[i] && !self.forced[i] && self.spread_up[i]
    }

    /// The components that must hold every VIP once: the Spread
    /// components reduced to the hosts that serve, empty ones dropped.
    pub fn components(&self) -> Vec<Vec<usize>> {
        self.spread_components()
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .filter(|&i| self.serves(i))
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_follow_links_sides_spread_and_force() {
        let mut w = World::default();
        assert_eq!(w.components(), [vec![0, 1, 2, 3, 4]]);
        assert_eq!(w.faults(), 0);
        w.apply(&Disturbance::Split(vec![3, 4]));
        w.apply(&Disturbance::CutLink(0));
        assert_eq!(w.spread_components(), [vec![0], vec![1, 2], vec![3, 4]]);
        w.apply(&Disturbance::SpreadCrash(1));
        w.apply(&Disturbance::ForceOff(3));
        w.apply(&Disturbance::Kill(2));
        assert_eq!(w.spread_components(), [vec![0], vec![2], vec![3, 4]]);
        assert_eq!(w.components(), [vec![0], vec![4]]);
        assert_eq!(w.faults(), 5);
        w.apply(&Disturbance::Merge);
        w.apply(&Disturbance::HealLink(0));
        w.apply(&Disturbance::SpreadRestart(1));
        w.apply(&Disturbance::Start(2));
        assert_eq!(w.components(), [vec![0, 1, 2, 4]]);
        // A kill ends the force: the new process is not held.
        w.apply(&Disturbance::Kill(3));
        assert!(!w.forced[3]);
        w.apply(&Disturbance::Start(3));
        assert_eq!(w, World::default());
    }
}

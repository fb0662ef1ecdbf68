//! The seeded schedule: which disturbance comes next, given the world.
//! At most [`MAX_FAULTS`] faults are in force at once (so three hosts
//! at least keep serving); every fault is repaired later (a killed
//! daemon started, a cut link healed, a split merged, a crashed Spread
//! daemon restarted, a forced-off host given `-s`); reloads toggle the
//! extra VIP. Usually one disturbance at a time, sometimes two at once.
//! Every choice comes from the seed and the world alone (never from
//! what the cluster did), so a seed replays the same sequence.

use std::time::Duration;

use super::world::{Disturbance, World, HOSTS};
use crate::common::rng::Rng;

/// Faults in force at most.
pub const MAX_FAULTS: usize = 2;

/// Percent of steps that make two disturbances before settling.
const OVERLAP: usize = 12;

pub struct Schedule {
    rng: Rng,
}

impl Schedule {
    pub fn new(seed: u64) -> Schedule {
        Schedule {
            rng: Rng::new(seed),
        }
    }

    /// The disturbances of the next step in world `w` (one, sometimes
    /// two: the second chosen as if the first were made), to apply in
    /// order.
    pub fn next(&mut self, w: &World) -> Vec<Disturbance> {
        let first = self.one(w, None);
        let mut step = vec![first];
        if self.rng.chance(OVERLAP) {
            let mut after = w.clone();
            after.apply(&step[0]);
            let second = self.one(&after, step.first());
            step.push(second);
        }
        step
    }

    /// How long the cluster stays undisturbed after settling.
    pub fn quiet(&mut self) -> Duration {
        Duration::from_millis(300 + self.rng.below(2200) as u64)
    }

    fn one(&mut self, w: &World, after: Option<&Disturbance>) -> Disturbance {
        // A daemon started a moment ago may not have its control socket
        // or signal handling yet: no wackatrl or SIGHUP for it now.
        let fresh = match after {
            Some(Disturbance::Start(i)) => Some(*i),
            _ => None,
        };
        // Reload only while every daemon runs: a daemon removes the
        // leftovers of a killed run only for VIPs its configuration
        // names, so an address whose VIP left the configuration while
        // its daemon was dead is not its to remove.
        let reload_ok = fresh.is_none() && w.running.iter().all(|&r| r);
        let faults = w.faults();
        let roll = self.rng.below(100);
        let want = if faults >= MAX_FAULTS {
            Want::Repair
        } else if faults == 0 {
            if roll < 15 && reload_ok {
                Want::Reload
            } else {
                Want::Fault
            }
        } else if roll < 45 {
            Want::Repair
        } else if roll < 57 && reload_ok {
            Want::Reload
        } else {
            Want::Fault
        };
        match want {
            Want::Reload => Disturbance::Reload(!w.extra),
            Want::Repair => {
                let r = repairs(w);
                r[self.rng.below(r.len())].clone()
            }
            Want::Fault => self.fault(w, fresh),
        }
    }

    /// A new fault: a kind first (each as likely), then its target.
    fn fault(&mut self, w: &World, fresh: Option<usize>) -> Disturbance {
        let hosts = |ok: &dyn Fn(usize) -> bool| (0..HOSTS).filter(|&i| ok(i)).collect::<Vec<_>>();
        let kill = hosts(&|i| w.running[i]);
        let cut = hosts(&|i| w.linked[i]);
        let crash = hosts(&|i| w.spread_up[i]);
        let force = hosts(&|i| w.running[i] && !w.forced[i] && Some(i) != fresh);
        let mut kinds: Vec<usize> = Vec::new();
        for (k, targets) in [(0, &kill), (1, &cut), (3, &crash), (4, &force)] {
            if !targets.is_empty() {
                kinds.push(k);
            }
        }
        if !w.split() {
            kinds.push(2);
        }
        match self.rng.pick(&kinds) {
            0 => Disturbance::Kill(self.rng.pick(&kill)),
            1 => Disturbance::CutLink(self.rng.pick(&cut)),
            2 => {
                let a = self.rng.below(HOSTS);
                let mut side = vec![a];
                if self.rng.chance(50) {
                    let b = (a + 1 + self.rng.below(HOSTS - 1)) % HOSTS;
                    side.push(b);
                    side.sort_unstable();
                }
                Disturbance::Split(side)
            }
            3 => Disturbance::SpreadCrash(self.rng.pick(&crash)),
            _ => Disturbance::ForceOff(self.rng.pick(&force)),
        }
    }
}

enum Want {
    Repair,
    Reload,
    Fault,
}

/// The repairs of every fault in force, in a fixed order.
pub fn repairs(w: &World) -> Vec<Disturbance> {
    let mut r = Vec::new();
    for i in 0..HOSTS {
        if !w.running[i] {
            r.push(Disturbance::Start(i));
        }
        if !w.linked[i] {
            r.push(Disturbance::HealLink(i));
        }
        if !w.spread_up[i] {
            r.push(Disturbance::SpreadRestart(i));
        }
        if w.forced[i] {
            r.push(Disturbance::ForceOn(i));
        }
    }
    if w.split() {
        r.push(Disturbance::Merge);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_the_same_schedule_and_faults_stay_bounded() {
        let run = |seed| {
            let mut s = Schedule::new(seed);
            let mut w = World::default();
            let mut all = Vec::new();
            for _ in 0..2000 {
                for d in s.next(&w) {
                    w.apply(&d);
                    assert!(w.faults() <= MAX_FAULTS, "{w:?} after {d}");
                    all.push(d);
                }
            }
            (all, w)
        };
        let (a, _) = run(7);
        assert_eq!(a, run(7).0);
        assert_ne!(a, run(8).0);
        // Every kind of disturbance comes up.
        for probe in [
            Disturbance::Kill(0),
            Disturbance::Start(0),
            Disturbance::CutLink(0),
            Disturbance::HealLink(0),
            Disturbance::Split(vec![0]),
            Disturbance::Merge,
            Disturbance::SpreadCrash(0),
            Disturbance::SpreadRestart(0),
            Disturbance::ForceOff(0),
            Disturbance::ForceOn(0),
            Disturbance::Reload(true),
            Disturbance::Reload(false),
        ] {
            let kind = std::mem::discriminant(&probe);
            assert!(
                a.iter().any(|d| std::mem::discriminant(d) == kind),
                "never {probe}"
            );
        }
    }

    #[test]
    fn repairs_end_every_fault() {
        let mut s = Schedule::new(1);
        let mut w = World::default();
        for _ in 0..500 {
            for d in s.next(&w) {
                w.apply(&d);
            }
            let mut v = w.clone();
            for r in repairs(&w) {
                assert!(r.is_repair());
                v.apply(&r);
            }
            assert_eq!(v.faults(), 0, "{w:?}");
        }
    }
}

//! The invariants, checked against one sample of every host's addresses
//! and the world the schedule made. Pure: times are seconds since the
//! start of the soak, passed in.
//!
//! - The picture: every configured VIP on exactly one host of each
//!   component; nothing on a running host that does not serve (forced
//!   out, or its Spread daemon down); the extra VIP, when not
//!   configured, on no running host. A host whose daemon is not running
//!   is not looked at: a SIGKILLed daemon releases nothing, and its
//!   addresses are the next run's to remove (which the picture checks
//!   as soon as it runs again).
//! - Doubles: a VIP on two hosts of one component, at any sample, for
//!   more than [`DOUBLE_LIMIT`].
//! - Breaks: once settled, the picture wrong for more than
//!   [`BREAK_LIMIT`] before the next disturbance (a rebalancing move may
//!   leave a VIP on no host or two for a moment, not longer).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::world::World;

/// How long a VIP may be on two hosts of one component.
pub const DOUBLE_LIMIT: f64 = 1.0;
/// How long a settled picture may be wrong.
pub const BREAK_LIMIT: f64 = 1.0;

fn hosts(list: &[usize]) -> String {
    let names: Vec<String> = list.iter().map(|i| format!("h{}", i + 1)).collect();
    names.join(",")
}

/// What is wrong with `held` (each host's addresses) in world `w`, where
/// `active` are the VIPs configured now and `vips` every VIP the soak
/// may configure. Empty when the picture is right.
pub fn problems(
    w: &World,
    active: &[Ipv4Addr],
    vips: &[Ipv4Addr],
    held: &[Vec<Ipv4Addr>],
) -> Vec<String> {
    let mut out = Vec::new();
    for comp in w.components() {
        for v in active {
            let on: Vec<usize> = comp
                .iter()
                .copied()
                .filter(|&i| held[i].contains(v))
                .collect();
            if on.len() != 1 {
                out.push(format!(
                    "{v} on [{}] of component [{}]",
                    hosts(&on),
                    hosts(&comp)
                ));
            }
        }
    }
    for (i, here) in held.iter().enumerate() {
        if !w.running[i] {
            continue;
        }
        for v in vips {
            if !here.contains(v) {
                continue;
            }
            if !active.contains(v) {
                out.push(format!("{v}, not configured, on h{}", i + 1));
            } else if !w.serves(i) {
                let why = if w.forced[i] {
                    "forced off"
                } else {
                    "its Spread daemon is down"
                };
                out.push(format!("{v} on h{} ({why})", i + 1));
            }
        }
    }
    out
}

/// The VIPs on two or more hosts of one component, with those hosts.
pub fn doubles(
    w: &World,
    vips: &[Ipv4Addr],
    held: &[Vec<Ipv4Addr>],
) -> Vec<(Ipv4Addr, Vec<usize>)> {
    let mut out = Vec::new();
    for comp in w.components() {
        for &v in vips {
            let on: Vec<usize> = comp
                .iter()
                .copied()
                .filter(|&i| held[i].contains(&v))
                .collect();
            if on.len() > 1 {
                out.push((v, on));
            }
        }
    }
    out
}

/// How long each VIP has been doubled; reports an episode once, when it
/// passes [`DOUBLE_LIMIT`].
#[derive(Default)]
pub struct DoubleWatch {
    since: BTreeMap<Ipv4Addr, (f64, bool)>,
}

impl DoubleWatch {
    /// The violations at time `t`, given the doubles seen then.
    pub fn observe(&mut self, t: f64, now: &[(Ipv4Addr, Vec<usize>)]) -> Vec<String> {
        self.since.retain(|v, _| now.iter().any(|(d, _)| d == v));
        let mut out = Vec::new();
        for (v, on) in now {
            let (start, reported) = self.since.entry(*v).or_insert((t, false));
            if !*reported && t - *start > DOUBLE_LIMIT {
                *reported = true;
                out.push(format!(
                    "{v} on {} of one component for more than {DOUBLE_LIMIT} s (since {:.1}s)",
                    hosts(on),
                    *start
                ));
            }
        }
        out
    }

    /// The doubles right now, and since when.
    pub fn open(&self) -> usize {
        self.since.len()
    }
}

/// A settled picture going wrong: reports once when it stays wrong past
/// [`BREAK_LIMIT`].
#[derive(Default)]
pub struct BreakWatch {
    since: Option<(f64, bool)>,
}

impl BreakWatch {
    /// The violation at time `t`, if any, given the picture's problems.
    pub fn observe(&mut self, t: f64, problems: &[String]) -> Option<String> {
        if problems.is_empty() {
            self.since = None;
            return None;
        }
        let (start, reported) = self.since.get_or_insert((t, false));
        if *reported || t - *start <= BREAK_LIMIT {
            return None;
        }
        *reported = true;
        Some(format!(
            "settled picture wrong for more than {BREAK_LIMIT} s (since {start:.1}s): {}",
            problems.join("; ")
        ))
    }

    /// A new disturbance: the settled picture is no longer expected.
    pub fn reset(&mut self) {
        self.since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::world::Disturbance;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 80, 0, last)
    }

    #[test]
    fn the_picture_per_component() {
        let (a, b, x) = (ip(101), ip(102), ip(103));
        let vips = [a, b, x];
        let mut w = World::default();
        w.apply(&Disturbance::Split(vec![0, 1]));
        w.apply(&Disturbance::Kill(4));
        w.apply(&Disturbance::ForceOff(3));
        // Components [h1 h2] and [h3]; h4 forced off, h5 dead.
        let mut held = vec![vec![a], vec![b], vec![a, b], vec![], vec![a, b, x]];
        assert!(problems(&w, &[a, b], &vips, &held).is_empty());
        held[3].push(a);
        held[1].push(x);
        held[0].push(b);
        let p = problems(&w, &[a, b], &vips, &held);
        assert_eq!(
            p,
            [
                "10.80.0.102 on [h1,h2] of component [h1,h2]",
                "10.80.0.103, not configured, on h2",
                "10.80.0.101 on h4 (forced off)",
            ]
        );
        assert_eq!(doubles(&w, &vips, &held), [(b, vec![0, 1])]);
        held[2].clear();
        let p = problems(&w, &[a, b], &vips, &held);
        assert!(
            p.contains(&"10.80.0.101 on [] of component [h3]".to_string()),
            "{p:?}"
        );
    }

    #[test]
    fn a_double_counts_after_a_second_once_per_episode() {
        let d = vec![(ip(101), vec![0, 2])];
        let mut w = DoubleWatch::default();
        assert!(w.observe(10.0, &d).is_empty());
        assert!(w.observe(10.9, &d).is_empty());
        assert_eq!(w.observe(11.1, &d).len(), 1);
        assert!(w.observe(11.2, &d).is_empty());
        assert!(w.observe(11.3, &[]).is_empty());
        assert_eq!(w.open(), 0);
        assert!(w.observe(11.4, &d).is_empty());
        assert!(w.observe(12.3, &d).is_empty());
    }

    #[test]
    fn a_break_counts_after_a_second() {
        let p = vec!["x".to_string()];
        let mut b = BreakWatch::default();
        assert!(b.observe(1.0, &p).is_none());
        assert!(b.observe(1.5, &[]).is_none());
        assert!(b.observe(1.6, &p).is_none());
        assert!(b.observe(2.6, &p).is_none());
        assert!(b.observe(2.7, &p).is_some());
        assert!(b.observe(2.8, &p).is_none());
    }
}

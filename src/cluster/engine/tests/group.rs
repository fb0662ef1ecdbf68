//! Whole groups of engines for the tests: every multicast is delivered
//! to every member of the sender's component in one order, as Spread
//! does, and a balance timer of 0 runs at once, as in the daemon.

use std::collections::VecDeque;

use super::*;

/// A few engines and the components they are in.
pub(super) struct Group {
    pub e: Vec<Engine>,
    /// Per node, the members of its current view (node numbers from 0).
    comp: Vec<Vec<usize>>,
    views: u32,
    /// Per node, what it did since the last [`Group::take_log`].
    log: Vec<Vec<Action>>,
}

pub(super) fn name(i: usize) -> String {
    format!("#n{}#d", i + 1)
}

impl Group {
    /// `n` nodes sharing `vifs` VIFs, each connected; `prefer[i]`: what
    /// node `i` prefers.
    pub fn new(n: usize, vifs: u8, prefer: &[&[u8]]) -> Group {
        Group::with(n, vifs, prefer, |_| {})
    }

    /// As [`Group::new`], each node's settings changed by `adjust`.
    pub fn with(n: usize, vifs: u8, prefer: &[&[u8]], adjust: impl Fn(&mut Settings)) -> Group {
        let e = (0..n)
            .map(|i| {
                let mut s = small(i as u8 + 1, vifs, prefer.get(i).copied().unwrap_or(&[]));
                adjust(&mut s);
                let mut e = Engine::new(s);
                e.handle(Event::Connected {
                    private_group: &name(i),
                });
                e
            })
            .collect();
        Group {
            e,
            comp: vec![Vec::new(); n],
            views: 0,
            log: vec![Vec::new(); n],
        }
    }

    /// Node `i` decides as C 2.1.4 does ([`Engine::c_exact`]): a C peer.
    /// Call before its first view.
    pub fn make_c_node(&mut self, i: usize) {
        let mut e = Engine::c_exact(self.e[i].settings().clone());
        e.handle(Event::Connected {
            private_group: &name(i),
        });
        self.e[i] = e;
    }

    /// A view of `members` (in this order), delivered to each, and the
    /// exchange run to its end.
    pub fn view(&mut self, members: &[usize], cause: Cause) {
        self.views += 1;
        let id = [1, 1, self.views];
        let names: Vec<String> = members.iter().map(|&i| name(i)).collect();
        let mut q = VecDeque::new();
        for (k, &i) in members.iter().enumerate() {
            self.comp[i] = members.to_vec();
            let acts = self.e[i].handle(Event::View(View {
                id,
                members: names.clone(),
                my_index: k,
                cause,
            }));
            self.take(i, acts, &mut q);
        }
        self.drain(q);
    }

    /// Node `i` reloads with settings `s` (`diff` from its last ones)
    /// and what follows is delivered.
    pub fn reconfigure(&mut self, i: usize, s: Settings, diff: &Diff) {
        let mut q = VecDeque::new();
        let step = self.e[i].reconfigure(s, diff);
        self.take(i, step.before, &mut q);
        self.take(i, step.after, &mut q);
        self.drain(q);
    }

    /// Fires timer `t` of node `i` and delivers what follows.
    pub fn fire(&mut self, i: usize, t: Timer) {
        let mut q = VecDeque::new();
        let acts = self.e[i].handle(Event::Timer(t));
        self.take(i, acts, &mut q);
        self.drain(q);
    }

    /// Notes what node `i` did; queues its multicasts; runs a balance
    /// timer of 0 at once, as the daemon would.
    fn take(&mut self, i: usize, acts: Vec<Action>, q: &mut VecDeque<(usize, MessType, Vec<u8>)>) {
        let mut balance = false;
        for a in &acts {
            match a {
                Action::Multicast { mess_type, body } => q.push_back((i, *mess_type, body.clone())),
                Action::StartTimer(Timer::Balance, d) if d.is_zero() => balance = true,
                _ => {}
            }
        }
        self.log[i].extend(acts);
        if balance {
            let more = self.e[i].handle(Event::Timer(Timer::Balance));
            self.take(i, more, q);
        }
    }

    fn drain(&mut self, mut q: VecDeque<(usize, MessType, Vec<u8>)>) {
        while let Some((from, t, body)) = q.pop_front() {
            for i in self.comp[from].clone() {
                let acts = deliver_as(&mut self.e[i], &name(from), t, Delivered::Agreed, &body);
                self.take(i, acts, &mut q);
            }
        }
    }

    pub fn take_log(&mut self) -> Vec<Vec<Action>> {
        std::mem::replace(&mut self.log, vec![Vec::new(); self.e.len()])
    }

    /// Places of the VIFs node `i` holds.
    pub fn held(&self, i: usize) -> Vec<usize> {
        let mut h: Vec<usize> = self.e[i].held().map(place).collect();
        h.sort();
        h
    }

    pub fn counts(&self) -> Vec<usize> {
        (0..self.e.len()).map(|i| self.held(i).len()).collect()
    }

    /// Every VIF is held by exactly one node of `among`, and their
    /// tables agree and say so.
    pub fn assert_each_once(&self, among: &[usize]) {
        let vifs = self.e[0].settings().vifs.len();
        for v in 0..vifs {
            let holders: Vec<usize> = among
                .iter()
                .copied()
                .filter(|&i| self.held(i).contains(&v))
                .collect();
            assert_eq!(holders.len(), 1, "VIF {v} held by {holders:?}");
            for &i in among {
                assert_eq!(
                    self.e[i].table()[v].owner,
                    node(holders[0] as u8 + 1),
                    "n{}'s table for VIF {v}",
                    i + 1
                );
            }
        }
    }

    /// Three nodes, 6 VIFs, mature and settled 2/2/2 (`adjust` as in
    /// [`Group::with`]).
    pub fn settled(adjust: impl Fn(&mut Settings)) -> Group {
        let mut g = Group::with(3, 6, &[], adjust);
        g.view(&[0, 1, 2], Cause::Join);
        g.fire(0, Timer::Maturity);
        assert_eq!(g.counts(), [2, 2, 2]);
        g.take_log();
        g
    }
}

pub(super) fn logged(acts: &[Action], needle: &str) -> usize {
    acts.iter()
        .filter(|a| matches!(a, Action::Log(_, t) if t.contains(needle)))
        .count()
}

pub(super) fn reannounced(acts: &[Action]) -> Vec<Vec<usize>> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Reannounce(ids) => Some(ids.iter().map(|&id| place(id)).collect()),
            _ => None,
        })
        .collect()
}

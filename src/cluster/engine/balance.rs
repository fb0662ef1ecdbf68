//! Balancing: the leader's BALANCE round (C's Balance()) and what every
//! node does with a BALANCE message, plus the engine's timers.

use std::net::Ipv4Addr;

use super::*;

impl Engine {
    pub(super) fn on_timer(&mut self, t: Timer) {
        if !self.connected {
            return;
        }
        match t {
            Timer::Maturity => self.out.push(Action::Multicast {
                mess_type: MessType::Maturing,
                body: Vec::new(),
            }),
            Timer::ArpCache => {
                self.out.push(Action::ShareArpCache);
                self.out
                    .push(Action::StartTimer(Timer::ArpCache, self.s.arp_cache));
            }
            Timer::Balance => self.balance_round(),
            Timer::Gather => self.gather_timed_out(),
        }
    }

    /// The leader's round, as C's Balance(): the busiest and idlest
    /// members (both start at member 0 once per round and change only on
    /// a strictly larger/smaller count), then the first movable VIF of
    /// the busiest in table order.
    pub(super) fn balance_round(&mut self) {
        let rearm = !self.s.complete_balance;
        if self.my_index != 0 {
            if rearm {
                self.out
                    .push(Action::StartTimer(Timer::Balance, self.s.balance_interval));
            }
            return;
        }
        if self.phase != Phase::Run {
            // C's leader stops re-arming here.
            return;
        }
        if self.below {
            // Nothing is held, nothing may move; the exchange that
            // brings quorum back arms the timer again.
            return;
        }
        self.phase = Phase::Balance;
        // Members late for a closed round count here, with what they
        // were given since.
        let everyone = || self.members.iter().chain(&self.round.late);
        let mut counts: Vec<i32> = everyone().map(|m| m.count).collect();
        let addrs: Vec<Ipv4Addr> = everyone().map(|m| m.addr).collect();
        let names: Vec<&str> = everyone().map(|m| m.name.as_str()).collect();
        let mut owners: Vec<Ipv4Addr> = self.table.iter().map(|s| s.owner).collect();
        let (mut min, mut max) = (0usize, 0usize);
        let mut moves = Vec::new();
        for _ in 0..self.s.balance_rate {
            for i in 0..counts.len() {
                if counts[i] < counts[min] {
                    min = i;
                }
                if counts[i] > counts[max] {
                    max = i;
                }
            }
            if counts[max] - counts[min] <= 1 {
                break;
            }
            let next = self.next_move(&names, &counts, &owners, &addrs, (min, max));
            let Some((to, j)) = next else {
                // Nothing of the busiest may move; later rounds would
                // find the same.
                break;
            };
            moves.push((addrs[to], self.vip(j)));
            counts[to] += 1;
            counts[max] -= 1;
            owners[j] = addrs[to];
        }
        if !moves.is_empty() {
            self.out.push(Action::Multicast {
                mess_type: MessType::Balance,
                body: msg::Balance { moves }.encode(),
            });
        }
        self.phase = Phase::Run;
        if rearm {
            self.out
                .push(Action::StartTimer(Timer::Balance, self.s.balance_interval));
        }
    }

    pub(super) fn on_balance(&mut self, sender: &str, swapped: bool, body: &[u8]) {
        if self.phase != Phase::Run {
            return;
        }
        let b = match msg::Balance::decode(body, swapped) {
            Ok(b) => b,
            Err(e) => {
                let text = format!("ignoring a malformed BALANCE from {sender}: {e}");
                return self.reject(
                    Reject::Malformed(MessType::Balance),
                    sender,
                    Level::Warn,
                    text,
                );
            }
        };
        if self.members.first().map(|m| m.name.as_str()) != Some(sender) {
            let text = format!("ignoring a BALANCE from {sender}, which does not lead the group");
            return self.reject(Reject::NotLeader, sender, Level::Warn, text);
        }
        if self.below {
            // A leader that runs the same Quorum sends none here.
            let text = format!(
                "ignoring a BALANCE from {sender}: this view is below quorum (does every node run Quorum = {}?)",
                self.s.quorum
            );
            return self.reject(Reject::BalanceBelowQuorum, sender, Level::Warn, text);
        }
        let moves = self.matching_moves(sender, b.moves);
        let me = self.s.me;
        let (mut acquired, mut released) = (false, false);
        for (i, owner) in moves {
            let was = self.table[i].owner;
            if owner == was {
                // C would acquire, then release: the owner would drop a
                // VIF the table gives it. No honest leader sends this.
                continue;
            }
            if owner == me {
                acquired |= self.acquire(i, was);
            }
            if was == me {
                released |= self.release(i);
            }
            for m in self.members.iter_mut().chain(&mut self.round.late) {
                if m.addr == was {
                    m.count -= 1;
                }
                if m.addr == owner {
                    m.count += 1;
                }
            }
            self.table[i].owner = owner;
        }
        let (fixed_up, fixed_down) = self.reconcile();
        if acquired || fixed_up {
            self.out.push(Action::PostUp);
        }
        if released || fixed_down {
            self.out.push(Action::PostDown);
        }
    }
}

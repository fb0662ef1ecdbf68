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
    ///
    /// With `all`, C balances once per exchange, at most VIFs/2 moves:
    /// too few when one member holds nearly everything (a merge of
    /// components that each claimed every VIF: 150/0/0 ends 75/38/37).
    /// Here the leader re-arms the timer at `Interval` while a round
    /// leaves members more than one apart, and so keeps sending rounds
    /// of up to VIFs/2 moves until they are balanced (see
    /// [`Engine::follow_up_balance`]). The first round is C's.
    pub(super) fn balance_round(&mut self) {
        let rearm = !self.s.complete_balance;
        if !self.c_exact && self.my_index == 0 && self.phase == Phase::Run && self.balance_in_flight
        {
            // Our last BALANCE is not back yet: a round on this table
            // would move what it already moves. Try again later.
            let delay = if rearm {
                self.s.balance_interval
            } else {
                self.follow_up_delay()
            };
            self.out.push(Action::StartTimer(Timer::Balance, delay));
            return;
        }
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
        // Once per round, not per move: the order does not change within
        // a round, and building it is O(VIFs), so per move it made a
        // round that gives a joining member its share O(VIFs²/nodes)
        // (see benches/engine.rs). Only when a move is looked for: a
        // round of a balanced view does not need it.
        let mut order = None;
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
            let order = order.get_or_insert_with(|| self.claim_order());
            let next = self.next_move(order, &names, &counts, &owners, &addrs, (min, max));
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
        let follow_up = !rearm
            && !moves.is_empty()
            && self.follow_up_balance(
                order.as_deref().unwrap_or_default(),
                &names,
                &counts,
                &addrs,
                &owners,
            );
        if !moves.is_empty() {
            self.balance_in_flight = true;
            self.out.push(Action::Multicast {
                mess_type: MessType::Balance,
                body: msg::Balance { moves }.encode(),
            });
        }
        self.phase = Phase::Run;
        if rearm {
            self.out
                .push(Action::StartTimer(Timer::Balance, self.s.balance_interval));
        } else if follow_up {
            self.out
                .push(Action::StartTimer(Timer::Balance, self.follow_up_delay()));
        }
    }

    /// With `all`, the time between the follow-up rounds: `Interval`,
    /// at least 1s (the config lets `all` have 0s).
    fn follow_up_delay(&self) -> Duration {
        self.s.balance_interval.max(Duration::from_secs(1))
    }

    /// With `all`, after a round whose moves give `counts` (members'
    /// addresses `addrs`, VIF owners `owners`): would another round
    /// move anything? Yes while the busiest and idlest differ by more
    /// than one and a round would find a move (see
    /// [`Engine::next_move`]). Not in C, which stops after one round.
    fn follow_up_balance(
        &self,
        order: &[usize],
        names: &[&str],
        counts: &[i32],
        addrs: &[Ipv4Addr],
        owners: &[Ipv4Addr],
    ) -> bool {
        if self.c_exact || counts.is_empty() {
            return false;
        }
        let (mut min, mut max) = (0usize, 0usize);
        for i in 0..counts.len() {
            if counts[i] < counts[min] {
                min = i;
            }
            if counts[i] > counts[max] {
                max = i;
            }
        }
        counts[max] - counts[min] > 1
            && (self.next_move(order, names, counts, owners, addrs, (min, max))).is_some()
    }

    /// The leader's next move: from the busiest member `max`, its first
    /// movable VIF (see [`Engine::movable`]) in the claim order, to the
    /// idlest `min` (C's choice). In a Rust view only to a member that
    /// has the VIF (every member has every standby placeholder): if
    /// `min` lacks it, the least-loaded member that has it and holds at
    /// least two fewer than `max`. `order`: [`Engine::claim_order`]'s,
    /// built once per round. Returns (recipient, entry).
    pub(super) fn next_move(
        &self,
        order: &[usize],
        names: &[&str],
        counts: &[i32],
        owners: &[Ipv4Addr],
        addrs: &[Ipv4Addr],
        (min, max): (usize, usize),
    ) -> Option<(usize, usize)> {
        let movable = |j: usize| self.movable(j, owners, addrs[max]);
        if !self.known.rust_view {
            return (0..self.local()).find(|&j| movable(j)).map(|j| (min, j));
        }
        for &j in order {
            if !movable(j) {
                continue;
            }
            let vip = self.vip(j);
            if self.has_vif(names[min], vip) {
                return Some((min, j));
            }
            let to = (0..counts.len())
                .filter(|&k| counts[max] - counts[k] > 1 && self.has_vif(names[k], vip))
                .min_by_key(|&k| (counts[k], k));
            if let Some(k) = to {
                return Some((k, j));
            }
        }
        None
    }

    /// May a round move VIF `j` (owned per `owners`) away from `from`?
    /// Not a preferred one; nor a standby placeholder after the first:
    /// a BALANCE names VIFs by master, and 0.0.0.0 moves the first
    /// placeholder on every node (C 2.1.4's leader would send it all
    /// the same, and move what it did not mean to).
    pub(super) fn movable(&self, j: usize, owners: &[Ipv4Addr], from: Ipv4Addr) -> bool {
        owners[j] == from
            && self.table[j].priority < Priority::Prefer
            && (self.c_exact || self.by_master.get(&self.vip(j)) == Some(&j))
    }

    pub(super) fn on_balance(&mut self, sender: &str, swapped: bool, body: &[u8]) {
        if sender == self.my_name {
            self.balance_in_flight = false;
        }
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

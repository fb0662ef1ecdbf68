//! The notification schedule: after an acquire, which destinations
//! learn of each address of the VIF, and in which one-second round
//! (spec §9.3).
//!
//! Owns: the choice of destinations (Notify blocks cut to the VIP's
//! `nNET` network, shared-cache addresses inside it), their order, and
//! the throttle. Pure and time-free: the daemon calls [`Scheduler::start`]
//! on an acquire, [`Scheduler::cancel`] on a release, and
//! [`Scheduler::round`] on each one-second tick, and turns each
//! [`Announce`] into frames (see [`super::frame`]) as its [`Tell`] says:
//! to a Notify destination, two broadcast ARP replies, with a MAC two
//! more unicast to it, with `ping` an ICMP echo; to the whole segment,
//! gratuitous ARP replies (IPv4) or unsolicited neighbour advertisements
//! to all nodes (IPv6).
//!
//! Where it departs from C:
//! - every address of the VIF is announced (C shared each entry's
//!   progress among the addresses, so only the first was);
//! - an IPv4 address that no Notify destination reaches (none lies in
//!   its `nNET`, or there is no Notify at all) is announced to the whole
//!   segment with a gratuitous ARP reply, where C sent nothing and the
//!   neighbours kept the old MAC until their entries expired; an address
//!   that some destination reaches gets no such extra frame, as the
//!   replies to its destinations are broadcast too. `Notify None` keeps
//!   C's silence (the daemon passes `segment: false`);
//! - IPv6 addresses (not in C) are part of the same schedule, told to
//!   all nodes, and so repeated like the IPv4 ones;
//! - an entry without an interface applies to the VIP's interface (C
//!   never fired it); `ping` is carried for every destination (C could
//!   only ping shared-cache ones, which have a MAC);
//! - `throttle 0` means [`IMPLICIT_THROTTLE`] destinations per round, not
//!   the whole block at once: a /16 would otherwise be 65,536
//!   destinations — 131,072 broadcast frames — in one go;
//! - no [`Scheduler::round`] holds more than [`MAX_ROUND`] destinations
//!   in all, however many VIFs, addresses and entries are running (each
//!   acquire's [`Scheduler::first_round`] has a budget of its own);
//! - the schedule ends with its last destination (C ran one more, empty,
//!   pass a second later), and a release really cancels it;
//! - a scheduler made with [`Scheduler::repeating`] (the daemon's) sends
//!   the whole schedule a second time, a few rounds after the first pass
//!   ends: Linux ignores an ARP reply for an entry it updated less than
//!   `locktime` (1 s) ago, so one burst can be lost on a neighbour that
//!   had just heard from the old owner; keepalived repeats for the same
//!   reason.
//!
//! Destinations are never listed up front: each (address, entry) pair
//! is a cursor over its range or over the cache snapshot, so a /16 costs
//! no more memory than a /32.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Bound;

use crate::cluster::msg::ArpRecord;
use crate::config::addr::mask;
use crate::config::{NotifyEntry, NotifyTarget, VipAddr};

/// Destinations per round for an entry with `throttle 0` (C: no limit).
pub const IMPLICIT_THROTTLE: u32 = 1024;

/// Destinations per round in all, over every running schedule; what does
/// not fit waits for the next round, in order.
pub const MAX_ROUND: usize = 4096;

/// One send: whom to tell that an address of `vif` is now here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce<K> {
    /// The VIF, as named to [`Scheduler::start`].
    pub vif: K,
    /// The VIP's interface (as configured, without an alias label): where
    /// the frames go out.
    pub ifname: String,
    pub tell: Tell,
}

/// What one [`Announce`] says, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tell {
    /// A Notify destination learns that `vip` is here.
    Dest {
        vip: Ipv4Addr,
        dest: Ipv4Addr,
        /// The destination's MAC when it came from the shared ARP cache:
        /// the sender then follows the broadcast pair with a unicast pair.
        dest_mac: Option<[u8; 6]>,
        /// The entry's `ping`: also send an ICMP echo from the VIP.
        ping: bool,
    },
    /// Every host of the segment learns that `vip` is here (gratuitous
    /// ARP replies): no Notify destination reaches it.
    Segment(Ipv4Addr),
    /// Every node learns that this IPv6 VIP is here (unsolicited
    /// neighbour advertisements to ff02::1).
    AllNodes(Ipv6Addr),
}

/// What [`Scheduler::start`] scheduled, for the daemon's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    /// Destinations over every address and entry (a destination reached
    /// by two entries, or for two addresses, counts twice).
    pub destinations: u64,
    /// Rounds needed by the slowest (address, entry) pair, when the
    /// schedule runs alone (more if [`MAX_ROUND`] binds).
    pub rounds: u64,
    /// A `throttle 0` entry has more than [`IMPLICIT_THROTTLE`]
    /// destinations for some address, so it takes several rounds where C
    /// sent them all at once: worth a log line.
    pub capped: bool,
    /// Addresses told to the whole segment instead ([`Tell::Segment`],
    /// [`Tell::AllNodes`]), not counted in `destinations`.
    pub segment: u64,
}

/// The schedule of every VIF being announced, keyed by the VIF's name
/// `K` (the daemon's `config::VifId`); rounds visit VIFs in `K`'s order.
#[derive(Debug, Clone)]
pub struct Scheduler<K> {
    schedules: BTreeMap<K, Schedule>,
    /// Where the next round starts, after the last one ran out of room:
    /// at this VIF (`Included`) or after it (`Excluded`).
    resume_at: Bound<K>,
    /// Rounds to sit out between a schedule's first pass and its repeat;
    /// `None`: no repeat (C).
    repeat_gap: Option<u32>,
}

#[derive(Debug, Clone)]
struct Schedule {
    vips: Vec<Vip>,
    /// The shared cache as it was at the acquire (C copied it too).
    cache: Vec<ArpRecord>,
    /// Unfinished (address, entry) pairs, address-major then in config
    /// order; a finished one is removed.
    cursors: Vec<Cursor>,
    /// The cursors as they started, while the repeat pass is still due.
    replay: Option<Vec<Cursor>>,
    /// No round has run yet.
    fresh: bool,
    /// Ticks to sit out before the next round: one after
    /// [`Scheduler::first_round`], the gap before the repeat pass.
    skip: u32,
}

#[derive(Debug, Clone)]
struct Vip {
    ifname: String,
    addr: IpAddr,
    /// The `nNET` network (IPv4; nothing for IPv6, which no Notify
    /// destination reaches).
    net_mask: u32,
    net: u32,
}

impl Vip {
    fn reaches(&self, a: Ipv4Addr) -> bool {
        self.addr.is_ipv4() && u32::from(a) & self.net_mask == self.net
    }
}

#[derive(Debug, Clone)]
struct Cursor {
    /// Index into `Schedule::vips`.
    vip: usize,
    per_round: u32,
    ping: bool,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The addresses `next..end` (u64: a whole /0 has 2^32).
    Block { next: u64, end: u64 },
    /// `Schedule::cache[next..]`; `next` always on a match or at the end.
    Cache { next: usize },
    /// The whole segment, once a pass ([`Tell::Segment`],
    /// [`Tell::AllNodes`]).
    Segment { sent: bool },
}

impl Source {
    fn finished(&self, cache: &[ArpRecord]) -> bool {
        match *self {
            Source::Block { next, end } => next >= end,
            Source::Cache { next } => next >= cache.len(),
            Source::Segment { sent } => sent,
        }
    }
}

impl<K: Ord + Copy> Default for Scheduler<K> {
    fn default() -> Self {
        Scheduler {
            schedules: BTreeMap::new(),
            resume_at: Bound::Unbounded,
            repeat_gap: None,
        }
    }
}

impl<K: Ord + Copy> Scheduler<K> {
    /// A scheduler that sends each schedule once, as C did.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scheduler that sends each schedule twice: after the round its
    /// first pass ends in, a schedule sits out `gap` rounds, then starts
    /// again from its first destination with the same cache snapshot.
    /// With one-second ticks and `gap` 2, a first pass sent at once by
    /// [`first_round`](Self::first_round) is repeated two to three
    /// seconds later.
    pub fn repeating(gap: u32) -> Self {
        Self {
            repeat_gap: Some(gap),
            ..Self::default()
        }
    }

    /// Schedules the announcement of VIF `vif`'s addresses (master
    /// first, then the extras): each IPv4 address to the destinations of
    /// `entries`, with `cache` as the shared ARP cache snapshot. With
    /// `segment`, an IPv4 address none of them reaches, and every IPv6
    /// address, is told to the whole segment instead; without (`Notify
    /// None`), such an address is not announced at all, as in C.
    /// Replaces any schedule `vif` had. Sends nothing: round 1 comes from
    /// the next [`round`](Self::round), or at once from
    /// [`first_round`](Self::first_round).
    pub fn start<'a>(
        &mut self,
        vif: K,
        addrs: impl IntoIterator<Item = &'a VipAddr>,
        entries: &[NotifyEntry],
        cache: &[ArpRecord],
        segment: bool,
    ) -> Plan {
        self.schedules.remove(&vif);
        let vips: Vec<Vip> = addrs
            .into_iter()
            .map(|a| match a {
                VipAddr::V4(a) => {
                    let net_mask = mask(a.net_prefix);
                    Vip {
                        ifname: a.ifname.clone(),
                        addr: IpAddr::V4(a.addr),
                        net_mask,
                        net: u32::from(a.addr) & net_mask,
                    }
                }
                VipAddr::V6(a) => Vip {
                    ifname: a.ifname.clone(),
                    addr: IpAddr::V6(a.addr),
                    net_mask: 0,
                    net: 0,
                },
            })
            .collect();
        let mut plan = Plan::default();
        let mut cursors = Vec::new();
        let mut uses_cache = false;
        for (vi, v) in vips.iter().enumerate() {
            let reached = cursors.len();
            // Notify entries are IPv4 destinations: none reaches an IPv6
            // address.
            for e in entries.iter().filter(|_| v.addr.is_ipv4()) {
                let per_round = match e.throttle {
                    0 => IMPLICIT_THROTTLE,
                    t => t,
                };
                let (source, count) = match &e.target {
                    NotifyTarget::Block(b) => {
                        if !b.ifname.is_empty() && b.ifname != v.ifname {
                            continue;
                        }
                        let bm = mask(b.prefix);
                        let b_start = u32::from(b.addr) & bm;
                        let b_end = b_start | !bm;
                        let start = b_start.max(v.net);
                        let end = b_end.min(v.net | !v.net_mask);
                        if end < start {
                            continue;
                        }
                        let (next, end) = (u64::from(start), u64::from(end) + 1);
                        (Source::Block { next, end }, end - next)
                    }
                    NotifyTarget::ArpCache => {
                        let count = cache.iter().filter(|r| v.reaches(r.ip)).count();
                        if count == 0 {
                            continue;
                        }
                        uses_cache = true;
                        let next = cache.iter().position(|r| v.reaches(r.ip));
                        let next = next.unwrap_or(cache.len());
                        (Source::Cache { next }, count as u64)
                    }
                };
                plan.destinations += count;
                plan.rounds = plan.rounds.max(count.div_ceil(u64::from(per_round)));
                plan.capped |= e.throttle == 0 && count > u64::from(IMPLICIT_THROTTLE);
                cursors.push(Cursor {
                    vip: vi,
                    per_round,
                    ping: e.ping,
                    source,
                });
            }
            if segment && cursors.len() == reached {
                plan.segment += 1;
                cursors.push(Cursor {
                    vip: vi,
                    per_round: 1,
                    ping: false,
                    source: Source::Segment { sent: false },
                });
            }
        }
        if !cursors.is_empty() {
            let cache = if uses_cache {
                cache.to_vec()
            } else {
                Vec::new()
            };
            self.schedules.insert(
                vif,
                Schedule {
                    vips,
                    cache,
                    replay: self.repeat_gap.map(|_| cursors.clone()),
                    cursors,
                    fresh: true,
                    skip: 0,
                },
            );
        }
        plan
    }

    /// Stops `vif`'s schedule (on a release); `false` if it had none.
    pub fn cancel(&mut self, vif: K) -> bool {
        self.schedules.remove(&vif).is_some()
    }

    /// Round 1 of `vif`'s schedule, now, touching no other schedule;
    /// empty if it has none or has already run a round. That schedule
    /// then sits out the next [`round`](Self::round), so its rounds stay
    /// at least one tick apart (round 2 comes one to two seconds later).
    pub fn first_round(&mut self, vif: K) -> Vec<Announce<K>> {
        let mut out = Vec::new();
        let Some(s) = self.schedules.get_mut(&vif) else {
            return out;
        };
        if !s.fresh {
            return out;
        }
        let mut budget = MAX_ROUND;
        s.run(vif, &mut budget, &mut out);
        s.skip = 1;
        if !s.next_pass(self.repeat_gap) {
            self.schedules.remove(&vif);
        }
        out
    }

    /// The sends due on this tick: the next round of every schedule, in
    /// VIF order, each address (master first) and entry (config order) in
    /// turn, at most its throttle each, block destinations upward, cache
    /// destinations in cache order; no more than [`MAX_ROUND`] in all.
    /// A schedule whose last destination is sent is gone afterwards.
    pub fn round(&mut self) -> Vec<Announce<K>> {
        let mut out = Vec::new();
        let mut budget = MAX_ROUND;
        // From where the last round stopped, wrapping around.
        let keys: Vec<K> = match self.resume_at {
            Bound::Unbounded => self.schedules.keys().copied().collect(),
            start => {
                let end = match start {
                    Bound::Included(k) => Bound::Excluded(k),
                    Bound::Excluded(k) => Bound::Included(k),
                    Bound::Unbounded => Bound::Unbounded,
                };
                self.schedules
                    .range((start, Bound::Unbounded))
                    .chain(self.schedules.range((Bound::Unbounded, end)))
                    .map(|(&k, _)| k)
                    .collect()
            }
        };
        for vif in keys {
            if budget == 0 {
                // It got nothing this time: it goes first next time.
                self.resume_at = Bound::Included(vif);
                break;
            }
            let s = self.schedules.get_mut(&vif).expect("key just listed");
            if s.skip > 0 {
                s.skip -= 1;
                continue;
            }
            let cut = s.run(vif, &mut budget, &mut out);
            if !s.next_pass(self.repeat_gap) {
                self.schedules.remove(&vif);
            }
            if budget == 0 {
                // Cut short, it goes first next time; else the next one.
                self.resume_at = if cut {
                    Bound::Included(vif)
                } else {
                    Bound::Excluded(vif)
                };
                break;
            }
        }
        out
    }

    /// No schedule is running: no further round is due.
    pub fn is_idle(&self) -> bool {
        self.schedules.is_empty()
    }

    /// `vif` has destinations left (in either pass).
    pub fn is_active(&self, vif: K) -> bool {
        self.schedules.contains_key(&vif)
    }
}

impl Schedule {
    /// After a round: `false` when the schedule is over. A finished first
    /// pass with a repeat due turns into the repeat, `gap` ticks away.
    fn next_pass(&mut self, gap: Option<u32>) -> bool {
        if !self.cursors.is_empty() {
            return true;
        }
        match (self.replay.take(), gap) {
            (Some(c), Some(gap)) => {
                self.cursors = c;
                self.skip = gap;
                true
            }
            _ => false,
        }
    }

    /// One round: each cursor in order sends up to its throttle, within
    /// `budget`; finished cursors are dropped. Returns whether the budget
    /// ran out before every cursor had its full turn.
    fn run<K: Copy>(&mut self, vif: K, budget: &mut usize, out: &mut Vec<Announce<K>>) -> bool {
        self.fresh = false;
        let mut cut = false;
        let (vips, cache) = (&self.vips, &self.cache);
        for c in &mut self.cursors {
            if *budget == 0 {
                cut = true;
                break;
            }
            let v = &vips[c.vip];
            let quota = (c.per_round as usize).min(*budget);
            let mut sent = 0;
            let mut push = |tell: Tell| {
                out.push(Announce {
                    vif,
                    ifname: v.ifname.clone(),
                    tell,
                });
            };
            // Only an IPv4 address has destination cursors.
            let mut send = |dest: Ipv4Addr, dest_mac: Option<[u8; 6]>| {
                if let IpAddr::V4(vip) = v.addr {
                    push(Tell::Dest {
                        vip,
                        dest,
                        dest_mac,
                        ping: c.ping,
                    });
                }
            };
            let more = match &mut c.source {
                Source::Block { next, end } => {
                    let n = (*end - *next).min(quota as u64);
                    for a in *next..*next + n {
                        // Within u32: `end` is at most 2^32.
                        send(Ipv4Addr::from(a as u32), None);
                    }
                    *next += n;
                    sent = n as usize;
                    *next < *end
                }
                Source::Cache { next } => {
                    while sent < quota && *next < cache.len() {
                        let r = cache[*next];
                        send(r.ip, Some(r.mac));
                        sent += 1;
                        *next += 1;
                        while *next < cache.len() && !v.reaches(cache[*next].ip) {
                            *next += 1;
                        }
                    }
                    *next < cache.len()
                }
                Source::Segment { sent: done } => {
                    // The budget is at least 1 here: `quota` too.
                    *done = true;
                    sent = 1;
                    push(match v.addr {
                        IpAddr::V4(a) => Tell::Segment(a),
                        IpAddr::V6(a) => Tell::AllNodes(a),
                    });
                    false
                }
            };
            *budget -= sent;
            cut |= more && quota < c.per_round as usize;
        }
        self.cursors.retain(|c| !c.source.finished(cache));
        cut
    }
}

#[cfg(test)]
mod tests;

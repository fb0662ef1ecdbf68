//! The `ArpRefresh` pacing: every held address announced again once per
//! interval, one address at a time, spread evenly over the interval (not
//! in C; keepalived's `garp_master_refresh` does the same for its VIPs).
//! Routers and switches that keep an ARP entry for hours (Cisco: 4 h)
//! and missed the takeover, or heard an old owner after it, learn the
//! right MAC within one interval.
//!
//! Owns: which held address is due next, and when. Pure: the daemon
//! passes `now`, sets its one timer to [`Refresh::next_due`], and on
//! that timer calls [`Refresh::due`] and sends the address it returns.
//! With `n` addresses and interval `T`, sends are `T / n` apart, each
//! address once per `T` in a fixed (the addresses') order; the set
//! changes when addresses are acquired or released, without resetting
//! anyone's turn.
//!
//! The bound: no second (any window of one second) carries more than
//! `n / T + 1` sends (`T` in seconds). Sends are never bunched to catch
//! up: two are always at least `1 s / (⌊n / T⌋ + 1)` apart, which is
//! enough for the bound (k sends that far apart span
//! `(k - 1) / (⌊n / T⌋ + 1)`, less than a second only while
//! `k ≤ ⌊n / T⌋ + 1`). That gap is shorter than the spacing `T / n`, so
//! a timer that fires a little late is made up at the next send and the
//! cycle keeps its length; one that fires very late (the daemon stalled)
//! moves the rest of the cycle later instead of sending a burst.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::time::{Duration, Instant};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The refresh schedule of a set of addresses `A` (the daemon's: each
/// held address with its interface), visited in `A`'s order.
#[derive(Debug, Clone)]
pub struct Refresh<A> {
    interval: Duration,
    ring: BTreeSet<A>,
    /// The address sent last: the next one is the one after it,
    /// wrapping (it may have left the set since).
    last: Option<A>,
    /// When the last send happened; forgotten when the set empties, so
    /// that the first address acquired afterwards is not refreshed at
    /// once (its acquire has just announced it).
    last_sent_at: Option<Instant>,
    /// When the next send is due; `None` with nothing to refresh.
    next_at: Option<Instant>,
}

impl<A: Ord + Clone> Refresh<A> {
    /// An empty schedule with one pass every `interval` (more than zero).
    pub fn new(interval: Duration) -> Self {
        Refresh {
            interval: interval.max(Duration::from_nanos(1)),
            ring: BTreeSet::new(),
            last: None,
            last_sent_at: None,
            next_at: None,
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How many addresses are refreshed.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// When [`due`](Self::due) has an address to send next; `None` with
    /// nothing held (no timer needed).
    pub fn next_due(&self) -> Option<Instant> {
        self.next_at
    }

    /// Makes `items` the set refreshed (after an acquire, a release, a
    /// reload). Returns whether it changed; an unchanged set keeps its
    /// schedule to the nanosecond, so the daemon may call this after
    /// every batch of actions. A changed set keeps the turn order (the
    /// address after the last one sent goes next) and the next send
    /// comes the new spacing after the last one (at once if that is
    /// past).
    pub fn set(&mut self, items: impl IntoIterator<Item = A>, now: Instant) -> bool {
        let ring: BTreeSet<A> = items.into_iter().collect();
        if ring == self.ring {
            return false;
        }
        self.ring = ring;
        self.reschedule(now);
        true
    }

    /// Another interval (a reload): the schedule is laid out again, as
    /// for a change of the set.
    pub fn set_interval(&mut self, interval: Duration, now: Instant) {
        let interval = interval.max(Duration::from_nanos(1));
        if interval != self.interval {
            self.interval = interval;
            self.reschedule(now);
        }
    }

    /// The address to announce now, if one is due (at most one per
    /// call: the next is never due at the same instant).
    pub fn due(&mut self, now: Instant) -> Option<A> {
        let at = self.next_at.filter(|&at| at <= now)?;
        let next = match &self.last {
            Some(l) => self
                .ring
                .range((Bound::Excluded(l), Bound::Unbounded))
                .next()
                .or_else(|| self.ring.first()),
            None => self.ring.first(),
        }?
        .clone();
        // On the grid if the timer was on time or a little late; after
        // a long stall, from now (the gap, not a burst, bounds the rate).
        self.next_at = Some((at + self.spacing()).max(now + self.min_gap()));
        self.last = Some(next.clone());
        self.last_sent_at = Some(now);
        Some(next)
    }

    /// `T / n`: the distance between two sends on the grid.
    fn spacing(&self) -> Duration {
        let n = self.ring.len().max(1) as u32;
        self.interval / n
    }

    /// `1 s / (⌊n / T⌋ + 1)`, rounded up: how close two sends may ever
    /// be (see the module's note on the bound).
    fn min_gap(&self) -> Duration {
        let n = self.ring.len() as u128;
        let per_sec = n * NANOS_PER_SEC / self.interval.as_nanos().max(1);
        let gap = NANOS_PER_SEC.div_ceil(per_sec + 1);
        Duration::from_nanos(u64::try_from(gap).unwrap_or(u64::MAX))
    }

    fn reschedule(&mut self, now: Instant) {
        if self.ring.is_empty() {
            self.next_at = None;
            self.last_sent_at = None;
            return;
        }
        // Never closer to the last send than the gap allows (rounding
        // can make the gap a nanosecond longer than the spacing).
        let step = self.spacing().max(self.min_gap());
        self.next_at = Some(match self.last_sent_at {
            Some(sent) => (sent + step).max(now),
            None => now + step,
        });
    }
}

#[cfg(test)]
mod tests;

//! The daemon's timers: one deadline per kind, re-arming replaces (as
//! C's event queue did); the earliest sets the poll timeout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::cluster::engine::Timer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Engine(Timer),
    /// Try Spread again.
    Reconnect,
    /// Give up on a handshake that does not finish.
    ConnectTimeout,
    /// The next round of neighbour notifications.
    NotifyTick,
    /// Check running hooks against their time limit.
    Hooks,
    /// Check that every held address is up.
    CheckHeld,
    /// The next `ArpRefresh` announcement.
    ArpRefresh,
    /// Close the control sessions past their deadline (set to the
    /// earliest one).
    ControlDeadline,
    /// Reap the health checks' runs and start those due (set to the
    /// earliest).
    Checks,
}

#[derive(Debug, Default)]
pub struct Timers {
    due: HashMap<Key, Instant>,
}

impl Timers {
    pub fn set(&mut self, k: Key, at: Instant) {
        self.due.insert(k, at);
    }

    pub fn set_in(&mut self, k: Key, now: Instant, d: Duration) {
        self.set(k, now + d);
    }

    pub fn cancel(&mut self, k: Key) {
        self.due.remove(&k);
    }

    pub fn is_set(&self, k: Key) -> bool {
        self.due.contains_key(&k)
    }

    /// How long the poll may sleep.
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.due
            .values()
            .min()
            .map(|&t| t.saturating_duration_since(now))
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn take_due(&mut self, now: Instant) -> Vec<Key> {
        let mut due: Vec<(Instant, Key)> = self
            .due
            .iter()
            .filter(|(_, &t)| t <= now)
            .map(|(k, t)| (*t, *k))
            .collect();
        due.sort_by_key(|(t, _)| *t);
        for (_, k) in &due {
            self.due.remove(k);
        }
        due.into_iter().map(|(_, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rearming_replaces_and_due_ones_come_in_order() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set_in(Key::Reconnect, t0, Duration::from_secs(5));
        t.set_in(Key::Reconnect, t0, Duration::from_secs(1));
        t.set_in(Key::NotifyTick, t0, Duration::from_millis(500));
        assert_eq!(t.timeout(t0), Some(Duration::from_millis(500)));
        assert!(t.take_due(t0).is_empty());
        let later = t0 + Duration::from_secs(2);
        assert_eq!(t.take_due(later), [Key::NotifyTick, Key::Reconnect]);
        assert_eq!(t.timeout(later), None);
        t.set(Key::Hooks, later);
        t.cancel(Key::Hooks);
        assert!(!t.is_set(Key::Hooks));
    }
}

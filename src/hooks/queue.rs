//! The order and the number of hook processes, decided apart from
//! starting them: a pure queue that the tests drive without a process.
//!
//! Hooks go in lanes. The hooks of one VIF (`on up`, `on down`) form a
//! lane and run one after another in the order they were queued, so a
//! slow `on down` has ended before the next `on up` of that VIF starts
//! (C ran every hook in the daemon, one after the other, so its hooks
//! could not overtake each other either). `post up` and `post down`
//! form one lane of their own. Lanes run side by side, at most `limit`
//! hooks at once (`HookLimit`): a view change that moves 254 VIFs must
//! not start 254 root processes.
//!
//! Waiting hooks are kept in one FIFO of bounded length. When it is
//! full the oldest waiting hook is dropped and handed back, for the
//! caller to log: a flood of events neither blocks the loop nor grows
//! memory without bound.

use std::collections::{HashSet, VecDeque};

use crate::config::VifId;

/// How many hooks may wait for a start.
pub const QUEUE_CAPACITY: usize = 1024;

/// Hooks that must run one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// The `on up` and `on down` hooks of one VIF.
    Vif(VifId),
    /// `post up` and `post down`, which concern no single VIF.
    Post,
}

impl Lane {
    /// The lane of a hook run for `vif` (`None`: a `post` event).
    pub fn of(vif: Option<VifId>) -> Lane {
        vif.map_or(Lane::Post, Lane::Vif)
    }
}

/// Jobs `J` in lanes, under a cap on how many run at once.
///
/// The caller pushes jobs, then starts every job that
/// [`start_next`](Self::start_next) gives; when a job ends (or fails
/// to start) it calls [`finish`](Self::finish) with its lane and
/// starts the jobs that may start now.
#[derive(Debug)]
pub struct Queue<J> {
    limit: usize,
    capacity: usize,
    /// Oldest first.
    waiting: VecDeque<(Lane, J)>,
    /// Lanes with a job running. A lane runs one job at a time, so this
    /// is also the count of running jobs.
    busy: HashSet<Lane>,
}

impl<J> Queue<J> {
    /// At most `limit` jobs running and `capacity` waiting (each at
    /// least 1).
    pub fn new(limit: usize, capacity: usize) -> Queue<J> {
        Queue {
            limit: limit.max(1),
            capacity: capacity.max(1),
            waiting: VecDeque::new(),
            busy: HashSet::new(),
        }
    }

    /// A new cap, for the next start: jobs running past a lower one go
    /// on (nothing is killed for a reload); after a higher one, call
    /// [`start_next`](Self::start_next).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Queues `job` behind every job of its lane. Returns the oldest
    /// waiting job when the queue was full: it is dropped.
    pub fn push(&mut self, lane: Lane, job: J) -> Option<(Lane, J)> {
        let dropped = if self.waiting.len() >= self.capacity {
            self.waiting.pop_front()
        } else {
            None
        };
        self.waiting.push_back((lane, job));
        dropped
    }

    /// The oldest waiting job whose lane is idle, if fewer than `limit`
    /// run: it counts as running from now on.
    pub fn start_next(&mut self) -> Option<(Lane, J)> {
        if self.busy.len() >= self.limit {
            return None;
        }
        // A scan: at most `capacity` entries, and only when a slot is
        // free; an index per lane would not pay for itself at this size.
        let i = self
            .waiting
            .iter()
            .position(|(lane, _)| !self.busy.contains(lane))?;
        let (lane, job) = self.waiting.remove(i)?;
        self.busy.insert(lane);
        Some((lane, job))
    }

    /// The running job of `lane` has ended (or never started): the next
    /// of its lane may go.
    pub fn finish(&mut self, lane: Lane) {
        self.busy.remove(&lane);
    }

    /// Jobs running.
    pub fn running(&self) -> usize {
        self.busy.len()
    }

    /// Jobs waiting for a start.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Takes every waiting job out, oldest first (for a daemon that
    /// stops before they could start).
    pub fn take_waiting(&mut self) -> Vec<(Lane, J)> {
        self.waiting.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vif(n: u8) -> Lane {
        Lane::Vif(VifId::new([192, 0, 2, n].into()))
    }

    /// Everything that may start now.
    fn starts<J>(q: &mut Queue<J>) -> Vec<J> {
        std::iter::from_fn(|| q.start_next().map(|(_, j)| j)).collect()
    }

    #[test]
    fn one_lane_runs_in_order_one_at_a_time() {
        let mut q = Queue::new(8, QUEUE_CAPACITY);
        assert!(q.push(vif(1), "down 1").is_none());
        assert!(q.push(vif(1), "up 1 (first hook)").is_none());
        assert!(q.push(vif(1), "up 1 (second hook)").is_none());
        assert_eq!(starts(&mut q), ["down 1"]);
        assert_eq!((q.running(), q.waiting()), (1, 2));
        // However long the down takes, nothing of its VIF overtakes it.
        assert_eq!(starts(&mut q), Vec::<&str>::new());
        q.finish(vif(1));
        assert_eq!(starts(&mut q), ["up 1 (first hook)"]);
        q.finish(vif(1));
        assert_eq!(starts(&mut q), ["up 1 (second hook)"]);
        q.finish(vif(1));
        assert_eq!((q.running(), q.waiting()), (0, 0));
    }

    #[test]
    fn different_lanes_run_side_by_side() {
        let mut q = Queue::new(8, QUEUE_CAPACITY);
        q.push(vif(1), "down 1");
        q.push(vif(1), "up 1");
        q.push(vif(2), "up 2");
        q.push(Lane::Post, "post down");
        q.push(vif(3), "up 3");
        // A busy lane does not hold up the jobs queued behind it.
        assert_eq!(starts(&mut q), ["down 1", "up 2", "post down", "up 3"]);
        assert_eq!(q.running(), 4);
        q.finish(vif(2));
        assert_eq!(starts(&mut q), Vec::<&str>::new());
        q.finish(vif(1));
        assert_eq!(starts(&mut q), ["up 1"]);
    }

    #[test]
    fn post_events_share_one_lane() {
        let mut q = Queue::new(8, QUEUE_CAPACITY);
        assert_eq!(Lane::of(None), Lane::Post);
        assert_eq!(Lane::of(Some(VifId::new([192, 0, 2, 1].into()))), vif(1));
        q.push(Lane::of(None), "post up");
        q.push(vif(1), "up 1");
        q.push(Lane::of(None), "post down");
        assert_eq!(starts(&mut q), ["post up", "up 1"]);
        q.finish(Lane::Post);
        assert_eq!(starts(&mut q), ["post down"]);
    }

    #[test]
    fn at_most_limit_run_and_the_rest_start_in_queue_order() {
        let mut q = Queue::new(3, QUEUE_CAPACITY);
        for n in 1..=10 {
            q.push(vif(n), n);
        }
        assert_eq!(starts(&mut q), [1, 2, 3]);
        assert_eq!((q.running(), q.waiting()), (3, 7));
        q.finish(vif(2));
        assert_eq!(starts(&mut q), [4]);
        q.finish(vif(1));
        q.finish(vif(3));
        assert_eq!(starts(&mut q), [5, 6]);
        assert_eq!(q.running(), 3);
    }

    #[test]
    fn a_new_limit_applies_to_the_next_start() {
        let mut q = Queue::new(2, QUEUE_CAPACITY);
        for n in 1..=6 {
            q.push(vif(n), n);
        }
        assert_eq!(starts(&mut q), [1, 2]);
        q.set_limit(4);
        assert_eq!(starts(&mut q), [3, 4]);
        // Lowered: the four go on, and nothing starts until fewer than
        // one run.
        q.set_limit(1);
        q.finish(vif(1));
        q.finish(vif(2));
        q.finish(vif(3));
        assert_eq!(starts(&mut q), Vec::<u8>::new());
        q.finish(vif(4));
        assert_eq!(starts(&mut q), [5]);
        q.set_limit(0);
        assert_eq!(q.limit(), 1);
    }

    #[test]
    fn overflow_drops_the_oldest_waiting() {
        let mut q = Queue::new(1, 3);
        q.push(vif(1), 1);
        assert_eq!(starts(&mut q), [1]);
        // Running jobs do not count against the capacity.
        assert!(q.push(vif(1), 2).is_none());
        assert!(q.push(vif(2), 3).is_none());
        assert!(q.push(vif(3), 4).is_none());
        assert_eq!(q.push(vif(4), 5), Some((vif(1), 2)));
        assert_eq!(q.push(vif(1), 6), Some((vif(2), 3)));
        assert_eq!(q.waiting(), 3);
        q.finish(vif(1));
        assert_eq!(starts(&mut q), [4]);
        assert_eq!(q.take_waiting(), [(vif(4), 5), (vif(1), 6)], "oldest first");
        assert_eq!(q.waiting(), 0);
    }
}

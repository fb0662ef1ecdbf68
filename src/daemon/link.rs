//! The group link's life: connecting without blocking, the handshake
//! deadline, reconnecting every `SpreadRetryInterval`, and noticing a
//! loss. It drives one [`Membership`] backend and registers its socket
//! with the loop; what the group says goes back to the node as
//! [`GroupEvent`]s, and a loss as [`Lost`], which the node turns into a
//! release of every VIP.
//!
//! `wackatrl -f` holds the link down ([`Link::hold_down`]) until
//! `wackatrl -s` lets it up again.

use std::time::{Duration, Instant};

use log::{info, warn};
use mio::{Interest, Registry, Token};

use super::timers::{Key, Timers};
use crate::cluster::msg::MessType;
use crate::group::{Delivery, GroupError, GroupEvent, LinkState, Membership, Stage};

/// How long a handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the link went down.
#[derive(Debug)]
pub enum Lost {
    /// The backend failed (the daemon died, a write failed, ...).
    Failed(GroupError),
    /// `wackatrl -f`.
    FailureSimulated,
    /// A reload names another group, Spread daemon or identity.
    Reload,
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Failed(e) => e.fmt(f),
            Lost::FailureSimulated => f.write_str("failure simulated by wackatrl -f"),
            Lost::Reload => f.write_str("reloading with another group, Spread daemon or identity"),
        }
    }
}

pub struct Link {
    backend: Box<dyn Membership>,
    token: Token,
    retry: Duration,
    /// `wackatrl -f`: stay off the group until told otherwise.
    held_down: bool,
    /// A failure seen while sending: handled once the current actions
    /// are done.
    broken: Option<GroupError>,
}

impl Link {
    pub fn new(backend: Box<dyn Membership>, token: Token, retry: Duration) -> Link {
        Link {
            backend,
            token,
            retry,
            held_down: false,
            broken: None,
        }
    }

    pub fn is_up(&self) -> bool {
        self.backend.state() == LinkState::Up
    }

    pub fn is_held_down(&self) -> bool {
        self.held_down
    }

    /// This node's name in the group, while up.
    pub fn me(&self) -> Option<&str> {
        self.backend.me()
    }

    pub fn address(&self) -> String {
        self.backend.address()
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    pub fn group(&self) -> &str {
        self.backend.group()
    }

    pub fn set_retry(&mut self, retry: Duration) {
        self.retry = retry;
    }

    /// Starts connecting, unless held down or already on the way.
    /// Returns what the first step delivered (a local daemon can answer
    /// at once).
    pub fn connect(
        &mut self,
        registry: &Registry,
        timers: &mut Timers,
        out: &mut Vec<GroupEvent>,
    ) -> Option<Lost> {
        if self.held_down || self.backend.state() != LinkState::Down {
            return None;
        }
        self.broken = None;
        if let Err(e) = self.backend.connect() {
            warn!(
                "cannot reach {}: {e}; retrying in {:?}",
                self.describe(),
                self.retry
            );
            self.retry_later(timers);
            return None;
        }
        let token = self.token;
        let registered = match self.backend.source() {
            Some(s) => registry.register(s, token, Interest::READABLE | Interest::WRITABLE),
            None => Ok(()),
        };
        if let Err(e) = registered {
            warn!("cannot watch the {} socket: {e}", self.describe());
            self.backend.close();
            self.retry_later(timers);
            return None;
        }
        timers.set_in(Key::ConnectTimeout, Instant::now(), CONNECT_TIMEOUT);
        self.ready(registry, timers, out)
    }

    /// Serves a readiness event. A handshake that fails is retried later
    /// and is no loss (nothing was joined); a failure once up is.
    pub fn ready(
        &mut self,
        registry: &Registry,
        timers: &mut Timers,
        out: &mut Vec<GroupEvent>,
    ) -> Option<Lost> {
        let was = self.backend.state();
        if was == LinkState::Down {
            return None;
        }
        let result = self.backend.ready(out);
        let joined = out.iter().any(|e| matches!(e, GroupEvent::Joined { .. }));
        if joined {
            timers.cancel(Key::ConnectTimeout);
            info!(
                "connected to {} as {}; joining {}",
                self.describe(),
                self.me().unwrap_or("?"),
                self.group()
            );
        }
        match result {
            Ok(()) => None,
            Err(e) if was == LinkState::Connecting && !joined => {
                self.drop_socket(registry);
                timers.cancel(Key::ConnectTimeout);
                if e.stage == Stage::Join {
                    warn!(
                        "cannot join {}: {e}; retrying in {:?}",
                        self.group(),
                        self.retry
                    );
                } else {
                    warn!(
                        "cannot connect to {}: {e}; retrying in {:?}",
                        self.describe(),
                        self.retry
                    );
                }
                self.retry_later(timers);
                None
            }
            Err(e) => Some(Lost::Failed(e)),
        }
    }

    /// Multicasts one engine message: AGREED, but ARPCACHE (RELIABLE). A
    /// failure is kept for [`take_broken`](Self::take_broken).
    pub fn multicast(&mut self, t: MessType, body: &[u8]) {
        let how = if t == MessType::ArpCache {
            Delivery::Reliable
        } else {
            Delivery::Agreed
        };
        if let Err(e) = self.backend.multicast(how, t as i16, body) {
            // The first failure says why; later ones follow from it.
            self.broken.get_or_insert(e);
        }
    }

    /// A send failure seen since the last call.
    pub fn take_broken(&mut self) -> Option<Lost> {
        self.broken.take().map(Lost::Failed)
    }

    /// The handshake did not finish in time: give up and retry later.
    pub fn connect_timed_out(&mut self, registry: &Registry, timers: &mut Timers) {
        if self.backend.state() == LinkState::Connecting {
            self.drop_socket(registry);
            warn!(
                "{} did not answer within {CONNECT_TIMEOUT:?}; retrying",
                self.backend.system()
            );
            self.retry_later(timers);
        }
    }

    /// After a loss: closes what is left and, unless held down, retries
    /// later.
    pub fn lost(&mut self, registry: &Registry, timers: &mut Timers, why: &Lost) {
        self.drop_socket(registry);
        timers.cancel(Key::ConnectTimeout);
        // One loss, however many sends failed on the way to it.
        self.broken = None;
        warn!("lost {}: {why}", self.backend.system());
        if !self.held_down {
            self.retry_later(timers);
        }
    }

    /// `wackatrl -f`: leave and stay off. Returns false if already so.
    pub fn hold_down(&mut self, timers: &mut Timers) -> bool {
        if self.held_down {
            return false;
        }
        self.held_down = true;
        timers.cancel(Key::Reconnect);
        true
    }

    /// `wackatrl -s`: the hold is over. Returns false if there was none.
    pub fn release_hold(&mut self) -> bool {
        std::mem::replace(&mut self.held_down, false)
    }

    /// Leaves the group cleanly (shutdown, a reload that reconnects).
    pub fn close(&mut self, registry: &Registry, timers: &mut Timers) {
        self.broken = None;
        self.drop_socket(registry);
        timers.cancel(Key::ConnectTimeout);
        timers.cancel(Key::Reconnect);
    }

    /// Replaces the backend (a reload that changes the group, the daemon
    /// or the identity); the old one must be closed.
    pub fn replace(&mut self, backend: Box<dyn Membership>) {
        self.backend = backend;
        self.broken = None;
    }

    fn drop_socket(&mut self, registry: &Registry) {
        if let Some(s) = self.backend.source() {
            let _ = registry.deregister(s);
        }
        self.backend.close();
    }

    fn retry_later(&mut self, timers: &mut Timers) {
        timers.set_in(Key::Reconnect, Instant::now(), self.retry);
    }
}

#[cfg(test)]
mod tests {
    //! The link's life against a scripted backend: no socket, so the
    //! backend has no source to register.

    use std::collections::VecDeque;
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Failure(&'static str);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Failure {}

    /// What the next `ready` does.
    enum Step {
        Events(Vec<GroupEvent>),
        Fail(Stage, Vec<GroupEvent>),
    }

    struct Scripted {
        state: LinkState,
        steps: VecDeque<Step>,
        sends_fail: bool,
        sent: usize,
    }

    impl Membership for Scripted {
        fn system(&self) -> &'static str {
            "Test"
        }
        fn address(&self) -> String {
            "nowhere".into()
        }
        fn describe(&self) -> String {
            "Test at nowhere".into()
        }
        fn group(&self) -> &str {
            "g"
        }
        fn state(&self) -> LinkState {
            self.state
        }
        fn me(&self) -> Option<&str> {
            (self.state == LinkState::Up).then_some("#me#d1")
        }
        fn connect(&mut self) -> Result<(), GroupError> {
            self.state = LinkState::Connecting;
            Ok(())
        }
        fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
            None
        }
        fn ready(&mut self, out: &mut Vec<GroupEvent>) -> Result<(), GroupError> {
            match self.steps.pop_front() {
                None => Ok(()),
                Some(Step::Events(evs)) => {
                    if evs.iter().any(|e| matches!(e, GroupEvent::Joined { .. })) {
                        self.state = LinkState::Up;
                    }
                    out.extend(evs);
                    Ok(())
                }
                Some(Step::Fail(stage, evs)) => {
                    if evs.iter().any(|e| matches!(e, GroupEvent::Joined { .. })) {
                        self.state = LinkState::Up;
                    }
                    out.extend(evs);
                    Err(GroupError::new(stage, Failure("it broke")))
                }
            }
        }
        fn multicast(&mut self, _: Delivery, _: i16, _: &[u8]) -> Result<(), GroupError> {
            self.sent += 1;
            if self.sends_fail {
                Err(GroupError::new(Stage::Session, Failure("write failed")))
            } else {
                Ok(())
            }
        }
        fn close(&mut self) {
            self.state = LinkState::Down;
        }
    }

    fn link(steps: Vec<Step>, sends_fail: bool) -> Link {
        let backend = Scripted {
            state: LinkState::Down,
            steps: steps.into(),
            sends_fail,
            sent: 0,
        };
        Link::new(Box::new(backend), Token(0), Duration::from_secs(1))
    }

    fn joined() -> GroupEvent {
        GroupEvent::Joined {
            me: "#me#d1".into(),
        }
    }

    #[test]
    fn a_handshake_that_fails_is_retried_and_is_no_loss() {
        let poll = mio::Poll::new().unwrap();
        let mut timers = Timers::default();
        for stage in [Stage::Connect, Stage::Join] {
            let mut l = link(vec![Step::Fail(stage, vec![])], false);
            let mut out = Vec::new();
            assert!(l.connect(poll.registry(), &mut timers, &mut out).is_none());
            assert!(out.is_empty());
            assert!(!l.is_up());
            assert!(timers.is_set(Key::Reconnect), "{stage:?}");
            assert!(!timers.is_set(Key::ConnectTimeout));
            timers.cancel(Key::Reconnect);
        }
    }

    #[test]
    fn joined_comes_before_what_was_buffered_and_a_later_failure_is_a_loss() {
        let poll = mio::Poll::new().unwrap();
        let mut timers = Timers::default();
        let view = GroupEvent::Transition;
        let mut l = link(
            vec![Step::Fail(Stage::Session, vec![joined(), view])],
            false,
        );
        let mut out = Vec::new();
        let lost = l.connect(poll.registry(), &mut timers, &mut out);
        assert_eq!(out, [joined(), GroupEvent::Transition]);
        assert!(matches!(lost, Some(Lost::Failed(_))), "{lost:?}");
        assert!(!timers.is_set(Key::ConnectTimeout), "joined in time");
    }

    #[test]
    fn one_loss_however_many_sends_failed_on_the_way() {
        let poll = mio::Poll::new().unwrap();
        let mut timers = Timers::default();
        let mut l = link(vec![Step::Events(vec![joined()])], true);
        let mut out = Vec::new();
        assert!(l.connect(poll.registry(), &mut timers, &mut out).is_none());
        assert!(l.is_up());
        // The engine answers a view, the send fails, and the read that
        // follows finds the link gone: the node handles that loss...
        l.multicast(MessType::State, b"x");
        l.multicast(MessType::Balance, b"y");
        let why = Lost::Failed(GroupError::new(Stage::Session, Failure("reset")));
        l.lost(poll.registry(), &mut timers, &why);
        // ...and no second one for the failed sends.
        assert!(l.take_broken().is_none());
        assert!(!l.is_up());
        assert!(timers.is_set(Key::Reconnect));
    }

    #[test]
    fn a_failed_send_is_one_loss_after_the_batch() {
        let poll = mio::Poll::new().unwrap();
        let mut timers = Timers::default();
        let mut l = link(vec![Step::Events(vec![joined()])], true);
        let mut out = Vec::new();
        l.connect(poll.registry(), &mut timers, &mut out);
        l.multicast(MessType::State, b"x");
        l.multicast(MessType::State, b"y");
        let lost = l.take_broken();
        assert_eq!(lost.map(|l| l.to_string()).as_deref(), Some("write failed"));
        assert!(l.take_broken().is_none());
    }

    #[test]
    fn a_held_down_link_stays_down_until_released() {
        let poll = mio::Poll::new().unwrap();
        let mut timers = Timers::default();
        let mut l = link(vec![Step::Events(vec![joined()])], false);
        timers.set_in(Key::Reconnect, Instant::now(), Duration::from_secs(1));
        assert!(l.hold_down(&mut timers));
        assert!(!l.hold_down(&mut timers), "already held");
        assert!(!timers.is_set(Key::Reconnect));
        let mut out = Vec::new();
        l.connect(poll.registry(), &mut timers, &mut out);
        assert!(out.is_empty() && !l.is_up());
        l.lost(poll.registry(), &mut timers, &Lost::FailureSimulated);
        assert!(!timers.is_set(Key::Reconnect), "no retry while held");
        assert!(l.release_hold());
        l.connect(poll.registry(), &mut timers, &mut out);
        assert_eq!(out, [joined()]);
        assert!(l.is_up());
    }
}

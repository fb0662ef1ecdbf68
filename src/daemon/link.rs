//! The group link's life: connecting without blocking, the handshake
//! deadline, reconnecting every `SpreadRetryInterval`, and noticing a
//! loss. It drives one [`Membership`] backend and registers its socket
//! with the loop; what the group says goes back to the node as
//! [`GroupEvent`]s, and a loss as [`Lost`], which the node turns into a
//! release of every VIP.
//!
//! `wackatrl -f` holds the link down ([`Link::hold_down`]) until
//! `wackatrl -s` lets it up again, and so does a health check that is
//! down until the checks pass (`health::Gate` decides which).
//!
//! With `SharedSecretFile` the link seals what it sends and opens what
//! arrives (`auth`): a message that does not verify never becomes an
//! event, so the engine only ever sees the group's own members.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::{Interest, Registry, Token};

use super::timers::{Key, Timers};
use crate::auth::{self, Keys, Unsealed};
use crate::cluster::msg::MessType;
use crate::group::{Delivery, GroupError, GroupEvent, LinkState, Membership, Stage};
use crate::trust::Owners;

/// How long a handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the link went down.
#[derive(Debug)]
pub enum Lost {
    /// The backend failed (the daemon died, a write failed, ...).
    Failed(GroupError),
    /// `wackatrl -f`.
    FailureSimulated,
    /// A health check is down.
    CheckDown,
    /// A reload names another group, Spread daemon or identity.
    Reload,
}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Failed(e) => e.fmt(f),
            Lost::FailureSimulated => f.write_str("failure simulated by wackatrl -f"),
            Lost::CheckDown => f.write_str("left because a health check is down"),
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
    /// The group's keys, when it is authenticated.
    keys: Option<Keys>,
    /// The current view's group id: part of every tag.
    view: [u32; 3],
    /// The view before it: a sender that had not seen the new view yet
    /// tagged with this one (its daemon had moved on).
    prev_view: [u32; 3],
    /// Senders whose unauthenticated messages were logged in this view.
    unsealed_logged: HashSet<String>,
    /// The last failure to connect that was logged: the same one again
    /// at every retry (a Spread that is down, a socket refused for its
    /// owner) is logged once, until the link comes up or it changes.
    last_failure: Option<String>,
}

impl Link {
    pub fn new(backend: Box<dyn Membership>, token: Token, retry: Duration) -> Link {
        Link {
            backend,
            token,
            retry,
            held_down: false,
            broken: None,
            keys: None,
            view: [0; 3],
            prev_view: [0; 3],
            unsealed_logged: HashSet::new(),
            last_failure: None,
        }
    }

    /// Who may own and serve a local group socket, from the next
    /// connect on (`SpreadUser`, after a reload).
    pub fn set_owners(&mut self, owners: Owners) {
        self.backend.set_owners(owners);
    }

    /// Logs a failure to connect, unless it is the one logged last.
    fn connect_failed(&mut self, text: String) {
        if self.last_failure.as_deref() == Some(text.as_str()) {
            debug!("{text}");
        } else {
            warn!("{text}");
            self.last_failure = Some(text);
        }
    }

    /// Authenticates the group with `keys` from now on (`None`: not).
    pub fn set_keys(&mut self, keys: Option<Keys>) {
        self.keys = keys;
    }

    /// Opens sealed messages, drops what does not verify, and notes the
    /// view, for the events from `from` on.
    fn check(&mut self, out: &mut Vec<GroupEvent>, from: usize) {
        let mut kept = Vec::with_capacity(out.len() - from);
        for ev in out.drain(from..) {
            match ev {
                GroupEvent::View(ref v) => {
                    self.prev_view = std::mem::replace(&mut self.view, v.id);
                    self.unsealed_logged.clear();
                    kept.push(ev);
                }
                GroupEvent::Message {
                    sender,
                    mess_type,
                    swapped,
                    delivered,
                    body,
                } => {
                    let opened = match &self.keys {
                        Some(k) => k
                            .open(mess_type, self.view, &sender, &body)
                            .or_else(|_| k.open(mess_type, self.prev_view, &sender, &body))
                            .map(|(t, b)| (t, b.to_vec())),
                        None if auth::is_sealed(mess_type) => Err(Unsealed::BadTag),
                        None => Ok((mess_type, body)),
                    };
                    match opened {
                        Ok((mess_type, body)) => kept.push(GroupEvent::Message {
                            sender,
                            mess_type,
                            swapped,
                            delivered,
                            body,
                        }),
                        Err(why) => self.unsealed(&sender, why),
                    }
                }
                ev => kept.push(ev),
            }
        }
        out.extend(kept);
    }

    fn unsealed(&mut self, sender: &str, why: Unsealed) {
        if !self.unsealed_logged.insert(sender.to_string()) {
            return;
        }
        let text = match (why, self.keys.is_some()) {
            (Unsealed::Plain, _) => "sends unauthenticated messages",
            (Unsealed::BadTag, true) => "sends messages no key of SharedSecretFile verifies",
            (Unsealed::BadTag, false) => {
                "sends authenticated messages, and this node has no SharedSecretFile"
            }
        };
        warn!("{sender} {text}: ignored in this view");
    }

    pub fn is_up(&self) -> bool {
        self.backend.state() == LinkState::Up
    }

    /// Deliveries may be waiting that the last batch left (see
    /// [`Membership::backlog`]).
    pub fn backlog(&self) -> bool {
        self.backend.backlog()
    }

    /// When to serve the backend again without an event (a join or send
    /// its group system refused for now; see [`Membership::retry_in`]).
    pub fn retry_in(&self) -> Option<Duration> {
        self.backend.retry_in()
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
            self.connect_failed(format!(
                "cannot reach {}: {e}; retrying in {:?}",
                self.describe(),
                self.retry
            ));
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
        let from = out.len();
        let result = self.backend.ready(out);
        self.check(out, from);
        let joined = out.iter().any(|e| matches!(e, GroupEvent::Joined { .. }));
        if joined {
            timers.cancel(Key::ConnectTimeout);
            self.last_failure = None;
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
                let text = if e.stage == Stage::Join {
                    format!(
                        "cannot join {}: {e}; retrying in {:?}",
                        self.group(),
                        self.retry
                    )
                } else {
                    format!(
                        "cannot connect to {}: {e}; retrying in {:?}",
                        self.describe(),
                        self.retry
                    )
                };
                self.connect_failed(text);
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
        let sealed;
        let (mess_type, body) = match (&self.keys, self.backend.me()) {
            (Some(k), Some(me)) => {
                sealed = k.seal(t as i16, self.view, me, body);
                (sealed.0, &sealed.1[..])
            }
            _ => (t as i16, body),
        };
        if let Err(e) = self.backend.multicast(how, mess_type, body) {
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

    /// What the backend was asked to send: (type, body).
    type Sent = std::rc::Rc<std::cell::RefCell<Vec<(i16, Vec<u8>)>>>;

    /// What the next `ready` does.
    enum Step {
        Events(Vec<GroupEvent>),
        Fail(Stage, Vec<GroupEvent>),
    }

    struct Scripted {
        state: LinkState,
        steps: VecDeque<Step>,
        sends_fail: bool,
        sent: Sent,
    }

    impl Membership for Scripted {
        fn system(&self) -> &'static str {
            "Test"
        }
        fn address(&self) -> String {
            "nowhere".into()
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
        fn set_owners(&mut self, _: Owners) {}
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
        fn multicast(&mut self, _: Delivery, t: i16, body: &[u8]) -> Result<(), GroupError> {
            self.sent.borrow_mut().push((t, body.to_vec()));
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
        link_sent(steps, sends_fail).0
    }

    fn link_sent(steps: Vec<Step>, sends_fail: bool) -> (Link, Sent) {
        let sent = Sent::default();
        let backend = Scripted {
            state: LinkState::Down,
            steps: steps.into(),
            sends_fail,
            sent: sent.clone(),
        };
        (
            Link::new(Box::new(backend), Token(0), Duration::from_secs(1)),
            sent,
        )
    }

    fn keys(k: &str) -> Keys {
        Keys::parse(k.as_bytes(), std::path::Path::new("k")).unwrap()
    }

    fn message(sender: &str, mess_type: i16, body: &[u8]) -> GroupEvent {
        GroupEvent::Message {
            sender: sender.into(),
            mess_type,
            swapped: false,
            delivered: crate::group::Delivered::Agreed,
            body: body.to_vec(),
        }
    }

    #[test]
    fn an_authenticated_link_seals_what_it_sends_and_drops_what_does_not_open() {
        let poll = mio::Poll::new().unwrap();
        let mut timers = Timers::default();
        let ours = keys("the group's key, 16+ bytes");
        let id = [5, 6, 7];
        let view = GroupEvent::View(crate::group::View {
            id,
            members: vec!["#me#d1".into(), "#b#d2".into()],
            my_index: 0,
            cause: crate::group::Cause::Join,
        });
        let (t, good) = ours.seal(1, id, "#b#d2", b"a STATE");
        let (_, forged) = keys("somebody else's key!").seal(1, id, "#b#d2", b"forged");
        let (_, old_view) = ours.seal(1, [5, 6, 6], "#b#d2", b"older view");
        let (_, stolen) = ours.seal(1, id, "#b#d2", b"replayed by another");
        let steps = vec![Step::Events(vec![
            joined(),
            view,
            message("#b#d2", t, &good),
            message("#x#d9", 1, b"plain"),
            message("#b#d2", t, &forged),
            message("#c#d3", t, &stolen),
            message("#b#d2", t, &old_view),
        ])];
        let (mut l, sent) = link_sent(steps, false);
        l.set_keys(Some(ours.clone()));
        let mut out = Vec::new();
        assert!(l.connect(poll.registry(), &mut timers, &mut out).is_none());
        let msgs: Vec<(String, i16, Vec<u8>)> = out
            .iter()
            .filter_map(|e| match e {
                GroupEvent::Message {
                    sender,
                    mess_type,
                    body,
                    ..
                } => Some((sender.clone(), *mess_type, body.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(msgs, [("#b#d2".to_string(), 1, b"a STATE".to_vec())]);
        // What it sends is sealed with this view and its own name.
        l.multicast(MessType::State, b"mine");
        let (t, body) = sent.borrow()[0].clone();
        assert_eq!(ours.open(t, id, "#me#d1", &body), Ok((1, &b"mine"[..])));
        // Without keys, sealed messages are not taken for plain ones.
        let (mut plain, _) = link_sent(
            vec![Step::Events(vec![joined(), message("#b#d2", t, &good)])],
            false,
        );
        let mut out = Vec::new();
        plain.connect(poll.registry(), &mut timers, &mut out);
        assert_eq!(out, [joined()]);
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

//! One wackamole node: the `mio` loop and its dispatch. Readiness on the
//! group socket becomes group events for the engine, signals stop or
//! reload, control requests are answered from the status snapshot, and
//! due timers go to the engine, the link or the executor. Every engine
//! decision is carried out by the executor; the rooms beside this one
//! say how (`link`, `executor`, `reload`, `status`).

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use log::{error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::executor::{Env, Executor, CHECK_HELD};
use super::link::{Link, Lost};
use super::sdnotify::SdNotify;
use super::timers::{Key, Timers};
use super::{Options, StartError};
use crate::cluster::engine::{Action, Engine, Event, Settings};
use crate::config::Config;
use crate::control::{self, Request};
use crate::group::spread::SpreadLink;
use crate::group::{GroupEvent, Membership};
use crate::health::{Gate, Runner};
use crate::net::identity;
use crate::trust::Owners;

const GROUP: Token = Token(0);
const SIGNALS: Token = Token(1);
const CONTROL: Token = Token(2);
const CONTROL_SESSIONS: usize = 100;

/// A running node.
pub struct Node {
    pub(super) cfg: Config,
    pub(super) opts: Options,
    pub(super) me: Ipv4Addr,
    /// Which rule chose `me`, for the status.
    pub(super) me_source: String,
    pub(super) engine: Engine,
    pub(super) link: Link,
    pub(super) exec: Executor,
    pub(super) poll: Poll,
    pub(super) timers: Timers,
    /// The health checks' runs.
    pub(super) checks: Runner,
    /// Whether the node may be in its group: `wackatrl -f`/`-s` and
    /// the checks (see `health`).
    pub(super) gate: Gate,
    signals: SignalFd,
    control: Option<control::Server>,
    stop: bool,
    pub(super) systemd: Option<SdNotify>,
    /// The last STATUS= sent to systemd.
    pub(super) systemd_status: String,
}

/// The group backend a configuration names (`Membership =`; for
/// Spread `-s` and `-u` win), trusting a local socket of `owners`' only.
pub(super) fn backend(cfg: &Config, opts: &Options, owners: Owners) -> Box<dyn Membership> {
    #[cfg(feature = "corosync")]
    if cfg.membership() == crate::config::Backend::Corosync {
        return Box::new(crate::group::corosync::CorosyncLink::new(
            cfg.group().to_string(),
            owners,
        ));
    }
    let addr = opts.spread.clone().unwrap_or_else(|| cfg.spread().clone());
    let user = opts.user.clone().unwrap_or_else(super::default_user);
    Box::new(SpreadLink::new(addr, user, cfg.group().to_string(), owners))
}

impl Node {
    pub fn start(cfg: Config, opts: Options) -> Result<Node, StartError> {
        let owners = super::spread_owners(&cfg).map_err(StartError::SpreadUser)?;
        let (me, source) =
            identity::for_config(opts.node_address, &cfg).map_err(StartError::Identity)?;
        info!("this node is {me} ({source})");
        let exec = Executor::new(&cfg, me)?;
        let poll = Poll::new().map_err(|e| StartError::Setup("poll", e))?;
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGQUIT,
            Signal::SIGHUP,
        ] {
            mask.add(s);
        }
        mask.thread_block()
            .map_err(|e| StartError::Setup("blocking signals", e.into()))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| StartError::Setup("signalfd", e.into()))?;
        poll.registry()
            .register(
                &mut SourceFd(&signals.as_raw_fd()),
                SIGNALS,
                Interest::READABLE,
            )
            .map_err(|e| StartError::Setup("poll", e))?;
        let access =
            control::Access::resolve(cfg.control_group()).map_err(StartError::ControlGroup)?;
        let mut server =
            control::Server::bind(&opts.control, access).map_err(StartError::Control)?;
        server
            .register(poll.registry(), CONTROL, CONTROL_SESSIONS)
            .map_err(|e| StartError::Setup("control socket", e))?;
        info!(
            "control socket {} ({})",
            opts.control.display(),
            server.access()
        );
        let keys = super::load_keys(&cfg).map_err(StartError::Keys)?;
        if let (Some(k), Some(p)) = (&keys, cfg.shared_secret_file()) {
            info!(
                "the group is authenticated: {} key(s) from {}",
                k.count(),
                p.display()
            );
        }
        let mut link = Link::new(
            backend(&cfg, &opts, owners),
            GROUP,
            cfg.spread_retry_interval(),
        );
        link.set_keys(keys);
        let checks = Runner::new(cfg.checks(), Instant::now());
        let mut node = Node {
            gate: Gate::new(checks.verdict()),
            checks,
            engine: Engine::new(Settings::new(&cfg, me)),
            cfg,
            opts,
            me,
            me_source: source.to_string(),
            link,
            exec,
            poll,
            timers: Timers::default(),
            signals,
            control: Some(server),
            stop: false,
            systemd: SdNotify::from_env(),
            systemd_status: String::new(),
        };
        node.exec.prepare(&node.cfg);
        node.start_checks();
        node.connect();
        node.timers
            .set_in(Key::CheckHeld, Instant::now(), CHECK_HELD);
        Ok(node)
    }

    pub fn run(&mut self) {
        if let Some(n) = &self.systemd {
            n.send("READY=1");
        }
        let mut events = Events::with_capacity(64);
        while !self.stop {
            let now = Instant::now();
            // A batch left deliveries behind: look at the other sources,
            // but do not sleep.
            let timeout = if self.link.backlog() {
                Some(Duration::ZERO)
            } else {
                match (self.timers.timeout(now), self.link.retry_in()) {
                    (Some(t), Some(r)) => Some(t.min(r)),
                    (t, r) => t.or(r),
                }
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    error!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            let mut group_served = false;
            for ev in events.iter() {
                match ev.token() {
                    GROUP => {
                        group_served = true;
                        self.group_ready();
                    }
                    SIGNALS => self.signals_ready(),
                    t => self.control_ready(t, ev.is_writable()),
                }
                if self.stop {
                    break;
                }
            }
            if !group_served
                && !self.stop
                && (self.link.backlog() || self.link.retry_in().is_some())
            {
                self.group_ready();
            }
            self.after_events();
            // Timers run after the sockets are served, as in C.
            for k in self.timers.take_due(Instant::now()) {
                if self.stop {
                    // A signal asked to stop: re-adding or announcing now
                    // would only be undone.
                    break;
                }
                self.timer(k);
                self.after_events();
            }
        }
        self.shutdown();
    }

    fn after_events(&mut self) {
        if let Some(lost) = self.link.take_broken() {
            self.lose(lost);
        }
        self.tell_systemd();
    }

    // ---- the group ---------------------------------------------------------

    pub(super) fn connect(&mut self) {
        let mut events = Vec::new();
        let lost = self
            .link
            .connect(self.poll.registry(), &mut self.timers, &mut events);
        self.group_events(events, lost);
    }

    fn group_ready(&mut self) {
        let mut events = Vec::new();
        let lost = self
            .link
            .ready(self.poll.registry(), &mut self.timers, &mut events);
        self.group_events(events, lost);
    }

    fn group_events(&mut self, events: Vec<GroupEvent>, lost: Option<Lost>) {
        for ev in events {
            let acts = match ev {
                GroupEvent::Joined { me } => {
                    self.engine.handle(Event::Connected { private_group: &me })
                }
                GroupEvent::View(v) => self.engine.handle(Event::View(v)),
                GroupEvent::Transition => self.engine.handle(Event::Transition),
                GroupEvent::Message {
                    sender,
                    mess_type,
                    swapped,
                    delivered,
                    body,
                } => self.engine.handle(Event::Message {
                    sender: &sender,
                    mess_type,
                    swapped,
                    delivered,
                    body: &body,
                }),
            };
            self.execute(acts);
        }
        if let Some(lost) = lost {
            self.lose(lost);
        }
    }

    /// The link is gone: release everything; the link retries later.
    pub(super) fn lose(&mut self, why: Lost) {
        self.link.lost(self.poll.registry(), &mut self.timers, &why);
        let acts = self.engine.handle(Event::Disconnected);
        self.execute(acts);
    }

    /// The executor, and what it may touch of the node.
    fn executor(&mut self) -> (&mut Executor, Env<'_>) {
        let env = Env {
            cfg: &self.cfg,
            engine: &self.engine,
            timers: &mut self.timers,
            link: &mut self.link,
        };
        (&mut self.exec, env)
    }

    pub(super) fn execute(&mut self, actions: Vec<Action>) {
        let (exec, mut env) = self.executor();
        exec.execute(actions, &mut env);
    }

    /// After a reload: `ArpRefresh` on, off or at its new interval.
    pub(super) fn reconfigure_refresh(&mut self) {
        let (exec, mut env) = self.executor();
        exec.reconfigure_refresh(&mut env);
    }

    /// For a reload's releases, under the configuration they were made
    /// for (see `Executor::run`).
    pub(super) fn run_under_old_config(&mut self, actions: Vec<Action>) {
        let (exec, mut env) = self.executor();
        exec.run(actions, &mut env);
    }

    // ---- timers and signals ------------------------------------------------

    fn timer(&mut self, k: Key) {
        match k {
            Key::Engine(t) => {
                let acts = self.engine.handle(Event::Timer(t));
                self.execute(acts);
            }
            Key::Reconnect => self.connect(),
            Key::ConnectTimeout => self
                .link
                .connect_timed_out(self.poll.registry(), &mut self.timers),
            Key::NotifyTick => self.exec.notify_tick(&mut self.timers),
            Key::ArpRefresh => self.exec.refresh_tick(&mut self.timers),
            Key::Hooks => self.exec.reap_hooks(&mut self.timers),
            Key::CheckHeld => {
                let (exec, mut env) = self.executor();
                exec.check_held(&mut env);
                self.timers
                    .set_in(Key::CheckHeld, Instant::now(), CHECK_HELD);
            }
            Key::ControlDeadline => {
                if let Some(server) = self.control.as_mut() {
                    server.expire(Instant::now());
                }
                self.arm_control_deadline();
            }
            Key::Checks => self.poll_checks(),
        }
    }

    fn signals_ready(&mut self) {
        loop {
            match self.signals.read_signal() {
                Ok(Some(info)) => match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGHUP) => {
                        info!("SIGHUP: reloading {}", self.cfg.file().display());
                        let _ = self.reload();
                    }
                    Ok(s) => {
                        info!("{s}: releasing every VIP and stopping");
                        self.stop = true;
                    }
                    Err(_) => {}
                },
                Ok(None) => return,
                Err(e) => {
                    warn!("reading signals: {e}");
                    return;
                }
            }
        }
    }

    // ---- the control socket ------------------------------------------------

    fn control_ready(&mut self, t: Token, writable: bool) {
        let Some(server) = self.control.as_mut() else {
            return;
        };
        if !server.owns(t) {
            return;
        }
        let now = Instant::now();
        let requests = server.ready(t, self.poll.registry(), now);
        if writable {
            server.writable(t, now);
        }
        for (session, req) in requests {
            let reply = self.answer(req);
            if let Some(server) = self.control.as_mut() {
                server.reply(session, &reply, Instant::now());
            }
        }
        self.arm_control_deadline();
    }

    /// One timer for the earliest session deadline (none without
    /// sessions): an idle daemon does not wake for the control socket.
    pub(super) fn arm_control_deadline(&mut self) {
        match self.control.as_ref().and_then(|s| s.next_deadline()) {
            Some(at) => self.timers.set(Key::ControlDeadline, at),
            None => self.timers.cancel(Key::ControlDeadline),
        }
    }

    /// Applies a reload's control socket policy (`ControlGroup`); a
    /// socket that cannot take it keeps the old one, with an error.
    pub(super) fn set_control_access(&mut self, access: control::Access) -> Option<String> {
        let server = self.control.as_mut()?;
        if server.access() == &access {
            return None;
        }
        let shown = server.path().display().to_string();
        match server.set_access(access) {
            Ok(()) => {
                let what = format!("control socket {shown}: {}", server.access());
                info!("{what}");
                self.arm_control_deadline();
                Some(what)
            }
            Err(e) => {
                error!("{e}; it keeps {}", server.access());
                Some(format!("{e}; it keeps {}", server.access()))
            }
        }
    }

    fn answer(&mut self, req: Request) -> Vec<u8> {
        match req {
            Request::GetState => control::encode_state(&self.snapshot()),
            Request::StatusJson => control::encode_status(&self.snapshot()),
            Request::Failure => {
                self.simulate_failure();
                control::encode_ack().to_vec()
            }
            Request::Success => match self.end_failure() {
                Ok(()) => control::encode_ack().to_vec(),
                Err(_) => control::encode_refused().to_vec(),
            },
            Request::Reload => match self.reload() {
                Ok(m) => control::encode_reload(true, &m),
                Err(e) => control::encode_reload(false, &e.to_string()),
            },
        }
    }

    // ---- the end -----------------------------------------------------------

    fn shutdown(&mut self) {
        if let Some(n) = &self.systemd {
            n.send("STOPPING=1");
        }
        self.checks.stop(Instant::now());
        let acts = self.engine.handle(Event::Shutdown);
        self.execute(acts);
        self.exec.remove_leftovers(&self.cfg);
        self.link.close(self.poll.registry(), &mut self.timers);
        if let Some(server) = self.control.take() {
            server.remove();
        }
        self.exec.wait_for_hooks(&mut self.timers);
        info!("stopped");
    }
}

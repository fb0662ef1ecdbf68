//! One wackamole node: the event loop and the executor of the engine's
//! actions.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::timers::{Key, Timers};
use super::{Options, StartError};
use crate::cluster::engine::{self, Action, Engine, Event, Level, Settings, View};
use crate::cluster::msg::{self, MessType};
use crate::config::HookEvent;
use crate::config::{self, Config, VipAddr};
use crate::control::{self, Request, Snapshot};
use crate::hooks::{self, HookVif, Hooks};
use crate::net::announce::Announcer;
use crate::net::arpcache::{self, SharedCache};
use crate::net::identity;
use crate::net::ifaddr::{self, Acquired, Interfaces, Interfaces6, Released};
use crate::net::notify::{Announce, Scheduler};
use crate::spread::addr::SpreadAddr;
use crate::spread::client::{Client, Connecting};
use crate::spread::wire::message::Message;
use crate::spread::wire::service;

const SPREAD: Token = Token(0);
const SIGNALS: Token = Token(1);
const CONTROL: Token = Token(2);
const CONTROL_SESSIONS: usize = 100;

/// How long a Spread handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Rounds of neighbour notification are a second apart.
const NOTIFY_TICK: Duration = Duration::from_secs(1);
/// Ticks between the end of an announcement and its repeat: past the
/// neighbours' 1 s ARP `locktime`, so the repeat lands if the first was
/// ignored.
const REANNOUNCE_GAP: u32 = 2;
/// How often held addresses are checked and put back if missing (an
/// acquire that failed, an `ip addr flush` by hand).
const CHECK_HELD: Duration = Duration::from_secs(5);

enum Link {
    /// Not connected; a reconnect is due (or a simulated failure holds).
    Down,
    Connecting(Connecting),
    Up(Client),
}

/// A running node.
pub struct Node {
    cfg: Config,
    opts: Options,
    me: Ipv4Addr,
    /// Which rule chose `me`, for the status.
    me_source: String,
    engine: Engine,
    link: Link,
    poll: Poll,
    timers: Timers,
    signals: SignalFd,
    ifs: Interfaces,
    ifs6: Interfaces6,
    announcer: Announcer,
    scheduler: Scheduler,
    cache: SharedCache,
    arp_round: u64,
    promoted: HashSet<String>,
    /// Held addresses that could not be brought up, with the last error
    /// logged for each (so a retry that fails alike stays quiet).
    missing: HashMap<IpAddr, String>,
    /// `wackatrl -f`: stay off Spread until `-s`.
    failure_simulated: bool,
    stop: bool,
    /// A Spread error seen while executing actions: handled after them.
    link_broken: Option<String>,
    control: Option<control::Server>,
    last_change: Option<String>,
    hooks: Hooks,
    systemd: Option<super::sdnotify::SdNotify>,
    /// The last STATUS= sent to systemd.
    status: String,
}

fn spread_addr(cfg: &Config, opts: &Options) -> SpreadAddr {
    opts.spread.clone().unwrap_or_else(|| cfg.spread().clone())
}

impl Node {
    pub fn start(cfg: Config, opts: Options) -> Result<Node, StartError> {
        let vips: Vec<Ipv4Addr> = cfg
            .vifs()
            .iter()
            .flat_map(|v| v.v4().map(|a| a.addr))
            .collect();
        let (me, source) = identity::identify(opts.node_address, cfg.node_address(), &vips)
            .map_err(|e| StartError::Identity(e.to_string()))?;
        info!("this node is {me} ({source})");
        let setup = |e: ifaddr::IfError| StartError::Setup(e.to_string());
        let ifs = Interfaces::open().map_err(setup)?;
        let ifs6 = Interfaces6::open().map_err(setup)?;
        let announcer = Announcer::new().map_err(setup)?;
        let poll = Poll::new().map_err(|e| StartError::Setup(format!("poll: {e}")))?;
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
            .map_err(|e| StartError::Setup(format!("blocking signals: {e}")))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| StartError::Setup(format!("signalfd: {e}")))?;
        poll.registry()
            .register(
                &mut SourceFd(&signals.as_raw_fd()),
                SIGNALS,
                Interest::READABLE,
            )
            .map_err(|e| StartError::Setup(format!("poll: {e}")))?;
        let engine = Engine::new(Settings::new(&cfg, me));
        let hooks = Hooks::new(
            cfg.hooks(),
            cfg.perl_use_lib(),
            cfg.perl_use(),
            hooks::DEFAULT_LIMIT,
        );
        let mut node = Node {
            cfg,
            opts,
            me,
            me_source: source.to_string(),
            engine,
            link: Link::Down,
            poll,
            timers: Timers::default(),
            signals,
            ifs,
            ifs6,
            announcer,
            scheduler: Scheduler::repeating(REANNOUNCE_GAP),
            cache: SharedCache::new(),
            arp_round: 0,
            promoted: HashSet::new(),
            missing: HashMap::new(),
            failure_simulated: false,
            stop: false,
            link_broken: None,
            last_change: None,
            control: None,
            hooks,
            systemd: super::sdnotify::SdNotify::from_env(),
            status: String::new(),
        };
        let mut server = control::Server::bind(&node.opts.control)
            .map_err(|e| StartError::Control(e.to_string()))?;
        server
            .register(node.poll.registry(), CONTROL, CONTROL_SESSIONS)
            .map_err(|e| StartError::Control(e.to_string()))?;
        info!("control socket {}", node.opts.control.display());
        node.control = Some(server);
        node.prepare_interfaces();
        node.connect();
        node.timers
            .set_in(Key::CheckHeld, Instant::now(), CHECK_HELD);
        Ok(node)
    }

    /// At start: promote_secondaries on every VIF interface, and no VIP
    /// left behind by a crashed run.
    fn prepare_interfaces(&mut self) {
        let vifs: Vec<config::Vif> = self.cfg.vifs().to_vec();
        for v in &vifs {
            for a in &v.addrs {
                self.promote(a.ifname());
            }
        }
        let v4: Vec<&config::IfAddr> = vifs.iter().flat_map(|v| v.v4()).collect();
        for (a, r) in self.ifs.remove_stale(&v4) {
            match r {
                Ok(Released::Removed { label }) => {
                    info!("removed {a} from {label}: left by an earlier run")
                }
                Ok(Released::OnBaseInterface { ifname }) => warn!(
                    "{a} is configured as a VIP but is {ifname}'s own address: leaving it alone"
                ),
                Ok(Released::NotPresent) => {}
                Err(e) => warn!("removing stale {a}: {e}"),
            }
        }
        for v in &vifs {
            for a in v.v6() {
                let _ = self.ifs6.release(&a.ifname, a.addr, a.prefix);
            }
        }
    }

    fn promote(&mut self, ifname: &str) {
        if self.promoted.insert(ifname.to_string()) {
            match ifaddr::promote_secondaries(ifname) {
                Ok(true) => info!("turned promote_secondaries on for {ifname}"),
                Ok(false) => {}
                Err(e) => warn!("cannot turn promote_secondaries on for {ifname}: {e}"),
            }
        }
    }

    pub fn run(&mut self) {
        if let Some(n) = &self.systemd {
            n.send("READY=1");
        }
        let mut events = Events::with_capacity(64);
        while !self.stop {
            let now = Instant::now();
            let timeout = self.timers.timeout(now);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    error!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            for ev in events.iter() {
                match ev.token() {
                    SPREAD => self.spread_ready(),
                    SIGNALS => self.signals_ready(),
                    t => self.control_ready(t, ev.is_writable()),
                }
                if self.stop {
                    break;
                }
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
        if let Some(why) = self.link_broken.take() {
            self.lose_link(&why);
        }
        if self.systemd.is_some() {
            let snap = self.snapshot();
            let held = snap.vifs.iter().filter(|v| v.held_here).count();
            let status = format!(
                "{}, holding {held} of {} VIFs, {} members",
                snap.state,
                snap.vifs.len(),
                snap.members.len()
            );
            if status != self.status {
                if let Some(n) = &self.systemd {
                    n.send(&format!("STATUS={status}"));
                }
                self.status = status;
            }
        }
    }

    // ---- Spread ---------------------------------------------------------

    fn connect(&mut self) {
        if self.failure_simulated {
            return;
        }
        let addr = spread_addr(&self.cfg, &self.opts);
        let user = self.opts.user.clone().unwrap_or_else(super::default_user);
        match Connecting::start(&addr, &user, true) {
            Ok(mut c) => {
                if let Err(e) = self.poll.registry().register(
                    c.socket(),
                    SPREAD,
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    warn!("cannot watch the Spread socket: {e}");
                    self.retry_later();
                    return;
                }
                self.timers
                    .set_in(Key::ConnectTimeout, Instant::now(), CONNECT_TIMEOUT);
                self.link = Link::Connecting(c);
                self.spread_ready();
            }
            Err(e) => {
                warn!(
                    "cannot reach Spread at {addr}: {e}; retrying in {:?}",
                    self.cfg.spread_retry_interval()
                );
                self.retry_later();
            }
        }
    }

    fn retry_later(&mut self) {
        self.link = Link::Down;
        self.timers.set_in(
            Key::Reconnect,
            Instant::now(),
            self.cfg.spread_retry_interval(),
        );
    }

    fn spread_ready(&mut self) {
        match std::mem::replace(&mut self.link, Link::Down) {
            Link::Down => {}
            Link::Connecting(mut c) => match c.advance() {
                Ok(false) => self.link = Link::Connecting(c),
                Ok(true) => {
                    self.timers.cancel(Key::ConnectTimeout);
                    let mut client = c.finish();
                    let pg = client.private_group().to_string();
                    info!(
                        "connected to Spread at {} as {pg}; joining {}",
                        spread_addr(&self.cfg, &self.opts),
                        self.cfg.group()
                    );
                    if let Err(e) = client.join(self.cfg.group()) {
                        let _ = self.poll.registry().deregister(client.socket());
                        warn!("cannot join {}: {e}", self.cfg.group());
                        self.retry_later();
                        return;
                    }
                    self.link = Link::Up(client);
                    let acts = self.engine.handle(Event::Connected { private_group: &pg });
                    self.execute(acts);
                    // Deliveries may already be buffered.
                    self.spread_ready();
                }
                Err(e) => {
                    let _ = self.poll.registry().deregister(c.socket());
                    self.timers.cancel(Key::ConnectTimeout);
                    warn!(
                        "cannot connect to Spread at {}: {e}; retrying in {:?}",
                        spread_addr(&self.cfg, &self.opts),
                        self.cfg.spread_retry_interval()
                    );
                    self.retry_later();
                }
            },
            Link::Up(mut client) => {
                let mut msgs = Vec::new();
                let result = loop {
                    match client.receive() {
                        Ok(Some(m)) => msgs.push(m),
                        Ok(None) => break client.flush().map_err(|e| e.to_string()),
                        Err(e) => break Err(e.to_string()),
                    }
                };
                let pg = client.private_group().to_string();
                self.link = Link::Up(client);
                for m in msgs {
                    self.deliver(m, &pg);
                }
                if let Err(e) = result {
                    self.link_broken = Some(e);
                }
            }
        }
    }

    fn deliver(&mut self, m: Message, private_group: &str) {
        let group = self.cfg.group().to_string();
        let acts = match m {
            Message::Membership(mb) if mb.group == group => match mb.index_of(private_group) {
                Some(my_index) => self.engine.handle(Event::View(View {
                    id: mb.group_id.0,
                    members: mb.members,
                    my_index,
                })),
                None => {
                    error!("a membership of {group} without this node in it; ignored");
                    return;
                }
            },
            Message::Membership(mb) => {
                warn!("ignoring a membership of another group, {}", mb.group);
                return;
            }
            Message::Transition { group: g, .. } if g == group => {
                self.engine.handle(Event::Transition)
            }
            Message::Data(d) => self.engine.handle(Event::Message {
                sender: &d.sender,
                mess_type: d.mess_type,
                swapped: d.endian_mismatch,
                body: &d.data,
            }),
            Message::Reject(d) => {
                warn!(
                    "Spread refused a message of type {} to {:?}",
                    d.mess_type, d.groups
                );
                return;
            }
            Message::Transition { .. } | Message::SelfLeave { .. } => return,
        };
        self.execute(acts);
    }

    /// The link to Spread is gone: release everything, try again later.
    fn lose_link(&mut self, why: &str) {
        match std::mem::replace(&mut self.link, Link::Down) {
            Link::Up(mut c) => {
                let _ = self.poll.registry().deregister(c.socket());
            }
            Link::Connecting(mut c) => {
                let _ = self.poll.registry().deregister(c.socket());
            }
            Link::Down => {}
        }
        warn!("lost Spread: {why}");
        let acts = self.engine.handle(Event::Disconnected);
        self.execute(acts);
        if !self.failure_simulated {
            self.timers.set_in(
                Key::Reconnect,
                Instant::now(),
                self.cfg.spread_retry_interval(),
            );
        }
    }

    fn multicast(&mut self, t: MessType, body: &[u8]) {
        let group = self.cfg.group().to_string();
        let service = if t == MessType::ArpCache {
            service::RELIABLE
        } else {
            service::AGREED
        };
        if let Link::Up(c) = &mut self.link {
            if let Err(e) = c.multicast(service, &[&group], t as i16, body) {
                self.link_broken = Some(e.to_string());
            }
        }
    }

    // ---- the executor ----------------------------------------------------

    fn execute(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Multicast { mess_type, body } => self.multicast(mess_type, &body),
                Action::Acquire(i, from) => self.acquire(i, from),
                Action::Release(i) => self.release(i),
                Action::PostUp => self.post_hooks(true),
                Action::PostDown => self.post_hooks(false),
                Action::StartTimer(t, d) => self.timers.set_in(Key::Engine(t), Instant::now(), d),
                Action::CancelTimer(t) => self.timers.cancel(Key::Engine(t)),
                Action::ShareArpCache => self.share_arp_cache(),
                Action::LearnArp(records) => self.cache.learn(&records, self.arp_round),
                Action::Log(level, text) => match level {
                    Level::Error => error!("{text}"),
                    Level::Warn => warn!("{text}"),
                    Level::Info => info!("{text}"),
                    Level::Debug => debug!("{text}"),
                },
            }
        }
    }

    fn vif_name(v: &config::Vif) -> String {
        v.first().to_string()
    }

    fn acquire(&mut self, i: usize, from: Option<Ipv4Addr>) {
        let Some(v) = self.cfg.vifs().get(i).cloned() else {
            return;
        };
        let mut up = Vec::new();
        for a in &v.addrs {
            self.promote(a.ifname());
            match a {
                VipAddr::V4(a4) => match self.ifs.acquire(a4) {
                    Ok(Acquired::Added { label }) => {
                        self.missing.remove(&IpAddr::V4(a4.addr));
                        up.push(format!("{} on {label}", a4.addr))
                    }
                    Ok(Acquired::AlreadyUp { label }) => {
                        self.missing.remove(&IpAddr::V4(a4.addr));
                        up.push(format!("{} (already on {label})", a4.addr))
                    }
                    Err(e) => {
                        error!("acquire {}: {e}", a4);
                        self.missing.insert(IpAddr::V4(a4.addr), e.to_string());
                    }
                },
                VipAddr::V6(a6) => match self.ifs6.acquire(&a6.ifname, a6.addr, a6.prefix) {
                    Ok(()) => {
                        self.missing.remove(&IpAddr::V6(a6.addr));
                        up.push(format!("{} on {}", a6.addr, a6.ifname))
                    }
                    Err(e) => {
                        error!("acquire {a6}: {e}");
                        self.missing.insert(IpAddr::V6(a6.addr), e.to_string());
                    }
                },
            }
        }
        if up.is_empty() {
            // The cluster counts it as here all the same: keep trying.
            error!(
                "acquired VIF {} ({}), but none of its addresses came up; retrying every {}s",
                i + 1,
                Self::vif_name(&v),
                CHECK_HELD.as_secs()
            );
        } else {
            info!(
                "acquired VIF {} ({}): {}",
                i + 1,
                Self::vif_name(&v),
                up.join(", ")
            );
        }
        self.last_change = Some(format!("acquired {}", Self::vif_name(&v)));
        self.fire(HookEvent::OnUp, Some(&HookVif::new(&v, from)));
        self.announce_vif(i, &v);
    }

    /// Tells the neighbours that VIF `i` is here: at once, then in later
    /// rounds a second apart.
    fn announce_vif(&mut self, i: usize, v: &config::Vif) {
        let plan = self.scheduler.start(
            i,
            // Not what failed to come up: every send would fail.
            v.v4()
                .filter(|a| !self.missing.contains_key(&IpAddr::V4(a.addr))),
            self.cfg.notify(),
            &self.cache.snapshot(),
        );
        if plan.capped {
            warn!(
                "notifying {} destinations for {} at most {} a second per entry (set a throttle)",
                plan.destinations,
                Self::vif_name(v),
                crate::net::notify::IMPLICIT_THROTTLE
            );
        }
        let first = self.scheduler.first_round(i);
        self.send_announcements(first);
        for a in v.v6() {
            if self.missing.contains_key(&IpAddr::V6(a.addr)) {
                continue;
            }
            if let Err(e) = self.announcer.announce6(&a.ifname, a.addr) {
                warn!("announcing {a}: {e}");
            }
        }
        if !self.scheduler.is_idle() && !self.timers.is_set(Key::NotifyTick) {
            self.timers
                .set_in(Key::NotifyTick, Instant::now(), NOTIFY_TICK);
        }
    }

    fn send_announcements(&mut self, sends: Vec<Announce>) {
        for s in sends {
            if let Err(e) = self
                .announcer
                .announce(&s.ifname, s.vip, s.dest, s.dest_mac, s.ping)
            {
                warn!("announcing {} to {}: {e}", s.vip, s.dest);
                self.announcer.forget(&s.ifname);
            }
        }
    }

    fn release(&mut self, i: usize) {
        let Some(v) = self.cfg.vifs().get(i).cloned() else {
            return;
        };
        self.release_vif(&v);
        // Removing a primary can take the secondaries with it.
        self.check_held();
        let _ = i;
    }

    /// Takes one VIF's addresses down (its own definition, so that a
    /// reload can release a VIF the new config no longer has).
    fn release_vif(&mut self, v: &config::Vif) {
        if let Some(i) = self.cfg.vifs().iter().position(|x| x.id() == v.id()) {
            self.scheduler.cancel(i);
        }
        let mut down = Vec::new();
        for a in &v.addrs {
            match a {
                VipAddr::V4(a4) => match self.ifs.release(a4.addr) {
                    Ok(Released::Removed { label }) => {
                        down.push(format!("{} from {label}", a4.addr))
                    }
                    Ok(Released::NotPresent) => down.push(format!("{} (was not up)", a4.addr)),
                    Ok(Released::OnBaseInterface { ifname }) => {
                        warn!("{} is {ifname}'s own address: left up", a4.addr)
                    }
                    Err(e) => error!("release {a4}: {e}"),
                },
                VipAddr::V6(a6) => match self.ifs6.release(&a6.ifname, a6.addr, a6.prefix) {
                    Ok(()) => down.push(format!("{} from {}", a6.addr, a6.ifname)),
                    Err(e) => error!("release {a6}: {e}"),
                },
            }
        }
        info!("released VIF ({}): {}", Self::vif_name(v), down.join(", "));
        self.last_change = Some(format!("released {}", Self::vif_name(v)));
        self.fire(HookEvent::OnDown, Some(&HookVif::new(v, Some(self.me))));
    }

    fn post_hooks(&mut self, up: bool) {
        let event = if up {
            HookEvent::PostUp
        } else {
            HookEvent::PostDown
        };
        self.fire(event, None);
    }

    /// Starts the hooks of `event` (each in a child process) and makes
    /// sure the loop comes back to reap them.
    fn fire(&mut self, event: HookEvent, vif: Option<&HookVif>) {
        for e in self.hooks.fire(event, vif, Instant::now()) {
            error!("{e}");
        }
        self.arm_hooks();
    }

    fn arm_hooks(&mut self) {
        match self.hooks.next_deadline() {
            Some(at) => self.timers.set(Key::Hooks, at),
            None => self.timers.cancel(Key::Hooks),
        }
    }

    fn reap_hooks(&mut self) {
        for f in self.hooks.reap(Instant::now()) {
            if f.succeeded() {
                info!("{f}");
            } else {
                warn!("{f}");
            }
        }
        self.arm_hooks();
    }

    fn share_arp_cache(&mut self) {
        self.arp_round += 1;
        self.cache.expire(self.arp_round);
        let records = match arpcache::sample() {
            Ok(r) => r,
            Err(e) => {
                warn!("cannot read {}: {e}", arpcache::PROC_NET_ARP);
                Vec::new()
            }
        };
        let body = msg::encode_arp_cache(&records);
        self.multicast(MessType::ArpCache, &body);
    }

    // ---- timers and signals ------------------------------------------------

    fn timer(&mut self, k: Key) {
        match k {
            Key::Engine(t) => {
                let acts = self.engine.handle(Event::Timer(t));
                self.execute(acts);
            }
            Key::Reconnect => {
                if matches!(self.link, Link::Down) {
                    self.connect();
                }
            }
            Key::ConnectTimeout => {
                if matches!(self.link, Link::Connecting(_)) {
                    if let Link::Connecting(mut c) = std::mem::replace(&mut self.link, Link::Down) {
                        let _ = self.poll.registry().deregister(c.socket());
                    }
                    warn!("Spread did not answer within {CONNECT_TIMEOUT:?}; retrying");
                    self.retry_later();
                }
            }
            Key::NotifyTick => {
                let sends = self.scheduler.round();
                self.send_announcements(sends);
                if !self.scheduler.is_idle() {
                    self.timers
                        .set_in(Key::NotifyTick, Instant::now(), NOTIFY_TICK);
                }
            }
            Key::Hooks => self.reap_hooks(),
            Key::CheckHeld => {
                self.check_held();
                self.timers
                    .set_in(Key::CheckHeld, Instant::now(), CHECK_HELD);
            }
        }
    }

    /// Puts back any held address that is not up, and announces its
    /// VIF again. An address that still cannot be added is logged when
    /// its error first appears or changes, not on every check.
    fn check_held(&mut self) {
        let vifs: Vec<(usize, config::Vif)> = self
            .engine
            .held()
            .filter_map(|j| Some((j, self.cfg.vifs().get(j)?.clone())))
            .collect();
        let v4: Vec<&config::IfAddr> = vifs.iter().flat_map(|(_, v)| v.v4()).collect();
        let v6: Vec<&config::If6Addr> = vifs.iter().flat_map(|(_, v)| v.v6()).collect();
        let results: Vec<(IpAddr, Result<(), ifaddr::IfError>)> = self
            .ifs
            .ensure(&v4)
            .into_iter()
            .map(|(a, r)| (IpAddr::V4(a), r.map(|_| ())))
            .chain(
                self.ifs6
                    .ensure(&v6)
                    .into_iter()
                    .map(|(a, r)| (IpAddr::V6(a), r)),
            )
            .collect();
        let mut failing = HashMap::new();
        let mut renotify = BTreeSet::new();
        for (a, r) in results {
            match r {
                Ok(()) => {
                    warn!("{a} is held here but was not up: put it back");
                    for (j, v) in &vifs {
                        for x in v.addrs.iter().filter(|x| x.ip() == a) {
                            renotify.insert(*j);
                            // Its interface may be new: try again.
                            self.promoted.remove(x.ifname());
                            self.promote(x.ifname());
                        }
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    if self.missing.get(&a) != Some(&text) {
                        error!(
                            "{a} is held here but not up, and cannot be put back: {text}; retrying every {}s",
                            CHECK_HELD.as_secs()
                        );
                    }
                    failing.insert(a, text);
                }
            }
        }
        self.missing = failing;
        for i in renotify {
            if let Some(v) = self.cfg.vifs().get(i).cloned() {
                self.announce_vif(i, &v);
            }
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
        let requests = server.ready(t, self.poll.registry());
        if writable {
            server.writable(t);
        }
        for (session, req) in requests {
            let reply = match req {
                Request::GetState => control::encode_state(&self.snapshot()),
                Request::StatusJson => control::encode_status(&self.snapshot()),
                Request::Failure => {
                    if !self.failure_simulated {
                        info!(
                            "wackatrl: simulating a failure: leaving Spread until told otherwise"
                        );
                        self.failure_simulated = true;
                        self.timers.cancel(Key::Reconnect);
                        self.lose_link("failure simulated by wackatrl -f");
                    }
                    control::encode_ack().to_vec()
                }
                Request::Success => {
                    if self.failure_simulated {
                        info!("wackatrl: the simulated failure is over: connecting to Spread");
                        self.failure_simulated = false;
                        self.connect();
                    }
                    control::encode_ack().to_vec()
                }
                Request::Reload => match self.reload() {
                    Ok(m) => control::encode_reload(true, &m),
                    Err(m) => control::encode_reload(false, &m),
                },
            };
            if let Some(server) = self.control.as_mut() {
                server.reply(session, &reply);
            }
        }
    }

    /// What `wackatrl` shows.
    fn snapshot(&self) -> Snapshot {
        let table = self.engine.table();
        let held: HashSet<usize> = self.engine.held().collect();
        let connected = matches!(self.link, Link::Up(_));
        Snapshot {
            node: Some(self.me),
            node_source: self.me_source.clone(),
            private_group: match &self.link {
                Link::Up(c) => Some(c.private_group().to_string()),
                _ => None,
            },
            spread: spread_addr(&self.cfg, &self.opts).to_string(),
            group: self.cfg.group().to_string(),
            connected,
            failure_simulated: self.failure_simulated,
            state: if !connected {
                "DISCONNECTED"
            } else {
                match self.engine.phase() {
                    engine::Phase::Boot => "BOOT",
                    engine::Phase::Gather => "GATHER",
                    engine::Phase::Run => "RUN",
                    engine::Phase::Balance => "BALANCE",
                }
            },
            mature: self.engine.is_mature(),
            view_id: self.engine.view_id(),
            members: self
                .engine
                .members()
                .iter()
                .map(|m| control::MemberInfo {
                    name: m.name.clone(),
                    addr: m.addr,
                    count: m.count,
                })
                .collect(),
            vifs: self
                .cfg
                .vifs()
                .iter()
                .enumerate()
                .map(|(i, v)| control::VifInfo {
                    addrs: v.addrs.clone(),
                    owner: table.get(i).map_or(Ipv4Addr::UNSPECIFIED, |s| s.owner),
                    priority: table.get(i).map_or(0, |s| s.priority as u8),
                    held_here: held.contains(&i),
                })
                .collect(),
            last_change: self.last_change.clone(),
        }
    }

    // ---- reload ---------------------------------------------------------

    /// Reads the config again. A config that does not parse is refused,
    /// the old one kept; a valid one is applied without dropping any VIP
    /// whose definition did not change. Returns what happened.
    pub fn reload(&mut self) -> Result<String, String> {
        let new = match config::parse(
            &String::from_utf8_lossy(&std::fs::read(self.cfg.file()).map_err(|e| {
                let m = format!(
                    "reload refused: cannot read {}: {e}",
                    self.cfg.file().display()
                );
                error!("{m}");
                m
            })?),
            self.cfg.file(),
        ) {
            Ok(l) => {
                for w in &l.warnings {
                    warn!("{w}");
                }
                l.config
            }
            Err(e) => {
                for line in e.lines() {
                    error!("{line}");
                }
                let m = format!(
                    "reload refused: {} error(s); the running configuration is kept",
                    e.errors.len()
                );
                error!("{m}");
                return Err(m);
            }
        };
        let old = &self.cfg;
        let mut changes = Vec::new();
        let reconnect = old.group() != new.group()
            || spread_addr(old, &self.opts) != spread_addr(&new, &self.opts)
            || old.node_address() != new.node_address();
        let added: Vec<String> = new
            .vifs()
            .iter()
            .filter(|v| !old.vifs().iter().any(|o| o.id() == v.id()))
            .map(Self::vif_name)
            .collect();
        let removed: Vec<String> = old
            .vifs()
            .iter()
            .filter(|o| !new.vifs().iter().any(|v| v.id() == o.id()))
            .map(Self::vif_name)
            .collect();
        // Same identity, other addresses (where a VIF sits in the file
        // does not matter).
        let redefined: Vec<String> = new
            .vifs()
            .iter()
            .filter(|v| {
                old.vifs()
                    .iter()
                    .any(|o| o.id() == v.id() && o.addrs != v.addrs)
            })
            .map(Self::vif_name)
            .collect();
        if !added.is_empty() {
            changes.push(format!("VIFs added: {}", added.join(" ")));
        }
        if !removed.is_empty() {
            changes.push(format!("VIFs removed: {}", removed.join(" ")));
        }
        if !redefined.is_empty() {
            changes.push(format!("VIFs redefined: {}", redefined.join(" ")));
        }
        for (what, a, b) in [
            ("Mature", old.mature(), new.mature()),
            ("Arp-Cache", old.arp_cache(), new.arp_cache()),
            (
                "SpreadRetryInterval",
                old.spread_retry_interval(),
                new.spread_retry_interval(),
            ),
            (
                "Balance Interval",
                old.balance().interval,
                new.balance().interval,
            ),
        ] {
            if a != b {
                changes.push(format!("{what} {a:?} -> {b:?}"));
            }
        }
        if old.balance().rate != new.balance().rate {
            changes.push(format!(
                "AcquisitionsPerRound {:?} -> {:?}",
                old.balance().rate,
                new.balance().rate
            ));
        }
        if old.preferred() != new.preferred() {
            changes.push("Prefer changed (sent at the next membership)".into());
        }
        if old.notify() != new.notify() {
            changes.push("Notify changed".into());
        }
        let hook_list = |c: &Config| {
            c.hooks()
                .iter()
                .map(|h| (h.target.clone(), h.event))
                .collect::<Vec<_>>()
        };
        let hooks_changed = hook_list(old) != hook_list(&new)
            || old.perl_use() != new.perl_use()
            || old.perl_use_lib() != new.perl_use_lib();
        if hooks_changed {
            changes.push("hooks changed".into());
        }

        if reconnect {
            changes.push("Group, Spread or NodeAddress changed: reconnecting".into());
            // Released under the old table, by the old definitions.
            self.lose_link("reloading with another group, Spread daemon or identity");
            self.cfg = new;
            let vips: Vec<Ipv4Addr> = self
                .cfg
                .vifs()
                .iter()
                .flat_map(|v| v.v4().map(|a| a.addr))
                .collect();
            match identity::identify(self.opts.node_address, self.cfg.node_address(), &vips) {
                Ok((me, source)) => {
                    self.me = me;
                    self.me_source = source.to_string();
                }
                Err(e) => error!("no new identity ({e}); keeping {}", self.me),
            }
            self.engine = Engine::new(Settings::new(&self.cfg, self.me));
            self.timers.cancel(Key::Reconnect);
            self.connect();
        } else {
            // Under the old table: take down held VIFs that go or change,
            // and stop every running notification (indexes change).
            let held_old: Vec<usize> = self.engine.held().collect();
            let mut reacquire = Vec::new();
            let mut renotify = Vec::new();
            for j in 0..self.cfg.vifs().len() {
                let ov = self.cfg.vifs()[j].clone();
                let nv = new.vifs().iter().find(|v| v.id() == ov.id());
                if self.scheduler.cancel(j) && held_old.contains(&j) && nv.is_some() {
                    renotify.push(ov.id());
                }
                if !held_old.contains(&j) {
                    continue;
                }
                match nv {
                    None => self.release_vif(&ov),
                    Some(nv) if nv.addrs != ov.addrs => {
                        self.release_vif(&ov);
                        reacquire.push(ov.id());
                    }
                    Some(_) => {}
                }
            }
            self.cfg = new;
            if hooks_changed {
                self.hooks.reconfigure(
                    self.cfg.hooks(),
                    self.cfg.perl_use_lib(),
                    self.cfg.perl_use(),
                );
            }
            // Removed VIFs were released above, by their old definitions.
            let (_removed, acts) = self.engine.reconfigure(Settings::new(&self.cfg, self.me));
            let index_of = |c: &Config, id: Ipv4Addr| c.vifs().iter().position(|v| v.id() == id);
            for id in reacquire {
                if let Some(i) = index_of(&self.cfg, id) {
                    self.acquire(i, None);
                }
            }
            for id in renotify {
                if let Some(i) = index_of(&self.cfg, id) {
                    let v = self.cfg.vifs()[i].clone();
                    self.scheduler
                        .start(i, v.v4(), self.cfg.notify(), &self.cache.snapshot());
                    let first = self.scheduler.first_round(i);
                    self.send_announcements(first);
                }
            }
            if !self.scheduler.is_idle() && !self.timers.is_set(Key::NotifyTick) {
                self.timers
                    .set_in(Key::NotifyTick, Instant::now(), NOTIFY_TICK);
            }
            self.execute(acts);
        }
        let summary = if changes.is_empty() {
            "reloaded: nothing changed".to_string()
        } else {
            format!("reloaded: {}", changes.join("; "))
        };
        info!("{summary}");
        Ok(summary)
    }

    // ---- the end ----------------------------------------------------------

    fn shutdown(&mut self) {
        if let Some(n) = &self.systemd {
            n.send("STOPPING=1");
        }
        let acts = self.engine.handle(Event::Shutdown);
        self.execute(acts);
        // Anything configured still up here (a failed release) goes too.
        let configured: Vec<config::IfAddr> = self
            .cfg
            .vifs()
            .iter()
            .flat_map(|v| v.v4().cloned())
            .collect();
        let refs: Vec<&config::IfAddr> = configured.iter().collect();
        for (a, r) in self.ifs.remove_stale(&refs) {
            match r {
                Ok(Released::Removed { label }) => warn!("{a} was still up on {label}: removed"),
                Ok(_) => {}
                Err(e) => error!("removing {a}: {e}"),
            }
        }
        if let Link::Up(c) = std::mem::replace(&mut self.link, Link::Down) {
            c.disconnect();
        }
        if let Some(server) = self.control.take() {
            server.remove();
        }
        // Let the `on down` hooks finish; their time limit bounds this,
        // and a child the kernel cannot kill does not hold the exit.
        let give_up = Instant::now() + hooks::DEFAULT_LIMIT + Duration::from_secs(5);
        while self.hooks.running() > 0 && Instant::now() < give_up {
            let wait = self
                .hooks
                .next_deadline()
                .map_or(Duration::from_millis(50), |t| {
                    t.saturating_duration_since(Instant::now())
                });
            std::thread::sleep(wait.min(Duration::from_millis(200)));
            self.reap_hooks();
        }
        info!("stopped");
    }

    pub fn held(&self) -> Vec<usize> {
        self.engine.held().collect()
    }

    pub fn engine(&self) -> &engine::Engine {
        &self.engine
    }
}

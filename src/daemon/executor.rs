//! The executor: the engine's actions turned into calls on the edges —
//! addresses up and down (`net::ifaddr`), neighbours told
//! (`net::notify` + `net::announce`), hooks started and reaped
//! (`hooks`), messages handed to the group link, timers set. It also
//! keeps what the engine does not know: which held addresses failed to
//! come up (and the 5 s check that puts them back), the shared ARP
//! cache, the `ArpRefresh` schedule of the held addresses
//! (`net::refresh`), and the last change for the status.
//!
//! Every VIF is named by its [`VifId`] and looked up in the
//! configuration in force; one path announces a VIF, whether it was
//! just acquired, redefined by a reload, put back by the check, or
//! re-announced after a network change.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use super::link::Link;
use super::timers::{Key, Timers};
use super::StartError;
use crate::cluster::engine::{Action, Engine, Level};
use crate::cluster::msg::{self, MessType};
use crate::config::{self, Config, HookEvent, VifId, VipAddr};
use crate::hooks::{self, HookVif, Hooks};
use crate::net::announce::Announcer;
use crate::net::arpcache::{self, SharedCache};
use crate::net::ifaddr::{self, Acquired, Interfaces, Interfaces6, Released};
use crate::net::notify::{self, Announce, Scheduler, Tell};
use crate::net::refresh::Refresh;

/// Rounds of neighbour notification are a second apart.
const NOTIFY_TICK: Duration = Duration::from_secs(1);
/// Ticks between the end of an announcement and its repeat: past the
/// neighbours' 1 s ARP `locktime`, so the repeat lands if the first was
/// ignored.
const REANNOUNCE_GAP: u32 = 2;
/// Copies of each frame that tells the whole segment of a takeover, as
/// C sends two ARP replies per destination: one may be lost.
const TAKEOVER_COPIES: usize = 2;
/// Copies of each `ArpRefresh` frame: one; a lost one is made up for
/// an interval later.
const REFRESH_COPIES: usize = 1;
/// How often held addresses are checked and put back if missing (an
/// acquire that failed, an `ip addr flush` by hand).
pub const CHECK_HELD: Duration = Duration::from_secs(5);

/// What an action may touch besides the executor's own state.
pub struct Env<'a> {
    pub cfg: &'a Config,
    pub engine: &'a Engine,
    pub timers: &'a mut Timers,
    pub link: &'a mut Link,
}

pub struct Executor {
    me: Ipv4Addr,
    ifs: Interfaces,
    ifs6: Interfaces6,
    announcer: Announcer,
    scheduler: Scheduler<VifId>,
    cache: SharedCache,
    arp_round: u64,
    /// Interfaces promote_secondaries was turned on for.
    promoted: HashSet<String>,
    /// Held addresses that could not be brought up, with the last error
    /// logged for each (so a retry that fails alike stays quiet).
    missing: HashMap<IpAddr, String>,
    hooks: Hooks,
    last_change: Option<String>,
    /// A release happened: check the held addresses once the batch is
    /// done (removing a primary can take the secondaries with it).
    check_due: bool,
    /// With `ArpRefresh`: every held address that is up, with its
    /// interface, announced again once per interval.
    refresh: Option<Refresh<(IpAddr, String)>>,
    /// The last error of a refresh send, logged once until a send works.
    refresh_error: Option<String>,
}

fn vif_name(v: &config::Vif) -> String {
    v.first().to_string()
}

impl Executor {
    pub fn new(cfg: &Config, me: Ipv4Addr) -> Result<Executor, StartError> {
        let exec = Executor {
            me,
            ifs: Interfaces::open().map_err(StartError::Interfaces)?,
            ifs6: Interfaces6::open().map_err(StartError::Interfaces)?,
            announcer: Announcer::new().map_err(StartError::Interfaces)?,
            scheduler: Scheduler::repeating(REANNOUNCE_GAP),
            cache: SharedCache::new(),
            arp_round: 0,
            promoted: HashSet::new(),
            missing: HashMap::new(),
            hooks: Hooks::new(cfg, hooks::DEFAULT_LIMIT),
            last_change: None,
            check_due: false,
            refresh: cfg.arp_refresh().map(Refresh::new),
            refresh_error: None,
        };
        if let Some(t) = cfg.arp_refresh() {
            info!("ArpRefresh: every held VIP is announced again every {t:?}, spread over the interval");
        }
        Ok(exec)
    }

    pub fn set_me(&mut self, me: Ipv4Addr) {
        self.me = me;
    }

    /// The last change of ownership, in words, for the status.
    pub fn last_change(&self) -> Option<&str> {
        self.last_change.as_deref()
    }

    /// A reload's hooks and `HookLimit` (a higher limit may start
    /// waiting hooks at once).
    pub fn reconfigure_hooks(&mut self, cfg: &Config, timers: &mut Timers) {
        for e in self.hooks.reconfigure(cfg, Instant::now()) {
            error!("{e}");
        }
        self.arm_hooks(timers);
    }

    /// At start: promote_secondaries on every VIF interface, and no VIP
    /// left behind by a crashed run.
    pub fn prepare(&mut self, cfg: &Config) {
        for v in cfg.addressed_vifs() {
            for a in &v.addrs {
                self.promote(a.ifname());
            }
        }
        let v4: Vec<&config::IfAddr> = cfg.addressed_vifs().flat_map(|v| v.v4()).collect();
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
        for a in cfg.vifs().iter().flat_map(|v| v.v6()) {
            let _ = self.ifs6.release(&a.ifname, a.addr, a.prefix);
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

    /// Carries out a batch of actions, then puts back what a release
    /// took down by accident.
    pub fn execute(&mut self, actions: Vec<Action>, env: &mut Env<'_>) {
        self.run(actions, env);
        if std::mem::take(&mut self.check_due) {
            self.check_held(env);
        }
        self.update_refresh(env);
    }

    /// Carries out actions without the check that follows a release: for
    /// the releases a reload makes under the old configuration, which is
    /// not the one to check against (the batch after the swap checks).
    ///
    /// The batch lists the host's addresses once, at its first acquire
    /// or release, and works from that list (kept up to date with its
    /// own changes): a takeover of a thousand VIPs is not a thousand
    /// listings of every address. Each VIF is still announced as soon
    /// as it is up, not at the end of the batch.
    pub fn run(&mut self, actions: Vec<Action>, env: &mut Env<'_>) {
        self.ifs.begin_batch();
        self.ifs6.begin_batch();
        self.run_batch(actions, env);
        // What other programs change before the next batch is seen.
        self.ifs.end_batch();
        self.ifs6.end_batch();
    }

    fn run_batch(&mut self, actions: Vec<Action>, env: &mut Env<'_>) {
        for a in actions {
            match a {
                Action::Multicast { mess_type, body } => env.link.multicast(mess_type, &body),
                Action::Acquire(id, from) => self.acquire(id, from, env),
                Action::Release(id) => self.release(id, env),
                Action::PostUp => self.fire(HookEvent::PostUp, None, env.timers),
                Action::PostDown => self.fire(HookEvent::PostDown, None, env.timers),
                Action::StartTimer(t, d) => env.timers.set_in(Key::Engine(t), Instant::now(), d),
                Action::CancelTimer(t) => env.timers.cancel(Key::Engine(t)),
                Action::ShareArpCache => self.share_arp_cache(env.link),
                Action::LearnArp { from, records } => {
                    self.cache.learn(&from, &records, self.arp_round)
                }
                Action::Reannounce(ids) => self.reannounce(&ids, env),
                Action::Log(level, text) => match level {
                    Level::Error => error!("{text}"),
                    Level::Warn => warn!("{text}"),
                    Level::Info => info!("{text}"),
                    Level::Debug => debug!("{text}"),
                },
            }
        }
    }

    fn acquire(&mut self, id: VifId, from: Option<Ipv4Addr>, env: &mut Env<'_>) {
        // Numbered from 1 in the file's order in the log, as ever.
        let Some((n, v)) = env.cfg.vif_at(id).map(|(i, v)| (i + 1, v.clone())) else {
            error!("asked to acquire VIF {id}, which the configuration does not have");
            return;
        };
        if v.is_placeholder() {
            // Standby: nothing to put up, announce or run hooks for.
            info!("holding a standby placeholder (VIF {n}): no address, nothing announced");
            self.last_change = Some("acquired a standby placeholder".into());
            return;
        }
        let mut up = Vec::new();
        for a in &v.addrs {
            self.promote(a.ifname());
            let result = match a {
                VipAddr::V4(a4) => self.ifs.acquire(a4).map(|r| match r {
                    Acquired::Added { label } => format!("{} on {label}", a4.addr),
                    Acquired::AlreadyUp { label } => format!("{} (already on {label})", a4.addr),
                }),
                VipAddr::V6(a6) => self
                    .ifs6
                    .acquire(&a6.ifname, a6.addr, a6.prefix)
                    .map(|()| format!("{} on {}", a6.addr, a6.ifname)),
            };
            match result {
                Ok(text) => {
                    self.missing.remove(&a.ip());
                    up.push(text);
                }
                Err(e) => {
                    error!("acquire {a}: {e}");
                    self.missing.insert(a.ip(), e.to_string());
                }
            }
        }
        if up.is_empty() {
            // The cluster counts it as here all the same: keep trying.
            error!(
                "acquired VIF {n} ({}), but none of its addresses came up; retrying every {}s",
                vif_name(&v),
                CHECK_HELD.as_secs()
            );
        } else {
            info!("acquired VIF {n} ({}): {}", vif_name(&v), up.join(", "));
        }
        self.last_change = Some(format!("acquired {}", vif_name(&v)));
        self.fire(HookEvent::OnUp, Some(&HookVif::new(&v, from)), env.timers);
        self.announce(id, &v, env);
    }

    /// Tells the neighbours that the VIF is here: the first round at
    /// once, later rounds (and the repeat) a second apart; each IPv4
    /// address to its Notify destinations, or to the whole segment if
    /// none reaches it, each IPv6 address to all nodes (nothing but the
    /// Notify destinations under `Notify None`); never an address that
    /// failed to come up (every send would fail).
    fn announce(&mut self, id: VifId, v: &config::Vif, env: &mut Env<'_>) {
        if v.is_placeholder() {
            return;
        }
        let plan = self.scheduler.start(
            id,
            v.addrs
                .iter()
                .filter(|a| !self.missing.contains_key(&a.ip())),
            env.cfg.notify(),
            &self.cache.snapshot(),
            !env.cfg.notify_none(),
        );
        if plan.capped {
            warn!(
                "notifying {} destinations for {} at most {} a second per entry (set a throttle)",
                plan.destinations,
                vif_name(v),
                notify::IMPLICIT_THROTTLE
            );
        }
        let first = self.scheduler.first_round(id);
        self.send_announcements(first);
        if !self.scheduler.is_idle() && !env.timers.is_set(Key::NotifyTick) {
            env.timers
                .set_in(Key::NotifyTick, Instant::now(), NOTIFY_TICK);
        }
    }

    /// Announces held VIFs again by the path an acquire takes (the same
    /// Notify lists, throttles and repeat), without hooks: the engine
    /// asks after a network change.
    fn reannounce(&mut self, ids: &[VifId], env: &mut Env<'_>) {
        for &id in ids {
            match env.cfg.vif(id).cloned() {
                Some(v) => self.announce(id, &v, env),
                None => error!("asked to announce VIF {id}, which the configuration does not have"),
            }
        }
    }

    fn send_announcements(&mut self, sends: Vec<Announce<VifId>>) {
        for s in sends {
            let a = &mut self.announcer;
            let (result, what) = match s.tell {
                Tell::Dest {
                    vip,
                    dest,
                    dest_mac,
                    ping,
                } => (
                    a.announce(&s.ifname, vip, dest, dest_mac, ping),
                    format!("{vip} to {dest}"),
                ),
                Tell::Segment(vip) => (
                    a.gratuitous(&s.ifname, vip, TAKEOVER_COPIES),
                    format!("{vip} on {}", s.ifname),
                ),
                Tell::AllNodes(vip) => (
                    a.announce6(&s.ifname, vip, TAKEOVER_COPIES),
                    format!("{vip} on {}", s.ifname),
                ),
            };
            if let Err(e) = result {
                warn!("announcing {what}: {e}");
                self.announcer.forget(&s.ifname);
            }
        }
    }

    /// The next round of neighbour notification.
    pub fn notify_tick(&mut self, timers: &mut Timers) {
        let sends = self.scheduler.round();
        self.send_announcements(sends);
        if !self.scheduler.is_idle() {
            timers.set_in(Key::NotifyTick, Instant::now(), NOTIFY_TICK);
        }
    }

    /// Takes a VIF's addresses down by the definition in force (before a
    /// reload swaps the configuration, the old one).
    fn release(&mut self, id: VifId, env: &mut Env<'_>) {
        let Some(v) = env.cfg.vif(id).cloned() else {
            error!("asked to release VIF {id}, which the configuration does not have");
            return;
        };
        if v.is_placeholder() {
            info!("released a standby placeholder: no address to take down");
            self.last_change = Some("released a standby placeholder".into());
            return;
        }
        self.scheduler.cancel(id);
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
            self.missing.remove(&a.ip());
        }
        info!("released VIF ({}): {}", vif_name(&v), down.join(", "));
        self.last_change = Some(format!("released {}", vif_name(&v)));
        self.fire(
            HookEvent::OnDown,
            Some(&HookVif::new(&v, Some(self.me))),
            env.timers,
        );
        self.check_due = true;
    }

    /// Puts back any held address that is not up, and announces its
    /// VIF again. An address that still cannot be added is logged when
    /// its error first appears or changes, not on every check.
    pub fn check_held(&mut self, env: &mut Env<'_>) {
        let vifs: Vec<config::Vif> = env
            .engine
            .held()
            .filter_map(|id| env.cfg.vif(id).cloned())
            .filter(|v| !v.is_placeholder())
            .collect();
        let v4: Vec<&config::IfAddr> = vifs.iter().flat_map(|v| v.v4()).collect();
        let v6: Vec<&config::If6Addr> = vifs.iter().flat_map(|v| v.v6()).collect();
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
                    for v in &vifs {
                        for x in v.addrs.iter().filter(|x| x.ip() == a) {
                            renotify.insert(v.id());
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
        for v in vifs.iter().filter(|v| renotify.contains(&v.id())) {
            self.announce(v.id(), v, env);
        }
        self.update_refresh(env);
    }

    /// Hands the refresh schedule the addresses held and up now (a no-op
    /// when they have not changed) and sets its timer.
    fn update_refresh(&mut self, env: &mut Env<'_>) {
        let Some(r) = self.refresh.as_mut() else {
            return;
        };
        let missing = &self.missing;
        let held = env
            .engine
            .held()
            .filter_map(|id| env.cfg.vif(id))
            .filter(|v| !v.is_placeholder())
            .flat_map(|v| &v.addrs)
            .filter(|a| !missing.contains_key(&a.ip()))
            .map(|a| (a.ip(), a.ifname().to_string()));
        if r.set(held, Instant::now()) {
            debug!("refreshing {} VIPs every {:?}", r.len(), r.interval());
        }
        self.arm_refresh(env.timers);
    }

    fn arm_refresh(&self, timers: &mut Timers) {
        match self.refresh.as_ref().and_then(Refresh::next_due) {
            Some(at) => timers.set(Key::ArpRefresh, at),
            None => timers.cancel(Key::ArpRefresh),
        }
    }

    /// The next `ArpRefresh` announcement: one gratuitous ARP reply (an
    /// unsolicited NA for IPv6) for the address whose turn it is. A
    /// failure is logged when it first appears, not at every turn.
    pub fn refresh_tick(&mut self, timers: &mut Timers) {
        let due = self.refresh.as_mut().and_then(|r| r.due(Instant::now()));
        if let Some((addr, ifname)) = due {
            let result = match addr {
                IpAddr::V4(a) => self.announcer.gratuitous(&ifname, a, REFRESH_COPIES),
                IpAddr::V6(a) => self.announcer.announce6(&ifname, a, REFRESH_COPIES),
            };
            match result {
                Ok(()) => self.refresh_error = None,
                Err(e) => {
                    let text = format!("refreshing {addr} on {ifname}: {e}");
                    if self.refresh_error.as_ref() != Some(&text) {
                        warn!("{text}");
                    }
                    self.refresh_error = Some(text);
                    self.announcer.forget(&ifname);
                }
            }
        }
        self.arm_refresh(timers);
    }

    /// A reload's `ArpRefresh`: turned on, off, or to another interval
    /// (the schedule keeps its turns); logged once.
    pub fn reconfigure_refresh(&mut self, env: &mut Env<'_>) {
        let now = Instant::now();
        match (env.cfg.arp_refresh(), self.refresh.as_mut()) {
            (None, None) => return,
            (None, Some(_)) => {
                self.refresh = None;
                info!("ArpRefresh off: held VIPs are no longer announced again");
            }
            (Some(t), Some(r)) => r.set_interval(t, now),
            (Some(t), None) => self.refresh = Some(Refresh::new(t)),
        }
        self.update_refresh(env);
        if let Some(r) = &self.refresh {
            info!(
                "ArpRefresh: refreshing {} VIPs every {:?}",
                r.len(),
                r.interval()
            );
        }
        self.arm_refresh(env.timers);
    }

    /// Queues the hooks of `event` (each runs in a child process when
    /// its turn comes) and makes sure the loop comes back to reap them.
    fn fire(&mut self, event: HookEvent, vif: Option<&HookVif>, timers: &mut Timers) {
        for e in self.hooks.fire(event, vif, Instant::now()) {
            error!("{e}");
        }
        self.arm_hooks(timers);
    }

    /// Queues the `check up` or `check down` hooks of the check that
    /// runs `check`.
    pub fn fire_check(&mut self, event: HookEvent, check: &std::path::Path, timers: &mut Timers) {
        for e in self.hooks.fire_check(event, check, Instant::now()) {
            error!("{e}");
        }
        self.arm_hooks(timers);
    }

    fn arm_hooks(&mut self, timers: &mut Timers) {
        match self.hooks.next_deadline() {
            Some(at) => timers.set(Key::Hooks, at),
            None => timers.cancel(Key::Hooks),
        }
    }

    pub fn reap_hooks(&mut self, timers: &mut Timers) {
        let reaped = self.hooks.reap(Instant::now());
        for f in reaped.finished {
            if f.succeeded() {
                info!("{f}");
            } else {
                warn!("{f}");
            }
        }
        for e in reaped.not_started {
            error!("{e}");
        }
        self.arm_hooks(timers);
    }

    fn share_arp_cache(&mut self, link: &mut Link) {
        self.arp_round += 1;
        self.cache.expire(self.arp_round);
        let records = match arpcache::sample() {
            Ok(r) => r,
            Err(e) => {
                warn!("cannot read {}: {e}", arpcache::PROC_NET_ARP);
                Vec::new()
            }
        };
        link.multicast(MessType::ArpCache, &msg::encode_arp_cache(&records));
    }

    /// At the end, before leaving the group: anything configured still
    /// up (a failed release) goes too, so that no peer takes over an
    /// address that is still here.
    pub fn remove_leftovers(&mut self, cfg: &Config) {
        let configured: Vec<&config::IfAddr> = cfg.addressed_vifs().flat_map(|v| v.v4()).collect();
        for (a, r) in self.ifs.remove_stale(&configured) {
            match r {
                Ok(Released::Removed { label }) => warn!("{a} was still up on {label}: removed"),
                Ok(_) => {}
                Err(e) => error!("removing {a}: {e}"),
            }
        }
    }

    /// At the very end: the `on down` hooks get to finish, those still
    /// waiting for a slot included, for at most a time limit and 5 s
    /// (a stop must not wait for a queue of slow hooks, and a child the
    /// kernel cannot kill does not hold the exit). Hooks that had not
    /// started by then are logged and left out.
    pub fn wait_for_hooks(&mut self, timers: &mut Timers) {
        let give_up = Instant::now() + hooks::DEFAULT_LIMIT + Duration::from_secs(5);
        while self.hooks.running() > 0 && Instant::now() < give_up {
            let wait = self
                .hooks
                .next_deadline()
                .map_or(Duration::from_millis(50), |t| {
                    t.saturating_duration_since(Instant::now())
                });
            std::thread::sleep(wait.min(Duration::from_millis(200)));
            self.reap_hooks(timers);
        }
        for e in self.hooks.abandon_waiting() {
            error!("{e}");
        }
    }
}

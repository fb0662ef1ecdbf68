//! A local cluster for end-to-end tests: `spread-sim` with one simulated
//! Spread daemon per host, a bridge namespace, host namespaces with a
//! veth on the bridge, and a `wackamole -d` in each. Everything is
//! removed on drop, also when a test fails.
//!
//! The same cluster runs on real Spread 5.0.1 ([`Backend::Real`], see
//! `real_spread.rs`): one daemon per host namespace instead of
//! spread-sim, and the Spread operations ([`Cluster::crash_spread`],
//! [`Cluster::restart_spread`], [`Cluster::spread_components`],
//! [`Cluster::crash_host`]) done to the real daemons and the network, so
//! one scenario runs on both.
//!
//! And on Corosync ([`Backend::Corosync`], see `corosync.rs`): one
//! `corosync` per host namespace, the hosts' configs say `Membership =
//! corosync`, and the same operations kill, restart and partition the
//! corosyncs and the network as for real Spread.

#![allow(dead_code)]

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::corosync::{self, RealCorosync};
use super::netns::Netns;
use super::real_spread::RealSpread;
use super::scratch::Scratch;
use super::spread_sim;

pub const SUBNET: &str = "10.80.0";

pub struct Host {
    pub ns: Netns,
    pub conf: PathBuf,
    pub log: PathBuf,
    pub control: PathBuf,
    pub pidfile: PathBuf,
    pub daemon: Option<Child>,
    pub addr: Ipv4Addr,
    /// Whatever must go with the host (a C node's links and files, see
    /// `c_node.rs`): dropped after every daemon has stopped.
    pub guards: Vec<Box<dyn std::any::Any>>,
}

/// What plays Spread for a [`Cluster`].
#[derive(Clone, Debug)]
pub enum Backend {
    /// `spread-sim`, the test double: one process, a simulated daemon per
    /// host (`DIR/dI.sock`).
    Sim,
    /// Real Spread 5.0.1 from the reference build at this prefix
    /// (`thirdparty::real_prefix`): a daemon per host namespace.
    Real(PathBuf),
    /// Corosync 3 (CPG): a `corosync` per host namespace with the token
    /// [`corosync::TOKEN_MS`]; the hosts' configs say `Membership =
    /// corosync`.
    Corosync,
}

impl Backend {
    /// `spread-sim` or `real Spread`, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sim => "spread-sim",
            Backend::Real(_) => "real Spread",
            Backend::Corosync => "corosync",
        }
    }

    /// The group system as the daemon's log names it (`lost Spread`).
    pub fn system(&self) -> &'static str {
        match self {
            Backend::Sim | Backend::Real(_) => "Spread",
            Backend::Corosync => "Corosync",
        }
    }

    /// A real engine on a real network (real Spread, Corosync): its
    /// membership changes come by timeouts and the network, not at once
    /// on a command as spread-sim's do.
    pub fn is_real(&self) -> bool {
        matches!(self, Backend::Real(_) | Backend::Corosync)
    }
}

pub struct Cluster {
    pub dir: Scratch,
    /// spread-sim ([`Backend::Sim`]).
    pub sim: Option<Child>,
    /// The real daemons ([`Backend::Real`]).
    pub real: Option<RealSpread>,
    /// The corosyncs ([`Backend::Corosync`]).
    pub coro: Option<RealCorosync>,
    pub sw: Netns,
    pub hosts: Vec<Host>,
    pub vips: Vec<Ipv4Addr>,
}

fn bin(name: &str) -> PathBuf {
    // The test binary lives in target/<profile>/deps; the programs one up.
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

pub fn wackamole_bin() -> PathBuf {
    bin("wackamole")
}

pub fn wackatrl_bin() -> PathBuf {
    bin("wackatrl")
}

impl Cluster {
    /// `n` hosts sharing `vips` VIPs, nothing started yet but spread-sim.
    pub fn new(tag: &str, n: usize, vips: usize, extra_conf: &str) -> Cluster {
        Cluster::new_on(&Backend::Sim, tag, n, vips, extra_conf)
    }

    /// Like [`Cluster::new`] on `backend`. With real Spread or Corosync,
    /// the daemons are started and have formed one ring when this
    /// returns.
    pub fn new_on(
        backend: &Backend,
        tag: &str,
        n: usize,
        vips: usize,
        extra_conf: &str,
    ) -> Cluster {
        Cluster::build(backend, tag, n, vips, extra_conf, true)
    }

    /// Like [`Cluster::new_on`], but on real Spread (or Corosync) no
    /// daemon is started
    /// (a cold start: [`Cluster::restart_spread`] starts each). Restarting
    /// a daemon the harness killed can fail: its port may still be taken
    /// by a TIME_WAIT connection, and Spread does not set SO_REUSEADDR
    /// ("Sess_init: unable to bind to port"). spread-sim starts as usual.
    pub fn new_cold_on(
        backend: &Backend,
        tag: &str,
        n: usize,
        vips: usize,
        extra_conf: &str,
    ) -> Cluster {
        Cluster::build(backend, tag, n, vips, extra_conf, false)
    }

    fn build(
        backend: &Backend,
        tag: &str,
        n: usize,
        vips: usize,
        extra_conf: &str,
        start_spread: bool,
    ) -> Cluster {
        let dir = Scratch::new(&format!("wkm-{tag}"));
        let sim = match backend {
            Backend::Sim => {
                let log = fs::File::create(dir.join("sim.log")).unwrap();
                Some(spread_sim::start(
                    &dir.0,
                    n,
                    &dir.join("sim.ctl"),
                    Stdio::from(log),
                ))
            }
            Backend::Real(_) | Backend::Corosync => None,
        };
        let sw = Netns::new(&format!("{tag}sw"));
        sw.ip(&["link", "add", "br0", "type", "bridge"]);
        sw.ip(&["link", "set", "br0", "up"]);
        let vips: Vec<Ipv4Addr> = (0..vips)
            .map(|i| format!("{SUBNET}.{}", 101 + i).parse().unwrap())
            .collect();
        let mut hosts = Vec::new();
        for i in 1..=n {
            let ns = Netns::new(&format!("{tag}h"));
            let port = format!("p{i}");
            super::netns::veth(&ns, "e0", &sw, &port);
            sw.ip(&["link", "set", &port, "master", "br0"]);
            let addr: Ipv4Addr = format!("{SUBNET}.{i}").parse().unwrap();
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "e0"]);
            let conf = dir.join(format!("h{i}.conf"));
            let control = dir.join(format!("h{i}.ctl"));
            let host = Host {
                ns,
                conf,
                log: dir.join(format!("h{i}.log")),
                control,
                pidfile: dir.join(format!("h{i}.pid")),
                daemon: None,
                addr,
                guards: Vec::new(),
            };
            hosts.push(host);
        }
        let named: Vec<(String, Ipv4Addr)> =
            hosts.iter().map(|h| (h.ns.name.clone(), h.addr)).collect();
        let coro = match backend {
            Backend::Corosync => {
                let mut r =
                    RealCorosync::new(&dir.0, SUBNET, named.clone(), Some(corosync::TOKEN_MS));
                if start_spread {
                    for i in 0..n {
                        r.start(i);
                    }
                }
                Some(r)
            }
            _ => None,
        };
        let real = match backend {
            Backend::Sim | Backend::Corosync => None,
            Backend::Real(prefix) => {
                let mut r = RealSpread::new(prefix, &dir.0, SUBNET, named);
                if start_spread {
                    for i in 0..n {
                        r.start(i);
                    }
                }
                Some(r)
            }
        };
        let c = Cluster {
            dir,
            sim,
            real,
            coro,
            sw,
            hosts,
            vips,
        };
        if let Some(r) = c.real.as_ref().filter(|_| start_spread) {
            let all: Vec<usize> = (0..n).collect();
            r.wait_ring(&all, Duration::from_secs(30));
        }
        if let Some(r) = c.coro.as_ref().filter(|_| start_spread) {
            let all: Vec<usize> = (0..n).collect();
            r.wait_ring(&all, Duration::from_secs(30));
        }
        for i in 0..n {
            c.write_conf(i, &c.vips, extra_conf);
        }
        c
    }

    /// How host `i`'s config names its Spread daemon (not on Corosync).
    pub fn spread_address(&self, i: usize) -> String {
        assert!(self.coro.is_none(), "no Spread address on Corosync");
        match &self.real {
            Some(r) => r.address(i),
            None => spread_sim::daemon_socket(&self.dir.0, i + 1)
                .display()
                .to_string(),
        }
    }

    /// Writes host `i`'s config with `vips`.
    /// Writes the cluster's key file (`SharedSecretFile`) with `text`
    /// and permission bits `mode`; returns its path.
    pub fn write_key(&self, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let key = self.dir.join("wackamole.key");
        fs::write(&key, text).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
        key
    }

    pub fn write_conf(&self, i: usize, vips: &[Ipv4Addr], extra: &str) {
        self.write_conf_with(
            i,
            &Conf {
                vifs: vif_lines(vips),
                extra,
                ..Conf::default()
            },
        );
    }

    /// Writes host `i`'s config as `conf` says (the Spread socket,
    /// group, control socket and node address are the cluster's).
    pub fn write_conf_with(&self, i: usize, conf: &Conf<'_>) {
        let h = &self.hosts[i];
        let list: Vec<String> = conf.vifs.iter().map(|v| format!("  {v}")).collect();
        let membership = if self.coro.is_some() {
            "Membership = corosync".to_string()
        } else {
            format!("Spread = {}", self.spread_address(i))
        };
        let text = format!(
            "{}\nGroup = wack\nControl = {}\nNodeAddress = {}\nMature = {}\nSpreadRetryInterval = 1s\n\
             Balance {{ {} }}\nArp-Cache = 30s\nVirtualInterfaces {{\n{}\n}}\n{}\n",
            membership,
            h.control.display(),
            h.addr,
            conf.mature,
            conf.balance,
            list.join("\n"),
            conf.extra,
        );
        fs::write(&h.conf, text).unwrap();
    }

    pub fn start(&mut self, i: usize) {
        self.start_with_env(i, &[]);
    }

    /// Starts host `i`'s daemon with `env` added to the environment it
    /// inherits.
    pub fn start_with_env(&mut self, i: usize, env: &[(&str, &Path)]) {
        let h = &mut self.hosts[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&h.log)
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &h.ns.name])
            .arg(wackamole_bin())
            .arg("-d")
            .arg("-c")
            .arg(&h.conf)
            .arg("-p")
            .arg(&h.pidfile)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start wackamole");
        h.daemon = Some(child);
    }

    pub fn start_all(&mut self) {
        for i in 0..self.hosts.len() {
            self.start(i);
        }
    }

    /// Sends `sig` (e.g. "TERM", "HUP") to host `i`'s daemon.
    pub fn signal(&self, i: usize, sig: &str) {
        let pid = self.hosts[i].daemon.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for host `i`'s daemon to exit; its status code.
    pub fn wait_exit(&mut self, i: usize, within: Duration) -> Option<i32> {
        let child = self.hosts[i].daemon.as_mut()?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.hosts[i].daemon = None;
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The VIPs up on host `i` now.
    pub fn held(&self, i: usize) -> Vec<Ipv4Addr> {
        held_in(&self.hosts[i].ns.name, &self.vips_all())
    }

    fn vips_all(&self) -> Vec<Ipv4Addr> {
        // Every address in the subnet above .100 counts as a VIP.
        (101..=254)
            .map(|o| format!("{SUBNET}.{o}").parse().unwrap())
            .collect()
    }

    /// For each VIP, the hosts holding it.
    pub fn holders(&self, vips: &[Ipv4Addr]) -> Vec<Vec<usize>> {
        let held: Vec<Vec<Ipv4Addr>> = (0..self.hosts.len()).map(|i| self.held(i)).collect();
        vips.iter()
            .map(|v| {
                (0..self.hosts.len())
                    .filter(|&i| held[i].contains(v))
                    .collect()
            })
            .collect()
    }

    /// Waits until every VIP of `vips` is up on exactly one of `live`
    /// hosts (and nowhere else); panics with the logs after `within`.
    pub fn wait_settled(&self, vips: &[Ipv4Addr], live: &[usize], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let holders = self.holders(vips);
            if holders.iter().all(|h| h.len() == 1 && live.contains(&h[0])) {
                return;
            }
            if Instant::now() > deadline {
                panic!("not settled: holders {holders:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.hosts[i].log).unwrap_or_default()
    }

    pub fn logs(&self) -> String {
        (0..self.hosts.len())
            .map(|i| format!("--- h{} log:\n{}", i + 1, self.log(i)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until host `i`'s log contains `needle`.
    pub fn wait_log(&self, i: usize, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log(i).contains(needle) {
            if Instant::now() > deadline {
                panic!("h{} never logged {needle:?}\n{}", i + 1, self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A `spread-sim --ctl` command (spread-sim only).
    pub fn sim_ctl(&self, cmd: &str) -> String {
        assert!(self.sim.is_some(), "sim_ctl {cmd:?} without spread-sim");
        spread_sim::ctl(&self.dir.join("sim.ctl"), cmd)
    }

    /// Runs `wackatrl ARGS` against host `i`.
    pub fn wackatrl(&self, i: usize, args: &[&str]) -> std::process::Output {
        Command::new(wackatrl_bin())
            .arg("-c")
            .arg(&self.hosts[i].conf)
            .args(args)
            .output()
            .unwrap()
    }
}

/// The parts of a host's config a test may choose (see
/// [`Cluster::write_conf_with`]); the default is what [`Cluster::new`]
/// writes, without VIFs.
pub struct Conf<'a> {
    /// One VIF per entry, as the config spells it: `e0:10.80.0.101/32`
    /// or a group `{ e0:10.80.0.101/32 e0:10.80.0.201/32 }`.
    pub vifs: Vec<String>,
    /// The `Mature` time, e.g. `1s`.
    pub mature: &'a str,
    /// The inside of the `Balance { }` block.
    pub balance: &'a str,
    /// Appended at the end.
    pub extra: &'a str,
}

impl Default for Conf<'_> {
    fn default() -> Self {
        Conf {
            vifs: Vec::new(),
            mature: "1s",
            balance: "AcquisitionsPerRound = all",
            extra: "",
        }
    }
}

/// One single-address VIF per VIP, on `e0`, as config lines.
pub fn vif_lines(vips: &[Ipv4Addr]) -> Vec<String> {
    vips.iter().map(|v| format!("e0:{v}/32")).collect()
}

impl Cluster {
    /// How many VIPs each host holds now.
    pub fn counts(&self) -> Vec<usize> {
        (0..self.hosts.len()).map(|i| self.held(i).len()).collect()
    }

    /// SIGKILLs host `i`'s daemon and reaps it: it releases nothing,
    /// its VIPs stay up in its namespace.
    pub fn kill(&mut self, i: usize) {
        let mut child = self.hosts[i].daemon.take().expect("running");
        child.kill().expect("SIGKILL the daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().unwrap().is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "h{} survived SIGKILL", i + 1);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Takes host `i`'s link to the bridge down.
    pub fn link_down(&self, i: usize) {
        self.hosts[i].ns.ip(&["link", "set", "e0", "down"]);
    }

    /// Cuts host `i`'s cable: the bridge's port to it goes down, so the
    /// host's `e0` stays up (as configured) but loses its carrier. It
    /// does not touch Spread: spread-sim's components are set apart
    /// ([`Cluster::spread_components`]).
    pub fn cut_link(&self, i: usize) {
        self.sw.ip(&["link", "set", &format!("p{}", i + 1), "down"]);
    }

    /// Plugs host `i`'s cable back in (see [`Cluster::cut_link`]).
    pub fn heal_link(&self, i: usize) {
        self.sw.ip(&["link", "set", &format!("p{}", i + 1), "up"]);
    }

    /// The pid of host `i`'s daemon while the test holds it (`ip netns
    /// exec` execs the daemon: its pid is the child's).
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.hosts[i].daemon.as_ref().map(Child::id)
    }

    /// Whether host `i`'s daemon has exited without the test stopping
    /// it: its exit status, the daemon reaped and forgotten. `None`
    /// while it runs or when none was started.
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let st = self.hosts[i].daemon.as_mut()?.try_wait().unwrap()?;
        self.hosts[i].daemon = None;
        Some(st)
    }

    /// Host `i`'s Spread daemon crashes: its clients' connections drop
    /// (spread-sim: `crash d{i+1}`; real Spread, Corosync: SIGKILL).
    pub fn crash_spread(&mut self, i: usize) {
        if let Some(r) = &mut self.coro {
            r.kill(i);
            return;
        }
        if let Some(r) = &mut self.real {
            r.kill(i);
            return;
        }
        self.sim_ctl(&format!("crash d{}", i + 1));
    }

    /// Host `i`'s Spread daemon comes back, with no clients (spread-sim
    /// places it; [`Cluster::spread_components`] moves it. A real one
    /// joins the daemons its bridge reaches).
    pub fn restart_spread(&mut self, i: usize) {
        if let Some(r) = &mut self.coro {
            r.start(i);
            return;
        }
        if let Some(r) = &mut self.real {
            r.start(i);
            return;
        }
        self.sim_ctl(&format!("restart d{}", i + 1));
    }

    /// Splits the live Spread daemons into `components` (host indexes;
    /// every live one in exactly one); a single component is a heal. A
    /// component whose daemons stay the same keeps its view. On real
    /// Spread the network splits: component K's bridge ports move to
    /// bridge `brK` in the switch namespace (links stay up; a heal moves
    /// every port back to `br0`). Corosync: the same.
    pub fn spread_components(&self, components: &[Vec<usize>]) {
        if self.real.is_some() || self.coro.is_some() {
            for (k, comp) in components.iter().enumerate() {
                let k = if components.len() <= 1 { 0 } else { k };
                let br = format!("br{k}");
                if k > 0
                    && !self
                        .sw
                        .ip(&["-o", "link", "show"])
                        .contains(&format!(" {br}:"))
                {
                    self.sw.ip(&["link", "add", &br, "type", "bridge"]);
                    self.sw.ip(&["link", "set", &br, "up"]);
                }
                for i in comp {
                    self.sw
                        .ip(&["link", "set", &format!("p{}", i + 1), "master", &br]);
                }
            }
            if components.len() <= 1 {
                // Also the hosts a heal does not name (whose daemon is down).
                for i in 0..self.hosts.len() {
                    self.sw
                        .ip(&["link", "set", &format!("p{}", i + 1), "master", "br0"]);
                }
            }
            return;
        }
        if components.len() <= 1 {
            self.sim_ctl("heal");
            return;
        }
        let names: Vec<String> = components
            .iter()
            .map(|c| {
                c.iter()
                    .map(|i| format!("d{}", i + 1))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        self.sim_ctl(&format!("partition {}", names.join(" | ")));
    }

    /// Models host `i` dying: its link down first (on real Spread its
    /// daemon can then tell its peers nothing: they notice by the token
    /// timeout), its daemon SIGKILLed (the VIPs it held stay configured
    /// in its namespace, as on a hung host), and its Spread daemon
    /// crashed (spread-sim only sees the client's socket close, not the
    /// host going away).
    pub fn crash_host(&mut self, i: usize) {
        self.link_down(i);
        self.kill(i);
        self.crash_spread(i);
    }

    /// Waits until every VIP of `vips` is up on exactly one host of
    /// `among` (hosts outside `among` are not looked at); panics with the
    /// logs after `within`.
    pub fn wait_settled_among(&self, vips: &[Ipv4Addr], among: &[usize], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let holders: Vec<Vec<usize>> = self
                .holders(vips)
                .into_iter()
                .map(|h| h.into_iter().filter(|i| among.contains(i)).collect())
                .collect();
            if holders.iter().all(|h: &Vec<usize>| h.len() == 1) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "not settled among {among:?}: holders {holders:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `ok` holds of the cluster; panics naming `what`, with
    /// the logs, after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, mut ok: impl FnMut(&Cluster) -> bool) {
        let deadline = Instant::now() + within;
        while !ok(self) {
            if Instant::now() > deadline {
                panic!(
                    "{what}: not within {within:?} (counts {:?})\n{}",
                    self.counts(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The addresses of `candidates` up in namespace `ns`.
pub fn held_in(ns: &str, candidates: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "-4", "addr", "show"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    candidates
        .iter()
        .copied()
        .filter(|v| text.contains(&format!("inet {v}/")))
        .collect()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            if let Some(mut c) = h.daemon.take() {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(c.id().to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(sim) = &mut self.sim {
            let _ = sim.kill();
            let _ = sim.wait();
        }
        if let Some(r) = &mut self.real {
            for i in 0..self.hosts.len() {
                r.kill(i);
            }
        }
        if let Some(r) = &mut self.coro {
            for i in 0..self.hosts.len() {
                r.kill(i);
            }
        }
        // `dir` goes after this, with the fields.
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

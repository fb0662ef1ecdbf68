//! The failover benchmark (`make bench-failover`, `bench/failover.sh`):
//! three namespaced hosts on a bridge, each with a real Spread 5.0.1
//! daemon (the harness's lowered timeouts, tests/common/real_spread.rs)
//! and a failover daemon; V VIPs (10.81.x.y/32 on `e0`, more than one
//! /24 from V = 251 on) all held by the first host, which then dies
//! (its link down, its daemon and its Spread SIGKILLed:
//! `Cluster::crash_host`). On each survivor a recorder
//! (tests/common/capture.rs) notes with kernel timestamps the Spread
//! membership reaching its daemon (`lo`), every ARP frame (`e0`) and
//! every address appearing (rtnetlink); a client namespace pings one of
//! the VIPs every 10 ms.
//!
//! Per run and survivor (over the VIPs it took), from the first regular
//! membership its Spread daemon sent after the kill: the first
//! announcement (an ARP frame it sent with a moved VIP as the sender,
//! not an answer to a request), the last VIP up, the last VIP's first
//! announcement (the end of the first pass). The table shows the worst
//! survivor's figure. The client's outage is its longest time without
//! a reply; the detection time is the kill until the membership on the
//! survivor that took the pinged VIP.
//!
//! Both survivors start after the victim holds every VIP, and the
//! templates balance at most one VIP an hour, so all V VIPs move on its
//! death and the two survivors share them (as in an N+1 setup): each
//! records, each figure is the slower survivor's.
//!
//! Parameters (environment): `BENCH_IMPL` rust (default), c or
//! keepalived; `BENCH_BIN` the daemon (default: this build's
//! wackamole, the thirdparty C wackamole, `keepalived`);
//! `BENCH_TEMPLATE` its config template (default bench/IMPL.conf.in);
//! `BENCH_V` the VIP counts (default 1,64,100,254,1024; C stops at
//! 100: 2.1.4 holds at most 101 VIPs on one interface, every alias
//! past `e0:100` being labelled `e0:101`, and segfaults at start with
//! 1,000 VIFs); `BENCH_RUNS` runs per V (default 10);
//! `BENCH_V6=1` adds one IPv6 VIP (Rust only) and a client pinging it
//! (the IPv6 outage column); `BENCH_ADVERT` keepalived's advert_int
//! (default 0.3 s: at 0.1 both backups became master at 64 VIPs here;
//! keepalived rows stop at 64, as its setup did not hold at 254);
//! `BENCH_FOOTPRINT_S` the footprint's idle time
//! (default 60).
//!
//! `#[ignore]`: measurements, not assertions; what is asserted is only
//! that each takeover happened.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::capture::{Log, Recorder, REG_MEMB, TRANSITION};
use common::cluster::{Backend, Cluster};
use common::netns::Netns;
use common::pinger::{client, longest_gap, Pinger};
use common::thirdparty;

const CLIENT: &str = "10.80.0.50";
const VIP6: &str = "fd81::1";
/// The most VIPs C 2.1.4 holds on one interface (see `bench_failover`).
const C_MAX_HELD: usize = 101;
/// The largest V the keepalived setup held with (254 did not).
const KEEPALIVED_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Rust,
    C,
    Keepalived,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Rust => "rust",
            Impl::C => "c",
            Impl::Keepalived => "keepalived",
        }
    }
}

struct Params {
    imp: Impl,
    bin: PathBuf,
    template: String,
    prefix: PathBuf,
    v6: bool,
    advert: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn params(imp: Impl, prefix: &Path) -> Params {
    let bin = env("BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| match imp {
            Impl::Rust => common::cluster::wackamole_bin(),
            Impl::C => thirdparty::c_wackamole(prefix),
            Impl::Keepalived => PathBuf::from("keepalived"),
        });
    let template_path = env("BENCH_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(format!("bench/{}.conf.in", imp.name())));
    let template = std::fs::read_to_string(&template_path)
        .unwrap_or_else(|e| panic!("{}: {e}", template_path.display()));
    Params {
        imp,
        bin,
        template,
        prefix: prefix.to_path_buf(),
        v6: env("BENCH_V6").is_some_and(|v| v == "1") && imp == Impl::Rust,
        advert: env("BENCH_ADVERT").unwrap_or_else(|| "0.3".into()),
    }
}

/// VIP `i` (from 0): 10.81.(i / 250).(i % 250 + 1).
fn vip_list(v: usize) -> Vec<Ipv4Addr> {
    (0..v)
        .map(|i| Ipv4Addr::new(10, 81, (i / 250) as u8, (i % 250 + 1) as u8))
        .collect()
}

/// Removes a C node's `/etc/netns/NS/hosts` (see tests/common/c_node.rs)
/// and kills a keepalived's process group (its VRRP child outlives a
/// SIGKILLed parent).
struct Guard {
    hosts_dir: Option<PathBuf>,
    pgid: Option<u32>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pg) = self.pgid {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pg as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Some(d) = &self.hosts_dir {
            let _ = std::fs::remove_file(d.join("hosts"));
            let _ = std::fs::remove_dir(d);
            let _ = std::fs::remove_dir("/etc/netns");
        }
    }
}

/// Host `i`'s config from the template.
fn write_conf(c: &Cluster, p: &Params, i: usize, vips: &[Ipv4Addr], per_round: &str) {
    let h = &c.hosts[i];
    let text = match p.imp {
        Impl::Rust | Impl::C => {
            let mut vifs: Vec<String> = vips.iter().map(|v| format!("    e0:{v}/32n8")).collect();
            if p.v6 {
                vifs.push(format!("    e0:[{VIP6}]/64"));
            }
            p.template
                .replace("@SPREAD@", &c.spread_address(i))
                .replace("@CONTROL@", &h.control.display().to_string())
                .replace("@ADDR@", &h.addr.to_string())
                .replace("@CLIENT@", CLIENT)
                .replace("@PER_ROUND@", per_round)
                .replace("@VIFS@", &vifs.join("\n"))
        }
        Impl::Keepalived => {
            let rest: Vec<String> = vips[1..]
                .iter()
                .map(|v| format!("        {v}/32 dev e0"))
                .collect();
            p.template
                .replace("@NAME@", &format!("h{}", i + 1))
                .replace("@PRIORITY@", ["200", "100", "50"][i.min(2)])
                .replace("@ADVERT_INT@", &p.advert)
                .replace("@VIP1@", &vips[0].to_string())
                .replace("@VIPS_REST@", &rest.join("\n"))
        }
    };
    std::fs::write(&h.conf, text).unwrap();
}

/// Starts host `i`'s daemon as `p` says; the child goes where the
/// cluster's own daemons go (`crash_host` and drop stop it).
fn launch(c: &mut Cluster, p: &Params, i: usize) {
    let h = &mut c.hosts[i];
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&h.log)
        .unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &h.ns.name]);
    let mut guard = Guard {
        hosts_dir: None,
        pgid: None,
    };
    match p.imp {
        Impl::Rust => {
            cmd.arg(&p.bin)
                .arg("-d")
                .arg("-c")
                .arg(&h.conf)
                .arg("-p")
                .arg(&h.pidfile);
        }
        Impl::C => {
            // C takes its identity from the host name (c_node.rs).
            let name = common::c_node::c_host_name(i);
            let dir = PathBuf::from(format!("/etc/netns/{}", h.ns.name));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("hosts"),
                format!("127.0.0.1 localhost\n{} {name}\n", h.addr),
            )
            .unwrap();
            guard.hosts_dir = Some(dir);
            cmd.args(["unshare", "--uts", "sh", "-c"]).arg(format!(
                "hostname {name} && exec {} -d -c {}",
                p.bin.display(),
                h.conf.display()
            ));
        }
        Impl::Keepalived => {
            use std::os::unix::process::CommandExt;
            let d = h.pidfile.with_extension("");
            cmd.arg(&p.bin)
                .args(["-n", "-l", "-D", "-P", "-f"])
                .arg(&h.conf)
                .arg("-p")
                .arg(d.with_extension("ka.pid"))
                .arg("-r")
                .arg(d.with_extension("vrrp.pid"))
                .process_group(0);
        }
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start the daemon");
    if p.imp == Impl::Keepalived {
        guard.pgid = Some(child.id());
    }
    h.daemon = Some(child);
    h.guards.push(Box::new(guard));
}

/// The IPv4 addresses up in `ns` now.
fn addrs_in(ns: &Netns) -> HashSet<Ipv4Addr> {
    ns.ip(&["-o", "-4", "addr", "show"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "inet")
        .filter_map(|w| w[1].split('/').next()?.parse().ok())
        .collect()
}

fn has_v6(ns: &Netns) -> bool {
    ns.ip(&["-o", "-6", "addr", "show"])
        .contains(&format!("inet6 {VIP6}/"))
}

/// Waits (at most `within`) until `ok`; panics naming `what`, with the
/// logs.
fn wait(c: &Cluster, what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One run's figures (ms); `None` where nothing was seen.
#[derive(Debug, Default, Clone)]
struct Sample {
    detect: Option<f64>,
    /// Membership → the last group message (the survivors' STATEs)
    /// delivered before the first announcement: the state exchange.
    state: Option<f64>,
    first_ann: Option<f64>,
    last_up: Option<f64>,
    last_ann: Option<f64>,
    outage: Option<f64>,
    outage_net: Option<f64>,
    outage6: Option<f64>,
}

fn ms_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

/// The first regular membership the survivor's Spread daemon sent its
/// client after `t`.
fn membership_after(log: &Log, t: SystemTime) -> Option<SystemTime> {
    log.spread
        .iter()
        .filter(|s| s.at >= t && s.has(REG_MEMB))
        .map(|s| s.at)
        .min()
}

/// The last Spread segment to the client in `[from, to]` that carries a
/// group message (not a membership): the end of the state exchange when
/// `to` is the first announcement.
fn last_data_between(log: &Log, from: SystemTime, to: SystemTime) -> Option<SystemTime> {
    log.spread
        .iter()
        .filter(|s| s.at >= from && s.at <= to)
        .filter(|s| {
            s.kinds
                .iter()
                .any(|k| k & 0x3f != 0 && k & (REG_MEMB | TRANSITION) == 0)
        })
        .map(|s| s.at)
        .max()
}

/// For each VIP of `share`, its first announcement after `t` (ARP
/// frames sent with the VIP as sender, not the kernel's answers to a
/// request for it received just before).
fn first_announcements(log: &Log, share: &HashSet<Ipv4Addr>, t: SystemTime) -> Vec<SystemTime> {
    // The requests received (few: the client's), to tell the kernel's
    // answers apart.
    let requests: Vec<_> = log.arps.iter().filter(|q| !q.out && q.op == 1).collect();
    let mut first: std::collections::HashMap<Ipv4Addr, SystemTime> = Default::default();
    for a in &log.arps {
        if !a.out || a.at < t || !share.contains(&a.sender) {
            continue;
        }
        let answer = a.op == 2
            && a.dst_mac != [0xff; 6]
            && requests.iter().any(|q| {
                q.target == a.sender
                    && q.sender == a.target
                    && q.at <= a.at
                    && ms_between(q.at, a.at) < 50.0
            });
        if answer {
            continue;
        }
        first
            .entry(a.sender)
            .and_modify(|f| *f = (*f).min(a.at))
            .or_insert(a.at);
    }
    first.into_values().collect()
}

/// A cold cluster with every membership daemon in one ring (not for
/// keepalived), configs written.
fn cluster(p: &Params, tag: &str, vips: &[Ipv4Addr], per_round: &str) -> Cluster {
    let mut c = Cluster::new_cold_on(&Backend::Real(p.prefix.clone()), tag, 3, 0, "");
    if p.imp != Impl::Keepalived {
        for i in 0..3 {
            c.restart_spread(i);
        }
        c.real
            .as_ref()
            .unwrap()
            .wait_ring(&[0, 1, 2], Duration::from_secs(60));
    }
    for i in 0..3 {
        write_conf(&c, p, i, vips, per_round);
    }
    c
}

fn run(p: &Params, v: usize, k: usize) -> Sample {
    let vips = vip_list(v);
    let all: HashSet<Ipv4Addr> = vips.iter().copied().collect();
    let mut c = cluster(p, &format!("bf{k}"), &vips, "1");
    let recs: Vec<Recorder> = [1, 2]
        .iter()
        .map(|&i| Recorder::start(&c.hosts[i].ns))
        .collect();
    // The victim takes every VIP alone, then the others join.
    launch(&mut c, p, 0);
    wait(
        &c,
        "the victim holds every VIP",
        Duration::from_secs(60),
        || addrs_in(&c.hosts[0].ns).is_superset(&all) && (!p.v6 || has_v6(&c.hosts[0].ns)),
    );
    for s in [1, 2] {
        let t = SystemTime::now();
        launch(&mut c, p, s);
        if p.imp != Impl::Keepalived {
            let r = &recs[s - 1];
            wait(&c, "the survivor joined", Duration::from_secs(30), || {
                membership_after(&r.snapshot(), t).is_some()
            });
        }
    }
    // The state exchange after the last join (keepalived: the backups
    // hear the master).
    std::thread::sleep(Duration::from_secs(2));
    let held: Vec<HashSet<Ipv4Addr>> = (0..3).map(|i| addrs_in(&c.hosts[i].ns)).collect();
    assert!(
        held[0].is_superset(&all) && held[1].is_disjoint(&all) && held[2].is_disjoint(&all),
        "before the kill the victim must hold every VIP alone\n{}",
        c.logs()
    );
    let cl = client(&c);
    cl.ip(&["route", "add", "10.81.0.0/16", "dev", "e0"]);
    let p4 = common::pinger::answered(&c, &cl, vips[0]);
    let p6 = p.v6.then(|| {
        cl.ip(&["-6", "addr", "add", "fd81::50/64", "dev", "e0", "nodad"]);
        let pg = Pinger::start6(&cl, VIP6.parse().unwrap(), Duration::from_millis(10));
        wait(&c, "the IPv6 VIP answers", Duration::from_secs(10), || {
            pg.heard() >= 10
        });
        pg
    });
    let heard0 = p4.heard();
    let i_kill = Instant::now();
    let t_kill = SystemTime::now();
    c.crash_host(0);
    if p.imp == Impl::Keepalived {
        // Its VRRP child (the parent alone was SIGKILLed).
        c.hosts[0].guards.clear();
    }
    // Every VIP up on a survivor, by the recorders (passive: polling
    // `ip addr` would take the RTNL lock the daemons' adds need), then
    // checked once with `ip`.
    wait(
        &c,
        "every VIP up on a survivor",
        Duration::from_secs(60),
        || {
            std::thread::sleep(Duration::from_millis(30));
            let mut up = HashSet::new();
            for r in &recs {
                for e in r.snapshot().addrs {
                    if let (true, IpAddr::V4(a)) = (e.at >= t_kill && e.usable(), e.addr) {
                        up.insert(a);
                    }
                }
            }
            all.is_subset(&up)
        },
    );
    let t_settled = Instant::now();
    wait(
        &c,
        "every VIP on one survivor",
        Duration::from_secs(60),
        || {
            let a = addrs_in(&c.hosts[1].ns);
            let b = addrs_in(&c.hosts[2].ns);
            a.intersection(&b).all(|x| !all.contains(x))
                && all.iter().all(|x| a.contains(x) || b.contains(x))
        },
    );
    wait(
        &c,
        "the client hears the new owner",
        Duration::from_secs(60),
        || p4.heard() > heard0 + 20,
    );
    if let Some(pg) = &p6 {
        let h6 = pg.heard();
        wait(
            &c,
            "the IPv6 client hears the new owner",
            Duration::from_secs(60),
            || pg.heard() > h6 + 20,
        );
    }
    let shares: Vec<HashSet<Ipv4Addr>> = [1, 2]
        .iter()
        .map(|&i| {
            addrs_in(&c.hosts[i].ns)
                .intersection(&all)
                .copied()
                .collect()
        })
        .collect();
    // The first pass: every VIP announced once (bounded: C, without a
    // notify destination for a VIP, sends nothing).
    if p.imp != Impl::Keepalived {
        let deadline = t_settled + Duration::from_secs(5);
        while Instant::now() < deadline {
            let done = recs.iter().zip(&shares).all(|(r, s)| {
                let l = r.snapshot();
                membership_after(&l, t_kill)
                    .is_some_and(|m| first_announcements(&l, s, m).len() == s.len())
            });
            if done {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let logs: Vec<Log> = recs.into_iter().map(Recorder::stop).collect();
    let replies = p4.stop();
    let replies6 = p6.map(Pinger::stop);
    let gap =
        longest_gap(&replies, i_kill - Duration::from_millis(200)).map(|d| d.as_secs_f64() * 1e3);
    let gap6 = replies6
        .and_then(|r| longest_gap(&r, i_kill - Duration::from_millis(200)))
        .map(|d| d.as_secs_f64() * 1e3);

    let mut s = Sample {
        outage: gap,
        outage6: gap6,
        ..Sample::default()
    };
    let worst = |a: Option<f64>, b: f64| Some(a.map_or(b, |a| a.max(b)));
    for (log, share) in logs.iter().zip(&shares) {
        if share.is_empty() {
            continue;
        }
        // keepalived: no membership; its "detection" is the new
        // master's first advertisement.
        let m = match p.imp {
            Impl::Keepalived => log.vrrp_out.iter().filter(|t| **t >= t_kill).min().copied(),
            _ => membership_after(log, t_kill),
        };
        let Some(m) = m else { continue };
        if share.contains(&vips[0]) {
            s.detect = Some(ms_between(t_kill, m));
        }
        let anns = first_announcements(log, share, m);
        if let Some(f) = anns.iter().min() {
            s.first_ann = worst(s.first_ann, ms_between(m, *f));
            if let Some(d) = last_data_between(log, m, *f) {
                s.state = worst(s.state, ms_between(m, d));
            }
        }
        if anns.len() == share.len() {
            if let Some(l) = anns.iter().max() {
                s.last_ann = worst(s.last_ann, ms_between(m, *l));
            }
        }
        let ups: Vec<SystemTime> = share
            .iter()
            .filter_map(|v| {
                log.addrs
                    .iter()
                    .filter(|e| e.at >= t_kill && e.usable() && e.addr == IpAddr::V4(*v))
                    .map(|e| e.at)
                    .min()
            })
            .collect();
        if ups.len() == share.len() {
            if let Some(l) = ups.iter().max() {
                s.last_up = worst(s.last_up, ms_between(m, *l));
            }
        }
    }
    if let (Some(g), Some(d)) = (s.outage, s.detect) {
        s.outage_net = Some(g - d);
    }
    eprintln!(
        "BENCH {} V={v} run {}: shares {:?} {s:?}",
        p.imp.name(),
        k + 1,
        shares.iter().map(HashSet::len).collect::<Vec<_>>()
    );
    s
}

fn stat(v: &[Option<f64>]) -> String {
    let mut x: Vec<f64> = v.iter().flatten().copied().collect();
    if x.is_empty() {
        return "–".into();
    }
    x.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let missing = v.len() - x.len();
    let f = |a: f64| {
        if a.abs() >= 100.0 {
            format!("{a:.0}")
        } else {
            format!("{a:.1}")
        }
    };
    format!(
        "{} / {} / {}{}",
        f(x[0]),
        f(x[x.len() / 2]),
        f(x[x.len() - 1]),
        if missing > 0 {
            format!(" ({missing} runs: none)")
        } else {
            String::new()
        }
    )
}

fn counts() -> Vec<usize> {
    env("BENCH_V")
        .unwrap_or_else(|| "1,64,100,254,1024".into())
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("BENCH_V: numbers"))
        .collect()
}

fn runs() -> usize {
    env("BENCH_RUNS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(1)
}

#[test]
#[ignore = "a measurement of many minutes: make bench-failover"]
fn bench_failover() {
    if !common::netns::can_run() {
        return;
    }
    let Some(prefix) = thirdparty::real_prefix() else {
        return;
    };
    let imp = match env("BENCH_IMPL").as_deref().unwrap_or("rust") {
        "rust" => Impl::Rust,
        "c" => Impl::C,
        "keepalived" => Impl::Keepalived,
        other => panic!("BENCH_IMPL: rust, c or keepalived, not {other:?}"),
    };
    let p = params(imp, &prefix);
    let runs = runs();
    let mut rows = Vec::new();
    for v in counts() {
        // C 2.1.4's limits (BENCH_BIN set: try anyway).
        if imp == Impl::C && v > C_MAX_HELD && env("BENCH_BIN").is_none() {
            let why = if v >= 1000 {
                "C 2.1.4 segfaults at start with 1,000 VIFs"
            } else {
                "C 2.1.4 holds at most 101 VIPs on one interface: every alias past e0:100 is labelled e0:101, each replacing the last"
            };
            eprintln!("BENCH c V={v}: skipped ({why})");
            rows.push(format!("| {v} | {why} | | | | | | |"));
            continue;
        }
        if imp == Impl::Keepalived && v > KEEPALIVED_MAX && env("BENCH_BIN").is_none() {
            let why =
                "the VRRP setup did not hold here (a backup also became master before the kill)";
            eprintln!("BENCH keepalived V={v}: skipped ({why})");
            rows.push(format!("| {v} | {why} | | | | | | |"));
            continue;
        }
        let samples: Vec<Sample> = (0..runs).map(|k| run(&p, v, k)).collect();
        let col = |f: fn(&Sample) -> Option<f64>| stat(&samples.iter().map(f).collect::<Vec<_>>());
        rows.push(format!(
            "| {v} | {} | {} | {} | {} | {} | {} | {} |{}",
            col(|s| s.detect),
            col(|s| s.state),
            col(|s| s.first_ann),
            col(|s| s.last_up),
            col(|s| s.last_ann),
            col(|s| s.outage),
            col(|s| s.outage_net),
            if p.v6 {
                format!(" {} |", col(|s| s.outage6))
            } else {
                String::new()
            }
        ));
    }
    let (det, from) = match imp {
        Impl::Keepalived => (
            "kill → new master's first advert",
            "(from the new master's first advert)",
        ),
        _ => ("kill → membership", "(from the membership)"),
    };
    println!(
        "\n{} ({}), {runs} runs per V; ms, min / median / max; survivor figures: the slower survivor's:\n",
        imp.name(),
        p.bin.display()
    );
    println!(
        "| V | detection: {det} | → state exchange done | → first announcement {from} | → last VIP up | → last announcement of the first pass | client outage | outage − detection |{}",
        if p.v6 { " IPv6 client outage |" } else { "" }
    );
    println!(
        "|---|---|---|---|---|---|---|---|{}",
        if p.v6 { "---|" } else { "" }
    );
    for r in rows {
        println!("{r}");
    }
}

/// utime + stime (clock ticks) and context switches (every thread) of
/// `pid`.
fn proc_counters(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime), counted from 3 after the name.
    let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let mut switches = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        for l in s.lines() {
            if l.starts_with("voluntary_ctxt_switches")
                || l.starts_with("nonvoluntary_ctxt_switches")
            {
                switches += l
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    (ticks, switches)
}

#[test]
#[ignore = "a measurement of a minute or more: make bench-failover"]
fn bench_footprint() {
    if !common::netns::can_run() {
        return;
    }
    let Some(prefix) = thirdparty::real_prefix() else {
        return;
    };
    let idle: u64 = env("BENCH_FOOTPRINT_S")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let rust = params(Impl::Rust, &prefix);
    let mut cp = params(Impl::C, &prefix);
    cp.bin = thirdparty::c_wackamole(&prefix);
    cp.template = std::fs::read_to_string(repo().join("bench/c.conf.in")).unwrap();
    let vips = vip_list(254);
    // Balanced at once: each host holds a third.
    let mut c = cluster(&rust, "fp", &vips, "all");
    write_conf(&c, &cp, 1, &vips, "all");
    // h1 Rust, h2 C, h3 Rust: one cluster, one run.
    launch(&mut c, &rust, 0);
    launch(&mut c, &cp, 1);
    launch(&mut c, &rust, 2);
    let all: HashSet<Ipv4Addr> = vips.iter().copied().collect();
    wait(&c, "254 VIPs settled", Duration::from_secs(60), || {
        let h: Vec<HashSet<Ipv4Addr>> = (0..3).map(|i| addrs_in(&c.hosts[i].ns)).collect();
        let n: usize = h.iter().map(|s| s.intersection(&all).count()).sum();
        n == 254 && h.iter().all(|s| s.intersection(&all).count() >= 80)
    });
    std::thread::sleep(Duration::from_secs(3));
    let pids: Vec<u32> = (0..3).map(|i| c.pid(i).unwrap()).collect();
    let before: Vec<(u64, u64)> = pids.iter().map(|&p| proc_counters(p)).collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(idle));
    let secs = t0.elapsed().as_secs_f64();
    let after: Vec<(u64, u64)> = pids.iter().map(|&p| proc_counters(p)).collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    println!(
        "\nIdle {secs:.0} s, 254 VIPs over 3 hosts (one cluster: h1 Rust, h2 C 2.1.4, h3 Rust):\n"
    );
    println!("| host | daemon | VIPs held | VmRSS (KiB) | RssAnon (KiB) | RssFile (KiB) | wake-ups/s (context switches) | CPU ms (user+sys) |");
    println!("|---|---|---|---|---|---|---|---|");
    for i in 0..3 {
        let held = addrs_in(&c.hosts[i].ns).intersection(&all).count();
        println!(
            "| h{} | {} | {held} | {} | {} | {} | {:.2} | {:.0} |",
            i + 1,
            if i == 1 { "C 2.1.4" } else { "Rust" },
            common::procstat::rss_kib(pids[i]).unwrap_or(0),
            common::procstat::status_kib(pids[i], "RssAnon").unwrap_or(0),
            common::procstat::status_kib(pids[i], "RssFile").unwrap_or(0),
            (after[i].1 - before[i].1) as f64 / secs,
            (after[i].0 - before[i].0) as f64 * 1000.0 / hz,
        );
    }
}

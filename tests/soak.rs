//! The chaos soak: five hosts in network namespaces with `spread-sim`
//! (the harness of `tests/common/cluster.rs`), a seeded random schedule
//! of faults and repairs — wackamole SIGKILLed and started again, links
//! cut and healed, the switch split and merged, Spread daemons crashed
//! and restarted, `wackatrl -f` and `-s`, reloads that add or remove a
//! VIP on every node alike — while every host's addresses are sampled
//! every 100 ms. After each disturbance the cluster must settle
//! (within [`SETTLE_MAX`]) to every VIP on exactly one host of each
//! component; a VIP is never on two hosts of one component for more than
//! a second; no daemon dies but those the schedule kills; each daemon's
//! RSS and open fds stay flat after a warm-up.
//!
//! `SOAK_S` sets the length in seconds (60 under `cargo test`; `make
//! soak` runs 600), `SOAK_SEED` replays a schedule (the default comes
//! from the clock; either way it is printed first). It prints a timeline
//! (one line per disturbance, one per violation) and a last line
//! `soak: seed=S disturbances=N samples=M violations=V`. Run as root;
//! it prints SKIPPED otherwise.

mod common;

mod soak {
    pub mod checker;
    pub mod memory;
    pub mod schedule;
    pub mod world;
}

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::cluster::Cluster;
use common::netns::{can_run, AddrSampler};
use common::procstat;
use soak::checker::{self, BreakWatch, DoubleWatch};
use soak::memory::MemWatch;
use soak::schedule::{repairs, Schedule};
use soak::world::{Disturbance, World, HOSTS};

/// The soak's length under plain `cargo test`, in seconds.
const DEFAULT_S: u64 = 60;
/// VIPs always configured; one more comes and goes with reloads.
const BASE_VIPS: usize = 10;
/// Sampling period.
const TICK: Duration = Duration::from_millis(100);
/// How long a disturbance may take to settle, in seconds.
const SETTLE_MAX: f64 = 15.0;
/// How long the picture must stay right to count as settled: past one
/// `SpreadRetryInterval` (1 s), so that a daemon reconnecting to a
/// restarted Spread daemon has joined before the next disturbance.
const STEADY: f64 = 1.5;
/// How long a daemon may take to answer `wackatrl` after its start.
const READY: Duration = Duration::from_secs(5);

#[test]
fn chaos_soak() {
    if !can_run() {
        return;
    }
    let secs = env_u64("SOAK_S").unwrap_or(DEFAULT_S);
    let seed = env_u64("SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    println!("soak: seed={seed} for {secs} s (replay: make soak SOAK_SEED={seed} SOAK_S={secs})");
    let mut s = Soak::new(seed, secs);
    s.run(Duration::from_secs(secs));
    s.finish();
    let last = format!(
        "soak: seed={seed} disturbances={} samples={} violations={}",
        s.disturbances,
        s.samples,
        s.violations.len()
    );
    println!("{last}");
    if !s.violations.is_empty() {
        s.keep_logs(seed);
    }
    assert!(
        s.violations.is_empty(),
        "{last}\nreplay: make soak SOAK_SEED={seed} SOAK_S={secs}\n{}",
        s.violations.join("\n")
    );
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v}: expected a number")),
    )
}

struct Soak {
    seed: u64,
    // Declared before the cluster: its threads leave the namespaces
    // before they are removed.
    sampler: AddrSampler,
    c: Cluster,
    world: World,
    sched: Schedule,
    /// The base VIPs, then the extra one.
    vips: Vec<Ipv4Addr>,
    t0: Instant,
    next_tick: Instant,
    samples: u64,
    disturbances: u64,
    violations: Vec<String>,
    /// Timeline lines held back while a step settles.
    deferred: Option<Vec<String>>,
    doubles: DoubleWatch,
    breaks: BreakWatch,
    mem: MemWatch,
}

impl Soak {
    fn new(seed: u64, secs: u64) -> Soak {
        let mut c = Cluster::new("soak", HOSTS, BASE_VIPS + 1, "");
        let vips = c.vips.clone();
        for i in 0..HOSTS {
            c.write_conf(i, &vips[..BASE_VIPS], "");
        }
        let sampler = {
            let ns: Vec<&common::netns::Netns> = c.hosts.iter().map(|h| &h.ns).collect();
            AddrSampler::new(&ns)
        };
        c.start_all();
        let now = Instant::now();
        // A third of the soak, at most a minute: past the first
        // arp-cache round (Arp-Cache = 30s) and the first faults of each
        // kind in a long soak, and in a short one still leaving two
        // thirds of it to compare the daemons that live through.
        let warmup = (secs as f64 / 3.0).min(60.0);
        Soak {
            seed,
            sampler,
            c,
            world: World::default(),
            sched: Schedule::new(seed),
            vips,
            t0: now,
            next_tick: now,
            samples: 0,
            disturbances: 0,
            violations: Vec::new(),
            deferred: None,
            doubles: DoubleWatch::default(),
            breaks: BreakWatch::default(),
            mem: MemWatch::new(warmup),
        }
    }

    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    fn active(&self) -> Vec<Ipv4Addr> {
        let n = if self.world.extra {
            BASE_VIPS + 1
        } else {
            BASE_VIPS
        };
        self.vips[..n].to_vec()
    }

    fn violation(&mut self, t: f64, what: String) {
        let line = format!("[{t:7.1}s] VIOLATION: {what}");
        match self.deferred.as_mut() {
            Some(d) => d.push(line),
            None => println!("{line}"),
        }
        self.violations.push(format!("{t:.1}s: {what}"));
    }

    /// The schedule for `length`, then every fault repaired.
    fn run(&mut self, length: Duration) {
        let t = self.now();
        match self.settle(t) {
            Ok(took) => {
                println!("[{t:7.1}s] start: {HOSTS} hosts, {BASE_VIPS} VIPs: settled in {took:.1}s")
            }
            Err(p) => self.violation(t, format!("the start never settled: {}", p.join("; "))),
        }
        while self.t0.elapsed() < length {
            let step = self.sched.next(&self.world);
            self.step(step);
            let quiet = self.sched.quiet();
            self.quiet(quiet);
        }
        println!("[{:7.1}s] time is up: repairing every fault", self.now());
        while let Some(r) = repairs(&self.world).first().cloned() {
            self.step(vec![r]);
        }
    }

    /// Makes the disturbances of one step, then waits for the cluster to
    /// settle.
    fn step(&mut self, step: Vec<Disturbance>) {
        self.breaks.reset();
        // The timeline in time order: the step's line, then what went
        // wrong while it settled.
        self.deferred = Some(Vec::new());
        let n = step.len();
        for (k, d) in step.into_iter().enumerate() {
            let t = self.now();
            self.world.apply(&d);
            self.disturb(&d);
            self.disturbances += 1;
            if k + 1 < n {
                println!("[{t:7.1}s] {d} (and at once:)");
            } else {
                match self.settle(t) {
                    Ok(took) => println!("[{t:7.1}s] {d}: settled in {took:.1}s"),
                    Err(p) => {
                        println!("[{t:7.1}s] {d}: NOT SETTLED");
                        self.violation(
                            self.now(),
                            format!("not settled {SETTLE_MAX} s after '{d}': {}", p.join("; ")),
                        );
                    }
                }
            }
        }
        for line in self.deferred.take().unwrap_or_default() {
            println!("{line}");
        }
    }

    /// Carries `d` out on the cluster (the world has it already).
    fn disturb(&mut self, d: &Disturbance) {
        match *d {
            Disturbance::Kill(i) => self.c.kill(i),
            Disturbance::Start(i) => self.c.start(i),
            Disturbance::CutLink(i) => {
                self.c.cut_link(i);
                self.c.spread_components(&self.world.spread_components());
            }
            Disturbance::HealLink(i) => {
                self.c.heal_link(i);
                self.c.spread_components(&self.world.spread_components());
            }
            Disturbance::Split(_) | Disturbance::Merge => {
                self.c.spread_components(&self.world.spread_components())
            }
            Disturbance::SpreadCrash(i) => self.c.crash_spread(i),
            Disturbance::SpreadRestart(i) => {
                self.c.restart_spread(i);
                self.c.spread_components(&self.world.spread_components());
            }
            Disturbance::ForceOff(i) => self.wackatrl(i, "-f"),
            Disturbance::ForceOn(i) => self.wackatrl(i, "-s"),
            Disturbance::Reload(_) => {
                let active = self.active();
                for i in 0..HOSTS {
                    self.c.write_conf(i, &active, "");
                }
                for i in 0..HOSTS {
                    if !self.world.running[i] || !self.ready(i) {
                        continue;
                    }
                    let pid = self.c.pid(i).expect("running");
                    if let Err(e) = kill(Pid::from_raw(pid as i32), Signal::SIGHUP) {
                        let t = self.now();
                        self.violation(t, format!("SIGHUP to h{}: {e}", i + 1));
                    }
                }
            }
        }
    }

    /// Waits until host `i`'s daemon answers `wackatrl -j` (it is up and
    /// handles signals); a violation if it does not within [`READY`].
    fn ready(&mut self, i: usize) -> bool {
        let deadline = Instant::now() + READY;
        loop {
            let out = self.c.wackatrl(i, &["-j"]);
            if out.status.success() {
                return true;
            }
            if Instant::now() > deadline {
                let t = self.now();
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                self.violation(t, format!("h{} never answered wackatrl -j: {err}", i + 1));
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wackatrl(&mut self, i: usize, flag: &str) {
        if !self.ready(i) {
            return;
        }
        let out = self.c.wackatrl(i, &[flag]);
        if !out.status.success() {
            let t = self.now();
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            self.violation(t, format!("wackatrl {flag} on h{}: {err}", i + 1));
        }
    }

    /// One sample, at the next tick: every check but the settling; the
    /// picture's problems, and which VIPs each running host holds.
    fn tick(&mut self) -> (Vec<String>, Vec<Vec<Ipv4Addr>>) {
        let now = Instant::now();
        if self.next_tick > now {
            std::thread::sleep(self.next_tick - now);
        }
        self.next_tick += TICK;
        if self.next_tick < Instant::now() {
            self.next_tick = Instant::now() + TICK;
        }
        let t = self.now();
        self.check_alive(t);
        let held = self.sampler.sample();
        self.samples += 1;
        let vips = self.vips.clone();
        let problems = checker::problems(&self.world, &self.active(), &vips, &held);
        let doubles = checker::doubles(&self.world, &vips, &held);
        for v in self.doubles.observe(t, &doubles) {
            self.violation(t, v);
        }
        if self.samples % 10 == 0 {
            self.watch_memory(t);
        }
        let allocation = held
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let running = self.world.running[i];
                h.into_iter()
                    .filter(|a| running && vips.contains(a))
                    .collect()
            })
            .collect();
        (problems, allocation)
    }

    /// A daemon that exited on its own is a violation; the world then
    /// has it down (the schedule starts it again later).
    fn check_alive(&mut self, t: f64) {
        // Without spread-sim nothing can settle: no point going on.
        if let Ok(Some(st)) = self.c.sim.as_mut().expect("spread-sim").try_wait() {
            panic!(
                "spread-sim died ({st}) at {t:.1}s; seed {}\n{}",
                self.seed,
                self.c.logs()
            );
        }
        for i in 0..HOSTS {
            if let Some(st) = self.c.exited(i) {
                let tail = tail(&self.c.log(i), 15);
                self.violation(t, format!("h{}'s wackamole died: {st}\n{tail}", i + 1));
                self.world.running[i] = false;
                self.world.forced[i] = false;
            }
        }
    }

    fn watch_memory(&mut self, t: f64) {
        for i in 0..HOSTS {
            let Some(pid) = self.c.pid(i) else { continue };
            let (Some(rss), Some(fds)) = (procstat::rss_kib(pid), procstat::open_fds(pid)) else {
                continue;
            };
            for v in self.mem.observe(t, i, pid, rss, fds) {
                self.violation(t, v);
            }
        }
    }

    /// Samples until the picture has been right, and the allocation the
    /// same, for [`STEADY`] (so that a rebalancing after a join is part
    /// of the settling): the seconds from `since` to the start of that
    /// steady stretch, or the problems after [`SETTLE_MAX`].
    fn settle(&mut self, since: f64) -> Result<f64, Vec<String>> {
        let mut steady: Option<(f64, Vec<Vec<Ipv4Addr>>)> = None;
        loop {
            let (problems, allocation) = self.tick();
            let t = self.now();
            if !problems.is_empty() {
                steady = None;
            } else if steady.as_ref().map_or(true, |(_, a)| *a != allocation) {
                steady = Some((t, allocation));
            }
            if let Some((from, _)) = steady {
                if t - from >= STEADY {
                    return Ok(from - since);
                }
            }
            if t - since > SETTLE_MAX {
                if problems.is_empty() {
                    return Err(vec!["the allocation kept changing".into()]);
                }
                return Err(problems);
            }
        }
    }

    /// Samples for `d` with nothing disturbed: the settled picture must
    /// hold (short breaks aside).
    fn quiet(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            let (problems, _) = self.tick();
            let t = self.now();
            if let Some(v) = self.breaks.observe(t, &problems) {
                self.violation(t, v);
            }
        }
    }

    /// The end: every daemon's log free of panics, and the resource
    /// summary.
    fn finish(&mut self) {
        for i in 0..HOSTS {
            if self.c.log(i).contains("panicked") {
                let t = self.now();
                let tail = tail(&self.c.log(i), 30);
                self.violation(t, format!("h{} logged a panic\n{tail}", i + 1));
            }
        }
        println!(
            "soak: RSS and fds of {} daemon processes compared after their warm-up:",
            self.mem.compared()
        );
        for line in self.mem.summary() {
            println!("  {line}");
        }
    }

    /// Copies the logs out of the scratch directory (removed on drop)
    /// for a failed run, and prints where.
    fn keep_logs(&self, seed: u64) {
        let dest = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("soak-{seed}"));
        let _ = std::fs::create_dir_all(&dest);
        if let Ok(entries) = std::fs::read_dir(&self.c.dir.0) {
            for e in entries.flatten() {
                let name = e.file_name();
                let n = name.to_string_lossy();
                if n.ends_with(".log") || n.ends_with(".conf") {
                    let _ = std::fs::copy(e.path(), dest.join(&name));
                }
            }
        }
        println!("soak: logs kept in {}", dest.display());
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

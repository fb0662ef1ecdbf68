//! Idle wake-ups: three hosts on spread-sim (the harness of
//! `tests/common/cluster.rs`) sharing 254 VIPs settle, then for a
//! window (60 s; `IDLE_S` sets it) each daemon's context switches, CPU
//! time and RSS are read from `/proc`. An idle daemon should wake only
//! for its due timers (`CHECK_HELD` every 5 s, the ARP cache shared
//! every `Arp-Cache` = 30 s, and the ARPCACHE messages that brings),
//! so the rate those account for is printed beside the measured one.
//!
//! A measurement, not a check: it asserts only that the cluster settled
//! and that no daemon died. `cargo test --test idle -- --ignored
//! --nocapture`, as root.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::cluster::{held_in, Cluster};
use common::netns::can_run;
use common::procstat;

const HOSTS: usize = 3;
const VIPS: u8 = 254;

/// What `/proc` says of a process at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    voluntary: u64,
    involuntary: u64,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    rss_kib: u64,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("daemon alive");
    let field = |name: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces): utime
    // and stime are the 14th and 15th of the line, 12th and 13th here.
    let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> u64 { rest[i].parse().unwrap() };
    Sample {
        voluntary: field("voluntary_ctxt_switches:"),
        involuntary: field("nonvoluntary_ctxt_switches:"),
        cpu_ticks: ticks(11) + ticks(12),
        rss_kib: procstat::rss_kib(pid).unwrap(),
    }
}

#[test]
#[ignore = "a 60 s measurement; run as root with --ignored --nocapture"]
fn idle_wakeups() {
    if !can_run() {
        return;
    }
    let window = Duration::from_secs(
        std::env::var("IDLE_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    // Not the harness's VIPs (10.80.0.101 and up, at most 154): a /24
    // of their own.
    let vips: Vec<Ipv4Addr> = (1..=VIPS).map(|o| Ipv4Addr::new(10, 80, 1, o)).collect();
    let mut c = Cluster::new("idle", HOSTS, 0, "");
    for i in 0..HOSTS {
        c.write_conf(i, &vips, "");
    }
    c.start_all();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held: Vec<Vec<Ipv4Addr>> = (0..HOSTS)
            .map(|i| held_in(&c.hosts[i].ns.name, &vips))
            .collect();
        let once = vips
            .iter()
            .all(|v| held.iter().filter(|h| h.contains(v)).count() == 1);
        if once {
            let counts: Vec<usize> = held.iter().map(Vec::len).collect();
            println!("settled: {counts:?} VIPs per host");
            break;
        }
        assert!(Instant::now() < deadline, "not settled\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    // The acquires' notification rounds (a few seconds) and any balance
    // follow-up end before the window starts.
    std::thread::sleep(Duration::from_secs(10));
    let pids: Vec<u32> = (0..HOSTS).map(|i| c.pid(i).expect("running")).collect();
    let before: Vec<Sample> = pids.iter().map(|&p| sample(p)).collect();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let secs = t0.elapsed().as_secs_f64();
    let after: Vec<Sample> = pids.iter().map(|&p| sample(p)).collect();
    for i in 0..HOSTS {
        assert!(c.exited(i).is_none(), "h{} died\n{}", i + 1, c.log(i));
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // Wake-ups a second an idle daemon has reason for, at most: the
    // CHECK_HELD timer (5 s), the ArpCache timer (30 s) and the group's
    // ARPCACHE messages it brings (one per host, its own comes back
    // too). Fewer when a message comes while the daemon is awake.
    let expected = 1.0 / 5.0 + (1 + HOSTS) as f64 / 30.0;
    println!("idle over {secs:.1} s (at most {expected:.2} wake-ups/s from the timers):");
    println!("host   vol  invol  wake-ups/s  CPU ms  RSS KiB");
    for i in 0..HOSTS {
        let (b, a) = (before[i], after[i]);
        let vol = a.voluntary - b.voluntary;
        let invol = a.involuntary - b.involuntary;
        println!(
            "h{}  {vol:>6} {invol:>6} {:>11.2} {:>7.0} {:>8}",
            i + 1,
            vol as f64 / secs,
            (a.cpu_ticks - b.cpu_ticks) as f64 * 1e3 / hz,
            a.rss_kib,
        );
    }
}

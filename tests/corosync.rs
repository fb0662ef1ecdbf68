//! The Corosync harness itself (tests/common/corosync.rs, and
//! [`Backend::Corosync`] in tests/common/cluster.rs), before any
//! wackamole runs on it: real corosyncs, one per host namespace on the
//! bridge, form one ring; a SIGKILLed one leaves it and a restarted one
//! rejoins; a partitioned host is seen gone and merges back after the
//! heal; a CPG client in a host's network namespace (but the root mount
//! namespace, as `wackamole -d` runs) sees the views and sees its
//! corosync die. Observed with corosync's own tools (`corosync-cmapctl`,
//! `corosync-cpgtool`) and a small libcpg client built here when a C
//! compiler and libcpg-dev are present.
//!
//! Each prints its measured times (`TIMING corosync: …`, seen with
//! `--nocapture`), at the cluster's lowered token
//! ([`corosync::TOKEN_MS`]) and at corosync's default. Needs root and
//! `corosync`; prints SKIPPED otherwise, unless
//! `WACKAMOLE_REQUIRE_COROSYNC=1`. The tests take one lock: their
//! timings are the corosyncs', not those of three clusters sharing two
//! cores.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::cluster::{Backend, Cluster};
use common::corosync::{self, RealCorosync};

/// Far beyond any timeout measured (the default token detects a lost
/// node in about 8 s on three nodes).
const WITHIN: Duration = Duration::from_secs(40);

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn timing(what: &str, took: Duration) {
    eprintln!("TIMING corosync: {what}: {} ms", took.as_millis());
}

fn token_name(token: Option<u32>) -> String {
    match token {
        Some(t) => format!("token {t}"),
        None => "default token".to_string(),
    }
}

fn ids(hosts: &[usize]) -> BTreeSet<u32> {
    hosts.iter().map(|&i| RealCorosync::nodeid(i)).collect()
}

/// A cold cluster of `n` hosts on Corosync with `token`, every corosync
/// started and in one ring; prints how long the ring took.
fn ring(tag: &str, n: usize, token: Option<u32>) -> Cluster {
    let mut c = Cluster::new_cold_on(&Backend::Corosync, tag, n, 0, "");
    c.coro.as_mut().unwrap().set_token(token);
    let t0 = Instant::now();
    for i in 0..n {
        c.restart_spread(i);
    }
    let all: Vec<usize> = (0..n).collect();
    coro(&c).wait_ring(&all, WITHIN);
    timing(
        &format!("{n} corosyncs in one ring ({})", token_name(token)),
        t0.elapsed(),
    );
    c
}

fn coro(c: &Cluster) -> &RealCorosync {
    c.coro.as_ref().expect("a Corosync cluster")
}

#[test]
fn three_corosyncs_form_one_ring() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    eprintln!("corosync version {}", corosync::version());
    assert!(
        corosync::version().starts_with('3'),
        "{}",
        corosync::version()
    );
    let c = ring("cring", 3, Some(corosync::TOKEN_MS));
    for i in 0..3 {
        assert_eq!(coro(&c).members(i), Some(ids(&[0, 1, 2])));
        // The knet link to each peer is up.
        let out = coro(&c).tool_in(i, "corosync-cfgtool", &["-s"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert_eq!(
            text.lines()
                .filter(|l| l.trim_end().ends_with("\tconnected"))
                .count(),
            2,
            "{text}"
        );
        // A client in the root mount namespace reaches CPG too.
        let out = coro(&c).tool_in(i, "corosync-cpgtool", &[]);
        assert!(
            out.status.success(),
            "corosync-cpgtool on h{}: {}",
            i + 1,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The hosts' wackamole configs name Corosync, not Spread.
    let conf = common::scratch::read(&c.hosts[0].conf);
    assert!(
        conf.starts_with("Membership = corosync\nGroup = wack\n"),
        "{conf}"
    );
    assert!(!conf.contains("Spread ="), "{conf}");
    // No corosync is reachable outside the host namespaces (the
    // switch's has none).
    let out =
        c.sw.exec(&["corosync-cmapctl", "-g", "runtime.members.1.status"]);
    assert!(!out.status.success(), "a corosync in the switch namespace?");
}

#[test]
fn new_on_starts_the_ring() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    let t0 = Instant::now();
    let c = Cluster::new_on(&Backend::Corosync, "cnew", 3, 2, "");
    timing("Cluster::new_on with 3 corosyncs", t0.elapsed());
    for i in 0..3 {
        assert_eq!(coro(&c).members(i), Some(ids(&[0, 1, 2])));
    }
}

/// SIGKILLs h1's corosync: the others see it gone; restarted, it
/// rejoins.
fn kill_and_rejoin(tag: &str, token: Option<u32>) {
    let mut c = ring(tag, 3, token);
    let tn = token_name(token);
    let t0 = Instant::now();
    c.crash_spread(0);
    assert!(!coro(&c).running(0));
    assert_eq!(coro(&c).members(0), None, "a dead corosync answered");
    coro(&c).wait_views(&[1, 2], &ids(&[1, 2]), WITHIN);
    timing(
        &format!("a SIGKILLed corosync seen gone by the others ({tn})"),
        t0.elapsed(),
    );
    let t0 = Instant::now();
    c.restart_spread(0);
    coro(&c).wait_ring(&[0, 1, 2], WITHIN);
    timing(
        &format!("a restarted corosync back in the ring ({tn})"),
        t0.elapsed(),
    );
    // Killed and restarted once more: no lock file or ring id in the way.
    c.crash_spread(0);
    coro(&c).wait_views(&[1, 2], &ids(&[1, 2]), WITHIN);
    c.restart_spread(0);
    coro(&c).wait_ring(&[0, 1, 2], WITHIN);
}

#[test]
fn a_killed_corosync_leaves_and_a_restarted_one_rejoins() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    kill_and_rejoin("ckill", Some(corosync::TOKEN_MS));
}

#[test]
fn a_killed_corosync_leaves_at_the_default_token() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    kill_and_rejoin("ckdef", None);
}

/// Moves h1's bridge port away: h1 sees itself alone, the others see it
/// gone; the heal merges them.
fn partition_and_heal(tag: &str, token: Option<u32>) {
    let c = ring(tag, 3, token);
    let tn = token_name(token);
    let t0 = Instant::now();
    c.spread_components(&[vec![0], vec![1, 2]]);
    coro(&c).wait_views(&[1, 2], &ids(&[1, 2]), WITHIN);
    timing(
        &format!("a partitioned host seen gone by the others ({tn})"),
        t0.elapsed(),
    );
    coro(&c).wait_views(&[0], &ids(&[0]), WITHIN);
    timing(
        &format!("a partitioned host sees itself alone ({tn})"),
        t0.elapsed(),
    );
    let t0 = Instant::now();
    c.spread_components(&[vec![0, 1, 2]]);
    coro(&c).wait_ring(&[0, 1, 2], WITHIN);
    timing(&format!("merge after the heal ({tn})"), t0.elapsed());
    // A three-way split, healed.
    c.spread_components(&[vec![0], vec![1], vec![2]]);
    for i in 0..3 {
        coro(&c).wait_views(&[i], &ids(&[i]), WITHIN);
    }
    let t0 = Instant::now();
    c.spread_components(&[vec![0, 1, 2]]);
    coro(&c).wait_ring(&[0, 1, 2], WITHIN);
    timing(
        &format!("merge of three singletons after the heal ({tn})"),
        t0.elapsed(),
    );
}

#[test]
fn a_partitioned_host_is_seen_gone_and_merges_back() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    partition_and_heal("cpart", Some(corosync::TOKEN_MS));
}

#[test]
fn a_partitioned_host_is_seen_gone_at_the_default_token() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    partition_and_heal("cpdef", None);
}

// ---------------------------------------------------------------------
// A CPG client, as wackamole will be one.

/// Joins the group `argv[1]`, prints each view (`T view N: node/pid
/// …`, T in CLOCK_MONOTONIC seconds) and, when `cpg_dispatch` fails,
/// `T dispatch ERR` before it exits.
const CPG_CLIENT_C: &str = r#"
#include <corosync/cpg.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void conf(cpg_handle_t h, const struct cpg_name *g,
                 const struct cpg_address *m, size_t n,
                 const struct cpg_address *l, size_t nl,
                 const struct cpg_address *j, size_t nj) {
  printf("%.3f view %zu:", now(), n);
  for (size_t i = 0; i < n; i++) printf(" %u/%u", m[i].nodeid, m[i].pid);
  printf("\n");
  fflush(stdout);
}
static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t n,
                    uint32_t p, void *msg, size_t len) {}
int main(int argc, char **argv) {
  cpg_handle_t h;
  cpg_callbacks_t cb = {deliver, conf};
  int e = cpg_initialize(&h, &cb);
  if (e != CS_OK) { printf("%.3f initialize %d\n", now(), e); return 2; }
  struct cpg_name g;
  strcpy(g.value, argv[1]);
  g.length = strlen(g.value);
  e = cpg_join(h, &g);
  if (e != CS_OK) { printf("%.3f join %d\n", now(), e); return 3; }
  int fd;
  cpg_fd_get(h, &fd);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, -1);
    e = cpg_dispatch(h, CS_DISPATCH_ALL);
    if (e != CS_OK) {
      printf("%.3f dispatch %d revents %x\n", now(), e, p.revents);
      fflush(stdout);
      return 0;
    }
  }
}
"#;

/// The client built into `dir`, or `None` (SKIPPED) without a C
/// compiler or libcpg-dev.
fn cpg_client(dir: &std::path::Path) -> Option<PathBuf> {
    let src = dir.join("cpgclient.c");
    std::fs::write(&src, CPG_CLIENT_C).unwrap();
    let bin = dir.join("cpgclient");
    match Command::new("cc")
        .arg("-O")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .arg("-lcpg")
        .output()
    {
        Ok(o) if o.status.success() => Some(bin),
        Ok(o) => {
            corosync::skip(&format!(
                "cannot build a CPG client (libcpg-dev?): {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            None
        }
        Err(e) => {
            corosync::skip(&format!("no C compiler (cc: {e})"));
            None
        }
    }
}

/// CLOCK_MONOTONIC now, in seconds (what the client prints).
fn monotonic() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    assert_eq!(r, 0);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// A client's lines, read on a thread: (line, when read).
struct Lines {
    rx: std::sync::mpsc::Receiver<String>,
    child: std::process::Child,
    seen: Vec<String>,
}

impl Lines {
    fn start(ns: &str, bin: &std::path::Path, group: &str) -> Lines {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(bin)
            .arg(group)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Lines {
            rx,
            child,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) containing `needle`.
    fn wait(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(e) => panic!("no {needle:?} ({e}); the client printed {:?}", self.seen),
            }
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stamp(line: &str) -> f64 {
    line.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_cpg_client_in_the_host_netns_sees_views_and_its_corosync_die() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    let mut c = ring("ccpg", 3, Some(corosync::TOKEN_MS));
    let Some(bin) = cpg_client(&c.dir.0) else {
        return;
    };
    let mut clients: Vec<Lines> = (0..3)
        .map(|i| Lines::start(&c.hosts[i].ns.name, &bin, "wack"))
        .collect();
    for cl in &mut clients {
        cl.wait("view 3:");
    }
    // corosync-cpgtool (root mount namespace too) lists the group.
    let out = coro(&c).tool_in(1, "corosync-cpgtool", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("wack"), "corosync-cpgtool: {text}");
    // h1's corosync dies: its client's dispatch fails at once, the
    // others' clients get a view of two after the token timeout.
    let t0 = monotonic();
    c.crash_spread(0);
    let failed = clients[0].wait("dispatch ");
    assert!(failed.contains("dispatch 2 "), "{failed}");
    timing(
        "a CPG client's dispatch fails after its corosync's SIGKILL",
        Duration::from_secs_f64((stamp(&failed) - t0).max(0.0)),
    );
    for cl in &mut clients[1..] {
        let v = cl.wait("view 2:");
        timing(
            &format!(
                "the others' CPG view without the killed node (token {})",
                corosync::TOKEN_MS
            ),
            Duration::from_secs_f64((stamp(&v) - t0).max(0.0)),
        );
    }
    // A partition: h3 alone.
    let t0 = monotonic();
    c.spread_components(&[vec![0, 1], vec![2]]);
    let v = clients[1].wait("view 1:");
    timing(
        &format!(
            "a CPG view without the partitioned host (token {})",
            corosync::TOKEN_MS
        ),
        Duration::from_secs_f64((stamp(&v) - t0).max(0.0)),
    );
    clients[2].wait("view 1:");
    let t0 = monotonic();
    c.spread_components(&[vec![0, 1, 2]]);
    let v = clients[1].wait("view 2:");
    timing(
        "a CPG view with the healed host back",
        Duration::from_secs_f64((stamp(&v) - t0).max(0.0)),
    );
    clients[2].wait("view 2:");
}

/// How many memberships each of `hosts`' corosyncs formed so far.
fn memberships(c: &Cluster, hosts: &[usize]) -> Vec<usize> {
    hosts
        .iter()
        .map(|&i| coro(c).log(i).matches("A new membership").count())
        .collect()
}

/// The ring of three at [`corosync::TOKEN_MS`] holds while every core
/// is busy (four spinning threads for 10 s, beside whatever else runs):
/// no corosync forms a new membership. This is what the token was
/// chosen by.
#[test]
fn the_ring_holds_under_cpu_load() {
    if !corosync::available() {
        return;
    }
    let _l = serial();
    let c = ring("cload", 3, Some(corosync::TOKEN_MS));
    // The last join's sync may still be logging.
    std::thread::sleep(Duration::from_millis(500));
    let before = memberships(&c, &[0, 1, 2]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                x
            })
        })
        .collect();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        // corosync-cmapctl runs too, as the harness's probes do.
        assert_eq!(coro(&c).members(1), Some(ids(&[0, 1, 2])));
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        s.join().unwrap();
    }
    let after = memberships(&c, &[0, 1, 2]);
    assert_eq!(
        before,
        after,
        "a membership changed under load (token {})\n{}",
        corosync::TOKEN_MS,
        coro(&c).logs()
    );
}

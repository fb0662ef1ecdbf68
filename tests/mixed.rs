//! C and Rust nodes in one group: the C wackamole 2.1.4 built from
//! `../shared/thirdparty/` on hosts of their own (`common::c_node`),
//! over spread-sim (C's libspread speaks to it as to a real daemon) and
//! over real Spread 5.0.1 (`common::real_spread`: a daemon per host,
//! which C and Rust nodes alike reach as `4803@10.80.0.N`). Skipped
//! without root or without the thirdparty build (a failure under
//! `WACKAMOLE_REQUIRE_THIRDPARTY=1`, `make test-real`).
//!
//! The failover and rolling-upgrade scenarios take the backend, so that
//! each runs once per Spread (`..._on_real_spread` on the real one), with
//! the same steps and assertions; they print their times as `TIMING`
//! lines (`--nocapture`).

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::c_node::{self, Kind, Reference};
use common::cluster::{Backend, Cluster, Conf};
use common::netns::can_run;
use common::scenarios::timing;
use common::scratch::text;
use common::watch::{self, Watch};

const SETTLE: Duration = Duration::from_secs(20);

/// Root and the C reference, or SKIPPED.
fn setup() -> Option<Reference> {
    if !can_run() {
        return None;
    }
    c_node::reference()
}

/// Real Spread from the reference build, or SKIPPED.
fn real() -> Option<Backend> {
    common::thirdparty::real_prefix().map(Backend::Real)
}

/// A cluster of `kinds.len()` hosts sharing `vips` VIPs on `b`, C's
/// default Balance made explicit (C needs an Interval), all started as
/// `kinds`.
fn mixed(tag: &str, kinds: &[Kind], vips: usize, r: &Reference) -> Cluster {
    mixed_on(&Backend::Sim, tag, kinds, vips, r)
}

/// [`mixed`] on `b`.
fn mixed_on(b: &Backend, tag: &str, kinds: &[Kind], vips: usize, r: &Reference) -> Cluster {
    let mut c = Cluster::new_on(b, tag, kinds.len(), vips, "");
    let all = c.vips.clone();
    for i in 0..kinds.len() {
        c.write_conf_with(
            i,
            &Conf {
                vifs: common::cluster::vif_lines(&all),
                balance: "AcquisitionsPerRound = all\n  Interval = 4s",
                ..Conf::default()
            },
        );
    }
    for (i, k) in kinds.iter().enumerate() {
        c.start_as(i, *k, r);
    }
    c
}

/// Every VIP on exactly one host of `live`, and then the counts
/// balanced (hosts differ by at most one).
fn settled_and_balanced(c: &Cluster, live: &[usize]) {
    let vips = c.vips.clone();
    c.wait_settled_among(&vips, live, SETTLE);
    c.wait_for("the live hosts to be balanced", SETTLE, |c| {
        let n: Vec<usize> = live.iter().map(|&i| c.held(i).len()).collect();
        n.iter().max().unwrap() - n.iter().min().unwrap() <= 1
            && n.iter().sum::<usize>() == vips.len()
    });
}

/// A host of each kind dies in turn (SIGKILL, its link and its Spread
/// daemon gone) and comes back: each time the survivors hold every VIP
/// once, and a survivor of the other kind takes a share of the dead
/// host's VIPs.
fn failover_both_ways(b: &Backend, c: &mut Cluster, kinds: &[Kind], r: &Reference) {
    let all: Vec<usize> = (0..kinds.len()).collect();
    settled_and_balanced(c, &all);
    for dead_kind in [Kind::C, Kind::Rust] {
        let dead = kinds.iter().position(|k| *k == dead_kind).unwrap();
        let lost = c.held(dead);
        assert!(!lost.is_empty(), "{}", c.logs());
        let live: Vec<usize> = all.iter().copied().filter(|&i| i != dead).collect();
        let t0 = Instant::now();
        c.crash_host(dead);
        c.wait_settled_among(&lost, &live, SETTLE);
        let kinds_name = kinds_name(kinds);
        timing(
            b,
            &format!(
                "{kinds_name}: {dead_kind:?} h{} died, its VIPs held again",
                dead + 1
            ),
            t0.elapsed(),
        );
        settled_and_balanced(c, &live);
        timing(
            b,
            &format!("{kinds_name}: {dead_kind:?} h{} died, balanced", dead + 1),
            t0.elapsed(),
        );
        let other: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| kinds[i] != dead_kind)
            .collect();
        let taken: usize = other
            .iter()
            .map(|&i| c.held(i).iter().filter(|v| lost.contains(v)).count())
            .sum();
        assert!(
            taken > 0,
            "no {:?} node took a VIP of the dead {dead_kind:?} h{}: {:?}\n{}",
            kinds[other[0]],
            dead + 1,
            c.counts(),
            c.logs()
        );
        c.revive(dead, dead_kind, r);
        settled_and_balanced(c, &all);
    }
}

/// `2C+1Rust` for `[C, C, Rust]`, for messages.
fn kinds_name(kinds: &[Kind]) -> String {
    let n = |k: Kind| kinds.iter().filter(|&&x| x == k).count();
    format!("{}C+{}Rust", n(Kind::C), n(Kind::Rust))
}

/// The C reference for a scenario on `b` (on real Spread, the build
/// the backend came from).
fn reference_for(b: &Backend) -> Reference {
    match b {
        Backend::Real(prefix) => Reference {
            prefix: prefix.clone(),
        },
        Backend::Sim => c_node::reference().expect("the C reference"),
        Backend::Corosync => panic!("C wackamole 2.1.4 speaks only Spread"),
    }
}

/// spread-sim, when this machine can run the mixed tests (root, the C
/// reference), or SKIPPED.
fn sim() -> Option<Backend> {
    setup().map(|_| Backend::Sim)
}

/// Two C nodes and a Rust node, 6 VIPs: a C node dies and comes back,
/// then the Rust node (see [`failover_both_ways`]).
fn two_c_and_one_rust(b: &Backend, tag: &str) {
    let r = reference_for(b);
    let kinds = [Kind::C, Kind::C, Kind::Rust];
    let mut c = mixed_on(b, tag, &kinds, 6, &r);
    failover_both_ways(b, &mut c, &kinds, &r);
}

/// A C node between two Rust nodes, 6 VIPs: the C node dies and comes
/// back, then a Rust node.
fn one_c_and_two_rust(b: &Backend, tag: &str) {
    let r = reference_for(b);
    let kinds = [Kind::Rust, Kind::C, Kind::Rust];
    let mut c = mixed_on(b, tag, &kinds, 6, &r);
    failover_both_ways(b, &mut c, &kinds, &r);
}

#[test]
fn two_c_and_one_rust_fail_over_both_ways() {
    if let Some(b) = sim() {
        two_c_and_one_rust(&b, "mx21");
    }
}

#[test]
fn one_c_and_two_rust_fail_over_both_ways() {
    if let Some(b) = sim() {
        one_c_and_two_rust(&b, "mx12");
    }
}

#[test]
fn two_c_and_one_rust_fail_over_both_ways_on_real_spread() {
    if let Some(b) = real() {
        two_c_and_one_rust(&b, "rmx21");
    }
}

#[test]
fn one_c_and_two_rust_fail_over_both_ways_on_real_spread() {
    if let Some(b) = real() {
        one_c_and_two_rust(&b, "rmx12");
    }
}

/// With a silent member in the group, a group of C and Rust nodes keeps
/// waiting for its STATE (C cannot close a round, so the Rust nodes do
/// not either): sampled every 20 ms through a host's crash and well past
/// GatherTimeout, no VIP is ever on two hosts. The silent member leaves,
/// and the group settles again, every VIP once.
#[test]
fn a_mixed_group_with_a_silent_member_never_holds_a_vip_twice() {
    let Some(r) = setup() else {
        return;
    };
    let mut c = mixed("mixed", &[Kind::Rust, Kind::Rust, Kind::C], 6, &r);
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    // The C node takes part: it holds its share.
    c.wait_for("the C node to hold two VIPs", SETTLE, |c| {
        c.held(2).len() == 2
    });

    use wackamole::spread::addr::SpreadAddr;
    use wackamole::spread::client::Client;
    let addr = SpreadAddr::Unix {
        path: c.dir.join("d1.sock"),
    };
    let mut silent = Client::connect(&addr, "silent", true, Duration::from_secs(5)).unwrap();
    silent.join("wack").unwrap();
    let twice = |c: &Cluster| -> Vec<(Ipv4Addr, Vec<usize>)> {
        let holders = c.holders(&vips);
        vips.iter()
            .zip(holders)
            .filter(|(_, h)| h.len() > 1)
            .map(|(v, h)| (*v, h))
            .collect()
    };
    let watch = |c: &Cluster, silent: &mut Client, for_: Duration| {
        let end = Instant::now() + for_;
        while Instant::now() < end {
            while let Ok(Some(_)) = silent.receive() {}
            let t = twice(c);
            assert!(t.is_empty(), "a VIP on two hosts: {t:?}\n{}", c.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    watch(&c, &mut silent, Duration::from_secs(5));
    assert!(
        c.log(0).contains("waits for every member, as C does"),
        "{}",
        c.logs()
    );
    // A Rust host dies while the silent member holds the round open.
    c.crash_host(1);
    watch(&c, &mut silent, Duration::from_secs(5));
    // The silent member leaves: the others settle, every VIP once.
    drop(silent);
    c.wait_settled_among(&vips, &[0, 2], SETTLE);
    assert!(!c.held(2).is_empty(), "{}", c.logs());
}

/// `wackatrl -l` of each kind against a daemon of each kind, on a
/// settled 2 C + 1 Rust cluster (whose tables agree): each program
/// prints the same against the other kind as against its own.
#[test]
fn each_wackatrl_lists_a_daemon_of_the_other_kind() {
    let Some(r) = setup() else {
        return;
    };
    let kinds = [Kind::C, Kind::C, Kind::Rust];
    let c = mixed("mxtrl", &kinds, 4, &r);
    settled_and_balanced(&c, &[0, 1, 2]);
    // A C-readable copy of each host's file names its control socket.
    let conf = |i: usize| c.c_conf(i, 4803);
    let rust_l = |i: usize| {
        let out = std::process::Command::new(common::cluster::wackatrl_bin())
            .arg("-c")
            .arg(conf(i))
            .arg("-l")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let c_l = |i: usize| {
        let out = c.as_c_host(
            i,
            &[&r.wackatrl(), Path::new("-c"), &conf(i), Path::new("-l")],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let (rust_on_c, rust_on_rust) = (rust_l(0), rust_l(2));
    let (c_on_c, c_on_rust) = (c_l(1), c_l(2));
    eprintln!("Rust wackatrl -l, C daemon:\n{rust_on_c}\nRust daemon:\n{rust_on_rust}");
    eprintln!("C wackatrl -l, C daemon:\n{c_on_c}\nRust daemon:\n{c_on_rust}");
    for v in &c.vips {
        assert!(rust_on_c.contains(&v.to_string()), "{rust_on_c}");
        assert!(c_on_rust.contains(&v.to_string()), "{c_on_rust}");
    }
    assert_eq!(rust_on_c, rust_on_rust);
    assert_eq!(c_on_rust, c_on_c);
    assert_eq!(rust_on_rust, c_on_c, "the two programs print alike");
}

/// A rolling upgrade of a 3-host C cluster with 6 VIPs, each C node
/// stopped (SIGTERM) and replaced by a Rust node in turn, every VIP
/// sampled on every host every 10 ms. First a C node is stopped and
/// started again as C: the longest time a VIP is then on no host is
/// "one takeover" of this machine, now (C's release, the membership,
/// one STATE exchange, the claim). Through the upgrade no VIP may be
/// on two hosts in two consecutive samples (a BALANCE move is applied
/// by the old and the new owner at the same moment, so one sample may
/// catch both within a millisecond; those are counted and printed),
/// and none may be gone longer than twice one takeover plus 250 ms
/// (scheduling on a loaded 2-core machine). On `b`: a stopped node
/// leaves Spread at once on either backend (no token timeout), so on
/// real Spread too the gaps measured are of one or two samples (0-10 ms).
fn rolling_upgrade(b: &Backend, tag: &str) {
    let r = reference_for(b);
    let kinds = [Kind::C, Kind::C, Kind::C];
    let mut c = mixed_on(b, tag, &kinds, 6, &r);
    let all = [0, 1, 2];
    settled_and_balanced(&c, &all);
    let vips = c.vips.clone();
    let w = Watch::start(&c, &vips, Duration::from_millis(10));
    let mut phases = Vec::new();
    for (i, to) in [
        (0, Kind::C),
        (0, Kind::Rust),
        (1, Kind::Rust),
        (2, Kind::Rust),
    ] {
        let t0 = Instant::now();
        c.signal(i, "TERM");
        assert!(c.wait_exit(i, SETTLE).is_some(), "{}", c.logs());
        let others: Vec<usize> = all.iter().copied().filter(|&o| o != i).collect();
        c.wait_settled(&vips, &others, SETTLE);
        c.start_as(i, to, &r);
        settled_and_balanced(&c, &all);
        // Let the last BALANCE land.
        std::thread::sleep(Duration::from_millis(300));
        phases.push((i, to, t0, Instant::now()));
    }
    let samples = w.stop();
    let (base, _) = watch::longest_gap(watch::between(&samples, phases[0].2, phases[0].3));
    let bound = base * 2 + Duration::from_millis(250);
    eprintln!(
        "{}: one takeover (C h1 stopped and restarted): {base:?}; bound {bound:?}; {} samples",
        b.name(),
        samples.len()
    );
    timing(
        b,
        "rolling upgrade: one takeover (C h1 restarted as C)",
        base,
    );
    let mut problems = Vec::new();
    for &(i, to, from, until) in &phases[1..] {
        let s = watch::between(&samples, from, until);
        let (gap, v) = watch::longest_gap(s);
        let two = watch::twice(s);
        let lasting: Vec<_> = two
            .windows(2)
            .filter(|p| p[0].0 + 1 == p[1].0 && p[0].1 == p[1].1)
            .map(|p| p[1].clone())
            .collect();
        eprintln!(
            "{}: h{} -> {to:?}: {} samples, longest gap {gap:?} (VIP {v:?}), {} single samples on two hosts",
            b.name(),
            i + 1,
            s.len(),
            two.len()
        );
        timing(
            b,
            &format!("rolling upgrade: h{} -> {to:?}, longest gap", i + 1),
            gap,
        );
        if gap > bound {
            problems.push(format!("h{}: a VIP gone {gap:?} > {bound:?}", i + 1));
        }
        if !lasting.is_empty() {
            problems.push(format!(
                "h{}: on two hosts in consecutive samples: {lasting:?}",
                i + 1
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:?}\n{}", c.logs());
    for i in all {
        assert!(c.log(i).contains("members, "), "h{} is not Rust now", i + 1);
    }
}

#[test]
fn a_rolling_upgrade_from_c_to_rust_keeps_every_vip_once() {
    if let Some(b) = sim() {
        rolling_upgrade(&b, "mxroll");
    }
}

#[test]
fn a_rolling_upgrade_from_c_to_rust_keeps_every_vip_once_on_real_spread() {
    if let Some(b) = real() {
        rolling_upgrade(&b, "rmxroll");
    }
}

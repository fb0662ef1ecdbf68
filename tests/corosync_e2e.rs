//! wackamole end to end on Corosync: three hosts in network namespaces
//! on a bridge, each with its own corosync (knet, token
//! [`corosync::TOKEN_MS`], tests/common/corosync.rs) and a `wackamole -d`
//! with `Membership = corosync`. The scenarios of real Spread
//! (tests/common/scenarios.rs: a host killed, a partition and its heal,
//! the membership daemon crashed and restarted, a cold start with
//! `Mature`, a preferred VIP returning, a grouped VIF) with the same
//! assertions, then what only CPG reports: a wackamole process that
//! dies while its corosync lives (PROCDOWN, noticed at once), and a
//! client's outage while a host dies, measured by pinging a VIP from a
//! client namespace. Each prints its times (`TIMING corosync: …`).
//!
//! Needs root, `corosync`, and a wackamole built with the `corosync`
//! feature (`make test` builds it where libcpg-dev is installed); prints
//! SKIPPED otherwise, unless `WACKAMOLE_REQUIRE_COROSYNC=1` (CI). The
//! tests run one at a time: a cluster's timings are its own.

mod common;

use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::cluster::{Backend, Cluster};
use common::corosync;
use common::netns::{veth, Netns};
use common::pinger::{longest_gap, Pinger};
use common::scenarios::{self, log_marks, log_since, started_on, timing, wait_view, SETTLE};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Corosync and a wackamole that speaks it, or `None` (SKIPPED).
fn backend() -> Option<Backend> {
    if !corosync::available() {
        return None;
    }
    if !cfg!(feature = "corosync") {
        corosync::skip(
            "wackamole is built without the corosync feature (cargo test --features corosync)",
        );
        return None;
    }
    Some(Backend::Corosync)
}

#[test]
fn a_dead_host_s_vips_move_to_the_live_hosts() {
    let _g = serial();
    if let Some(b) = backend() {
        scenarios::a_dead_host_s_vips_move_to_the_live_hosts(&b);
    }
}

#[test]
fn partition_and_heal_leave_no_vip_on_two_hosts() {
    let _g = serial();
    if let Some(b) = backend() {
        scenarios::partition_and_heal_leave_no_vip_on_two_hosts(&b);
    }
}

#[test]
fn losing_corosync_releases_and_the_others_take_over() {
    let _g = serial();
    if let Some(b) = backend() {
        scenarios::losing_spread_releases_and_the_others_take_over(&b);
    }
}

#[test]
fn a_cold_cluster_waits_for_maturity() {
    let _g = serial();
    if let Some(b) = backend() {
        scenarios::a_cold_cluster_waits_for_maturity(&b);
    }
}

#[test]
fn a_preferred_vip_returns_to_its_preferrer() {
    let _g = serial();
    if let Some(b) = backend() {
        scenarios::a_preferred_vip_returns_to_its_preferrer(&b);
    }
}

#[test]
fn a_grouped_vif_moves_as_one() {
    let _g = serial();
    if let Some(b) = backend() {
        scenarios::a_grouped_vif_moves_as_one(&b);
    }
}

/// A client namespace on the cluster's bridge at 10.80.0.50.
fn client(c: &Cluster) -> Netns {
    let ns = Netns::new("cl");
    veth(&ns, "e0", &c.sw, "pc");
    c.sw.ip(&["link", "set", "pc", "master", "br0"]);
    ns.ip(&["addr", "add", "10.80.0.50/24", "dev", "e0"]);
    ns
}

/// Pings `vip` from `cl` until replies come (the path is up), or panics.
fn pinging(c: &Cluster, cl: &Netns, vip: Ipv4Addr) -> Pinger {
    let p = Pinger::start(cl, vip, Duration::from_millis(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.heard() < 10 {
        assert!(
            Instant::now() < deadline,
            "{vip} never answered\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// How long after `t0` the client's replies resumed (the end of the
/// longest gap after `t0`), and the gap itself.
fn outage(replies: &[Instant], t0: Instant) -> (Duration, Duration) {
    let gap = longest_gap(replies, t0 - Duration::from_millis(500)).expect("replies");
    let resumed = replies
        .windows(2)
        .find(|w| w[1] - w[0] == gap)
        .map(|w| w[1] - t0)
        .unwrap_or_default();
    (gap, resumed)
}

/// A wackamole that dies while its corosync lives: CPG reports the
/// process gone at once (PROCDOWN, a Disconnect to the engine) and the
/// others take its VIPs over without waiting for any timeout. (Its
/// addresses stay up on its host, as after any SIGKILL; the new owner's
/// ARP replies turn the client to it.)
#[test]
fn a_killed_wackamole_is_noticed_at_once() {
    let _g = serial();
    let Some(b) = backend() else { return };
    let mut c = started_on(&b, "procdown", 3, 6);
    let vips = c.vips.clone();
    c.wait_for("2/2/2", SETTLE, |c| c.counts() == [2, 2, 2]);
    let had = c.held(0);
    let cl = client(&c);
    let p = pinging(&c, &cl, had[0]);
    let marks = log_marks(&c);
    let t0 = Instant::now();
    c.kill(0);
    c.wait_settled_among(&vips, &[1, 2], SETTLE);
    let took = t0.elapsed();
    timing(&b, "a killed wackamole's VIPs held by the others", took);
    assert_eq!(c.counts()[1..], [3, 3], "{}", c.logs());
    for (i, &m) in marks.iter().enumerate().skip(1) {
        wait_view(&c, i, m, 2);
    }
    // The survivors saw a change from corosync at once, not after a
    // token timeout: well under token + consensus.
    assert!(
        took < Duration::from_millis(u64::from(corosync::TOKEN_MS)),
        "took {took:?}: PROCDOWN should not wait for the token\n{}",
        c.logs()
    );
    std::thread::sleep(Duration::from_millis(500));
    let replies = p.stop();
    let (gap, resumed) = outage(&replies, t0);
    timing(&b, "client's longest gap (wackamole killed)", gap);
    assert!(
        replies.last().is_some_and(|t| *t > t0 + took),
        "the client heard nothing after the takeover"
    );
    timing(&b, "client answered again after the kill", resumed);
}

/// A host dies (link down, wackamole and corosync SIGKILLed): the
/// survivors' corosync notice after token + consensus, wackamole takes
/// the VIPs over within milliseconds of that, and a client pinging one
/// of the dead host's VIPs gets answers again from the new owner. The
/// client's outage minus the time the VIPs took to move is what
/// wackamole adds.
#[test]
fn a_client_s_outage_when_a_host_dies() {
    let _g = serial();
    let Some(b) = backend() else { return };
    let mut c = started_on(&b, "outage", 3, 6);
    let vips = c.vips.clone();
    c.wait_for("2/2/2", SETTLE, |c| c.counts() == [2, 2, 2]);
    let vip = c.held(0)[0];
    let cl = client(&c);
    let p = pinging(&c, &cl, vip);
    let marks = log_marks(&c);
    let t0 = Instant::now();
    c.crash_host(0);
    c.wait_settled_among(&vips, &[1, 2], SETTLE);
    let moved = t0.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let replies = p.stop();
    let (gap, resumed) = outage(&replies, t0);
    timing(&b, "a dead host's VIPs held by the others", moved);
    timing(&b, "client's longest gap (host died)", gap);
    timing(&b, "client answered again after the death", resumed);
    assert!(
        replies.last().is_some_and(|t| *t > t0 + moved),
        "the client heard nothing from {vip}'s new owner\n{}",
        c.logs()
    );
    // The VIP moved because corosync reported the host gone: the
    // survivors logged a view of two.
    for (i, &m) in marks.iter().enumerate().skip(1) {
        wait_view(&c, i, m, 2);
        assert!(
            log_since(&c, i, m).contains(": 2 members, "),
            "{}",
            c.logs()
        );
    }
}

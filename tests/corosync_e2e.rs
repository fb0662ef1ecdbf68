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

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::cluster::Backend;
use common::corosync;
use common::pinger::outage;
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
    c.wait_for("2/2/2", SETTLE, |c| c.counts() == [2, 2, 2]);
    let marks = log_marks(&c);
    let o = outage(&mut c, 0, |c| c.kill(0));
    timing(&b, "a killed wackamole's VIPs held by the others", o.moved);
    timing(&b, "client's longest gap (wackamole killed)", o.gap);
    assert_eq!(c.counts()[1..], [3, 3], "{}", c.logs());
    for (i, &m) in marks.iter().enumerate().skip(1) {
        wait_view(&c, i, m, 2);
    }
    // The survivors saw a change from corosync at once, not after a
    // token timeout: well under token + consensus.
    assert!(
        o.moved < Duration::from_millis(u64::from(corosync::TOKEN_MS)),
        "took {:?}: PROCDOWN should not wait for the token\n{}",
        o.moved,
        c.logs()
    );
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
    c.wait_for("2/2/2", SETTLE, |c| c.counts() == [2, 2, 2]);
    let marks = log_marks(&c);
    let o = outage(&mut c, 0, |c| c.crash_host(0));
    timing(&b, "a dead host's VIPs held by the others", o.moved);
    timing(&b, "client's longest gap (host died)", o.gap);
    timing(&b, "client answered again after the death", o.resumed);
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

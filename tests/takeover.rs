//! The takeover table of the README: how long a client loses a VIP
//! when the host holding it dies, on real Spread 5.0.1 and on Corosync,
//! each at its default and at lowered timeouts, measured in one harness
//! (tests/common/cluster.rs: three namespaced hosts on a bridge, the
//! victim's link down, then its wackamole and its membership daemon
//! SIGKILLed; a client namespace pinging one of its VIPs every 10 ms).
//!
//! Not part of `make test` (`#[ignore]`: a few minutes, and its figures
//! are measurements, not assertions). `make takeover-table` runs it
//! (`TAKEOVER_RUNS`, default 3, runs of each setting) and prints a
//! Markdown table. What it asserts is only that each takeover happened:
//! every VIP once among the survivors, and the client answered again.

mod common;

use std::time::Duration;

use common::cluster::{Backend, Cluster};
use common::pinger::outage;
use common::{corosync, thirdparty};

const SETTLE: Duration = Duration::from_secs(60);

/// One setting of the table.
struct Setting {
    name: String,
    backend: Backend,
    /// Lowered timeouts (the test clusters') or the engine's defaults.
    lowered: bool,
    /// Corosync's token when lowered (ms).
    token: u32,
}

/// A cold cluster on `s`, its membership daemons started and in one
/// ring, every wackamole started and settled 2/2/2.
fn cluster(s: &Setting, tag: &str) -> Cluster {
    let mut c = Cluster::new_cold_on(&s.backend, tag, 3, 6, "");
    if let Some(r) = &c.real {
        if !s.lowered {
            r.use_default_timeouts();
        }
    }
    if let Some(r) = &mut c.coro {
        r.set_token(s.lowered.then_some(s.token));
    }
    for i in 0..3 {
        c.restart_spread(i);
    }
    let all = [0, 1, 2];
    if let Some(r) = &c.real {
        r.wait_ring(&all, SETTLE);
    }
    if let Some(r) = &c.coro {
        r.wait_ring(&all, SETTLE);
    }
    c.start_all();
    c.wait_for("2/2/2", SETTLE, |c| c.counts() == [2, 2, 2]);
    c
}

/// One takeover: (VIPs held by the survivors, client's longest gap).
fn run(s: &Setting, k: usize) -> (Duration, Duration) {
    let mut c = cluster(s, &format!("to{k}"));
    let o = outage(&mut c, 0, |c| c.crash_host(0));
    (o.moved, o.gap)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn spread(v: &mut [Duration]) -> String {
    v.sort();
    format!(
        "{} / {} / {}",
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1])
    )
}

#[test]
#[ignore = "a measurement of a few minutes: make takeover-table"]
fn takeover_table() {
    let runs: usize = std::env::var("TAKEOVER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut settings = Vec::new();
    if let Some(prefix) = thirdparty::real_prefix() {
        for lowered in [false, true] {
            settings.push(Setting {
                name: format!(
                    "Spread 5.0.1, {}",
                    if lowered {
                        "lowered (Token 500 ms, Lookup 1.5 s)"
                    } else {
                        "defaults (Token 1250 ms)"
                    }
                ),
                backend: Backend::Real(prefix.clone()),
                lowered,
                token: 0,
            });
        }
    }
    if corosync::available() && cfg!(feature = "corosync") {
        let v = corosync::version();
        for (lowered, token) in [(false, 0), (true, 1000), (true, corosync::TOKEN_MS)] {
            settings.push(Setting {
                name: format!(
                    "Corosync {v}, {}",
                    if lowered {
                        format!("token {token} ms, token_coefficient 0")
                    } else {
                        "defaults (token 3000 ms + 650 per node beyond two)".to_string()
                    }
                ),
                backend: Backend::Corosync,
                lowered,
                token,
            });
        }
    }
    assert!(
        !settings.is_empty(),
        "neither real Spread nor Corosync here"
    );
    let mut rows = Vec::new();
    for s in &settings {
        let (mut moved, mut gaps) = (Vec::new(), Vec::new());
        for k in 0..runs {
            let (m, g) = run(s, k);
            eprintln!(
                "TAKEOVER {}: run {}: moved {} s, client gap {} s",
                s.name,
                k + 1,
                ms(m),
                ms(g)
            );
            moved.push(m);
            gaps.push(g);
        }
        rows.push(format!(
            "| {} | {} | {} |",
            s.name,
            spread(&mut moved),
            spread(&mut gaps)
        ));
    }
    println!("\nA host dies (3 hosts, 6 VIPs), {runs} runs each; seconds, min / median / max:\n");
    println!("| membership | VIPs held by the survivors | client's longest gap |");
    println!("|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

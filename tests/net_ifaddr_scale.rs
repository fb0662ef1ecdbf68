//! How long taking over many VIPs takes: `N` /32 VIPs acquired on one
//! veth in a namespace the test creates, then released, with the time
//! printed (total, per VIP, and the cost of the last VIP, which shows
//! whether it grows with the number already up). Measured, not
//! asserted: run with
//! `cargo test --release --test net_ifaddr_scale -- --ignored --nocapture`.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::netns::{can_run, Netns};
use wackamole::config::IfAddr;
use wackamole::net::ifaddr::{Acquired, Interfaces};

fn vip(n: usize) -> IfAddr {
    IfAddr {
        ifname: "d0".into(),
        addr: Ipv4Addr::new(10, 78, (n / 250) as u8, (n % 250 + 1) as u8),
        prefix: 32,
        net_prefix: 16,
    }
}

struct Timing {
    total: Duration,
    last: Duration,
}

fn report(what: &str, n: usize, t: &Timing) {
    println!(
        "{what:>16} {n:>5} VIPs: {:>9.2} ms in all, {:>7.1} us per VIP, the last one {:>7.1} us",
        t.total.as_secs_f64() * 1e3,
        t.total.as_secs_f64() * 1e6 / n as f64,
        t.last.as_secs_f64() * 1e6,
    );
}

/// With `batch`, as the executor does it: one batch for the acquires
/// (a takeover) and one for the releases; without, every call on its own.
fn measure(n: usize, batch: bool) {
    let ns = Netns::new("scale");
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d0p"]);
    ns.ip(&["link", "set", "d0p", "up"]);
    ns.ip(&["link", "set", "d0", "up"]);
    ns.ip(&["addr", "add", "10.78.255.1/16", "dev", "d0"]);
    let (up, down) = ns.run(move || {
        let mut i = Interfaces::open().unwrap();
        let vips: Vec<IfAddr> = (0..n).map(vip).collect();
        let start = Instant::now();
        if batch {
            i.begin_batch();
        }
        let mut last = Duration::ZERO;
        for v in &vips {
            let t = Instant::now();
            let r = i.acquire(v).unwrap();
            last = t.elapsed();
            assert!(matches!(r, Acquired::Added { .. }), "{r:?}");
        }
        i.end_batch();
        let up = Timing {
            total: start.elapsed(),
            last,
        };
        let start = Instant::now();
        if batch {
            i.begin_batch();
        }
        for v in &vips {
            let t = Instant::now();
            i.release(v.addr).unwrap();
            last = t.elapsed();
        }
        i.end_batch();
        let down = Timing {
            total: start.elapsed(),
            last,
        };
        (up, down)
    });
    let how = if batch { "batched" } else { "one-off" };
    report(&format!("acquire {how}"), n, &up);
    report(&format!("release {how}"), n, &down);
}

#[test]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
fn acquire_many_vips() {
    if !can_run() {
        return;
    }
    for n in [64, 254, 1024] {
        measure(n, true);
    }
    for n in [64, 254, 1024] {
        measure(n, false);
    }
}

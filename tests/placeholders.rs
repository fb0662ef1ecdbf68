//! Standby placeholders end to end: four hosts on `spread-sim` share two
//! VIPs and two `e0:0.0.0.0/32` placeholders (C's way of keeping hosts
//! on standby). Each host holds one of the four; no 0.0.0.0 is ever put
//! on an interface; when a VIP's host dies, a standby host takes it.
//! Skipped without root.

mod common;

use std::time::Duration;

use common::cluster::{vif_lines, Cluster, Conf};
use common::netns::can_run;

const SETTLE: Duration = Duration::from_secs(20);

#[test]
fn two_vips_and_two_placeholders_on_four_hosts() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("plh", 4, 2, "");
    let vips = c.vips.clone();
    let mut vifs = vif_lines(&vips);
    vifs.push("e0:0.0.0.0/32".into());
    vifs.push("e0:0.0.0.0/32".into());
    for i in 0..4 {
        c.write_conf_with(
            i,
            &Conf {
                vifs: vifs.clone(),
                ..Conf::default()
            },
        );
    }
    c.start_all();
    c.wait_settled(&vips, &[0, 1, 2, 3], SETTLE);
    // One VIF each: the two VIPs are on two different hosts.
    let holders: Vec<usize> = c.holders(&vips).into_iter().map(|h| h[0]).collect();
    assert_ne!(holders[0], holders[1], "{}", c.logs());
    for i in 0..4 {
        let addrs = c.hosts[i].ns.addrs("e0");
        assert!(
            !addrs.contains("0.0.0.0"),
            "host {i} has a placeholder address:\n{addrs}"
        );
    }
    // The host of the first VIP dies: a host that held a placeholder
    // (or the other VIP's host, by the balance) takes it, and each VIP
    // is still once among the live hosts.
    let dead = holders[0];
    c.crash_host(dead);
    let live: Vec<usize> = (0..4).filter(|&i| i != dead).collect();
    c.wait_settled_among(&vips, &live, SETTLE);
    // Two hosts held a placeholder before the crash, and said so.
    let log = c.logs();
    assert!(
        log.matches("holding a standby placeholder").count() >= 2,
        "fewer than two hosts held a placeholder:\n{log}"
    );
    for &i in &live {
        assert!(
            !c.hosts[i].ns.addrs("e0").contains("0.0.0.0"),
            "host {i} has a placeholder address after the failover"
        );
    }
}

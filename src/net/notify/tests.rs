use super::*;
use crate::config::{IfAddr, Pos};
use crate::testutil::vip6;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// `IF:a.b.c.d/PREFIXnNET`.
fn ifa(ifname: &str, addr: &str, prefix: u8, net_prefix: u8) -> IfAddr {
    IfAddr {
        ifname: ifname.into(),
        addr: ip(addr),
        prefix,
        net_prefix,
    }
}

fn block(ifname: &str, addr: &str, prefix: u8, throttle: u32) -> NotifyEntry {
    NotifyEntry {
        target: NotifyTarget::Block(ifa(ifname, addr, prefix, 24)),
        throttle,
        ping: false,
        pos: Pos { line: 1, col: 1 },
    }
}

fn arp_cache(throttle: u32, ping: bool) -> NotifyEntry {
    NotifyEntry {
        target: NotifyTarget::ArpCache,
        throttle,
        ping,
        pos: Pos { line: 1, col: 1 },
    }
}

fn rec(addr: &str, last: u8) -> ArpRecord {
    ArpRecord {
        ip: ip(addr),
        mac: [2, 0, 0, 0, 0, last],
    }
}

/// Starts `vif` for IPv4 addresses only, without the whole segment for
/// an address no entry reaches (as C, and as `Notify None`).
fn start_c(
    s: &mut Scheduler<usize>,
    vif: usize,
    addrs: &[&IfAddr],
    entries: &[NotifyEntry],
    cache: &[ArpRecord],
) -> Plan {
    let addrs: Vec<VipAddr> = addrs.iter().map(|a| VipAddr::V4((*a).clone())).collect();
    s.start(vif, &addrs, entries, cache, false)
}

/// The parts of a [`Tell::Dest`]; a test that asks them of another
/// kind of send fails.
trait DestParts {
    fn dest_parts(&self) -> (Ipv4Addr, Ipv4Addr, Option<[u8; 6]>, bool);
    fn vip(&self) -> Ipv4Addr {
        self.dest_parts().0
    }
    fn dest(&self) -> Ipv4Addr {
        self.dest_parts().1
    }
    fn dest_mac(&self) -> Option<[u8; 6]> {
        self.dest_parts().2
    }
    fn ping(&self) -> bool {
        self.dest_parts().3
    }
}

impl DestParts for Announce<usize> {
    fn dest_parts(&self) -> (Ipv4Addr, Ipv4Addr, Option<[u8; 6]>, bool) {
        match self.tell {
            Tell::Dest {
                vip,
                dest,
                dest_mac,
                ping,
            } => (vip, dest, dest_mac, ping),
            ref t => panic!("not a Notify destination: {t:?}"),
        }
    }
}

fn dests(v: &[Announce<usize>]) -> Vec<Ipv4Addr> {
    v.iter().map(|a| a.dest()).collect()
}

/// Runs rounds until idle (at most `limit`), returning each round.
fn drain(s: &mut Scheduler<usize>, limit: usize) -> Vec<Vec<Announce<usize>>> {
    let mut rounds = Vec::new();
    while !s.is_idle() {
        assert!(rounds.len() < limit, "more than {limit} rounds");
        rounds.push(s.round());
    }
    rounds
}

#[test]
fn a_slash_24_at_throttle_64_takes_four_rounds() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let plan = start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "192.168.1.0", 24, 64)],
        &[],
    );
    assert_eq!(
        plan,
        Plan {
            destinations: 256,
            rounds: 4,
            capped: false,
            segment: 0
        }
    );
    let rounds = drain(&mut s, 10);
    assert_eq!(rounds.len(), 4);
    let all: Vec<Ipv4Addr> = rounds.iter().flat_map(|r| dests(r)).collect();
    // Upward, network and broadcast included, each once.
    let want: Vec<Ipv4Addr> = (0..=255).map(|i| Ipv4Addr::new(192, 168, 1, i)).collect();
    assert_eq!(all, want);
    for r in &rounds {
        assert_eq!(r.len(), 64);
        assert!(r.iter().all(|a| a.vif == 0
            && a.ifname == "eth0"
            && a.vip() == ip("192.168.1.10")
            && a.dest_mac().is_none()
            && !a.ping()));
    }
    // Idle means no further round: a tick then sends nothing.
    assert!(s.round().is_empty());
}

#[test]
fn throttle_0_sends_a_slash_24_in_one_round() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let plan = start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "192.168.1.0", 24, 0)],
        &[],
    );
    assert_eq!(plan.rounds, 1);
    assert!(!plan.capped);
    let rounds = drain(&mut s, 5);
    assert_eq!(rounds.len(), 1);
    assert_eq!(rounds[0].len(), 256);
}

#[test]
fn an_entry_on_another_interface_never_fires() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let plan = start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth1", "192.168.1.0", 24, 0)],
        &[],
    );
    assert_eq!(plan, Plan::default());
    assert!(s.is_idle());
    assert!(!s.is_active(0));
    assert!(s.round().is_empty());
    assert!(s.first_round(0).is_empty());
}

#[test]
fn an_entry_without_interface_fires_on_the_vips() {
    let mut s = Scheduler::new();
    let v0 = ifa("eth0", "192.168.1.10", 32, 24);
    let v1 = ifa("bond1", "192.168.1.11", 32, 24);
    start_c(
        &mut s,
        0,
        &[&v0, &v1],
        &[block("", "192.168.1.1", 32, 0)],
        &[],
    );
    let r = s.round();
    assert_eq!(dests(&r), [ip("192.168.1.1"), ip("192.168.1.1")]);
    assert_eq!(r[0].ifname, "eth0");
    assert_eq!(r[1].ifname, "bond1");
    assert!(s.is_idle());
}

#[test]
fn nnet_limits_the_block() {
    let mut s = Scheduler::new();
    // /16 entry, VIP's nNET /28: only 10.1.2.0-15.
    let vip = ifa("eth0", "10.1.2.3", 32, 28);
    let plan = start_c(&mut s, 0, &[&vip], &[block("eth0", "10.1.0.0", 16, 0)], &[]);
    assert_eq!(plan.destinations, 16);
    let r = s.round();
    assert_eq!(r.first().unwrap().dest(), ip("10.1.2.0"));
    assert_eq!(r.last().unwrap().dest(), ip("10.1.2.15"));
    assert_eq!(r.len(), 16);

    // A block inside the nNET stays as it is (the entry's address is
    // masked to its prefix).
    let vip = ifa("eth0", "10.1.2.3", 32, 24);
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "10.1.2.130", 26, 0)],
        &[],
    );
    let r = s.round();
    assert_eq!(r.len(), 64);
    assert_eq!(
        (r[0].dest(), r[63].dest()),
        (ip("10.1.2.128"), ip("10.1.2.191"))
    );

    // Outside it: nothing.
    assert_eq!(
        start_c(&mut s, 0, &[&vip], &[block("eth0", "10.1.3.0", 24, 0)], &[]),
        Plan::default()
    );
    assert!(s.is_idle());
}

#[test]
fn the_arp_cache_entry_takes_cache_addresses_in_the_network_with_their_mac() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let cache = [
        rec("192.168.1.50", 1),
        rec("10.0.0.1", 2),
        rec("192.168.1.7", 3),
        rec("192.168.2.7", 4),
        rec("192.168.1.200", 5),
        rec("172.16.0.1", 6),
        rec("192.168.1.1", 7),
        rec("192.168.1.2", 8),
        rec("192.168.1.3", 9),
        rec("8.8.8.8", 10),
    ];
    let plan = start_c(&mut s, 3, &[&vip], &[arp_cache(2, true)], &cache);
    assert_eq!(plan.destinations, 6);
    assert_eq!(plan.rounds, 3);
    // Cache order, not address order; no empty round at the end even
    // though the cache ends with an address outside the network.
    let rounds = drain(&mut s, 10);
    assert_eq!(rounds.len(), 3);
    let got: Vec<(Ipv4Addr, Option<[u8; 6]>)> = rounds
        .iter()
        .flatten()
        .map(|a| (a.dest(), a.dest_mac()))
        .collect();
    let want: Vec<(Ipv4Addr, Option<[u8; 6]>)> = [1, 3, 5, 7, 8, 9]
        .iter()
        .map(|&i| {
            let r = cache[i as usize - 1];
            (r.ip, Some(r.mac))
        })
        .collect();
    assert_eq!(got, want);
    assert!(rounds
        .iter()
        .flatten()
        .all(|a| a.ping() && a.vif == 3 && a.ifname == "eth0"));
}

#[test]
fn the_arp_cache_entry_with_nothing_in_the_network_is_idle() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    start_c(
        &mut s,
        0,
        &[&vip],
        &[arp_cache(0, false)],
        &[rec("10.0.0.1", 1)],
    );
    assert!(s.is_idle());
    start_c(&mut s, 0, &[&vip], &[arp_cache(0, false)], &[]);
    assert!(s.is_idle());
}

#[test]
fn every_address_of_the_vif_is_announced_master_first() {
    let mut s = Scheduler::new();
    let master = ifa("eth0", "192.168.1.10", 32, 24);
    let extra1 = ifa("eth0", "192.168.1.11", 32, 24);
    let extra2 = ifa("eth0", "10.9.9.9", 32, 24); // reaches nothing below
    let entries = [
        block("eth0", "192.168.1.1", 32, 0),
        arp_cache(0, false),
        block("", "192.168.1.2", 31, 1),
    ];
    let cache = [rec("192.168.1.99", 9)];
    let plan = start_c(&mut s, 0, &[&master, &extra1, &extra2], &entries, &cache);
    assert_eq!(plan.destinations, 8);
    let r1 = s.round();
    let got: Vec<(Ipv4Addr, Ipv4Addr)> = r1.iter().map(|a| (a.vip(), a.dest())).collect();
    let m = ip("192.168.1.10");
    let x = ip("192.168.1.11");
    assert_eq!(
        got,
        [
            (m, ip("192.168.1.1")),
            (m, ip("192.168.1.99")),
            (m, ip("192.168.1.2")),
            (x, ip("192.168.1.1")),
            (x, ip("192.168.1.99")),
            (x, ip("192.168.1.2")),
        ]
    );
    let r2 = s.round();
    let got: Vec<(Ipv4Addr, Ipv4Addr)> = r2.iter().map(|a| (a.vip(), a.dest())).collect();
    assert_eq!(got, [(m, ip("192.168.1.3")), (x, ip("192.168.1.3"))]);
    assert!(s.is_idle());
}

#[test]
fn a_new_acquire_restarts_the_schedule() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let entries = [block("eth0", "192.168.1.0", 24, 100)];
    start_c(&mut s, 0, &[&vip], &entries, &[]);
    assert_eq!(s.round()[0].dest(), ip("192.168.1.0"));
    assert_eq!(s.round()[0].dest(), ip("192.168.1.100"));
    start_c(&mut s, 0, &[&vip], &entries, &[]);
    let rounds = drain(&mut s, 10);
    assert_eq!(rounds.len(), 3);
    assert_eq!(rounds[0][0].dest(), ip("192.168.1.0"));
    assert_eq!(rounds.iter().map(Vec::len).sum::<usize>(), 256);

    // Restarting with entries that reach nothing drops the old schedule.
    start_c(&mut s, 0, &[&vip], &entries, &[]);
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth9", "192.168.1.0", 24, 0)],
        &[],
    );
    assert!(s.is_idle());
}

#[test]
fn cancel_stops_one_vif_only() {
    let mut s = Scheduler::new();
    let a = ifa("eth0", "192.168.1.10", 32, 24);
    let b = ifa("eth0", "192.168.1.20", 32, 24);
    let entries = [block("eth0", "192.168.1.0", 24, 64)];
    start_c(&mut s, 0, &[&a], &entries, &[]);
    start_c(&mut s, 1, &[&b], &entries, &[]);
    assert_eq!(s.round().len(), 128);
    assert!(s.cancel(0));
    assert!(!s.cancel(0));
    assert!(!s.is_active(0) && s.is_active(1));
    let rest = drain(&mut s, 10);
    assert_eq!(rest.len(), 3);
    assert!(rest
        .iter()
        .flatten()
        .all(|x| x.vif == 1 && x.vip() == b.addr));
    assert!(!s.cancel(1));
}

#[test]
fn throttle_0_on_a_slash_16_is_capped_per_round() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "10.20.30.40", 32, 16);
    let plan = start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "10.20.0.0", 16, 0)],
        &[],
    );
    assert_eq!(
        plan,
        Plan {
            destinations: 65_536,
            rounds: 64,
            capped: true,
            segment: 0
        }
    );
    let rounds = drain(&mut s, 100);
    assert_eq!(rounds.len(), 64);
    assert!(rounds.iter().all(|r| r.len() == IMPLICIT_THROTTLE as usize));
    assert_eq!(rounds[63].last().unwrap().dest(), ip("10.20.255.255"));
}

#[test]
fn absurd_blocks_cost_one_capped_round_at_a_time() {
    let mut s = Scheduler::new();
    // /0 entry and /0 nNET: 2^32 destinations, never listed up front.
    let vip = ifa("eth0", "10.0.0.1", 32, 0);
    let plan = start_c(&mut s, 0, &[&vip], &[block("", "0.0.0.0", 0, 0)], &[]);
    assert_eq!(plan.destinations, 1 << 32);
    assert_eq!(plan.rounds, (1 << 32) / u64::from(IMPLICIT_THROTTLE));
    let r = s.round();
    assert_eq!(r.len(), IMPLICIT_THROTTLE as usize);
    assert_eq!(r[0].dest(), ip("0.0.0.0"));
    // A huge explicit throttle is held to the per-round total.
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("", "0.0.0.0", 0, u32::MAX)],
        &[],
    );
    assert_eq!(s.round().len(), MAX_ROUND);
    assert!(s.is_active(0));
}

#[test]
fn the_last_addresses_of_the_space_end_the_schedule() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "255.255.255.250", 32, 29);
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "255.255.255.255", 28, 3)],
        &[],
    );
    let rounds = drain(&mut s, 5);
    assert_eq!(rounds.len(), 3);
    assert_eq!(rounds[2].last().unwrap().dest(), ip("255.255.255.255"));
    assert_eq!(rounds[0][0].dest(), ip("255.255.255.248"));
}

#[test]
fn the_per_round_total_is_shared_fairly() {
    let mut s = Scheduler::new();
    // Five VIFs with a /16 each at 1,024 per round: only four fit in one
    // round; the one left out goes first the next time.
    let vips: Vec<IfAddr> = (0..5)
        .map(|i| ifa("eth0", &format!("10.{i}.0.1"), 32, 16))
        .collect();
    for (i, v) in vips.iter().enumerate() {
        start_c(
            &mut s,
            i,
            &[v],
            &[block("", &format!("10.{i}.0.0"), 16, 0)],
            &[],
        );
    }
    let mut per_vif = [0usize; 5];
    for round in 0..5 {
        let r = s.round();
        assert_eq!(r.len(), MAX_ROUND, "round {round}");
        for a in &r {
            per_vif[a.vif] += 1;
        }
    }
    assert_eq!(per_vif, [4 * 1024; 5]);
}

#[test]
fn a_partial_turn_resumes_first() {
    let mut s = Scheduler::new();
    let a = ifa("eth0", "10.0.0.1", 32, 16);
    let b = ifa("eth0", "10.1.0.1", 32, 16);
    start_c(&mut s, 0, &[&a], &[block("", "10.0.0.0", 16, 4000)], &[]);
    start_c(&mut s, 1, &[&b], &[block("", "10.1.0.0", 16, 4000)], &[]);
    let r1 = s.round();
    assert_eq!(r1.len(), MAX_ROUND);
    assert_eq!(r1.iter().filter(|x| x.vif == 1).count(), 96);
    // VIF 1 was cut short: it starts the next round.
    let r2 = s.round();
    assert_eq!(r2[0].vif, 1);
    assert_eq!(r2[0].dest(), ip("10.1.0.96"));
}

#[test]
fn first_round_sends_now_and_keeps_rounds_a_tick_apart() {
    let mut s = Scheduler::new();
    let a = ifa("eth0", "192.168.1.10", 32, 24);
    let b = ifa("eth0", "192.168.1.20", 32, 24);
    let entries = [block("eth0", "192.168.1.0", 24, 100)];
    start_c(&mut s, 0, &[&a], &entries, &[]);
    assert_eq!(s.round().len(), 100); // VIF 0, round 1
    start_c(&mut s, 1, &[&b], &entries, &[]);
    let first = s.first_round(1);
    assert_eq!(first.len(), 100);
    assert!(first.iter().all(|x| x.vif == 1));
    assert_eq!(first[0].dest(), ip("192.168.1.0"));
    // Only once.
    assert!(s.first_round(1).is_empty());
    // Next tick: VIF 0's round 2; VIF 1 sits it out.
    let r = s.round();
    assert!(r.iter().all(|x| x.vif == 0));
    assert_eq!(r.len(), 100);
    // Then both go on.
    let r = s.round();
    assert_eq!(r.iter().filter(|x| x.vif == 0).count(), 56);
    let one: Vec<Announce<usize>> = r.into_iter().filter(|x| x.vif == 1).collect();
    assert_eq!(one.len(), 100);
    assert_eq!(one[0].dest(), ip("192.168.1.100"));
    assert!(!s.is_active(0));
    assert_eq!(s.round().len(), 56);
    assert!(s.is_idle());
    // A schedule done in its first round is gone at once.
    start_c(
        &mut s,
        2,
        &[&a],
        &[block("eth0", "192.168.1.1", 32, 0)],
        &[],
    );
    assert_eq!(s.first_round(2).len(), 1);
    assert!(s.is_idle());
}

#[test]
fn duplicate_destinations_are_kept() {
    // Two entries reaching the same address each announce to it, as C.
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let mut pinged = block("eth0", "192.168.1.1", 32, 0);
    pinged.ping = true;
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("", "192.168.1.1", 32, 0), pinged],
        &[],
    );
    let r = s.round();
    assert_eq!(dests(&r), [ip("192.168.1.1"); 2]);
    assert_eq!((r[0].ping(), r[1].ping()), (false, true));
}

#[test]
fn a_repeating_scheduler_sends_the_whole_schedule_again_after_the_gap() {
    let mut s = Scheduler::repeating(2);
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    let cache = [rec("192.168.1.5", 5), rec("10.0.0.1", 1)];
    let entries = [block("eth0", "192.168.1.0", 30, 2), arp_cache(0, true)];
    start_c(&mut s, 0, &[&vip], &entries, &cache);
    let first = s.first_round(0);
    assert_eq!(
        dests(&first),
        [ip("192.168.1.0"), ip("192.168.1.1"), ip("192.168.1.5")]
    );
    // Round 2 of the first pass, then two silent rounds, then the repeat
    // from the first destination, with the snapshot taken at the start.
    assert_eq!(dests(&s.round()), [] as [Ipv4Addr; 0], "sits out one tick");
    assert_eq!(dests(&s.round()), [ip("192.168.1.2"), ip("192.168.1.3")]);
    assert!(s.round().is_empty());
    assert!(s.round().is_empty());
    assert!(s.is_active(0), "the repeat is still due");
    let again = s.round();
    assert_eq!(dests(&again), dests(&first));
    assert_eq!(again[2].dest_mac(), Some([2, 0, 0, 0, 0, 5]));
    assert!(again[2].ping());
    assert_eq!(dests(&s.round()), [ip("192.168.1.2"), ip("192.168.1.3")]);
    assert!(s.is_idle(), "only one repeat");
    assert!(s.round().is_empty());
}

#[test]
fn a_one_round_schedule_sent_at_once_repeats_on_the_third_tick() {
    let mut s = Scheduler::repeating(2);
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    start_c(
        &mut s,
        3,
        &[&vip],
        &[block("eth0", "192.168.1.1", 32, 0)],
        &[],
    );
    assert_eq!(dests(&s.first_round(3)), [ip("192.168.1.1")]);
    assert!(s.round().is_empty());
    assert!(s.round().is_empty());
    let r = s.round();
    assert_eq!(dests(&r), [ip("192.168.1.1")]);
    assert_eq!(r[0].vif, 3);
    assert!(s.is_idle());
}

#[test]
fn a_release_cancels_the_pending_repeat() {
    let mut s = Scheduler::repeating(2);
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "192.168.1.1", 32, 0)],
        &[],
    );
    assert_eq!(s.first_round(0).len(), 1);
    assert!(s.is_active(0));
    assert!(s.cancel(0));
    assert!(s.is_idle());
    for _ in 0..4 {
        assert!(s.round().is_empty());
    }
}

#[test]
fn a_plain_scheduler_never_repeats() {
    let mut s = Scheduler::new();
    let vip = ifa("eth0", "192.168.1.10", 32, 24);
    start_c(
        &mut s,
        0,
        &[&vip],
        &[block("eth0", "192.168.1.1", 32, 0)],
        &[],
    );
    assert_eq!(s.first_round(0).len(), 1);
    assert!(s.is_idle());
}

fn v4(a: &IfAddr) -> VipAddr {
    VipAddr::V4(a.clone())
}

fn tells(v: &[Announce<usize>]) -> Vec<(String, Tell)> {
    v.iter()
        .map(|a| (a.ifname.clone(), a.tell.clone()))
        .collect()
}

#[test]
fn an_address_outside_every_notify_network_is_told_to_the_whole_segment() {
    let mut s = Scheduler::new();
    // The entry is a /24 the VIP's nNET (10.9.9.0/24) does not touch.
    let vip = ifa("eth0", "10.9.9.9", 32, 24);
    let entries = [block("eth0", "192.168.1.0", 24, 0)];
    let plan = s.start(7, &[v4(&vip)], &entries, &[], true);
    assert_eq!(
        plan,
        Plan {
            destinations: 0,
            rounds: 0,
            capped: false,
            segment: 1
        }
    );
    let first = s.first_round(7);
    assert_eq!(
        tells(&first),
        [("eth0".to_string(), Tell::Segment(ip("10.9.9.9")))]
    );
    assert_eq!(first[0].vif, 7);
    assert!(s.is_idle());

    // No Notify at all, or an arp-cache entry with nothing in the
    // network: the same.
    for (entries, cache) in [
        (vec![], vec![]),
        (vec![arp_cache(0, false)], vec![rec("192.168.1.5", 5)]),
    ] {
        s.start(1, &[v4(&vip)], &entries, &cache, true);
        assert_eq!(dests_or_segment(&s.round()), ["segment 10.9.9.9"]);
        assert!(s.is_idle());
    }
}

/// `Tell`s in a short form: `segment A`, `all-nodes A`, `A -> D`.
fn dests_or_segment(v: &[Announce<usize>]) -> Vec<String> {
    v.iter()
        .map(|a| match &a.tell {
            Tell::Dest { vip, dest, .. } => format!("{vip} -> {dest}"),
            Tell::Segment(a) => format!("segment {a}"),
            Tell::AllNodes(a) => format!("all-nodes {a}"),
        })
        .collect()
}

#[test]
fn an_address_some_destination_reaches_gets_no_extra_segment_frame() {
    // The replies to its destinations are broadcast already: every host
    // of the segment hears them. Only the unreached extra gets one.
    let mut s = Scheduler::new();
    let master = ifa("eth0", "192.168.1.10", 32, 24);
    let extra = ifa("eth0", "10.9.9.9", 32, 24);
    let entries = [block("eth0", "192.168.1.1", 32, 0)];
    let plan = s.start(0, &[v4(&master), v4(&extra)], &entries, &[], true);
    assert_eq!((plan.destinations, plan.segment), (1, 1));
    assert_eq!(
        dests_or_segment(&s.first_round(0)),
        ["192.168.1.10 -> 192.168.1.1", "segment 10.9.9.9"]
    );
    assert!(s.is_idle());
}

#[test]
fn notify_none_keeps_c_s_silence_for_unreached_and_ipv6_addresses() {
    let mut s = Scheduler::repeating(2);
    let vip = ifa("eth0", "10.9.9.9", 32, 24);
    let reached = ifa("eth0", "192.168.1.10", 32, 24);
    let addrs = [v4(&vip), vip6("eth0", "2001:db8::10", 64)];
    assert_eq!(s.start(0, &addrs, &[], &[], false), Plan::default());
    assert!(s.is_idle());
    assert!(s.first_round(0).is_empty());
    // Entries still tell their destinations.
    let entries = [block("eth0", "192.168.1.1", 32, 0)];
    let addrs = [v4(&reached), v4(&vip), vip6("eth0", "2001:db8::10", 64)];
    s.start(0, &addrs, &entries, &[], false);
    assert_eq!(
        dests_or_segment(&s.first_round(0)),
        ["192.168.1.10 -> 192.168.1.1"]
    );
}

#[test]
fn ipv6_addresses_are_told_to_all_nodes_and_repeated_like_ipv4() {
    let mut s = Scheduler::repeating(2);
    let master = ifa("eth0", "192.168.1.10", 32, 24);
    let addrs = [
        v4(&master),
        vip6("eth1", "2001:db8::10", 64),
        vip6("eth0", "2001:db8::11", 64),
    ];
    let entries = [block("eth0", "192.168.1.1", 32, 0)];
    let plan = s.start(4, &addrs, &entries, &[], true);
    assert_eq!((plan.destinations, plan.segment), (1, 2));
    let first = s.first_round(4);
    let want = [
        "192.168.1.10 -> 192.168.1.1",
        "all-nodes 2001:db8::10",
        "all-nodes 2001:db8::11",
    ];
    assert_eq!(dests_or_segment(&first), want);
    assert_eq!(
        (first[1].ifname.as_str(), first[2].ifname.as_str()),
        ("eth1", "eth0")
    );
    // Two to three seconds later (the tick it sits out, one more, then
    // the repeat), the same again, IPv6 included.
    assert!(s.round().is_empty());
    assert!(s.round().is_empty());
    assert!(s.is_active(4));
    assert_eq!(dests_or_segment(&s.round()), want);
    assert!(s.is_idle(), "only one repeat");

    // An IPv6-only VIF: its NA is repeated too (it used to be sent once,
    // beside the schedule).
    s.start(5, &[vip6("eth0", "2001:db8::12", 64)], &[], &[], true);
    assert_eq!(
        dests_or_segment(&s.first_round(5)),
        ["all-nodes 2001:db8::12"]
    );
    assert!(s.round().is_empty());
    assert!(s.round().is_empty());
    assert_eq!(dests_or_segment(&s.round()), ["all-nodes 2001:db8::12"]);
    assert!(s.is_idle());
}

#[test]
fn segment_sends_count_against_the_round_total() {
    // 5,000 single-address VIFs, none reached: 4,096 in a round (not
    // all at once), the rest the round after, each once.
    let mut s = Scheduler::new();
    let vips: Vec<IfAddr> = (0..5000u32)
        .map(|i| ifa("eth0", &Ipv4Addr::from(0x0a00_0000 + i).to_string(), 32, 24))
        .collect();
    for (i, v) in vips.iter().enumerate() {
        s.start(i, &[v4(v)], &[], &[], true);
    }
    let r1 = s.round();
    let r2 = s.round();
    assert_eq!((r1.len(), r2.len()), (MAX_ROUND, 5000 - MAX_ROUND));
    assert!(s.is_idle());
    let mut seen: Vec<usize> = r1.iter().chain(&r2).map(|a| a.vif).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..5000).collect::<Vec<_>>());
}

//! End to end, on the same harness as `tests/daemon.rs`
//! (`tests/common/cluster.rs`): `spread-sim` as Spread, one network
//! namespace per host on a bridge, a `wackamole -d` in each. Every test
//! checks what is really up (`ip addr` in the namespaces), and the
//! daemons' logs or `wackatrl` where they say more. Run as root; they
//! print SKIPPED otherwise.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::cluster::{held_in, vif_lines, Backend, Cluster, Conf};
use common::hex::mac_string;
use common::netns::can_run;
use common::scenarios::{self, log_marks, log_since, started, trl_json, wait_steady, wait_view};

const SETTLE: Duration = Duration::from_secs(20);

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Milliseconds of the day of a `-d` log line
/// (`2026-11-25T17:50:01.123Z wackamole[..]: ...`).
fn log_ms(line: &str) -> u64 {
    let t = line
        .split_whitespace()
        .next()
        .and_then(|ts| ts.split('T').nth(1))
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"));
    let t = t.trim_end_matches('Z');
    let (hms, ms) = t.split_once('.').expect("milliseconds");
    let f: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    ((f[0] * 60 + f[1]) * 60 + f[2]) * 1000 + ms.parse::<u64>().unwrap()
}

/// The times of the lines of `log` that contain `needle`.
fn times_of(log: &str, needle: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains(needle))
        .map(log_ms)
        .collect()
}

// The scenarios shared with real Spread (tests/real_spread.rs): host
// kill, partition and heal, cold start with Mature, a preferred VIP
// returning, a grouped VIF. Their steps and assertions are in
// tests/common/scenarios.rs.

#[test]
fn a_dead_host_s_vips_move_to_the_live_hosts() {
    if can_run() {
        scenarios::a_dead_host_s_vips_move_to_the_live_hosts(&Backend::Sim);
    }
}

#[test]
fn partition_and_heal_leave_no_vip_on_two_hosts() {
    if can_run() {
        scenarios::partition_and_heal_leave_no_vip_on_two_hosts(&Backend::Sim);
    }
}

#[test]
fn a_cold_cluster_waits_for_maturity() {
    if can_run() {
        scenarios::a_cold_cluster_waits_for_maturity(&Backend::Sim);
    }
}

#[test]
fn a_preferred_vip_returns_to_its_preferrer() {
    if can_run() {
        scenarios::a_preferred_vip_returns_to_its_preferrer(&Backend::Sim);
    }
}

#[test]
fn a_grouped_vif_moves_as_one() {
    if can_run() {
        scenarios::a_grouped_vif_moves_as_one(&Backend::Sim);
    }
}

/// Two hosts share six VIPs (3/3); a third joins with `balance` as the
/// Balance block. Returns the cluster, the settled allocations seen
/// (counts, in order, repeats dropped) until 2/2/2, and the joiner's
/// log.
fn third_joins(tag: &str, balance: &str) -> (Cluster, Vec<Vec<usize>>, String) {
    let mut c = Cluster::new(tag, 3, 6, "");
    let vips = c.vips.clone();
    for i in 0..3 {
        c.write_conf_with(
            i,
            &Conf {
                vifs: vif_lines(&vips),
                balance,
                ..Conf::default()
            },
        );
    }
    c.start(0);
    c.start(1);
    c.wait_settled(&vips, &[0, 1], SETTLE);
    c.wait_for("3/3/0", SETTLE, |c| c.counts() == [3, 3, 0]);
    c.start(2);
    let deadline = Instant::now() + SETTLE;
    let mut seen: Vec<Vec<usize>> = vec![vec![3, 3, 0]];
    loop {
        let holders = c.holders(&vips);
        if holders.iter().all(|h| h.len() == 1) {
            let counts = c.counts();
            if counts.iter().sum::<usize>() == 6 && seen.last() != Some(&counts) {
                seen.push(counts.clone());
            }
            if counts == [2, 2, 2] {
                break;
            }
        }
        if Instant::now() > deadline {
            panic!("never 2/2/2; seen {seen:?}\n{}", c.logs());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = c.log(2);
    (c, seen, log)
}

/// `AcquisitionsPerRound = 1`, `Interval = 1s`: a joining host gets
/// one VIP per second (3/3/0, then 3+2+1, then 2/2/2).
#[test]
fn one_acquisition_per_round_balances_one_move_per_interval() {
    if !can_run() {
        return;
    }
    let (c, seen, log) = third_joins("bal1", "AcquisitionsPerRound = 1 Interval = 1s");
    let mut sorted: Vec<Vec<usize>> = seen
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.sort();
            s
        })
        .collect();
    sorted.dedup();
    assert_eq!(
        sorted,
        [vec![0, 3, 3], vec![1, 2, 3], vec![2, 2, 2]],
        "seen {seen:?}\n{}",
        c.logs()
    );
    let joined = times_of(&log, ": 3 members, ");
    let got = times_of(&log, "acquired VIF");
    assert_eq!(got.len(), 2, "{log}");
    assert!(!joined.is_empty(), "{log}");
    // The first move one interval after the exchange, the second one
    // more interval later.
    assert!(got[0] >= joined[0] + 800, "{log}");
    assert!(got[1] >= got[0] + 800, "{log}");
}

/// `AcquisitionsPerRound = all`: a joining host gets its share
/// right after the exchange, in one BALANCE.
#[test]
fn all_acquisitions_per_round_balances_at_once() {
    if !can_run() {
        return;
    }
    let (c, seen, log) = third_joins("balall", "AcquisitionsPerRound = all");
    let joined = times_of(&log, ": 3 members, ");
    let got = times_of(&log, "acquired VIF");
    assert_eq!(got.len(), 2, "{log}");
    assert!(!joined.is_empty(), "{log}");
    assert!(
        got[1] < joined[0] + 500,
        "not balanced at once: {log}\nseen {seen:?}\n{}",
        c.logs()
    );
    assert_eq!(seen.last(), Some(&vec![2, 2, 2]));
}

/// Five hosts, 64 VIPs: every VIP once and the counts within one of
/// each other; one host stops and the four left hold 16 each.
#[test]
fn five_hosts_share_64_vips_evenly() {
    if !can_run() {
        return;
    }
    let mut c = started("big", 5, 64);
    let vips = c.vips.clone();
    c.wait_for("counts within one", SETTLE, |c| {
        let n = c.counts();
        n.iter().max().unwrap() - n.iter().min().unwrap() <= 1
    });
    assert_eq!(c.counts().iter().sum::<usize>(), 64);
    c.signal(4, "TERM");
    assert_eq!(c.wait_exit(4, SETTLE), Some(0), "{}", c.logs());
    assert!(c.held(4).is_empty(), "h5 released everything");
    c.wait_settled(&vips, &[0, 1, 2, 3], SETTLE);
    c.wait_for("16 each on four hosts", SETTLE, |c| {
        c.counts() == [16, 16, 16, 16, 0]
    });
    // The survivors' tables agree with `ip addr`.
    for i in 0..4 {
        let out = c.wackatrl(i, &["-l"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        for (j, h) in c.hosts.iter().enumerate() {
            let here = format!("Owner: {}", h.addr);
            let n = text.lines().filter(|l| *l == here).count();
            assert_eq!(n, if j < 4 { 16 } else { 0 }, "h{}: {text}", i + 1);
        }
    }
}

/// The MAC a neighbour namespace has for `ip` (IPv4 or IPv6) on `dev`,
/// if any.
fn neigh_mac(ns: &common::netns::Netns, dev: &str, ip: impl ToString) -> Option<String> {
    let ip = ip.to_string();
    let family = if ip.contains(':') { "-6" } else { "-4" };
    let out = ns.ip(&[family, "neigh", "show", &ip, "dev", dev]);
    let at = out.find("lladdr ")? + "lladdr ".len();
    out.get(at..at + 17).map(str::to_string)
}

/// A neighbour on the Notify list learns the VIP's new MAC at the
/// acquire, and once more two to three seconds later (the repeat that
/// gets past an ARP `locktime`): the test removes the entry the first
/// announcement made, and the repeat must bring it back on its own.
#[test]
fn a_notified_neighbour_hears_the_acquire_twice() {
    if !can_run() {
        return;
    }
    let client_ip = ip4(&format!("{}.200", common::cluster::SUBNET));
    let mut c = Cluster::new("rean", 1, 1, &format!("Notify {{ e0:{client_ip}/32 }}"));
    let client = common::netns::Netns::new("reanc");
    common::netns::veth(&client, "e0", &c.sw, "pc");
    c.sw.ip(&["link", "set", "pc", "master", "br0"]);
    client.ip(&["addr", "add", &format!("{client_ip}/24"), "dev", "e0"]);
    // Let an unsolicited ARP reply create an entry (Linux's default only
    // updates one that exists); the repeat is then visible as a new entry.
    let set = client.exec(&["sh", "-c", "echo 1 >/proc/sys/net/ipv4/conf/e0/arp_accept"]);
    assert!(set.status.success(), "{set:?}");
    let vip = c.vips[0];
    let m = c.hosts[0].ns.mac("e0");
    let mac = mac_string(m);

    c.start(0);
    c.wait_settled(&[vip], &[0], SETTLE);
    let wait_entry = |what: &str, within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            if let Some(got) = neigh_mac(&client, "e0", vip) {
                assert_eq!(got, mac, "{what}: the neighbour has another MAC");
                return Instant::now();
            }
            assert!(Instant::now() < deadline, "{what}: no entry\n{}", c.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = wait_entry("the acquire's announcement", Duration::from_secs(5));
    client.ip(&["neigh", "del", &vip.to_string(), "dev", "e0"]);
    assert_eq!(neigh_mac(&client, "e0", vip), None, "the entry stayed");
    let again = wait_entry("the repeat", Duration::from_secs(6));
    assert!(
        again - first >= Duration::from_millis(1500),
        "the repeat came after {:?}, not past locktime",
        again - first
    );
}

/// A reload that redefines a held IPv6 VIF (here: a grouped one that
/// gains an address) takes it down and brings it up again, and must tell
/// the neighbours as an acquire does: an unsolicited NA (Override) for
/// each IPv6 address, which corrects a neighbour entry pointing
/// elsewhere. The client's entries are planted after the first
/// announcement, so only the reload's can correct them.
#[test]
fn a_reload_that_redefines_an_ipv6_vif_announces_it_again() {
    if !can_run() {
        return;
    }
    let (old6, new6) = ("fd00:82::101", "fd00:82::102");
    let mut c = Cluster::new("re6", 1, 1, "");
    let vip = c.vips[0];
    let conf = |extra: &[&str]| {
        let mut group = vec![format!("e0:{vip}/32"), format!("e0:[{old6}]/64")];
        group.extend(extra.iter().map(|a| format!("e0:[{a}]/64")));
        common::cluster::Conf {
            vifs: vec![format!("{{ {} }}", group.join(" "))],
            ..Default::default()
        }
    };
    c.write_conf_with(0, &conf(&[]));
    let client = common::netns::Netns::new("re6c");
    common::netns::veth(&client, "e0", &c.sw, "pc");
    c.sw.ip(&["link", "set", "pc", "master", "br0"]);
    client.ip(&["link", "set", "e0", "up"]);
    let mac = c.hosts[0]
        .ns
        .mac("e0")
        .map(|b| format!("{b:02x}"))
        .join(":");

    c.start(0);
    c.wait_settled(&[vip], &[0], SETTLE);
    let has = |a: &str| {
        c.hosts[0]
            .ns
            .ip(&["-6", "-o", "addr", "show", "dev", "e0"])
            .contains(&format!("inet6 {a}/64"))
    };
    c.wait_for("the IPv6 VIP up", SETTLE, |_| has(old6));
    // Past the acquire's announcements: whatever the client learns from
    // here on comes from the reload.
    std::thread::sleep(Duration::from_millis(500));
    let wrong = "02:00:00:00:00:99";
    for a in [old6, new6] {
        client.ip(&[
            "-6", "neigh", "replace", a, "lladdr", wrong, "dev", "e0", "nud", "stale",
        ]);
        assert_eq!(neigh_mac(&client, "e0", a).as_deref(), Some(wrong));
    }

    c.write_conf_with(0, &conf(&[new6]));
    c.signal(0, "HUP");
    c.wait_log(0, "VIFs redefined: e0:", SETTLE);
    c.wait_for("the added IPv6 address up", SETTLE, |_| {
        has(new6) && has(old6)
    });
    for a in [old6, new6] {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = neigh_mac(&client, "e0", a);
            if got.as_deref() == Some(mac.as_str()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{a}: the client still has {got:?}, not {mac}: no NA after the reload\n{}",
                c.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A client namespace on the cluster's bridge, with `addr` (CIDR) on
/// its `e0` if given (IPv6 link-local only otherwise).
fn client_on(c: &Cluster, tag: &str, addr: Option<&str>) -> common::netns::Netns {
    let client = common::netns::Netns::new(tag);
    common::netns::veth(&client, "e0", &c.sw, "pc");
    c.sw.ip(&["link", "set", "pc", "master", "br0"]);
    if let Some(a) = addr {
        client.ip(&["addr", "add", a, "dev", "e0"]);
    }
    client
}

/// Points `ns`'s neighbour entry for `ip` at `mac` (STALE: kept without
/// traffic, replaced by any announcement that reaches it).
fn plant_neigh(ns: &common::netns::Netns, ip: impl ToString, mac: &str) {
    let ip = ip.to_string();
    let family = if ip.contains(':') { "-6" } else { "-4" };
    ns.ip(&[
        family, "neigh", "replace", &ip, "lladdr", mac, "dev", "e0", "nud", "stale",
    ]);
    assert_eq!(neigh_mac(ns, "e0", &ip).as_deref(), Some(mac));
}

/// Waits until `ns`'s entry for `ip` is `mac`; panics saying `what`.
fn wait_neigh(c: &Cluster, ns: &common::netns::Netns, ip: impl ToString, mac: &str, what: &str) {
    let ip = ip.to_string();
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let got = neigh_mac(ns, "e0", &ip);
        if got.as_deref() == Some(mac) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {ip} is still {got:?}, not {mac}\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A VIP outside the network of every Notify entry (C sent no frame at
/// all for it, and neighbours kept the dead owner's MAC until their
/// entries expired): after the takeover, a neighbour that still points
/// at the old owner hears the new one.
#[test]
fn a_vip_outside_every_notify_network_is_heard_after_a_takeover() {
    if !can_run() {
        return;
    }
    // The VIPs are in 10.80.0.0/24; the entry is in another network.
    let mut c = Cluster::new("garp", 2, 1, "Notify { e0:10.99.0.1/32 }");
    let client = client_on(&c, "garpc", Some("10.80.0.200/24"));
    c.start_all();
    let vip = c.vips[0];
    c.wait_settled(&[vip], &[0, 1], SETTLE);
    let old = c.holders(&[vip])[0][0];
    let new = 1 - old;
    plant_neigh(&client, vip, &mac_string(c.hosts[old].ns.mac("e0")));
    c.crash_host(old);
    c.wait_settled_among(&[vip], &[new], SETTLE);
    let mac = mac_string(c.hosts[new].ns.mac("e0"));
    wait_neigh(&c, &client, vip, &mac, "no announcement after the takeover");
}

/// An IPv6 VIP's unsolicited NA is repeated two to three seconds after
/// the acquire, as the IPv4 announcement is: the client's entry is
/// pointed elsewhere again after the first NA corrected it, and only
/// the repeat can correct it once more.
#[test]
fn an_ipv6_vip_s_advertisement_is_repeated() {
    if !can_run() {
        return;
    }
    let v6 = "fd00:84::101";
    let mut c = Cluster::new("na6", 1, 1, "");
    let vip = c.vips[0];
    c.write_conf_with(
        0,
        &Conf {
            vifs: vec![format!("{{ e0:{vip}/32 e0:[{v6}]/64 }}")],
            ..Default::default()
        },
    );
    let client = client_on(&c, "na6c", None);
    let wrong = "02:00:00:00:00:99";
    plant_neigh(&client, v6, wrong);
    let mac = mac_string(c.hosts[0].ns.mac("e0"));
    c.start(0);
    c.wait_settled(&[vip], &[0], SETTLE);
    wait_neigh(&c, &client, v6, &mac, "the acquire's NA");
    plant_neigh(&client, v6, wrong);
    wait_neigh(&c, &client, v6, &mac, "no repeated NA");
}

/// Captures the ARP frames on `dev` in `ns` for `window`.
fn capture_arp(ns: &common::netns::Netns, dev: &'static str, window: Duration) -> Vec<Vec<u8>> {
    use wackamole::net::frame;
    use wackamole::sys::net::{self as sys, PacketSocket};
    ns.run(move || {
        let sock =
            PacketSocket::capture(sys::ifindex(dev).unwrap(), Duration::from_millis(100)).unwrap();
        let deadline = Instant::now() + window;
        let mut got = Vec::new();
        while Instant::now() < deadline {
            if let Some(f) = sock.recv().unwrap() {
                if frame::parse_arp(&f).is_some() {
                    got.push(f);
                }
            }
        }
        got
    })
}

/// The "done when": with `ArpRefresh = 2s`, a client on the
/// segment hears every VIP at least twice in 7 s, long after the
/// takeovers (whose own announcements are over), each from its holder.
#[test]
fn with_arp_refresh_2s_a_client_hears_every_vip_twice_in_7s() {
    if !can_run() {
        return;
    }
    use wackamole::net::frame;
    let mut c = Cluster::new("refr", 3, 6, "ArpRefresh = 2s");
    let client = client_on(&c, "refrc", Some("10.80.0.200/24"));
    c.start_all();
    let vips = c.vips.clone();
    // Steady for 4 s: past the acquisitions' repeats (2 to 3 s after).
    wait_steady(&c, &vips, &[0, 1, 2], Duration::from_secs(4));
    let holders = c.holders(&vips);
    let frames = capture_arp(&client, "e0", Duration::from_secs(7));
    assert_eq!(c.holders(&vips), holders, "a VIP moved meanwhile");
    let counts: Vec<usize> = vips
        .iter()
        .zip(&holders)
        .map(|(&vip, h)| {
            let mac = c.hosts[h[0]].ns.mac("e0");
            frames
                .iter()
                .filter(|f| f[..] == frame::gratuitous_arp_reply(mac, vip)[..])
                .count()
        })
        .collect();
    assert!(
        counts.iter().all(|&n| n >= 2),
        "gratuitous replies heard per VIP in 7 s: {counts:?}\n{}",
        c.logs()
    );
    for i in 0..3 {
        assert!(
            c.log(i)
                .contains("ArpRefresh: every held VIP is announced again every 2s"),
            "h{}: {}",
            i + 1,
            c.log(i)
        );
    }
}

/// A Spread client that joins the group and never says a word (an idle
/// `spuser`, a hung daemon) must not stop failover: the state exchange
/// closes `GatherTimeout` after it, without the silent member, and a
/// dead host's VIPs reach the live ones. (C waited for its STATE
/// forever.) The silent client reads what it is sent, so that nothing
/// but its silence matters.
#[test]
fn a_silent_member_does_not_stop_failover() {
    if !can_run() {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use wackamole::spread::addr::SpreadAddr;
    use wackamole::spread::client::Client;

    let mut c = Cluster::new("quiet", 3, 6, "");
    let addr = SpreadAddr::Unix {
        path: c.dir.join("d1.sock"),
    };
    let mut silent = Client::connect(&addr, "silent", true, Duration::from_secs(5))
        .expect("the silent client connects");
    silent.join("wack").expect("the silent client joins");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                while let Ok(Some(_)) = silent.receive() {}
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    assert!(
        c.log(0).contains("without #silent#"),
        "the close names the silent member\n{}",
        c.logs()
    );
    let lost: Vec<Ipv4Addr> = c.held(2);
    assert!(!lost.is_empty());
    c.crash_host(2);
    c.wait_settled_among(&vips, &[0, 1], SETTLE);
    let live: Vec<Ipv4Addr> = c.held(0).into_iter().chain(c.held(1)).collect();
    for v in &lost {
        assert!(live.contains(v), "{v} is not on a live host\n{}", c.logs());
    }
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
}

/// How a stranger sends its forged STATE.
#[derive(Clone, Copy, Debug)]
enum Forgery {
    /// AGREED to the group: what an honest node sends.
    Agreed,
    /// FIFO: other nodes could see it in another order.
    Fifo,
    /// To one node's private group alone.
    Unicast,
    /// Bytes that are no STATE, as STATE and BALANCE.
    Garbage,
}

/// A stranger joins the group, and at the view change sends a HELLO and a
/// well-formed STATE claiming every VIP at PREFER_CLAIMED for an address
/// no host has. Returns the hosts' holdings a moment after it.
fn forged_state_attack(c: &Cluster) -> Vec<Vec<usize>> {
    forge(c, Forgery::Agreed)
}

fn forge(c: &Cluster, how: Forgery) -> Vec<Vec<usize>> {
    use wackamole::cluster::msg::{self, MessType, Priority};
    use wackamole::spread::addr::SpreadAddr;
    use wackamole::spread::client::Client;
    use wackamole::spread::wire::message::Message;
    use wackamole::spread::wire::service;

    let addr = SpreadAddr::Unix {
        path: c.dir.join("d1.sock"),
    };
    let mut evil = Client::connect(&addr, "evil", true, Duration::from_secs(5)).unwrap();
    evil.join("wack").unwrap();
    let me = evil.private_group().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (group_id, index) = loop {
        assert!(Instant::now() < deadline, "no membership for the stranger");
        match evil.receive() {
            Ok(Some(Message::Membership(m))) if m.group == "wack" => {
                if let Some(i) = m.index_of(&me) {
                    break (m.group_id.0, i);
                }
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
    };
    let hello = msg::Hello {
        group_id,
        c_members: vec![],
        vifs: None,
    };
    let state = msg::State {
        group_id,
        real: "10.80.0.99".parse().unwrap(),
        index: index as i32,
        mature: true,
        held: c
            .vips
            .iter()
            .map(|v| (*v, Priority::PreferClaimed))
            .collect(),
        prefer: c.vips.clone(),
    };
    let h1 = format!("#wack{}#d1", c.hosts[0].daemon.as_ref().unwrap().id());
    let mut sends = vec![
        (MessType::Hello, hello.encode()),
        (MessType::State, state.encode()),
    ];
    let (service, to) = match how {
        Forgery::Agreed => (service::AGREED, "wack".to_string()),
        Forgery::Fifo => (service::FIFO, "wack".to_string()),
        Forgery::Unicast => (service::AGREED, h1),
        Forgery::Garbage => {
            sends = vec![
                (MessType::State, vec![0xff; 7]),
                (MessType::Balance, vec![0x7f; 64]),
                (MessType::Close, vec![1, 2, 3]),
            ];
            (service::AGREED, "wack".to_string())
        }
    };
    for (t, body) in sends {
        evil.multicast(service, &[to.as_str()], t as i16, &body)
            .unwrap();
    }
    // The round closes without anybody silent after GatherTimeout.
    std::thread::sleep(Duration::from_secs(4));
    let held = c.holders(&c.vips);
    drop(evil);
    held
}

/// With a shared secret, the forged STATE never reaches the engine: the
/// stranger is a silent member, and every VIP stays where it was.
/// Without one, the same STATE hands every VIP to nobody (what the key
/// is for).
#[test]
fn a_forging_member_without_the_key_changes_nothing() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("forge", 3, 6, "");
    let key = c.write_key("a shared secret of the cluster\n", 0o600);
    for i in 0..3 {
        c.write_conf(i, &c.vips, &format!("SharedSecretFile = {}", key.display()));
    }
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    let before = c.holders(&vips);
    let marks = log_marks(&c);
    let after = forged_state_attack(&c);
    assert_eq!(after, before, "the allocation changed\n{}", c.logs());
    for (i, &mark) in marks.iter().enumerate() {
        let log = log_since(&c, i, mark);
        assert!(!log.contains("released VIF"), "h{}: {log}", i + 1);
        assert!(
            log.contains("#evil#d1 sends unauthenticated messages"),
            "h{}: {log}",
            i + 1
        );
    }

    let mut open = Cluster::new("forgeopen", 3, 6, "");
    open.start_all();
    open.wait_settled(&vips, &[0, 1, 2], SETTLE);
    let after = forged_state_attack(&open);
    assert!(
        after.iter().all(|h| h.is_empty()),
        "without a key the forged STATE should win the table: {after:?}"
    );
}

/// Without a key, a stranger's STATE still changes nothing when it is
/// not sent AGREED to the group, or is no STATE at all: every node must
/// see the same inputs in the same order.
#[test]
fn a_stranger_s_fifo_unicast_or_garbage_state_changes_nothing() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("stray", 3, 6, "");
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    for how in [Forgery::Fifo, Forgery::Unicast, Forgery::Garbage] {
        let before = c.holders(&vips);
        let marks = log_marks(&c);
        let after = forge(&c, how);
        assert_eq!(
            after,
            before,
            "{how:?}: the allocation changed\n{}",
            c.logs()
        );
        for (i, &mark) in marks.iter().enumerate() {
            let log = log_since(&c, i, mark);
            assert!(!log.contains("released VIF"), "{how:?}: h{}: {log}", i + 1);
            // It did reach the node, and was refused as such.
            let refused = match how {
                Forgery::Fifo => Some("not sent AGREED"),
                Forgery::Unicast if i == 0 => Some("not sent to the group alone"),
                Forgery::Garbage => Some("malformed"),
                _ => None,
            };
            if let Some(r) = refused {
                assert!(
                    log.contains(r),
                    "{how:?}: h{} did not refuse it: {log}",
                    i + 1
                );
            }
        }
        // The stranger left: the next view settles as before.
        c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    }
}

/// `Quorum = 2` on three hosts: the Spread daemons split (h1 | h2 h3).
/// h1, alone, releases everything and holds nothing (without a quorum
/// it took every VIP, see `partition_and_heal_leave_no_vip_on_two_hosts`)
/// while h2 and h3 hold every VIP exactly once; `wackatrl` says h1 is
/// below quorum. Once the split heals the VIPs are balanced again.
#[test]
fn a_host_cut_off_alone_below_quorum_holds_nothing() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("quorum", 3, 6, "Quorum = 2");
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    c.wait_for("2/2/2 before the split", SETTLE, |c| {
        c.counts() == [2, 2, 2]
    });
    let marks = log_marks(&c);
    c.sim_ctl("partition d1 | d2 d3");
    wait_view(&c, 0, marks[0], 1);
    wait_view(&c, 1, marks[1], 2);
    wait_view(&c, 2, marks[2], 2);
    c.wait_for("h1 empty", SETTLE, |c| c.held(0).is_empty());
    // Every VIP once, on h2 or h3, and it stays so: h1 takes nothing.
    wait_steady(&c, &vips, &[1, 2], Duration::from_millis(1500));
    assert_eq!(c.counts(), [0, 3, 3], "{}", c.logs());
    let h1 = log_since(&c, 0, marks[0]);
    assert!(
        h1.contains("below quorum: 1 member in this view, Quorum = 2"),
        "{h1}"
    );
    assert!(!h1.contains("acquired VIF"), "{h1}");
    assert_eq!(h1.matches("released VIF").count(), 2, "{h1}");
    let out = c.wackatrl(0, &["-l"]);
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{listing}");
    assert!(
        listing.ends_with(
            "Below quorum: 1 of the 2 members Quorum needs are in the view; this node holds no VIP\n"
        ),
        "{listing}"
    );
    assert!(
        trl_json(&c, 0).contains("\"quorum\":{\"needed\":2,\"members\":1,\"below\":true}"),
        "{}",
        trl_json(&c, 0)
    );
    for i in [1, 2] {
        let out = c.wackatrl(i, &["-l"]);
        let listing = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!listing.contains("quorum"), "h{}: {listing}", i + 1);
        assert!(trl_json(&c, i).contains("\"below\":false"), "h{}", i + 1);
    }

    let marks = log_marks(&c);
    c.sim_ctl("heal");
    for (i, &m) in marks.iter().enumerate() {
        wait_view(&c, i, m, 3);
    }
    c.wait_for("2/2/2 after the heal", SETTLE, |c| c.counts() == [2, 2, 2]);
    wait_steady(&c, &vips, &[0, 1, 2], Duration::from_millis(1000));
    assert!(
        log_since(&c, 0, marks[0]).contains("quorum regained: 3 members in this view"),
        "{}",
        c.logs()
    );
}

/// A split (h1 | h2 h3) makes both sides take VIPs: h1 all six, h2 and
/// h3 the ones h1 had, each announced to the neighbour on the Notify
/// list. When the split heals, the merge's conflicts leave each VIP
/// with one side; the holder that kept one announces it again (it
/// acquired nothing, so only the re-announce after a network change
/// says so), and the neighbour hears it: ARP from the holder's MAC for
/// every VIP that stayed put, after the heal.
#[test]
fn after_a_partition_heals_the_winner_re_announces_what_it_kept() {
    if !can_run() {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use wackamole::net::frame;
    use wackamole::sys::net::{self as sys, PacketSocket};

    let client_ip = ip4(&format!("{}.200", common::cluster::SUBNET));
    let mut c = Cluster::new("heal", 3, 6, &format!("Notify {{ e0:{client_ip}/32 }}"));
    let client = common::netns::Netns::new("healc");
    common::netns::veth(&client, "e0", &c.sw, "pc");
    c.sw.ip(&["link", "set", "pc", "master", "br0"]);
    client.ip(&["addr", "add", &format!("{client_ip}/24"), "dev", "e0"]);
    let macs: Vec<[u8; 6]> = c.hosts.iter().map(|h| h.ns.mac("e0")).collect();
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);

    let marks = log_marks(&c);
    c.sim_ctl("partition d1 | d2 d3");
    wait_view(&c, 0, marks[0], 1);
    c.wait_for("h1 holds all six", SETTLE, |c| c.counts()[0] == 6);
    c.wait_settled_among(&vips, &[1, 2], SETTLE);
    // The split's announcements and their repeat (2 to 3 s after) are
    // over before the capture starts.
    std::thread::sleep(Duration::from_secs(5));

    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let capture = {
        let stop = stop.clone();
        client.spawn(move || {
            let idx = sys::ifindex("e0").unwrap();
            let sock = PacketSocket::capture(idx, Duration::from_millis(100)).unwrap();
            ready_tx.send(()).unwrap();
            let mut heard = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Some(f) = sock.recv().unwrap() {
                    if let Some(a) = frame::parse_arp(&f) {
                        if a.op == 2 {
                            heard.push((a.sender_mac, a.sender_ip));
                        }
                    }
                }
            }
            heard
        })
    };
    ready.recv().unwrap();
    let marks = log_marks(&c);
    c.sim_ctl("heal");
    for (i, &m) in marks.iter().enumerate() {
        wait_view(&c, i, m, 3);
    }
    wait_steady(&c, &vips, &[0, 1, 2], Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let heard = capture.join().unwrap();

    // Which VIPs stayed with a host that held them through the heal.
    let holders = c.holders(&vips);
    let mut kept = Vec::new();
    for (v, h) in vips.iter().zip(&holders) {
        let h = h[0];
        let acquired = log_since(&c, h, marks[h])
            .lines()
            .any(|l| l.contains("acquired VIF") && l.contains(&format!("(e0:{v}/32)")));
        if !acquired {
            kept.push((*v, h));
        }
    }
    assert!(
        !kept.is_empty(),
        "every VIP moved at the heal\n{}",
        c.logs()
    );
    for &(v, h) in &kept {
        assert!(
            heard.contains(&(macs[h], v)),
            "the neighbour heard nothing from h{} for {v}, which it kept through the heal; heard {heard:?}\n{}",
            h + 1,
            c.logs()
        );
        assert!(
            log_since(&c, h, marks[h]).contains("network change: re-announcing"),
            "h{}: {}",
            h + 1,
            c.logs()
        );
    }
    for (i, &m) in marks.iter().enumerate() {
        let n = log_since(&c, i, m)
            .matches("network change: re-announcing")
            .count();
        assert!(n <= 1, "h{} logged it {n} times\n{}", i + 1, c.logs());
    }
}

/// Waits until every VIP some host has in its config (`lists`) is up on
/// exactly one host that has it, and the others on none.
fn wait_held_by_one_that_has_it(c: &Cluster, all: &[Ipv4Addr], lists: &[Vec<Ipv4Addr>]) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let holders = c.holders(all);
        let ok = all.iter().zip(&holders).all(|(v, h)| {
            let has: Vec<usize> = (0..lists.len()).filter(|&i| lists[i].contains(v)).collect();
            if has.is_empty() {
                h.is_empty()
            } else {
                h.len() == 1 && has.contains(&h[0])
            }
        });
        if ok {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "not every VIP on one host that has it within {SETTLE:?}: holders {holders:?}, lists {lists:?}\n{}",
                c.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Operators change a cluster's VIPs one node at a time (rewrite its
/// config, SIGHUP it, then the next): three VIPs are added to each host
/// in turn, then removed in turn. Sampled every 10 ms, no VIP is ever on
/// two hosts; after each reload, each VIP some host has is up on exactly
/// one host that has it (issue 14, item 7: the VIPs only the reloaded
/// host had used to be given to the others, and stayed down).
#[test]
fn vips_added_and_removed_one_node_at_a_time_stay_on_a_node_that_has_them() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("vifs1", 3, 6, "");
    let all = c.vips.clone();
    let base = all[..3].to_vec();
    for i in 0..3 {
        c.write_conf(i, &base, "");
    }
    c.start_all();
    c.wait_settled(&base, &[0, 1, 2], SETTLE);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let names: Vec<String> = c.hosts.iter().map(|h| h.ns.name.clone()).collect();
        let all = all.clone();
        std::thread::spawn(move || {
            let mut bad = Vec::new();
            let mut samples = 0;
            // The hosts are read one after the other, so a move (the new
            // holder acquires as the old one releases, as in C) can look
            // like a double hold in one round; seen in two rounds in a
            // row, the VIP was really up on both at once.
            let mut twice_before: Vec<Ipv4Addr> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let on: Vec<Vec<Ipv4Addr>> = names.iter().map(|n| held_in(n, &all)).collect();
                let twice: Vec<Ipv4Addr> = (all.iter().copied())
                    .filter(|v| on.iter().filter(|h| h.contains(v)).count() > 1)
                    .collect();
                for v in &twice {
                    if twice_before.contains(v) {
                        bad.push((*v, on.clone()));
                    }
                }
                twice_before = twice;
                samples += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            (bad, samples)
        })
    };
    let mut lists = vec![base.clone(); 3];
    let steps: Vec<(usize, Vec<Ipv4Addr>)> = (0..3)
        .map(|i| (i, all.clone()))
        .chain((0..3).map(|i| (i, base.clone())))
        .collect();
    for (i, list) in steps {
        let before = c.log(i).matches("reloaded: ").count();
        c.write_conf(i, &list, "");
        c.signal(i, "HUP");
        c.wait_for(&format!("h{} reloaded", i + 1), SETTLE, |c| {
            c.log(i).matches("reloaded: ").count() > before
        });
        lists[i] = list;
        wait_held_by_one_that_has_it(&c, &all, &lists);
        // And it stays so a moment (no late move to a host without it).
        std::thread::sleep(Duration::from_millis(300));
        wait_held_by_one_that_has_it(&c, &all, &lists);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (bad, samples) = watcher.join().unwrap();
    assert!(samples > 10);
    assert!(
        bad.is_empty(),
        "a VIP was on two hosts at once: {:?}\n{}",
        &bad[..bad.len().min(5)],
        c.logs()
    );
}

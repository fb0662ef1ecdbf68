//! Announcing VIPs on the wire, inside network namespaces the tests
//! create: every byte of the ARP replies, ICMP echo and neighbour
//! advertisements a listener captures, and a client whose neighbour
//! entry points at the old owner reaching the new one at once.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::hex::mac_string;
use common::netns::{can_run, veth, Netns};
use wackamole::config::IfAddr;
use wackamole::net::announce::Announcer;
use wackamole::net::frame;
use wackamole::net::ifaddr::Interfaces;
use wackamole::sys::net::{self as sys, PacketSocket};

/// Captures frames on `dev` in `ns` until `want` match `keep` or 5 s pass.
fn capture(
    ns: &Netns,
    dev: &'static str,
    want: usize,
    keep: fn(&[u8]) -> bool,
) -> (mpsc::Receiver<()>, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let (ready_tx, ready) = mpsc::channel();
    let h = ns.spawn(move || {
        let idx = sys::ifindex(dev).unwrap();
        let sock = PacketSocket::capture(idx, Duration::from_millis(100)).unwrap();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < deadline {
            if let Some(f) = sock.recv().unwrap() {
                if keep(&f) {
                    got.push(f);
                }
            }
        }
        got
    });
    (ready, h)
}

fn is_arp_or_icmp(f: &[u8]) -> bool {
    frame::parse_arp(f).is_some() || frame::parse_icmp_echo(f).is_some()
}

#[test]
fn arp_replies_and_ping_byte_for_byte() {
    if !can_run() {
        return;
    }
    let a = Netns::new("ann");
    let l = Netns::new("lis");
    veth(&a, "a0", &l, "l0");
    a.ip(&["addr", "add", "10.78.0.1/24", "dev", "a0"]);
    l.ip(&["addr", "add", "10.78.0.2/24", "dev", "l0"]);
    let (a_mac, l_mac) = (a.mac("a0"), l.mac("l0"));
    let vip = Ipv4Addr::new(10, 78, 0, 100);
    let dest = Ipv4Addr::new(10, 78, 0, 2);
    let (ready, cap) = capture(&l, "l0", 5, is_arp_or_icmp);
    ready.recv().unwrap();
    a.run(move || {
        let mut ann = Announcer::new().unwrap();
        ann.announce("a0", vip, dest, Some(l_mac), true).unwrap();
    });
    let got = cap.join().unwrap();
    let bcast = frame::arp_reply(a_mac, vip, frame::ETH_BROADCAST, dest);
    let ucast = frame::arp_reply(a_mac, vip, l_mac, dest);
    let echo = frame::icmp_echo(a_mac, l_mac, vip, dest);
    let want: Vec<Vec<u8>> = vec![
        bcast.to_vec(),
        bcast.to_vec(),
        ucast.to_vec(),
        ucast.to_vec(),
        echo.to_vec(),
    ];
    assert_eq!(got, want, "frames on the wire");
    // And what they say, field by field.
    let f = frame::parse_arp(&got[0]).unwrap();
    assert_eq!(
        (f.op, f.sender_mac, f.sender_ip, f.target_ip),
        (2, a_mac, vip, dest)
    );
    assert_eq!(got[0].len(), 60);
}

#[test]
fn neighbor_advertisements_byte_for_byte() {
    if !can_run() {
        return;
    }
    let a = Netns::new("na");
    let l = Netns::new("nl");
    veth(&a, "a0", &l, "l0");
    let a_mac = a.mac("a0");
    let vip: Ipv6Addr = "2001:db8:78::100".parse().unwrap();
    let (ready, cap) = capture(&l, "l0", 2, |f| {
        frame::parse_neighbor_advert(f)
            .is_some_and(|n| n.target == "2001:db8:78::100".parse::<Ipv6Addr>().unwrap())
    });
    ready.recv().unwrap();
    a.run(move || Announcer::new().unwrap().announce6("a0", vip, 2).unwrap());
    let got = cap.join().unwrap();
    let na = frame::neighbor_advert(a_mac, vip);
    assert_eq!(got, vec![na.clone(), na]);
    let n = frame::parse_neighbor_advert(&got[0]).unwrap();
    assert!(n.override_flag && !n.solicited && n.checksum_ok);
    assert_eq!(n.target_mac, Some(a_mac));
}

/// h1 and h2 share a bridge with a client c. The VIP moves from h1 to
/// h2; the client's neighbour entry still points at h1, so without an
/// announcement its packets go nowhere; after h2's announcement the very
/// next connection reaches h2.
#[test]
fn a_client_with_a_stale_neighbour_entry_reaches_the_new_owner() {
    if !can_run() {
        return;
    }
    let sw = Netns::new("sw");
    sw.ip(&["link", "add", "br0", "type", "bridge"]);
    sw.ip(&["link", "set", "br0", "up"]);
    let hosts: Vec<(Netns, &str, &str)> = vec![
        (Netns::new("h1"), "10.79.0.1/24", "p1"),
        (Netns::new("h2"), "10.79.0.2/24", "p2"),
        (Netns::new("c"), "10.79.0.10/24", "pc"),
    ];
    for (ns, addr, port) in &hosts {
        veth(ns, "e0", &sw, port);
        sw.ip(&["link", "set", port, "master", "br0"]);
        ns.ip(&["addr", "add", addr, "dev", "e0"]);
    }
    let (h1, h2, c) = (&hosts[0].0, &hosts[1].0, &hosts[2].0);
    let vip = IfAddr {
        ifname: "e0".into(),
        addr: Ipv4Addr::new(10, 79, 0, 100),
        prefix: 32,
        net_prefix: 24,
    };
    let target = SocketAddr::from((vip.addr, 8080));
    let client = Ipv4Addr::new(10, 79, 0, 10);
    let c_mac = c.mac("e0");

    // The VIP on h1; the client talks to it, so its entry is h1's MAC.
    let v = vip.clone();
    h1.run(move || Interfaces::open().unwrap().acquire(&v).unwrap());
    let l1 = h1.spawn(move || {
        let l = TcpListener::bind(target).unwrap();
        l.accept().map(|_| ()).is_ok()
    });
    let connect = move |timeout: Duration| TcpStream::connect_timeout(&target, timeout).is_ok();
    let mut ok = false;
    for _ in 0..50 {
        // The listener may not be up yet.
        if c.run(move || connect(Duration::from_millis(200))) {
            ok = true;
            break;
        }
    }
    assert!(ok, "the client reaches the VIP on h1");
    assert!(l1.join().unwrap());
    let neigh = c.ip(&["neigh", "show", "10.79.0.100"]);
    assert!(neigh.contains(&mac_string(h1.mac("e0"))), "{neigh}");

    // The VIP moves to h2, unannounced: the client's packets go to h1.
    let v = vip.clone();
    h1.run(move || Interfaces::open().unwrap().release(v.addr).unwrap());
    let v = vip.clone();
    h2.run(move || Interfaces::open().unwrap().acquire(&v).unwrap());
    let l2 = h2.spawn(move || {
        let l = TcpListener::bind(target).unwrap();
        l.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if l.accept().is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    });
    assert!(
        !c.run(move || connect(Duration::from_millis(300))),
        "without an announcement the stale entry still points at h1"
    );

    // The failed attempt just changed the client's entry (REACHABLE to
    // DELAY), and Linux ignores ARP updates to an entry for `locktime`
    // (1 s) after it changed. A real failover announces long after the
    // entry last changed; wait that out, the entry still pointing at h1
    // (probing starts only after 5 s in DELAY).
    std::thread::sleep(Duration::from_millis(1100));
    let neigh = c.ip(&["neigh", "show", "10.79.0.100"]);
    assert!(
        neigh.contains(&mac_string(h1.mac("e0"))),
        "still stale: {neigh}"
    );

    // h2 announces; the next connection reaches it.
    let t0 = Instant::now();
    h2.run(move || {
        Announcer::new()
            .unwrap()
            .announce("e0", vip.addr, client, Some(c_mac), false)
            .unwrap()
    });
    assert!(
        c.run(move || connect(Duration::from_millis(1000))),
        "the client reaches h2 after the announcement"
    );
    let took = t0.elapsed();
    assert!(l2.join().unwrap(), "h2 accepted the connection");
    let neigh = c.ip(&["neigh", "show", "10.79.0.100"]);
    assert!(neigh.contains(&mac_string(h2.mac("e0"))), "{neigh}");
    eprintln!("announcement to connection on the new owner: {took:?}");
}

/// The frames a VIP that no Notify destination reaches is announced
/// with (and ArpRefresh sends): gratuitous ARP replies, byte for byte.
#[test]
fn gratuitous_replies_byte_for_byte() {
    if !can_run() {
        return;
    }
    let a = Netns::new("ga");
    let l = Netns::new("gl");
    veth(&a, "a0", &l, "l0");
    let a_mac = a.mac("a0");
    let vip = Ipv4Addr::new(10, 77, 0, 100);
    let (ready, cap) = capture(&l, "l0", 2, |f| {
        frame::parse_arp(f).is_some_and(|p| p.sender_ip == Ipv4Addr::new(10, 77, 0, 100))
    });
    ready.recv().unwrap();
    a.run(move || Announcer::new().unwrap().gratuitous("a0", vip, 2).unwrap());
    let got = cap.join().unwrap();
    let g = frame::gratuitous_arp_reply(a_mac, vip).to_vec();
    assert_eq!(got, vec![g.clone(), g]);
}

/// Why the gratuitous form: a neighbour whose entry for the VIP changed
/// less than `locktime` (1 s) ago ignores an ordinary ARP reply from the
/// new owner (the Notify form), but takes a gratuitous one at once.
#[test]
fn a_gratuitous_reply_corrects_a_neighbour_within_locktime() {
    if !can_run() {
        return;
    }
    let a = Netns::new("gk");
    let l = Netns::new("gn");
    veth(&a, "a0", &l, "l0");
    l.ip(&["addr", "add", "10.76.0.2/24", "dev", "l0"]);
    let a_mac = a.mac("a0");
    let vip = Ipv4Addr::new(10, 76, 0, 100);
    let wrong = "02:00:00:00:00:99";
    let plant = || {
        l.ip(&[
            "neigh",
            "replace",
            "10.76.0.100",
            "lladdr",
            wrong,
            "dev",
            "l0",
            "nud",
            "stale",
        ])
    };
    let entry = || {
        let out = l.ip(&["neigh", "show", "10.76.0.100", "dev", "l0"]);
        out.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let settle = || std::thread::sleep(Duration::from_millis(200));

    // The Notify form, right after the entry changed: ignored.
    plant();
    a.run(move || {
        Announcer::new()
            .unwrap()
            .announce("a0", vip, Ipv4Addr::new(10, 76, 0, 2), None, false)
            .unwrap()
    });
    settle();
    assert_eq!(entry(), wrong, "an ordinary reply inside locktime");

    // The gratuitous form, just as soon: taken.
    plant();
    a.run(move || Announcer::new().unwrap().gratuitous("a0", vip, 1).unwrap());
    settle();
    assert_eq!(entry(), mac_string(a_mac), "a gratuitous reply");
}

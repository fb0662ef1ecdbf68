//! Adding and removing VIPs with the real ioctls, inside network
//! namespaces the tests create (never on the host's interfaces).

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::netns::{can_run, Netns};
use wackamole::config::IfAddr;
use wackamole::net::ifaddr::{self, Acquired, IfError, Interfaces, Interfaces6, Released};

fn vip(ifname: &str, a: &str, prefix: u8) -> IfAddr {
    IfAddr {
        ifname: ifname.into(),
        addr: a.parse().unwrap(),
        prefix,
        net_prefix: 24,
    }
}

/// A namespace with an interface `d0` up (one end of a veth pair),
/// 10.77.0.1/24 on it.
fn host(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d0p"]);
    ns.ip(&["link", "set", "d0p", "up"]);
    ns.ip(&["link", "set", "d0", "up"]);
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "d0"]);
    ns
}

#[test]
fn acquire_and_release_on_alias_labels() {
    if !can_run() {
        return;
    }
    let ns = host("v4");
    let (first, again, second) = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        (
            i.acquire(&vip("d0", "10.77.0.100", 32)).unwrap(),
            i.acquire(&vip("d0", "10.77.0.100", 32)).unwrap(),
            i.acquire(&vip("d0", "192.0.2.7", 28)).unwrap(),
        )
    });
    assert_eq!(
        first,
        Acquired::Added {
            label: "d0:1".into()
        }
    );
    assert_eq!(
        again,
        Acquired::AlreadyUp {
            label: "d0:1".into()
        },
        "idempotent"
    );
    assert_eq!(
        second,
        Acquired::Added {
            label: "d0:2".into()
        }
    );
    let a = ns.addrs("d0");
    assert!(
        a.contains("inet 10.77.0.100/32") && a.contains("d0:1"),
        "{a}"
    );
    assert!(
        a.contains("inet 192.0.2.7/28 brd 192.0.2.15") && a.contains("d0:2"),
        "{a}"
    );

    let (gone, absent, reused) = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        (
            i.release("10.77.0.100".parse().unwrap()).unwrap(),
            i.release("10.77.0.100".parse().unwrap()).unwrap(),
            i.acquire(&vip("d0", "10.77.0.101", 32)).unwrap(),
        )
    });
    assert_eq!(
        gone,
        Released::Removed {
            label: "d0:1".into()
        }
    );
    assert_eq!(
        absent,
        Released::NotPresent,
        "releasing an absent VIP is no error"
    );
    assert_eq!(
        reused,
        Acquired::Added {
            label: "d0:1".into()
        },
        "the first free label"
    );
    let a = ns.addrs("d0");
    assert!(!a.contains("10.77.0.100/"), "{a}");
    assert!(
        a.contains("inet 10.77.0.1/24"),
        "the host's own address stays: {a}"
    );
    // The base interface is still up.
    assert!(ns.ip(&["link", "show", "d0"]).contains(",UP"));
}

#[test]
fn a_batch_keeps_its_list_up_to_date_and_the_next_one_lists_again() {
    if !can_run() {
        return;
    }
    let ns = host("batch");
    let labels = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        i.begin_batch();
        let mut got = Vec::new();
        for a in ["10.77.0.101", "10.77.0.102", "10.77.0.103"] {
            got.push(i.acquire(&vip("d0", a, 32)).unwrap());
        }
        got.push(i.acquire(&vip("d0", "10.77.0.102", 32)).unwrap());
        i.release("10.77.0.102".parse().unwrap()).unwrap();
        got.push(i.acquire(&vip("d0", "10.77.0.104", 32)).unwrap());
        i.end_batch();
        got
    });
    let added = |l: &str| Acquired::Added { label: l.into() };
    assert_eq!(
        labels,
        [
            added("d0:1"),
            added("d0:2"),
            added("d0:3"),
            Acquired::AlreadyUp {
                label: "d0:2".into()
            },
            added("d0:2"),
        ],
        "the lowest free label, with the batch's own changes"
    );
    // Changes by another program between batches are seen by the next.
    ns.ip(&[
        "addr",
        "add",
        "10.77.0.105/32",
        "dev",
        "d0",
        "label",
        "d0:4",
    ]);
    let next = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        i.begin_batch();
        let r = (
            i.acquire(&vip("d0", "10.77.0.105", 32)).unwrap(),
            i.acquire(&vip("d0", "10.77.0.106", 32)).unwrap(),
        );
        i.end_batch();
        r
    });
    assert_eq!(
        next,
        (
            Acquired::AlreadyUp {
                label: "d0:4".into()
            },
            added("d0:5")
        )
    );
}

#[test]
fn errors_name_the_interface() {
    if !can_run() {
        return;
    }
    let ns = host("err");
    ns.ip(&["link", "add", "d1", "type", "veth", "peer", "name", "d1p"]);
    let (missing, down, base) = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        (
            i.acquire(&vip("nosuch0", "10.77.0.100", 32)).unwrap_err(),
            i.acquire(&vip("d1", "10.77.1.100", 32)).unwrap_err(),
            i.release("10.77.0.1".parse().unwrap()).unwrap(),
        )
    });
    assert!(
        matches!(missing, IfError::NoSuchInterface { .. }),
        "{missing}"
    );
    assert_eq!(down.to_string(), "interface 'd1' is down");
    // The host's own address on the base interface is never touched.
    assert_eq!(
        base,
        Released::OnBaseInterface {
            ifname: "d0".into()
        }
    );
    assert!(ns.addrs("d0").contains("inet 10.77.0.1/24"));
}

#[test]
fn secondaries_survive_the_primary_with_promote_secondaries() {
    if !can_run() {
        return;
    }
    let ns = host("promote");
    // A VIP in the primary's subnet is a secondary address.
    let changed = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        i.acquire(&vip("d0", "10.77.0.100", 24)).unwrap();
        ifaddr::promote_secondaries("d0").unwrap()
    });
    assert!(changed, "it was off in a new namespace");
    assert_eq!(
        ns.exec(&["cat", "/proc/sys/net/ipv4/conf/d0/promote_secondaries"])
            .stdout,
        b"1\n"
    );
    ns.ip(&["addr", "del", "10.77.0.1/24", "dev", "d0"]);
    assert!(
        ns.addrs("d0").contains("inet 10.77.0.100/24"),
        "{}",
        ns.addrs("d0")
    );

    // Without it the kernel drops the secondaries; ensure() puts them back.
    let ns = host("repair");
    ns.exec(&[
        "sh",
        "-c",
        "echo 0 > /proc/sys/net/ipv4/conf/d0/promote_secondaries",
    ]);
    let v = vip("d0", "10.77.0.100", 24);
    let v2 = v.clone();
    ns.run(move || Interfaces::open().unwrap().acquire(&v2).unwrap());
    ns.ip(&["addr", "del", "10.77.0.1/24", "dev", "d0"]);
    assert!(
        !ns.addrs("d0").contains("10.77.0.100"),
        "the kernel took the secondary away"
    );
    let fixed = ns.run(move || {
        let mut i = Interfaces::open().unwrap();
        i.ensure(&[&v])
            .into_iter()
            .map(|(a, r)| (a, r.map_err(|e| e.to_string())))
            .collect::<Vec<_>>()
    });
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0].0, Ipv4Addr::new(10, 77, 0, 100));
    assert!(fixed[0].1.is_ok(), "{:?}", fixed[0].1);
    assert!(ns.addrs("d0").contains("inet 10.77.0.100/24"));
}

#[test]
fn stale_vips_of_a_crashed_run_are_removed() {
    if !can_run() {
        return;
    }
    let ns = host("stale");
    ns.ip(&["addr", "add", "10.77.0.50/32", "dev", "d0", "label", "d0:5"]);
    let removed = ns.run(|| {
        let mut i = Interfaces::open().unwrap();
        let configured = [
            vip("d0", "10.77.0.50", 32),
            vip("d0", "10.77.0.51", 32),
            vip("d0", "10.77.0.1", 24),
        ];
        let refs: Vec<&IfAddr> = configured.iter().collect();
        i.remove_stale(&refs)
            .into_iter()
            .map(|(a, r)| (a, r.unwrap()))
            .collect::<Vec<_>>()
    });
    assert_eq!(
        removed,
        [
            (
                Ipv4Addr::new(10, 77, 0, 50),
                Released::Removed {
                    label: "d0:5".into()
                }
            ),
            (
                Ipv4Addr::new(10, 77, 0, 1),
                Released::OnBaseInterface {
                    ifname: "d0".into()
                }
            ),
        ]
    );
    let a = ns.addrs("d0");
    assert!(!a.contains("10.77.0.50"), "{a}");
    assert!(a.contains("10.77.0.1/24"), "{a}");
}

#[test]
fn ipv6_vips_are_usable_at_once() {
    if !can_run() {
        return;
    }
    let ns = host("v6");
    // An address added the ordinary way goes through DAD: the contrast.
    ns.ip(&["-6", "addr", "add", "2001:db8::99/64", "dev", "d0"]);
    let a: Ipv6Addr = "2001:db8::10".parse().unwrap();
    ns.run(move || {
        let mut i = Interfaces6::open().unwrap();
        i.acquire("d0", a, 64).unwrap();
        // Already there: held, no error (EEXIST).
        i.acquire("d0", a, 64).unwrap();
    });
    let shown = ns.ip(&["-6", "-o", "addr", "show", "dev", "d0"]);
    let line = shown
        .lines()
        .find(|l| l.contains("inet6 2001:db8::10/64"))
        .unwrap_or_else(|| panic!("not added: {shown}"));
    assert!(!line.contains("tentative"), "added without DAD: {line}");
    if !shown
        .lines()
        .any(|l| l.contains("2001:db8::99/64") && l.contains("tentative"))
    {
        eprintln!("note: DAD seems off in this kernel, so the contrast shows nothing: {shown}");
    }
    let errors = ns.run(move || {
        let mut i = Interfaces6::open().unwrap();
        i.release("d0", a, 64).unwrap();
        // Absent: nothing to do.
        i.release("d0", a, 64).unwrap();
        (
            i.acquire("nosuch0", a, 64).unwrap_err(),
            i.release("nosuch0", a, 64).unwrap_err(),
        )
    });
    assert!(
        matches!(errors.0, IfError::NoSuchInterface { .. }),
        "{}",
        errors.0
    );
    assert!(
        matches!(errors.1, IfError::NoSuchInterface { .. }),
        "{}",
        errors.1
    );
    let shown = ns.ip(&["-6", "-o", "addr", "show", "dev", "d0"]);
    assert!(!shown.contains("2001:db8::10/"), "{shown}");
    assert!(shown.contains("2001:db8::99/64"), "others stay: {shown}");
}

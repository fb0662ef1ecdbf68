//! The rules of [`resolve`], every one and every error, on made-up
//! inputs; and [`identify`] on this machine, whatever it has.

use super::*;

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn resolved(name: &str, addrs: &[&str]) -> HostLookup {
    HostLookup::Resolved {
        name: name.into(),
        addresses: addrs.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn iface(name: &str, up: bool, addrs: &[&str]) -> LocalInterface {
    LocalInterface {
        name: name.into(),
        up,
        loopback: name == "lo",
        addresses: addrs.iter().map(|s| a(s)).collect(),
    }
}

/// A Debian host: lo, then eth0 with a real address.
fn debian_ifs() -> InterfaceList {
    Ok(vec![
        iface("lo", true, &["127.0.0.1"]),
        iface("eth0", true, &["192.0.2.7", "192.0.2.100"]),
    ])
}

/// Debian's default: the host name maps to 127.0.1.1.
fn debian() -> HostLookup {
    resolved("tb1", &["127.0.1.1"])
}

#[test]
fn the_flag_wins_over_everything() {
    let got = resolve(
        Some(a("192.0.2.1")),
        Some(a("192.0.2.2")),
        &resolved("tb1", &["192.0.2.3"]),
        &debian_ifs(),
    );
    assert_eq!(got, Ok((a("192.0.2.1"), Source::Flag)));
    assert_eq!(Source::Flag.to_string(), "from -a");
}

#[test]
fn the_directive_wins_over_the_host_name() {
    let got = resolve(
        None,
        Some(a("192.0.2.2")),
        &resolved("tb1", &["192.0.2.3"]),
        &debian_ifs(),
    );
    assert_eq!(got, Ok((a("192.0.2.2"), Source::Directive)));
    assert_eq!(Source::Directive.to_string(), "from NodeAddress");
    // Even when nothing else would give an address.
    let got = resolve(
        None,
        Some(a("192.0.2.2")),
        &HostLookup::NoName { reason: "x".into() },
        &Err(InterfacesError(nix::errno::Errno::EACCES)),
    );
    assert_eq!(got, Ok((a("192.0.2.2"), Source::Directive)));
}

#[test]
fn the_host_name_gives_its_first_ipv4_address_as_in_c() {
    let got = resolve(
        None,
        None,
        &resolved("tb1", &["2001:db8::1", "192.0.2.3", "192.0.2.4"]),
        &debian_ifs(),
    )
    .unwrap();
    assert_eq!(got.0, a("192.0.2.3"));
    assert_eq!(got.1.to_string(), "host name tb1 resolves to it");
}

#[test]
fn loopback_addresses_of_the_host_name_are_skipped() {
    let got = resolve(
        None,
        None,
        &resolved("tb1", &["127.0.1.1", "192.0.2.4"]),
        &debian_ifs(),
    );
    assert_eq!(
        got,
        Ok((a("192.0.2.4"), Source::HostName { name: "tb1".into() }))
    );
}

#[test]
fn a_loopback_host_name_falls_back_to_the_first_up_interface() {
    let (addr, source) = resolve(None, None, &debian(), &debian_ifs()).unwrap();
    assert_eq!(addr, a("192.0.2.7"));
    assert_eq!(
        source,
        Source::Interface {
            ifname: "eth0".into(),
            host: HostFinding::Unusable {
                name: "tb1".into(),
                addr: a("127.0.1.1"),
                why: Unusable::Loopback,
            },
        }
    );
    assert_eq!(
        source.to_string(),
        "first address of eth0; the host name tb1 resolves to loopback 127.0.1.1"
    );
}

#[test]
fn the_fallback_skips_down_loopback_and_unusable() {
    let ifs = Ok(vec![
        iface("eth9", false, &["198.51.100.1"]),
        // A loopback interface with a service address (LVS-DR): skipped.
        iface("lo", true, &["127.0.0.1", "203.0.113.80"]),
        iface("tun0", true, &[]),
        iface("eth1", true, &["0.0.0.0", "224.0.0.5", "198.51.100.9"]),
        iface("eth2", true, &["198.51.100.10"]),
    ]);
    let (addr, source) = resolve(None, None, &debian(), &ifs).unwrap();
    assert_eq!(addr, a("198.51.100.9"));
    assert!(matches!(source, Source::Interface { ref ifname, .. } if ifname == "eth1"));
}

#[test]
fn every_reason_the_host_name_gives_nothing_falls_back() {
    for (host, said) in [
        (
            HostLookup::NoName {
                reason: "EPERM: Operation not permitted".into(),
            },
            "the host name cannot be read (EPERM: Operation not permitted)",
        ),
        (
            HostLookup::Unresolved {
                name: "tb1".into(),
                reason: "failed to lookup address information: Name or service not known".into(),
            },
            "the host name tb1 does not resolve (failed to lookup address information: Name or service not known)",
        ),
        (
            resolved("tb1", &["2001:db8::1"]),
            "the host name tb1 has no IPv4 address",
        ),
        (resolved("tb1", &[]), "the host name tb1 has no IPv4 address"),
        (
            resolved("tb1", &["224.0.0.1"]),
            "the host name tb1 resolves to multicast 224.0.0.1",
        ),
        (
            resolved("tb1", &["0.0.0.0", "127.0.0.1"]),
            "the host name tb1 resolves to unspecified 0.0.0.0",
        ),
        (
            resolved("tb1", &["255.255.255.255"]),
            "the host name tb1 resolves to broadcast 255.255.255.255",
        ),
    ] {
        let (addr, source) = resolve(None, None, &host, &debian_ifs()).unwrap();
        assert_eq!(addr, a("192.0.2.7"));
        assert_eq!(
            source.to_string(),
            format!("first address of eth0; {said}")
        );
    }
}

#[test]
fn no_usable_interface_is_an_error_that_says_how_to_set_it() {
    let ifs = Ok(vec![
        iface("lo", true, &["127.0.0.1"]),
        iface("eth0", false, &["192.0.2.7"]),
    ]);
    let e = resolve(None, None, &debian(), &ifs).unwrap_err();
    assert_eq!(
        e,
        IdentityError::NoAddress {
            host: HostFinding::Unusable {
                name: "tb1".into(),
                addr: a("127.0.1.1"),
                why: Unusable::Loopback
            }
        }
    );
    assert_eq!(
        e.to_string(),
        "cannot determine this node's address: the host name tb1 resolves to loopback 127.0.1.1, and no interface that is up has a non-loopback IPv4 address; set it with 'NodeAddress = a.b.c.d' in the configuration or with -a ADDRESS"
    );
    assert!(matches!(
        resolve(None, None, &debian(), &Ok(Vec::new())),
        Err(IdentityError::NoAddress { .. })
    ));
}

#[test]
fn unreadable_interfaces_are_an_error_only_when_needed() {
    let unreadable: InterfaceList = Err(InterfacesError(nix::errno::Errno::EACCES));
    let e = resolve(None, None, &debian(), &unreadable).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot determine this node's address: the host name tb1 resolves to loopback 127.0.1.1, and the network interfaces cannot be listed (EACCES: Permission denied); set it with 'NodeAddress = a.b.c.d' in the configuration or with -a ADDRESS"
    );
    // The host name suffices: the interfaces are not needed.
    assert_eq!(
        resolve(None, None, &resolved("tb1", &["192.0.2.3"]), &unreadable)
            .unwrap()
            .0,
        a("192.0.2.3")
    );
}

#[test]
fn explicit_addresses_parse_strictly() {
    assert_eq!(parse_node_address("192.0.2.1"), Ok(a("192.0.2.1")));
    // Leading zeros are decimal, as in the rest of wackamole.conf.
    assert_eq!(parse_node_address("010.0.2.001"), Ok(a("10.0.2.1")));
    for bad in [
        "",
        "x",
        "192.0.2",
        "192.0.2.1.5",
        "1..2.3",
        "1.2.3.4 ",
        "0x1.2.3.4",
        "1.2.3.1000",
        "+1.2.3.4",
        "tb1",
    ] {
        assert_eq!(
            parse_node_address(bad),
            Err(AddressError::NotAnAddress),
            "{bad:?}"
        );
    }
    assert_eq!(
        parse_node_address("192.0.2.256"),
        Err(AddressError::OctetOutOfRange(256))
    );
    assert_eq!(
        parse_node_address("eth0:192.0.2.300/32"),
        Err(AddressError::OctetOutOfRange(300))
    );
    for decorated in ["192.0.2.1/32", "eth0:192.0.2.1", "eth0:192.0.2.1/24n16"] {
        assert_eq!(
            parse_node_address(decorated),
            Err(AddressError::Decorated {
                bare: a("192.0.2.1")
            }),
            "{decorated}"
        );
    }
    for (s, why) in [
        ("127.0.0.1", Unusable::Loopback),
        ("127.0.1.1", Unusable::Loopback),
        ("0.0.0.0", Unusable::Unspecified),
        ("224.0.0.1", Unusable::Multicast),
        ("239.255.255.250", Unusable::Multicast),
        ("255.255.255.255", Unusable::Broadcast),
    ] {
        assert_eq!(
            parse_node_address(s),
            Err(AddressError::Unusable { addr: a(s), why }),
            "{s}"
        );
    }
}

#[test]
fn address_errors_read_well() {
    let msg = |s: &str| parse_node_address(s).unwrap_err().to_string();
    assert_eq!(
        msg("tb1"),
        "expected a dotted IPv4 address such as 192.0.2.1"
    );
    assert_eq!(msg("1.2.3.256"), "octet 256 is out of range 0-255");
    assert_eq!(
        msg("eth0:192.0.2.1/32"),
        "a node address is a bare IPv4 address, without interface name or /PREFIX: write 192.0.2.1"
    );
    assert_eq!(
        msg("127.0.1.1"),
        "a loopback address (127.0.0.0/8) is the same on every host and cannot identify a node"
    );
    assert_eq!(
        msg("0.0.0.0"),
        "the unspecified address 0.0.0.0 cannot identify a node"
    );
    assert_eq!(
        msg("224.0.0.1"),
        "a multicast address (224.0.0.0/4) cannot identify a node"
    );
    assert_eq!(
        msg("255.255.255.255"),
        "the broadcast address 255.255.255.255 cannot identify a node"
    );
}

/// This machine: some usable address, or a clean error; never loopback.
#[test]
fn identify_on_this_machine() {
    match identify(None, None, &[]) {
        Ok((addr, source)) => {
            assert_eq!(Unusable::of(addr), None, "{addr} ({source})");
            assert!(!matches!(source, Source::Flag | Source::Directive));
        }
        Err(e) => assert!(e.to_string().contains("NodeAddress = a.b.c.d"), "{e}"),
    }
    // The interface list reads (a build without it would be useless).
    let ifs = list_interfaces().expect("getifaddrs");
    assert!(ifs.iter().all(|i| !i.name.is_empty()));
    // With an explicit address nothing is looked up.
    assert_eq!(
        identify(Some(a("192.0.2.9")), None, &[]),
        Ok((a("192.0.2.9"), Source::Flag))
    );
}

#[test]
fn a_vip_is_never_the_identity() {
    // eth0 carries a VIP first, then the host's own address.
    let ifs = Ok(vec![LocalInterface {
        name: "eth0".into(),
        up: true,
        loopback: false,
        addresses: vec![a("192.0.2.100"), a("192.0.2.3")],
    }]);
    let ifs = without_vips(ifs, &[a("192.0.2.100")]);
    let (addr, _) = resolve(None, None, &debian(), &ifs).unwrap();
    assert_eq!(addr, a("192.0.2.3"));
    assert!(without_vips(Err(InterfacesError(nix::errno::Errno::EACCES)), &[]).is_err());
}

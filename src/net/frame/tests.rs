use super::*;

const MY_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const PEER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn vip6() -> Ipv6Addr {
    "2001:db8::10".parse().unwrap()
}

#[test]
fn checksum_matches_rfc_1071_example() {
    // RFC 1071 §3: the ones' complement sum of these bytes is 0xddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(internet_checksum(&data), !0xddf2);
    assert_eq!(internet_checksum(&data), 0x220d);
}

#[test]
fn checksum_matches_a_known_ipv4_header() {
    // The usual worked example (e.g. Wikipedia's "IPv4 header checksum"):
    // 192.168.0.1 -> 192.168.0.199, UDP, total length 0x73, DF.
    let mut hdr = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(internet_checksum(&hdr), 0xb861);
    hdr[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
    assert_eq!(internet_checksum(&hdr), 0);
}

#[test]
fn checksum_pads_an_odd_byte_and_survives_long_input() {
    assert_eq!(internet_checksum(&[0xab]), !0xab00);
    assert_eq!(internet_checksum(&[]), 0xffff);
    // 100,000 bytes of 0xff: the sum never overflows its accumulator.
    assert_eq!(internet_checksum(&vec![0xff; 100_000]), 0);
}

#[test]
fn arp_reply_broadcast_bytes() {
    #[rustfmt::skip]
    let expected: [u8; 60] = [
        // Ethernet: broadcast, from my MAC, ARP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        0x08, 0x06,
        // htype 1, ptype 0x0800, hlen 6, plen 4, op 2 (reply)
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        // sender: my MAC, the VIP 192.0.2.10
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x0a,
        // target: ff:ff:ff:ff:ff:ff, 192.0.2.1
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x01,
        // padding to 60
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(arp_reply(MY_MAC, VIP, ETH_BROADCAST, PEER), expected);
}

#[test]
fn gratuitous_arp_reply_bytes() {
    #[rustfmt::skip]
    let expected: [u8; 60] = [
        // Ethernet: broadcast, from my MAC, ARP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        0x08, 0x06,
        // htype 1, ptype 0x0800, hlen 6, plen 4, op 2 (reply)
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        // sender: my MAC, the VIP 192.0.2.10
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x0a,
        // target: the same pair (what makes Linux call it gratuitous)
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x0a,
        // padding to 60
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let f = gratuitous_arp_reply(MY_MAC, VIP);
    assert_eq!(f, expected);
    let p = parse_arp(&f).unwrap();
    assert_eq!(
        (p.sender_mac, p.sender_ip),
        (p.target_mac, p.target_ip),
        "target = sender"
    );
}

#[test]
fn arp_reply_unicast_puts_the_mac_in_both_places() {
    let f = arp_reply(MY_MAC, VIP, PEER_MAC, PEER);
    assert_eq!(&f[0..6], &PEER_MAC);
    assert_eq!(&f[32..38], &PEER_MAC);
    assert_eq!(&f[6..12], &MY_MAC);
    assert_eq!(&f[22..28], &MY_MAC);
}

#[test]
fn arp_round_trip() {
    let f = arp_reply(MY_MAC, VIP, PEER_MAC, PEER);
    let p = parse_arp(&f).unwrap();
    assert_eq!(
        p,
        ArpFrame {
            eth_dst: PEER_MAC,
            eth_src: MY_MAC,
            op: ARP_REPLY,
            sender_mac: MY_MAC,
            sender_ip: VIP,
            target_mac: PEER_MAC,
            target_ip: PEER,
        }
    );
    assert_eq!(p.emit(), f);
    // Without the padding (as some captures show it) it still parses.
    assert_eq!(parse_arp(&f[..42]), Some(p));
    assert_eq!(parse_arp(&f[..41]), None);
}

#[test]
fn arp_parser_rejects_other_frames() {
    let f = arp_reply(MY_MAC, VIP, ETH_BROADCAST, PEER);
    for (at, v) in [(13, 0x00), (15, 6), (17, 0xdd), (18, 8), (19, 16)] {
        let mut g = f;
        g[at] = v;
        assert_eq!(parse_arp(&g), None, "byte {at} = {v:#x}");
    }
    let mut req = f;
    req[21] = 1;
    assert_eq!(parse_arp(&req).unwrap().op, ARP_REQUEST);
}

#[test]
fn icmp_echo_bytes() {
    #[rustfmt::skip]
    let expected: [u8; 42] = [
        // Ethernet: to the peer, from me, IPv4
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        0x08, 0x00,
        // IPv4: v4 IHL 5, TOS 0, length 28, id 0xfefe, no flags,
        // TTL 64, ICMP, checksum 0xf7d6 (summed by hand:
        // 4500+001c+fefe+4001+c000+020a+c000+0201 = 0x30826 -> 0x0829),
        // 192.0.2.10 -> 192.0.2.1
        0x45, 0x00, 0x00, 0x1c, 0xfe, 0xfe, 0x00, 0x00,
        0x40, 0x01, 0xf7, 0xd6,
        0xc0, 0x00, 0x02, 0x0a, 0xc0, 0x00, 0x02, 0x01,
        // ICMP echo request, checksum 0xfa01 (0800+fefe+fefe = 0x205fc
        // -> 0x05fe), id 0xfefe, seq 0xfefe
        0x08, 0x00, 0xfa, 0x01, 0xfe, 0xfe, 0xfe, 0xfe,
    ];
    assert_eq!(icmp_echo(MY_MAC, PEER_MAC, VIP, PEER), expected);
}

#[test]
fn icmp_echo_round_trip() {
    let f = icmp_echo(MY_MAC, PEER_MAC, VIP, PEER);
    let p = parse_icmp_echo(&f).unwrap();
    assert_eq!(
        p,
        IcmpEcho {
            eth_dst: PEER_MAC,
            eth_src: MY_MAC,
            src: VIP,
            dst: PEER,
            ttl: 64,
            ip_id: ECHO_MARK,
            ident: ECHO_MARK,
            seq: ECHO_MARK,
            payload_len: 0,
            ip_checksum_ok: true,
            icmp_checksum_ok: true,
        }
    );
    let mut bad = f;
    bad[40] ^= 1;
    let q = parse_icmp_echo(&bad).unwrap();
    assert!(q.ip_checksum_ok && !q.icmp_checksum_ok);
    bad[22] ^= 1;
    assert!(!parse_icmp_echo(&bad).unwrap().ip_checksum_ok);
}

#[test]
fn icmp_echo_checksums_hold_for_many_addresses() {
    for i in 0..=255u8 {
        let f = icmp_echo(
            MY_MAC,
            [i; 6],
            Ipv4Addr::new(10, i, 255, i),
            Ipv4Addr::new(i, 0, 1, 255),
        );
        assert_eq!(internet_checksum(&f[14..34]), 0);
        assert_eq!(internet_checksum(&f[34..42]), 0);
    }
}

#[test]
fn neighbor_advert_bytes() {
    #[rustfmt::skip]
    let expected: [u8; 86] = [
        // Ethernet: all-nodes 33:33:00:00:00:01, from me, IPv6
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01,
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        0x86, 0xdd,
        // IPv6: version 6, payload 32, next header 58, hop limit 255
        0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
        // source 2001:db8::10
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10,
        // destination ff02::1
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x01,
        // ICMPv6 136, code 0, checksum 0x7451 (by hand: pseudo-header
        // 2dc9+ff03+0020+003a, body 8800+2000+2dc9+0201+5254+0012+3456,
        // total 0x28bac -> 0x8bae), flags O only
        0x88, 0x00, 0x74, 0x51, 0x20, 0x00, 0x00, 0x00,
        // target 2001:db8::10
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x10,
        // option 2 (target link-layer address), length 1, my MAC
        0x02, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    ];
    assert_eq!(neighbor_advert(MY_MAC, vip6()), expected);
}

#[test]
fn neighbor_advert_round_trip() {
    let f = neighbor_advert(MY_MAC, vip6());
    let p = parse_neighbor_advert(&f).unwrap();
    assert_eq!(
        p,
        NeighborAdvert {
            eth_dst: ETH_ALL_NODES,
            eth_src: MY_MAC,
            src: vip6(),
            dst: IPV6_ALL_NODES,
            hop_limit: 255,
            router: false,
            solicited: false,
            override_flag: true,
            target: vip6(),
            target_mac: Some(MY_MAC),
            checksum_ok: true,
        }
    );
    let mut bad = f.clone();
    bad[85] ^= 0x80;
    let q = parse_neighbor_advert(&bad).unwrap();
    assert!(!q.checksum_ok);
    assert_eq!(q.target_mac.unwrap()[5], 0xd6);
}

#[test]
fn neighbor_advert_checksum_is_sound_for_other_addresses() {
    for s in ["fe80::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "::1"] {
        let f = neighbor_advert([0xff; 6], s.parse().unwrap());
        assert!(parse_neighbor_advert(&f).unwrap().checksum_ok, "{s}");
    }
}

#[test]
fn neighbor_advert_parser_rejects_bad_options_and_lengths() {
    let f = neighbor_advert(MY_MAC, vip6());
    let mut zero_opt = f.clone();
    zero_opt[79] = 0; // option length 0
    assert_eq!(parse_neighbor_advert(&zero_opt), None);
    let mut long_opt = f.clone();
    long_opt[79] = 2; // claims 16 bytes, 8 remain
    assert_eq!(parse_neighbor_advert(&long_opt), None);
    let mut long_payload = f.clone();
    long_payload[19] = 0x21;
    assert_eq!(parse_neighbor_advert(&long_payload), None);
    let mut solicitation = f.clone();
    solicitation[54] = 135;
    assert_eq!(parse_neighbor_advert(&solicitation), None);
    // An NA without options parses, with no MAC.
    let mut bare = f[..78].to_vec();
    bare[19] = 24;
    let p = parse_neighbor_advert(&bare).unwrap();
    assert_eq!(p.target_mac, None);
    assert!(!p.checksum_ok);
}

/// A small deterministic generator, so the fuzz below needs no crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn parsers_never_panic() {
    let seeds = [
        arp_reply(MY_MAC, VIP, ETH_BROADCAST, PEER).to_vec(),
        icmp_echo(MY_MAC, PEER_MAC, VIP, PEER).to_vec(),
        neighbor_advert(MY_MAC, vip6()),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for len in 0..100 {
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = (parse_arp(&junk), parse_icmp_echo(&junk));
        let _ = parse_neighbor_advert(&junk);
    }
    for _ in 0..20_000 {
        let mut f = seeds[(rng.next() % 3) as usize].clone();
        for _ in 0..=rng.next() % 4 {
            let at = (rng.next() as usize) % f.len();
            f[at] = rng.next() as u8;
        }
        let cut = (rng.next() as usize) % (f.len() + 1);
        for b in [&f[..], &f[..cut]] {
            let _ = parse_arp(b);
            let _ = parse_icmp_echo(b);
            let _ = parse_neighbor_advert(b);
        }
    }
}

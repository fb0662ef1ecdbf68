//! The frames that announce a VIP, built and parsed byte for byte: the
//! ARP reply and the ICMP echo request of C wackamole (spec §9.3), the
//! gratuitous ARP reply to the whole segment (not in C), and the
//! unsolicited IPv6 Neighbor Advertisement of the IPv6 VIP path.
//!
//! Owns: the layout of those three frames, from the Ethernet header on,
//! and the Internet checksum. Pure: no sockets, no clock; the senders
//! put these bytes on the wire unchanged.
//!
//! Each frame has an owned form ([`ArpFrame`], [`IcmpEcho`],
//! [`NeighborAdvert`]) with a parser that never panics, whatever the
//! input, so that tests and the capture checks of the integration tests
//! can read back what was sent.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The Ethernet broadcast address.
pub const ETH_BROADCAST: [u8; 6] = [0xff; 6];
/// The Ethernet address of the IPv6 all-nodes group ff02::1.
pub const ETH_ALL_NODES: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
/// The IPv6 all-nodes group, where unsolicited advertisements go.
pub const IPV6_ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// ARP operation codes.
pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

/// An ARP frame as C sends it: zero padded to Ethernet's minimum.
pub const ARP_FRAME_LEN: usize = 60;
/// Ethernet (14) + IPv4 (20) + ICMP echo without payload (8).
pub const ICMP_ECHO_FRAME_LEN: usize = 42;
/// Ethernet (14) + IPv6 (40) + NA (24) + target link-layer option (8).
pub const NA_FRAME_LEN: usize = 86;

/// The IP identification, ICMP identifier and sequence C puts in its
/// echo request.
pub const ECHO_MARK: u16 = 0xfefe;

const ETH_HDR: usize = 14;
/// The ARP body for Ethernet/IPv4: 8 fixed bytes and two (MAC, IP) pairs.
const ARP_BODY: usize = 28;
const IPV4_HDR: usize = 20;
const IPV6_HDR: usize = 40;
const ICMP_ECHO: usize = 8;
const NA_BODY: usize = 24;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const NDP_OPT_TARGET_LL: u8 = 2;
const NA_ROUTER: u8 = 0x80;
const NA_SOLICITED: u8 = 0x40;
const NA_OVERRIDE: u8 = 0x20;

/// Adds `data` to a ones' complement running sum, as 16-bit big-endian
/// words (an odd last byte is padded with zero).
fn ones_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc = fold_once(acc + u32::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [last] = words.remainder() {
        acc = fold_once(acc + (u32::from(*last) << 8));
    }
    acc
}

/// Keeps the running sum within 17 bits so it can never overflow.
fn fold_once(acc: u32) -> u32 {
    (acc & 0xffff) + (acc >> 16)
}

fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = fold_once(acc);
    }
    !(acc as u16)
}

/// The Internet checksum (RFC 1071) of `data`: the value to store, big
/// endian, in a zeroed checksum field. Over data that already holds a
/// correct checksum it gives 0.
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(ones_sum(0, data))
}

/// The ICMPv6 checksum of `icmp` (with its checksum field zeroed, or
/// holding the checksum to verify, then the result is 0), over the IPv6
/// pseudo-header of RFC 8200 §8.1.
pub fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut acc = ones_sum(0, &src.octets());
    acc = ones_sum(acc, &dst.octets());
    // Upper-layer length as 32 bits, three zero bytes, next header; the
    // length is at most a few hundred bytes here, the cast cannot lose.
    let len = u32::try_from(icmp.len()).unwrap_or(u32::MAX);
    acc = ones_sum(acc, &len.to_be_bytes());
    acc = ones_sum(acc, &[0, 0, 0, IPPROTO_ICMPV6]);
    finish(ones_sum(acc, icmp))
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn mac_at(b: &[u8], at: usize) -> [u8; 6] {
    let mut m = [0; 6];
    m.copy_from_slice(&b[at..at + 6]);
    m
}

fn ipv4_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

fn ipv6_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

fn put_eth(b: &mut [u8], dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    b[0..6].copy_from_slice(&dst);
    b[6..12].copy_from_slice(&src);
    b[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// An Ethernet/IPv4 ARP frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpFrame {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    /// [`ARP_REQUEST`] or [`ARP_REPLY`] (others parse too).
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

impl ArpFrame {
    /// The 60-byte frame: Ethernet header, ARP body, zero padding.
    pub fn emit(&self) -> [u8; ARP_FRAME_LEN] {
        let mut b = [0u8; ARP_FRAME_LEN];
        put_eth(&mut b, self.eth_dst, self.eth_src, ETHERTYPE_ARP);
        let a = &mut b[ETH_HDR..ETH_HDR + ARP_BODY];
        a[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
        a[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        a[4] = 6;
        a[5] = 4;
        a[6..8].copy_from_slice(&self.op.to_be_bytes());
        a[8..14].copy_from_slice(&self.sender_mac);
        a[14..18].copy_from_slice(&self.sender_ip.octets());
        a[18..24].copy_from_slice(&self.target_mac);
        a[24..28].copy_from_slice(&self.target_ip.octets());
        b
    }
}

/// The ARP reply that announces `vip` at `src_mac` to `target_ip`: sent
/// to `dst_mac`, which is also the target hardware address
/// ([`ETH_BROADCAST`] for the broadcast form, a cached MAC for the
/// unicast form), as spec §9.3.
pub fn arp_reply(
    src_mac: [u8; 6],
    vip: Ipv4Addr,
    dst_mac: [u8; 6],
    target_ip: Ipv4Addr,
) -> [u8; ARP_FRAME_LEN] {
    ArpFrame {
        eth_dst: dst_mac,
        eth_src: src_mac,
        op: ARP_REPLY,
        sender_mac: src_mac,
        sender_ip: vip,
        target_mac: dst_mac,
        target_ip,
    }
    .emit()
}

/// The gratuitous ARP reply that tells every host of the segment that
/// `vip` is at `src_mac`, as `arping -A` sends it: Ethernet broadcast,
/// and the sender pair (`src_mac`, `vip`) repeated as the target. Linux
/// counts a reply whose target is its own sender as gratuitous: it then
/// updates a neighbour entry for `vip` even within `locktime` of its
/// last change, and creates one where `arp_accept` allows. Sent for an
/// address no Notify destination reaches, and by `ArpRefresh`.
pub fn gratuitous_arp_reply(src_mac: [u8; 6], vip: Ipv4Addr) -> [u8; ARP_FRAME_LEN] {
    ArpFrame {
        eth_dst: ETH_BROADCAST,
        eth_src: src_mac,
        op: ARP_REPLY,
        sender_mac: src_mac,
        sender_ip: vip,
        target_mac: src_mac,
        target_ip: vip,
    }
    .emit()
}

/// Reads an Ethernet/IPv4 ARP frame (any operation; padding or none).
/// `None` for anything else: too short, another ethertype, another
/// hardware or protocol type or address length.
pub fn parse_arp(b: &[u8]) -> Option<ArpFrame> {
    if b.len() < ETH_HDR + ARP_BODY || be16(b, 12) != ETHERTYPE_ARP {
        return None;
    }
    let a = &b[ETH_HDR..ETH_HDR + ARP_BODY];
    if be16(a, 0) != 1 || be16(a, 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 {
        return None;
    }
    Some(ArpFrame {
        eth_dst: mac_at(b, 0),
        eth_src: mac_at(b, 6),
        op: be16(a, 6),
        sender_mac: mac_at(a, 8),
        sender_ip: ipv4_at(a, 14),
        target_mac: mac_at(a, 18),
        target_ip: ipv4_at(a, 24),
    })
}

/// The ICMP echo request of C's `ping` option, 42 bytes: IPv4 id
/// 0xfefe, TTL 64, no fragmentation flags; ICMP identifier and sequence
/// 0xfefe, no payload; both checksums computed.
pub fn icmp_echo(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
) -> [u8; ICMP_ECHO_FRAME_LEN] {
    let mut b = [0u8; ICMP_ECHO_FRAME_LEN];
    put_eth(&mut b, dst_mac, src_mac, ETHERTYPE_IPV4);
    {
        let ip = &mut b[ETH_HDR..ETH_HDR + IPV4_HDR];
        ip[0] = 0x45; // version 4, 5 words of header
        ip[1] = 0; // TOS
        ip[2..4].copy_from_slice(&((IPV4_HDR + ICMP_ECHO) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&ECHO_MARK.to_be_bytes());
        // 6..8: flags and fragment offset, zero.
        ip[8] = 64;
        ip[9] = IPPROTO_ICMP;
        ip[12..16].copy_from_slice(&src_ip.octets());
        ip[16..20].copy_from_slice(&dst_ip.octets());
        let sum = internet_checksum(ip);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    {
        let icmp = &mut b[ETH_HDR + IPV4_HDR..];
        icmp[0] = ICMP_ECHO_REQUEST;
        icmp[1] = 0;
        icmp[4..6].copy_from_slice(&ECHO_MARK.to_be_bytes());
        icmp[6..8].copy_from_slice(&ECHO_MARK.to_be_bytes());
        let sum = internet_checksum(icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    b
}

/// An Ethernet/IPv4 ICMP echo request, as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpEcho {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    /// The IPv4 identification.
    pub ip_id: u16,
    pub ident: u16,
    pub seq: u16,
    /// Bytes after the 8-byte ICMP header, within the IP total length.
    pub payload_len: usize,
    pub ip_checksum_ok: bool,
    pub icmp_checksum_ok: bool,
}

/// Reads an ICMP echo request over IPv4 in Ethernet. `None` for anything
/// else (another ethertype, IP version, protocol or ICMP type; a
/// fragment; lengths that do not fit the frame). Wrong checksums parse,
/// flagged in the result.
pub fn parse_icmp_echo(b: &[u8]) -> Option<IcmpEcho> {
    if b.len() < ETH_HDR + IPV4_HDR || be16(b, 12) != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = &b[ETH_HDR..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < IPV4_HDR || ip[9] != IPPROTO_ICMP {
        return None;
    }
    let total = usize::from(be16(ip, 2));
    if total > ip.len() || total < ihl + ICMP_ECHO || be16(ip, 6) & 0x3fff != 0 {
        return None;
    }
    let icmp = &ip[ihl..total];
    if icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0 {
        return None;
    }
    Some(IcmpEcho {
        eth_dst: mac_at(b, 0),
        eth_src: mac_at(b, 6),
        src: ipv4_at(ip, 12),
        dst: ipv4_at(ip, 16),
        ttl: ip[8],
        ip_id: be16(ip, 4),
        ident: be16(icmp, 4),
        seq: be16(icmp, 6),
        payload_len: icmp.len() - ICMP_ECHO,
        ip_checksum_ok: internet_checksum(&ip[..ihl]) == 0,
        icmp_checksum_ok: internet_checksum(icmp) == 0,
    })
}

/// The unsolicited Neighbor Advertisement (RFC 4861 §7.2.6) that
/// announces the IPv6 VIP `vip` at `src_mac` to all nodes: from `vip` to
/// ff02::1 (Ethernet 33:33:00:00:00:01), hop limit 255, Override set,
/// Solicited and Router clear, target `vip`, and a target link-layer
/// address option holding `src_mac`. 86 bytes.
pub fn neighbor_advert(src_mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    let mut b = vec![0u8; NA_FRAME_LEN];
    put_eth(&mut b, ETH_ALL_NODES, src_mac, ETHERTYPE_IPV6);
    let icmp_len = NA_FRAME_LEN - ETH_HDR - IPV6_HDR;
    {
        let ip = &mut b[ETH_HDR..ETH_HDR + IPV6_HDR];
        ip[0] = 0x60; // version 6; traffic class and flow label zero
        ip[4..6].copy_from_slice(&(icmp_len as u16).to_be_bytes());
        ip[6] = IPPROTO_ICMPV6;
        ip[7] = 255;
        ip[8..24].copy_from_slice(&vip.octets());
        ip[24..40].copy_from_slice(&IPV6_ALL_NODES.octets());
    }
    let icmp = &mut b[ETH_HDR + IPV6_HDR..];
    icmp[0] = ICMPV6_NEIGHBOR_ADVERT;
    icmp[1] = 0;
    icmp[4] = NA_OVERRIDE;
    icmp[8..24].copy_from_slice(&vip.octets());
    icmp[24] = NDP_OPT_TARGET_LL;
    icmp[25] = 1; // in units of 8 bytes
    icmp[26..32].copy_from_slice(&src_mac);
    let sum = icmpv6_checksum(vip, IPV6_ALL_NODES, icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    b
}

/// An IPv6 Neighbor Advertisement in Ethernet, as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvert {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    /// The first target link-layer address option, if any.
    pub target_mac: Option<[u8; 6]>,
    pub checksum_ok: bool,
}

/// Reads a Neighbor Advertisement carried directly in IPv6 (no
/// extension headers) in Ethernet. `None` for anything else, for lengths
/// that do not fit the frame, and for an option of length zero (which
/// RFC 4861 says to discard). A wrong checksum parses, flagged.
pub fn parse_neighbor_advert(b: &[u8]) -> Option<NeighborAdvert> {
    if b.len() < ETH_HDR + IPV6_HDR || be16(b, 12) != ETHERTYPE_IPV6 {
        return None;
    }
    let ip = &b[ETH_HDR..];
    if ip[0] >> 4 != 6 || ip[6] != IPPROTO_ICMPV6 {
        return None;
    }
    let plen = usize::from(be16(ip, 4));
    if plen < NA_BODY || IPV6_HDR + plen > ip.len() {
        return None;
    }
    let icmp = &ip[IPV6_HDR..IPV6_HDR + plen];
    if icmp[0] != ICMPV6_NEIGHBOR_ADVERT || icmp[1] != 0 {
        return None;
    }
    let mut target_mac = None;
    let mut opts = &icmp[NA_BODY..];
    while opts.len() >= 2 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        if opts[0] == NDP_OPT_TARGET_LL && len >= 8 && target_mac.is_none() {
            target_mac = Some(mac_at(opts, 2));
        }
        opts = &opts[len..];
    }
    let src = ipv6_at(ip, 8);
    let dst = ipv6_at(ip, 24);
    Some(NeighborAdvert {
        eth_dst: mac_at(b, 0),
        eth_src: mac_at(b, 6),
        src,
        dst,
        hop_limit: ip[7],
        router: icmp[4] & NA_ROUTER != 0,
        solicited: icmp[4] & NA_SOLICITED != 0,
        override_flag: icmp[4] & NA_OVERRIDE != 0,
        target: ipv6_at(icmp, 8),
        target_mac,
        checksum_ok: icmpv6_checksum(src, dst, icmp) == 0,
    })
}

#[cfg(test)]
mod tests;

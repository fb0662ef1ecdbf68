//! The frame parsers (ARP, ICMP echo, IPv6 neighbour advertisement) on
//! any bytes: an answer, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::net::frame;

fuzz_target!(|data: &[u8]| {
    let _ = frame::parse_arp(data);
    let _ = frame::parse_icmp_echo(data);
    let _ = frame::parse_neighbor_advert(data);
});

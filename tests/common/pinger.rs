//! A client that pings one address every few milliseconds from a
//! namespace of its own (ICMP echo over a raw socket: no `ping` binary
//! needed), and keeps the time of every reply, so that a test can print
//! the longest gap a client saw during a failover. Whoever holds the
//! address answers: the kernel of the host the VIP is up on.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol,
    SockType, SockaddrIn,
};
use nix::sys::time::TimeVal;

use super::cluster::{Cluster, SUBNET};
use super::netns::Netns;

pub struct Pinger {
    stop: Arc<AtomicBool>,
    heard: Arc<AtomicUsize>,
    thread: Option<JoinHandle<Vec<Instant>>>,
    pub started: Instant,
}

/// A raw socket of `family` for `protocol` (root).
fn raw(family: AddressFamily, protocol: SockProtocol) -> OwnedFd {
    socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol)
        .expect("a raw ICMP socket (root)")
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"wackamole-pinger");
    let c = checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

impl Pinger {
    /// Pings `target` from namespace `ns` every `every` until
    /// [`Pinger::stop`].
    pub fn start(ns: &Netns, target: Ipv4Addr, every: Duration) -> Pinger {
        let id = (std::process::id() & 0xffff) as u16;
        let to = SockaddrIn::from(std::net::SocketAddrV4::new(target, 0));
        Pinger::spawn(
            ns,
            every,
            || raw(AddressFamily::Inet, SockProtocol::Icmp),
            move |fd, seq| {
                let _ = sendto(fd.as_raw_fd(), &echo(id, seq), &to, MsgFlags::empty());
            },
            move |fd, buf| {
                let Ok(n) = recv(fd.as_raw_fd(), buf, MsgFlags::empty()) else {
                    return false;
                };
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                n >= ihl + 8
                    && buf[ihl] == 0
                    && u16::from_be_bytes([buf[ihl + 4], buf[ihl + 5]]) == id
                    && buf[12..16] == target.octets()
            },
        )
    }

    /// The loop both families share, on a thread in `ns`: `send` sends
    /// echo number `seq` (a send fails while no route or neighbour
    /// answers: the gap is what the tests measure); `reply` receives one
    /// datagram (or times out) and says whether it answers ours.
    fn spawn(
        ns: &Netns,
        every: Duration,
        open: impl FnOnce() -> OwnedFd + Send + 'static,
        send: impl Fn(&OwnedFd, u16) + Send + 'static,
        reply: impl Fn(&OwnedFd, &mut [u8]) -> bool + Send + 'static,
    ) -> Pinger {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let heard = Arc::new(AtomicUsize::new(0));
        let count = heard.clone();
        let thread = ns.spawn(move || {
            let fd = open();
            setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(0, 2_000)).unwrap();
            let mut replies = Vec::new();
            let mut seq: u16 = 0;
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::SeqCst) {
                let next = Instant::now() + every;
                seq = seq.wrapping_add(1);
                send(&fd, seq);
                while Instant::now() < next {
                    if reply(&fd, &mut buf) {
                        replies.push(Instant::now());
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            replies
        });
        Pinger {
            stop,
            heard,
            thread: Some(thread),
            started: Instant::now(),
        }
    }

    /// How many replies came so far.
    pub fn heard(&self) -> usize {
        self.heard.load(Ordering::SeqCst)
    }

    /// Stops and returns the reply times.
    pub fn stop(mut self) -> Vec<Instant> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("the pinger")
    }
}

/// The longest time between two replies at or after `from`, or `None`
/// with fewer than two.
pub fn longest_gap(replies: &[Instant], from: Instant) -> Option<Duration> {
    let after: Vec<&Instant> = replies.iter().filter(|t| **t >= from).collect();
    after.windows(2).map(|w| *w[1] - *w[0]).max()
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client namespace on `c`'s bridge, at `SUBNET.50`.
pub fn client(c: &Cluster) -> Netns {
    let ns = Netns::new("cl");
    super::netns::veth(&ns, "e0", &c.sw, "pc");
    c.sw.ip(&["link", "set", "pc", "master", "br0"]);
    ns.ip(&["addr", "add", &format!("{SUBNET}.50/24"), "dev", "e0"]);
    ns
}

/// Pings `vip` from `cl` every 10 ms, once it has answered 10 times
/// (the path is up); panics with `c`'s logs if it never does.
pub fn answered(c: &Cluster, cl: &Netns, vip: Ipv4Addr) -> Pinger {
    let p = Pinger::start(cl, vip, Duration::from_millis(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.heard() < 10 {
        assert!(
            Instant::now() < deadline,
            "{vip} never answered\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// What a client saw while a VIP's holder went away.
#[derive(Debug)]
pub struct Outage {
    /// From the failure until every VIP was on one survivor.
    pub moved: Duration,
    /// The client's longest time without a reply.
    pub gap: Duration,
    /// From the failure until the reply that ended that gap.
    pub resumed: Duration,
}

/// `fail` happens to host `victim` (holding VIPs, the others live)
/// while a client pings one of its VIPs: waits until every VIP is on
/// one of the others, and until the client heard the new owner.
pub fn outage(c: &mut Cluster, victim: usize, fail: impl FnOnce(&mut Cluster)) -> Outage {
    let vips = c.vips.clone();
    let vip = c.held(victim)[0];
    let cl = client(c);
    let p = answered(c, &cl, vip);
    let others: Vec<usize> = (0..c.hosts.len()).filter(|&i| i != victim).collect();
    let t0 = Instant::now();
    fail(c);
    c.wait_settled_among(&vips, &others, Duration::from_secs(60));
    let moved = t0.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let replies = p.stop();
    assert!(
        replies.last().is_some_and(|t| *t > t0 + moved),
        "the client heard nothing from {vip}'s new owner\n{}",
        c.logs()
    );
    let gap = longest_gap(&replies, t0 - Duration::from_millis(200)).expect("replies");
    let resumed = replies
        .windows(2)
        .find(|w| w[1] - w[0] == gap)
        .map_or(Duration::ZERO, |w| w[1].saturating_duration_since(t0));
    Outage {
        moved,
        gap,
        resumed,
    }
}

impl Pinger {
    /// Like [`Pinger::start`] for an IPv6 `target` (ICMPv6 echo over a
    /// raw socket; the kernel fills in the checksum).
    pub fn start6(ns: &Netns, target: std::net::Ipv6Addr, every: Duration) -> Pinger {
        let id = (std::process::id() & 0xffff) as u16 ^ 0x6666;
        let to = nix::sys::socket::SockaddrIn6::from(std::net::SocketAddrV6::new(target, 0, 0, 0));
        Pinger::spawn(
            ns,
            every,
            || raw(AddressFamily::Inet6, SockProtocol::IcmpV6),
            move |fd, seq| {
                let mut p = echo(id, seq);
                p[0] = 128;
                p[2] = 0;
                p[3] = 0;
                let _ = sendto(fd.as_raw_fd(), &p, &to, MsgFlags::empty());
            },
            move |fd, buf| {
                let Ok((n, from)) = nix::sys::socket::recvfrom::<nix::sys::socket::SockaddrIn6>(
                    fd.as_raw_fd(),
                    buf,
                ) else {
                    return false;
                };
                n >= 8
                    && buf[0] == 129
                    && u16::from_be_bytes([buf[4], buf[5]]) == id
                    && from.is_some_and(|f| f.ip() == target)
            },
        )
    }
}

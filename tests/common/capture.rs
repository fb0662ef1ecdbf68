//! What a host's kernel saw during a failover, with kernel timestamps:
//! a recorder of its own per namespace (threads that entered it), for
//! the failover benchmark (`tests/bench_failover.rs`).
//!
//! - on `lo` (AF_PACKET, ETH_P_ALL, outgoing copies only, so each
//!   segment once): every TCP segment from the Spread daemon's port to
//!   its client, with the Spread message kinds it starts (the daemon
//!   is at the host's own address, so its stream to wackamole goes over
//!   `lo`);
//! - on `e0` (the same): every ARP frame either way, every VRRP
//!   advertisement (IP protocol 112) and every ICMPv6 neighbour
//!   advertisement this host sent;
//! - from rtnetlink (RTM_NEWADDR / RTM_DELADDR, IPv4 and IPv6): when
//!   each address came and went (the receive time: rtnetlink carries
//!   none of its own).
//!
//! Packet times are the kernel's (`SO_TIMESTAMPNS`, CLOCK_REALTIME,
//! taken as the frame passed the capture point); netlink times are
//! `SystemTime::now()` at the receive, on a thread that does nothing
//! else. Both are wall-clock, so they compare with each other and with
//! the harness's own `SystemTime` marks (the kill).
//!
//! Every thread waits at most 50 ms per receive and stops on
//! [`Recorder::stop`] (or drop).

#![allow(dead_code)]

use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::netns::Netns;

/// The Spread daemon's port (its stream to the client comes from it).
pub const SPREAD_PORT: u16 = 4803;

/// A Spread message's kind bits (service type, endian flags cleared).
pub const REG_MEMB: u32 = 0x0000_1000;
pub const TRANSITION: u32 = 0x0000_2000;

/// One TCP segment from the Spread daemon to a client.
#[derive(Debug, Clone)]
pub struct SpreadSeg {
    pub at: SystemTime,
    /// The service words of the messages that start in it (the first at
    /// its start; the following ones as far as the segment holds them).
    pub kinds: Vec<u32>,
}

impl SpreadSeg {
    pub fn has(&self, bit: u32) -> bool {
        self.kinds.iter().any(|k| k & bit != 0)
    }
}

/// One ARP frame on `e0`.
#[derive(Debug, Clone)]
pub struct Arp {
    pub at: SystemTime,
    /// Sent by this host (PACKET_OUTGOING), else received.
    pub out: bool,
    /// 1 request, 2 reply.
    pub op: u16,
    pub dst_mac: [u8; 6],
    pub sender: Ipv4Addr,
    pub target: Ipv4Addr,
}

/// An address appearing (`added`) or going away in the namespace.
#[derive(Debug, Clone)]
pub struct AddrEvent {
    pub at: SystemTime,
    pub addr: IpAddr,
    pub added: bool,
    /// IFA_F_* flags (IFA_F_TENTATIVE 0x40: DAD still running).
    pub flags: u32,
}

/// Everything recorded so far.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub spread: Vec<SpreadSeg>,
    pub arps: Vec<Arp>,
    pub addrs: Vec<AddrEvent>,
    /// VRRP advertisements this host sent.
    pub vrrp_out: Vec<SystemTime>,
    /// Neighbour advertisements this host sent: when, for which target.
    pub na_out: Vec<(SystemTime, Ipv6Addr)>,
}

pub struct Recorder {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Log>>,
    threads: Vec<JoinHandle<()>>,
}

const IFA_F_TENTATIVE: u32 = 0x40;

impl AddrEvent {
    /// Up and usable (added, DAD done).
    pub fn usable(&self) -> bool {
        self.added && self.flags & IFA_F_TENTATIVE == 0
    }
}

impl Recorder {
    /// Starts recording in `ns` (`lo`, `e0`, rtnetlink); returns once
    /// every socket is open.
    pub fn start(ns: &Netns) -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Log::default()));
        let mut threads = Vec::new();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        for dev in ["lo", "e0"] {
            let (stop, log, ready) = (stop.clone(), log.clone(), ready_tx.clone());
            threads.push(ns.spawn(move || {
                let idx = wackamole::sys::net::ifindex(dev).expect("the interface");
                let fd = packet_socket(idx);
                let _ = ready.send(());
                let mut buf = vec![0u8; 65_600];
                while !stop.load(Ordering::SeqCst) {
                    let Some((n, pkttype, at)) = recv_stamped(&fd, &mut buf) else {
                        continue;
                    };
                    let out = pkttype == libc::PACKET_OUTGOING;
                    let f = &buf[..n];
                    if dev == "lo" {
                        if out {
                            if let Some(kinds) = spread_kinds(f) {
                                log.lock().unwrap().spread.push(SpreadSeg { at, kinds });
                            }
                        }
                    } else {
                        frame_e0(f, out, at, &log);
                    }
                }
            }));
        }
        {
            let (stop, log, ready) = (stop.clone(), log.clone(), ready_tx.clone());
            threads.push(ns.spawn(move || {
                let fd = netlink_socket();
                let _ = ready.send(());
                let mut buf = vec![0u8; 1 << 16];
                while !stop.load(Ordering::SeqCst) {
                    // SAFETY: buf is valid for its length.
                    let n = unsafe {
                        libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
                    };
                    if n <= 0 {
                        continue;
                    }
                    let at = SystemTime::now();
                    let events = addr_events(&buf[..n as usize], at);
                    if !events.is_empty() {
                        log.lock().unwrap().addrs.extend(events);
                    }
                }
            }));
        }
        drop(ready_tx);
        for _ in 0..3 {
            ready_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("a capture thread did not start");
        }
        Recorder { stop, log, threads }
    }

    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> Log {
        self.log.lock().unwrap().clone()
    }

    /// Stops every thread; what was recorded.
    pub fn stop(mut self) -> Log {
        self.halt();
        self.snapshot()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.halt();
    }
}

fn check(r: libc::c_int, what: &str) {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
}

fn setopt(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: &[u8], what: &str) {
    // SAFETY: v is valid for its length.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            v.as_ptr().cast(),
            v.len() as libc::socklen_t,
        )
    };
    check(r, what);
}

fn common_opts(fd: &OwnedFd) {
    // Room for a burst of thousands of frames while the thread sleeps.
    setopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        &(16i32 << 20).to_ne_bytes(),
        "SO_RCVBUFFORCE",
    );
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    // SAFETY: a timeval viewed as bytes.
    let tvb = unsafe {
        std::slice::from_raw_parts(
            (&tv as *const libc::timeval).cast::<u8>(),
            mem::size_of::<libc::timeval>(),
        )
    };
    setopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, tvb, "SO_RCVTIMEO");
}

fn packet_socket(ifindex: u32) -> OwnedFd {
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket call; the fd is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(all),
        )
    };
    check(raw, "AF_PACKET socket");
    // SAFETY: raw is a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: a zeroed sockaddr_ll is valid.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = all;
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: sll is valid for the length passed.
    check(
        unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        },
        "bind AF_PACKET",
    );
    setopt(
        &fd,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPNS,
        &1i32.to_ne_bytes(),
        "SO_TIMESTAMPNS",
    );
    common_opts(&fd);
    fd
}

/// One frame: its length, packet type, kernel receive time.
fn recv_stamped(fd: &OwnedFd, buf: &mut [u8]) -> Option<(usize, u8, SystemTime)> {
    // SAFETY: zeroed sockaddr_ll, msghdr and a control buffer are valid;
    // recvmsg writes within the lengths given.
    unsafe {
        let mut sll: libc::sockaddr_ll = mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16];
        let mut msg: libc::msghdr = mem::zeroed();
        msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control) as _;
        let n = libc::recvmsg(fd.as_raw_fd(), &mut msg, 0);
        if n <= 0 {
            return None;
        }
        let mut at = SystemTime::now();
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                at = SystemTime::UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Some((n as usize, sll.sll_pkttype, at))
    }
}

fn netlink_socket() -> OwnedFd {
    // SAFETY: plain socket call; the fd is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    check(raw, "netlink socket");
    // SAFETY: raw is a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: a zeroed sockaddr_nl is valid.
    let mut sa: libc::sockaddr_nl = unsafe { mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = (libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
    // SAFETY: sa is valid for the length passed.
    check(
        unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        },
        "bind netlink",
    );
    common_opts(&fd);
    fd
}

fn u16be(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The kinds of the Spread messages a TCP segment from port 4803
/// starts, if `f` (an Ethernet frame on `lo`) is one with a payload.
fn spread_kinds(f: &[u8]) -> Option<Vec<u32>> {
    if f.len() < 14 + 20 || u16be(f, 12) != 0x0800 {
        return None;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16be(ip, 2)).min(ip.len());
    if ip[9] != 6 || total < ihl + 20 {
        return None;
    }
    let tcp = &ip[ihl..total];
    if u16be(tcp, 0) != SPREAD_PORT {
        return None;
    }
    let off = usize::from(tcp[12] >> 4) * 4;
    let payload = tcp.get(off..)?;
    if payload.is_empty() {
        return None;
    }
    let mut kinds = Vec::new();
    let mut at = 0;
    while payload.len() >= at + 48 {
        let h = &payload[at..];
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let little = le & 0x8000_0080 == 0x8000_0080;
        let word = |i: usize| {
            let w = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if little {
                u32::from_le_bytes(w)
            } else {
                u32::from_be_bytes(w)
            }
        };
        let t = word(0) & !0x8000_0080;
        kinds.push(t);
        let extra = if t & 0x0040_0000 != 0 { 4 } else { 0 };
        let len = 48usize
            .saturating_add(extra)
            .saturating_add((word(36) as usize).saturating_mul(32))
            .saturating_add(word(44) as usize);
        at = at.saturating_add(len);
    }
    Some(kinds)
}

fn frame_e0(f: &[u8], out: bool, at: SystemTime, log: &Mutex<Log>) {
    if f.len() < 14 {
        return;
    }
    let mut dst_mac = [0u8; 6];
    dst_mac.copy_from_slice(&f[..6]);
    match u16be(f, 12) {
        0x0806 if f.len() >= 14 + 28 => {
            let a = &f[14..];
            let ip4 = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
            log.lock().unwrap().arps.push(Arp {
                at,
                out,
                op: u16be(a, 6),
                dst_mac,
                sender: ip4(14),
                target: ip4(24),
            });
        }
        0x0800 if out && f.len() >= 14 + 20 && f[14 + 9] == 112 => {
            log.lock().unwrap().vrrp_out.push(at);
        }
        // ICMPv6 (next header 58) type 136, no extension headers.
        0x86dd if out && f.len() >= 14 + 40 + 24 && f[14 + 6] == 58 && f[14 + 40] == 136 => {
            let mut t = [0u8; 16];
            t.copy_from_slice(&f[14 + 40 + 8..14 + 40 + 24]);
            log.lock().unwrap().na_out.push((at, Ipv6Addr::from(t)));
        }
        _ => {}
    }
}

/// The RTM_NEWADDR / RTM_DELADDR messages of one netlink datagram.
fn addr_events(b: &[u8], at: SystemTime) -> Vec<AddrEvent> {
    let mut out = Vec::new();
    let mut off = 0;
    while b.len() >= off + 16 {
        let len = u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) as usize;
        if len < 16 || off + len > b.len() {
            break;
        }
        let ty = u16::from_ne_bytes([b[off + 4], b[off + 5]]);
        let m = &b[off..off + len];
        off += (len + 3) & !3;
        let added = match ty {
            libc::RTM_NEWADDR => true,
            libc::RTM_DELADDR => false,
            _ => continue,
        };
        if m.len() < 24 {
            continue;
        }
        let family = i32::from(m[16]);
        let mut flags = u32::from(m[18]);
        let (mut local, mut address) = (None, None);
        let mut a = 24;
        while m.len() >= a + 4 {
            let alen = usize::from(u16::from_ne_bytes([m[a], m[a + 1]]));
            let aty = u16::from_ne_bytes([m[a + 2], m[a + 3]]);
            if alen < 4 || a + alen > m.len() {
                break;
            }
            let v = &m[a + 4..a + alen];
            let addr = match (family, v.len()) {
                (libc::AF_INET, 4) => Some(IpAddr::from([v[0], v[1], v[2], v[3]])),
                (libc::AF_INET6, 16) => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(v);
                    Some(IpAddr::from(o))
                }
                _ => None,
            };
            match aty {
                libc::IFA_ADDRESS => address = addr,
                libc::IFA_LOCAL => local = addr,
                libc::IFA_FLAGS if v.len() == 4 => {
                    flags = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
                }
                _ => {}
            }
            a += (alen + 3) & !3;
        }
        if let Some(addr) = local.or(address) {
            out.push(AddrEvent {
                at,
                addr,
                added,
                flags,
            });
        }
    }
    out
}

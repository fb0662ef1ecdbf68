//! The network stack's syscalls: interface ioctls (addresses, flags,
//! the MAC) and the `AF_PACKET` socket that sends ARP and neighbour
//! advertisement frames, each behind a small safe function for
//! `net::ifaddr` and `net::announce`.

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};

/// Interface names and alias labels, NUL excluded.
pub const MAX_NAME: usize = libc::IFNAMSIZ - 1;

/// A datagram socket to issue interface ioctls on.
#[derive(Debug)]
pub struct IoctlSocket(OwnedFd);

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl IoctlSocket {
    fn open(family: AddressFamily) -> io::Result<IoctlSocket> {
        let fd = socket::socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
        Ok(IoctlSocket(fd))
    }

    /// For IPv4 address and flag ioctls.
    pub fn inet() -> io::Result<IoctlSocket> {
        Self::open(AddressFamily::Inet)
    }

    fn ioctl(&self, request: libc::c_ulong, arg: *mut libc::c_void) -> io::Result<()> {
        // SAFETY: every caller passes a request whose argument type is
        // the struct `arg` points to (an ifreq), alive and
        // exclusively borrowed for the call.
        check(unsafe { libc::ioctl(self.0.as_raw_fd(), request as _, arg) }).map(|_| ())
    }
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{name}' is not a usable interface name (1 to {MAX_NAME} bytes)"),
        ));
    }
    // SAFETY: ifreq is plain old data: all zeroes is a valid value.
    let mut r: libc::ifreq = unsafe { mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

fn sockaddr_in(a: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size on Linux and
    // the kernel reads the union member as sockaddr_in for AF_INET.
    unsafe { mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

fn set_inet(s: &IoctlSocket, request: libc::c_ulong, label: &str, a: Ipv4Addr) -> io::Result<()> {
    let mut r = ifreq(label)?;
    r.ifr_ifru.ifru_addr = sockaddr_in(a);
    s.ioctl(request, (&mut r as *mut libc::ifreq).cast())
}

/// SIOCSIFADDR: puts `a` on `label` (`eth0:3` creates that alias).
pub fn set_addr(s: &IoctlSocket, label: &str, a: Ipv4Addr) -> io::Result<()> {
    set_inet(s, libc::SIOCSIFADDR, label, a)
}

pub fn set_netmask(s: &IoctlSocket, label: &str, mask: Ipv4Addr) -> io::Result<()> {
    set_inet(s, libc::SIOCSIFNETMASK, label, mask)
}

pub fn set_broadcast(s: &IoctlSocket, label: &str, b: Ipv4Addr) -> io::Result<()> {
    set_inet(s, libc::SIOCSIFBRDADDR, label, b)
}

pub fn flags(s: &IoctlSocket, label: &str) -> io::Result<i32> {
    let mut r = ifreq(label)?;
    s.ioctl(libc::SIOCGIFFLAGS, (&mut r as *mut libc::ifreq).cast())?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    Ok(i32::from(unsafe { r.ifr_ifru.ifru_flags }) & 0xffff)
}

/// SIOCSIFFLAGS. On an alias label, clearing IFF_UP deletes its address.
pub fn set_flags(s: &IoctlSocket, label: &str, flags: i32) -> io::Result<()> {
    let mut r = ifreq(label)?;
    r.ifr_ifru.ifru_flags = flags as libc::c_short;
    s.ioctl(libc::SIOCSIFFLAGS, (&mut r as *mut libc::ifreq).cast())
}

/// The interface's hardware (MAC) address.
pub fn hw_addr(s: &IoctlSocket, ifname: &str) -> io::Result<[u8; 6]> {
    let mut r = ifreq(ifname)?;
    s.ioctl(libc::SIOCGIFHWADDR, (&mut r as *mut libc::ifreq).cast())?;
    // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
    let sa = unsafe { r.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// The interface's index (a NUL in the name is `EINVAL`).
pub fn ifindex(ifname: &str) -> io::Result<u32> {
    Ok(nix::net::if_::if_nametoindex(ifname)?)
}

/// A raw `AF_PACKET` socket bound to one interface, for ARP and
/// neighbour advertisement frames.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        // Sending only: protocol 0 receives nothing.
        let fd = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// A socket that receives every frame on the interface (for tests
    /// and diagnostics), waiting at most `timeout` per receive.
    pub fn capture(ifindex: u32, timeout: std::time::Duration) -> io::Result<PacketSocket> {
        let all = (libc::ETH_P_ALL as u16).to_be();
        let fd = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )?;
        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as libc::c_ushort,
            sll_protocol: all,
            sll_ifindex: ifindex as libc::c_int,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        // SAFETY: sll is a valid sockaddr_ll for the length passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        let tv = nix::sys::time::TimeVal::new(
            timeout.as_secs() as libc::time_t,
            timeout.subsec_micros() as libc::suseconds_t,
        );
        socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &tv)?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// The next frame, or `Ok(None)` when the timeout passes first.
    pub fn recv(&self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 2048];
        let n = match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(errno) => {
                let e = io::Error::from(errno);
                return match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(None),
                    _ => Err(e),
                };
            }
        };
        buf.truncate(n);
        Ok(Some(buf))
    }

    /// Sends one whole Ethernet frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame shorter than its header",
            ));
        }
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(&frame[..6]);
        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as libc::c_ushort,
            sll_protocol: u16::from_be_bytes([frame[12], frame[13]]).to_be(),
            sll_ifindex: self.ifindex as libc::c_int,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: addr,
        };
        // SAFETY: frame and sll are valid for the lengths passed; sendto
        // only reads them.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

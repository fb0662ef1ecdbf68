//! The unsafe edge of the network stack: interface ioctls and the
//! `AF_PACKET` socket, each behind a small safe function; also the
//! `dlopen` call of the `RunDynamic` hook runner and the kill of a hook's
//! process group. Nothing else in the crate may use `unsafe`.

#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
    fn open(family: libc::c_int) -> io::Result<IoctlSocket> {
        // SAFETY: socket(2) takes no pointers; a non-negative return is a
        // new descriptor that we alone own.
        let fd = check(unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fd was just returned by socket(2) and is owned by no one else.
        Ok(IoctlSocket(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// For IPv4 address and flag ioctls.
    pub fn inet() -> io::Result<IoctlSocket> {
        Self::open(libc::AF_INET)
    }

    /// For IPv6 address ioctls.
    pub fn inet6() -> io::Result<IoctlSocket> {
        Self::open(libc::AF_INET6)
    }

    fn ioctl(&self, request: libc::c_ulong, arg: *mut libc::c_void) -> io::Result<()> {
        // SAFETY: every caller passes a request whose argument type is
        // the struct `arg` points to (ifreq or in6_ifreq), alive and
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

pub fn ifindex(ifname: &str) -> io::Result<u32> {
    let name = std::ffi::CString::new(ifname)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: name is a valid NUL-terminated string for the call.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

fn in6_ifreq(ifindex: u32, a: Ipv6Addr, prefix: u8) -> libc::in6_ifreq {
    libc::in6_ifreq {
        ifr6_addr: libc::in6_addr {
            s6_addr: a.octets(),
        },
        ifr6_prefixlen: u32::from(prefix),
        ifr6_ifindex: ifindex as libc::c_int,
    }
}

/// Adds an IPv6 address (SIOCSIFADDR on an AF_INET6 socket).
pub fn add_addr6(s: &IoctlSocket, ifindex: u32, a: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let mut r = in6_ifreq(ifindex, a, prefix);
    s.ioctl(libc::SIOCSIFADDR, (&mut r as *mut libc::in6_ifreq).cast())
}

/// Deletes an IPv6 address (SIOCDIFADDR).
pub fn del_addr6(s: &IoctlSocket, ifindex: u32, a: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let mut r = in6_ifreq(ifindex, a, prefix);
    s.ioctl(libc::SIOCDIFADDR, (&mut r as *mut libc::in6_ifreq).cast())
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
        // SAFETY: socket(2) takes no pointers.
        let fd = check(unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: fd was just returned by socket(2) and is ours alone.
        Ok(PacketSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            ifindex,
        })
    }

    /// A socket that receives every frame on the interface (for tests
    /// and diagnostics), waiting at most `timeout` per receive.
    pub fn capture(ifindex: u32, timeout: std::time::Duration) -> io::Result<PacketSocket> {
        let all = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: socket(2) takes no pointers.
        let fd = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(all),
            )
        })?;
        // SAFETY: fd was just returned by socket(2) and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
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
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: tv is a valid timeval for the length passed.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        })?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// The next frame, or `Ok(None)` when the timeout passes first.
    pub fn recv(&self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 2048];
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Ok(None),
                _ => Err(e),
            };
        }
        buf.truncate(n as usize);
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

// ---- RunDynamic: calling a function of a shared object -----------------

use crate::hooks::record::{Interface, MAX_EXTRAS};

/// Why a `RunDynamic` function could not be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlError {
    /// `dlopen` failed: its `dlerror` text.
    Open(String),
    /// The module loaded but has no such symbol.
    Symbol(String),
}

/// `int func(struct interface, struct interface *, struct interface)`.
/// The extras pointer is `*mut`: C's prototype lets the function write
/// to the array, so it gets a copy it may change.
type HookFn = extern "C" fn(Interface, *mut Interface, Interface) -> libc::c_int;

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string that stays
    // valid until the next dl* call of this thread; it is copied at once.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        return "unknown error".into();
    }
    // SAFETY: p is non-null and NUL-terminated (see above).
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// Loads the shared object at `path` (`RTLD_NOW | RTLD_GLOBAL`, as C
/// wackamole did), looks `symbol` up and calls it the way 2.1.4 did:
/// `master` and `owner` by value, a pointer to a copy of the 30 extras.
/// Returns what the function returns. The module's code runs in this
/// process and may crash it: only the hook runner child calls this. The
/// module is never unloaded (the child exits right after).
pub fn call_hook_function(
    path: &std::path::Path,
    symbol: &str,
    master: Interface,
    extras: &[Interface; MAX_EXTRAS],
    owner: Interface,
) -> Result<libc::c_int, DlError> {
    use std::os::unix::ffi::OsStrExt;
    let cpath = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| DlError::Open("NUL in the module path".into()))?;
    let csym = std::ffi::CString::new(symbol)
        .map_err(|_| DlError::Symbol("NUL in the symbol name".into()))?;
    // SAFETY: cpath is a valid NUL-terminated string for the call. The
    // module's initialisers run here; that is the point of loading it.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(DlError::Open(dl_error()));
    }
    // SAFETY: handle came from a successful dlopen and is never closed;
    // csym is a valid NUL-terminated string.
    let sym = unsafe { libc::dlsym(handle, csym.as_ptr()) };
    if sym.is_null() {
        return Err(DlError::Symbol(dl_error()));
    }
    // SAFETY: the configuration says `symbol` is a function with C
    // wackamole's hook prototype (the contract of RunDynamic since
    // 2.1.4); a module that lies can only crash this sacrificial child.
    let func = unsafe { mem::transmute::<*mut libc::c_void, HookFn>(sym) };
    let mut extras = *extras;
    Ok(func(master, extras.as_mut_ptr(), owner))
}

/// Sends `signal` to every process of the process group `pgid` (a hook
/// child and whatever it started).
pub fn kill_process_group(pgid: u32, signal: libc::c_int) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|&p| p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process group"))?;
    // SAFETY: kill(2) takes no pointers; a negative pid names the group,
    // and pgid > 1 rules out "every process" (-1) and our own group (0).
    check(unsafe { libc::kill(-pgid, signal) }).map(|_| ())
}

/// Makes `cmd`'s child start with no signal blocked. The daemon blocks
/// TERM, INT, QUIT and HUP to read them from a signalfd, and a blocked
/// mask survives exec: without this a hook, or a service a hook starts,
/// could not be stopped with SIGTERM.
pub fn unblock_signals_in_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec; it only calls
    // sigemptyset and sigprocmask, which are async-signal-safe, on a
    // local set.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

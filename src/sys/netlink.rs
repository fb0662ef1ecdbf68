//! A `NETLINK_ROUTE` socket that sends requests to the kernel and
//! receives its answers, for `net::ifaddr` (the messages are
//! `net::netlink`'s). `nix` wraps every call safely: no `unsafe` here.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{
    self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

/// The kernel answers a route request before `send` returns; a receive
/// that waits longer than this is something else gone wrong, and the
/// daemon's loop must not hang on it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// A netlink socket to the kernel's routing subsystem.
#[derive(Debug)]
pub struct NetlinkSocket(OwnedFd);

impl NetlinkSocket {
    /// Opens one; the kernel gives it a port on the first send.
    pub fn route() -> io::Result<NetlinkSocket> {
        let fd = socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        let tv = nix::sys::time::TimeVal::new(
            ANSWER_TIMEOUT.as_secs() as libc::time_t,
            ANSWER_TIMEOUT.subsec_micros() as libc::suseconds_t,
        );
        socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &tv)?;
        Ok(NetlinkSocket(fd))
    }

    /// Sends one whole request to the kernel.
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        let kernel = NetlinkAddr::new(0, 0);
        let n = socket::sendto(self.0.as_raw_fd(), msg, &kernel, MsgFlags::empty())?;
        if n != msg.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("netlink: sent {n} of {} bytes", msg.len()),
            ));
        }
        Ok(())
    }

    /// The next datagram from the kernel (one from any other sender is
    /// dropped: only the kernel's answers count), its length in `buf`.
    /// `TimedOut` if none comes within a second.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (n, from) = match socket::recvfrom::<NetlinkAddr>(self.0.as_raw_fd(), buf) {
                Ok(r) => r,
                Err(nix::errno::Errno::EAGAIN) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel over netlink",
                    ))
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if from.is_some_and(|a| a.pid() == 0) {
                return Ok(n);
            }
        }
    }
}

//! Socket options that `nix` does not wrap: the supplementary groups of
//! a Unix socket's peer (`SO_PEERGROUPS`, Linux 4.13), for the control
//! socket's peer check.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The supplementary group ids the peer of the connected Unix socket
/// `fd` had when it connected. `Err` with `ENOPROTOOPT` on a kernel
/// without `SO_PEERGROUPS` (the caller falls back to `/proc`).
pub fn peer_groups(fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    // A process has at most NGROUPS_MAX (65536) groups; start small and
    // grow to what the kernel says it needs (ERANGE sets the length).
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is a live, exclusively borrowed buffer of
        // `len` bytes of gid_t, which is what SO_PEERGROUPS writes; the
        // kernel writes at most `len` bytes and stores the size it used
        // (or needs, with ERANGE) in `len`.
        let ret = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if ret == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65_536 {
            groups.resize(n, 0);
            continue;
        }
        return Err(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_socketpair_peer_has_our_groups() {
        let (a, _b) = UnixStream::pair().unwrap();
        match peer_groups(a.as_fd()) {
            Ok(mut got) => {
                let mut ours: Vec<u32> = nix::unistd::getgroups()
                    .unwrap()
                    .into_iter()
                    .map(|g| g.as_raw())
                    .collect();
                got.sort_unstable();
                ours.sort_unstable();
                ours.dedup();
                got.dedup();
                assert_eq!(got, ours);
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOPROTOOPT), "{e}"),
        }
    }
}

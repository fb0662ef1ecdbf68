//! Who may use the control socket: root, the user the daemon runs as,
//! and with `ControlGroup` that group's members.
//!
//! The decision is pure ([`decide`]: a peer's credentials and the
//! [`Access`] policy in, a [`Verdict`] out), and so is the log's rate
//! limit ([`RefusalLog`]). Beside them, the small I/O that feeds them:
//! [`Access::resolve`] looks `ControlGroup` up in the group database,
//! [`read_peer`] reads a connection's credentials (`SO_PEERCRED`, and
//! `SO_PEERGROUPS` or `/proc/PID/status` for the supplementary groups).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Group, Uid};

/// The group of `ControlGroup`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlGroup {
    /// Its name in the group database.
    pub name: String,
    pub gid: u32,
}

impl fmt::Display for ControlGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (gid {})", self.name, self.gid)
    }
}

/// Why `ControlGroup` cannot be used: a start error, a refused reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupError {
    /// No group of that name, or (for a number) of that gid.
    Unknown { value: String },
    /// The group database could not be read.
    Lookup { value: String, errno: nix::Error },
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Unknown { value } if value.parse::<u32>().is_ok() => {
                write!(f, "ControlGroup = {value}: no group has gid {value}")
            }
            GroupError::Unknown { value } => {
                write!(f, "ControlGroup = {value}: no such group")
            }
            GroupError::Lookup { value, errno } => write!(
                f,
                "ControlGroup = {value}: cannot read the group database: {}",
                errno.desc()
            ),
        }
    }
}

impl std::error::Error for GroupError {}

/// Looks `ControlGroup`'s value up: a number is a gid, anything else a
/// name. Either must exist in the group database.
pub fn resolve_group(value: &str) -> Result<ControlGroup, GroupError> {
    let found = match value.parse::<u32>() {
        Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
        Err(_) => Group::from_name(value),
    };
    match found {
        Ok(Some(g)) => Ok(ControlGroup {
            name: g.name,
            gid: g.gid.as_raw(),
        }),
        Ok(None) => Err(GroupError::Unknown {
            value: value.to_string(),
        }),
        Err(errno) => Err(GroupError::Lookup {
            value: value.to_string(),
            errno,
        }),
    }
}

/// Who may connect, and so the socket's mode and group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The user the daemon runs as (root in production), who owns the
    /// socket and may always use it.
    owner: u32,
    group: Option<ControlGroup>,
}

impl Access {
    /// Root and `owner`; with `group`, its members too.
    pub fn new(owner: u32, group: Option<ControlGroup>) -> Access {
        Access { owner, group }
    }

    /// Root and the user this process runs as.
    pub fn owner_only() -> Access {
        Access::new(Uid::effective().as_raw(), None)
    }

    /// The policy a configuration's `ControlGroup` (as written) asks for,
    /// the group looked up now.
    pub fn resolve(control_group: Option<&str>) -> Result<Access, GroupError> {
        let group = control_group.map(resolve_group).transpose()?;
        Ok(Access::new(Uid::effective().as_raw(), group))
    }

    pub fn group(&self) -> Option<&ControlGroup> {
        self.group.as_ref()
    }

    /// The socket's permission bits: 0600, or 0660 with a group.
    pub fn mode(&self) -> u32 {
        if self.group.is_some() {
            0o660
        } else {
            0o600
        }
    }

    /// Whether deciding on a peer of this uid and gid takes its
    /// supplementary groups (so they are read only when they matter).
    pub fn needs_groups(&self, uid: u32, gid: u32) -> bool {
        match &self.group {
            Some(g) => uid != 0 && uid != self.owner && gid != g.gid,
            None => false,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.group {
            None => write!(f, "mode {:04o}, root only", self.mode()),
            Some(g) => write!(f, "mode {:04o}, group {g}", self.mode()),
        }
    }
}

/// A connection's peer, as the kernel recorded it at `connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups; empty unless [`Access::needs_groups`].
    pub groups: Vec<u32>,
}

/// What [`decide`] says of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// uid 0.
    Root,
    /// The user the daemon runs as.
    Owner,
    /// A member of `ControlGroup` (primary or supplementary group).
    Group,
    Denied,
}

impl Verdict {
    pub fn allowed(self) -> bool {
        self != Verdict::Denied
    }
}

/// Whether `peer` may use the control socket under `access`.
pub fn decide(peer: &Peer, access: &Access) -> Verdict {
    if peer.uid == 0 {
        return Verdict::Root;
    }
    if peer.uid == access.owner {
        return Verdict::Owner;
    }
    match &access.group {
        Some(g) if peer.gid == g.gid || peer.groups.contains(&g.gid) => Verdict::Group,
        _ => Verdict::Denied,
    }
}

/// The `Groups:` line of a `/proc/PID/status` text: the supplementary
/// groups (`None` without such a line or with a malformed one).
pub fn groups_from_status(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    line.split_whitespace().map(|g| g.parse().ok()).collect()
}

/// The credentials of a connected Unix socket's peer; its supplementary
/// groups only when `access` needs them: from `SO_PEERGROUPS`, or on a
/// kernel without it (before 4.13) from `/proc/PID/status` (which then
/// describes the peer now rather than at `connect`).
pub fn read_peer(sock: &impl AsFd, access: &Access) -> io::Result<Peer> {
    let c = getsockopt(sock, PeerCredentials)?;
    let mut peer = Peer {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
        groups: Vec::new(),
    };
    if access.needs_groups(peer.uid, peer.gid) {
        peer.groups = match crate::sys::socket::peer_groups(sock.as_fd()) {
            Ok(g) => g,
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                let status = std::fs::read_to_string(format!("/proc/{}/status", peer.pid))?;
                groups_from_status(&status).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("no Groups: line in /proc/{}/status", peer.pid),
                    )
                })?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(peer)
}

/// A uid for the log: `1000 (alice)`, or the bare number.
pub fn user_text(uid: u32) -> String {
    match crate::trust::user_name(uid) {
        Some(name) => format!("{uid} ({name})"),
        None => uid.to_string(),
    }
}

/// How often a refused uid is logged: once per window, the line after
/// it counting the refusals left out.
pub const REFUSAL_LOG_WINDOW: Duration = Duration::from_secs(60);
/// Uids remembered at once (a local user cannot make more uids; the cap
/// only bounds the map).
const MAX_REFUSED_UIDS: usize = 256;

/// Rate limit for the log of refused peers: a flood of connections from
/// one uid is one line per [`REFUSAL_LOG_WINDOW`], not one per
/// connection.
#[derive(Debug, Default)]
pub struct RefusalLog {
    /// uid → when its last line was logged, refusals since.
    seen: HashMap<u32, (Instant, u64)>,
}

impl RefusalLog {
    /// Notes a refusal of `uid` at `now`. `Some(n)`: log it now, adding
    /// that `n` more were refused (unlogged) since the last line; `None`:
    /// stay quiet.
    pub fn refused(&mut self, uid: u32, now: Instant) -> Option<u64> {
        if let Some((at, n)) = self.seen.get_mut(&uid) {
            if now.saturating_duration_since(*at) < REFUSAL_LOG_WINDOW {
                *n += 1;
                return None;
            }
            let left_out = *n;
            *at = now;
            *n = 0;
            return Some(left_out);
        }
        if self.seen.len() >= MAX_REFUSED_UIDS {
            self.seen.retain(|_, (at, n)| {
                *n > 0 || now.saturating_duration_since(*at) < REFUSAL_LOG_WINDOW
            });
        }
        if self.seen.len() < MAX_REFUSED_UIDS {
            self.seen.insert(uid, (now, 0));
        }
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adm() -> ControlGroup {
        ControlGroup {
            name: "adm".into(),
            gid: 4,
        }
    }

    fn peer(uid: u32, gid: u32, groups: &[u32]) -> Peer {
        Peer {
            pid: 1234,
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    #[test]
    fn root_only_allows_root_and_the_owner() {
        let a = Access::new(0, None);
        assert_eq!(decide(&peer(0, 0, &[]), &a), Verdict::Root);
        assert_eq!(decide(&peer(0, 100, &[]), &a), Verdict::Root);
        assert_eq!(decide(&peer(1000, 0, &[0]), &a), Verdict::Denied);
        assert_eq!(decide(&peer(65534, 65534, &[]), &a), Verdict::Denied);
        // A daemon run by another user (the tests) lets that user in.
        let a = Access::new(1000, None);
        assert_eq!(decide(&peer(1000, 1000, &[]), &a), Verdict::Owner);
        assert_eq!(decide(&peer(1001, 1000, &[1000]), &a), Verdict::Denied);
        assert_eq!(a.mode(), 0o600);
        assert!(!a.needs_groups(1001, 1000));
    }

    #[test]
    fn control_group_members_by_primary_or_supplementary_group() {
        let a = Access::new(0, Some(adm()));
        assert_eq!(a.mode(), 0o660);
        assert_eq!(decide(&peer(1000, 4, &[]), &a), Verdict::Group);
        assert_eq!(decide(&peer(1000, 1000, &[27, 4]), &a), Verdict::Group);
        assert_eq!(decide(&peer(1000, 1000, &[27, 40]), &a), Verdict::Denied);
        assert_eq!(decide(&peer(0, 0, &[]), &a), Verdict::Root);
        assert!(Verdict::Group.allowed() && !Verdict::Denied.allowed());
        // The groups are read only when they decide.
        assert!(a.needs_groups(1000, 1000));
        assert!(!a.needs_groups(1000, 4));
        assert!(!a.needs_groups(0, 1000));
    }

    #[test]
    fn access_in_words() {
        assert_eq!(Access::new(0, None).to_string(), "mode 0600, root only");
        assert_eq!(
            Access::new(0, Some(adm())).to_string(),
            "mode 0660, group adm (gid 4)"
        );
    }

    #[test]
    fn group_errors_name_the_directive_and_value() {
        let e = resolve_group("no-such-group-wackamole").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ControlGroup = no-such-group-wackamole: no such group"
        );
        // No group database has this gid (one short of the "nobody"
        // sentinel (gid_t)-1).
        let e = resolve_group("4294967294").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ControlGroup = 4294967294: no group has gid 4294967294"
        );
        let root = resolve_group("0").unwrap();
        assert_eq!(root.gid, 0);
        assert_eq!(resolve_group(&root.name).unwrap(), root);
        let a = Access::resolve(Some("0")).unwrap();
        assert_eq!(a.group(), Some(&root));
        assert_eq!(Access::resolve(None).unwrap().group(), None);
    }

    #[test]
    fn groups_from_proc_status() {
        let s = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 1000 \nNSpid:\t9\n";
        assert_eq!(groups_from_status(s), Some(vec![4, 24, 27, 1000]));
        assert_eq!(groups_from_status("Groups:\t\n"), Some(vec![]));
        assert_eq!(groups_from_status("Groups:\tx\n"), None);
        assert_eq!(groups_from_status("Name:\tsh\n"), None);
    }

    #[test]
    fn our_own_connection_reads_as_us() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let me = Uid::effective().as_raw();
        let p = read_peer(&a, &Access::new(me, None)).unwrap();
        assert_eq!(p.uid, me);
        assert_eq!(p.pid, std::process::id() as i32);
        assert!(p.groups.is_empty());
    }

    #[test]
    fn refusals_are_logged_once_per_uid_and_window() {
        let t0 = Instant::now();
        let mut log = RefusalLog::default();
        assert_eq!(log.refused(1000, t0), Some(0));
        for i in 1..=500 {
            assert_eq!(log.refused(1000, t0 + Duration::from_millis(i)), None);
        }
        // Another uid has a line of its own.
        assert_eq!(log.refused(1001, t0), Some(0));
        // After the window: one line, with the count left out.
        assert_eq!(log.refused(1000, t0 + REFUSAL_LOG_WINDOW), Some(500));
        assert_eq!(log.refused(1000, t0 + REFUSAL_LOG_WINDOW), None);
        assert_eq!(log.refused(1000, t0 + 3 * REFUSAL_LOG_WINDOW), Some(1));
        // Many uids: the map stays bounded, every new uid is logged.
        for uid in 2000..2000 + 3 * MAX_REFUSED_UIDS as u32 {
            assert_eq!(log.refused(uid, t0 + 5 * REFUSAL_LOG_WINDOW), Some(0));
        }
        assert!(log.seen.len() <= MAX_REFUSED_UIDS);
    }
}

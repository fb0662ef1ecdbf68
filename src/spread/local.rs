//! Whom a local Spread socket is trusted from. `Spread = 4803` means
//! `/tmp/4803`, in a directory every local user may write: a user who
//! binds that name before Spread starts (or after it dies) could feed
//! the root daemon any membership and message. So a Unix socket is used
//! only if it is a socket (not a link to one) owned by root or by the
//! user Spread runs as (`SpreadUser`), and, once connected, only if the
//! process at the other end runs as one of them (`SO_PEERCRED`).
//!
//! The first check gives the clear message (who owns the name); the
//! second is the one without a race, since the name can change between
//! the two calls. The decisions are pure ([`socket_refusal`],
//! [`peer_refusal`]); [`check_socket_file`] and [`check_peer`] feed them.
//! TCP is not concerned: a remote daemon is trusted by its address.

use std::fmt;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::trust::{self, Kind, Owners};

/// Why a local Spread socket is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The name is something else (a symbolic link, a regular file...).
    NotASocket { path: PathBuf, kind: Kind },
    /// The socket belongs to a user who is neither root nor `SpreadUser`.
    Owner {
        path: PathBuf,
        uid: u32,
        name: Option<String>,
        owners: Owners,
    },
    /// The process serving the socket runs as such a user.
    Peer {
        path: PathBuf,
        uid: u32,
        name: Option<String>,
        owners: Owners,
    },
    /// The other end's credentials cannot be read: it is not trusted.
    NoCredentials { path: PathBuf, reason: String },
}

impl Refusal {
    /// The same refusal with the owner's user name, for the message
    /// (looked up only when refusing: a name service may be slow).
    fn named(mut self) -> Refusal {
        if let Refusal::Owner { uid, name, .. } | Refusal::Peer { uid, name, .. } = &mut self {
            *name = trust::user_name(*uid);
        }
        self
    }
}

/// `not root or SpreadUser; set SpreadUser if Spread runs as that user`,
/// naming the `SpreadUser` in effect if there is one.
fn not_trusted(f: &mut fmt::Formatter<'_>, owners: &Owners) -> fmt::Result {
    match owners.also() {
        None => write!(
            f,
            "not root or SpreadUser; set SpreadUser if Spread runs as that user"
        ),
        Some(u) => write!(
            f,
            "not root or SpreadUser ({}, uid {}); change SpreadUser if Spread runs as that user",
            u.written, u.uid
        ),
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotASocket { path, kind } => write!(
                f,
                "refusing the Spread socket {}: it is {kind}, not a socket",
                path.display()
            ),
            Refusal::Owner {
                path,
                uid,
                name,
                owners,
            } => {
                write!(
                    f,
                    "refusing the Spread socket {}: it is owned by {}, ",
                    path.display(),
                    trust::describe_uid(*uid, name.as_deref())
                )?;
                not_trusted(f, owners)
            }
            Refusal::Peer {
                path,
                uid,
                name,
                owners,
            } => {
                write!(
                    f,
                    "refusing the Spread daemon at {}: it runs as {}, ",
                    path.display(),
                    trust::describe_uid(*uid, name.as_deref())
                )?;
                not_trusted(f, owners)
            }
            Refusal::NoCredentials { path, reason } => write!(
                f,
                "refusing the Spread daemon at {}: cannot tell whom it runs as ({reason})",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// What `lstat` of a Spread socket path says about it: `None` if it may
/// be connected to. Pure.
pub fn socket_refusal(path: &Path, kind: Kind, uid: u32, owners: &Owners) -> Option<Refusal> {
    if kind != Kind::Socket {
        Some(Refusal::NotASocket {
            path: path.to_path_buf(),
            kind,
        })
    } else if !owners.allows(uid) {
        Some(Refusal::Owner {
            path: path.to_path_buf(),
            uid,
            name: None,
            owners: owners.clone(),
        })
    } else {
        None
    }
}

/// Whether the process serving the socket (its uid from `SO_PEERCRED`)
/// is trusted. Pure.
pub fn peer_refusal(path: &Path, uid: u32, owners: &Owners) -> Option<Refusal> {
    (!owners.allows(uid)).then(|| Refusal::Peer {
        path: path.to_path_buf(),
        uid,
        name: None,
        owners: owners.clone(),
    })
}

/// Checks the name before connecting. A name that cannot be looked at
/// (none there yet) is left to `connect`, which says so as for any
/// daemon that is down.
pub fn check_socket_file(path: &Path, owners: &Owners) -> Result<(), Refusal> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => match socket_refusal(path, Kind::of(&m), m.uid(), owners) {
            Some(r) => Err(r.named()),
            None => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

/// Checks who serves a connected stream: the check without a race.
pub fn check_peer(stream: &impl AsFd, path: &Path, owners: &Owners) -> Result<(), Refusal> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    match getsockopt(stream, PeerCredentials) {
        Ok(cred) => match peer_refusal(path, cred.uid(), owners) {
            Some(r) => Err(r.named()),
            None => Ok(()),
        },
        Err(e) => Err(Refusal::NoCredentials {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::User;

    fn spread_user() -> Owners {
        Owners::root_and(User {
            written: "spread".into(),
            uid: 107,
        })
    }

    #[test]
    fn a_socket_of_root_or_spread_user_is_used() {
        let p = Path::new("/tmp/4803");
        assert_eq!(socket_refusal(p, Kind::Socket, 0, &Owners::root()), None);
        assert_eq!(socket_refusal(p, Kind::Socket, 107, &spread_user()), None);
        assert_eq!(socket_refusal(p, Kind::Socket, 0, &spread_user()), None);
        assert_eq!(peer_refusal(p, 0, &Owners::root()), None);
        assert_eq!(peer_refusal(p, 107, &spread_user()), None);
    }

    #[test]
    fn anything_else_is_refused_saying_who_owns_it() {
        let p = Path::new("/tmp/4803");
        let mut named = socket_refusal(p, Kind::Socket, 1000, &Owners::root()).unwrap();
        if let Refusal::Owner { name, .. } = &mut named {
            *name = Some("alice".into());
        }
        assert_eq!(
            named.to_string(),
            "refusing the Spread socket /tmp/4803: it is owned by uid 1000 (alice), not root or SpreadUser; set SpreadUser if Spread runs as that user"
        );
        assert_eq!(
            socket_refusal(p, Kind::Socket, 1000, &spread_user())
                .unwrap()
                .to_string(),
            "refusing the Spread socket /tmp/4803: it is owned by uid 1000, not root or SpreadUser (spread, uid 107); change SpreadUser if Spread runs as that user"
        );
        // A link is refused even when it points at a good socket: the
        // link itself is what a local user plants in /tmp.
        assert_eq!(
            socket_refusal(p, Kind::Symlink, 0, &Owners::root())
                .unwrap()
                .to_string(),
            "refusing the Spread socket /tmp/4803: it is a symbolic link, not a socket"
        );
        assert!(matches!(
            socket_refusal(p, Kind::Regular, 0, &Owners::root()),
            Some(Refusal::NotASocket {
                kind: Kind::Regular,
                ..
            })
        ));
        assert_eq!(
            peer_refusal(p, 65534, &Owners::root())
                .unwrap()
                .to_string(),
            "refusing the Spread daemon at /tmp/4803: it runs as uid 65534, not root or SpreadUser; set SpreadUser if Spread runs as that user"
        );
    }

    #[test]
    fn the_name_and_the_peer_are_checked_on_the_host() {
        use std::os::unix::net::{UnixListener, UnixStream};
        let dir = std::env::temp_dir().join(format!("wackamole-local-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("4803");
        let _l = UnixListener::bind(&sock).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let me = Owners::root_and(User {
            written: uid.to_string(),
            uid,
        });
        assert_eq!(check_socket_file(&sock, &me), Ok(()));
        let s = UnixStream::connect(&sock).unwrap();
        assert_eq!(check_peer(&s, &sock, &me), Ok(()));
        // Nothing there: left to connect.
        assert_eq!(check_socket_file(&dir.join("none"), &me), Ok(()));
        let link = dir.join("link");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        assert!(matches!(
            check_socket_file(&link, &me),
            Err(Refusal::NotASocket {
                kind: Kind::Symlink,
                ..
            })
        ));
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::lchown(&sock, Some(65534), None).unwrap();
            let e = check_socket_file(&sock, &me).unwrap_err();
            assert!(matches!(e, Refusal::Owner { uid: 65534, .. }), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

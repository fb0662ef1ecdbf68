//! Trust on this host: the words and lookups every check of a local file
//! or socket shares. The daemon runs as root, so what it reads (its
//! configuration), writes (its pid file) or listens to (the Spread
//! socket) must be something no other local user can plant or change.
//!
//! Owns: what kind of file something is ([`Kind`]), who besides its
//! owner may write it ([`Writers`]), whether anybody but root and the
//! running user could change a file ([`changeable`]), which owners are
//! trusted ([`Owners`]), naming a uid for a message ([`describe_uid`])
//! and resolving a user the configuration names ([`resolve_user`]).
//! All pure but the user-database lookups. Each caller decides what a
//! problem means where it happens (an error, a warning, a retry) and
//! says so in its own error type: `config` (the fallback
//! `./wackamole.conf`), `daemon::process` (the pid file),
//! `spread::client` (the Spread socket and its peer).

use std::fmt;

/// What a path names, from its `st_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

impl Kind {
    /// The kind the file-type bits of `mode` say.
    pub fn of_mode(mode: u32) -> Kind {
        match mode & libc::S_IFMT {
            libc::S_IFREG => Kind::Regular,
            libc::S_IFDIR => Kind::Directory,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFSOCK => Kind::Socket,
            libc::S_IFCHR => Kind::CharDevice,
            libc::S_IFBLK => Kind::BlockDevice,
            _ => Kind::Unknown,
        }
    }

    pub fn of(meta: &std::fs::Metadata) -> Kind {
        use std::os::unix::fs::MetadataExt;
        Kind::of_mode(meta.mode())
    }
}

impl fmt::Display for Kind {
    /// With its article, to read "PATH is a FIFO".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Regular => "a regular file",
            Kind::Directory => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Fifo => "a FIFO",
            Kind::Socket => "a socket",
            Kind::CharDevice => "a character device",
            Kind::BlockDevice => "a block device",
            Kind::Unknown => "a file of unknown type",
        })
    }
}

/// Who besides a file's owner may write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writers {
    Group,
    Everyone,
}

impl Writers {
    /// From the permission bits; `None` when only the owner may write.
    pub fn of_mode(mode: u32) -> Option<Writers> {
        if mode & 0o002 != 0 {
            Some(Writers::Everyone)
        } else if mode & 0o020 != 0 {
            Some(Writers::Group)
        } else {
            None
        }
    }
}

impl fmt::Display for Writers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Writers::Group => "its group",
            Writers::Everyone => "everyone",
        })
    }
}

/// Why somebody besides root and the running user could change a file
/// that root reads or runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changeable {
    /// Its group or everyone may write it (`mode`: its permission bits).
    Writable { by: Writers, mode: u32 },
    /// It belongs to another user (`name` is filled in for messages).
    Owner { uid: u32, name: Option<String> },
}

impl Changeable {
    /// What its owner does about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Changeable::Writable { .. } => "chmod go-w it",
            Changeable::Owner { .. } => "chown root it",
        }
    }

    /// The same, with the owner's user name looked up (only when it is
    /// said: a name service may be slow).
    pub fn named(mut self) -> Changeable {
        if let Changeable::Owner { uid, name } = &mut self {
            *name = user_name(*uid);
        }
        self
    }
}

impl fmt::Display for Changeable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Changeable::Writable { by, mode } => {
                write!(f, "it is writable by {by} (mode {:04o})", mode & 0o7777)
            }
            Changeable::Owner { uid, name } => write!(
                f,
                "it belongs to {}, not root",
                describe_uid(*uid, name.as_deref())
            ),
        }
    }
}

/// Whether anybody but root and `euid` could change a file owned by
/// `uid` with permission bits `mode`. Pure. (The same rule as the hooks'
/// check of a module or a script.)
pub fn changeable(uid: u32, mode: u32, euid: u32) -> Option<Changeable> {
    if let Some(by) = Writers::of_mode(mode) {
        Some(Changeable::Writable {
            by,
            mode: mode & 0o7777,
        })
    } else if uid != 0 && uid != euid {
        Some(Changeable::Owner { uid, name: None })
    } else {
        None
    }
}

/// A user a configuration names (`SpreadUser`): as written, and the uid
/// it stands for on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub written: String,
    pub uid: u32,
}

/// Who may own something the daemon trusts: root always, and at most
/// one more user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    also: Option<User>,
}

impl Owners {
    /// Root alone.
    pub fn root() -> Owners {
        Owners { also: None }
    }

    /// Root and `user`.
    pub fn root_and(user: User) -> Owners {
        Owners { also: Some(user) }
    }

    pub fn allows(&self, uid: u32) -> bool {
        uid == 0 || self.also.as_ref().is_some_and(|u| u.uid == uid)
    }

    /// The user trusted besides root, if any.
    pub fn also(&self) -> Option<&User> {
        self.also.as_ref()
    }
}

/// `uid 1000 (alice)`, or `uid 1000` for a uid without a name.
pub fn describe_uid(uid: u32, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("uid {uid} ({n})"),
        None => format!("uid {uid}"),
    }
}

/// The user name of `uid`, if the user database has one. Looked up only
/// to explain a refusal: a name service may be slow.
pub fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// Why a user named in the configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserError {
    /// No such user in the user database.
    Unknown { written: String },
    /// A number too large for a uid.
    OutOfRange { written: String },
    /// The user database could not be asked.
    Lookup { written: String, reason: String },
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserError::Unknown { written } => write!(
                f,
                "no user '{written}' on this host (expected a user name or a number)"
            ),
            UserError::OutOfRange { written } => {
                write!(f, "'{written}' is out of the range of user ids")
            }
            UserError::Lookup { written, reason } => {
                write!(f, "cannot look up user '{written}': {reason}")
            }
        }
    }
}

impl std::error::Error for UserError {}

/// The uid a configuration's user names: a number is taken as it is
/// (Spread may run under a uid without a name), a name is looked up.
pub fn resolve_user(written: &str) -> Result<User, UserError> {
    if !written.is_empty() && written.bytes().all(|b| b.is_ascii_digit()) {
        let uid = written.parse().map_err(|_| UserError::OutOfRange {
            written: written.to_string(),
        })?;
        return Ok(User {
            written: written.to_string(),
            uid,
        });
    }
    match nix::unistd::User::from_name(written) {
        Ok(Some(u)) => Ok(User {
            written: written.to_string(),
            uid: u.uid.as_raw(),
        }),
        Ok(None) => Err(UserError::Unknown {
            written: written.to_string(),
        }),
        Err(e) => Err(UserError::Lookup {
            written: written.to_string(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_modes() {
        assert_eq!(Kind::of_mode(0o100644), Kind::Regular);
        assert_eq!(Kind::of_mode(0o040755), Kind::Directory);
        assert_eq!(Kind::of_mode(0o120777), Kind::Symlink);
        assert_eq!(Kind::of_mode(0o010644), Kind::Fifo);
        assert_eq!(Kind::of_mode(0o140777), Kind::Socket);
        assert_eq!(Kind::of_mode(0o020666), Kind::CharDevice);
        assert_eq!(Kind::of_mode(0o060660), Kind::BlockDevice);
        assert_eq!(Kind::of_mode(0o000644), Kind::Unknown);
        assert_eq!(Kind::Fifo.to_string(), "a FIFO");
        assert_eq!(Kind::Symlink.to_string(), "a symbolic link");
    }

    #[test]
    fn writers_from_modes() {
        assert_eq!(Writers::of_mode(0o644), None);
        assert_eq!(Writers::of_mode(0o755), None);
        assert_eq!(Writers::of_mode(0o664), Some(Writers::Group));
        assert_eq!(Writers::of_mode(0o646), Some(Writers::Everyone));
        assert_eq!(Writers::of_mode(0o666), Some(Writers::Everyone));
    }

    #[test]
    fn only_root_and_the_running_user_may_change_a_trusted_file() {
        assert_eq!(changeable(0, 0o100644, 0), None);
        assert_eq!(changeable(0, 0o100600, 1000), None);
        assert_eq!(changeable(1000, 0o100644, 1000), None);
        let w = changeable(0, 0o100666, 0).unwrap();
        assert_eq!(w.to_string(), "it is writable by everyone (mode 0666)");
        assert_eq!(w.fix(), "chmod go-w it");
        assert_eq!(
            changeable(0, 0o100664, 0).unwrap().to_string(),
            "it is writable by its group (mode 0664)"
        );
        let o = changeable(1000, 0o100644, 0).unwrap();
        assert_eq!(o.to_string(), "it belongs to uid 1000, not root");
        assert_eq!(o.fix(), "chown root it");
        assert_eq!(
            changeable(0, 0o100644, 0).map(Changeable::named),
            None,
            "root's own"
        );
    }

    #[test]
    fn root_is_always_trusted_and_one_more_user_when_named() {
        assert!(Owners::root().allows(0));
        assert!(!Owners::root().allows(65534));
        let spread = Owners::root_and(User {
            written: "spread".into(),
            uid: 107,
        });
        assert!(spread.allows(0) && spread.allows(107));
        assert!(!spread.allows(1000));
        assert_eq!(spread.also().unwrap().written, "spread");
    }

    #[test]
    fn users_by_number_or_name() {
        assert_eq!(resolve_user("65534").unwrap().uid, 65534);
        // A uid without a name is fine: Spread may run under one.
        assert_eq!(resolve_user("4000000").unwrap().uid, 4_000_000);
        assert!(matches!(
            resolve_user("99999999999"),
            Err(UserError::OutOfRange { .. })
        ));
        assert_eq!(resolve_user("root").unwrap().uid, 0);
        let e = resolve_user("no-such-user-here").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no user 'no-such-user-here' on this host (expected a user name or a number)"
        );
        assert_eq!(describe_uid(1000, Some("alice")), "uid 1000 (alice)");
        assert_eq!(describe_uid(1000, None), "uid 1000");
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}

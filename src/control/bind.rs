//! The control socket's file: where it may be made, how it is made
//! without a moment at a wider mode, and how a reload changes its group.
//!
//! The directory that holds it must be owned by root (or the user the
//! daemon runs as) and writable by no one else, and no directory above
//! it writable by others without the sticky bit: otherwise another user
//! could put a socket of their own at the path, or move ours away.
//! [`check_dir_chain`] decides that from the directories' modes and
//! owners alone.
//!
//! The socket is bound inside a private directory (mode 0700) made next
//! to the path, given its mode and group there, and renamed into place.
//! Setting the process umask around `bind` would do the same in a
//! single-threaded daemon, but the umask is process-wide: any thread
//! creating a file meanwhile (the test harness runs many) would get it.
//! The rename also replaces a stale socket in one step. At the path,
//! only a socket is ever replaced: a file, a directory or a symbolic
//! link there is left alone and refused.

use std::fmt;
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::access::{user_text, Access};
use super::client::describe;
use crate::trust::Writers;

/// The longest path a Unix socket address holds (`sun_path` less the NUL).
pub const MAX_PATH: usize = 107;

/// Where the advice of a directory error points.
const ADVICE: &str = "put Control in a directory only root can write, such as /var/run";

/// A directory, as [`check_dir_chain`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirStat {
    pub path: PathBuf,
    /// `st_mode`: the type and the permission bits.
    pub mode: u32,
    pub uid: u32,
}

/// Why the socket's directory is not safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirProblem {
    NotADirectory,
    /// Writable by group or others (the sticky bit does not help here:
    /// anyone could create the path before the daemon does).
    Writable {
        by: Writers,
        mode: u32,
    },
    /// Owned by neither root nor the daemon's user.
    Owner {
        uid: u32,
    },
    /// A directory above it is writable by others without the sticky
    /// bit (they could rename the socket's directory away).
    AncestorWritable {
        ancestor: PathBuf,
        mode: u32,
    },
    /// A directory above it belongs to another user.
    AncestorOwner {
        ancestor: PathBuf,
        uid: u32,
    },
}

/// Why the control socket cannot be made (or its group changed).
#[derive(Debug)]
pub enum BindError {
    Empty,
    TooLong {
        path: PathBuf,
        len: usize,
    },
    UnsafeDir {
        dir: PathBuf,
        problem: DirProblem,
    },
    /// Something that is not a socket is at the path.
    NotASocket {
        path: PathBuf,
        kind: &'static str,
    },
    /// A process answers on the socket at the path.
    InUse {
        path: PathBuf,
    },
    /// The socket at the path is not the one this daemon made.
    NotOurs {
        path: PathBuf,
    },
    Io {
        /// What was being done, as in "cannot {doing} {path}".
        doing: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Empty => f.write_str("the control socket path is empty"),
            BindError::TooLong { path, len } => write!(
                f,
                "the control socket path {} is {len} bytes; a Unix socket path holds at most {MAX_PATH}",
                path.display()
            ),
            BindError::UnsafeDir { dir, problem } => {
                let dir = dir.display();
                match problem {
                    DirProblem::NotADirectory => {
                        write!(f, "control socket directory {dir} is not a directory")
                    }
                    DirProblem::Writable { by, mode } => write!(
                        f,
                        "control socket directory {dir} is writable by {} (mode {mode:04o}); {ADVICE}",
                        match by {
                            Writers::Group => "its group",
                            Writers::Everyone => "others",
                        },
                    ),
                    DirProblem::Owner { uid } => write!(
                        f,
                        "control socket directory {dir} belongs to uid {}, not root; {ADVICE}",
                        user_text(*uid)
                    ),
                    DirProblem::AncestorWritable { ancestor, mode } => write!(
                        f,
                        "control socket directory {dir} is inside {}, which is writable by others without the sticky bit (mode {mode:04o}); {ADVICE}",
                        ancestor.display()
                    ),
                    DirProblem::AncestorOwner { ancestor, uid } => write!(
                        f,
                        "control socket directory {dir} is inside {}, which belongs to uid {}, not root; {ADVICE}",
                        ancestor.display(),
                        user_text(*uid)
                    ),
                }
            }
            BindError::NotASocket { path, kind } => write!(
                f,
                "{} is {kind}, not a socket; not replacing it with the control socket (remove it, or choose another Control path)",
                path.display()
            ),
            BindError::InUse { path } => write!(
                f,
                "another process is serving the control socket {} (is wackamole already running?)",
                path.display()
            ),
            BindError::NotOurs { path } => write!(
                f,
                "the control socket {} has been removed or replaced since wackamole made it",
                path.display()
            ),
            BindError::Io {
                doing,
                path,
                source,
            } => write!(f, "cannot {doing} {}: {}", path.display(), describe(source)),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl BindError {
    /// The `io::ErrorKind` closest to this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BindError::Empty | BindError::TooLong { .. } => ErrorKind::InvalidInput,
            BindError::UnsafeDir { .. } => ErrorKind::PermissionDenied,
            BindError::NotASocket { .. } => ErrorKind::AlreadyExists,
            BindError::InUse { .. } => ErrorKind::AddrInUse,
            BindError::NotOurs { .. } => ErrorKind::NotFound,
            BindError::Io { source, .. } => source.kind(),
        }
    }
}

fn io_err<'a>(doing: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BindError + 'a {
    move |source| BindError::Io {
        doing,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether the socket may live in `chain[0]`, given that directory and
/// every one above it up to `/` (as the kernel resolves them: no
/// symbolic links), for a daemon running as `me`. The directory itself
/// must be owned by root or `me` and writable by no one else; each one
/// above by root or `me`, and if writable by others, sticky (as `/tmp`).
pub fn check_dir_chain(chain: &[DirStat], me: u32) -> Result<(), DirProblem> {
    let trusted = |uid: u32| uid == 0 || uid == me;
    let Some((dir, above)) = chain.split_first() else {
        return Ok(());
    };
    if dir.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(DirProblem::NotADirectory);
    }
    let perm = dir.mode & 0o7777;
    if let Some(by) = Writers::of_mode(perm) {
        return Err(DirProblem::Writable { by, mode: perm });
    }
    if !trusted(dir.uid) {
        return Err(DirProblem::Owner { uid: dir.uid });
    }
    for a in above {
        let perm = a.mode & 0o7777;
        if perm & 0o022 != 0 && perm & 0o1000 == 0 {
            return Err(DirProblem::AncestorWritable {
                ancestor: a.path.clone(),
                mode: perm,
            });
        }
        if !trusted(a.uid) {
            return Err(DirProblem::AncestorOwner {
                ancestor: a.path.clone(),
                uid: a.uid,
            });
        }
    }
    Ok(())
}

/// The directory that holds `path` (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads what [`check_dir_chain`] needs of `dir` and the directories
/// above it, and checks it.
fn check_dir(dir: &Path) -> Result<(), BindError> {
    let real =
        std::fs::canonicalize(dir).map_err(io_err("find the control socket directory", dir))?;
    let mut chain = Vec::new();
    for d in real.ancestors() {
        let m = std::fs::symlink_metadata(d)
            .map_err(io_err("inspect the control socket directory", d))?;
        chain.push(DirStat {
            path: d.to_path_buf(),
            mode: m.mode(),
            uid: m.uid(),
        });
    }
    let me = nix::unistd::Uid::effective().as_raw();
    check_dir_chain(&chain, me).map_err(|problem| BindError::UnsafeDir {
        dir: dir.to_path_buf(),
        problem,
    })
}

/// What is at the path, in words.
fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "something else"
    }
}

/// Nothing at `path`, or a socket no process answers on (which the
/// new one replaces). Never follows a symbolic link.
fn check_existing(path: &Path) -> Result<(), BindError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(BindError::InUse {
                    path: path.to_path_buf(),
                });
            }
            Ok(())
        }
        Ok(m) => Err(BindError::NotASocket {
            path: path.to_path_buf(),
            kind: kind_of(m.file_type()),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("inspect", path)(e)),
    }
}

/// A directory of mode 0700 beside the socket's path, where the socket
/// is made before it is renamed into place; removed on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create(dir: &Path) -> Result<PrivateDir, BindError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let p = dir.join(format!(".wackamole-ctl.{}.{n}", std::process::id()));
        let mkdir = || std::fs::DirBuilder::new().mode(0o700).create(&p);
        match mkdir() {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // Left by a crashed process of the same pid: the
                // directory is ours (no one else can write here).
                let _ = std::fs::remove_dir_all(&p);
                mkdir()
            }
            r => r,
        }
        .map_err(io_err("create a directory in", dir))?;
        Ok(PrivateDir(p))
    }

    fn sock(&self) -> PathBuf {
        self.0.join("s")
    }

    /// Binds the socket in the directory. A path too long for a socket
    /// address is reached through `/proc/self/fd` instead.
    fn bind(&self) -> Result<std::os::unix::net::UnixListener, BindError> {
        let sock = self.sock();
        let bound = if sock.as_os_str().len() <= MAX_PATH {
            std::os::unix::net::UnixListener::bind(&sock)
        } else {
            std::fs::File::open(&self.0).and_then(|d| {
                let short = format!("/proc/self/fd/{}/s", d.as_raw_fd());
                std::os::unix::net::UnixListener::bind(short)
            })
        };
        bound.map_err(io_err("create the control socket in", &self.0))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.sock());
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), BindError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("set the mode of", path))
}

fn set_group(path: &Path, gid: u32) -> Result<(), BindError> {
    std::os::unix::fs::lchown(path, None, Some(gid)).map_err(io_err("set the group of", path))
}

/// The socket's device and inode, which tell ours from a successor's.
pub type Ident = (u64, u64);

fn ident_of(m: &std::fs::Metadata) -> Ident {
    (m.dev(), m.ino())
}

/// The socket at `path`, if it is a socket: its identity.
pub fn ident_at(path: &Path) -> Option<Ident> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_socket())
        .map(|m| ident_of(&m))
}

/// Makes the control socket at `path` with the mode and group `access`
/// asks for, never reachable at a wider mode; see the module's text.
pub fn create(
    path: &Path,
    access: &Access,
) -> Result<(std::os::unix::net::UnixListener, Ident), BindError> {
    let len = path.as_os_str().len();
    if len == 0 {
        return Err(BindError::Empty);
    }
    if len > MAX_PATH {
        return Err(BindError::TooLong {
            path: path.to_path_buf(),
            len,
        });
    }
    let dir = dir_of(path);
    check_dir(&dir)?;
    check_existing(path)?;
    let private = PrivateDir::create(&dir)?;
    let listener = private.bind()?;
    let sock = private.sock();
    set_mode(&sock, 0o600)?;
    if let Some(g) = access.group() {
        set_group(&sock, g.gid)?;
        set_mode(&sock, 0o660)?;
    }
    let ident = std::fs::symlink_metadata(&sock)
        .map(|m| ident_of(&m))
        .map_err(io_err("inspect", &sock))?;
    std::fs::rename(&sock, path).map_err(io_err("create the control socket", path))?;
    drop(private);
    Ok((listener, ident))
}

/// Gives the socket we made at `path` the mode and group of `access`
/// (a reload that changed `ControlGroup`), in the order that never
/// opens it wider than the old or the new policy: a group is set while
/// the mode still keeps it out (or already let the old group in), the
/// mode closed before the group is taken away.
pub fn reapply(path: &Path, ident: Ident, access: &Access) -> Result<(), BindError> {
    if ident_at(path) != Some(ident) {
        return Err(BindError::NotOurs {
            path: path.to_path_buf(),
        });
    }
    match access.group() {
        Some(g) => {
            set_group(path, g.gid)?;
            set_mode(path, 0o660)
        }
        None => {
            set_mode(path, 0o600)?;
            set_group(path, nix::unistd::getegid().as_raw())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &str, mode: u32, uid: u32) -> DirStat {
        DirStat {
            path: path.into(),
            mode: libc::S_IFDIR | mode,
            uid,
        }
    }

    #[test]
    fn a_root_only_directory_under_root_only_ones_is_safe() {
        let chain = [
            dir("/var/run", 0o755, 0),
            dir("/var", 0o755, 0),
            dir("/", 0o755, 0),
        ];
        assert_eq!(check_dir_chain(&chain, 0), Ok(()));
        // Under a sticky /tmp, a private directory is fine.
        let chain = [
            dir("/tmp/w", 0o700, 0),
            dir("/tmp", 0o1777, 0),
            dir("/", 0o755, 0),
        ];
        assert_eq!(check_dir_chain(&chain, 0), Ok(()));
        // A daemon run by another user (the tests) in its own directory.
        let chain = [dir("/home/t/w", 0o755, 1000), dir("/home/t", 0o750, 1000)];
        assert_eq!(check_dir_chain(&chain, 1000), Ok(()));
    }

    #[test]
    fn tmp_itself_is_refused_with_the_reason_and_the_way_out() {
        let chain = [dir("/tmp", 0o1777, 0), dir("/", 0o755, 0)];
        let problem = check_dir_chain(&chain, 0).unwrap_err();
        assert_eq!(
            problem,
            DirProblem::Writable {
                by: Writers::Everyone,
                mode: 0o1777
            }
        );
        let e = BindError::UnsafeDir {
            dir: "/tmp".into(),
            problem,
        };
        assert_eq!(
            e.to_string(),
            "control socket directory /tmp is writable by others (mode 1777); put Control in a directory only root can write, such as /var/run"
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    }

    #[test]
    fn group_writable_foreign_or_not_a_directory_is_refused() {
        let up = dir("/", 0o755, 0);
        let check = |d: DirStat| check_dir_chain(&[d, up.clone()], 0);
        assert_eq!(
            check(dir("/run/w", 0o775, 0)),
            Err(DirProblem::Writable {
                by: Writers::Group,
                mode: 0o775
            })
        );
        assert_eq!(
            check(dir("/run/w", 0o755, 1000)),
            Err(DirProblem::Owner { uid: 1000 })
        );
        let file = DirStat {
            path: "/run/w".into(),
            mode: libc::S_IFREG | 0o644,
            uid: 0,
        };
        assert_eq!(check(file), Err(DirProblem::NotADirectory));
        let e = BindError::UnsafeDir {
            dir: "/run/w".into(),
            problem: DirProblem::Writable {
                by: Writers::Group,
                mode: 0o2775,
            },
        };
        assert_eq!(
            e.to_string(),
            "control socket directory /run/w is writable by its group (mode 2775); put Control in a directory only root can write, such as /var/run"
        );
    }

    #[test]
    fn an_ancestor_others_may_write_without_sticky_bit_or_own_is_refused() {
        let chain = [
            dir("/srv/shared/run", 0o755, 0),
            dir("/srv/shared", 0o777, 0),
            dir("/srv", 0o755, 0),
        ];
        let problem = check_dir_chain(&chain, 0).unwrap_err();
        assert_eq!(
            problem,
            DirProblem::AncestorWritable {
                ancestor: "/srv/shared".into(),
                mode: 0o777
            }
        );
        assert_eq!(
            BindError::UnsafeDir {
                dir: "/srv/shared/run".into(),
                problem
            }
            .to_string(),
            "control socket directory /srv/shared/run is inside /srv/shared, which is writable by others without the sticky bit (mode 0777); put Control in a directory only root can write, such as /var/run"
        );
        let chain = [dir("/home/a/run", 0o755, 0), dir("/home/a", 0o755, 1000)];
        assert_eq!(
            check_dir_chain(&chain, 0),
            Err(DirProblem::AncestorOwner {
                ancestor: "/home/a".into(),
                uid: 1000
            })
        );
    }

    #[test]
    fn other_errors_in_words() {
        assert_eq!(
            BindError::NotASocket {
                path: "/run/w.sock".into(),
                kind: "a regular file"
            }
            .to_string(),
            "/run/w.sock is a regular file, not a socket; not replacing it with the control socket (remove it, or choose another Control path)"
        );
        let e = BindError::Io {
            doing: "create the control socket",
            path: "/run/w.sock".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            e.to_string(),
            "cannot create the control socket /run/w.sock: Permission denied"
        );
        assert_eq!(dir_of(Path::new("w.sock")), Path::new("."));
        assert_eq!(dir_of(Path::new("/w.sock")), Path::new("/"));
    }
}

//! Process life: the root check, detaching from the terminal, the pid
//! file.
//!
//! C forked twice. This daemon detaches by running itself again as a
//! child (with `WACKAMOLE_DETACHED` set) that starts a new session:
//! no fork in a process that holds sockets, and no `unsafe`. The parent
//! returns once the child has written its pid file, so an init script
//! that checks the pid file right after start finds it.
//!
//! The pid file is locked (`flock`) for the daemon's life: the lock says
//! whether a daemon runs, not the pid in the file, which a crash leaves
//! behind and another process may have reused. It is opened without
//! following a symbolic link, without blocking on a FIFO and without
//! truncating, and used only if it is a regular file of root's with one
//! name: a local user who plants a link at the `-p` path in a writable
//! directory cannot make root overwrite the link's target.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::trust::{self, Kind};

/// Where the pid file goes without `-p` (the build may set it).
pub const DEFAULT_PIDFILE: &str = match option_env!("WACKAMOLE_PIDFILE") {
    Some(p) => p,
    None => "/var/run/wackamole.pid",
};

/// Set in the environment of the detached child.
pub const DETACHED_ENV: &str = "WACKAMOLE_DETACHED";

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True in the child that [`detach`] started.
pub fn is_detached_child() -> bool {
    std::env::var_os(DETACHED_ENV).is_some()
}

/// Why [`detach`] failed.
#[derive(Debug)]
pub enum DetachError {
    /// The path of this program cannot be found.
    NoProgram(io::Error),
    /// The background child does not start.
    Spawn(io::Error),
    /// The child exited before writing the pid file.
    Stopped(ExitStatus),
    /// The child did not write the pid file in time.
    TimedOut { pid: u32, pidfile: PathBuf },
}

impl fmt::Display for DetachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetachError::NoProgram(e) => write!(f, "cannot find this program: {e}"),
            DetachError::Spawn(e) => write!(f, "cannot start the daemon: {e}"),
            DetachError::Stopped(status) => write!(
                f,
                "the daemon stopped at start ({status}); see the system log"
            ),
            DetachError::TimedOut { pid, pidfile } => write!(
                f,
                "the daemon (pid {pid}) did not write {} in time",
                pidfile.display()
            ),
        }
    }
}

impl std::error::Error for DetachError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DetachError::NoProgram(e) | DetachError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Starts this program again in the background with `args`, and waits
/// until it has written `pidfile` (or died). Returns its pid.
pub fn detach(args: &[String], pidfile: &Path) -> Result<u32, DetachError> {
    let exe = std::env::current_exe().map_err(DetachError::NoProgram)?;
    let mut child = Command::new(exe)
        .args(args)
        .env(DETACHED_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(DetachError::Spawn)?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if read_pid(pidfile) == Some(pid) {
            return Ok(pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(DetachError::Stopped(status));
        }
        if Instant::now() > deadline {
            return Err(DetachError::TimedOut {
                pid,
                pidfile: pidfile.to_path_buf(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// In the detached child: a new session, `/` as working directory, and
/// umask 027, as C's daemon mode.
pub fn become_daemon() -> io::Result<()> {
    nix::unistd::setsid().map_err(io::Error::from)?;
    std::env::set_current_dir("/")?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
    Ok(())
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Why the pid file cannot be taken.
#[derive(Debug)]
pub enum PidFileError {
    /// Another process holds its lock: a wackamole runs (or is starting)
    /// with this pid file. `pid` is what the file says, if anything yet.
    Running { path: PathBuf, pid: Option<u32> },
    /// Not a regular file (a symbolic link, a FIFO, a directory...).
    NotRegular { path: PathBuf, kind: Kind },
    /// A regular file that belongs to another user.
    Owner { path: PathBuf, uid: u32 },
    /// A file with more than one name: writing it would change another.
    Links { path: PathBuf, count: u64 },
    /// The name kept pointing at another file while it was being locked.
    Unstable { path: PathBuf },
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
}

/// What to do about a refused pid file.
const ADVICE: &str = "remove it, or give another path with -p";

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidFileError::Running {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "wackamole is already running (pid {pid} holds the lock on {})",
                path.display()
            ),
            PidFileError::Running { path, pid: None } => write!(
                f,
                "wackamole is already running or starting (another process holds the lock on {})",
                path.display()
            ),
            PidFileError::NotRegular { path, kind } => write!(
                f,
                "refusing the pid file {}: it is {kind}, not a regular file; {ADVICE}",
                path.display()
            ),
            PidFileError::Owner { path, uid } => write!(
                f,
                "refusing the pid file {}: it belongs to {}, not root; {ADVICE}",
                path.display(),
                trust::describe_uid(*uid, trust::user_name(*uid).as_deref())
            ),
            PidFileError::Links { path, count } => write!(
                f,
                "refusing the pid file {}: it has {count} hard links, so writing it would change another file; {ADVICE}",
                path.display()
            ),
            PidFileError::Unstable { path } => write!(
                f,
                "refusing the pid file {}: it was replaced again and again while being locked",
                path.display()
            ),
            PidFileError::Io { path, what, source } => {
                write!(f, "cannot {what} the pid file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for PidFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PidFileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why an opened pid file must not be used: anything but a regular file
/// with one name that belongs to the daemon's user. Pure.
fn refusal(path: &Path, kind: Kind, uid: u32, links: u64, euid: u32) -> Option<PidFileError> {
    let path = path.to_path_buf();
    if kind != Kind::Regular {
        Some(PidFileError::NotRegular { path, kind })
    } else if uid != euid {
        Some(PidFileError::Owner { path, uid })
    } else if links > 1 {
        Some(PidFileError::Links { path, count: links })
    } else {
        None
    }
}

/// Opens the pid file without following a symbolic link and without
/// blocking on a FIFO (`O_NOFOLLOW|O_NONBLOCK`), never truncating it
/// (it may be another daemon's), and refuses what is not a plain file of
/// ours, judged on the opened file. `None`: there is none and `create`
/// is false.
fn open_checked(path: &Path, create: bool) -> Result<Option<File>, PidFileError> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if !create && e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A symbolic link (ELOOP), a socket (ENXIO), a directory
        // (EISDIR): say what is there rather than the errno.
        Err(source) => {
            return Err(match std::fs::symlink_metadata(path) {
                Ok(m) if Kind::of(&m) != Kind::Regular => PidFileError::NotRegular {
                    path: path.to_path_buf(),
                    kind: Kind::of(&m),
                },
                _ => PidFileError::Io {
                    path: path.to_path_buf(),
                    what: "open",
                    source,
                },
            })
        }
    };
    let meta = file.metadata().map_err(|source| PidFileError::Io {
        path: path.to_path_buf(),
        what: "open",
        source,
    })?;
    let euid = nix::unistd::geteuid().as_raw();
    match refusal(path, Kind::of(&meta), meta.uid(), meta.nlink(), euid) {
        Some(r) => Err(r),
        None => Ok(Some(file)),
    }
}

/// Takes the lock, or says who holds it.
fn lock(file: File, path: &Path) -> Result<Flock<File>, PidFileError> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(locked),
        Err((file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = (&file).read_to_string(&mut text);
            Err(PidFileError::Running {
                path: path.to_path_buf(),
                pid: text.trim().parse().ok(),
            })
        }
        Err((_, e)) => Err(PidFileError::Io {
            path: path.to_path_buf(),
            what: "lock",
            source: e.into(),
        }),
    }
}

/// The pid file, locked (`flock`) for as long as this value lives: the
/// lock, not the pid written in it, says whether a daemon runs, so a
/// stale file (a crash) is simply taken over even when its pid has been
/// reused, and two daemons never share one. Removed on drop if the name
/// still names it.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: Flock<File>,
    /// Device and inode of the locked file.
    id: (u64, u64),
}

/// How often the name may turn out to name another file after locking.
const LOCK_TRIES: usize = 5;

impl PidFile {
    /// Opens (creating it, mode 0644) and locks the pid file, then
    /// empties it: an empty locked file is a daemon starting. Refuses a
    /// symbolic link, a FIFO, a directory, any other non-regular file, a
    /// file of another user's or with other names, and a file another
    /// process holds locked.
    pub fn lock(path: &Path) -> Result<PidFile, PidFileError> {
        let io = |what, source| PidFileError::Io {
            path: path.to_path_buf(),
            what,
            source,
        };
        for _ in 0..LOCK_TRIES {
            let file = open_checked(path, true)?.expect("created if missing");
            let file = lock(file, path)?;
            let meta = file.metadata().map_err(|e| io("lock", e))?;
            let id = (meta.dev(), meta.ino());
            // A daemon that exits removes its file while it holds the
            // lock: a lock won on that file is on a file nobody finds.
            match std::fs::symlink_metadata(path) {
                Ok(m) if (m.dev(), m.ino()) == id => {}
                _ => continue,
            }
            file.set_len(0).map_err(|e| io("write", e))?;
            // Readable by all (init scripts), whatever the umask or a
            // stale file's mode.
            file.set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|e| io("write", e))?;
            return Ok(PidFile {
                path: path.to_path_buf(),
                file,
                id,
            });
        }
        Err(PidFileError::Unstable {
            path: path.to_path_buf(),
        })
    }

    /// Writes `"<pid>\n"`: the daemon is up.
    pub fn write_pid(&self) -> Result<(), PidFileError> {
        let text = format!("{}\n", std::process::id());
        self.file
            .set_len(0)
            .and_then(|()| self.file.write_all_at(text.as_bytes(), 0))
            .map_err(|source| PidFileError::Io {
                path: self.path.clone(),
                what: "write",
                source,
            })
    }

    /// What [`PidFile::lock`] would refuse, checked without creating
    /// the file or keeping the lock: the launcher asks before it starts
    /// the background daemon, so the answer reaches the terminal.
    pub fn probe(path: &Path) -> Result<(), PidFileError> {
        match open_checked(path, false)? {
            None => Ok(()),
            Some(file) => lock(file, path).map(drop),
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only our own file: the lock is still held here, and a name
        // that now names another file is somebody else's.
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wackamole-pid-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_a_regular_file_of_ours_with_one_name_is_used() {
        let p = Path::new("/run/w.pid");
        assert!(refusal(p, Kind::Regular, 0, 1, 0).is_none());
        let r = |kind, uid, links| refusal(p, kind, uid, links, 0).unwrap().to_string();
        assert_eq!(
            r(Kind::Symlink, 0, 1),
            "refusing the pid file /run/w.pid: it is a symbolic link, not a regular file; remove it, or give another path with -p"
        );
        assert!(r(Kind::Fifo, 0, 1).contains("it is a FIFO, not a regular file"));
        assert!(r(Kind::Directory, 0, 1).contains("it is a directory"));
        assert!(r(Kind::CharDevice, 0, 1).contains("it is a character device"));
        assert!(
            r(Kind::Regular, 4_000_123, 1).starts_with(
                "refusing the pid file /run/w.pid: it belongs to uid 4000123, not root"
            ),
            "{}",
            r(Kind::Regular, 4_000_123, 1)
        );
        assert!(r(Kind::Regular, 0, 2).contains("it has 2 hard links"));
        let running = PidFileError::Running {
            path: p.into(),
            pid: Some(42),
        };
        assert_eq!(
            running.to_string(),
            "wackamole is already running (pid 42 holds the lock on /run/w.pid)"
        );
    }

    #[test]
    fn the_lock_says_who_runs_not_the_pid_in_the_file() {
        let dir = scratch("lock");
        let p = dir.join("w.pid");
        // A stale file naming a live process (this one's parent, say, or
        // init) is taken over: nobody holds its lock.
        std::fs::write(&p, "1\n").unwrap();
        let f = PidFile::lock(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "",
            "emptied while starting"
        );
        f.write_pid().unwrap();
        let me = format!("{}\n", std::process::id());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), me);
        assert_eq!(read_pid(&p), Some(std::process::id()));
        // A second taker (another open file description) is refused.
        let e = PidFile::lock(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "wackamole is already running (pid {} holds the lock on {})",
                std::process::id(),
                p.display()
            )
        );
        assert!(PidFile::probe(&p).is_err());
        drop(f);
        assert!(!p.exists(), "removed on drop");
        assert!(PidFile::probe(&p).is_ok(), "none: nothing to refuse");
        assert!(!p.exists(), "a probe creates nothing");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_is_no_longer_ours_is_left_at_exit() {
        let dir = scratch("gone");
        let p = dir.join("w.pid");
        let f = PidFile::lock(&p).unwrap();
        f.write_pid().unwrap();
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "other\n").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "other\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn links_fifos_and_directories_are_refused_untouched() {
        let dir = scratch("kinds");
        let target = dir.join("precious");
        std::fs::write(&target, "keep me\n").unwrap();
        let link = dir.join("link.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = PidFile::lock(&link).unwrap_err();
        assert!(
            matches!(
                e,
                PidFileError::NotRegular {
                    kind: Kind::Symlink,
                    ..
                }
            ),
            "{e}"
        );
        assert!(PidFile::probe(&link).is_err());
        // A dangling link is not followed to create its target either.
        let dangling = dir.join("dangling.pid");
        std::os::unix::fs::symlink(dir.join("created"), &dangling).unwrap();
        assert!(PidFile::lock(&dangling).is_err());
        assert!(!dir.join("created").exists());
        let fifo = dir.join("fifo.pid");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let e = PidFile::lock(&fifo).unwrap_err();
        assert!(
            matches!(
                e,
                PidFileError::NotRegular {
                    kind: Kind::Fifo,
                    ..
                }
            ),
            "{e}"
        );
        let sub = dir.join("dir.pid");
        std::fs::create_dir(&sub).unwrap();
        let e = PidFile::lock(&sub).unwrap_err();
        assert!(
            matches!(
                e,
                PidFileError::NotRegular {
                    kind: Kind::Directory,
                    ..
                }
            ),
            "{e}"
        );
        let hard = dir.join("hard.pid");
        std::fs::hard_link(&target, &hard).unwrap();
        let e = PidFile::lock(&hard).unwrap_err();
        assert!(matches!(e, PidFileError::Links { count: 2, .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Process life: the root check, detaching from the terminal, the pid
//! file.
//!
//! C forked twice. This daemon detaches by running itself again as a
//! child (with `WACKAMOLE_DETACHED` set) that starts a new session:
//! no fork in a process that holds sockets, and no `unsafe`. The parent
//! returns once the child has written its pid file, so an init script
//! that checks the pid file right after start finds it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

fn alive(pid: u32) -> bool {
    let Ok(p) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok()
}

/// Why [`PidFile::create`] failed.
#[derive(Debug)]
pub enum PidFileError {
    /// The file names a process that is running.
    Running {
        path: PathBuf,
        pid: u32,
    },
    Write {
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidFileError::Running { path, pid } => write!(
                f,
                "{} names pid {pid}, which is running: is wackamole running already?",
                path.display()
            ),
            PidFileError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for PidFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PidFileError::Write { source, .. } => Some(source),
            PidFileError::Running { .. } => None,
        }
    }
}

/// The pid file, removed on drop.
#[derive(Debug)]
pub struct PidFile(PathBuf);

impl PidFile {
    /// Writes `"<pid>\n"` (mode 0644). Refuses when the file names a
    /// process that is still running.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        if let Some(pid) = read_pid(path) {
            if pid != std::process::id() && alive(pid) {
                return Err(PidFileError::Running {
                    path: path.to_path_buf(),
                    pid,
                });
            }
        }
        std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
            PidFileError::Write {
                path: path.to_path_buf(),
                source,
            }
        })?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.0) == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files() {
        let dir = std::env::temp_dir().join(format!("wackamole-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("w.pid");
        {
            let _f = PidFile::create(&p).unwrap();
            assert_eq!(
                std::fs::read_to_string(&p).unwrap(),
                format!("{}\n", std::process::id())
            );
        }
        assert!(!p.exists(), "removed on drop");
        // A stale file (no such process) is replaced; a live one refuses.
        std::fs::write(&p, "999999999\n").unwrap();
        drop(PidFile::create(&p).unwrap());
        let me = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        std::fs::write(&p, format!("{}\n", me.id())).unwrap();
        let e = PidFile::create(&p).unwrap_err().to_string();
        assert!(e.contains("is wackamole running already?"), "{e}");
        let mut me = me;
        let _ = me.kill();
        let _ = me.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

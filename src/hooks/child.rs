//! One child: its process, its captured stderr, its deadlines, and how
//! it ended; and how a hook's end is reported ([`Finished`]).

use std::fmt;
use std::io::{self, Read};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use super::runner::{FAILED_STATUS, FAILURE_PREFIX};
use crate::config::{HookEvent, VifId};

/// At most this much of a child's stderr is kept; the rest is counted.
pub const MAX_CAPTURE: usize = 4096;

/// The first check for a child's exit, after its start; the interval
/// then doubles up to [`MAX_CHECK`].
pub const FIRST_CHECK: Duration = Duration::from_millis(10);
pub const MAX_CHECK: Duration = Duration::from_millis(500);

/// Reads per drain, so that a child writing without pause cannot keep
/// the daemon in one.
const MAX_READS: usize = 64;

/// How a hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status: for `RunDynamic` the function's
    /// return value (clamped to 0–255), for a Perl sub its return value
    /// (likewise; 255 when it died), for `RunScript` the program's.
    Exited(u8),
    /// A signal ended it (a crash: 11 is SIGSEGV).
    Signaled(i32),
    /// It ran past the limit and was killed, with all it started.
    TimedOut(Duration),
    /// The function could not be called: no module, a module refused
    /// (writable by others), not loadable, or no such function.
    Failed(String),
    /// Waiting for it failed (should not happen).
    Lost(String),
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exit status {code}"),
            Outcome::Signaled(sig) => match signal_name(*sig) {
                Some(name) => write!(f, "killed by signal {sig} ({name})"),
                None => write!(f, "killed by signal {sig}"),
            },
            Outcome::TimedOut(limit) => {
                write!(f, "still running after {} ms: killed", limit.as_millis())
            }
            Outcome::Failed(why) => write!(f, "not called: {why}"),
            Outcome::Lost(why) => write!(f, "lost: {why}"),
        }
    }
}

/// A hook that has ended, for the daemon to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// `RunDynamic m:f`, `RunDynamic Pkg::sub` or `RunScript /path`.
    pub hook: String,
    pub event: HookEvent,
    /// The VIF, for `on` events.
    pub vif: Option<VifId>,
    /// The VIF's first address, for `on` events.
    pub vip: Option<IpAddr>,
    /// The check's program, for `check` events.
    pub check: Option<PathBuf>,
    pub pid: u32,
    pub outcome: Outcome,
    /// What it wrote on stderr (at most [`MAX_CAPTURE`] bytes, then a
    /// note of how much more), lossily UTF-8.
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    /// Exit status 0.
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Exited(0)
    }
}

/// `HOOK (EVENT[ VIP | CHECK])`, the way every hook message starts.
pub(super) fn what(
    hook: &str,
    event: HookEvent,
    vip: Option<IpAddr>,
    check: Option<&PathBuf>,
) -> String {
    match (vip, check) {
        (Some(ip), _) => format!("{hook} ({} {ip})", event.as_str()),
        (None, Some(c)) => format!("{hook} ({} {})", event.as_str(), c.display()),
        (None, None) => format!("{hook} ({})", event.as_str()),
    }
}

impl fmt::Display for Finished {
    /// One line: `RunScript /x (on up 192.0.2.10): exit status 0 after
    /// 4 ms`, then `; stderr: ...` with its lines joined by ` / `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            what(&self.hook, self.event, self.vip, self.check.as_ref()),
            self.outcome
        )?;
        if matches!(self.outcome, Outcome::Exited(_) | Outcome::Signaled(_)) {
            write!(f, " after {} ms", self.elapsed.as_millis())?;
        }
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        if !lines.is_empty() {
            write!(f, "; stderr: {}", lines.join(" / "))?;
        }
        Ok(())
    }
}

/// How a child ended, whatever it ran for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub pid: u32,
    pub outcome: Outcome,
    /// What it wrote on stderr (at most [`MAX_CAPTURE`] bytes, then a
    /// note of how much more), lossily UTF-8.
    pub stderr: String,
    pub elapsed: Duration,
}

/// A child not yet reaped.
#[derive(Debug)]
pub(super) struct Running {
    pub child: Child,
    /// Started through the runner: its failure line means `Failed`.
    pub via_runner: bool,
    pub started: Instant,
    /// Its time limit, and the moment it runs out.
    pub limit: Duration,
    pub deadline: Instant,
    pub next_check: Instant,
    pub interval: Duration,
    pub stderr: UnixStream,
    pub captured: Vec<u8>,
    pub dropped: usize,
}

impl Running {
    /// Reads what the child wrote so far, without blocking.
    pub fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        for _ in 0..MAX_READS {
            match self.stderr.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let keep = n.min(MAX_CAPTURE - self.captured.len());
                    self.captured.extend_from_slice(&buf[..keep]);
                    self.dropped += n - keep;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    /// Pushes the next look at the child back (doubling the interval),
    /// never past its deadline.
    pub fn reschedule(&mut self, now: Instant) {
        if now >= self.next_check {
            self.interval = (self.interval * 2).min(MAX_CHECK);
            self.next_check = now + self.interval;
        }
        self.next_check = self.next_check.min(self.deadline);
    }

    pub fn outcome_of(&mut self, status: ExitStatus) -> Outcome {
        if let Some(code) = status.code() {
            let code = code.clamp(0, 255) as u8;
            if self.via_runner && code == FAILED_STATUS {
                if let Some(why) = self.take_failure_line() {
                    return Outcome::Failed(why);
                }
            }
            return Outcome::Exited(code);
        }
        match status.signal() {
            Some(sig) => Outcome::Signaled(sig),
            None => Outcome::Lost(format!("unknown wait status {status}")),
        }
    }

    /// Removes the runner's failure line from the captured stderr.
    fn take_failure_line(&mut self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.captured).into_owned();
        let mut why = None;
        let mut rest = String::new();
        for line in text.lines() {
            match line.strip_prefix(FAILURE_PREFIX) {
                Some(w) if why.is_none() => why = Some(w.to_string()),
                _ => {
                    rest.push_str(line);
                    rest.push('\n');
                }
            }
        }
        if why.is_some() {
            self.captured = rest.into_bytes();
        }
        why
    }

    /// The report, and the process (still to be waited for if it was
    /// killed).
    pub fn finish(self, outcome: Outcome, now: Instant) -> (Ended, Child) {
        let mut stderr = String::from_utf8_lossy(&self.captured).into_owned();
        if self.dropped > 0 {
            stderr.push_str(&format!("\n({} more bytes not kept)", self.dropped));
        }
        let ended = Ended {
            pid: self.child.id(),
            outcome,
            stderr,
            elapsed: now.saturating_duration_since(self.started),
        };
        (ended, self.child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(outcome: Outcome, stderr: &str) -> Finished {
        Finished {
            hook: "RunScript /usr/local/sbin/vip".into(),
            event: HookEvent::OnUp,
            vif: Some(VifId::new("192.0.2.10".parse().unwrap())),
            vip: Some("192.0.2.10".parse().unwrap()),
            check: None,
            pid: 42,
            outcome,
            stderr: stderr.into(),
            elapsed: Duration::from_millis(12),
        }
    }

    #[test]
    fn one_log_line_each() {
        assert_eq!(
            finished(Outcome::Exited(0), "").to_string(),
            "RunScript /usr/local/sbin/vip (on up 192.0.2.10): exit status 0 after 12 ms"
        );
        assert!(finished(Outcome::Exited(0), "").succeeded());
        assert!(!finished(Outcome::Exited(1), "").succeeded());
        assert_eq!(
            finished(Outcome::Signaled(libc::SIGSEGV), "a\n\nb\n").to_string(),
            "RunScript /usr/local/sbin/vip (on up 192.0.2.10): killed by signal 11 (SIGSEGV) after 12 ms; stderr: a / b"
        );
        assert_eq!(
            finished(Outcome::TimedOut(Duration::from_millis(300)), "").to_string(),
            "RunScript /usr/local/sbin/vip (on up 192.0.2.10): still running after 300 ms: killed"
        );
        assert_eq!(
            finished(Outcome::Failed("no module /m/x (nor /m/x.so)".into()), "").to_string(),
            "RunScript /usr/local/sbin/vip (on up 192.0.2.10): not called: no module /m/x (nor /m/x.so)"
        );
        assert_eq!(
            what("RunDynamic m:f", HookEvent::PostDown, None, None),
            "RunDynamic m:f (post down)"
        );
        assert_eq!(
            what(
                "RunScript /p",
                HookEvent::CheckDown,
                None,
                Some(&PathBuf::from("/usr/local/sbin/check-web"))
            ),
            "RunScript /p (check down /usr/local/sbin/check-web)"
        );
        assert_eq!(Outcome::Signaled(64).to_string(), "killed by signal 64");
    }
}

//! User hooks: `RunDynamic module:func` (a C function in a shared
//! object, called with the ABI of wackamole 2.1.4), `RunDynamic
//! Package::sub` (a Perl sub) and `RunScript PATH` (a program), run on
//! `on up`, `on down`, `post up` and `post down`.
//!
//! Owns: running user code without ever blocking or endangering the
//! daemon. Every hook runs in a child process of its own, in its own
//! process group, with stdin and stdout on `/dev/null` and stderr
//! captured (the first [`MAX_CAPTURE`] bytes, reported when it ends).
//! A child still running after the limit is killed, with everything it
//! started. C ran hooks inside the daemon, one after the other, so a
//! crash took the daemon down and a slow hook stopped it; here the
//! children of one event run side by side, started in config order.
//!
//! * `module:func`: the child is this binary again, in the hidden
//!   runner mode of [`runner`], which loads the module and calls the
//!   function with [`record::CInterface`] records.
//! * `Package::sub`: the child is `perl` (see the `perl` module), with `-I` for each
//!   `PerlUseLib` and `-M` for each `PerlUse`.
//! * `RunScript`: the child is the program itself, no shell, with the
//!   `WACKAMOLE_*` variables of [`script_env`].
//!
//! The daemon drives it from its poll loop; no threads, no signals:
//!
//! ```text
//! hooks.fire(event, vif, now)      → errors to log (a hook that could not start)
//! timeout = hooks.next_deadline()  → wake up by then (with the other timers)
//! hooks.reap(now)                  → hooks that ended, to log
//! ```

mod child;
mod perl;
pub mod queue;
pub mod record;
pub mod runner;
mod vif;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use child::{Finished, Outcome, FIRST_CHECK, MAX_CAPTURE, MAX_CHECK};
pub use perl::SCRIPT as PERL_SCRIPT;
pub use record::{CInterface, CallArgs};
pub use vif::{script_env, HookVif, SCRIPT_VARS};

use crate::config::{Hook, HookEvent, HookTarget};
use crate::sys::process::{kill_process_group, unblock_signals_in_child};
use child::{what, Running};

/// A sensible limit for a hook's run (the daemon chooses).
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(30);

/// The binary the runner children start by default: the one running,
/// even if it was replaced on disk since.
pub const SELF_EXE: &str = "/proc/self/exe";

/// A hook that could not be started (nothing to reap for it).
#[derive(Debug)]
pub struct SpawnError {
    pub hook: String,
    pub event: HookEvent,
    pub vip: Option<IpAddr>,
    pub reason: SpawnFailure,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: not started: {}",
            what(&self.hook, self.event, self.vip),
            self.reason
        )
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

/// Why a hook's child could not be started.
#[derive(Debug)]
pub enum SpawnFailure {
    /// The `RunScript` program cannot be examined.
    Script { path: PathBuf, source: io::Error },
    /// The `RunScript` program is not safe to run.
    Refused(runner::Refusal),
    /// No socket to capture its stderr.
    Socket(io::Error),
    /// The program (runner, perl, script) does not start. `perl`: a
    /// Perl hook, whose likely cause, perl missing, is named.
    Run {
        program: String,
        perl: bool,
        source: io::Error,
    },
}

impl fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnFailure::Script { path, source } => write!(f, "{}: {source}", path.display()),
            SpawnFailure::Refused(r) => r.fmt(f),
            SpawnFailure::Socket(e) => write!(f, "cannot make a socket for its stderr: {e}"),
            SpawnFailure::Run {
                program,
                perl,
                source,
            } => {
                write!(f, "cannot run {program}: {source}")?;
                if *perl && source.kind() == io::ErrorKind::NotFound {
                    write!(f, "; Perl hooks need perl installed")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SpawnFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnFailure::Script { source, .. }
            | SpawnFailure::Socket(source)
            | SpawnFailure::Run { source, .. } => Some(source),
            SpawnFailure::Refused(r) => Some(r),
        }
    }
}

/// How a hook is named in messages.
fn label(h: &Hook) -> String {
    match &h.target {
        HookTarget::Shared { module, func, .. } => format!("RunDynamic {module}:{func}"),
        HookTarget::Perl { sub_name } => format!("RunDynamic {sub_name}"),
        HookTarget::Script { path } => format!("RunScript {}", path.display()),
    }
}

/// A killed child not yet gone (its exit is only collected).
#[derive(Debug)]
struct Dying {
    child: Child,
    next_check: Instant,
}

/// The hooks of one configuration and the children running them. Keep
/// it for the daemon's life: dropping it leaves running children alone
/// (neither killed nor reaped).
#[derive(Debug)]
pub struct Hooks {
    hooks: Vec<Hook>,
    perl_use_lib: Vec<String>,
    perl_use: Vec<String>,
    limit: Duration,
    runner: PathBuf,
    perl: PathBuf,
    running: Vec<Running>,
    dying: Vec<Dying>,
}

impl Hooks {
    /// `hooks` in config order (`Config::hooks`), with the config's
    /// `PerlUseLib` and `PerlUse`; a child running longer than `limit`
    /// is killed.
    pub fn new(
        hooks: &[Hook],
        perl_use_lib: &[String],
        perl_use: &[String],
        limit: Duration,
    ) -> Hooks {
        Hooks {
            hooks: hooks.to_vec(),
            perl_use_lib: perl_use_lib.to_vec(),
            perl_use: perl_use.to_vec(),
            limit,
            runner: PathBuf::from(SELF_EXE),
            perl: PathBuf::from("perl"),
            running: Vec::new(),
            dying: Vec::new(),
        }
    }

    /// Takes the hooks of a reloaded configuration; children already
    /// running go on and are reaped as before.
    pub fn reconfigure(&mut self, hooks: &[Hook], perl_use_lib: &[String], perl_use: &[String]) {
        self.hooks = hooks.to_vec();
        self.perl_use_lib = perl_use_lib.to_vec();
        self.perl_use = perl_use.to_vec();
    }

    /// The wackamole binary to start in runner mode (default
    /// [`SELF_EXE`]; tests, whose own binary is another, set it).
    pub fn set_runner(&mut self, exe: impl Into<PathBuf>) {
        self.runner = exe.into();
    }

    /// The Perl interpreter (default `perl`, looked up in `PATH`).
    pub fn set_perl(&mut self, perl: impl Into<PathBuf>) {
        self.perl = perl.into();
    }

    /// Starts one child per hook of `event`, in config order, and
    /// returns at once with the hooks that could not be started. `vif`
    /// is the VIF of an `on up` / `on down` event (owner: the holder
    /// before the change); `post` events ignore it and pass all-zero
    /// records, as C did.
    pub fn fire(
        &mut self,
        event: HookEvent,
        vif: Option<&HookVif>,
        now: Instant,
    ) -> Vec<SpawnError> {
        let on = matches!(event, HookEvent::OnUp | HookEvent::OnDown);
        let vif = vif.filter(|_| on);
        let vip = vif.and_then(HookVif::master).map(|a| a.ip());
        let args = vif.map_or(CallArgs::ZERO, |v| v.args().clone());
        let mut errors = Vec::new();
        for i in 0..self.hooks.len() {
            if self.hooks[i].event != event {
                continue;
            }
            let hook = label(&self.hooks[i]);
            match self.spawn(i, event, vif, &args) {
                Ok((child, stderr)) => self.running.push(Running {
                    child,
                    hook,
                    event,
                    vif: vif.map(HookVif::id),
                    vip,
                    via_runner: matches!(self.hooks[i].target, HookTarget::Shared { .. }),
                    started: now,
                    deadline: now + self.limit,
                    next_check: now + FIRST_CHECK.min(self.limit),
                    interval: FIRST_CHECK,
                    stderr,
                    captured: Vec::new(),
                    dropped: 0,
                }),
                Err(reason) => errors.push(SpawnError {
                    hook,
                    event,
                    vip,
                    reason,
                }),
            }
        }
        errors
    }

    fn command(
        &self,
        i: usize,
        event: HookEvent,
        vif: Option<&HookVif>,
        args: &CallArgs,
    ) -> Result<Command, SpawnFailure> {
        let mut cmd = match &self.hooks[i].target {
            HookTarget::Shared {
                module,
                func,
                module_dir,
            } => {
                let mut cmd = Command::new(&self.runner);
                cmd.arg0("wackamole")
                    .arg(runner::FLAG)
                    .arg(module_dir.join(module))
                    .arg(func)
                    .arg(args.to_hex());
                cmd
            }
            HookTarget::Perl { sub_name } => {
                let mut cmd = Command::new(&self.perl);
                cmd.args(perl::perl_args(
                    &self.perl_use_lib,
                    &self.perl_use,
                    sub_name,
                    args,
                ));
                cmd
            }
            HookTarget::Script { path } => {
                let meta = std::fs::metadata(path).map_err(|source| SpawnFailure::Script {
                    path: path.clone(),
                    source,
                })?;
                let euid = nix::unistd::geteuid().as_raw();
                if let Some(why) = runner::refusal(path, &meta, euid) {
                    return Err(SpawnFailure::Refused(why));
                }
                Command::new(path)
            }
        };
        // Never a stale value from the daemon's own environment.
        for var in SCRIPT_VARS {
            cmd.env_remove(var);
        }
        if let HookTarget::Script { .. } = self.hooks[i].target {
            cmd.envs(script_env(event, vif));
        }
        Ok(cmd)
    }

    fn spawn(
        &self,
        i: usize,
        event: HookEvent,
        vif: Option<&HookVif>,
        args: &CallArgs,
    ) -> Result<(Child, UnixStream), SpawnFailure> {
        let mut cmd = self.command(i, event, vif, args)?;
        // A socket, not a pipe: std makes it non-blocking without unsafe
        // code, and a child that writes more than we keep never blocks
        // for long (its writes are drained at every reap).
        let (ours, theirs) = UnixStream::pair().map_err(SpawnFailure::Socket)?;
        ours.set_nonblocking(true).map_err(SpawnFailure::Socket)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(OwnedFd::from(theirs)))
            .process_group(0);
        unblock_signals_in_child(&mut cmd);
        let child = cmd.spawn().map_err(|source| SpawnFailure::Run {
            program: cmd.get_program().to_string_lossy().into_owned(),
            perl: matches!(self.hooks[i].target, HookTarget::Perl { .. }),
            source,
        })?;
        // `cmd` still holds the child's end; it goes with `cmd`.
        drop(cmd);
        Ok((child, ours))
    }

    /// Collects the children that have ended, without waiting, and kills
    /// those past their limit (reported as [`Outcome::TimedOut`]).
    /// Returns them in the order they were started.
    pub fn reap(&mut self, now: Instant) -> Vec<Finished> {
        self.dying.retain_mut(|d| match d.child.try_wait() {
            Ok(None) => {
                d.next_check = now + MAX_CHECK;
                true
            }
            _ => false,
        });
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            r.drain();
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    r.drain();
                    let outcome = r.outcome_of(status);
                    done.push(self.running.remove(i).finish(outcome, now).0);
                }
                Ok(None) if now >= r.deadline => {
                    // The whole group: a script's own children too.
                    if kill_process_group(r.child.id(), nix::sys::signal::Signal::SIGKILL).is_err()
                    {
                        let _ = r.child.kill();
                    }
                    r.drain();
                    let outcome = Outcome::TimedOut(self.limit);
                    let (finished, mut child) = self.running.remove(i).finish(outcome, now);
                    if let Ok(None) = child.try_wait() {
                        self.dying.push(Dying {
                            child,
                            next_check: now + FIRST_CHECK,
                        });
                    }
                    done.push(finished);
                }
                Ok(None) => {
                    r.reschedule(now);
                    i += 1;
                }
                Err(e) => {
                    let outcome = Outcome::Lost(e.to_string());
                    done.push(self.running.remove(i).finish(outcome, now).0);
                }
            }
        }
        done
    }

    /// When [`reap`](Self::reap) should next be called: `None` when no
    /// child is left. Early after a start, then less often (from
    /// [`FIRST_CHECK`] doubling up to [`MAX_CHECK`]), and exactly at each
    /// child's limit.
    pub fn next_deadline(&self) -> Option<Instant> {
        let running = self.running.iter().map(|r| r.next_check);
        let dying = self.dying.iter().map(|d| d.next_check);
        running.chain(dying).min()
    }

    /// Children not yet reaped, killed ones that have not exited yet
    /// included.
    pub fn running(&self) -> usize {
        self.running.len() + self.dying.len()
    }
}

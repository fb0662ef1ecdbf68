//! User hooks: `RunDynamic module:func` (a C function in a shared
//! object, called with the ABI of wackamole 2.1.4), `RunDynamic
//! Package::sub` (a Perl sub) and `RunScript PATH` (a program), run on
//! `on up`, `on down`, `post up`, `post down`, `check up` and `check
//! down`.
//!
//! Owns: running user code without ever blocking or endangering the
//! daemon. Every hook runs in a child process of its own, in its own
//! process group, with stdin and stdout on `/dev/null`, stderr
//! captured (the first [`MAX_CAPTURE`] bytes, reported when it ends)
//! and an environment of its own ([`HOOK_PATH`], and for `RunScript`
//! the `WACKAMOLE_*` variables of [`script_env`]; nothing of the
//! daemon's, whose environment is systemd's or a root shell's). A child
//! still running after the time limit is killed, with everything it
//! started. C ran hooks inside the daemon, one after the other, so a
//! crash took the daemon down and a slow hook stopped it. The children
//! are kept by [`Children`], which runs the programs of health checks
//! (`health`) the same way, and [`program`] says which program may be
//! run at all.
//!
//! Which hook starts when is the [`queue`]'s decision: the hooks of one
//! VIF run one after another in event order (and for one event in file
//! order), `post` hooks in a lane of their own, different VIFs side by
//! side, at most `HookLimit` children at once; the others wait, at most
//! [`QUEUE_CAPACITY`] of them. A hook's time limit runs from its start,
//! not from its event. Whether a file may be run is checked when the
//! hook starts (a module, by the runner child).
//!
//! * `module:func`: the child is this binary again, in the hidden
//!   runner mode of [`runner`], which loads the module and calls the
//!   function with [`record::CInterface`] records. It needs nothing
//!   from the environment: its arguments say it all.
//! * `Package::sub`: the child is the `PerlPath` interpreter (see the
//!   `perl` module), with `-I` for each `PerlUseLib` and `-M` for each
//!   `PerlUse`; the interpreter and the directories must be root's.
//! * `RunScript`: the child is the program itself, no shell.
//!
//! The daemon drives it from its poll loop; no threads, no signals:
//!
//! ```text
//! hooks.fire(event, vif, now)      → errors to log (hooks that could not start, or were dropped)
//! timeout = hooks.next_deadline()  → wake up by then (with the other timers)
//! hooks.reap(now)                  → hooks that ended, and errors of queued ones it started, to log
//! ```

mod child;
mod children;
mod perl;
pub mod queue;
pub mod record;
pub mod runner;
mod vif;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use child::{Ended, Finished, Outcome, FIRST_CHECK, MAX_CAPTURE, MAX_CHECK};
pub use children::Children;
pub use perl::SCRIPT as PERL_SCRIPT;
pub use queue::{Lane, QUEUE_CAPACITY};
pub use record::{CInterface, CallArgs};
pub use vif::{script_env, HookVif, HOOK_PATH, SCRIPT_VARS};

use crate::config::{Config, Hook, HookEvent, HookTarget, VifId};
use child::what;
use perl::PerlSetup;
use queue::Queue;
use runner::Kind;

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
    /// The check's program, for `check` events.
    pub check: Option<PathBuf>,
    pub reason: SpawnFailure,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: not started: {}",
            what(&self.hook, self.event, self.vip, self.check.as_ref()),
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
    /// A file the hook needs cannot be examined: the `RunScript`
    /// program (`what` empty) or a `PerlUseLib` directory.
    Unreadable {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A file the hook needs is not safe to run or to load code from:
    /// the `RunScript` program, `PerlPath` or a `PerlUseLib` directory.
    Refused(runner::Refusal),
    /// It waited while [`QUEUE_CAPACITY`] hooks were waiting already,
    /// and was the oldest when one more came: dropped.
    QueueFull,
    /// The daemon stopped before a slot was free for it.
    Stopped,
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
            SpawnFailure::Unreadable { what, path, source } => {
                if !what.is_empty() {
                    write!(f, "{what} ")?;
                }
                write!(f, "{}: {source}", path.display())
            }
            SpawnFailure::Refused(r) => r.fmt(f),
            SpawnFailure::QueueFull => write!(
                f,
                "dropped: {QUEUE_CAPACITY} hooks were waiting already (too many events at once)"
            ),
            SpawnFailure::Stopped => f.write_str("the daemon stopped before it could start"),
            SpawnFailure::Socket(e) => write!(f, "cannot make a socket for its stderr: {e}"),
            SpawnFailure::Run {
                program,
                perl,
                source,
            } => {
                write!(f, "cannot run {program}: {source}")?;
                if *perl && source.kind() == io::ErrorKind::NotFound {
                    write!(f, "; Perl hooks need perl installed, at PerlPath")?;
                }
                Ok(())
            }
        }
    }
}

impl SpawnFailure {
    /// The same, said of a Perl hook (whose likely cause of a program
    /// that does not start, perl missing, is named).
    fn of_perl(self, is_perl: bool) -> SpawnFailure {
        match self {
            SpawnFailure::Run {
                program, source, ..
            } => SpawnFailure::Run {
                program,
                perl: is_perl,
                source,
            },
            other => other,
        }
    }
}

impl std::error::Error for SpawnFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnFailure::Unreadable { source, .. }
            | SpawnFailure::Socket(source)
            | SpawnFailure::Run { source, .. } => Some(source),
            SpawnFailure::Refused(r) => Some(r),
            SpawnFailure::QueueFull | SpawnFailure::Stopped => None,
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

/// One hook to run for one event, with all it needs, taken when the
/// event happened: a reload while it waits changes nothing of it.
#[derive(Debug)]
struct Job {
    hook: Hook,
    event: HookEvent,
    /// The VIF of an `on` event.
    vif: Option<HookVif>,
    /// The check's program, for a `check` event.
    check: Option<PathBuf>,
    perl: Rc<PerlSetup>,
}

impl Job {
    fn vip(&self) -> Option<IpAddr> {
        self.vif.as_ref().and_then(HookVif::master).map(|a| a.ip())
    }

    fn error(self, reason: SpawnFailure) -> SpawnError {
        SpawnError {
            hook: label(&self.hook),
            event: self.event,
            vip: self.vip(),
            check: self.check,
            reason,
        }
    }

    /// What its child is tagged with, for its report.
    fn tag(&self) -> HookTag {
        HookTag {
            hook: label(&self.hook),
            event: self.event,
            vif: self.vif.as_ref().map(HookVif::id),
            vip: self.vip(),
            check: self.check.clone(),
        }
    }
}

/// A hook child: what [`Finished`] says of it.
#[derive(Debug)]
struct HookTag {
    hook: String,
    event: HookEvent,
    vif: Option<VifId>,
    vip: Option<IpAddr>,
    check: Option<PathBuf>,
}

impl HookTag {
    fn finished(self, e: Ended) -> Finished {
        Finished {
            hook: self.hook,
            event: self.event,
            vif: self.vif,
            vip: self.vip,
            check: self.check,
            pid: e.pid,
            outcome: e.outcome,
            stderr: e.stderr,
            elapsed: e.elapsed,
        }
    }
}

/// What [`Hooks::reap`] found.
#[derive(Debug, Default)]
pub struct Reaped {
    /// Hooks that ended, in the order they were started.
    pub finished: Vec<Finished>,
    /// Waiting hooks whose turn came in this reap but that could not
    /// start.
    pub not_started: Vec<SpawnError>,
}

/// The hooks of one configuration, the hooks waiting for a start and
/// the children running them. Keep it for the daemon's life: dropping
/// it leaves running children alone (neither killed nor reaped).
#[derive(Debug)]
pub struct Hooks {
    hooks: Vec<Hook>,
    perl: Rc<PerlSetup>,
    time_limit: Duration,
    runner: PathBuf,
    queue: Queue<Job>,
    children: Children<HookTag>,
}

impl Hooks {
    /// The hooks of `cfg` (in config order), run by its `PerlPath`,
    /// `PerlUseLib` and `PerlUse`, at most `HookLimit` at once; a child
    /// running longer than `time_limit` is killed.
    pub fn new(cfg: &Config, time_limit: Duration) -> Hooks {
        Hooks {
            hooks: cfg.hooks().to_vec(),
            perl: Rc::new(PerlSetup::of(cfg)),
            time_limit,
            runner: PathBuf::from(SELF_EXE),
            queue: Queue::new(cfg.hook_limit(), QUEUE_CAPACITY),
            children: Children::default(),
        }
    }

    /// Takes the hooks and the `HookLimit` of a reloaded configuration.
    /// Children already running go on and are reaped as before; hooks
    /// already waiting run as they were queued. A new limit counts from
    /// the next start: a higher one starts waiting hooks now, whose
    /// errors are returned.
    pub fn reconfigure(&mut self, cfg: &Config, now: Instant) -> Vec<SpawnError> {
        self.hooks = cfg.hooks().to_vec();
        self.perl = Rc::new(PerlSetup::of(cfg));
        self.queue.set_limit(cfg.hook_limit());
        self.start_waiting(now)
    }

    /// The wackamole binary to start in runner mode (default
    /// [`SELF_EXE`]; tests, whose own binary is another, set it).
    pub fn set_runner(&mut self, exe: impl Into<PathBuf>) {
        self.runner = exe.into();
    }

    /// Queues one run per hook of `event`, in config order, starts what
    /// the limits allow and returns at once, with the hooks that could
    /// not be started and those dropped from a full queue. `vif` is the
    /// VIF of an `on up` / `on down` event (owner: the holder before
    /// the change); `post` events ignore it and pass all-zero records,
    /// as C did.
    pub fn fire(
        &mut self,
        event: HookEvent,
        vif: Option<&HookVif>,
        now: Instant,
    ) -> Vec<SpawnError> {
        let vif = vif.filter(|_| event.is_per_vif());
        self.queue_jobs(event, vif.cloned(), None, now)
    }

    /// [`fire`](Self::fire) for `check up` and `check down`: `check`
    /// is the check's program (`WACKAMOLE_CHECK` for a `RunScript`).
    /// These hooks run in the lane of `post` hooks (they concern no
    /// single VIF), and a `RunDynamic` one gets all-zero records.
    pub fn fire_check(&mut self, event: HookEvent, check: &Path, now: Instant) -> Vec<SpawnError> {
        self.queue_jobs(event, None, Some(check.to_path_buf()), now)
    }

    fn queue_jobs(
        &mut self,
        event: HookEvent,
        vif: Option<HookVif>,
        check: Option<PathBuf>,
        now: Instant,
    ) -> Vec<SpawnError> {
        let lane = Lane::of(vif.as_ref().map(HookVif::id));
        let mut errors = Vec::new();
        for hook in self.hooks.iter().filter(|h| h.event == event) {
            let job = Job {
                hook: hook.clone(),
                event,
                vif: vif.clone(),
                check: check.clone(),
                perl: Rc::clone(&self.perl),
            };
            if let Some((_, dropped)) = self.queue.push(lane, job) {
                errors.push(dropped.error(SpawnFailure::QueueFull));
            }
        }
        errors.extend(self.start_waiting(now));
        errors
    }

    /// Starts every waiting hook the queue lets go now; returns those
    /// that could not start (their lane is free again at once).
    fn start_waiting(&mut self, now: Instant) -> Vec<SpawnError> {
        let mut errors = Vec::new();
        while let Some((lane, job)) = self.queue.start_next() {
            let via_runner = matches!(job.hook.target, HookTarget::Shared { .. });
            let is_perl = matches!(job.hook.target, HookTarget::Perl { .. });
            let started = self.command(&job).and_then(|cmd| {
                self.children
                    .spawn(cmd, job.tag(), self.time_limit, via_runner, now)
                    .map_err(|e| e.of_perl(is_perl))
            });
            if let Err(reason) = started {
                self.queue.finish(lane);
                errors.push(job.error(reason));
            }
        }
        errors
    }

    fn command(&self, job: &Job) -> Result<Command, SpawnFailure> {
        let args = job
            .vif
            .as_ref()
            .map_or(CallArgs::ZERO, |v| v.args().clone());
        let euid = nix::unistd::geteuid().as_raw();
        Ok(match &job.hook.target {
            HookTarget::Shared {
                module,
                func,
                module_dir,
            } => {
                // The module is checked by the runner, which loads it.
                let mut cmd = clean(&self.runner);
                cmd.arg0("wackamole")
                    .arg(runner::FLAG)
                    .arg(module_dir.join(module))
                    .arg(func)
                    .arg(args.to_hex());
                cmd
            }
            HookTarget::Perl { sub_name } => {
                job.perl.check(euid)?;
                let mut cmd = clean(&job.perl.interpreter);
                cmd.args(perl::perl_args(
                    &job.perl.use_lib,
                    &job.perl.use_modules,
                    sub_name,
                    &args,
                ));
                cmd
            }
            HookTarget::Script { path } => {
                let mut cmd = program(path, euid)?;
                cmd.envs(script_env(job.event, job.vif.as_ref()));
                if let Some(check) = &job.check {
                    cmd.env("WACKAMOLE_CHECK", check);
                }
                cmd
            }
        })
    }

    /// Collects the hooks that have ended, without waiting, kills
    /// those past their limit (reported as [`Outcome::TimedOut`]), and
    /// starts the waiting hooks whose turn has come.
    pub fn reap(&mut self, now: Instant) -> Reaped {
        let done: Vec<Finished> = self
            .children
            .reap(now)
            .into_iter()
            .map(|(tag, ended)| tag.finished(ended))
            .collect();
        for f in &done {
            self.queue.finish(Lane::of(f.vif));
        }
        let not_started = self.start_waiting(now);
        Reaped {
            finished: done,
            not_started,
        }
    }

    /// When [`reap`](Self::reap) should next be called: `None` when no
    /// child is left (then none waits either: a hook waits only while
    /// others run). Early after a start, then less often (from
    /// [`FIRST_CHECK`] doubling up to [`MAX_CHECK`]), and exactly at each
    /// child's limit.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.children.next_deadline()
    }

    /// Children not yet reaped, killed ones that have not exited yet
    /// included.
    pub fn running(&self) -> usize {
        self.children.len()
    }

    /// Hooks waiting for a start.
    pub fn waiting(&self) -> usize {
        self.queue.waiting()
    }

    /// For a daemon that stops: the hooks still waiting, which will not
    /// run, as errors to log.
    pub fn abandon_waiting(&mut self) -> Vec<SpawnError> {
        self.queue
            .take_waiting()
            .into_iter()
            .map(|(_, job)| job.error(SpawnFailure::Stopped))
            .collect()
    }
}

/// A command for the program at `path`, run without a shell, with
/// [`HOOK_PATH`] as its whole environment: a `RunScript` hook's, or a
/// health check's. Refused unless it is a regular file that no one but
/// root and `euid` could change (the rule of every program the root
/// daemon runs).
pub fn program(path: &Path, euid: u32) -> Result<Command, SpawnFailure> {
    trusted("", Kind::File, path, euid)?;
    Ok(clean(path))
}

/// A command for `program` with nothing of the daemon's environment but
/// [`HOOK_PATH`] (a `PATH` the daemon was started with could name a
/// directory anyone may write).
fn clean(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", HOOK_PATH);
    cmd
}

/// Checks that `path` (`what` to the messages) is of `kind` and that no
/// one but root and `euid` could change it.
fn trusted(what: &'static str, kind: Kind, path: &Path, euid: u32) -> Result<(), SpawnFailure> {
    let meta = std::fs::metadata(path).map_err(|source| SpawnFailure::Unreadable {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    match runner::refusal_of(what, kind, path, &meta, euid) {
        Some(why) => Err(SpawnFailure::Refused(why)),
        None => Ok(()),
    }
}

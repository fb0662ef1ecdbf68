//! The children of the daemon that run user code (hooks, and the
//! programs of health checks): started without blocking, each in a
//! process group of its own, with stdin and stdout on `/dev/null` and
//! stderr captured; looked at without waiting; killed, with everything
//! they started, at their time limit. One runner for every kind of
//! child, so that each gets the same care.
//!
//! No thread and no SIGCHLD: the owner calls [`Children::reap`] by
//! [`Children::next_deadline`], early after a start, then less often
//! (from [`FIRST_CHECK`] doubling up to [`MAX_CHECK`]), and exactly at
//! each child's limit.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::child::{Ended, Outcome, Running, FIRST_CHECK, MAX_CHECK};
use super::SpawnFailure;
use crate::sys::process::{kill_process_group, unblock_signals_in_child};

/// A killed child not yet gone (its exit is only collected).
#[derive(Debug)]
struct Dying {
    child: Child,
    next_check: Instant,
}

/// Running children, each with a tag `T` that says what it runs for.
#[derive(Debug)]
pub struct Children<T> {
    /// In the order they were started.
    running: Vec<(T, Running)>,
    dying: Vec<Dying>,
}

impl<T> Default for Children<T> {
    fn default() -> Self {
        Children {
            running: Vec::new(),
            dying: Vec::new(),
        }
    }
}

impl<T> Children<T> {
    /// Starts `cmd` (its program, arguments and environment set by the
    /// caller) as a child tagged `tag`, killed if still running after
    /// `limit`. `via_runner`: the child is the hook runner, whose
    /// failure line means [`Outcome::Failed`].
    pub fn spawn(
        &mut self,
        mut cmd: Command,
        tag: T,
        limit: Duration,
        via_runner: bool,
        now: Instant,
    ) -> Result<(), SpawnFailure> {
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
            perl: false,
            source,
        })?;
        // `cmd` still holds the child's end; it goes with `cmd`.
        drop(cmd);
        self.running.push((
            tag,
            Running {
                child,
                via_runner,
                started: now,
                limit,
                deadline: now + limit,
                next_check: now + FIRST_CHECK.min(limit),
                interval: FIRST_CHECK,
                stderr: ours,
                captured: Vec::new(),
                dropped: 0,
            },
        ));
        Ok(())
    }

    /// Collects the children that have ended, without waiting, and
    /// kills those past their limit (reported as
    /// [`Outcome::TimedOut`]); in the order they were started.
    pub fn reap(&mut self, now: Instant) -> Vec<(T, Ended)> {
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
            let r = &mut self.running[i].1;
            r.drain();
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    r.drain();
                    let outcome = r.outcome_of(status);
                    let (tag, r) = self.running.remove(i);
                    done.push((tag, r.finish(outcome, now).0));
                }
                Ok(None) if now >= r.deadline => {
                    let outcome = Outcome::TimedOut(r.limit);
                    let (tag, r) = self.running.remove(i);
                    done.push((tag, self.kill(r, outcome, now)));
                }
                Ok(None) => {
                    r.reschedule(now);
                    i += 1;
                }
                Err(e) => {
                    let outcome = Outcome::Lost(e.to_string());
                    let (tag, r) = self.running.remove(i);
                    done.push((tag, r.finish(outcome, now).0));
                }
            }
        }
        done
    }

    /// Kills every running child whose tag `keep` refuses, with all it
    /// started; nothing is reported of them (whatever they were run
    /// for is gone).
    pub fn kill_unless(&mut self, mut keep: impl FnMut(&T) -> bool, now: Instant) {
        let mut i = 0;
        while i < self.running.len() {
            if keep(&self.running[i].0) {
                i += 1;
                continue;
            }
            let (_, r) = self.running.remove(i);
            self.kill(r, Outcome::Lost("killed".into()), now);
        }
    }

    /// SIGKILLs `r`'s whole process group (a script's own children
    /// too); one that has not exited yet is watched until it has.
    fn kill(&mut self, mut r: Running, outcome: Outcome, now: Instant) -> Ended {
        if kill_process_group(r.child.id(), nix::sys::signal::Signal::SIGKILL).is_err() {
            let _ = r.child.kill();
        }
        r.drain();
        let (ended, mut child) = r.finish(outcome, now);
        // What SIGKILL has not ended yet no longer runs the user's code.
        if let Ok(None) = child.try_wait() {
            self.dying.push(Dying {
                child,
                next_check: now + FIRST_CHECK,
            });
        }
        ended
    }

    /// When [`reap`](Self::reap) should next be called: `None` when no
    /// child is left.
    pub fn next_deadline(&self) -> Option<Instant> {
        let running = self.running.iter().map(|(_, r)| r.next_check);
        let dying = self.dying.iter().map(|d| d.next_check);
        running.chain(dying).min()
    }

    /// Children not yet reaped, killed ones that have not exited yet
    /// included.
    pub fn len(&self) -> usize {
        self.running.len() + self.dying.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! Running the checks' programs on schedule. Each run is a child of its
//! own, started and watched by `hooks::Children` (the hooks' runner: a
//! process group, stdin and stdout on `/dev/null`, stderr captured,
//! killed with all it started at the check's `Timeout`), with the
//! program checked first by the rule of every program the root daemon
//! runs (`hooks::program`: root's, not writable by group or others) and
//! an environment of `PATH` alone, so that a check behaves as it does
//! when run by hand under `env -i`.
//!
//! The daemon calls [`Runner::poll`] by [`Runner::next_deadline`]: it
//! reaps what ended, counts each result in the check's [`Machine`],
//! and starts the runs that are due. No thread, no sleep.

use std::time::Instant;

use super::gate::Verdict;
use super::machine::{CheckResult, Machine, State};
use super::report::Report;
use super::CheckInfo;
use crate::config::Check;
use crate::hooks::{self, Children};

/// At most this much of a program's first stderr line goes into a log
/// line.
const MAX_STDERR_LINE: usize = 200;

/// One check: its definition, its state, its schedule.
#[derive(Debug)]
struct Slot {
    /// Names its child (a run of a check a reload removed is dropped).
    id: u64,
    def: Check,
    machine: Machine,
    /// When the next run starts (once the running one, if any, ended).
    next_run: Instant,
    running: bool,
    /// The last result and when it came.
    last: Option<(CheckResult, Instant)>,
}

/// The checks of a configuration, and their children.
#[derive(Debug)]
pub struct Runner {
    slots: Vec<Slot>,
    children: Children<u64>,
    next_id: u64,
    euid: u32,
}

impl Runner {
    /// The checks, `starting`, each first run due at `now`.
    pub fn new(checks: &[Check], now: Instant) -> Runner {
        let mut r = Runner {
            slots: Vec::new(),
            children: Children::default(),
            next_id: 0,
            euid: nix::unistd::geteuid().as_raw(),
        };
        r.slots = checks
            .iter()
            .map(|c| r.slot(c.clone(), State::Starting, now))
            .collect();
        r
    }

    fn slot(&mut self, def: Check, start: State, now: Instant) -> Slot {
        self.next_id += 1;
        Slot {
            id: self.next_id,
            machine: Machine::new(def.fall, def.rise, start),
            def,
            next_run: now,
            running: false,
            last: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// What the checks say together: failing while any is down, pending
    /// while any has not had its first result, else passing.
    pub fn verdict(&self) -> Verdict {
        let states = || self.slots.iter().map(|s| s.machine.state());
        if states().any(|s| s == State::Down) {
            Verdict::Failing
        } else if states().any(|s| s == State::Starting) {
            Verdict::Pending
        } else {
            Verdict::Passing
        }
    }

    /// Reaps the runs that ended (those past their `Timeout` are killed
    /// and fail), counts their results and starts the runs that are
    /// due; a program that cannot be started fails at once. Returns a
    /// report per result, in the order the results came.
    pub fn poll(&mut self, now: Instant) -> Vec<Report> {
        let mut reports = Vec::new();
        for (id, ended) in self.children.reap(now) {
            let Some(i) = self.slots.iter().position(|s| s.id == id) else {
                continue;
            };
            self.slots[i].running = false;
            let stderr = first_line(&ended.stderr);
            reports.push(self.record(i, CheckResult::Ran(ended.outcome), stderr, now));
        }
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if s.running || now < s.next_run {
                continue;
            }
            s.next_run = now + s.def.interval;
            let (id, timeout) = (s.id, s.def.timeout);
            let started = hooks::program(&s.def.run, self.euid)
                .and_then(|cmd| self.children.spawn(cmd, id, timeout, false, now));
            match started {
                Ok(()) => self.slots[i].running = true,
                Err(why) => {
                    let r = CheckResult::NotRun(why.to_string());
                    reports.push(self.record(i, r, String::new(), now));
                }
            }
        }
        reports
    }

    fn record(&mut self, i: usize, result: CheckResult, stderr: String, now: Instant) -> Report {
        let s = &mut self.slots[i];
        let recorded = s.machine.record(&result);
        s.last = Some((result.clone(), now));
        Report {
            run: s.def.run.clone(),
            result,
            recorded,
            passes: s.machine.passes(),
            failures: s.machine.failures(),
            rise: s.machine.rise(),
            stderr,
        }
    }

    /// When [`poll`](Self::poll) should next be called: a child to look
    /// at, or a run due; `None` without checks.
    pub fn next_deadline(&self) -> Option<Instant> {
        let due = self.slots.iter().filter(|s| !s.running).map(|s| s.next_run);
        due.chain(self.children.next_deadline()).min()
    }

    /// The checks of a reloaded configuration. A check that is the same
    /// (same `Run` and parameters) runs on untouched. One whose
    /// parameters changed starts again, counts at zero, in the state it
    /// was in. A new one starts in the state the node is in: `up` while
    /// every check passes (so a node keeps its VIPs until the new check
    /// fails `Fall` times in a row), `down` while one fails (it must
    /// pass `Rise` times), `starting` before the first results. Due at
    /// once, both; a removed check's run is killed.
    pub fn reconfigure(&mut self, checks: &[Check], now: Instant) {
        let new_start = match self.verdict() {
            Verdict::Passing => State::Up,
            Verdict::Pending => State::Starting,
            Verdict::Failing => State::Down,
        };
        let mut old = std::mem::take(&mut self.slots);
        let mut slots = Vec::with_capacity(checks.len());
        for c in checks {
            match old.iter().position(|s| s.def.run == c.run) {
                Some(i) if old[i].def.same_as(c) => slots.push(old.remove(i)),
                Some(i) => {
                    let was = old.remove(i).machine.state();
                    slots.push(self.slot(c.clone(), was, now));
                }
                None => slots.push(self.slot(c.clone(), new_start, now)),
            }
        }
        self.slots = slots;
        let live: Vec<u64> = self.slots.iter().map(|s| s.id).collect();
        self.children.kill_unless(|id| live.contains(id), now);
    }

    /// Each check as the status shows it, at `now`.
    pub fn status(&self, now: Instant) -> Vec<CheckInfo> {
        self.slots
            .iter()
            .map(|s| CheckInfo {
                run: s.def.run.display().to_string(),
                state: s.machine.state(),
                passes: s.machine.passes(),
                failures: s.machine.failures(),
                fall: s.def.fall,
                rise: s.def.rise,
                interval: s.def.interval,
                timeout: s.def.timeout,
                last: s.last.as_ref().map(|(r, at)| super::LastRun {
                    result: r.to_string(),
                    exit_status: r.exit_status(),
                    ago: now.saturating_duration_since(*at),
                }),
            })
            .collect()
    }

    /// For a daemon that stops: every running check is killed (a probe
    /// has nothing to finish).
    pub fn stop(&mut self, now: Instant) {
        self.children.kill_unless(|_| false, now);
    }
}

/// The first line of `text` with something in it, trimmed and cut to
/// [`MAX_STDERR_LINE`] bytes.
fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let mut line = line.unwrap_or_default().to_string();
    if line.len() > MAX_STDERR_LINE {
        let mut cut = MAX_STDERR_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_stderr_line_is_kept_short() {
        assert_eq!(first_line(""), "");
        assert_eq!(first_line("\n  \n refused \nmore\n"), "refused");
        let long = "é".repeat(150);
        let cut = first_line(&long);
        assert!(cut.ends_with("...") && cut.len() <= MAX_STDERR_LINE + 3);
    }
}

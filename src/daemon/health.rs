//! The node's health checks, glued to the loop: the runner polled on
//! its timer, each verdict handed to the gate, and what the gate says
//! done with the group link exactly as `wackatrl -f` and `-s` do it (a
//! C node sees a member leave and come back); `check up` and `check
//! down` hooks; and `-f` and `-s` themselves, which go through the same
//! gate. The decisions are `health`'s; this room only carries them out.

use std::time::Instant;

use log::{debug, error, info, warn};

use super::link::Lost;
use super::node::Node;
use super::timers::Key;
use crate::cluster::engine::Level;
use crate::config::HookEvent;
use crate::control;
use crate::health::{self, Refused, State, Step};

impl Node {
    /// At start: with checks, the node stays off its group until each
    /// has passed its first run; the first runs start now.
    pub(super) fn start_checks(&mut self) {
        if self.checks.is_empty() {
            return;
        }
        info!(
            "{} health check(s): joining the group once each has passed its first run",
            self.cfg.checks().len()
        );
        self.link.hold_down(&mut self.timers);
        self.poll_checks();
    }

    /// Collects the checks' results, starts the runs that are due, and
    /// leaves or joins the group as the verdict says.
    pub(super) fn poll_checks(&mut self) {
        let reports = self.checks.poll(Instant::now());
        let step = self.gate.set_checks(self.checks.verdict());
        for line in health::lines(&reports, step, &self.gate) {
            match line.level {
                Level::Error => error!("{}", line.text),
                Level::Warn => warn!("{}", line.text),
                Level::Info => info!("{}", line.text),
                Level::Debug => debug!("{}", line.text),
            }
        }
        // A failure that changes nothing yet: for -d only (a pass is
        // the normal case and says nothing).
        for r in &reports {
            if r.recorded.transition.is_none() && !r.result.passed() {
                debug!(
                    "check {}: {} ({} in a row)",
                    r.run.display(),
                    r.result,
                    health::report::times(r.failures)
                );
            }
        }
        self.take(step, Lost::CheckDown);
        for r in &reports {
            let event = match r.recorded.transition {
                Some(t) if t.to == State::Down => HookEvent::CheckDown,
                // Up at its first run is no recovery.
                Some(t) if t.from == State::Down => HookEvent::CheckUp,
                _ => continue,
            };
            self.exec.fire_check(event, &r.run, &mut self.timers);
        }
        self.arm_checks();
    }

    fn arm_checks(&mut self) {
        match self.checks.next_deadline() {
            Some(at) => self.timers.set(Key::Checks, at),
            None => self.timers.cancel(Key::Checks),
        }
    }

    /// Does what the gate said: leave the group (releasing every VIP,
    /// as `wackatrl -f` does) or join it again.
    fn take(&mut self, step: Step, why: Lost) {
        match step {
            Step::Leave => {
                if self.link.hold_down(&mut self.timers) {
                    self.lose(why);
                }
            }
            Step::Join => {
                if self.link.release_hold() {
                    self.connect();
                }
            }
            Step::Stay => {}
        }
    }

    /// `wackatrl -f`: out of the group whatever the checks say, until
    /// `wackatrl -s`.
    pub(super) fn simulate_failure(&mut self) {
        let already = self.gate.operator_out();
        match self.gate.failure() {
            Step::Leave => {
                info!("wackatrl: simulating a failure: leaving Spread until told otherwise");
                self.take(Step::Leave, Lost::FailureSimulated);
            }
            _ if !already => info!(
                "wackatrl: simulating a failure: the node, out of the group for its checks, stays out until wackatrl -s"
            ),
            _ => {}
        }
    }

    /// `wackatrl -s`: back in the group if every check passes; else
    /// refused (logged, and nothing changes).
    pub(super) fn end_failure(&mut self) -> Result<(), Refused> {
        match self.gate.success() {
            Ok(step) => {
                if step == Step::Join {
                    info!("wackatrl: the simulated failure is over: connecting to Spread");
                    self.take(step, Lost::FailureSimulated);
                }
                Ok(())
            }
            Err(refused) => {
                let checks = self.checks.status(Instant::now());
                warn!(
                    "wackatrl -s refused: {}",
                    control::refusal(&checks, refused.operator_out)
                );
                Err(refused)
            }
        }
    }

    /// A reload changed the checks: the runner takes them (see
    /// `Runner::reconfigure` for the state each starts in), and the
    /// node joins if that leaves no check down.
    pub(super) fn reconfigure_checks(&mut self) {
        self.checks.reconfigure(self.cfg.checks(), Instant::now());
        let step = self.gate.set_checks(self.checks.verdict());
        match step {
            Step::Join => info!("no check of the new configuration is down: rejoining the group"),
            Step::Leave => warn!("a check of the new configuration is down: leaving the group"),
            Step::Stay => {}
        }
        self.take(step, Lost::CheckDown);
        self.poll_checks();
    }
}

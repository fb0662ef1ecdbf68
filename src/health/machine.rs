//! One check's state: its passes and failures in a row, and whether it
//! is up or down, with `Fall` and `Rise`. Pure: results in, changes out.

use std::fmt;
use std::time::Duration;

use crate::hooks::Outcome;

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not run yet: its first result decides (see the module `health`).
    Starting,
    Up,
    Down,
}

impl State {
    /// As the status names it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Up => "up",
            State::Down => "down",
        }
    }

    /// The state a status names.
    pub fn from_name(s: &str) -> Option<State> {
        [State::Starting, State::Up, State::Down]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one run of a check came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    /// The program ran and ended so: exit status 0 passes, anything
    /// else (another status, a signal, killed at `Timeout`) fails.
    Ran(Outcome),
    /// The program could not be started (missing, refused by the trust
    /// rule, not executable): a failure, and why.
    NotRun(String),
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        *self == CheckResult::Ran(Outcome::Exited(0))
    }

    /// Its exit status, if it exited.
    pub fn exit_status(&self) -> Option<u8> {
        match self {
            CheckResult::Ran(Outcome::Exited(n)) => Some(*n),
            _ => None,
        }
    }
}

/// `1s`, or `1500 ms` when not whole seconds.
fn short(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Ran(Outcome::TimedOut(d)) => {
                write!(f, "no answer within {}: killed", short(*d))
            }
            CheckResult::Ran(o) => o.fmt(f),
            CheckResult::NotRun(why) => write!(f, "not run: {why}"),
        }
    }
}

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
}

/// What recording one result did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub transition: Option<Transition>,
    /// The program could not be run, for a reason not said yet: say
    /// it (once: the next runs that fail alike stay quiet).
    pub news: bool,
}

/// One check's passes and failures in a row and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    fall: u32,
    rise: u32,
    state: State,
    passes: u32,
    failures: u32,
    /// Why the program could not be run, as last said.
    said: Option<String>,
}

impl Machine {
    /// A check that goes down after `fall` failures in a row and up
    /// after `rise` passes (each at least 1), in state `start`.
    pub fn new(fall: u32, rise: u32, start: State) -> Machine {
        Machine {
            fall: fall.max(1),
            rise: rise.max(1),
            state: start,
            passes: 0,
            failures: 0,
            said: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Passes in a row (0 after a failure).
    pub fn passes(&self) -> u32 {
        self.passes
    }

    /// Failures in a row (0 after a pass).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn rise(&self) -> u32 {
        self.rise
    }

    /// Counts one result. The first result of a `Starting` check
    /// decides its state at once; then it takes `fall` failures in a
    /// row to go down and `rise` passes in a row to come back up.
    pub fn record(&mut self, r: &CheckResult) -> Recorded {
        let news = match r {
            CheckResult::NotRun(why) if self.said.as_deref() != Some(why) => {
                self.said = Some(why.clone());
                true
            }
            CheckResult::NotRun(_) => false,
            CheckResult::Ran(_) => {
                self.said = None;
                false
            }
        };
        if r.passed() {
            self.passes = self.passes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.passes = 0;
        }
        let to = match self.state {
            State::Starting if r.passed() => State::Up,
            State::Starting => State::Down,
            State::Up if self.failures >= self.fall => State::Down,
            State::Down if self.passes >= self.rise => State::Up,
            s => s,
        };
        let transition = (to != self.state).then_some(Transition {
            from: self.state,
            to,
        });
        self.state = to;
        Recorded { transition, news }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass() -> CheckResult {
        CheckResult::Ran(Outcome::Exited(0))
    }

    fn fail() -> CheckResult {
        CheckResult::Ran(Outcome::Exited(1))
    }

    fn states(m: &mut Machine, results: &[CheckResult]) -> Vec<State> {
        results
            .iter()
            .map(|r| {
                m.record(r);
                m.state()
            })
            .collect()
    }

    use State::{Down, Starting, Up};

    #[test]
    fn fall_failures_in_a_row_take_it_down_and_rise_passes_bring_it_up() {
        let mut m = Machine::new(3, 2, Up);
        // Two failures, a pass: the count starts again.
        assert_eq!(
            states(&mut m, &[fail(), fail(), pass(), fail(), fail()]),
            [Up, Up, Up, Up, Up]
        );
        assert_eq!((m.passes(), m.failures()), (0, 2));
        let r = m.record(&fail());
        assert_eq!(r.transition, Some(Transition { from: Up, to: Down }));
        assert_eq!(m.failures(), 3);
        // Down: failures go on counting; one pass is not enough.
        assert_eq!(
            states(&mut m, &[fail(), pass(), fail(), pass()]),
            [Down, Down, Down, Down]
        );
        let r = m.record(&pass());
        assert_eq!(r.transition, Some(Transition { from: Down, to: Up }));
        assert_eq!((m.passes(), m.failures()), (2, 0));
        assert_eq!(m.record(&pass()).transition, None);
    }

    #[test]
    fn the_first_result_decides_a_starting_check() {
        let mut m = Machine::new(3, 2, Starting);
        assert_eq!(
            m.record(&pass()).transition,
            Some(Transition {
                from: Starting,
                to: Up
            })
        );
        let mut m = Machine::new(3, 2, Starting);
        assert_eq!(
            m.record(&fail()).transition,
            Some(Transition {
                from: Starting,
                to: Down
            })
        );
        // From then on, Rise applies.
        assert_eq!(states(&mut m, &[pass(), pass()]), [Down, Up]);
    }

    #[test]
    fn a_timeout_a_signal_and_a_program_not_run_are_failures() {
        for r in [
            CheckResult::Ran(Outcome::TimedOut(Duration::from_secs(1))),
            CheckResult::Ran(Outcome::Signaled(9)),
            CheckResult::Ran(Outcome::Lost("x".into())),
            CheckResult::NotRun("/x: No such file or directory".into()),
        ] {
            let mut m = Machine::new(1, 1, Up);
            assert!(!r.passed());
            assert_eq!(m.record(&r).transition.map(|t| t.to), Some(Down), "{r}");
        }
        assert_eq!(
            CheckResult::Ran(Outcome::TimedOut(Duration::from_secs(1))).to_string(),
            "no answer within 1s: killed"
        );
        assert_eq!(
            CheckResult::Ran(Outcome::TimedOut(Duration::from_millis(1500))).to_string(),
            "no answer within 1500 ms: killed"
        );
        assert_eq!(fail().to_string(), "exit status 1");
        assert_eq!(fail().exit_status(), Some(1));
        assert_eq!(CheckResult::Ran(Outcome::Signaled(9)).exit_status(), None);
        assert_eq!(
            CheckResult::NotRun("/x: gone".into()).to_string(),
            "not run: /x: gone"
        );
    }

    #[test]
    fn why_a_program_cannot_run_is_news_once() {
        let missing = CheckResult::NotRun("/x: No such file or directory".into());
        let refused = CheckResult::NotRun("refusing /x: it is writable by everyone".into());
        let mut m = Machine::new(3, 2, Up);
        let news: Vec<bool> = [
            &missing,
            &missing,
            &missing,
            &refused,
            &refused,
            &fail(),
            &missing,
        ]
        .into_iter()
        .map(|r| m.record(r).news)
        .collect();
        // Said again only when the reason changes, or after it ran.
        assert_eq!(news, [true, false, false, true, false, false, true]);
    }

    #[test]
    fn state_names() {
        for s in [Starting, Up, Down] {
            assert_eq!(State::from_name(s.as_str()), Some(s));
        }
        assert_eq!(State::from_name("UP"), None);
        assert_eq!(Down.to_string(), "down");
    }
}

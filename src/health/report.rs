//! What the daemon logs of its checks: one line per transition, saying
//! what the check did and what the node does about it, and the reason
//! a program cannot run, once. Pure: reports in, lines out.

use std::path::PathBuf;

use super::gate::{Gate, Step, Verdict};
use super::machine::{CheckResult, Recorded, State};
use crate::cluster::engine::Level;

/// One result of one check, as the runner recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub run: PathBuf,
    pub result: CheckResult,
    pub recorded: Recorded,
    /// Passes and failures in a row, this result counted.
    pub passes: u32,
    pub failures: u32,
    /// The check's `Rise`.
    pub rise: u32,
    /// The first line the program wrote on stderr, if any.
    pub stderr: String,
}

/// `1 time`, `3 times`.
pub fn times(n: u32) -> String {
    if n == 1 {
        "1 time".to_string()
    } else {
        format!("{n} times")
    }
}

/// A line to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

/// The lines of one batch of results, after which the node takes
/// `step` and its gate stands as `gate`.
pub fn lines(reports: &[Report], step: Step, gate: &Gate) -> Vec<Line> {
    let mut out = Vec::new();
    let last_up = reports
        .iter()
        .rposition(|r| r.recorded.transition.is_some_and(|t| t.to == State::Up));
    let mut left = false;
    for (i, r) in reports.iter().enumerate() {
        let run = r.run.display();
        if r.recorded.news {
            out.push(Line {
                level: Level::Error,
                text: format!(
                    "check {run} {}; it counts as failing until it can be run",
                    r.result
                ),
            });
        }
        let Some(t) = r.recorded.transition else {
            continue;
        };
        let first = t.from == State::Starting;
        if t.to == State::Down {
            let detail = if r.stderr.is_empty() {
                r.result.to_string()
            } else {
                format!("{}; stderr: {}", r.result, r.stderr)
            };
            let head = if first {
                format!("check {run} failed at its first run ({detail})")
            } else {
                format!(
                    "check {run} failed {} in a row ({detail})",
                    times(r.failures)
                )
            };
            let tail = if step == Step::Leave && !left {
                left = true;
                ": leaving the group, releasing every VIP".to_string()
            } else if first {
                format!(
                    ": not joining the group until it passes {} in a row",
                    times(r.rise)
                )
            } else {
                ": the node is out of the group already".to_string()
            };
            out.push(Line {
                level: Level::Warn,
                text: head + &tail,
            });
            continue;
        }
        let head = if first {
            format!("check {run} passed at its first run")
        } else {
            format!("check {run} passed {} in a row", times(r.passes))
        };
        // What the node does is said once, after the last check that
        // came up.
        let tail = match (Some(i) == last_up, step, gate.checks()) {
            (false, _, _) => "",
            (true, Step::Join, _) if first => ": joining the group",
            (true, Step::Join, _) => ": rejoining the group",
            (true, _, Verdict::Passing) if gate.operator_out() => {
                ": staying out of the group: wackatrl -f is in force until wackatrl -s"
            }
            (true, _, Verdict::Failing) => ": staying out of the group while another check is down",
            (true, _, Verdict::Pending) => ": waiting for the first run of the other checks",
            (true, _, Verdict::Passing) => "",
        };
        out.push(Line {
            level: Level::Info,
            text: head + tail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::machine::Transition;
    use crate::hooks::Outcome;
    use State::{Down, Starting, Up};

    fn report(run: &str, result: CheckResult, from: State, to: Option<State>) -> Report {
        let passed = result.passed();
        Report {
            run: PathBuf::from(run),
            result,
            recorded: Recorded {
                transition: to.map(|to| Transition { from, to }),
                news: false,
            },
            passes: if passed { 2 } else { 0 },
            failures: if passed { 0 } else { 3 },
            rise: 2,
            stderr: String::new(),
        }
    }

    fn exit(n: u8) -> CheckResult {
        CheckResult::Ran(Outcome::Exited(n))
    }

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    fn gate(checks: Verdict, operator_out: bool) -> Gate {
        let mut g = Gate::new(checks);
        if operator_out {
            g.failure();
        }
        g
    }

    const WEB: &str = "/usr/local/sbin/check-web";

    #[test]
    fn a_check_that_falls_takes_the_node_out() {
        let mut r = report(WEB, exit(1), Up, Some(Down));
        r.stderr = "connection refused".into();
        let l = lines(&[r], Step::Leave, &gate(Verdict::Failing, false));
        assert_eq!(l[0].level, Level::Warn);
        assert_eq!(
            texts(l),
            ["check /usr/local/sbin/check-web failed 3 times in a row (exit status 1; stderr: connection refused): leaving the group, releasing every VIP"]
        );
    }

    #[test]
    fn a_check_that_rises_brings_the_node_back() {
        let r = report(WEB, exit(0), Down, Some(Up));
        let l = lines(&[r], Step::Join, &gate(Verdict::Passing, false));
        assert_eq!(l[0].level, Level::Info);
        assert_eq!(
            texts(l),
            ["check /usr/local/sbin/check-web passed 2 times in a row: rejoining the group"]
        );
        // Under -f it says why the node stays out.
        let r = report(WEB, exit(0), Down, Some(Up));
        assert_eq!(
            texts(lines(&[r], Step::Stay, &gate(Verdict::Passing, true))),
            ["check /usr/local/sbin/check-web passed 2 times in a row: staying out of the group: wackatrl -f is in force until wackatrl -s"]
        );
        let r = report(WEB, exit(0), Down, Some(Up));
        assert_eq!(
            texts(lines(&[r], Step::Stay, &gate(Verdict::Failing, false))),
            ["check /usr/local/sbin/check-web passed 2 times in a row: staying out of the group while another check is down"]
        );
    }

    #[test]
    fn first_runs_at_start() {
        let a = report("/a", exit(0), Starting, Some(Up));
        let b = report("/b", exit(0), Starting, Some(Up));
        // The node joins after the last of them.
        assert_eq!(
            texts(lines(
                &[a.clone(), b],
                Step::Join,
                &gate(Verdict::Passing, false)
            )),
            [
                "check /a passed at its first run",
                "check /b passed at its first run: joining the group"
            ]
        );
        assert_eq!(
            texts(lines(&[a], Step::Stay, &gate(Verdict::Pending, false))),
            ["check /a passed at its first run: waiting for the first run of the other checks"]
        );
        let c = report(
            "/c",
            CheckResult::Ran(Outcome::TimedOut(std::time::Duration::from_secs(1))),
            Starting,
            Some(Down),
        );
        assert_eq!(
            texts(lines(&[c], Step::Stay, &gate(Verdict::Failing, false))),
            ["check /c failed at its first run (no answer within 1s: killed): not joining the group until it passes 2 times in a row"]
        );
    }

    #[test]
    fn two_checks_falling_together_leave_once() {
        let a = report("/a", exit(1), Up, Some(Down));
        let b = report("/b", exit(2), Up, Some(Down));
        assert_eq!(
            texts(lines(&[a, b], Step::Leave, &gate(Verdict::Failing, false))),
            [
                "check /a failed 3 times in a row (exit status 1): leaving the group, releasing every VIP",
                "check /b failed 3 times in a row (exit status 2): the node is out of the group already"
            ]
        );
    }

    #[test]
    fn a_program_that_cannot_run_is_said_with_its_reason() {
        let mut r = report(
            WEB,
            CheckResult::NotRun(
                "/usr/local/sbin/check-web: No such file or directory (os error 2)".into(),
            ),
            Up,
            None,
        );
        r.recorded.news = true;
        let l = lines(&[r.clone()], Step::Stay, &gate(Verdict::Passing, false));
        assert_eq!(l[0].level, Level::Error);
        assert_eq!(
            texts(l),
            ["check /usr/local/sbin/check-web not run: /usr/local/sbin/check-web: No such file or directory (os error 2); it counts as failing until it can be run"]
        );
        // Not news: nothing to say until it falls.
        r.recorded.news = false;
        assert!(lines(&[r], Step::Stay, &gate(Verdict::Passing, false)).is_empty());
    }
}

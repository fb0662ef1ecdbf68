//! Whether the node may be in its group: the operator's word and the
//! checks' verdict, and what follows when either changes. Pure.
//!
//! The rules, in the operator's terms:
//! - `wackatrl -f` takes the node out whatever the checks say, and it
//!   stays out until `wackatrl -s`: checks that pass later do not
//!   bring it back (the operator's `-f` wins).
//! - `wackatrl -s` brings the node back only if every check is up;
//!   otherwise it is refused and nothing changes (a `-f` stays in
//!   force: run `-s` again once the checks pass).
//! - Without `-f`, the checks alone decide: out while any check is
//!   down (or has not run yet), in once every one is up.

/// What the checks say, all together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No check is down, but one has not had its first result yet.
    Pending,
    /// Every check is up (or there is none).
    Passing,
    /// A check is down.
    Failing,
}

/// What the node must do with its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Leave, releasing every VIP, and stay out.
    Leave,
    /// Join again.
    Join,
    /// Nothing changes.
    Stay,
}

/// `wackatrl -s` refused: the checks do not pass. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The checks' verdict (not [`Verdict::Passing`]).
    pub checks: Verdict,
    /// `wackatrl -f` is (still) in force.
    pub operator_out: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    operator_out: bool,
    checks: Verdict,
}

impl Gate {
    /// No `-f`, the checks as they stand.
    pub fn new(checks: Verdict) -> Gate {
        Gate {
            operator_out: false,
            checks,
        }
    }

    /// The node may be in its group.
    pub fn is_in(&self) -> bool {
        !self.operator_out && self.checks == Verdict::Passing
    }

    /// `wackatrl -f` is in force.
    pub fn operator_out(&self) -> bool {
        self.operator_out
    }

    pub fn checks(&self) -> Verdict {
        self.checks
    }

    /// The checks' new verdict.
    pub fn set_checks(&mut self, v: Verdict) -> Step {
        self.change(|g| g.checks = v)
    }

    /// `wackatrl -f`: out, whatever the checks say.
    pub fn failure(&mut self) -> Step {
        self.change(|g| g.operator_out = true)
    }

    /// `wackatrl -s`: back in if every check passes; else refused, and
    /// nothing changes.
    pub fn success(&mut self) -> Result<Step, Refused> {
        if self.checks != Verdict::Passing {
            return Err(Refused {
                checks: self.checks,
                operator_out: self.operator_out,
            });
        }
        Ok(self.change(|g| g.operator_out = false))
    }

    fn change(&mut self, f: impl FnOnce(&mut Gate)) -> Step {
        let was = self.is_in();
        f(self);
        match (was, self.is_in()) {
            (true, false) => Step::Leave,
            (false, true) => Step::Join,
            _ => Step::Stay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Failing, Passing, Pending};

    #[test]
    fn the_checks_alone_decide_without_f() {
        let mut g = Gate::new(Pending);
        assert!(!g.is_in(), "not before the first results");
        assert_eq!(g.set_checks(Passing), Step::Join);
        assert_eq!(g.set_checks(Passing), Step::Stay);
        assert_eq!(g.set_checks(Failing), Step::Leave);
        assert_eq!(g.set_checks(Failing), Step::Stay);
        assert_eq!(g.set_checks(Passing), Step::Join);
        // Without checks the node is in at once.
        assert!(Gate::new(Passing).is_in());
    }

    #[test]
    fn f_wins_over_passing_checks_until_s() {
        let mut g = Gate::new(Passing);
        assert_eq!(g.failure(), Step::Leave);
        assert_eq!(g.failure(), Step::Stay);
        assert!(g.operator_out());
        // A check goes down and comes back: still out.
        assert_eq!(g.set_checks(Failing), Step::Stay);
        assert_eq!(g.set_checks(Passing), Step::Stay);
        assert!(!g.is_in());
        assert_eq!(g.success(), Ok(Step::Join));
        assert!(g.is_in() && !g.operator_out());
        // -s on a node that is in changes nothing.
        assert_eq!(g.success(), Ok(Step::Stay));
    }

    #[test]
    fn s_is_refused_while_a_check_is_down_and_changes_nothing() {
        let mut g = Gate::new(Passing);
        assert_eq!(g.set_checks(Failing), Step::Leave);
        // Out for the checks only: refused; it comes back by itself.
        assert_eq!(
            g.success(),
            Err(Refused {
                checks: Failing,
                operator_out: false
            })
        );
        assert_eq!(g.set_checks(Passing), Step::Join);
        // -f while failing: the -s that comes before the checks pass
        // is refused and the -f stays, so passing checks do not bring
        // the node back; a later -s does.
        assert_eq!(g.set_checks(Failing), Step::Leave);
        assert_eq!(g.failure(), Step::Stay);
        assert_eq!(
            g.success(),
            Err(Refused {
                checks: Failing,
                operator_out: true
            })
        );
        assert!(g.operator_out());
        assert_eq!(g.set_checks(Passing), Step::Stay);
        assert_eq!(g.success(), Ok(Step::Join));
        // Before the first results, -s is refused too.
        let mut g = Gate::new(Pending);
        assert_eq!(
            g.success(),
            Err(Refused {
                checks: Pending,
                operator_out: false
            })
        );
    }
}

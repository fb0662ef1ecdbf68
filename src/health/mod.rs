//! Health checks (`Check` blocks): a program run every `Interval` says
//! whether this node's service works; a node whose check fails `Fall`
//! times in a row leaves the group, as `wackatrl -f` makes it do, and
//! comes back once every check has passed `Rise` times in a row (like
//! keepalived's `track_script`, but for the whole node: a wackamole
//! node holds VIPs only while it is in the group).
//!
//! Owns, one room each:
//! - [`machine`]: one check's passes and failures in a row and its
//!   state (pure);
//! - [`gate`]: whether the node may be in the group, from the
//!   operator's word (`-f`, `-s`) and the checks' verdict (pure);
//! - [`report`]: the log lines of what happened (pure);
//! - [`runner`]: running the programs, each in a child of its own
//!   through `hooks::Children` (the hooks' runner), on schedule.
//!
//! The daemon drives the runner from its poll loop and hands each
//! verdict to the gate; what the gate says (leave, join) it does with
//! the group link.
//!
//! Starting: a check is `starting` until its first run, whose result
//! decides at once (a pass: up, a failure: down), and the node joins
//! its group only once every check has passed that first run. The
//! first runs start with the daemon, so a healthy node joins as soon as
//! its programs have answered (milliseconds, and at most `Timeout`),
//! and a node whose service is broken never takes a VIP. After that,
//! `Fall` and `Rise` apply.

pub mod gate;
pub mod machine;
pub mod report;
pub mod runner;

pub use gate::{Gate, Refused, Step, Verdict};
pub use machine::{CheckResult, Machine, Recorded, State, Transition};
pub use report::{lines, Line, Report};
pub use runner::Runner;

use std::time::Duration;

/// One check as the status shows it (`wackatrl -l`, `-j`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInfo {
    /// Its program.
    pub run: String,
    pub state: State,
    /// Passes and failures in a row (one of them is 0).
    pub passes: u32,
    pub failures: u32,
    pub fall: u32,
    pub rise: u32,
    pub interval: Duration,
    pub timeout: Duration,
    /// Its last result; `None` before the first.
    pub last: Option<LastRun>,
}

/// The last result of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    /// In words: `exit status 1`, `no answer within 1s: killed`, `not
    /// run: ...`.
    pub result: String,
    /// Its exit status, if it exited.
    pub exit_status: Option<u8>,
    /// How long ago it came.
    pub ago: Duration,
}

//! Messages the engine refuses, and logs that stay readable when a
//! member or a stranger floods the group: each kind of rejection is
//! logged the first time a sender earns it in a view, then only counted;
//! the counts are reported when the view ends.

use std::collections::HashMap;

use super::{Engine, Level};
use crate::cluster::msg::MessType;

/// How many (kind, sender) pairs a view keeps counts for; past that,
/// rejections are counted together (a flood of new names must not grow
/// memory without bound).
pub const MAX_TRACKED: usize = 256;

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Reject {
    /// Does not decode.
    Malformed(MessType),
    /// Not in the group's total order (AGREED or stronger).
    NotAgreed(MessType),
    /// Not sent to the group alone.
    NotToGroup(MessType),
    /// From a client that is not a member of the view.
    NotMember(MessType),
    /// A STATE naming a place in the view that is not the sender's.
    WrongIndex,
    /// A second STATE from one member in one view.
    SecondState,
    /// A BALANCE from a member that does not lead the group.
    NotLeader,
    /// A BALANCE giving a VIF this node does not know, or to a
    /// non-member.
    BadMove,
    /// A STATE with another participant's address.
    DuplicateAddress,
    /// Claims in a STATE in a view below quorum.
    ClaimBelowQuorum,
    /// A BALANCE in a view below quorum.
    BalanceBelowQuorum,
}

impl Reject {
    fn what(self) -> String {
        let t = MessType::name;
        match self {
            Reject::Malformed(m) => format!("malformed {}", t(m)),
            Reject::NotAgreed(m) => format!("{} not sent AGREED", t(m)),
            Reject::NotToGroup(m) => format!("{} not sent to the group alone", t(m)),
            Reject::NotMember(m) => format!("{} from a non-member", t(m)),
            Reject::WrongIndex => "STATE with another member's index".into(),
            Reject::SecondState => "second STATE".into(),
            Reject::NotLeader => "BALANCE from a non-leader".into(),
            Reject::BadMove => "BALANCE with an unknown VIF or member".into(),
            Reject::DuplicateAddress => "STATE with another member's address".into(),
            Reject::ClaimBelowQuorum => "STATE with claims below quorum".into(),
            Reject::BalanceBelowQuorum => "BALANCE below quorum".into(),
        }
    }
}

/// Counts of this view's rejections, by kind and sender.
#[derive(Debug, Clone, Default)]
pub(super) struct Rejections {
    counts: HashMap<(Reject, String), u32>,
    /// First-seen order, for a stable report.
    order: Vec<(Reject, String)>,
    /// Rejections past [`MAX_TRACKED`] pairs.
    untracked: u32,
}

impl Engine {
    /// Refuses a message: logs `text` at `level` the first time this
    /// sender earns this kind of rejection in the view, else counts it.
    pub(super) fn reject(&mut self, kind: Reject, sender: &str, level: Level, text: String) {
        let r = &mut self.rejections;
        let key = (kind, sender.to_string());
        if let Some(n) = r.counts.get_mut(&key) {
            *n += 1;
            return;
        }
        if r.counts.len() >= MAX_TRACKED {
            r.untracked += 1;
            return;
        }
        r.counts.insert(key.clone(), 1);
        r.order.push(key);
        self.log(level, text);
    }

    /// At the end of a view: how many more were refused than logged.
    pub(super) fn report_rejections(&mut self) {
        let r = std::mem::take(&mut self.rejections);
        for key in &r.order {
            let n = r.counts[key];
            if n > 1 {
                self.log(
                    Level::Warn,
                    format!(
                        "{} more {} from {} ignored in the last view",
                        n - 1,
                        key.0.what(),
                        key.1
                    ),
                );
            }
        }
        if r.untracked > 0 {
            self.log(
                Level::Warn,
                format!(
                    "{} more messages from over {MAX_TRACKED} senders ignored in the last view",
                    r.untracked
                ),
            );
        }
    }
}
